//! A session: what a login (or an API-key exchange) starts and logout ends. It holds the SHA-256
//! of the current refresh token; a refresh rotates it. Presenting an older refresh token means it
//! leaked (or two clients share it), so the whole session is revoked, as OAuth's security best
//! practice asks. `SessionRevoked` is what every service's verifier listens to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::{ActorId, ActorKind, Aggregate, DomainEvent, ErrorKind, Rejection, TenantId};
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct SessionState {
    pub id: Option<Uuid>,
    pub actor_id: Option<ActorId>,
    pub actor_kind: Option<ActorKind>,
    pub tenant_id: Option<TenantId>,
    pub refresh_hash: Option<String>,
    /// The refresh token's expiry; for sessions without one, the access token's.
    pub expires_at: DateTime<Utc>,
    /// Latest access-token expiry handed out: revocation must be remembered until then.
    pub access_until: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub enum SessionCommand {
    StartSession {
        session_id: Uuid,
        actor_id: ActorId,
        actor_kind: ActorKind,
        tenant_id: TenantId,
        refresh_hash: Option<String>,
        expires_at: DateTime<Utc>,
        access_jti: Uuid,
        access_until: DateTime<Utc>,
    },
    RefreshSession {
        presented_hash: String,
        new_hash: String,
        access_jti: Uuid,
        access_until: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    RevokeSession {
        access_jti: Option<Uuid>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SessionEvent {
    SessionStarted {
        session_id: Uuid,
        actor_id: ActorId,
        actor_kind: ActorKind,
        tenant_id: TenantId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_hash: Option<String>,
        expires_at: DateTime<Utc>,
        access_jti: Uuid,
        access_until: DateTime<Utc>,
    },
    SessionRefreshed {
        refresh_hash: String,
        access_jti: Uuid,
        access_until: DateTime<Utc>,
    },
    /// Verifiers read `session_id`, `access_jtis` and `until` (see `trainyard_auth::revocation`).
    SessionRevoked {
        session_id: Uuid,
        access_jtis: Vec<Uuid>,
        until: DateTime<Utc>,
        reason: String,
    },
}

impl DomainEvent for SessionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SessionEvent::SessionStarted { .. } => "SessionStarted",
            SessionEvent::SessionRefreshed { .. } => "SessionRefreshed",
            SessionEvent::SessionRevoked { .. } => "SessionRevoked",
        }
    }
}

/// Why a refresh was refused: all answer 401 with the same message.
fn invalid_refresh() -> Rejection {
    Rejection {
        kind: ErrorKind::Unauthenticated,
        ..Rejection::new(
            "invalid_refresh_token",
            "the refresh token is invalid, expired or revoked",
        )
    }
}

#[derive(Debug)]
pub struct Session;

impl Aggregate for Session {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "session";
    type State = SessionState;
    type Command = SessionCommand;
    type Event = SessionEvent;

    fn handle(
        state: &SessionState,
        command: SessionCommand,
    ) -> Result<Vec<SessionEvent>, Rejection> {
        match command {
            SessionCommand::StartSession {
                session_id,
                actor_id,
                actor_kind,
                tenant_id,
                refresh_hash,
                expires_at,
                access_jti,
                access_until,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "session_exists",
                        "the session already exists",
                    ));
                }
                Ok(vec![SessionEvent::SessionStarted {
                    session_id,
                    actor_id,
                    actor_kind,
                    tenant_id,
                    refresh_hash,
                    expires_at,
                    access_jti,
                    access_until,
                }])
            }
            SessionCommand::RefreshSession {
                presented_hash,
                new_hash,
                access_jti,
                access_until,
                now,
            } => {
                let Some(session_id) = state.id else {
                    return Err(invalid_refresh());
                };
                if state.revoked || now >= state.expires_at || state.refresh_hash.is_none() {
                    return Err(invalid_refresh());
                }
                if state.refresh_hash.as_deref() != Some(presented_hash.as_str()) {
                    // A rotated-out token came back: treat the session as stolen.
                    return Ok(vec![revoked(
                        session_id,
                        state,
                        vec![],
                        "refresh_token_reuse",
                    )]);
                }
                Ok(vec![SessionEvent::SessionRefreshed {
                    refresh_hash: new_hash,
                    access_jti,
                    access_until,
                }])
            }
            SessionCommand::RevokeSession { access_jti, reason } => {
                let Some(session_id) = state.id else {
                    return Err(Rejection::not_found("not_found", "no such session"));
                };
                if state.revoked {
                    return Ok(vec![]);
                }
                Ok(vec![revoked(
                    session_id,
                    state,
                    access_jti.into_iter().collect(),
                    &reason,
                )])
            }
        }
    }

    fn apply(state: &mut SessionState, event: &SessionEvent) {
        match event {
            SessionEvent::SessionStarted {
                session_id,
                actor_id,
                actor_kind,
                tenant_id,
                refresh_hash,
                expires_at,
                access_until,
                ..
            } => {
                *state = SessionState {
                    id: Some(*session_id),
                    actor_id: Some(*actor_id),
                    actor_kind: Some(*actor_kind),
                    tenant_id: Some(*tenant_id),
                    refresh_hash: refresh_hash.clone(),
                    expires_at: *expires_at,
                    access_until: *access_until,
                    revoked: false,
                };
            }
            SessionEvent::SessionRefreshed {
                refresh_hash,
                access_until,
                ..
            } => {
                state.refresh_hash = Some(refresh_hash.clone());
                state.access_until = state.access_until.max(*access_until);
            }
            SessionEvent::SessionRevoked { .. } => state.revoked = true,
        }
    }
}

fn revoked(
    session_id: Uuid,
    state: &SessionState,
    access_jtis: Vec<Uuid>,
    reason: &str,
) -> SessionEvent {
    SessionEvent::SessionRevoked {
        session_id,
        access_jtis,
        until: state.access_until,
        reason: reason.to_owned(),
    }
}

//! Issuing tokens: rights from roles, access-token claims, sessions with rotating refresh tokens.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use trainyard_auth::{Claims, Rights};
use trainyard_core::{
    Actor, ActorId, ActorKind, CorrelationId, EventId, Metadata, Rejection, TenantId,
};
use trainyard_platform::http::ApiError;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::role::Role;
use crate::domain::session::{Session, SessionCommand};
use crate::domain::{BuiltinRole, RoleId};
use crate::error;
use crate::secrets;
use crate::state::AppState;

/// Who a session is for, as loaded at login, refresh or key exchange.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor_id: ActorId,
    pub kind: ActorKind,
    pub tenant: TenantId,
    pub name: String,
    pub roles: Vec<RoleId>,
    pub must_change_password: bool,
    /// The version (last log sequence) of the account this was loaded from.
    pub version: u64,
}

/// Answer of login, refresh and key exchange.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Present for user logins; rotates on every refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The token carries no rights until the password is changed.
    pub must_change_password: bool,
}

/// What a set of roles grants: the union of their rights, whether one of them is
/// `Administrator`, and the version of each tenant-defined role it was read at.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    pub rights: Rights,
    pub admin: bool,
    pub versions: BTreeMap<Uuid, u64>,
}

/// What `roles` grant in `tenant`. Roles that were deleted or belong to another tenant add
/// nothing (their version is still noted: a token must go stale if such a role comes back).
pub async fn grant_of(
    state: &AppState,
    tenant: TenantId,
    roles: &[RoleId],
) -> Result<Grant, ApiError> {
    let mut grant = Grant::default();
    for role in roles {
        match BuiltinRole::from_id(*role) {
            Some(builtin) => {
                grant.rights = Rights::all();
                grant.admin |= builtin == BuiltinRole::Administrator;
            }
            None => {
                let loaded = state
                    .store
                    .load::<Role>(&role.to_string())
                    .await
                    .map_err(error::read)?;
                if loaded.state.is_live() && loaded.state.tenant_id == Some(tenant) {
                    grant.rights = grant.rights.union(loaded.state.rights());
                }
                grant.versions.insert(role.0, loaded.last_sequence);
            }
        }
    }
    Ok(grant)
}

/// The union of `roles`' rights, and whether one of them is `Administrator`.
pub async fn rights_of(
    state: &AppState,
    tenant: TenantId,
    roles: &[RoleId],
) -> Result<(Rights, bool), ApiError> {
    let grant = grant_of(state, tenant, roles).await?;
    Ok((grant.rights, grant.admin))
}

fn access_ttl(state: &AppState) -> Duration {
    Duration::seconds(
        i64::try_from(state.config.service.tokens.access_ttl_secs).unwrap_or(i64::MAX / 2),
    )
}

fn system_metadata(tenant: TenantId, actor: Actor, now: DateTime<Utc>) -> Metadata {
    Metadata {
        tenant_id: tenant,
        actor,
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: now,
    }
}

async fn sign(
    state: &AppState,
    principal: &Principal,
    sid: Uuid,
    jti: Uuid,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let grant = grant_of(state, principal.tenant, &principal.roles).await?;
    let (mut rights, mut admin) = (grant.rights, grant.admin);
    if principal.must_change_password {
        (rights, admin) = (Rights::none(), false);
    }
    let mut ver = grant.versions;
    ver.insert(principal.actor_id.0, principal.version);
    let claims = Claims {
        iss: state.config.service.tokens.issuer.clone(),
        sub: principal.actor_id,
        kind: principal.kind,
        tenant: principal.tenant,
        name: principal.name.clone(),
        admin,
        rights,
        sid,
        jti,
        iat: now.timestamp(),
        exp: (now + access_ttl(state)).timestamp(),
        pwd_change: principal.must_change_password,
        ver,
    };
    trainyard_auth::jwt::sign(&claims, &state.keys.signing_key()).map_err(ApiError::internal)
}

/// Starts a session and returns its first tokens; `with_refresh` for interactive users.
pub async fn start_session(
    state: &AppState,
    principal: &Principal,
    with_refresh: bool,
) -> Result<TokenResponse, ApiError> {
    let now = Utc::now();
    let (sid, jti) = (Uuid::now_v7(), Uuid::now_v7());
    let access_token = sign(state, principal, sid, jti, now).await?;
    let access_until = now + access_ttl(state);
    let refresh = with_refresh.then(|| secrets::refresh_token(sid));
    let expires_at = match refresh {
        Some(_) => {
            now + Duration::seconds(
                i64::try_from(state.config.service.tokens.refresh_ttl_secs).unwrap_or(i64::MAX / 2),
            )
        }
        None => access_until,
    };
    let command = SessionCommand::StartSession {
        session_id: sid,
        actor_id: principal.actor_id,
        actor_kind: principal.kind,
        tenant_id: principal.tenant,
        refresh_hash: refresh.as_ref().map(|(_, hash)| hash.clone()),
        expires_at,
        access_jti: jti,
        access_until,
    };
    let actor = Actor {
        id: principal.actor_id,
        kind: principal.kind,
    };
    let meta = system_metadata(principal.tenant, actor, now);
    state
        .store
        .execute::<Session>(&sid.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    Ok(response(
        state,
        access_token,
        refresh.map(|(token, _)| token),
        principal.must_change_password,
    ))
}

fn response(
    state: &AppState,
    access_token: String,
    refresh_token: Option<String>,
    must_change_password: bool,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.config.service.tokens.access_ttl_secs,
        refresh_token,
        must_change_password,
    }
}

/// Rotates the refresh token of its session and issues a new access token. `principal_of`
/// reloads the session's actor so that blocking or role changes apply at the next refresh.
pub async fn refresh(state: &AppState, token: &str) -> Result<TokenResponse, ApiError> {
    let invalid = || {
        ApiError::Unauthenticated(Rejection::new(
            "invalid_refresh_token",
            "the refresh token is invalid, expired or revoked",
        ))
    };
    let (sid, presented_hash) = secrets::parse_refresh_token(token).ok_or_else(invalid)?;
    let session = state
        .store
        .load::<Session>(&sid.to_string())
        .await
        .map_err(error::read)?;
    let (Some(actor_id), Some(tenant)) = (session.state.actor_id, session.state.tenant_id) else {
        return Err(invalid());
    };
    let principal = crate::http::auth::user_principal(state, actor_id)
        .await?
        .ok_or_else(invalid)?;
    let now = Utc::now();
    let (jti, (new_token, new_hash)) = (Uuid::now_v7(), secrets::refresh_token(sid));
    let command = SessionCommand::RefreshSession {
        presented_hash,
        new_hash,
        access_jti: jti,
        access_until: now + access_ttl(state),
        now,
    };
    let meta = system_metadata(tenant, Actor::user(actor_id), now);
    let stored = state
        .store
        .execute::<Session>(&sid.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    apply_locally(state, &stored);
    let rotated = stored
        .iter()
        .any(|e| e.envelope.event_type == "SessionRefreshed");
    if !rotated {
        tracing::warn!(session = %sid, "a rotated-out refresh token was presented; session revoked");
        return Err(invalid());
    }
    let access_token = sign(state, &principal, sid, jti, now).await?;
    Ok(response(
        state,
        access_token,
        Some(new_token),
        principal.must_change_password,
    ))
}

/// Revokes session `sid` (and explicitly the access token `jti`).
pub async fn revoke(
    state: &AppState,
    sid: Uuid,
    jti: Option<Uuid>,
    by: Actor,
    tenant: TenantId,
    reason: &str,
) -> Result<(), ApiError> {
    let command = SessionCommand::RevokeSession {
        access_jti: jti,
        reason: reason.to_owned(),
    };
    let meta = system_metadata(tenant, by, Utc::now());
    let stored = state
        .store
        .execute::<Session>(&sid.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    apply_locally(state, &stored);
    Ok(())
}

/// This process stops accepting a revoked session's tokens, or tokens a change superseded, at
/// once; other processes learn it from the same event through their revocation feed moments
/// later.
pub fn apply_locally(state: &AppState, stored: &[trainyard_core::StoredEvent]) {
    for event in stored {
        state.verifier.revocations().apply(event);
    }
}

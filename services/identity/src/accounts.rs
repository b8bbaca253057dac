//! Acting on an account (a user or a service account), the same way from every handler: load
//! it, ask `domain::authority` whether the caller may, decide the events, pass the
//! administrator guard when an administrator would stop being one, append expecting exactly the
//! version that was checked, and apply the change to this process's verifier so that tokens it
//! supersedes stop working at once (other processes follow the log).

use chrono::Utc;
use trainyard_auth::Auth;
use trainyard_core::{
    ActorId, Aggregate, AggregateState, EventEnvelope, EventId, Metadata, Rejection, StoredEvent,
    TenantId,
};
use trainyard_platform::event_store::{AppendError, ExpectedVersion};
use trainyard_platform::http::ApiError;

use crate::domain::authority::{
    administers, administers_tenant, may_act_on, may_set_roles, AccountAction, Administers, Caller,
    Standing,
};
use crate::domain::service_account::{ServiceAccount, ServiceAccountState};
use crate::domain::user::{User, UserState};
use crate::domain::RoleId;
use crate::state::AppState;
use crate::{error, guard, issue};

/// Attempts before a lost race is reported as 409 `concurrent_change`.
const ATTEMPTS: u32 = 5;

/// What the caller wants to do, for the authority check.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    Act(AccountAction),
    /// Set roles worth this standing.
    SetRoles(Standing),
}

/// What acting needs to know about an account aggregate.
pub trait Account: Aggregate {
    /// "user", "service account": for "no such …".
    const WHAT: &'static str;
    fn is_live(state: &Self::State) -> bool;
    fn tenant(state: &Self::State) -> TenantId;
    fn roles(state: &Self::State) -> &[RoleId];
    /// Where the account counts as an administrator.
    fn administers(state: &Self::State) -> Administers;
}

impl Account for User {
    const WHAT: &'static str = "user";
    fn is_live(state: &UserState) -> bool {
        state.is_live()
    }
    fn tenant(state: &UserState) -> TenantId {
        state.tenant_id.unwrap_or_default()
    }
    fn roles(state: &UserState) -> &[RoleId] {
        &state.roles
    }
    fn administers(state: &UserState) -> Administers {
        administers(state)
    }
}

impl Account for ServiceAccount {
    const WHAT: &'static str = "service account";
    fn is_live(state: &ServiceAccountState) -> bool {
        state.is_live()
    }
    fn tenant(state: &ServiceAccountState) -> TenantId {
        state.tenant_id.unwrap_or_default()
    }
    fn roles(state: &ServiceAccountState) -> &[RoleId] {
        &state.roles
    }
    fn administers(_: &ServiceAccountState) -> Administers {
        Administers::default()
    }
}

/// The caller as its token describes it.
pub fn caller(auth: &Auth) -> Caller {
    Caller {
        id: auth.actor().id,
        rights: auth.rights(),
        administrator: auth.is_administrator(),
    }
}

/// What `roles` make their holder in `tenant`.
pub async fn standing(
    state: &AppState,
    tenant: TenantId,
    roles: &[RoleId],
) -> Result<Standing, ApiError> {
    let grant = issue::grant_of(state, tenant, roles).await?;
    Ok(Standing {
        rights: grant.rights,
        administrator: grant.admin,
        tenant_administrator: administers_tenant(roles),
    })
}

/// Account `id` if the caller sees it (404 otherwise), with the version it was loaded at.
pub async fn load_visible<A: Account>(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
) -> Result<AggregateState<A>, ApiError> {
    let loaded = state
        .store
        .load::<A>(&id.to_string())
        .await
        .map_err(error::read)?;
    auth.visible(
        Some(loaded).filter(|l| A::is_live(&l.state)),
        |l| A::tenant(&l.state),
        A::WHAT,
    )
}

/// Whether the caller may act on account `id`, as it is now; the account when it may.
pub async fn authorize<A: Account>(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
    check: Check,
) -> Result<AggregateState<A>, ApiError> {
    let loaded = load_visible::<A>(state, auth, id).await?;
    let held = standing(state, A::tenant(&loaded.state), A::roles(&loaded.state)).await?;
    let caller = caller(auth);
    match check {
        Check::Act(action) => may_act_on(&caller, id, &held, action)?,
        Check::SetRoles(granted) => may_set_roles(&caller, id, &held, &granted)?,
    }
    Ok(loaded)
}

/// Runs `command` on account `id` for the caller once `check` allows it; returns the account
/// as the command left it.
pub async fn act<A>(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
    check: Check,
    command: A::Command,
) -> Result<A::State, ApiError>
where
    A: Account,
    A::Command: Clone,
{
    for _ in 0..ATTEMPTS {
        let loaded = authorize::<A>(state, auth, id, check).await?;
        let events = A::handle(&loaded.state, command.clone()).map_err(ApiError::from)?;
        if events.is_empty() {
            return Ok(loaded.state);
        }
        let mut after = loaded.state.clone();
        for event in &events {
            A::apply(&mut after, event);
        }
        let tenant = A::tenant(&loaded.state);
        let meta = auth.metadata(tenant, Utc::now());
        let lost = Administers::lost(A::administers(&loaded.state), A::administers(&after));
        if lost.any() {
            guard::admit(state, &meta, id, loaded.last_sequence, lost).await?;
        }
        match append_at(state, &meta, &loaded, &events).await {
            Ok(stored) => {
                issue::apply_locally(state, &stored);
                return Ok(after);
            }
            // The account moved on since it was checked: check and decide again. An admitted
            // removal no longer counts against the newer version by itself.
            Err(AppendError::Conflict { .. }) => continue,
            Err(other) => {
                if lost.any() {
                    guard::withdraw(state, &meta, id, loaded.last_sequence).await;
                }
                return Err(ApiError::unavailable(other));
            }
        }
    }
    Err(Rejection::conflict(
        "concurrent_change",
        "the account changed concurrently; reload and retry",
    )
    .into())
}

/// Appends the events `loaded` decided, if the account is still at the version it was loaded.
async fn append_at<A: Aggregate>(
    state: &AppState,
    meta: &Metadata,
    loaded: &AggregateState<A>,
    events: &[A::Event],
) -> Result<Vec<StoredEvent>, AppendError> {
    let aggregate_type = A::aggregate_type();
    let subject = state
        .store
        .subject(&aggregate_type, &loaded.id)
        .map_err(AppendError::Invalid)?;
    let envelopes = events
        .iter()
        .map(|event| EventEnvelope::wrap(meta, EventId::new(), &aggregate_type, &loaded.id, event))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppendError::Invalid(e.to_string()))?;
    let expected = ExpectedVersion::Sequence(loaded.last_sequence);
    let appended = state
        .store
        .append(&aggregate_type, &loaded.id, expected, &envelopes)
        .await?;
    Ok(envelopes
        .into_iter()
        .zip(appended.first_sequence..)
        .map(|(envelope, sequence)| StoredEvent {
            sequence,
            subject: subject.clone(),
            envelope,
        })
        .collect())
}

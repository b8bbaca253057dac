//! Loading one aggregate for a request: from the event log (always current, never lagging like a
//! read model), answering 404 when it does not exist, was deleted, or lies outside the caller's
//! tenant.

use chrono::{DateTime, Utc};
use trainyard_auth::Auth;
use trainyard_core::{Aggregate, AggregateState, Metadata, TenantId};
use trainyard_platform::http::ApiError;

use crate::state::AppState;

/// The aggregate `id` if `is_live` holds for it and the caller may see its tenant.
pub async fn load_live<A: Aggregate>(
    state: &AppState,
    auth: &Auth,
    id: impl ToString,
    what: &str,
    is_live: impl Fn(&A::State) -> bool,
    tenant_of: impl Fn(&A::State) -> Option<TenantId>,
) -> Result<AggregateState<A>, ApiError> {
    let loaded = state.store.load::<A>(&id.to_string()).await?;
    let visible = is_live(&loaded.state)
        && tenant_of(&loaded.state).is_none_or(|tenant| auth.scope().covers(tenant));
    if visible {
        Ok(loaded)
    } else {
        Err(ApiError::not_found("not_found", format!("no such {what}")))
    }
}

/// Decides `command` without storing anything: bad input is refused before any reservation or
/// reference is taken, so a refused request changes nothing.
pub fn precheck<A: Aggregate>(state: &A::State, command: &A::Command) -> Result<(), ApiError>
where
    A::Command: Clone,
{
    A::handle(state, command.clone())
        .map(drop)
        .map_err(ApiError::from)
}

/// Envelope metadata for a command of `auth` in `tenant`, stamped [`now`].
pub fn now_meta(auth: &Auth, tenant: TenantId) -> Metadata {
    auth.metadata(tenant, now())
}

/// The current time at the precision PostgreSQL keeps (microseconds), so a time read from the
/// event log equals the same time read back from a read model.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

//! Reservation keys for identity's uniqueness rules. The reservation's owner is the id of the
//! holder, so a reservation doubles as a consistent lookup (login → user) that never lags the
//! way a read model can.

use trainyard_core::{ActorId, TenantId};
use trainyard_platform::event_store::{EventStore, ReadError, ReservationKey};

/// Tenant names are unique installation-wide, case-insensitively.
pub fn tenant_name(name: &str) -> ReservationKey {
    ReservationKey::new("identity", "tenant_name", name.to_lowercase())
}

/// Logins are unique per tenant, case-insensitively.
pub fn login(tenant: TenantId, login: &str) -> ReservationKey {
    ReservationKey::new("identity", format!("login/{tenant}"), login.to_lowercase())
}

pub async fn tenant_by_name(store: &EventStore, name: &str) -> Result<Option<TenantId>, ReadError> {
    let held = store.reservation(&tenant_name(name)).await?;
    Ok(held.and_then(|r| r.owner.parse().ok()))
}

pub async fn user_by_login(
    store: &EventStore,
    tenant: TenantId,
    name: &str,
) -> Result<Option<ActorId>, ReadError> {
    let held = store.reservation(&login(tenant, name)).await?;
    Ok(held.and_then(|r| r.owner.parse().ok()))
}

//! What every handler shares. Cheap to clone.

use std::sync::Arc;

use deadpool_postgres::Pool;
use trainyard_auth::Verifier;
use trainyard_platform::event_store::EventStore;
use trainyard_platform::projection::ProjectionMonitor;

use crate::client_address::TrustedProxies;
use crate::config::IdentityConfig;
use crate::keyring::KeyRing;
use crate::password::PasswordHasher;
use crate::throttle::Throttle;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: EventStore,
    pub pool: Pool,
    pub keys: KeyRing,
    pub verifier: Verifier,
    pub hasher: PasswordHasher,
    pub throttle: Throttle,
    /// Whose `X-Forwarded-For` counts for throttling.
    pub proxies: TrustedProxies,
    pub config: Arc<IdentityConfig>,
    /// How far the identity read model (users, roles, sessions) is behind the log.
    pub read_model: ProjectionMonitor,
}

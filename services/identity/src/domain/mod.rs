//! Identity's aggregates. Each is pure: `handle` decides from the loaded state and a command that
//! already carries the clock and new ids; `apply` folds events. Secrets never enter commands in
//! clear: passwords are checked against the policy and hashed at the edge, and only hashes of
//! high-entropy secrets (refresh tokens, API keys) are recorded.

pub mod administrators;
pub mod authority;
pub mod role;
pub mod service_account;
pub mod session;
pub mod tenant;
pub mod user;

use serde::{Deserialize, Serialize};
use trainyard_core::Rejection;
use utoipa::ToSchema;
use uuid::Uuid;

trainyard_core::typed_id!(
    /// A role defined in a tenant (built-in roles have fixed ids, see [`BuiltinRole`]).
    RoleId
);

/// The roles every installation has. They are not aggregates and cannot be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum BuiltinRole {
    /// Every right in every tenant, and the tenants themselves.
    Administrator,
    /// Every right in its own tenant.
    TenantAdministrator,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 2] =
        [BuiltinRole::Administrator, BuiltinRole::TenantAdministrator];

    pub fn id(self) -> RoleId {
        match self {
            BuiltinRole::Administrator => RoleId(Uuid::from_u128(1)),
            BuiltinRole::TenantAdministrator => RoleId(Uuid::from_u128(2)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Administrator => "Administrator",
            BuiltinRole::TenantAdministrator => "TenantAdministrator",
        }
    }

    pub fn from_id(id: RoleId) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.id() == id)
    }
}

pub use trainyard_core::names::{check_name, check_text};

pub(crate) fn gone(what: &str) -> Rejection {
    Rejection::not_found("not_found", format!("no such {what}"))
}

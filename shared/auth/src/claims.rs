//! What an access token asserts. Rights are carried here so that services decide without asking
//! identity; the price is that a change of roles takes effect at the next token (minutes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::access::Rights;
use trainyard_core::{Actor, ActorId, ActorKind, TenantId};
use uuid::Uuid;

/// The claims of a Trainyard access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer; verifiers accept only their configured one.
    pub iss: String,
    /// The actor (user or service account).
    pub sub: ActorId,
    /// User or service account.
    pub kind: ActorKind,
    /// The actor's home tenant; every read and write is scoped to it unless `admin`.
    pub tenant: TenantId,
    /// Login or service-account name, for display and audit only.
    pub name: String,
    /// Holder of the built-in `Administrator` role: acts in every tenant.
    #[serde(default)]
    pub admin: bool,
    /// Union of the actor's roles at issue time.
    pub rights: Rights,
    /// The session the token belongs to; revoking the session revokes all its tokens.
    pub sid: Uuid,
    /// Unique token id, revocable on its own.
    pub jti: Uuid,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The password must be changed first; such tokens carry no rights.
    #[serde(default)]
    pub pwd_change: bool,
}

impl Claims {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.sub,
            kind: self.kind,
        }
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

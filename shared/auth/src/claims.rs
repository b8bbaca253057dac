//! What an access token asserts. Rights are carried here so that services decide without asking
//! identity; `ver` says which versions of the account and its roles they were computed from, so
//! a verifier refuses the token as soon as identity reports a later change of any of them (see
//! [`crate::revocation`]) and the holder refreshes it with the new rights.

use std::collections::BTreeMap;

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
    /// The versions (log sequences) of the account (`sub`) and of the tenant's own roles that
    /// `rights` were computed from. Built-in roles never change and are not listed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ver: BTreeMap<Uuid, u64>,
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

//! Authentication and authorisation for every Trainyard service.
//!
//! Access tokens are compact JWS (EdDSA/Ed25519) signed by `identity`; each service verifies them
//! locally with public keys from identity's JWKS ([`Verifier`]), so a request costs no network
//! call. Rights travel in the claims ([`Claims`]); revoked sessions reach every verifier through
//! identity's `SessionRevoked` events ([`revocation`]). Handlers take an [`Auth`] extractor and
//! call `auth.require(Entity::X, Right::Y)?` and the tenant-scoping helpers.
//!
//! A service hands an [`Authentication`] to the service kit, which protects its router and
//! starts the revocation feed; its OpenAPI document declares the scheme with [`BearerScheme`].

mod authentication;
mod claims;
mod error;
mod extract;
pub mod jwt;
mod keys;
mod openapi;
pub mod revocation;
#[cfg(feature = "testing")]
pub mod testing;
mod verifier;

pub use authentication::{AuthConfig, Authentication};
pub use claims::Claims;
pub use error::TokenError;
pub use extract::{protect, Auth, TenantScope};
pub use keys::{Jwk, Jwks, JwksUrl, KeySource, SigningKey};
pub use openapi::BearerScheme;
pub use revocation::RevocationList;
pub use trainyard_core::access::{Entity, Permission, Right, Rights};
pub use verifier::Verifier;

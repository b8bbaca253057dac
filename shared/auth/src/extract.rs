//! The `Auth` extractor and the checks handlers make with it. A router gets the verifier as a
//! request extension ([`protect`]), so the extractor works whatever the service's state type is.
//!
//! Order of checks in a handler: `require` (403 when the right is missing), then tenant scoping
//! (404 for another tenant's ids, so their existence is not revealed).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use trainyard_core::access::{Entity, Right, Rights};
use trainyard_core::{Actor, CorrelationId, Metadata, Rejection, TenantId};
use trainyard_platform::http::ApiError;

use crate::claims::Claims;
use crate::error::TokenError;
use crate::verifier::Verifier;

/// Makes [`Auth`] available to every handler of `router`.
pub fn protect<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    verifier: Verifier,
) -> Router<S> {
    router.layer(Extension(verifier))
}

/// An authenticated caller: the verified claims of its bearer token.
#[derive(Debug, Clone)]
pub struct Auth {
    claims: Arc<Claims>,
}

/// Which tenants a caller's reads cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// An `Administrator`: every tenant.
    All,
    One(TenantId),
}

impl TenantScope {
    pub fn covers(&self, tenant: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::One(own) => *own == tenant,
        }
    }

    /// The tenant to filter a list by: `None` means no filter (administrators without a
    /// `tenant_id` filter); a non-administrator's own tenant always wins.
    pub fn filter(&self, requested: Option<TenantId>) -> Option<TenantId> {
        match self {
            TenantScope::All => requested,
            TenantScope::One(own) => Some(*own),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let verifier = parts.extensions.get::<Verifier>().cloned().ok_or_else(|| {
            ApiError::internal(anyhow_free(
                "router is not wrapped with trainyard_auth::protect",
            ))
        })?;
        let token = bearer(parts.headers.get(header::AUTHORIZATION))?;
        let claims = verifier.verify(token).await?;
        Ok(Self::from_claims(claims))
    }
}

/// An `ApiError::Internal` cause without pulling `anyhow` into this crate's API.
fn anyhow_free(message: &'static str) -> std::io::Error {
    std::io::Error::other(message)
}

fn bearer(value: Option<&HeaderValue>) -> Result<&str, TokenError> {
    let value = value
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token.trim())
}

impl Auth {
    pub fn from_claims(claims: Claims) -> Self {
        Self {
            claims: Arc::new(claims),
        }
    }

    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The caller's home tenant.
    pub fn tenant(&self) -> TenantId {
        self.claims.tenant
    }

    pub fn actor(&self) -> Actor {
        self.claims.actor()
    }

    pub fn rights(&self) -> Rights {
        self.claims.rights
    }

    /// Holder of the built-in `Administrator` role (all tenants).
    pub fn is_administrator(&self) -> bool {
        self.claims.admin && !self.claims.pwd_change
    }

    pub fn allows(&self, entity: Entity, right: Right) -> bool {
        self.claims.rights.allows(entity, right)
    }

    /// 403 `forbidden` unless the caller holds `right` on `entity`.
    pub fn require(&self, entity: Entity, right: Right) -> Result<(), ApiError> {
        if self.allows(entity, right) {
            return Ok(());
        }
        Err(ApiError::Forbidden(
            Rejection::new(
                "forbidden",
                format!("this needs the `{entity}:{right}` permission"),
            )
            .field(format!("{entity}:{right}")),
        ))
    }

    /// 403 `forbidden` unless the caller holds at least one of `any` (reads several roles need).
    pub fn require_any(&self, any: &[(Entity, Right)]) -> Result<(), ApiError> {
        match any.iter().find(|(e, r)| self.allows(*e, *r)) {
            Some(_) => Ok(()),
            None => {
                let names: Vec<String> = any.iter().map(|(e, r)| format!("{e}:{r}")).collect();
                Err(ApiError::Forbidden(
                    Rejection::new(
                        "forbidden",
                        format!("this needs one of the permissions {}", names.join(", ")),
                    )
                    .field(names.join("|")),
                ))
            }
        }
    }

    /// 403 unless the caller is an `Administrator`.
    pub fn require_administrator(&self) -> Result<(), ApiError> {
        if self.is_administrator() {
            return Ok(());
        }
        Err(ApiError::forbidden("this needs the Administrator role"))
    }

    pub fn scope(&self) -> TenantScope {
        if self.is_administrator() {
            TenantScope::All
        } else {
            TenantScope::One(self.claims.tenant)
        }
    }

    /// 404 `not_found` when `owner` is outside the caller's scope: another tenant's ids look
    /// exactly like ids that do not exist.
    pub fn ensure_visible(&self, owner: TenantId, what: &str) -> Result<(), ApiError> {
        if self.scope().covers(owner) {
            Ok(())
        } else {
            Err(not_found(what))
        }
    }

    /// `Some(item)` within scope, else 404: the usual ending of a "get by id".
    pub fn visible<T>(
        &self,
        item: Option<T>,
        tenant_of: impl Fn(&T) -> TenantId,
        what: &str,
    ) -> Result<T, ApiError> {
        match item {
            Some(item) if self.scope().covers(tenant_of(&item)) => Ok(item),
            _ => Err(not_found(what)),
        }
    }

    /// The tenant a new resource goes to: the caller's own, or for an administrator the one it
    /// names. Naming another tenant without being an administrator answers 404.
    pub fn target_tenant(&self, requested: Option<TenantId>) -> Result<TenantId, ApiError> {
        match requested {
            None => Ok(self.claims.tenant),
            Some(tenant) => {
                self.ensure_visible(tenant, "tenant")?;
                Ok(tenant)
            }
        }
    }

    /// Envelope metadata for a command this caller issues now in `tenant`, stamped with the
    /// command clock (`trainyard_platform::command::now`).
    pub fn metadata_now(&self, tenant: TenantId) -> Metadata {
        self.metadata(tenant, trainyard_platform::command::now())
    }

    /// Envelope metadata for a command issued by this caller in `tenant` at `now`.
    pub fn metadata(&self, tenant: TenantId, now: DateTime<Utc>) -> Metadata {
        Metadata {
            tenant_id: tenant,
            actor: self.actor(),
            correlation_id: CorrelationId::new(),
            causation_id: None,
            occurred_at: now,
        }
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::not_found("not_found", format!("no such {what}"))
}

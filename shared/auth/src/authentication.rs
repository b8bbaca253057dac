//! [`Authentication`]: how a service's API authenticates callers, as one piece handed to the
//! service kit (`service::Builder::api`). It owns the token [`Verifier`] and keeps it current:
//! starting the service starts the revocation feed into the verifier, so a session revoked in
//! identity stops working here too. Identity builds it from its own key ring; every other
//! service from its `auth` keys ([`AuthConfig`]), or, in the single-process binary, shares
//! identity's ([`Authentication::shared`]).

use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard_platform::config::ConfigError;
use trainyard_platform::service::{Guard, Infra};

use crate::keys::JwksUrl;
use crate::revocation::RevocationFeed;
use crate::verifier::Verifier;

/// Revocations are read this much further back than the longest token lifetime (clock skew).
const LOOKBACK_SLACK: Duration = Duration::from_secs(60);

/// Where a service other than identity gets token keys from: its `auth` keys
/// (`[template.auth]`, `TRAINYARD_TEMPLATE__AUTH__JWKS_URL`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// `iss` of accepted tokens.
    pub issuer: String,
    /// Identity's JWKS endpoint; keys are fetched at start-up and on an unknown key id.
    pub jwks_url: String,
    /// Longest access-token lifetime identity issues: how far back revocations are read at
    /// start-up so that a token revoked before this service started is still refused.
    pub max_token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "trainyard-identity".into(),
            jwks_url: "http://127.0.0.1:8080/api/v1/auth/jwks".into(),
            max_token_ttl_secs: 15 * 60,
        }
    }
}

impl AuthConfig {
    /// Checks the keys, named `auth.<key>` in errors.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError::invalid("auth.issuer", "must not be empty"));
        }
        if self.max_token_ttl_secs == 0 {
            return Err(ConfigError::invalid(
                "auth.max_token_ttl_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn max_token_ttl(&self) -> Duration {
        Duration::from_secs(self.max_token_ttl_secs)
    }
}

/// A service's authentication. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Authentication {
    verifier: Verifier,
    /// How far back the revocation feed reads; `None` when another service of the process
    /// already feeds this verifier.
    lookback: Option<Duration>,
}

impl Authentication {
    /// Verifies with `verifier`; revocations are read back over `max_token_ttl`.
    pub fn new(verifier: Verifier, max_token_ttl: Duration) -> Self {
        Self {
            verifier,
            lookback: Some(max_token_ttl + LOOKBACK_SLACK),
        }
    }

    /// Identity's tokens, verified with keys from its JWKS endpoint. The keys are fetched now;
    /// identity may start later, and an unknown key id triggers another fetch.
    pub async fn from_config(config: &AuthConfig) -> Self {
        let source = JwksUrl::new(config.jwks_url.clone());
        let verifier = Verifier::new(config.issuer.clone(), Some(Box::new(source)));
        if let Err(error) = verifier.refresh().await {
            tracing::warn!(%error, url = %config.jwks_url, "token keys not fetched yet");
        }
        Self::new(verifier, config.max_token_ttl())
    }

    /// The same verifier for another service of this process: no key fetches, and no second
    /// revocation feed (this one's feeds the shared verifier).
    pub fn shared(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            lookback: None,
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl Guard for Authentication {
    fn start(&self, infra: &Infra, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let Some(lookback) = self.lookback else {
            return Vec::new();
        };
        let feed = RevocationFeed {
            stream: infra.names().events.clone(),
            events_root: infra.names().events_root.clone(),
            lookback,
        };
        vec![feed.spawn(
            infra.client().clone(),
            self.verifier.revocations().clone(),
            shutdown.clone(),
        )]
    }

    fn protect(&self, api: Router) -> Router {
        crate::protect(api, self.verifier.clone())
    }
}

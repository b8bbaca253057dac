//! Local token verification. Keys live in memory; a token naming an unknown `kid` triggers one
//! refresh from the [`KeySource`] (that is how a rotated-in key is learned), rate-limited so that
//! a flood of forged kids cannot turn every request into a call to identity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use ed25519_dalek::VerifyingKey;

use crate::claims::Claims;
use crate::error::TokenError;
use crate::jwt;
use crate::keys::{Jwks, KeySource};
use crate::revocation::RevocationList;

/// Tolerated clock difference between issuer and verifier.
const LEEWAY_SECS: i64 = 30;
/// Least time between two key refreshes triggered by unknown kids.
const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Verifies access tokens. Cheap to clone; one per process.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    leeway_secs: i64,
    keys: RwLock<HashMap<String, VerifyingKey>>,
    source: Option<Box<dyn KeySource>>,
    last_refresh: Mutex<Option<Instant>>,
    refresh_lock: tokio::sync::Mutex<()>,
    revocations: RevocationList,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.read_keys().keys().cloned().collect();
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier accepting tokens of `issuer`, with keys handed in by [`Verifier::set_keys`]
    /// and, if `source` is given, fetched from it on unknown kids.
    pub fn new(issuer: impl Into<String>, source: Option<Box<dyn KeySource>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.into(),
                leeway_secs: LEEWAY_SECS,
                keys: RwLock::new(HashMap::new()),
                source,
                last_refresh: Mutex::new(None),
                refresh_lock: tokio::sync::Mutex::new(()),
                revocations: RevocationList::new(),
            }),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn revocations(&self) -> &RevocationList {
        &self.inner.revocations
    }

    /// Replaces the known keys with `jwks`.
    pub fn set_keys(&self, jwks: &Jwks) {
        let keys = jwks
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.kid.clone(), jwk.verifying_key()?)))
            .collect();
        *self.inner.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    /// Fetches the keys from the source now (at start-up, and after an unknown kid).
    pub async fn refresh(&self) -> Result<(), String> {
        let Some(source) = &self.inner.source else {
            return Ok(());
        };
        let jwks = source.fetch().await?;
        self.set_keys(&jwks);
        Ok(())
    }

    /// Checks signature, issuer, expiry, revocation and supersession; returns the claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let parsed = jwt::parse(token)?;
        let key = match self.key(&parsed.kid) {
            Some(key) => key,
            None => self
                .learn(&parsed.kid)
                .await
                .ok_or(TokenError::UnknownKey)?,
        };
        let claims: Claims = parsed.verify(&key)?;
        self.check_claims(&claims)?;
        Ok(claims)
    }

    /// The synchronous path for a token whose key is already known (benchmarks, hot loops).
    pub fn verify_known(&self, token: &str) -> Result<Claims, TokenError> {
        let parsed = jwt::parse(token)?;
        let key = self.key(&parsed.kid).ok_or(TokenError::UnknownKey)?;
        let claims: Claims = parsed.verify(&key)?;
        self.check_claims(&claims)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims) -> Result<(), TokenError> {
        if claims.iss != self.inner.issuer {
            return Err(TokenError::Issuer);
        }
        if claims.exp + self.inner.leeway_secs <= Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        if self.inner.revocations.is_revoked(&claims.sid, &claims.jti) {
            return Err(TokenError::Revoked);
        }
        if self.inner.revocations.is_superseded(claims) {
            return Err(TokenError::Superseded);
        }
        Ok(())
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, VerifyingKey>> {
        self.inner.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.read_keys().get(kid).copied()
    }

    /// Refreshes once (concurrent callers wait for the same refresh) unless one ran recently.
    async fn learn(&self, kid: &str) -> Option<VerifyingKey> {
        self.inner.source.as_ref()?;
        let _one_at_a_time = self.inner.refresh_lock.lock().await;
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        {
            let mut last = self
                .inner
                .last_refresh
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, "cannot refresh token verification keys");
        }
        self.key(kid)
    }
}

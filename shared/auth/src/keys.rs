//! Signing keys and their public form (JWKS, RFC 7517 with OKP keys per RFC 8037), and where a
//! verifier gets public keys from ([`KeySource`]): identity's JWKS endpoint over HTTP for other
//! services, identity's own key table when it verifies in-process.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A private Ed25519 key with its key id. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from the operating system's CSPRNG; the kid is a UUID v7, so kids sort by age.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        // The OS CSPRNG failing means no key material can be produced safely at all.
        getrandom::fill(&mut secret).expect("the operating system's random source failed");
        Self::from_secret(uuid::Uuid::now_v7().to_string(), secret)
    }

    pub fn from_secret(kid: impl Into<String>, secret: [u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key: ed25519_dalek::SigningKey::from_bytes(&secret),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub(crate) fn key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn jwk(&self) -> Jwk {
        Jwk::from_verifying_key(&self.kid, &self.verifying_key())
    }
}

/// One public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
    /// Always `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl Jwk {
    pub fn from_verifying_key(kid: &str, key: &VerifyingKey) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(key.as_bytes()),
            kid: kid.to_owned(),
            alg: Some(crate::jwt::ALGORITHM.into()),
            key_use: Some("sig".into()),
        }
    }

    /// The key if this is an Ed25519 signing key we can use; other entries are ignored.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return None;
        }
        let bytes: [u8; 32] = B64.decode(&self.x).ok()?.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok()
    }
}

/// A JWK set as served at `/api/v1/auth/jwks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Where a verifier gets the current public keys.
pub trait KeySource: Send + Sync + 'static {
    fn fetch(&self) -> BoxFuture<'_, Result<Jwks, String>>;
}

/// Identity's JWKS endpoint, e.g. `http://identity:8080/api/v1/auth/jwks`.
#[derive(Debug, Clone)]
pub struct JwksUrl {
    url: String,
    client: reqwest::Client,
}

impl JwksUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl KeySource for JwksUrl {
    fn fetch(&self) -> BoxFuture<'_, Result<Jwks, String>> {
        Box::pin(async move {
            let response = self
                .client
                .get(&self.url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let response = response.error_for_status().map_err(|e| e.to_string())?;
            response.json::<Jwks>().await.map_err(|e| e.to_string())
        })
    }
}

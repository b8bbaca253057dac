//! Password hashing (argon2id) and the credential table. Hashing runs on the blocking pool behind
//! a semaphore: each hash holds `memory_kib` of memory, and a burst of logins must not exhaust
//! memory or starve the async workers. Hashes live in `identity_secrets.credentials`, written
//! before the event that announces the change (a crash in between leaves an unused row, never a
//! user without a password the event claims).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use deadpool_postgres::Pool;
use tokio::sync::Semaphore;
use trainyard_core::ActorId;

use crate::config::PasswordHashConfig;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2: {0}")]
    Hash(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("credential store: {0}")]
    Store(#[from] tokio_postgres::Error),
    #[error("credential store: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when a login does not exist, so both cases cost the same time.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(config: &PasswordHashConfig) -> Result<Self, PasswordError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let dummy_hash = hash_with(&params, &crate::secrets::random_secret())?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is none.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await?;
        Ok(exists && matches)
    }
}

/// One argon2id hash in PHC string form (parameters and salt included).
pub fn hash_with(params: &Params, password: &str) -> Result<String, PasswordError> {
    let salt =
        SaltString::encode_b64(&rand_salt()).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn rand_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    salt
}

/// Stores (or replaces) the password hash of `user`.
pub async fn store_hash(pool: &Pool, user: ActorId, hash: &str) -> Result<(), PasswordError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO identity_secrets.credentials (actor_id, password_hash) VALUES ($1, $2)
             ON CONFLICT (actor_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()",
            &[&user.0, &hash],
        )
        .await?;
    Ok(())
}

pub async fn load_hash(pool: &Pool, user: ActorId) -> Result<Option<String>, PasswordError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT password_hash FROM identity_secrets.credentials WHERE actor_id = $1",
            &[&user.0],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

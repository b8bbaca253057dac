//! Token signing keys. Private keys live in `identity_secrets.signing_keys` (PostgreSQL, private
//! to identity): never in the event log, which every service reads and which is kept forever, and
//! not in a file, so every identity replica signs with the same key. They are sealed there with
//! the configured key-encryption key (`kek`); at start, keys stored in the clear or sealed with a
//! retired key-encryption key are re-sealed with the current one. The newest key signs; older
//! keys stay published in the JWKS until every token they signed has expired, which is what lets
//! a rotation happen without logging anybody out.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::future::BoxFuture;
use trainyard_auth::{Jwk, Jwks, KeySource, SigningKey};

use crate::kek::{KekError, Keks};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing keys: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("signing keys: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("stored signing key {0} is corrupt")]
    Corrupt(String),
    #[error(transparent)]
    Sealing(#[from] KekError),
}

#[derive(Debug, Clone)]
struct Keys {
    signing: SigningKey,
    published: Vec<Jwk>,
}

/// The current signing key and the published public keys, reloaded from PostgreSQL.
#[derive(Debug, Clone)]
pub struct KeyRing {
    pool: Pool,
    access_ttl: Duration,
    rotate_after: Duration,
    keks: Keks,
    keys: Arc<RwLock<Option<Keys>>>,
}

impl KeyRing {
    /// Re-seals stored keys with the current key-encryption key, loads them, and creates the
    /// first key (or a successor to an old one) if needed.
    pub async fn open(
        pool: Pool,
        access_ttl: Duration,
        rotate_after: Duration,
        keks: Keks,
    ) -> Result<Self, KeyError> {
        let ring = Self {
            pool,
            access_ttl,
            rotate_after,
            keks,
            keys: Arc::new(RwLock::new(None)),
        };
        ring.seal_stored().await?;
        ring.reload().await?;
        let stale = ring
            .active_created_at()
            .is_none_or(|at| age(at) >= ring.rotate_after);
        if stale {
            ring.rotate().await?;
        }
        Ok(ring)
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> SigningKey {
        self.read()
            .as_ref()
            .map(|k| k.signing.clone())
            .expect("key ring is loaded at open")
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .read()
                .as_ref()
                .map(|k| k.published.clone())
                .unwrap_or_default(),
        }
    }

    /// Makes a fresh key the signing key; older keys keep verifying until their tokens expire.
    pub async fn rotate(&self) -> Result<String, KeyError> {
        let key = SigningKey::generate();
        let (stored, kek_id) = self.keks.seal(key.kid(), &key.secret());
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO identity_secrets.signing_keys (kid, private_key, public_key, kek_id) VALUES ($1, $2, $3, $4)",
                &[&key.kid(), &stored, &key.verifying_key().as_bytes().as_slice(), &kek_id],
            )
            .await?;
        drop(client);
        self.reload().await?;
        tracing::info!(kid = key.kid(), "rotated the token signing key");
        Ok(key.kid().to_owned())
    }

    /// Rotates when the signing key is older than the configured age.
    pub async fn rotate_if_due(&self) -> Result<(), KeyError> {
        if self
            .active_created_at()
            .is_some_and(|at| age(at) >= self.rotate_after)
        {
            self.rotate().await?;
        }
        Ok(())
    }

    /// Reads the keys: the newest signs; a key retired by a successor is published until the
    /// successor's age exceeds the longest access-token lifetime.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let client = self.pool.get().await?;
        let rows = client
            .query("SELECT kid, private_key, public_key, created_at, kek_id FROM identity_secrets.signing_keys ORDER BY created_at DESC, kid DESC", &[])
            .await?;
        let mut published = Vec::new();
        let mut signing = None;
        let mut successor_created: Option<DateTime<Utc>> = None;
        for row in rows {
            let kid: String = row.get(0);
            let created_at: DateTime<Utc> = row.get(3);
            let retired_long_ago = successor_created
                .is_some_and(|s| age(s) > self.access_ttl + Duration::from_secs(60));
            if retired_long_ago {
                break;
            }
            let stored: Vec<u8> = row.get(1);
            let kek_id: Option<String> = row.get(4);
            let secret = self.keks.open(&kid, &stored, kek_id.as_deref())?;
            let key = SigningKey::from_secret(kid.clone(), secret);
            let public: Vec<u8> = row.get(2);
            if key.verifying_key().as_bytes().as_slice() != public.as_slice() {
                return Err(KeyError::Corrupt(kid));
            }
            published.push(key.jwk());
            signing.get_or_insert((key, created_at));
            successor_created = Some(created_at);
        }
        let keys = signing.map(|(signing, _)| Keys { signing, published });
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(())
    }

    /// Seals every stored key that the current key-encryption key did not seal (keys stored in
    /// the clear, keys sealed with a retired key-encryption key), in one transaction that locks
    /// the rows, so replicas starting together do it once. Without a key-encryption key keys
    /// stay as they are, and that is said at every start.
    async fn seal_stored(&self) -> Result<(), KeyError> {
        let Some(current) = self.keks.current() else {
            tracing::warn!(
                "token signing keys are stored unencrypted: configure a key-encryption key \
                 (tokens.key_encryption_key_file or TRAINYARD_TOKENS__KEY_ENCRYPTION_KEY)"
            );
            return Ok(());
        };
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT kid, private_key, kek_id FROM identity_secrets.signing_keys
                 WHERE kek_id IS DISTINCT FROM $1 FOR UPDATE",
                &[&current.id()],
            )
            .await?;
        for row in &rows {
            let kid: String = row.get(0);
            let stored: Vec<u8> = row.get(1);
            let kek_id: Option<String> = row.get(2);
            let secret = self.keks.open(&kid, &stored, kek_id.as_deref())?;
            let (sealed, id) = self.keks.seal(&kid, &secret);
            transaction
                .execute(
                    "UPDATE identity_secrets.signing_keys SET private_key = $2, kek_id = $3 WHERE kid = $1",
                    &[&kid, &sealed, &id],
                )
                .await?;
        }
        transaction.commit().await?;
        if !rows.is_empty() {
            tracing::info!(
                keys = rows.len(),
                kek = current.id(),
                "sealed stored signing keys with the current key-encryption key"
            );
        }
        Ok(())
    }

    fn active_created_at(&self) -> Option<DateTime<Utc>> {
        let kid = self.read().as_ref()?.signing.kid().to_owned();
        // Kids are UUID v7: their timestamp is the creation time.
        let (secs, nanos) = uuid::Uuid::parse_str(&kid).ok()?.get_timestamp()?.to_unix();
        DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Keys>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn age(at: DateTime<Utc>) -> Duration {
    (Utc::now() - at).to_std().unwrap_or_default()
}

/// Lets identity's own verifier learn keys rotated in by another replica.
impl KeySource for KeyRing {
    fn fetch(&self) -> BoxFuture<'_, Result<Jwks, String>> {
        Box::pin(async move {
            self.reload().await.map_err(|e| e.to_string())?;
            Ok(self.jwks())
        })
    }
}

//! The key-encryption keys (KEKs) that seal token signing keys at rest in
//! `identity_secrets.signing_keys`. A KEK is 32 random bytes, given base64-encoded in a file
//! (`tokens.key_encryption_key_file`) or in the environment
//! (`TRAINYARD_TOKENS__KEY_ENCRYPTION_KEY`); it never enters PostgreSQL, so a copy of the
//! database (a backup, a replica, a dump) holds no usable signing key.
//!
//! Sealing is XChaCha20-Poly1305 with a fresh random 192-bit nonce per key, the key id as
//! associated data (a sealed key copied onto another row does not open), and the KEK's id stored
//! beside it, so a row says which KEK opens it. Retired KEKs (`tokens.retired_key_encryption_*`)
//! still open keys; at start the current one re-seals every key sealed otherwise (or not at all):
//! that is the rotation, see `docs/key-encryption.md`.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::config::{Secret, TokenConfig};

const NONCE: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key-encryption key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not base64 of exactly 32 bytes")]
    Format(String),
    #[error("signing key {kid} is sealed with key-encryption key {kek}, which is not configured (tokens.key_encryption_key or tokens.retired_key_encryption_keys)")]
    Unknown { kid: String, kek: String },
    #[error(
        "signing key {kid} does not open with key-encryption key {kek}: wrong key or altered row"
    )]
    Corrupt { kid: String, kek: String },
}

/// One KEK and its id (a digest of the key: it names the key without revealing it).
#[derive(Clone)]
pub struct Kek {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Kek {
    /// A KEK from its base64 text; `what` names where it came from in errors.
    pub fn from_base64(text: &str, what: &str) -> Result<Self, KekError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| KekError::Format(what.to_owned()))?;
        let digest = Sha256::new()
            .chain_update(b"trainyard key-encryption key\0")
            .chain_update(bytes)
            .finalize();
        Ok(Self {
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, KekError> {
        let text = std::fs::read_to_string(path).map_err(|source| KekError::File {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_base64(&text, &path.display().to_string())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn aad(kid: &str) -> Vec<u8> {
        [b"trainyard signing key\0".as_slice(), kid.as_bytes()].concat()
    }

    /// Nonce followed by ciphertext and tag.
    pub fn seal(&self, kid: &str, secret: &[u8; 32]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let aad = Self::aad(kid);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .expect("sealing 32 bytes cannot exceed the cipher's limits");
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn open(&self, kid: &str, stored: &[u8]) -> Result<[u8; 32], KekError> {
        let corrupt = || KekError::Corrupt {
            kid: kid.to_owned(),
            kek: self.id.clone(),
        };
        if stored.len() <= NONCE {
            return Err(corrupt());
        }
        let (nonce, sealed) = stored.split_at(NONCE);
        let aad = Self::aad(kid);
        let opened = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        <[u8; 32]>::try_from(opened).map_err(|_| corrupt())
    }
}

/// The configured KEKs: the current one seals, all of them open.
#[derive(Debug, Clone, Default)]
pub struct Keks {
    current: Option<Kek>,
    retired: Vec<Kek>,
}

impl Keks {
    pub fn new(current: Option<Kek>, retired: Vec<Kek>) -> Self {
        Self { current, retired }
    }

    /// Reads the KEKs `tokens` names (files are read here, at start).
    pub fn from_config(tokens: &TokenConfig) -> Result<Self, KekError> {
        let value = |secret: &Secret, what: &str| Kek::from_base64(secret.expose(), what);
        let current = match (&tokens.key_encryption_key, &tokens.key_encryption_key_file) {
            (Some(secret), _) => Some(value(secret, "tokens.key_encryption_key")?),
            (None, Some(path)) => Some(Kek::from_file(path)?),
            (None, None) => None,
        };
        let mut retired = Vec::new();
        for secret in &tokens.retired_key_encryption_keys {
            retired.push(value(secret, "tokens.retired_key_encryption_keys")?);
        }
        for path in &tokens.retired_key_encryption_key_files {
            retired.push(Kek::from_file(path)?);
        }
        Ok(Self { current, retired })
    }

    pub fn current(&self) -> Option<&Kek> {
        self.current.as_ref()
    }

    /// The stored form of `secret` and the id of the KEK that sealed it (none: plaintext).
    pub fn seal(&self, kid: &str, secret: &[u8; 32]) -> (Vec<u8>, Option<String>) {
        match &self.current {
            Some(kek) => (kek.seal(kid, secret), Some(kek.id.clone())),
            None => (secret.to_vec(), None),
        }
    }

    /// The secret of a stored key: plaintext when `kek_id` is none, else opened by that KEK.
    pub fn open(
        &self,
        kid: &str,
        stored: &[u8],
        kek_id: Option<&str>,
    ) -> Result<[u8; 32], KekError> {
        let Some(kek_id) = kek_id else {
            return <[u8; 32]>::try_from(stored).map_err(|_| KekError::Corrupt {
                kid: kid.to_owned(),
                kek: "none".into(),
            });
        };
        self.current
            .iter()
            .chain(&self.retired)
            .find(|k| k.id == kek_id)
            .ok_or_else(|| KekError::Unknown {
                kid: kid.to_owned(),
                kek: kek_id.to_owned(),
            })?
            .open(kid, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> Kek {
        Kek::from_base64(&STANDARD.encode([byte; 32]), "test").unwrap()
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_kek_and_its_kid() {
        let keks = Keks::new(Some(kek(1)), vec![kek(2)]);
        let secret = [7u8; 32];
        let (stored, id) = keks.seal("kid-a", &secret);
        assert_eq!(id.as_deref(), Some(kek(1).id()));
        assert_eq!(stored.len(), 24 + 32 + 16);
        assert!(
            !stored.windows(32).any(|w| w == secret),
            "no plaintext in the row"
        );
        assert_eq!(keks.open("kid-a", &stored, id.as_deref()).unwrap(), secret);
        assert!(matches!(
            keks.open("kid-b", &stored, id.as_deref()),
            Err(KekError::Corrupt { .. })
        ));
        let mut altered = stored.clone();
        altered[30] ^= 1;
        assert!(keks.open("kid-a", &altered, id.as_deref()).is_err());
        let (again, _) = keks.seal("kid-a", &secret);
        assert_ne!(again, stored, "fresh nonce each time");
        // A key sealed by the retired KEK still opens; an unknown KEK is named.
        let old = kek(2).seal("kid-c", &secret);
        assert_eq!(keks.open("kid-c", &old, Some(kek(2).id())).unwrap(), secret);
        assert!(matches!(
            keks.open("kid-c", &old, Some("feedface")),
            Err(KekError::Unknown { .. })
        ));
        assert!(Kek::from_base64("c2hvcnQ=", "short").is_err());
    }
}

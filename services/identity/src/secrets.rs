//! Secrets handed to clients: refresh tokens, API keys and generated passwords. Each is 256 bits
//! from the OS CSPRNG; refresh tokens and API keys embed the id of what they belong to, so the
//! server finds the record without an index over secrets, and only a SHA-256 of the secret part
//! is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use trainyard_core::ActorId;
use uuid::Uuid;

/// Prefix that makes API keys recognisable (secret scanners, logs review).
const API_KEY_PREFIX: &str = "tyk";
const REFRESH_PREFIX: &str = "tyr";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without the OS random source no secret can be produced safely.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A fresh 256-bit secret, base64url.
pub fn random_secret() -> String {
    B64.encode(random_bytes::<32>())
}

/// Hex SHA-256, the stored form of high-entropy secrets.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two digests, so timing does not leak a matching prefix.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `tyr_<session>_<secret>`.
pub fn refresh_token(session_id: Uuid) -> (String, String) {
    let secret = random_secret();
    (
        format!("{REFRESH_PREFIX}_{}_{secret}", session_id.simple()),
        digest(&secret),
    )
}

/// The session id and the digest of the secret part.
pub fn parse_refresh_token(token: &str) -> Option<(Uuid, String)> {
    let rest = token.strip_prefix(REFRESH_PREFIX)?.strip_prefix('_')?;
    let (session, secret) = rest.split_once('_')?;
    Some((Uuid::try_parse(session).ok()?, digest(secret)))
}

/// `tyk_<account>_<key>_<secret>` and its digest.
pub fn api_key(account: ActorId, key_id: Uuid) -> (String, String) {
    let secret = random_secret();
    let key = format!(
        "{API_KEY_PREFIX}_{}_{}_{secret}",
        account.0.simple(),
        key_id.simple()
    );
    (key, digest(&secret))
}

/// The account, the key id and the digest of the secret part.
pub fn parse_api_key(key: &str) -> Option<(ActorId, Uuid, String)> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?.strip_prefix('_')?;
    let (account, rest) = rest.split_once('_')?;
    let (key_id, secret) = rest.split_once('_')?;
    Some((
        ActorId(Uuid::try_parse(account).ok()?),
        Uuid::try_parse(key_id).ok()?,
        digest(secret),
    ))
}

/// A password that satisfies the policy: random base64url plus fixed classes appended so the
/// lower/upper/special rule always holds.
pub fn generated_password() -> String {
    format!("{}aZ#", B64.encode(random_bytes::<18>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_their_formats() {
        let session = Uuid::now_v7();
        let (token, hash) = refresh_token(session);
        assert_eq!(parse_refresh_token(&token), Some((session, hash)));
        let (account, key_id) = (ActorId::new(), Uuid::now_v7());
        let (key, hash) = api_key(account, key_id);
        assert_eq!(parse_api_key(&key), Some((account, key_id, hash)));
        assert_eq!(parse_api_key("tyk_nonsense"), None);
        assert!(crate::domain::user::check_password_policy("p", &generated_password()).is_ok());
    }
}

//! Compact JWS with EdDSA (RFC 8037), the only algorithm we sign or accept. Verification is
//! strict on purpose: the header must say `EdDSA` (so `alg: none` and HMAC-confusion tokens fail
//! before any key is touched), the `kid` must name a known key, and the signature is checked
//! with `verify_strict`, which also rejects small-order keys and non-canonical signatures.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::TokenError;
use crate::keys::SigningKey;

/// The one algorithm name we accept.
pub const ALGORITHM: &str = "EdDSA";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Signs `claims` with `key`; the header names the key's `kid`.
pub fn sign<C: Serialize>(claims: &C, key: &SigningKey) -> Result<String, serde_json::Error> {
    let header = Header {
        alg: ALGORITHM.into(),
        typ: Some("JWT".into()),
        kid: Some(key.kid().to_owned()),
    };
    let mut token = String::with_capacity(256);
    token.push_str(&B64.encode(serde_json::to_vec(&header)?));
    token.push('.');
    token.push_str(&B64.encode(serde_json::to_vec(claims)?));
    let signature = key.key().sign(token.as_bytes());
    token.push('.');
    token.push_str(&B64.encode(signature.to_bytes()));
    Ok(token)
}

/// The parts of a token after the structural checks, before the signature is checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    pub kid: String,
    signing_input: &'a str,
    payload: &'a str,
    signature: Signature,
}

/// Splits `token` and checks its header; no key is needed yet.
pub fn parse(token: &str) -> Result<Unverified<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let signing_input = &token[..header.len() + 1 + payload.len()];
    let header: Header = B64
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != ALGORITHM {
        return Err(TokenError::Algorithm);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let signature: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(TokenError::Signature)?;
    Ok(Unverified {
        kid,
        signing_input,
        payload,
        signature: Signature::from_bytes(&signature),
    })
}

impl Unverified<'_> {
    /// Checks the signature with `key` and decodes the claims.
    pub fn verify<C: DeserializeOwned>(&self, key: &VerifyingKey) -> Result<C, TokenError> {
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| TokenError::Signature)?;
        let bytes = B64
            .decode(self.payload)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let key = SigningKey::generate();
        let token = sign(&serde_json::json!({"sub": "a", "n": 1}), &key).unwrap();
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.kid, key.kid());
        let claims: serde_json::Value = parsed.verify(&key.verifying_key()).unwrap();
        assert_eq!(claims["n"], 1);

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64.encode(br#"{"sub":"a","n":2}"#);
        parts[1] = &forged;
        let tampered = parts.join(".");
        let err = parse(&tampered)
            .unwrap()
            .verify::<serde_json::Value>(&key.verifying_key());
        assert_eq!(err.unwrap_err(), TokenError::Signature);

        let other = SigningKey::generate();
        let err = parsed.verify::<serde_json::Value>(&other.verifying_key());
        assert_eq!(err.unwrap_err(), TokenError::Signature);
    }

    #[test]
    fn refuses_other_algorithms_and_shapes() {
        let none_header = B64.encode(br#"{"alg":"none","kid":"k"}"#);
        let body = B64.encode(br#"{"sub":"a"}"#);
        assert_eq!(
            parse(&format!("{none_header}.{body}.")).unwrap_err(),
            TokenError::Algorithm
        );
        let hs = B64.encode(br#"{"alg":"HS256","kid":"k"}"#);
        assert_eq!(
            parse(&format!("{hs}.{body}.AAAA")).unwrap_err(),
            TokenError::Algorithm
        );
        assert_eq!(parse("a.b").unwrap_err(), TokenError::Malformed);
        assert_eq!(parse("a.b.c.d").unwrap_err(), TokenError::Malformed);
    }
}

//! Why a bearer token was not accepted. Every variant answers 401; the `code` says which rule
//! failed so that clients can tell "log in again" from "clock skew" without parsing messages.

use trainyard_core::Rejection;
use trainyard_platform::http::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the token is not a well-formed JWS")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token was issued by someone else")]
    Issuer,
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
    /// The account's roles or a role's rights changed after the token was issued; a refreshed
    /// token carries the new rights.
    #[error("the account's roles or rights changed since the token was issued; refresh it")]
    Superseded,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "token_missing",
            TokenError::Malformed | TokenError::Algorithm | TokenError::Issuer => "token_invalid",
            TokenError::UnknownKey | TokenError::Signature => "token_invalid",
            TokenError::Expired => "token_expired",
            TokenError::Revoked => "token_revoked",
            TokenError::Superseded => "token_superseded",
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        ApiError::Unauthenticated(Rejection::new(error.code(), error.to_string()))
    }
}

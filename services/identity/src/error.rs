//! Maps failures of identity's dependencies onto `ApiError`: a refused command is the caller's
//! fault (4xx by its kind), a lost race is 409, and NATS or PostgreSQL failing is ours (503/500,
//! logged once where the response is produced).

use trainyard_platform::event_store::{ExecuteError, ReadError, ReservationError};
use trainyard_platform::http::ApiError;

use crate::keyring::KeyError;
use crate::password::PasswordError;

pub fn execute(error: ExecuteError) -> ApiError {
    error.into()
}

pub fn read(error: ReadError) -> ApiError {
    error.into()
}

/// A taken key is reported with the caller's own code and field.
pub fn reservation(error: ReservationError, code: &str, field: &str, message: &str) -> ApiError {
    ApiError::reservation(error, code, field, message)
}

pub fn password(error: PasswordError) -> ApiError {
    match error {
        PasswordError::Store(_) | PasswordError::Pool(_) => ApiError::unavailable(error),
        other => ApiError::internal(other),
    }
}

pub fn keys(error: KeyError) -> ApiError {
    ApiError::unavailable(error)
}

pub fn postgres(error: impl Into<anyhow::Error>) -> ApiError {
    ApiError::unavailable(error)
}

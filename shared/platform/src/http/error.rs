//! `application/problem+json` (RFC 9457) errors. Every handler returns `Result<_, ApiError>`;
//! the variant decides the status, the body always has the same shape with a stable `code`.
//! Infrastructure failures are logged once, here, with their cause; their body says only that
//! something failed on our side.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trainyard_core::{ErrorKind, Rejection};
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The error body. `code` is the stable, machine-readable part; `detail` is for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:trainyard:problem:name_taken",
    "title": "Conflict",
    "status": 409,
    "detail": "a template named `ocr` already exists in this project",
    "code": "name_taken",
    "field": "name",
    "instance": "/api/v1/training-templates"
}))]
pub struct ProblemDetails {
    /// `urn:trainyard:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status phrase.
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable identifier clients switch on.
    pub code: String,
    /// The offending input field, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request path this problem occurred on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl ProblemDetails {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:trainyard:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
            instance: None,
        }
    }
}

impl IntoResponse for ProblemDetails {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        // Kept so the outer layer can fill in `instance` from the request path.
        response.extensions_mut().insert(self);
        response
    }
}

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input (unparsable body, bad query): 400.
    #[error("bad request: {0}")]
    BadRequest(Rejection),
    /// Well-formed input that breaks a domain rule: 422.
    #[error("rejected: {0}")]
    Unprocessable(Rejection),
    #[error("not found: {0}")]
    NotFound(Rejection),
    /// A concurrent change or a taken name: 409; the caller may reload and retry.
    #[error("conflict: {0}")]
    Conflict(Rejection),
    #[error("unauthenticated: {0}")]
    Unauthenticated(Rejection),
    #[error("forbidden: {0}")]
    Forbidden(Rejection),
    /// A request body over the accepted size: 413.
    #[error("payload too large: {0}")]
    PayloadTooLarge(Rejection),
    /// A dependency is down or overloaded: 503, worth retrying later.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// The handler did not finish within the request timeout: 503.
    #[error("request timed out")]
    Timeout,
    /// A bug or an unexpected failure: 500.
    #[error("internal: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(Rejection::new(code, message))
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::NotFound(Rejection::not_found(code, message))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated(Rejection::new("unauthenticated", message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(Rejection::new("forbidden", message))
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn unavailable(error: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body; for server-side failures it carries no cause.
    pub fn problem(&self) -> ProblemDetails {
        let status = self.status();
        match self {
            Self::BadRequest(r)
            | Self::Unprocessable(r)
            | Self::NotFound(r)
            | Self::Conflict(r)
            | Self::Unauthenticated(r)
            | Self::Forbidden(r)
            | Self::PayloadTooLarge(r) => ProblemDetails {
                field: r.field.clone(),
                ..ProblemDetails::new(status, &r.code, &r.message)
            },
            Self::Unavailable(_) => ProblemDetails::new(
                status,
                "unavailable",
                "a service this request depends on is unavailable; retry later",
            ),
            Self::Timeout => {
                ProblemDetails::new(status, "timeout", "the request took too long; retry later")
            }
            Self::Internal(_) => {
                ProblemDetails::new(status, "internal", "an internal error occurred")
            }
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection.kind {
            ErrorKind::Rejection => Self::Unprocessable(rejection),
            ErrorKind::NotFound => Self::NotFound(rejection),
            ErrorKind::Conflict => Self::Conflict(rejection),
            ErrorKind::Unauthenticated => Self::Unauthenticated(rejection),
            ErrorKind::Forbidden => Self::Forbidden(rejection),
            ErrorKind::Infrastructure => Self::Internal(anyhow::Error::new(rejection)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) | Self::Unavailable(cause) => {
                tracing::error!(
                    error = format!("{cause:#}"),
                    status = self.status().as_u16(),
                    "request failed"
                );
            }
            Self::Timeout => tracing::warn!("request timed out"),
            _ => {}
        }
        self.problem().into_response()
    }
}

/// A refused command keeps its kind; a lost race after retries is 409 `concurrent_change`; the
/// log failing is ours (503).
impl From<crate::event_store::ExecuteError> for ApiError {
    fn from(error: crate::event_store::ExecuteError) -> Self {
        use crate::event_store::ExecuteError;
        match error {
            ExecuteError::Rejected(rejection) => rejection.into(),
            ExecuteError::Conflict { .. } => Self::Conflict(Rejection::conflict(
                "concurrent_change",
                "the resource changed concurrently; reload and retry",
            )),
            other => Self::unavailable(other),
        }
    }
}

/// A command's failure as the API answers it: a refusal keeps its kind, a lost race is 409
/// `concurrent_change`, a dependency failing is 503 and a bug 500.
impl From<crate::command::CommandError> for ApiError {
    fn from(error: crate::command::CommandError) -> Self {
        use crate::command::CommandError;
        match error {
            CommandError::Rejected(rejection) => rejection.into(),
            CommandError::Conflict(_) => Self::Conflict(Rejection::conflict(
                "concurrent_change",
                "the resource changed concurrently; reload and retry",
            )),
            CommandError::Unavailable(cause) => Self::Unavailable(cause),
            CommandError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<crate::postgres::PostgresError> for ApiError {
    fn from(error: crate::postgres::PostgresError) -> Self {
        Self::unavailable(error)
    }
}

impl From<crate::event_store::ReadError> for ApiError {
    fn from(error: crate::event_store::ReadError) -> Self {
        Self::unavailable(error)
    }
}

impl ApiError {
    /// A taken unique key, reported with the caller's own code and field; infrastructure
    /// failures stay 503.
    pub fn reservation(
        error: crate::event_store::ReservationError,
        code: &str,
        field: &str,
        message: &str,
    ) -> Self {
        match error.kind() {
            ErrorKind::Conflict => Self::Conflict(Rejection::conflict(code, message).field(field)),
            _ => Self::unavailable(error),
        }
    }
}

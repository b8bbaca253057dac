//! A JSON extractor whose rejection is problem+json with code `invalid_body`, naming the field
//! serde complained about, instead of axum's plain-text rejection.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trainyard_core::Rejection;

use super::error::ApiError;

/// Drop-in replacement for `axum::Json` in handlers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (message, field) = match &rejection {
            JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
                describe_serde_error(&rejection).unwrap_or_else(|| (rejection.body_text(), None))
            }
            JsonRejection::MissingJsonContentType(_) => {
                ("expected `Content-Type: application/json`".to_owned(), None)
            }
            _ => (rejection.body_text(), None),
        };
        let mut body = Rejection::new("invalid_body", message);
        body.field = field;
        ApiError::BadRequest(body)
    }
}

/// Finds serde's error in the rejection's source chain: its message, and the field as a dotted
/// path (`template.name`, `classes[2]`), or the field named by "missing field `x`".
fn describe_serde_error(rejection: &JsonRejection) -> Option<(String, Option<String>)> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = source {
        if let Some(e) = error.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let inner = e.inner().to_string();
            let path = e.path().to_string();
            let path = (path != "." && !path.is_empty()).then_some(path);
            let field = match (path, backticked_field(&inner)) {
                // An unknown field is already the last segment of the path; a missing one is not.
                (Some(path), Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
                    Some(path)
                }
                (Some(path), Some(name)) => Some(format!("{path}.{name}")),
                (path, name) => path.or(name),
            };
            return Some((inner, field));
        }
        source = error.source();
    }
    None
}

/// `missing field `name`` / `unknown field `x`, expected …` → the name between backticks.
fn backticked_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::backticked_field;

    #[test]
    fn names_the_field_of_missing_and_unknown_field_errors() {
        assert_eq!(
            backticked_field("missing field `name` at line 1 column 2").as_deref(),
            Some("name")
        );
        assert_eq!(
            backticked_field("unknown field `nme`, expected `name`").as_deref(),
            Some("nme")
        );
        assert_eq!(backticked_field("invalid type: string"), None);
    }
}

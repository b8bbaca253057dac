//! The middleware every service runs, outermost first: request id, a trace span per request
//! (continuing the caller's W3C trace), request metrics by matched route, `instance` on problem
//! bodies, panic → problem+json 500, and a request timeout → problem+json 503. A handler that
//! streams a large body may lift the timeout for its own request with [`RequestDeadline`].

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::error::{ApiError, ProblemDetails};
use crate::metrics::{HttpLabels, Metrics};
use crate::telemetry::{extract_http, set_parent_from};

/// Header carrying the request id (generated when the caller sends none).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the standard stack.
pub fn apply(router: Router, metrics: Arc<Metrics>, request_timeout: Duration) -> Router {
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // Failures are logged once by `ApiError`; the trace layer would log them again.
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn_with_state(metrics, record_metrics))
        .layer(middleware::from_fn(problem_instance))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(request_timeout, timeout));
    router.layer(stack)
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "http.request",
        method = %request.method(),
        path = request.uri().path(),
        request_id,
    );
    set_parent_from(&span, extract_http(request.headers()));
    span
}

async fn record_metrics(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = HttpLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics
        .http_request_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Fills `instance` with the request path on problem bodies produced further in.
async fn problem_instance(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    match response.extensions().get::<ProblemDetails>() {
        Some(problem) if problem.instance.is_none() => {
            let mut rebuilt = ProblemDetails {
                instance: Some(path),
                ..problem.clone()
            }
            .into_response();
            // Keep what the handler set besides the body (Retry-After, WWW-Authenticate, ...).
            for (name, value) in response.headers() {
                if name != http::header::CONTENT_LENGTH && !rebuilt.headers().contains_key(name) {
                    rebuilt.headers_mut().insert(name.clone(), value.clone());
                }
            }
            rebuilt
        }
        None if is_plain_client_error(&response) => plain_to_problem(response, path).await,
        _ => response,
    }
}

/// Framework rejections (a path segment that is not a UUID, a bad query string, a wrong
/// method) come as plain text; clients get problem+json like every other error.
fn is_plain_client_error(response: &Response) -> bool {
    let plain = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    plain && response.status().is_client_error()
}

async fn plain_to_problem(response: Response, path: String) -> Response {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_owned();
    let (code, field) = if detail.starts_with("Invalid URL") || detail.contains("path argument") {
        ("invalid_path", Some("path"))
    } else if detail.contains("query string") {
        ("invalid_query", Some("query"))
    } else {
        ("invalid_request", None)
    };
    let mut problem = ProblemDetails::new(status, code, detail);
    problem.field = field.map(str::to_owned);
    problem.instance = Some(path);
    let mut rebuilt = problem.into_response();
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_LENGTH && !rebuilt.headers().contains_key(name) {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// The request timeout of one request, as a request extension. A handler whose work grows with
/// the size of what it receives (an upload streamed to storage) lifts it once it has accepted the
/// request, and guards against a stalled client itself; every other request keeps the limit.
#[derive(Debug, Clone)]
pub struct RequestDeadline(Arc<watch::Sender<Option<Instant>>>);

impl RequestDeadline {
    /// Removes the limit for the rest of this request.
    pub fn lift(&self) {
        self.0.send_replace(None);
    }

    /// When the request will be answered with 503 `timeout`; `None` once lifted.
    pub fn at(&self) -> Option<Instant> {
        *self.0.borrow()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestDeadline {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "the router is not wrapped in the standard layers"
            ))
        })
    }
}

async fn timeout(State(limit): State<Duration>, mut request: Request, next: Next) -> Response {
    let deadline = RequestDeadline(Arc::new(watch::Sender::new(Some(Instant::now() + limit))));
    let mut changes = deadline.0.subscribe();
    // `deadline` stays here too, so the channel stays open however early the handler drops its
    // copy.
    request.extensions_mut().insert(deadline.clone());
    let response = next.run(request);
    tokio::pin!(response);
    loop {
        let current = *changes.borrow_and_update();
        let expired = async {
            match current {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            response = &mut response => return response,
            () = expired => return ApiError::Timeout.into_response(),
            _ = changes.changed() => {}
        }
    }
}

/// Answers unknown routes with problem+json instead of an empty 404.
pub async fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route")
}

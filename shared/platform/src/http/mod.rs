//! HTTP plumbing shared by every service: problem+json errors ([`ApiError`]), a JSON extractor
//! whose rejections are problem+json ([`Json`]), pagination, the operational endpoints and the
//! standard layer stack. Serving is the service kit's ([`crate::service`]).

mod error;
mod health;
mod json;
mod layers;
mod page;

use std::time::Duration;

use axum::Router;

pub use error::{ApiError, ProblemDetails, PROBLEM_JSON};
pub use health::{
    ops_routes, CheckReport, NatsCheck, Ops, PostgresCheck, ProjectionCheck, ReadinessCheck,
    ReadinessReport,
};
pub use json::Json;
pub use layers::{route_not_found, RequestDeadline, REQUEST_ID};
pub use page::{Page, PageQuery};

/// The service's API merged with `/healthz`, `/readyz`, `/metrics`, a problem+json fallback for
/// unknown routes, and the standard layers.
pub fn app(api: Router, ops: Ops, request_timeout: Duration) -> Router {
    let metrics = ops.metrics.clone();
    let router = api.merge(ops_routes(ops)).fallback(route_not_found);
    layers::apply(router, metrics, request_timeout)
}

/// Completes on ctrl-c or SIGTERM (moved to [`crate::service::shutdown_signal`]).
pub use crate::service::shutdown_signal;

//! HTTP plumbing shared by every service: problem+json errors ([`ApiError`]), a JSON extractor
//! whose rejections are problem+json ([`Json`]), the operational endpoints, the standard layer
//! stack and graceful serving, so a service's `main` only builds its own router.

mod error;
mod health;
mod json;
mod layers;
mod page;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// Serves `router` on a listener the caller bound (port 0 in tests) until `shutdown` completes,
/// then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "serving HTTP");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}

/// A token cancelled on ctrl-c/SIGTERM, for stopping the server and background tasks together.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        cancel.cancel();
    });
    token
}

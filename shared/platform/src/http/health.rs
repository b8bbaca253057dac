//! Operational endpoints: `/healthz` (the process answers), `/readyz` (each dependency answers
//! and projections are caught up; a JSON body lists every check) and `/metrics` (Prometheus).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::{join_all, BoxFuture};
use serde::Serialize;

use crate::metrics::Metrics;
use crate::projection::ProjectionMonitor;

/// How long one readiness check may take before it counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency `/readyz` asks about. `Err` carries a short operator-facing reason.
pub trait ReadinessCheck: Send + Sync + 'static {
    fn name(&self) -> String;
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// NATS: the client's connection is up.
#[derive(Debug, Clone)]
pub struct NatsCheck(pub async_nats::Client);

impl ReadinessCheck for NatsCheck {
    fn name(&self) -> String {
        "nats".into()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.0.connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                state => Err(format!("connection {state}")),
            }
        })
    }
}

/// PostgreSQL: a pooled connection answers `SELECT 1`.
#[derive(Debug, Clone)]
pub struct PostgresCheck(pub deadpool_postgres::Pool);

impl ReadinessCheck for PostgresCheck {
    fn name(&self) -> String {
        "postgres".into()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            crate::postgres::ping(&self.0)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// A projection has at most `max_lag` events left to apply.
#[derive(Debug, Clone)]
pub struct ProjectionCheck {
    pub monitor: ProjectionMonitor,
    pub max_lag: u64,
}

impl ReadinessCheck for ProjectionCheck {
    fn name(&self) -> String {
        format!("projection:{}", self.monitor.name())
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let lag = self.monitor.lag().await.map_err(|e| e.to_string())?;
            if lag.pending_events <= self.max_lag {
                Ok(())
            } else {
                Err(format!(
                    "{} events behind (threshold {})",
                    lag.pending_events, self.max_lag
                ))
            }
        })
    }
}

/// State behind the operational endpoints.
#[derive(Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    checks: Vec<Arc<dyn ReadinessCheck>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.checks.iter().map(|c| c.name()).collect();
        f.debug_struct("Ops")
            .field("checks", &names)
            .finish_non_exhaustive()
    }
}

impl Ops {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            checks: Vec::new(),
        }
    }

    /// Adds a readiness check.
    pub fn check(mut self, check: impl ReadinessCheck) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Adds `other`'s checks (services served by one process share `/readyz`); a check whose
    /// name is already there (the shared NATS and PostgreSQL checks) is not added twice.
    pub fn merge(mut self, other: Ops) -> Self {
        for check in other.checks {
            if !self.checks.iter().any(|c| c.name() == check.name()) {
                self.checks.push(check);
            }
        }
        self
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn readiness(&self) -> ReadinessReport {
        let results = join_all(self.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            CheckReport {
                name: check.name(),
                ok: outcome.is_ok(),
                detail: outcome.err(),
            }
        }))
        .await;
        ReadinessReport {
            ready: results.iter().all(|c| c.ok),
            checks: results,
        }
    }
}

/// `/readyz` body.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessReport {
    pub ready: bool,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn ops_routes(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "alive" }))
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let report = ops.readiness().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
        .into_response()
}

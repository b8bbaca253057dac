//! [`Builder`]: turns a service's pieces into [`Parts`]. A service's `app.rs` makes one from the
//! process's [`Infra`], adds its schema migrations, its projections (each started with its
//! readiness check), its background tasks and work consumers, then hands over its API router
//! with its state and the [`Guard`] that authenticates callers.

use std::future::Future;

use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use super::{Infra, Parts};
use crate::http::{Ops, ProjectionCheck, ReadinessCheck};
use crate::postgres::{migrate, Migration};
use crate::projection::{Projection, ProjectionRunner, RunnerOptions};
use crate::work::{WorkConsumer, WorkHandler};

/// How long an idle projection runner waits for the next event (bounds how fast it stops).
const PROJECTION_IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What authenticates a service's API. `trainyard_auth::Authentication` is the one every
/// service uses (bearer tokens, with the revocation feed it keeps current).
pub trait Guard {
    /// Background tasks that keep the guard current; they stop on `shutdown`.
    fn start(&self, infra: &Infra, shutdown: &CancellationToken) -> Vec<JoinHandle<()>>;

    /// `api` with authentication available to its handlers.
    fn protect(&self, api: Router) -> Router;
}

/// A service being assembled. Everything started here stops on the service's shutdown token.
#[derive(Debug)]
pub struct Builder {
    infra: Infra,
    name: String,
    ops: Ops,
    tasks: Vec<JoinHandle<()>>,
    shutdown: CancellationToken,
}

impl Builder {
    /// A service named `name` (for logs) on the process's infrastructure; `/readyz` starts with
    /// the NATS and PostgreSQL checks.
    pub fn new(infra: &Infra, name: &str) -> Self {
        Self {
            ops: infra.ops(),
            infra: infra.clone(),
            name: name.to_owned(),
            tasks: Vec::new(),
            shutdown: CancellationToken::new(),
        }
    }

    pub fn infra(&self) -> &Infra {
        &self.infra
    }

    /// Cancelled when the service stops; for tasks started outside the builder.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Applies the migrations `schema` lacks (tables the service writes itself, beside the
    /// read models its projections own).
    pub async fn migrate(&mut self, schema: &str, migrations: &[Migration]) -> anyhow::Result<()> {
        migrate(self.infra.pool(), schema, migrations).await?;
        Ok(())
    }

    /// Prepares `projection`'s schema, starts its runner on the events stream, and adds a
    /// readiness check that fails while it lags more than `http.max_projection_lag` events.
    pub async fn projection<P: Projection>(&mut self, projection: P) -> anyhow::Result<()> {
        let infra = &self.infra;
        let options = RunnerOptions {
            stream: infra.names().events.clone(),
            idle_wait: PROJECTION_IDLE_WAIT,
            ..RunnerOptions::default()
        };
        let name = projection.name().to_owned();
        let runner = ProjectionRunner::new(
            projection,
            infra.pool().clone(),
            infra.js().clone(),
            options,
        )?
        .with_metrics(infra.metrics().clone());
        self.check(ProjectionCheck {
            monitor: runner.monitor(),
            max_lag: infra.config().http.max_projection_lag,
        });
        runner.prepare().await?;
        self.task(move |shutdown| async move {
            if let Err(error) = runner.run(shutdown).await {
                tracing::error!(projection = %name, %error, "projection stopped");
            }
        });
        Ok(())
    }

    /// Adds a `/readyz` check.
    pub fn check(&mut self, check: impl ReadinessCheck) {
        self.ops = self.ops.clone().check(check);
    }

    /// Spawns a background task; it gets the service's shutdown token and should return soon
    /// after it fires (the server waits for it).
    pub fn task<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(tokio::spawn(task(self.shutdown.clone())));
    }

    /// Creates (or verifies) `consumer` and runs `handler` on its messages (see [`crate::work`]).
    pub async fn work<H: WorkHandler>(
        &mut self,
        consumer: WorkConsumer,
        handler: H,
    ) -> anyhow::Result<()> {
        let name = consumer.name.clone();
        let task = crate::work::start(&self.infra, consumer, handler, self.shutdown.clone())
            .await
            .map_err(|e| e.context(format!("{}: work consumer `{name}`", self.name)))?;
        self.tasks.push(task);
        Ok(())
    }

    /// The finished service: `api`'s routes and OpenAPI document with `state`, authenticated by
    /// `guard` (whose tasks start now).
    pub fn api<S>(mut self, api: OpenApiRouter<S>, state: S, guard: &dyn Guard) -> Parts
    where
        S: Clone + Send + Sync + 'static,
    {
        self.tasks.extend(guard.start(&self.infra, &self.shutdown));
        let (router, openapi) = api.split_for_parts();
        tracing::debug!(service = %self.name, "service built");
        Parts {
            api: guard.protect(router.with_state(state)),
            openapi,
            ops: self.ops,
            tasks: self.tasks,
            shutdown: self.shutdown,
        }
    }
}

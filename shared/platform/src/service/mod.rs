//! The service kit: how every service is built and served.
//!
//! * [`Infra`]: the process's connections (NATS, JetStream, PostgreSQL), the event store and the
//!   metrics registry, with every stream and bucket ensured once; one per process.
//! * [`Builder`]: a service's migrations, projections (each with its readiness check), tasks,
//!   work consumers ([`crate::work`]) and API router, state and [`Guard`], turned into [`Parts`].
//! * [`Parts`]: a built service that does not listen yet, so a process can serve one service
//!   alone (its own binary) or several behind one listener (the single-process `trainyard`
//!   binary), with the same operational endpoints either way; [`Server`] serves them.
//! * [`serve`]: the whole `main` of a service binary; [`start`] the same without waiting for a
//!   signal (tests, benchmarks).
//!
//! `docs/ARCHITECTURE.md` ("A new service") shows the files a service is made of.

mod builder;
mod infra;

pub use builder::{Builder, Guard};
pub use infra::Infra;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::openapi::OpenApi;

use crate::config::CommonConfig;
use crate::http::Ops;

/// A built service that does not listen yet.
pub struct Parts {
    /// The API routes, state and authentication applied; no operational endpoints.
    pub api: Router,
    /// Served at `/api/v1/openapi.json`.
    pub openapi: OpenApi,
    pub ops: Ops,
    pub tasks: Vec<JoinHandle<()>>,
    /// Cancelling it stops the service's background tasks.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("title", &self.openapi.info.title)
            .field("ops", &self.ops)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Parts {
    /// Serves `other` beside `self`: routes, documents, checks and tasks side by side, and
    /// `self`'s shutdown stops `other` too. Routes of the two must not overlap; a readiness
    /// check both have (the shared NATS and PostgreSQL checks) runs once.
    pub fn merge(mut self, other: Parts) -> Parts {
        self.api = self.api.merge(other.api);
        self.openapi.merge(other.openapi);
        self.ops = self.ops.merge(other.ops);
        self.tasks.extend(other.tasks);
        let (parent, child) = (self.shutdown.clone(), other.shutdown);
        self.tasks.push(tokio::spawn(async move {
            parent.cancelled().await;
            child.cancel();
        }));
        self
    }

    /// The whole HTTP application: API, OpenAPI document, `/healthz`, `/readyz`, `/metrics`
    /// and the standard layers.
    pub fn router(&self, request_timeout: Duration) -> Router {
        let doc = Arc::new(self.openapi.clone());
        let api = self.api.clone().route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        );
        crate::http::app(api, self.ops.clone(), request_timeout)
    }

    /// Binds `addr` (port 0 picks a free one).
    pub async fn bind(
        self,
        addr: SocketAddr,
        request_timeout: Duration,
    ) -> std::io::Result<Server> {
        let router = self.router(request_timeout);
        let listener = TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        Ok(Server {
            listener,
            router,
            shutdown: self.shutdown,
            tasks: self.tasks,
            port,
        })
    }
}

/// A bound, not yet serving, HTTP server with its services' background tasks.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    port: u16,
}

impl Server {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling it stops the server and every service's background tasks.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until ctrl-c or SIGTERM, then lets requests in flight and background tasks finish.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stop.cancel();
        });
        self.run_until_stopped().await
    }

    /// Serves until the shutdown token is cancelled, then waits for background tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(port = self.port, "serving");
        let stop = self.shutdown.clone();
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        served
    }
}

/// The whole `main` of a service binary: installs telemetry as `name`, connects the
/// infrastructure, builds the service with `build`, and serves on `http.addr` until ctrl-c or
/// SIGTERM.
///
/// ```text
/// let config: SchedulerConfig = trainyard_platform::config::load()?;
/// let common = config.common.clone();
/// service::serve("trainyard-scheduler", &common, |infra| app::standalone(infra, config)).await
/// ```
pub async fn serve<F, Fut>(name: &str, common: &CommonConfig, build: F) -> anyhow::Result<()>
where
    F: FnOnce(Infra) -> Fut,
    Fut: Future<Output = anyhow::Result<Parts>>,
{
    let _telemetry = crate::telemetry::init(name, &common.telemetry)?;
    start(name, common, build).await?.run_until_signal().await?;
    Ok(())
}

/// Connects the infrastructure as `name`, builds the service with `build` and binds `http.addr`
/// (port 0 picks a free one, as tests do); serving is the caller's.
pub async fn start<F, Fut>(name: &str, common: &CommonConfig, build: F) -> anyhow::Result<Server>
where
    F: FnOnce(Infra) -> Fut,
    Fut: Future<Output = anyhow::Result<Parts>>,
{
    let infra = Infra::connect(common, name).await?;
    let parts = build(infra).await?;
    let http = &common.http;
    Ok(parts.bind(http.addr, http.request_timeout()).await?)
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

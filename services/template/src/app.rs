//! Wiring: connect NATS and PostgreSQL, verify streams and buckets, seed the installation's
//! defaults, start the read-model projection and the dataset validator; then listen alone
//! ([`App`]) or beside other services ([`App::parts`]).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use trainyard_auth::revocation::RevocationFeed;
use trainyard_auth::{JwksUrl, Verifier};
use trainyard_platform::event_store::EventStore;
use trainyard_platform::http::{NatsCheck, Ops, PostgresCheck, ProjectionCheck};
use trainyard_platform::metrics::Metrics;
use trainyard_platform::nats::{connect, NatsConnect};
use trainyard_platform::object_store::{ensure_buckets, Blobs};
use trainyard_platform::postgres::pool_from_config;
use trainyard_platform::projection::{ProjectionRunner, RunnerOptions};
use trainyard_platform::service::{Parts, Server};
use trainyard_platform::streams::{ensure_streams, Bucket, StreamNames, StreamSettings};

use crate::config::TemplateConfig;
use crate::projection::TemplateProjection;
use crate::state::AppState;
use crate::uploads::UploadSessions;

/// A built, not yet serving, template service.
#[derive(Debug)]
pub struct App {
    server: Server,
}

impl App {
    /// Builds the service; tokens are verified with identity's keys from `auth.jwks_url`.
    pub async fn build(config: TemplateConfig) -> anyhow::Result<Self> {
        let verifier = Verifier::new(
            config.service.auth.issuer.clone(),
            Some(Box::new(JwksUrl::new(config.service.auth.jwks_url.clone()))),
        );
        // Identity may start later; an unknown key id triggers another fetch.
        if let Err(error) = verifier.refresh().await {
            tracing::warn!(%error, url = %config.service.auth.jwks_url, "token keys not fetched yet");
        }
        Self::build_with(config, verifier).await
    }

    /// Builds the service with a given token verifier (tests).
    pub async fn build_with(config: TemplateConfig, verifier: Verifier) -> anyhow::Result<Self> {
        let addr = config.common.http.addr;
        let timeout = config.common.http.request_timeout();
        let parts = Self::parts(config, verifier, Metrics::new()).await?;
        Ok(Self {
            server: parts.bind(addr, timeout).await?,
        })
    }

    /// Connects, verifies streams and buckets, seeds the defaults, starts the projection, the
    /// revocation feed and the dataset validator; does not listen.
    pub async fn parts(
        config: TemplateConfig,
        verifier: Verifier,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Parts> {
        let common = &config.common;
        let client = connect(&NatsConnect::new(&common.nats.url, "trainyard-template")).await?;
        let js = async_nats::jetstream::new(client.clone());
        let names = StreamNames {
            events: common.nats.events_stream.clone(),
            ..StreamNames::default()
        };
        ensure_streams(&js, &names, &StreamSettings::default()).await?;
        ensure_buckets(&js, &names, 1).await?;
        let pool = pool_from_config(&common.postgres)?;
        let store = EventStore::new(client.clone(), &names);
        crate::bootstrap::run(&store).await?;
        let shutdown = CancellationToken::new();
        let options = RunnerOptions {
            stream: names.events.clone(),
            idle_wait: Duration::from_secs(1),
            ..RunnerOptions::default()
        };
        let projection = TemplateProjection {
            events_root: names.events_root.clone(),
        };
        let runner = ProjectionRunner::new(projection, pool.clone(), js.clone(), options)?
            .with_metrics(metrics.clone());
        let ops = Ops::new(metrics)
            .check(NatsCheck(client.clone()))
            .check(PostgresCheck(pool.clone()))
            .check(ProjectionCheck {
                monitor: runner.monitor(),
                max_lag: common.http.max_projection_lag,
            });
        runner.prepare().await?;
        let stop = shutdown.clone();
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(error) = runner.run(stop).await {
                tracing::error!(%error, "projection stopped");
            }
        })];
        // Sessions revoked in identity (logout, blocked user) stop working here too.
        let feed = RevocationFeed {
            stream: names.events.clone(),
            events_root: names.events_root.clone(),
            lookback: Duration::from_secs(config.service.auth.max_token_ttl_secs + 60),
        };
        tasks.push(feed.spawn(
            client.clone(),
            verifier.revocations().clone(),
            shutdown.clone(),
        ));
        let state = AppState {
            store,
            pool,
            datasets: Blobs::open(&js, &names.bucket(Bucket::Datasets)).await?,
            checkpoints: Blobs::open(&js, &names.bucket(Bucket::Checkpoints)).await?,
            uploads: Arc::new(UploadSessions::new(
                &config.service.datasets.work_dir(),
                config.service.datasets.upload_ttl(),
            )),
            config: Arc::new(config),
        };
        tasks.push(
            crate::consumer::start_validator(&js, &names.events, state.clone(), shutdown.clone())
                .await?,
        );
        let (api, openapi) = crate::http::api().split_for_parts();
        let api = trainyard_auth::protect(api.with_state(state), verifier);
        Ok(Parts {
            api,
            openapi,
            ops,
            tasks,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Cancelling it stops the server and the background tasks.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.server.shutdown_token()
    }

    /// Serves until the shutdown token is cancelled, then waits for background tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.run_until_stopped().await
    }
}

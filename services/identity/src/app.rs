//! Wiring: connect NATS and PostgreSQL, verify the streams, open the key ring, start the
//! projections and the revocation feed, create the first administrator; then listen alone
//! ([`App`]) or beside other services ([`App::parts`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard_auth::revocation::RevocationFeed;
use trainyard_auth::Verifier;
use trainyard_platform::event_store::EventStore;
use trainyard_platform::http::{NatsCheck, Ops, PostgresCheck, ProjectionCheck};
use trainyard_platform::metrics::Metrics;
use trainyard_platform::nats::{connect, NatsConnect};
use trainyard_platform::postgres::{migrate, pool_from_config, Migration};
use trainyard_platform::projection::{Projection, ProjectionRunner, RunnerOptions};
use trainyard_platform::service::{Parts, Server};
use trainyard_platform::streams::{ensure_streams, StreamNames, StreamSettings};

use crate::bootstrap::Output;
use crate::client_address::TrustedProxies;
use crate::config::IdentityConfig;
use crate::kek::Keks;
use crate::keyring::KeyRing;
use crate::password::PasswordHasher;
use crate::projection::audit::AuditProjection;
use crate::projection::identity::IdentityProjection;
use crate::state::AppState;
use crate::throttle::Throttle;

const SECRETS: &[Migration] = &[
    Migration::new(1, "secrets", include_str!("migrations/0001_secrets.sql")),
    Migration::new(
        2,
        "sealed signing keys",
        include_str!("migrations/0002_sealed_keys.sql"),
    ),
];
/// How often the signing key's age is checked.
const ROTATION_CHECK: Duration = Duration::from_secs(3600);

/// A built, not yet serving, identity service.
#[derive(Debug)]
pub struct App {
    server: Server,
}

/// Identity's parts, and its verifier (other services in the same process verify with it).
#[derive(Debug)]
pub struct Built {
    pub parts: Parts,
    pub verifier: Verifier,
}

impl App {
    /// Builds the service; a generated first-administrator password goes to standard output.
    pub async fn build(config: IdentityConfig) -> anyhow::Result<Self> {
        Self::build_with(config, Box::new(std::io::stdout())).await
    }

    /// Builds the service writing a generated password to `out`.
    pub async fn build_with(config: IdentityConfig, out: Output) -> anyhow::Result<Self> {
        let addr = config.common.http.addr;
        let timeout = config.common.http.request_timeout();
        let built = Self::parts(config, out, Metrics::new()).await?;
        Ok(Self {
            server: built.parts.bind(addr, timeout).await?,
        })
    }

    /// Connects, verifies the streams, opens the key ring, starts the projections and the
    /// revocation feed, creates the first administrator; does not listen.
    pub async fn parts(
        config: IdentityConfig,
        mut out: Output,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Built> {
        let common = &config.common;
        let client = connect(&NatsConnect::new(&common.nats.url, "trainyard-identity")).await?;
        let js = async_nats::jetstream::new(client.clone());
        let names = StreamNames {
            events: common.nats.events_stream.clone(),
            ..StreamNames::default()
        };
        ensure_streams(&js, &names, &StreamSettings::default()).await?;
        let pool = pool_from_config(&common.postgres)?;
        migrate(&pool, "identity_secrets", SECRETS).await?;
        let access_ttl = Duration::from_secs(config.service.tokens.access_ttl_secs);
        let keys = KeyRing::open(
            pool.clone(),
            access_ttl,
            Duration::from_secs(config.service.tokens.key_rotation_secs),
            Keks::from_config(&config.service.tokens)?,
        )
        .await?;
        let verifier = Verifier::new(
            config.service.tokens.issuer.clone(),
            Some(Box::new(keys.clone())),
        );
        verifier.set_keys(&keys.jwks());
        let shutdown = CancellationToken::new();
        let feed = RevocationFeed {
            stream: names.events.clone(),
            events_root: names.events_root.clone(),
            lookback: access_ttl + Duration::from_secs(60),
        };
        let mut tasks = vec![feed.spawn(
            client.clone(),
            verifier.revocations().clone(),
            shutdown.clone(),
        )];
        let options = RunnerOptions {
            stream: names.events.clone(),
            idle_wait: Duration::from_secs(1),
            ..RunnerOptions::default()
        };
        let mut ops = Ops::new(metrics.clone())
            .check(NatsCheck(client.clone()))
            .check(PostgresCheck(pool.clone()));
        let projections = (
            IdentityProjection {
                events_root: names.events_root.clone(),
            },
            AuditProjection {
                events_root: names.events_root.clone(),
            },
        );
        let identity = runner(projections.0, &pool, &js, &options, &metrics)?;
        let read_model = identity.monitor();
        ops = ops.check(ProjectionCheck {
            monitor: identity.monitor(),
            max_lag: common.http.max_projection_lag,
        });
        identity.prepare().await?;
        tasks.push(spawn_runner(identity, shutdown.clone()));
        let audit = runner(projections.1, &pool, &js, &options, &metrics)?;
        audit.prepare().await?;
        tasks.push(spawn_runner(audit, shutdown.clone()));
        let state = AppState {
            store: EventStore::new(client, &names),
            pool,
            keys,
            verifier: verifier.clone(),
            hasher: PasswordHasher::new(&config.service.password_hash)?,
            throttle: Throttle::new(config.service.throttle.clone()),
            proxies: TrustedProxies::parse(&config.service.throttle.trusted_proxies)
                .map_err(anyhow::Error::msg)?,
            config: Arc::new(config),
            read_model,
        };
        crate::bootstrap::run(&state, &mut out).await?;
        tasks.push(spawn_rotation(state.clone(), shutdown.clone()));
        let (api, openapi) = crate::http::api().split_for_parts();
        let api = trainyard_auth::protect(api.with_state(state), verifier.clone());
        Ok(Built {
            parts: Parts {
                api,
                openapi,
                ops,
                tasks,
                shutdown,
            },
            verifier,
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

fn runner<P: Projection>(
    projection: P,
    pool: &deadpool_postgres::Pool,
    js: &async_nats::jetstream::Context,
    options: &RunnerOptions,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<ProjectionRunner<P>> {
    Ok(
        ProjectionRunner::new(projection, pool.clone(), js.clone(), options.clone())?
            .with_metrics(metrics.clone()),
    )
}

fn spawn_runner<P: Projection>(
    runner: ProjectionRunner<P>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = runner.run(shutdown).await {
            tracing::error!(%error, "projection stopped");
        }
    })
}

/// Rotates the signing key when it is due, and picks up keys rotated by other replicas.
fn spawn_rotation(state: AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(ROTATION_CHECK) => {}
            }
            match state
                .keys
                .rotate_if_due()
                .await
                .and(state.keys.reload().await)
            {
                Ok(()) => state.verifier.set_keys(&state.keys.jwks()),
                Err(error) => tracing::error!(%error, "signing key rotation check failed"),
            }
        }
    })
}

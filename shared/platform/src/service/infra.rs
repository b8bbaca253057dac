//! [`Infra`]: what every service of a process shares. One per process: the single-process
//! `trainyard` binary builds one and hands it to every service, so they share one NATS
//! connection, one pool, one event store (and its cache of folded aggregates) and one metrics
//! registry, and the streams are ensured and verified once.

use std::sync::Arc;

use async_nats::jetstream::Context;
use async_nats::Client;
use deadpool_postgres::Pool;

use crate::config::CommonConfig;
use crate::event_store::EventStore;
use crate::http::{NatsCheck, Ops, PostgresCheck};
use crate::metrics::Metrics;
use crate::nats::{connect, NatsConnect};
use crate::object_store::{ensure_buckets, Blobs, ObjectStoreError};
use crate::postgres::pool_from_config;
use crate::streams::{ensure_streams, Bucket, StreamNames, StreamSettings};

/// The process's connections and handles. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Infra {
    client: Client,
    js: Context,
    names: StreamNames,
    pool: Pool,
    store: EventStore,
    metrics: Arc<Metrics>,
    config: Arc<CommonConfig>,
}

impl Infra {
    /// Connects to NATS as `client_name` (what `nats-server` monitoring shows, e.g.
    /// `trainyard-scheduler`), creates or updates every stream and bucket and verifies that the
    /// server applied each option, and builds the PostgreSQL pool (connections open lazily, so a
    /// database that is down shows as not ready rather than a crash loop).
    pub async fn connect(config: &CommonConfig, client_name: &str) -> anyhow::Result<Self> {
        let client = connect(&NatsConnect::new(&config.nats.url, client_name)).await?;
        let js = async_nats::jetstream::new(client.clone());
        let names = StreamNames {
            events: config.nats.events_stream.clone(),
            ..StreamNames::default()
        };
        let settings = StreamSettings::default();
        ensure_streams(&js, &names, &settings).await?;
        ensure_buckets(&js, &names, settings.replicas).await?;
        let pool = pool_from_config(&config.postgres)?;
        Ok(Self {
            store: EventStore::new(client.clone(), &names),
            client,
            js,
            names,
            pool,
            metrics: Metrics::new(),
            config: Arc::new(config.clone()),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn js(&self) -> &Context {
        &self.js
    }

    /// Streams, subject roots and buckets.
    pub fn names(&self) -> &StreamNames {
        &self.names
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The event log. Share this one: its fold cache and command turns are per process.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The shared configuration sections this was built from.
    pub fn config(&self) -> &CommonConfig {
        &self.config
    }

    /// A handle on one of the buckets (created by [`Infra::connect`]).
    pub async fn bucket(&self, bucket: Bucket) -> Result<Blobs, ObjectStoreError> {
        Blobs::open(&self.js, &self.names.bucket(bucket)).await
    }

    /// `/readyz` checks of the connections themselves: NATS and PostgreSQL.
    pub fn ops(&self) -> Ops {
        Ops::new(self.metrics.clone())
            .check(NatsCheck(self.client.clone()))
            .check(PostgresCheck(self.pool.clone()))
    }
}

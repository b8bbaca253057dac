//! The projection runner: one active instance per projection (a PostgreSQL advisory lock elects
//! it), fed in batches from its durable consumer. Per batch: one transaction applies the events
//! above the checkpoint and moves the checkpoint, then one acknowledgement covers the batch.

use std::sync::Arc;

use async_nats::jetstream::{self, Message};
use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use trainyard_core::StoredEvent;

use super::checkpoint::{ensure_table, lock_checkpoint, read_checkpoint, store_checkpoint};
use super::consumer::{self, ConsumerSpec};
use super::lock;
use super::options::{FaultPoint, RunnerOptions};
use super::{check_name, Projection, ProjectionError, ProjectionMonitor};
use crate::metrics::{Metrics, ProjectionLabels};
use crate::postgres::{check_schema_name, drop_schema, migrate};
use crate::telemetry::{extract_nats, set_parent_from};

/// Feeds one [`Projection`] from the log.
#[derive(Debug)]
pub struct ProjectionRunner<P> {
    projection: Arc<P>,
    pool: Pool,
    js: jetstream::Context,
    options: RunnerOptions,
    spec: ConsumerSpec,
    metrics: Option<Arc<Metrics>>,
    checkpoint: watch::Sender<u64>,
}

impl<P: Projection> ProjectionRunner<P> {
    pub fn new(
        projection: P,
        pool: Pool,
        js: jetstream::Context,
        options: RunnerOptions,
    ) -> Result<Self, ProjectionError> {
        check_name(projection.name())?;
        check_schema_name(projection.schema())?;
        let spec = ConsumerSpec {
            stream: options.stream.clone(),
            durable: format!("projection_{}", projection.name()),
            filter_subjects: projection.filter_subjects(),
            ack_wait: options.ack_wait,
            max_ack_pending: i64::try_from(options.batch_size.saturating_mul(4))
                .unwrap_or(i64::MAX),
        };
        Ok(Self {
            projection: Arc::new(projection),
            pool,
            js,
            options,
            spec,
            metrics: None,
            checkpoint: watch::Sender::new(0),
        })
    }

    /// Reports applied events, lag and checkpoint on `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// A handle for `/readyz` and operators.
    pub fn monitor(&self) -> ProjectionMonitor {
        ProjectionMonitor {
            name: self.projection.name().to_owned(),
            schema: self.projection.schema().to_owned(),
            spec: self.spec.clone(),
            js: self.js.clone(),
            pool: self.pool.clone(),
        }
    }

    /// Follows the committed checkpoint as the runner moves it.
    pub fn checkpoints(&self) -> watch::Receiver<u64> {
        self.checkpoint.subscribe()
    }

    /// Creates the schema, applies its migrations and the checkpoint table. Idempotent.
    pub async fn prepare(&self) -> Result<(), ProjectionError> {
        let schema = self.projection.schema();
        migrate(&self.pool, schema, self.projection.migrations()).await?;
        ensure_table(&self.pool, schema).await?;
        Ok(())
    }

    /// Drops the read model and starts it again from the first event: the schema is dropped and
    /// migrated afresh, and the consumer removed so the next run replays the whole log. Run it
    /// while no runner of this schema is active.
    pub async fn rebuild(&self) -> Result<(), ProjectionError> {
        drop_schema(&self.pool, self.projection.schema()).await?;
        consumer::remove(&self.js, &self.spec).await?;
        self.prepare().await?;
        self.checkpoint.send_replace(0);
        Ok(())
    }

    /// Runs until `shutdown` fires, retrying after infrastructure failures. A batch in progress
    /// is committed and acknowledged before returning.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ProjectionError> {
        loop {
            match self.session(&shutdown).await {
                Ok(()) => return Ok(()),
                Err(error @ ProjectionError::InjectedFault(_)) => return Err(error),
                Err(error) => {
                    tracing::error!(projection = self.projection.name(), %error, "projection runner failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(self.options.retry_after) => {}
                    }
                }
            }
        }
    }

    /// Spawns [`Self::run`] on the Tokio runtime.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), ProjectionError>> {
        tokio::spawn(self.run(shutdown))
    }

    /// One leadership term: lock, prepare, align the consumer, then apply batches.
    async fn session(&self, shutdown: &CancellationToken) -> Result<(), ProjectionError> {
        let key = format!(
            "trainyard.projection.{}.{}",
            self.projection.schema(),
            self.projection.name()
        );
        let Some(lock) = lock::acquire(&self.pool, &key, self.options.lock_poll, shutdown).await?
        else {
            return Ok(());
        };
        self.prepare().await?;
        let schema = self.projection.schema();
        let mut checkpoint = read_checkpoint(&self.pool, schema, self.projection.name()).await?;
        self.checkpoint.send_replace(checkpoint);
        let consumer = consumer::align(&self.js, &self.spec, checkpoint).await?;
        let mut applied_batches = 0;
        let mut messages = Vec::new();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if lock.is_closed() {
                return Err(ProjectionError::LockLost);
            }
            // The next batch is fetched while this one is applied, so NATS and PostgreSQL work
            // in parallel; prefetched messages that are never processed are redelivered.
            let prefetch = async {
                tokio::select! {
                    () = shutdown.cancelled() => Ok(Vec::new()),
                    batch = consumer::next_batch(&consumer, self.options.batch_size, self.options.idle_wait) => batch,
                }
            };
            if messages.is_empty() {
                self.set_lag(0);
                messages = prefetch.await?;
                continue;
            }
            let (committed, next) = tokio::try_join!(
                self.process(&messages, checkpoint, &mut applied_batches),
                prefetch
            )?;
            (checkpoint, messages) = (committed, next);
        }
    }

    /// Applies, commits and acknowledges one fetched batch; returns the new checkpoint.
    async fn process(
        &self,
        messages: &[Message],
        checkpoint: u64,
        applied_batches: &mut u64,
    ) -> Result<u64, ProjectionError> {
        let mut events = Vec::with_capacity(messages.len());
        let mut parent = None;
        let mut newest = &messages[0];
        let mut newest_sequence = 0;
        for message in messages {
            let sequence = consumer::sequence_of(message)?;
            if sequence >= newest_sequence {
                (newest, newest_sequence) = (message, sequence);
            }
            if sequence > checkpoint {
                if parent.is_none() {
                    parent = message.headers.as_ref().map(extract_nats);
                }
                events.push(consumer::decode(message)?);
            }
        }
        let mut committed = checkpoint;
        if !events.is_empty() {
            *applied_batches += 1;
            let span = self.batch_span(parent);
            committed = self
                .commit_batch(events, *applied_batches)
                .instrument(span)
                .await?;
        }
        self.inject(FaultPoint::AfterCommit {
            batch: *applied_batches,
        })?;
        newest.ack().await.map_err(|source| ProjectionError::Nats {
            operation: "ack",
            source,
        })?;
        if let Ok(info) = newest.info() {
            self.set_lag(info.pending);
        }
        Ok(committed)
    }

    /// One transaction: lock the checkpoint, apply what is above it, move it, commit.
    async fn commit_batch(
        &self,
        mut events: Vec<StoredEvent>,
        batch: u64,
    ) -> Result<u64, ProjectionError> {
        let name = self.projection.name();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(&format!(
            "SET LOCAL search_path TO {}",
            self.projection.schema()
        ))
        .await?;
        let committed = lock_checkpoint(&tx, name).await?;
        events.sort_by_key(|e| e.sequence);
        events.dedup_by_key(|e| e.sequence);
        events.retain(|e| e.sequence > committed);
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(committed);
        };
        let (first, last) = (first.sequence, last.sequence);
        tracing::debug!(first, last, events = events.len(), "applying batch");
        self.projection
            .apply_batch(&tx, &events)
            .await
            .map_err(|source| ProjectionError::Apply {
                first,
                last,
                source,
            })?;
        store_checkpoint(&tx, name, last).await?;
        self.inject(FaultPoint::BeforeCommit { batch })?;
        tx.commit().await?;
        self.checkpoint.send_replace(last);
        if let Some(metrics) = &self.metrics {
            let labels = self.labels();
            metrics
                .events_applied
                .get_or_create(&labels)
                .inc_by(events.len() as u64);
            metrics
                .projection_checkpoint
                .get_or_create(&labels)
                .set(i64::try_from(last).unwrap_or(i64::MAX));
        }
        Ok(last)
    }

    /// A span per batch, continuing the trace of its first event: in live operation a batch is
    /// usually one event, so the trace runs from the HTTP request into the read model.
    fn batch_span(&self, parent: Option<opentelemetry::Context>) -> tracing::Span {
        let span = tracing::info_span!("projection.batch", projection = self.projection.name());
        if let Some(parent) = parent {
            set_parent_from(&span, parent);
        }
        span
    }

    fn inject(&self, here: FaultPoint) -> Result<(), ProjectionError> {
        match self.options.fault {
            Some(fault) if fault == here => Err(ProjectionError::InjectedFault(fault)),
            _ => Ok(()),
        }
    }

    fn set_lag(&self, pending: u64) {
        if let Some(metrics) = &self.metrics {
            let lag = i64::try_from(pending).unwrap_or(i64::MAX);
            metrics
                .projection_lag
                .get_or_create(&self.labels())
                .set(lag);
        }
    }

    fn labels(&self) -> ProjectionLabels {
        ProjectionLabels {
            projection: self.projection.name().to_owned(),
        }
    }
}

//! The JetStream layout Trainyard runs on (ARCHITECTURE §3): the `EVENTS` log, the `METRICS`
//! firehose, the `DISPATCH` and `REPORTS` work queues and the object store buckets, their names
//! (prefixable so tests and benchmarks can share a server), and creating or updating them with a
//! read-back check that the server applied every option asked for.

mod names;
mod verify;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, Consumer, IntoConsumerConfig};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::Context;

pub use names::{Bucket, StreamNames};
pub use verify::{compare_options, OptionMismatch};

/// The oldest server whose stream options we rely on (atomic batch publish).
pub const MINIMUM_SERVER: &str = "2.12";

/// Deployment knobs of the stream definitions.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// 1 on a single server; 3 on a cluster.
    pub replicas: usize,
    /// How long a retried publish is recognised as a duplicate.
    pub duplicate_window: Duration,
    /// Training metrics are read models' input only, so old ones may go.
    pub metrics_max_age: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            metrics_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The event log: kept forever, append-only (no delete, no purge), direct get for fast loads,
/// atomic batches so the events of one command land together or not at all.
pub fn events_stream(names: &StreamNames, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: names.events.clone(),
        description: Some("Trainyard event log (source of truth)".into()),
        subjects: vec![format!("{}.>", names.events_root)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        max_age: Duration::ZERO,
        duplicate_window: settings.duplicate_window,
        num_replicas: settings.replicas,
        allow_direct: true,
        deny_delete: true,
        deny_purge: true,
        allow_atomic_publish: true,
        ..Default::default()
    }
}

pub fn metrics_stream(names: &StreamNames, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: names.metrics.clone(),
        description: Some("Training metrics (limits retention)".into()),
        subjects: vec![format!("{}.>", names.metrics_root)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        max_age: settings.metrics_max_age,
        duplicate_window: settings.duplicate_window.min(settings.metrics_max_age),
        num_replicas: settings.replicas,
        allow_direct: true,
        ..Default::default()
    }
}

pub fn dispatch_stream(names: &StreamNames, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: names.dispatch.clone(),
        description: Some("Orders to one worker each (work queue)".into()),
        subjects: vec![format!("{}.>", names.dispatch_root)],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        duplicate_window: settings.duplicate_window,
        num_replicas: settings.replicas,
        ..Default::default()
    }
}

/// Workers' reports to the scheduler: kept until the scheduler has applied them (work queue),
/// on file, so a report survives a restart of either side.
pub fn reports_stream(names: &StreamNames, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: names.reports.clone(),
        description: Some("Worker reports to the scheduler (work queue)".into()),
        subjects: vec![format!("{}.>", names.reports_root)],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        duplicate_window: settings.duplicate_window,
        num_replicas: settings.replicas,
        ..Default::default()
    }
}

/// Setting up streams, consumers or buckets failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    #[error(
        "{kind} `{name}`: the server did not apply what was asked: {}; nats-server {server_version} \
         may be too old or configured differently (Trainyard needs >= {MINIMUM_SERVER})",
        list(.mismatches)
    )]
    NotApplied {
        kind: &'static str,
        name: String,
        server_version: String,
        mismatches: Vec<OptionMismatch>,
    },
    #[error(
        "{kind} `{name}` cannot be created or updated on nats-server {server_version}: {source}"
    )]
    Server {
        kind: &'static str,
        name: String,
        server_version: String,
        #[source]
        source: async_nats::Error,
    },
}

fn list(mismatches: &[OptionMismatch]) -> String {
    mismatches
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Creates every stream (or updates it to this definition) and verifies each.
pub async fn ensure_streams(
    js: &Context,
    names: &StreamNames,
    settings: &StreamSettings,
) -> Result<(), StreamSetupError> {
    for config in [
        events_stream(names, settings),
        metrics_stream(names, settings),
        dispatch_stream(names, settings),
        reports_stream(names, settings),
    ] {
        ensure_stream(js, config).await?;
    }
    Ok(())
}

/// Creates or updates one stream, then reads its info back and compares.
pub async fn ensure_stream(
    js: &Context,
    config: stream::Config,
) -> Result<stream::Stream, StreamSetupError> {
    js.create_or_update_stream(config.clone())
        .await
        .map_err(|e| server_error(js, "stream", &config.name, e.into()))?;
    verify_stream(js, "stream", &config).await
}

/// Reads a stream's configuration back from the server and compares it with what was asked.
pub(crate) async fn verify_stream(
    js: &Context,
    kind: &'static str,
    asked: &stream::Config,
) -> Result<stream::Stream, StreamSetupError> {
    let failed = |source: async_nats::Error| server_error(js, kind, &asked.name, source);
    let mut stream = js
        .get_stream(&asked.name)
        .await
        .map_err(|e| failed(e.into()))?;
    let reported = stream
        .info()
        .await
        .map_err(|e| failed(e.into()))?
        .config
        .clone();
    check(
        kind,
        &asked.name,
        js,
        asked,
        &reported,
        STREAM_SERVER_DEFAULTS,
    )?;
    Ok(stream)
}

/// Options a stream leaves to the server when we do not set them (0 replicas means "the
/// server's default", which is 1).
pub(crate) const STREAM_SERVER_DEFAULTS: &[&str] = &["num_replicas", "duplicate_window"];

/// Options a consumer leaves to the server when we do not set them.
const CONSUMER_SERVER_DEFAULTS: &[&str] = &[
    "ack_wait",
    "max_deliver",
    "max_ack_pending",
    "max_waiting",
    "max_batch",
    "max_expires",
    "inactive_threshold",
    "num_replicas",
];

/// Creates or updates a durable pull consumer and verifies it like a stream.
pub async fn ensure_durable_consumer(
    js: &Context,
    stream: &stream::Stream,
    config: pull::Config,
) -> Result<Consumer<pull::Config>, StreamSetupError> {
    let name = config.durable_name.clone().unwrap_or_default();
    let failed = |source: async_nats::Error| server_error(js, "consumer", &name, source);
    let mut consumer: Consumer<pull::Config> = stream
        .create_consumer(config.clone())
        .await
        .map_err(|e| failed(e.into()))?;
    let reported = consumer
        .info()
        .await
        .map_err(|e| failed(e.into()))?
        .config
        .clone();
    let asked = config.into_consumer_config();
    check(
        "consumer",
        &name,
        js,
        &asked,
        &reported,
        CONSUMER_SERVER_DEFAULTS,
    )?;
    Ok(consumer)
}

/// Fails with every mismatch between `asked` and `reported`.
pub(crate) fn check<T: serde::Serialize>(
    kind: &'static str,
    name: &str,
    js: &Context,
    asked: &T,
    reported: &T,
    server_defaulted: &[&str],
) -> Result<(), StreamSetupError> {
    let mismatches = compare_options(asked, reported, server_defaulted);
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(StreamSetupError::NotApplied {
        kind,
        name: name.to_owned(),
        server_version: server_version(js),
        mismatches,
    })
}

pub(crate) fn server_error(
    js: &Context,
    kind: &'static str,
    name: &str,
    source: async_nats::Error,
) -> StreamSetupError {
    StreamSetupError::Server {
        kind,
        name: name.to_owned(),
        server_version: server_version(js),
        source,
    }
}

fn server_version(js: &Context) -> String {
    js.client().server_info().version
}

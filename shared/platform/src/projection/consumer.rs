//! The projection's durable pull consumer: positioning it from the PostgreSQL checkpoint, fetching
//! batches, and decoding messages into [`StoredEvent`]s.
//!
//! The checkpoint, not the consumer, is the source of truth. A consumer is reused only if it has
//! delivered nothing past the checkpoint; otherwise messages it delivered but we never committed
//! would sit unacknowledged until `ack_wait` while later ones flow, and the checkpoint would then
//! jump over them. In that case the consumer is recreated to start at checkpoint + 1.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, Message};
use futures::TryStreamExt;
use trainyard_core::{EventEnvelope, StoredEvent};

use super::{nats, ProjectionError};

/// What the runner asks of its consumer.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSpec {
    pub stream: String,
    pub durable: String,
    pub filter_subjects: Vec<String>,
    pub ack_wait: Duration,
    pub max_ack_pending: i64,
}

impl ConsumerSpec {
    fn config(&self, checkpoint: u64) -> Config {
        let (filter_subject, filter_subjects) = match self.filter_subjects.as_slice() {
            [one] => (one.clone(), Vec::new()),
            many => (String::new(), many.to_vec()),
        };
        Config {
            durable_name: Some(self.durable.clone()),
            description: Some("projection feed; position follows the PostgreSQL checkpoint".into()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: checkpoint + 1,
            },
            // One ack per batch: acknowledging the highest sequence covers the whole batch.
            ack_policy: AckPolicy::All,
            ack_wait: self.ack_wait,
            max_ack_pending: self.max_ack_pending,
            filter_subject,
            filter_subjects,
            ..Config::default()
        }
    }

    /// Whether an existing consumer can continue from `checkpoint` without skipping anything.
    fn reusable(&self, info: &jetstream::consumer::Info, checkpoint: u64) -> bool {
        let wanted = self.config(checkpoint);
        let c = &info.config;
        info.delivered.stream_sequence <= checkpoint
            && c.filter_subject == wanted.filter_subject
            && c.filter_subjects == wanted.filter_subjects
            && c.ack_policy == AckPolicy::All
            && c.ack_wait == wanted.ack_wait
            && c.max_ack_pending == wanted.max_ack_pending
    }
}

/// Returns a consumer positioned right after `checkpoint`, reusing the durable one if it is safe.
pub(crate) async fn align(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    checkpoint: u64,
) -> Result<PullConsumer, ProjectionError> {
    let stream = js
        .get_stream(&spec.stream)
        .await
        .map_err(nats("get events stream"))?;
    if let Ok(info) = stream.consumer_info(&spec.durable).await {
        if spec.reusable(&info, checkpoint) {
            return stream
                .get_consumer(&spec.durable)
                .await
                .map_err(nats("get consumer"));
        }
        tracing::info!(
            consumer = %spec.durable,
            delivered = info.delivered.stream_sequence,
            checkpoint,
            "repositioning projection consumer at checkpoint + 1"
        );
        stream
            .delete_consumer(&spec.durable)
            .await
            .map_err(nats("delete consumer"))?;
    }
    stream
        .create_consumer(spec.config(checkpoint))
        .await
        .map_err(nats("create consumer"))
}

/// Removes the durable consumer if it exists (a rebuild starts a fresh one).
pub(crate) async fn remove(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<(), ProjectionError> {
    let stream = js
        .get_stream(&spec.stream)
        .await
        .map_err(nats("get events stream"))?;
    if stream.consumer_info(&spec.durable).await.is_ok() {
        stream
            .delete_consumer(&spec.durable)
            .await
            .map_err(nats("delete consumer"))?;
    }
    Ok(())
}

/// Takes up to `max` messages that are ready now; if none is, waits up to `idle_wait` for one and
/// then takes whatever else is ready. An empty result means the log had nothing new.
pub(crate) async fn next_batch(
    consumer: &PullConsumer,
    max: usize,
    idle_wait: Duration,
) -> Result<Vec<Message>, ProjectionError> {
    let ready = fetch_ready(consumer, max).await?;
    if !ready.is_empty() {
        return Ok(ready);
    }
    let mut first: Vec<Message> = consumer
        .batch()
        .max_messages(1)
        .expires(idle_wait)
        .messages()
        .await
        .map_err(nats("wait for messages"))?
        .try_collect()
        .await
        .map_err(nats("receive message"))?;
    if !first.is_empty() && max > 1 {
        first.extend(fetch_ready(consumer, max - 1).await?);
    }
    Ok(first)
}

async fn fetch_ready(consumer: &PullConsumer, max: usize) -> Result<Vec<Message>, ProjectionError> {
    consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .map_err(nats("fetch"))?
        .try_collect()
        .await
        .map_err(nats("receive message"))
}

/// Decodes a message body into the envelope and attaches where the log put it.
pub(crate) fn decode(message: &Message) -> Result<StoredEvent, ProjectionError> {
    let sequence = sequence_of(message)?;
    let envelope: EventEnvelope = serde_json::from_slice(&message.payload)
        .map_err(|source| ProjectionError::Decode { sequence, source })?;
    Ok(StoredEvent {
        sequence,
        subject: message.subject.to_string(),
        envelope,
    })
}

/// The stream sequence from the message's reply subject.
pub(crate) fn sequence_of(message: &Message) -> Result<u64, ProjectionError> {
    message
        .info()
        .map(|info| info.stream_sequence)
        .map_err(|e| ProjectionError::Nats {
            operation: "read message metadata",
            source: e,
        })
}

//! Lag of a projection, answered without touching the runner: the committed checkpoint from
//! PostgreSQL and the consumer's counters from JetStream. `/readyz` and operators use it.

use async_nats::jetstream;
use deadpool_postgres::Pool;
use serde::Serialize;

use super::checkpoint::read_checkpoint;
use super::consumer::ConsumerSpec;
use super::{nats, ProjectionError};

/// How far a projection is behind the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// Stream sequence of the last committed event.
    pub checkpoint: u64,
    /// Last sequence in the whole stream (other subjects included).
    pub stream_last_sequence: u64,
    /// Events matching the projection's filter that are not yet acknowledged. With filters this,
    /// not `stream_last_sequence - checkpoint`, is what "caught up" means: events on other
    /// subjects would otherwise count as lag forever.
    pub pending_events: u64,
}

impl Lag {
    /// `stream_last_sequence - checkpoint` (an upper bound of the lag in sequence numbers).
    pub fn sequence_gap(&self) -> u64 {
        self.stream_last_sequence.saturating_sub(self.checkpoint)
    }
}

/// A cheap, clonable handle that reports a projection's lag.
#[derive(Debug, Clone)]
pub struct ProjectionMonitor {
    pub(crate) name: String,
    pub(crate) schema: String,
    pub(crate) spec: ConsumerSpec,
    pub(crate) js: jetstream::Context,
    pub(crate) pool: Pool,
}

impl ProjectionMonitor {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queries PostgreSQL and JetStream for the current lag. Before the runner created its
    /// consumer, every matching event counts as pending.
    pub async fn lag(&self) -> Result<Lag, ProjectionError> {
        let checkpoint = read_checkpoint(&self.pool, &self.schema, &self.name).await?;
        let mut stream = self
            .js
            .get_stream(&self.spec.stream)
            .await
            .map_err(nats("get events stream"))?;
        let stream_last_sequence = stream
            .info()
            .await
            .map_err(nats("stream info"))?
            .state
            .last_sequence;
        let pending_events = match stream.consumer_info(&self.spec.durable).await {
            Ok(info) => info.num_pending + info.num_ack_pending as u64,
            Err(_) => stream_last_sequence.saturating_sub(checkpoint),
        };
        Ok(Lag {
            checkpoint,
            stream_last_sequence,
            pending_events,
        })
    }
}

//! Tuning of a projection runner, and the crash points tests inject.

use std::time::Duration;

/// Deterministic crash points for recovery tests: the runner returns
/// [`InjectedFault`](super::ProjectionError::InjectedFault) at that point of the `batch`-th batch (1-based) that applied
/// events, exactly as if the process had died there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// After the rows were written, before the commit (the transaction rolls back).
    BeforeCommit { batch: u64 },
    /// After the commit, before the acknowledgement (the consumer will redeliver the batch).
    AfterCommit { batch: u64 },
}

/// Tuning of a runner. The defaults suit a service; rebuilds want larger batches.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// JetStream stream holding the event log.
    pub stream: String,
    /// Most events fetched, applied and committed together.
    pub batch_size: usize,
    /// How long one idle pull waits for a new event (bounds shutdown latency too).
    pub idle_wait: Duration,
    /// How long JetStream waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
    /// Pause before retrying after a failed batch or a lost connection.
    pub retry_after: Duration,
    /// How often a standby instance tries to take over the projection.
    pub lock_poll: Duration,
    /// Crash simulation for tests; `None` in services.
    pub fault: Option<FaultPoint>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            stream: "EVENTS".into(),
            batch_size: 1000,
            idle_wait: Duration::from_secs(5),
            ack_wait: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
            lock_poll: Duration::from_secs(2),
            fault: None,
        }
    }
}

//! Durable work consumers: work driven by messages rather than requests (validate an uploaded
//! dataset, take in a worker's report). A [`WorkConsumer`] names a JetStream durable pull
//! consumer on a stream and its filter subjects; a [`WorkHandler`] decides each message's
//! [`Outcome`]. The kit (`service::Builder::work`) runs it:
//!
//! * at most `concurrency` messages are in hand at once (the consumer never has more
//!   outstanding, so other replicas take the rest);
//! * a message is acknowledged only after its handler returned [`Outcome::Done`], that is after
//!   the outcome is stored; a crash before that leaves it unacknowledged and it is delivered
//!   again, so handlers must make a repeat harmless (aggregates turn repeated commands into
//!   no-ops);
//! * long handlers keep their message with progress notices every `progress_every`;
//! * [`Outcome::Retry`] hands the message back for a later delivery, with a back-off that grows
//!   with each delivery ([`Backoff`]);
//! * [`Outcome::Park`] (or a handler that panics) parks a poison message: a row in
//!   `work.parked` (consumer, stream sequence, subject, deliveries, reason, payload) that
//!   operators query, and the message is terminated so it is not delivered again;
//! * on shutdown no new message is taken, handlers in flight get `grace` to finish, and the rest
//!   are handed back for another instance.

mod parked;
mod run;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::Message;
use trainyard_core::StoredEvent;

use crate::event_store::{codec, ReadError};

pub use parked::{parked, Parked, MIGRATIONS, SCHEMA};
pub(crate) use run::start;

/// Where a work consumer reads and how it paces itself. Construct with [`WorkConsumer::new`] and
/// adjust the public fields.
#[derive(Debug, Clone)]
pub struct WorkConsumer {
    /// The durable consumer's name; also names the work in logs, metrics and `work.parked`.
    pub name: String,
    /// Shown by `nats consumer info`.
    pub description: String,
    /// The stream read, e.g. the events stream (`Infra::names().events`).
    pub stream: String,
    /// Subjects of that stream this work is about.
    pub filter_subjects: Vec<String>,
    /// Messages handled at once by this instance.
    pub concurrency: usize,
    /// A message without acknowledgement or progress notice for this long is delivered again.
    pub ack_wait: Duration,
    /// How often a handler still at work extends its message's `ack_wait`.
    pub progress_every: Duration,
    /// Pauses before redeliveries of a message handed back with [`Outcome::Retry`].
    pub backoff: Backoff,
    /// On shutdown, how long handlers in flight may take to finish.
    pub grace: Duration,
}

impl WorkConsumer {
    /// One message at a time, 60 s acknowledgement window with progress every 15 s, retries
    /// after 2 s doubling up to 5 minutes, 10 s to finish on shutdown.
    pub fn new(
        name: impl Into<String>,
        stream: impl Into<String>,
        filter_subjects: Vec<String>,
    ) -> Self {
        let name = name.into();
        Self {
            description: name.clone(),
            name,
            stream: stream.into(),
            filter_subjects,
            concurrency: 1,
            ack_wait: Duration::from_secs(60),
            progress_every: Duration::from_secs(15),
            backoff: Backoff::default(),
            grace: Duration::from_secs(10),
        }
    }
}

/// Exponential back-off: `first` before the second delivery, doubling, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The pause after the `delivered`-th delivery (1-based) was handed back.
    pub fn delay(&self, delivered: u64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1).min(30)).unwrap_or(30);
        self.first
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max)
    }
}

/// What became of one message.
#[derive(Debug)]
pub enum Outcome {
    /// Handled, and whatever it changed is stored (or there was nothing to do): acknowledge.
    Done,
    /// Not handled now (a dependency failed): deliver again after the back-off.
    Retry(anyhow::Error),
    /// Can never be handled (undecodable, refers to nothing): park it with this reason.
    Park(String),
}

/// One delivered message, as a handler sees it.
#[derive(Debug)]
pub struct Delivery {
    message: Message,
    stream_sequence: u64,
    delivered: u64,
}

impl Delivery {
    fn new(message: Message) -> Result<Self, async_nats::Error> {
        let info = message.info()?;
        let (stream_sequence, delivered) = (info.stream_sequence, info.delivered);
        Ok(Self {
            stream_sequence,
            delivered: u64::try_from(delivered).unwrap_or(1).max(1),
            message,
        })
    }

    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    pub fn payload(&self) -> &[u8] {
        &self.message.payload
    }

    pub fn headers(&self) -> Option<&async_nats::HeaderMap> {
        self.message.headers.as_ref()
    }

    /// Position in the stream: a stable identity of the message across redeliveries.
    pub fn stream_sequence(&self) -> u64 {
        self.stream_sequence
    }

    /// 1 on the first delivery, then one more each time.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The message as a stored event of the event log.
    pub fn event(&self) -> Result<StoredEvent, ReadError> {
        codec::decode(
            self.subject(),
            self.stream_sequence,
            self.headers(),
            self.payload(),
        )
    }
}

/// Decides the outcome of each message of a [`WorkConsumer`].
pub trait WorkHandler: Send + Sync + 'static {
    fn handle(&self, delivery: &Delivery) -> impl Future<Output = Outcome> + Send;
}

/// A handler shared with its creator (who watches what it does).
impl<H: WorkHandler> WorkHandler for std::sync::Arc<H> {
    fn handle(&self, delivery: &Delivery) -> impl Future<Output = Outcome> + Send {
        H::handle(self, delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_first_up_to_max() {
        let backoff = Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=7).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.delay(u64::MAX), Duration::from_secs(60));
    }
}

//! The event store on JetStream (ARCHITECTURE §3): appends with optimistic concurrency per
//! aggregate subject, atomic multi-event appends, loading and folding aggregates, command
//! execution with conflict retries, subscriptions and replay, and reservations for invariants
//! that span aggregates.

mod append;
mod cache;
pub mod codec;
mod error;
mod execute;
mod load;
mod reservation;
mod subscribe;

use async_nats::jetstream::Context;
use async_nats::Client;
use trainyard_core::{Aggregate, AggregateState};

pub use error::{AppendError, ExecuteError, ReadError, ReservationError};
pub use reservation::{Reservation, ReservationKey};
pub use subscribe::EventStream;

use crate::streams::StreamNames;

/// Lock stripes for commands of this process; aggregates sharing a stripe merely wait for
/// each other.
const TURN_STRIPES: usize = 256;

/// What the log must look like for an append to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check: for subjects with a single writer by construction.
    Any,
    /// The stream sequence of the subject's last event; 0 means the subject has no event yet.
    Sequence(u64),
}

impl ExpectedVersion {
    /// The aggregate must not exist yet.
    pub const NEW: ExpectedVersion = ExpectedVersion::Sequence(0);
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// Stream sequence of the first appended event.
    pub first_sequence: u64,
    /// Stream sequence of the last appended event: the expected sequence of the next append.
    pub last_sequence: u64,
    /// The server had already stored these events (a retried append); nothing new was written.
    pub duplicate: bool,
}

/// Handle on the event log. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct EventStore {
    client: Client,
    js: Context,
    stream: String,
    root: String,
    direct_get_subject: String,
    states: std::sync::Arc<cache::StateCache>,
    /// Commands on one aggregate from this process take turns (see `execute`).
    turns: std::sync::Arc<Vec<tokio::sync::Mutex<()>>>,
}

impl EventStore {
    /// A store on the events stream named by `names`. Streams are set up (and verified)
    /// separately by `streams::ensure_streams`, once per process at start-up.
    pub fn new(client: Client, names: &StreamNames) -> Self {
        let js = async_nats::jetstream::new(client.clone());
        Self {
            direct_get_subject: format!("$JS.API.DIRECT.GET.{}", names.events),
            client,
            js,
            stream: names.events.clone(),
            root: names.events_root.clone(),
            states: Default::default(),
            turns: std::sync::Arc::new((0..TURN_STRIPES).map(|_| Default::default()).collect()),
        }
    }

    /// `<root>.<aggregate_type>.<aggregate_id>`, e.g. `evt.template.training_template.<uuid>`.
    /// The id must be one subject token: no `.`, wildcards or whitespace.
    pub fn subject(&self, aggregate_type: &str, aggregate_id: &str) -> Result<String, String> {
        let valid_id = !aggregate_id.is_empty()
            && !aggregate_id
                .contains(|c: char| c == '.' || c == '*' || c == '>' || c.is_whitespace());
        let valid_type = aggregate_type.split('.').all(|t| {
            !t.is_empty() && !t.contains(|c: char| c == '*' || c == '>' || c.is_whitespace())
        });
        if !valid_id || !valid_type {
            return Err(format!(
                "`{aggregate_type}` / `{aggregate_id}` is not a valid subject"
            ));
        }
        Ok(format!("{}.{aggregate_type}.{aggregate_id}", self.root))
    }

    /// The turn of `subject` among this process's commands.
    pub(crate) fn turn(&self, subject: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        subject.hash(&mut hasher);
        &self.turns[(hasher.finish() as usize) % self.turns.len()]
    }

    /// Subject pattern for `filter` relative to the events root (`>` for everything,
    /// `template.>` for one service).
    pub fn subject_pattern(&self, filter: &str) -> String {
        format!("{}.{filter}", self.root)
    }

    /// Folds every event of aggregate `id` into its state; an aggregate without events loads as
    /// `AggregateState::empty`. Folds are cached, so a load reads only the events appended since
    /// the previous load of the same aggregate.
    #[tracing::instrument(name = "event_store.load", skip(self), fields(aggregate = %A::aggregate_type(), events))]
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<AggregateState<A>, ReadError> {
        let subject = self
            .subject(&A::aggregate_type(), id)
            .map_err(ReadError::Invalid)?;
        let cached = self.states.get::<A>(&subject, id);
        let before = cached.events;
        let state = self.catch_up(&subject, cached).await?;
        tracing::Span::current().record("events", state.events);
        if state.events > before {
            self.states.put(&subject, state.clone());
        }
        Ok(state)
    }

    /// Like `load`, but moves the cached fold out; the caller puts it back.
    pub(crate) async fn load_owned<A: Aggregate>(
        &self,
        subject: &str,
        id: &str,
    ) -> Result<AggregateState<A>, ReadError> {
        let taken = self.states.take::<A>(subject, id);
        self.catch_up(subject, taken).await
    }

    /// Applies the events of `subject` after `state.last_sequence`.
    async fn catch_up<A: Aggregate>(
        &self,
        subject: &str,
        mut state: AggregateState<A>,
    ) -> Result<AggregateState<A>, ReadError> {
        for stored in self
            .read_subject_from(subject, state.last_sequence + 1)
            .await?
        {
            let event: A::Event = stored.envelope.decode().map_err(|e| ReadError::Decode {
                sequence: stored.sequence,
                subject: stored.subject.clone(),
                reason: format!("payload is not a {} event: {e}", A::aggregate_type()),
            })?;
            state.apply(&event, stored.sequence);
        }
        Ok(state)
    }

    /// The stored events of one aggregate, in order.
    pub async fn load_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<trainyard_core::StoredEvent>, ReadError> {
        let subject = self
            .subject(aggregate_type, aggregate_id)
            .map_err(ReadError::Invalid)?;
        self.read_subject(&subject).await
    }
}

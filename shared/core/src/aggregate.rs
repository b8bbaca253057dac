//! The aggregate contract. An aggregate decides (`handle`) and evolves (`apply`) purely: no IO, no
//! clock, no randomness; everything it needs arrives inside the command. This keeps the domain
//! testable in given/when/then form and lets the event store retry a lost race by reloading and
//! calling `handle` again.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Rejection;

/// A payload stored in the log. Variant names are the stable `event_type`; never rename one.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync
{
    fn event_type(&self) -> &'static str;

    fn schema_version(&self) -> u32 {
        1
    }
}

/// A consistency boundary. `SERVICE` and `NAME` form the subject `evt.<SERVICE>.<NAME>.<id>`.
pub trait Aggregate {
    const SERVICE: &'static str;
    const NAME: &'static str;
    type State: Default + Clone + std::fmt::Debug + Send + Sync + 'static;
    type Command;
    type Event: DomainEvent;

    /// Decides which events a command produces given the current state, or refuses it.
    fn handle(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Rejection>;

    /// Folds one event into the state. Must accept every event `handle` ever produced.
    fn apply(state: &mut Self::State, event: &Self::Event);

    /// `<service>.<aggregate>` as written into envelopes.
    fn aggregate_type() -> String {
        format!("{}.{}", Self::SERVICE, Self::NAME)
    }
}

/// An aggregate's state as loaded from the log, with the stream sequence of its last event
/// (0 when it has none), which becomes the expected sequence of the next append.
#[derive(Debug)]
pub struct AggregateState<A: Aggregate> {
    pub id: String,
    pub state: A::State,
    pub last_sequence: u64,
    pub events: u64,
}

// By hand: a derive would demand `A: Clone`, but only the state is cloned.
impl<A: Aggregate> Clone for AggregateState<A> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            state: self.state.clone(),
            last_sequence: self.last_sequence,
            events: self.events,
        }
    }
}

impl<A: Aggregate> AggregateState<A> {
    pub fn empty(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            state: A::State::default(),
            last_sequence: 0,
            events: 0,
        }
    }

    /// Whether no event was ever recorded for this aggregate.
    pub fn is_new(&self) -> bool {
        self.events == 0
    }

    pub fn apply(&mut self, event: &A::Event, sequence: u64) {
        A::apply(&mut self.state, event);
        self.last_sequence = sequence;
        self.events += 1;
    }
}

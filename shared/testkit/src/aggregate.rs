//! Given/when/then for aggregates, pure and fast (no NATS, no PostgreSQL):
//!
//! ```text
//! given::<Dataset>([created(), uploaded(1)])
//!     .when(DatasetCommand::StartValidation { version: 1 })
//!     .then([DatasetEvent::DatasetValidationStarted { version: 1 }]);
//! given::<Dataset>([]).when(DatasetCommand::DeleteDataset).rejected("not_found");
//! ```
//!
//! Every event the history holds and every event a command produces is folded with `apply`, and
//! every produced event is also wrapped in an envelope and decoded back, so a payload that does
//! not survive the log fails the test that produced it.

use trainyard_core::{Aggregate, EventEnvelope, EventId, Metadata, Rejection};

/// The history of an aggregate, folded.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut state = A::State::default();
    for event in history {
        A::apply(&mut state, &event);
    }
    Given { state }
}

/// An aggregate's state after its history.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    state: A::State,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` on the state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let outcome = A::handle(&self.state, command);
        Then {
            state: self.state,
            outcome,
        }
    }

    pub fn state(&self) -> &A::State {
        &self.state
    }
}

/// What a command decided, to be checked.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A::State,
    outcome: Result<Vec<A::Event>, Rejection>,
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq,
{
    /// The command produced exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A::State {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let events = self.accepted();
        assert_eq!(events, expected, "{} produced other events", A::NAME);
        fold::<A>(self.state, &events)
    }

    /// The command was accepted and changed nothing (a repeat, or nothing to do).
    #[track_caller]
    pub fn then_nothing(self) -> A::State {
        self.then([])
    }

    /// The command was refused with `code`; returns the rejection (for its field and kind).
    #[track_caller]
    pub fn rejected(self, code: &str) -> Rejection {
        match self.outcome {
            Err(rejection) => {
                assert_eq!(
                    rejection.code,
                    code,
                    "{} refused otherwise: {rejection:?}",
                    A::NAME
                );
                rejection
            }
            Ok(events) => panic!(
                "{} accepted a command expected to be refused with `{code}`: {events:?}",
                A::NAME
            ),
        }
    }

    /// The produced events, for checks `then` cannot express; they are round-tripped too.
    #[track_caller]
    pub fn events(self) -> Vec<A::Event> {
        self.accepted()
    }

    #[track_caller]
    fn accepted(&self) -> Vec<A::Event> {
        match &self.outcome {
            Ok(events) => {
                for event in events {
                    round_trip::<A>(event);
                }
                events.clone()
            }
            Err(rejection) => panic!("{} refused the command: {rejection:?}", A::NAME),
        }
    }
}

fn fold<A: Aggregate>(mut state: A::State, events: &[A::Event]) -> A::State {
    for event in events {
        A::apply(&mut state, event);
    }
    state
}

/// Wraps `event` as the event store would and decodes it back.
#[track_caller]
fn round_trip<A: Aggregate>(event: &A::Event)
where
    A::Event: PartialEq,
{
    let meta = Metadata {
        tenant_id: Default::default(),
        actor: trainyard_core::Actor::system(),
        correlation_id: trainyard_core::CorrelationId::new(),
        causation_id: None,
        occurred_at: chrono::DateTime::UNIX_EPOCH,
    };
    let envelope = EventEnvelope::wrap(&meta, EventId::new(), &A::aggregate_type(), "x", event)
        .unwrap_or_else(|e| panic!("{event:?} cannot be stored: {e}"));
    let json = serde_json::to_string(&envelope).expect("an envelope serialises");
    let back: EventEnvelope = serde_json::from_str(&json).expect("an envelope parses back");
    let decoded: A::Event = back
        .decode()
        .unwrap_or_else(|e| panic!("{event:?} does not read back from the log: {e}"));
    assert_eq!(
        &decoded, event,
        "an event changed on its way through the log"
    );
}

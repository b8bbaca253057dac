//! Shared fixtures of the event store tests: a counting aggregate, envelopes and a store on a
//! freshly set-up (and verified) stream layout.

#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use trainyard_core::{
    Actor, Aggregate, CorrelationId, DomainEvent, EventEnvelope, EventId, Metadata, Rejection,
    TenantId,
};
use trainyard_platform::event_store::EventStore;
use trainyard_platform::nats::{connect, NatsConnect};
use trainyard_platform::streams::{ensure_streams, StreamNames, StreamSettings};

/// Counts; `Add` produces one `Added` per item, `Close` refuses further additions.
#[derive(Debug)]
pub struct Counter;

#[derive(Debug, Clone)]
pub enum CounterCommand {
    Add(Vec<i64>),
    Close,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterEvent {
    Added { n: i64 },
    Closed,
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        match self {
            CounterEvent::Added { .. } => "Added",
            CounterEvent::Closed => "Closed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterState {
    pub values: Vec<i64>,
    pub closed: bool,
}

impl Aggregate for Counter {
    const SERVICE: &'static str = "test";
    const NAME: &'static str = "counter";
    type State = CounterState;
    type Command = CounterCommand;
    type Event = CounterEvent;

    fn handle(
        state: &CounterState,
        command: CounterCommand,
    ) -> Result<Vec<CounterEvent>, Rejection> {
        if state.closed {
            return Err(Rejection::new("counter_closed", "the counter is closed"));
        }
        Ok(match command {
            CounterCommand::Add(values) => values
                .into_iter()
                .map(|n| CounterEvent::Added { n })
                .collect(),
            CounterCommand::Close => vec![CounterEvent::Closed],
        })
    }

    fn apply(state: &mut CounterState, event: &CounterEvent) {
        match event {
            CounterEvent::Added { n } => state.values.push(*n),
            CounterEvent::Closed => state.closed = true,
        }
    }
}

pub fn meta() -> Metadata {
    Metadata {
        tenant_id: TenantId::new(),
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: chrono::Utc::now(),
    }
}

pub fn added(id: &str, n: i64) -> EventEnvelope {
    EventEnvelope::wrap(
        &meta(),
        EventId::new(),
        &Counter::aggregate_type(),
        id,
        &CounterEvent::Added { n },
    )
    .expect("serialisable")
}

pub fn added_many(id: &str, values: impl IntoIterator<Item = i64>) -> Vec<EventEnvelope> {
    values.into_iter().map(|n| added(id, n)).collect()
}

pub fn values(events: &[trainyard_core::StoredEvent]) -> Vec<i64> {
    events
        .iter()
        .map(
            |e| match e.envelope.decode::<CounterEvent>().expect("counter event") {
                CounterEvent::Added { n } => n,
                CounterEvent::Closed => i64::MIN,
            },
        )
        .collect()
}

/// A store on streams named after `prefix`, set up and verified like a service does at start-up.
pub async fn store_on(url: &str, prefix: &str) -> EventStore {
    let client = connect(&NatsConnect::new(url, "event-store-test"))
        .await
        .expect("connect");
    let names = StreamNames::with_prefix(prefix);
    let js = async_nats::jetstream::new(client.clone());
    ensure_streams(&js, &names, &StreamSettings::default())
        .await
        .expect("streams");
    EventStore::new(client, &names)
}

//! The event envelope: what every stored event carries besides its payload. The envelope is
//! versioned on its own (`envelope_version`) and each payload has its own `schema_version`, so
//! either can evolve without rewriting the log. W3C trace context travels in NATS headers, not here.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::ids::{ActorId, CorrelationId, EventId, TenantId};

/// Version of the envelope layout itself.
pub const ENVELOPE_SCHEMA_VERSION: u32 = 1;

/// Who issued the command that produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    pub id: ActorId,
    pub kind: ActorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ServiceAccount,
    /// The platform itself (migrations, the first administrator, timers).
    System,
}

impl Actor {
    pub fn user(id: ActorId) -> Self {
        Self {
            id,
            kind: ActorKind::User,
        }
    }

    pub fn system() -> Self {
        Self {
            id: ActorId(Uuid::nil()),
            kind: ActorKind::System,
        }
    }
}

/// The context a command is issued in: handed to the event store so each produced event gets a
/// complete envelope. Time comes from here, not from the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub correlation_id: CorrelationId,
    pub causation_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

/// One event as written to and read from the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "Trainyard event envelope")]
pub struct EventEnvelope {
    /// Layout version of this envelope (see `ENVELOPE_SCHEMA_VERSION`).
    pub envelope_version: u32,
    /// Unique id; also the `Nats-Msg-Id`, so a retried append is stored once.
    pub event_id: EventId,
    /// Past-tense event name, e.g. `ProcessStarted`.
    pub event_type: String,
    /// Version of the payload's schema for this `event_type`.
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub correlation_id: CorrelationId,
    /// The event or request id that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// `<service>.<aggregate>`, e.g. `template.training_template`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub payload: serde_json::Value,
}

impl EventEnvelope {
    /// Wraps a domain event. Serialising a derived `Serialize` payload cannot fail for the types
    /// we use (string keys only), so a failure is a programming error and reported as such.
    pub fn wrap<E: DomainEvent>(
        meta: &Metadata,
        event_id: EventId,
        aggregate_type: &str,
        aggregate_id: &str,
        event: &E,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            envelope_version: ENVELOPE_SCHEMA_VERSION,
            event_id,
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            occurred_at: meta.occurred_at,
            tenant_id: meta.tenant_id,
            actor: meta.actor,
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            payload: serde_json::to_value(event)?,
        })
    }

    /// Decodes the payload back into the aggregate's event type.
    pub fn decode<E: DomainEvent>(&self) -> Result<E, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }
}

/// An envelope together with where the log put it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// JetStream stream sequence: a total order over the whole log.
    pub sequence: u64,
    pub subject: String,
    pub envelope: EventEnvelope,
}

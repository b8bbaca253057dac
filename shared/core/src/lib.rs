//! Pure domain vocabulary shared by every Trainyard service: typed ids, the event envelope, the
//! aggregate contract and the error kinds. Nothing here performs IO or reads a clock; time and new
//! ids are handed in by callers so that command handling stays deterministic and testable.

pub mod access;
pub mod aggregate;
pub mod contracts;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod names;
pub mod training;

/// For the id schemas `typed_id!` expands to in other crates.
#[cfg(feature = "utoipa")]
#[doc(hidden)]
pub use utoipa as __utoipa;

pub use aggregate::{Aggregate, AggregateState, DomainEvent};
pub use envelope::{
    Actor, ActorKind, EventEnvelope, Metadata, StoredEvent, ENVELOPE_SCHEMA_VERSION,
};
pub use error::{ErrorKind, Rejection};
pub use ids::{
    ActorId, BaseModelId, CorrelationId, DatasetId, EventId, ModelId, ModelTypeId, ProjectId,
    TargetMachineId, TenantId, TrainingProcessId, TrainingTemplateId,
};

//! What a service's command layer (`commands/`) is built from: the one error type every command
//! returns ([`CommandError`]), the clock commands stamp events with ([`now`]), metadata for the
//! platform's own commands ([`system_metadata`]), deciding without storing ([`precheck`]) and
//! unique names across aggregates ([`unique`]).
//!
//! A command function takes its inputs already authenticated and loaded (HTTP handlers, the
//! bootstrap and consumers call it alike) and reports domain and store failures as they are; only
//! a service's `http/` turns them into problem+json (`From<CommandError> for ApiError`).

pub mod unique;

use chrono::{DateTime, Utc};
use trainyard_core::{Actor, Aggregate, CorrelationId, ErrorKind, Metadata, Rejection, TenantId};

use crate::event_store::{ExecuteError, ReadError, ReservationError};
use crate::postgres::PostgresError;

/// Why a command changed nothing (or, for `Unavailable`, may not have finished).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A rule refused it; the rejection's kind tells the caller's fault apart (invalid input, not
    /// found, a conflict such as a taken name).
    #[error(transparent)]
    Rejected(Rejection),
    /// Every attempt lost the race to a concurrent writer; reload and retry.
    #[error("concurrent change: {0}")]
    Conflict(String),
    /// A dependency (NATS, PostgreSQL, the object store) failed; retrying later may succeed.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A bug or an impossible state.
    #[error("internal: {0:#}")]
    Internal(anyhow::Error),
}

impl CommandError {
    pub fn unavailable(error: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable(error.into())
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// The class of failure, for callers that branch on it (a consumer retries `Infrastructure`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Rejected(rejection) => rejection.kind,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Unavailable(_) | Self::Internal(_) => ErrorKind::Infrastructure,
        }
    }

    /// The rejection, when a rule refused the command.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }
}

impl From<Rejection> for CommandError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl From<ExecuteError> for CommandError {
    fn from(error: ExecuteError) -> Self {
        match error {
            ExecuteError::Rejected(rejection) => Self::Rejected(rejection),
            conflict @ ExecuteError::Conflict { .. } => Self::Conflict(conflict.to_string()),
            other => Self::unavailable(other),
        }
    }
}

impl From<ReadError> for CommandError {
    fn from(error: ReadError) -> Self {
        Self::unavailable(error)
    }
}

/// A reservation error outside [`unique`] (which names the taken field): a lost race is a
/// conflict, anything else the log failing.
impl From<ReservationError> for CommandError {
    fn from(error: ReservationError) -> Self {
        match error.kind() {
            ErrorKind::Conflict => Self::Conflict(error.to_string()),
            _ => Self::unavailable(error),
        }
    }
}

impl From<PostgresError> for CommandError {
    fn from(error: PostgresError) -> Self {
        Self::unavailable(error)
    }
}

impl From<tokio_postgres::Error> for CommandError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::unavailable(error)
    }
}

impl From<deadpool_postgres::PoolError> for CommandError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(error)
    }
}

/// Decides `command` on `state` without storing anything, so bad input is refused before any name
/// is reserved or reference taken, and a refused request changes nothing.
pub fn precheck<A: Aggregate>(state: &A::State, command: &A::Command) -> Result<(), CommandError>
where
    A::Command: Clone,
{
    A::handle(state, command.clone())
        .map(drop)
        .map_err(CommandError::Rejected)
}

/// The current time at the precision PostgreSQL keeps (microseconds), so a time stored in an
/// event equals the same time read back from a read model. Every command takes its time here.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Metadata for a command the platform issues itself (a bootstrap, a consumer, a timer) in
/// `tenant`, stamped [`now`], as the first step of a new correlation.
pub fn system_metadata(tenant: TenantId) -> Metadata {
    Metadata {
        tenant_id: tenant,
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_keeps_microseconds_only() {
        let at = now();
        assert_eq!(at.timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn a_lost_race_is_a_conflict_and_a_refusal_keeps_its_kind() {
        let refused = CommandError::from(ExecuteError::Rejected(Rejection::not_found(
            "not_found",
            "no such thing",
        )));
        assert_eq!(refused.kind(), ErrorKind::NotFound);
        let lost = CommandError::from(ExecuteError::Conflict {
            attempts: 5,
            last: crate::event_store::AppendError::Invalid("x".into()),
        });
        assert_eq!(lost.kind(), ErrorKind::Conflict);
    }
}

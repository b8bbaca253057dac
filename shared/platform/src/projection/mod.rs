//! Read models fed from the event log. A [`Projection`] turns events into rows of its own
//! PostgreSQL schema; the [`ProjectionRunner`] feeds it from a durable JetStream consumer and
//! records, in the same transaction as the rows, the stream sequence of the last event applied
//! (`<schema>.projection_checkpoints`). Only after the commit is the batch acknowledged, and any
//! event at or below the checkpoint is skipped, so a crash anywhere between fetch and ack never
//! applies an event twice nor loses one.

mod checkpoint;
mod consumer;
mod lock;
mod monitor;
mod options;
mod runner;

use std::future::Future;

use trainyard_core::StoredEvent;

use crate::postgres::{Migration, PostgresError, Transaction};

pub use checkpoint::read_checkpoint;
pub use monitor::{Lag, ProjectionMonitor};
pub use options::{FaultPoint, RunnerOptions};
pub use runner::ProjectionRunner;

/// A read model. Implementations are plain SQL writers: the runner owns transactions,
/// checkpoints, ordering and redelivery.
pub trait Projection: Send + Sync + 'static {
    /// Stable identifier: names the durable consumer (`projection_<name>`) and the checkpoint row.
    /// Lowercase letters, digits, `_` and `-`.
    fn name(&self) -> &str;

    /// The PostgreSQL schema holding this read model. A rebuild drops it, so projections that
    /// share a schema are rebuilt together.
    fn schema(&self) -> &str;

    /// Subjects of the events stream this projection reads, e.g. `evt.template.>`.
    fn filter_subjects(&self) -> Vec<String>;

    /// The schema's migrations, applied before the first event.
    fn migrations(&self) -> &[Migration];

    /// Applies one event inside the runner's transaction (`search_path` is the projection's
    /// schema). Must not commit.
    fn apply(
        &self,
        tx: &Transaction<'_>,
        event: &StoredEvent,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;

    /// Applies consecutive events in one go. Override it with multi-row statements (`UNNEST`
    /// arrays, `COPY`) where replay speed matters; the default applies one at a time.
    fn apply_batch(
        &self,
        tx: &Transaction<'_>,
        events: &[StoredEvent],
    ) -> impl Future<Output = Result<(), ApplyError>> + Send {
        async move {
            for event in events {
                self.apply(tx, event).await?;
            }
            Ok(())
        }
    }
}

/// Why a projection could not apply an event. Any of these rolls the batch back; the runner
/// retries after a pause, so a transient database error heals and a bug shows up as lag.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("event payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Why a runner stopped or a maintenance operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    #[error("NATS ({operation}): {source}")]
    Nats {
        operation: &'static str,
        #[source]
        source: async_nats::Error,
    },
    #[error("event at stream sequence {sequence} is not a valid envelope: {source}")]
    Decode {
        sequence: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("applying events {first}..={last}: {source}")]
    Apply {
        first: u64,
        last: u64,
        #[source]
        source: ApplyError,
    },
    #[error("lost the PostgreSQL connection holding the projection's lock")]
    LockLost,
    #[error("`{0}` is not a valid projection name")]
    Name(String),
    #[error("injected fault at {0:?}")]
    InjectedFault(FaultPoint),
}

impl From<tokio_postgres::Error> for ProjectionError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Postgres(PostgresError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for ProjectionError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Postgres(PostgresError::Pool(e))
    }
}

/// Maps any async-nats error into [`ProjectionError::Nats`] with what was being done.
pub(crate) fn nats<E>(operation: &'static str) -> impl FnOnce(E) -> ProjectionError
where
    E: Into<async_nats::Error>,
{
    move |e| ProjectionError::Nats {
        operation,
        source: e.into(),
    }
}

/// Projection names become consumer names and lock keys: keep them to a safe alphabet.
pub(crate) fn check_name(name: &str) -> Result<(), ProjectionError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ProjectionError::Name(name.to_owned()))
    }
}

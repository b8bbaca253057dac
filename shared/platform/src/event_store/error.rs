//! Errors of the event store boundary, one enum per operation family, each separating what the
//! caller can act on (a conflict to retry, a rejection to report, a misuse to fix) from
//! infrastructure failures, and each mapping onto the shared `ErrorKind`.

use trainyard_core::{ErrorKind, Rejection};

/// Why an append was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the subject since `expected` was read; reload and retry.
    #[error("conflict on {subject}: expected last sequence {expected}, the log has {actual:?}")]
    Conflict {
        subject: String,
        expected: u64,
        /// The subject's last sequence as reported by the server, when it said.
        actual: Option<u64>,
    },
    /// The call itself is wrong (no events, a bad subject token, an envelope for another
    /// aggregate); retrying cannot help.
    #[error("invalid append: {0}")]
    Invalid(String),
    /// NATS failed or did not answer; the append may or may not have been stored, and retrying
    /// with the same event ids is safe (they de-duplicate).
    #[error("event store unavailable while appending to {subject}: {source}")]
    Infrastructure {
        subject: String,
        #[source]
        source: async_nats::Error,
    },
}

impl AppendError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppendError::Conflict { .. } => ErrorKind::Conflict,
            AppendError::Invalid(_) | AppendError::Infrastructure { .. } => {
                ErrorKind::Infrastructure
            }
        }
    }
}

/// Why reading from the log failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("event at sequence {sequence} on {subject} cannot be decoded: {reason}")]
    Decode {
        sequence: u64,
        subject: String,
        reason: String,
    },
    #[error("invalid read: {0}")]
    Invalid(String),
    #[error("event store unavailable while reading {what}: {source}")]
    Infrastructure {
        what: String,
        #[source]
        source: async_nats::Error,
    },
}

impl ReadError {
    pub(crate) fn infra(what: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        ReadError::Infrastructure {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Why `execute` produced no stored events.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The aggregate refused the command; nothing was written.
    #[error(transparent)]
    Rejected(Rejection),
    /// Every attempt lost the race to a concurrent writer.
    #[error("gave up after {attempts} conflicting attempts: {last}")]
    Conflict { attempts: u32, last: AppendError },
    #[error("invalid command execution: {0}")]
    Invalid(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Append(AppendError),
}

impl ExecuteError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExecuteError::Rejected(rejection) => rejection.kind,
            ExecuteError::Conflict { .. } => ErrorKind::Conflict,
            ExecuteError::Invalid(_) | ExecuteError::Read(_) | ExecuteError::Append(_) => {
                ErrorKind::Infrastructure
            }
        }
    }
}

/// Why a reservation (a unique key) was not granted or released.
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    /// Someone else holds the key.
    #[error("`{key}` is already reserved by {owner}")]
    Taken { key: String, owner: String },
    /// Release of a key the caller does not hold.
    #[error("`{key}` is not reserved by {owner}")]
    NotHeld { key: String, owner: String },
    #[error("reservation of `{key}` kept conflicting after {attempts} attempts")]
    Contended { key: String, attempts: u32 },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Append(AppendError),
}

impl ReservationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReservationError::Taken { .. } | ReservationError::Contended { .. } => {
                ErrorKind::Conflict
            }
            ReservationError::NotHeld { .. } => ErrorKind::Rejection,
            ReservationError::Read(_) | ReservationError::Append(_) => ErrorKind::Infrastructure,
        }
    }
}

//! Error kinds shared by every boundary. A service maps each kind to one HTTP status class:
//! a rejection is the caller's fault (4xx, nothing changed), a conflict is a lost race that may be
//! retried (409), and infrastructure is ours (5xx, logged once).

use serde::{Deserialize, Serialize};

/// The class of a failure, independent of which boundary produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request breaks a rule of the domain or is malformed.
    Rejection,
    /// The thing addressed does not exist (or belongs to another tenant).
    NotFound,
    /// A concurrent writer got there first; the caller may reload and retry.
    Conflict,
    /// No valid credentials.
    Unauthenticated,
    /// Valid credentials without the right.
    Forbidden,
    /// A dependency failed (NATS, PostgreSQL, object store).
    Infrastructure,
}

/// A domain rule refused a command. `code` is stable (clients switch on it), `field` names the
/// offending input when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default = "default_kind")]
    pub kind: ErrorKind,
}

fn default_kind() -> ErrorKind {
    ErrorKind::Rejection
}

impl Rejection {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field: None,
            kind: ErrorKind::Rejection,
        }
    }

    /// Names the input field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The aggregate was addressed but does not exist.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            ..Self::new(code, message)
        }
    }

    /// The command is valid but the current state forbids it (e.g. a name already taken).
    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            ..Self::new(code, message)
        }
    }
}

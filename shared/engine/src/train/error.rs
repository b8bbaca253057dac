//! The training boundary's error type, with stable codes.

use crate::data::error::first_line;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training setting: {reason}")]
    Config { reason: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}: unusable checkpoint: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("libtorch error: {message}")]
    Torch { message: String },
}

impl TrainError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config { .. } => "train.config",
            Self::Io { .. } => "train.io",
            Self::Checkpoint { .. } => "train.checkpoint",
            Self::Torch { .. } => "train.torch",
        }
    }

    pub(crate) fn io(path: &Path, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: first_line(&err.to_string()),
        }
    }

    pub(crate) fn checkpoint(path: &Path, err: impl std::fmt::Display) -> Self {
        Self::Checkpoint {
            path: path.to_path_buf(),
            reason: first_line(&err.to_string()),
        }
    }

    /// Turns a panic raised by a libtorch op into an error carrying its first line.
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown failure".into());
        // tch wraps messages as `called Result::unwrap() on an Err value: Torch("…`.
        let text = text
            .split_once("Torch(\"")
            .map_or(text.as_str(), |(_, rest)| rest)
            .to_string();
        Self::Torch {
            message: first_line(&text),
        }
    }
}

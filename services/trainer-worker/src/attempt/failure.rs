//! How an attempt fails: a stable code, the stage and a message for people. Codes are the
//! engine's (`dataset.*`, `train.*`, `export.*`) where the engine decided, or the worker's own:
//!
//! | code | when |
//! |---|---|
//! | `dataset.archive_missing` | the archive named by the order is not in the datasets bucket |
//! | `dataset.digest_mismatch` | the archive's bytes do not match the order's SHA-256 |
//! | `worker.busy` | a start order for another attempt arrived while one runs |
//! | `worker.bad_order` | the order cannot be carried out as written |
//! | `worker.dataset_too_large` | the archive is larger than the whole dataset cache |
//! | `worker.dataset_changed` | the decoded data is not the dataset version the order names |
//! | `worker.object_missing` | a checkpoint or initial weights are not in their bucket |
//! | `worker.object_corrupt` | a checkpoint or initial weights do not match their SHA-256 or cannot be read |
//! | `worker.storage` | the object store kept failing |
//! | `worker.io` | the work folder could not be written |
//! | `worker.shutdown` | the worker was shut down during the attempt (restartable from its last checkpoint) |
//! | `worker.internal` | a defect in the worker; the message says where |

use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_platform::object_store::ObjectStoreError;

pub fn fail(code: &str, stage: RunStage, message: impl Into<String>) -> Failure {
    Failure {
        code: code.to_owned(),
        stage,
        message: message.into(),
    }
}

/// The object store failed for a reason other than a missing object or a wrong digest.
pub fn storage_failure(stage: RunStage, error: &ObjectStoreError) -> Failure {
    let code = match error {
        ObjectStoreError::File { .. } => "worker.io",
        _ => "worker.storage",
    };
    fail(code, stage, error.to_string())
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .map(|m| m.lines().next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

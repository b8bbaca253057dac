//! Progress events a caller consumes while training runs (metrics, checkpoints, the end).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Test-set metrics at the end of an epoch (epochs count from 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: u64,
    pub iteration: u64,
    pub lr: f64,
    pub train_loss_avg: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true_class][predicted_class]`.
    pub confusion: Vec<Vec<u64>>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub iterations: u64,
    pub total_iterations: u64,
    pub epochs_completed: u64,
    pub stopped: bool,
    pub device: String,
    pub test_accuracy: Option<f64>,
    pub checkpoint: PathBuf,
    pub wall_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    Iteration {
        /// Iterations done so far (1 after the first step).
        iteration: u64,
        total_iterations: u64,
        epoch: u64,
        lr: f64,
        loss: f64,
        images_per_sec: f64,
        eta_secs: f64,
    },
    Epoch(EpochMetrics),
    Checkpoint {
        path: PathBuf,
        iteration: u64,
        epoch: u64,
    },
    Finished(Summary),
}

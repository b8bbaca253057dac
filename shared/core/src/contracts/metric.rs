//! Training metric points on `metrics.<machine_id>.<process_id>`: one per iteration (loss,
//! learning rate, throughput) and one per epoch (test figures, per-class figures, the confusion
//! matrix). The metrics service stores them; nothing else replays them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{TargetMachineId, TrainingProcessId};

/// One point. `(process_id, attempt, kind, iteration)` identifies it: a point published twice
/// (a retried publish, a resumed attempt repeating an iteration) is the same point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricPoint {
    Iteration(IterationPoint),
    Epoch(EpochPoint),
}

impl MetricPoint {
    pub fn process_id(&self) -> TrainingProcessId {
        match self {
            MetricPoint::Iteration(p) => p.process_id,
            MetricPoint::Epoch(p) => p.process_id,
        }
    }

    pub fn iteration(&self) -> u64 {
        match self {
            MetricPoint::Iteration(p) => p.iteration,
            MetricPoint::Epoch(p) => p.iteration,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IterationPoint {
    pub process_id: TrainingProcessId,
    pub machine_id: TargetMachineId,
    pub attempt: u32,
    /// Iterations done (1 after the first step).
    pub iteration: u64,
    /// The epoch this iteration belongs to (from 1); fractional progress is `iteration /
    /// iterations_per_epoch`.
    pub epoch: u64,
    pub iterations_per_epoch: u64,
    /// Mean training loss of the batch.
    pub train_loss: f64,
    pub learning_rate: f64,
    pub images_per_sec: f64,
    pub batch_size: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EpochPoint {
    pub process_id: TrainingProcessId,
    pub machine_id: TargetMachineId,
    pub attempt: u32,
    /// Epochs completed (from 1).
    pub epoch: u64,
    pub iteration: u64,
    pub learning_rate: f64,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    pub test_loss: f64,
    /// Share of test images classified correctly (0–1).
    pub test_accuracy: f64,
    /// Class names, in the order of every per-class list and of the confusion matrix.
    pub labels: Vec<String>,
    /// Share of each class's test images classified correctly (the class's recall).
    pub per_class_accuracy: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class_precision: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balanced_accuracy: Option<f64>,
    /// Figures on the validation split, when the run holds one out for model selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// `confusion[true_class][predicted_class]`, test images.
    pub confusion: Vec<Vec<u64>>,
    /// Wall time of the epoch, evaluation included.
    pub epoch_secs: f64,
    pub at: DateTime<Utc>,
}

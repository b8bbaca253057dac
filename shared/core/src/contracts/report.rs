//! What a worker tells the scheduler about one attempt of a process: that it took the order, the
//! stage it is in, progress with the time left, checkpoints, and how the attempt ended. Reports
//! of one attempt are published in order on one subject; each has its own id (the
//! `Nats-Msg-Id`), so a report published twice is stored once.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::dispatch::CheckpointRef;
use super::model::ModelProduced;
use crate::ids::{TargetMachineId, TrainingProcessId};

/// One report on `report.<machine_id>.<process_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerReport {
    pub report_id: Uuid,
    pub machine_id: TargetMachineId,
    pub process_id: TrainingProcessId,
    pub attempt: u32,
    /// The start order this attempt runs.
    pub order_id: Uuid,
    pub sent_at: DateTime<Utc>,
    pub body: ReportBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum ReportBody {
    /// The worker recorded the order; published before the order is acknowledged.
    Accepted,
    /// The attempt moved to another stage before training (or after it).
    Stage {
        stage: RunStage,
    },
    /// The first training iteration is done.
    Running {
        total_iterations: u64,
        /// Where training runs, as the engine resolved it (`cpu`, `cuda:0`).
        device: String,
        /// The iteration training (re)started from: 0 for a fresh run, the checkpoint's
        /// iteration for a resumed one.
        start_iteration: u64,
    },
    Progress(Progress),
    /// A checkpoint is stored in the checkpoints bucket.
    Checkpointed(CheckpointRef),
    /// A stop order was honoured.
    Stopped {
        iterations_done: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint: Option<CheckpointRef>,
    },
    Failed(Failure),
    /// Trained, exported, verified and stored.
    Succeeded(Box<ModelProduced>),
}

/// Where an attempt is. The first four are the `starting` stages the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStage {
    Accepted,
    FetchingDataset,
    Decoding,
    BuildingModel,
    Training,
    Exporting,
    Verifying,
    Storing,
}

impl RunStage {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStage::Accepted => "accepted",
            RunStage::FetchingDataset => "fetching_dataset",
            RunStage::Decoding => "decoding",
            RunStage::BuildingModel => "building_model",
            RunStage::Training => "training",
            RunStage::Exporting => "exporting",
            RunStage::Verifying => "verifying",
            RunStage::Storing => "storing",
        }
    }
}

/// How far training has got, measured by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Iterations done (1 after the first step).
    pub iteration: u64,
    pub total_iterations: u64,
    /// The epoch the last iteration belongs to (from 1).
    pub epoch: u64,
    pub total_epochs: u64,
    /// Measured over the recent iterations.
    pub images_per_sec: f64,
    /// Seconds this attempt has been training.
    pub elapsed_secs: f64,
    pub eta: Eta,
}

/// Time left, with a band: the work left (iterations, evaluations, export) divided by the
/// throughput measured so far, the band from the spread of that throughput.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eta {
    pub eta_secs: f64,
    pub low_secs: f64,
    pub high_secs: f64,
}

/// Why an attempt failed: a stable code (the engine's or the worker's), the stage and a message
/// for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub code: String,
    pub stage: RunStage,
    pub message: String,
}

//! Orders from the scheduler to the worker of one target machine. A start order carries a
//! snapshot of everything the run needs, so a worker never asks another service: it reads the
//! dataset and any initial weights from the object store by the names given here.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{
    BaseModelId, DatasetId, ModelTypeId, ProjectId, TargetMachineId, TenantId, TrainingProcessId,
    TrainingTemplateId,
};
use crate::training::{Architecture, Augmentation, TechnicalParameters};

/// One order on `dispatch.<machine_id>`.
// A start order is large and a stop order small; orders are decoded one at a time, so boxing
// would only make them clumsier to build.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "order", rename_all = "snake_case")]
pub enum DispatchOrder {
    /// Train (or resume) a process.
    Start(StartOrder),
    /// End a running process cleanly, keeping its last checkpoint.
    Stop(StopOrder),
}

impl DispatchOrder {
    pub fn order_id(&self) -> Uuid {
        match self {
            DispatchOrder::Start(o) => o.order_id,
            DispatchOrder::Stop(o) => o.order_id,
        }
    }

    pub fn process_id(&self) -> TrainingProcessId {
        match self {
            DispatchOrder::Start(o) => o.process_id,
            DispatchOrder::Stop(o) => o.process_id,
        }
    }

    pub fn attempt(&self) -> u32 {
        match self {
            DispatchOrder::Start(o) => o.attempt,
            DispatchOrder::Stop(o) => o.attempt,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartOrder {
    /// Unique per order; also the `Nats-Msg-Id`, so a retried dispatch is queued once.
    pub order_id: Uuid,
    pub process_id: TrainingProcessId,
    /// Attempts count from 1; a restart is a new attempt of the same process.
    pub attempt: u32,
    pub tenant_id: TenantId,
    pub machine_id: TargetMachineId,
    pub snapshot: RunSnapshot,
    /// Continue from this checkpoint instead of starting fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<CheckpointRef>,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopOrder {
    pub order_id: Uuid,
    pub process_id: TrainingProcessId,
    pub attempt: u32,
    /// The start order of the attempt to stop. A worker that does not run that attempt (it was
    /// lost in a crash) answers `stopped` for it under this order id; without it, such a stop is
    /// only acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_order_id: Option<Uuid>,
    pub issued_at: DateTime<Utc>,
}

/// Everything a run needs, frozen when the process is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSnapshot {
    pub project_id: ProjectId,
    pub template: TemplateRef,
    pub model_type: ModelTypeRef,
    pub base_model: BaseModelRef,
    pub dataset: DatasetRef,
    pub augmentation: Augmentation,
    pub parameters: TechnicalParameters,
}

/// The pinned template version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    pub id: TrainingTemplateId,
    pub version: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelTypeRef {
    pub id: ModelTypeId,
    /// The inference routing key (case-sensitive).
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseModelRef {
    pub id: BaseModelId,
    pub name: String,
    pub architecture: Architecture,
    /// Initial weights (a safetensors checkpoint); fresh initialisation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<ObjectRef>,
}

/// A ready dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    pub id: DatasetId,
    pub version: u32,
    /// The archive in the datasets bucket.
    pub archive: ObjectRef,
    /// The engine's digest over paths and contents (lineage; the worker's cache key).
    pub content_digest: String,
    /// Class names in the engine's order (sorted folder names).
    pub classes: Vec<String>,
    pub images: u64,
}

/// An object in one of the buckets, with the SHA-256 of its bytes (checked after download).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub bucket: BucketName,
    pub object: String,
    pub sha256: String,
    pub size: u64,
}

/// The object store buckets, by role (their names may carry an installation prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketName {
    Datasets,
    Checkpoints,
    Models,
}

/// A stored training checkpoint: where it is and how far the run had got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    pub object: ObjectRef,
    /// Iterations done when it was written.
    pub iteration: u64,
    /// Epochs completed when it was written.
    pub epoch: u64,
    /// The attempt that wrote it.
    pub attempt: u32,
}

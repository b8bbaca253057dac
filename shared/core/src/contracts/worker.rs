//! A worker's presence: registration with its machine's id and a service account's API key,
//! then heartbeats that say what it is doing and what hardware it found.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{TargetMachineId, TrainingProcessId};

/// The hardware a worker measured on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// `cpu` or `cuda`: what training on this machine uses when a template asks for `cuda`.
    pub kind: DeviceKind,
    /// CPU model name (from the operating system).
    pub cpu: String,
    /// Logical cores available to the worker.
    pub cores: u32,
    pub memory_bytes: u64,
    /// The GPU, when one is usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuInfo {
    pub name: String,
    pub memory_bytes: u64,
    pub count: u32,
}

/// Sent on `worker.register.<machine_id>` (request/reply) when a worker starts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWorker {
    pub machine_id: TargetMachineId,
    /// This worker process (a new one at every start).
    pub worker_id: Uuid,
    /// The worker's release, e.g. `0.1.0`.
    pub version: String,
    /// Protocol versions it speaks (see `PROTOCOL_VERSION`).
    pub protocols: Vec<u32>,
    pub device: DeviceInfo,
    /// A service account's API key; the scheduler checks it and that the account may act for
    /// the machine's tenant.
    pub api_key: String,
}

impl std::fmt::Debug for RegisterWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterWorker")
            .field("machine_id", &self.machine_id)
            .field("worker_id", &self.worker_id)
            .field("version", &self.version)
            .field("protocols", &self.protocols)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// The scheduler's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Registration {
    Accepted {
        /// The protocol both sides will speak.
        protocol: u32,
        /// How often to send heartbeats.
        heartbeat_interval_secs: u32,
    },
    /// Not registered; the worker must not take orders. `code` is stable (`unknown_machine`,
    /// `invalid_api_key`, `wrong_tenant`, `unsupported_protocol`, `machine_disabled`…).
    Refused { code: String, message: String },
}

/// Sent on `hb.<machine_id>` every `heartbeat_interval_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub machine_id: TargetMachineId,
    pub worker_id: Uuid,
    pub version: String,
    pub protocol: u32,
    pub device: DeviceInfo,
    /// The attempt it is running, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<Busy>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Busy {
    pub process_id: TrainingProcessId,
    pub attempt: u32,
    /// Iterations done so far.
    pub iteration: u64,
}

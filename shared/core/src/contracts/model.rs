//! A trained model as the worker hands it over: where its files are and its full lineage. The
//! scheduler records it as the `ModelProduced` event of the process; the registry registers a
//! model version from that event and verifies the ONNX file again on the samples named here.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dispatch::{ObjectRef, RunSnapshot};
use crate::ids::{TargetMachineId, TenantId, TrainingProcessId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelProduced {
    pub tenant_id: TenantId,
    pub process_id: TrainingProcessId,
    pub attempt: u32,
    pub machine_id: TargetMachineId,
    /// What the process was created from: project, template version, model type, base model,
    /// dataset version with its digest, augmentation and parameters.
    pub lineage: RunSnapshot,
    /// Class labels, in the order of the model's outputs.
    pub labels: Vec<String>,
    pub preprocessing: Preprocessing,
    pub metrics: ModelMetrics,
    /// `model.onnx` in the models bucket.
    pub onnx: ObjectRef,
    /// The trained weights (safetensors) in the models bucket, so a base model can start from
    /// this model.
    pub weights: ObjectRef,
    /// Verification samples in the models bucket: test images with libtorch's outputs.
    pub samples: ObjectRef,
    /// ONNX Runtime against libtorch on the samples, as the worker measured it.
    pub parity: Parity,
    /// Where it was trained, as the engine resolved it (`cpu`, `cuda:0`).
    pub device: String,
    pub training_secs: f64,
    pub produced_at: DateTime<Utc>,
}

/// How an image becomes the model's input `input` (`[batch, channels, height, width]`, pixels
/// scaled to 0–1). Normalisation is inside the graph; `mean` and `std` are recorded for
/// information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preprocessing {
    /// 1 (grey) or 3 (RGB).
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    /// How an image of another size is brought to `height × width` (the engine's mode name,
    /// e.g. `stretch`).
    pub resize: String,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelMetrics {
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true_class][predicted_class]`, test images.
    pub confusion: Vec<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    pub iterations: u64,
    pub epochs: u64,
    /// The epoch whose weights were exported (the best by validation when the run selects).
    pub selected_epoch: u64,
    pub test_images: u64,
    pub train_images: u64,
}

/// Largest differences between ONNX Runtime and libtorch on the verification samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parity {
    pub samples: u64,
    pub max_abs_prob_diff: f64,
    pub max_abs_logit_diff: f64,
    /// The bound both differences were held to.
    pub bound: f64,
}

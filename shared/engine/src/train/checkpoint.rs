//! Checkpoints: a safetensors file with the model's variables (`model.<name>`) and the
//! optimizer's buffers (`optim.<slot>.<name>`), and a JSON sidecar with everything else a
//! resumed run needs to continue exactly (position, schedule, seed, history, preprocessing).

use super::error::TrainError;
use super::events::EpochMetrics;
use super::TrainConfig;
use crate::data::Preprocess;
use crate::model::ModelSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Tensor;

pub const FORMAT: &str = "trainyard-checkpoint-v1";

/// Where in the run a checkpoint was taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Optimizer steps completed.
    pub iteration: u64,
    /// 0-based epoch in progress (or about to start).
    pub epoch: u64,
    /// Batches of `epoch` already trained on.
    pub batch_in_epoch: u64,
    pub epoch_loss_sum: f64,
    pub epoch_loss_count: u64,
}

/// The JSON sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub spec: ModelSpec,
    pub classes: Vec<String>,
    pub preprocess: Preprocess,
    pub config: TrainConfig,
    pub position: Position,
    pub total_iterations: u64,
    pub optimizer_steps: u64,
    /// Randomness is re-derived from this seed and the position: epoch shuffles from
    /// (seed, epoch), augmentation draws from (seed, iteration).
    pub seed: u64,
    pub dataset_digest: String,
    pub history: Vec<EpochMetrics>,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub tensors: Vec<(String, Tensor)>,
}

/// Accepts the `.json` sidecar, the `.safetensors` file or their common stem.
pub fn paths(any: &Path) -> (PathBuf, PathBuf) {
    let stem = match any.extension().and_then(|e| e.to_str()) {
        Some("json" | "safetensors") => any.with_extension(""),
        _ => any.to_path_buf(),
    };
    (
        stem.with_extension("safetensors"),
        stem.with_extension("json"),
    )
}

pub fn save(
    stem: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
) -> Result<PathBuf, TrainError> {
    if let Some(dir) = stem.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    let (weights, sidecar) = paths(stem);
    let tmp = weights.with_extension("safetensors.tmp");
    // safetensors holds row-major data; channels-last kernels are copied into that order.
    let tensors: Vec<(&str, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.contiguous()))
        .collect();
    Tensor::write_safetensors(&tensors, &tmp).map_err(|e| TrainError::checkpoint(&tmp, e))?;
    let json = serde_json::to_vec_pretty(meta).map_err(|e| TrainError::checkpoint(&sidecar, e))?;
    let tmp_json = sidecar.with_extension("json.tmp");
    std::fs::write(&tmp_json, json).map_err(|e| TrainError::io(&tmp_json, e))?;
    // Weights first, sidecar last: a sidecar always points at complete weights.
    std::fs::rename(&tmp, &weights).map_err(|e| TrainError::io(&weights, e))?;
    std::fs::rename(&tmp_json, &sidecar).map_err(|e| TrainError::io(&sidecar, e))?;
    Ok(sidecar)
}

pub fn load(any: &Path) -> Result<Checkpoint, TrainError> {
    let (weights, sidecar) = paths(any);
    let text = std::fs::read(&sidecar).map_err(|e| TrainError::io(&sidecar, e))?;
    let meta: CheckpointMeta =
        serde_json::from_slice(&text).map_err(|e| TrainError::checkpoint(&sidecar, e))?;
    if meta.format != FORMAT {
        return Err(TrainError::checkpoint(
            &sidecar,
            format!("format {:?} is not {FORMAT}", meta.format),
        ));
    }
    let tensors =
        Tensor::read_safetensors(&weights).map_err(|e| TrainError::checkpoint(&weights, e))?;
    Ok(Checkpoint { meta, tensors })
}

/// Model variables of a checkpoint, without their `model.` prefix.
pub fn model_tensors(tensors: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    tensors
        .iter()
        .filter_map(|(n, t)| {
            n.strip_prefix("model.")
                .map(|s| (s.to_string(), t.shallow_clone()))
        })
        .collect()
}

/// Deletes the oldest epoch checkpoints in `dir`, keeping `keep` of them.
pub fn prune(dir: &Path, keep: usize) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    let mut stems: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("epoch-"))
        })
        .map(|p| p.with_extension(""))
        .collect();
    stems.sort();
    let excess = stems.len().saturating_sub(keep.max(1));
    for stem in &stems[..excess] {
        let (weights, sidecar) = paths(stem);
        // Sidecar first, so a half-pruned checkpoint is never mistaken for a whole one.
        let _ = std::fs::remove_file(sidecar);
        let _ = std::fs::remove_file(weights);
    }
}

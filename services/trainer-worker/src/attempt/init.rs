//! Initial weights for a fresh run. A base model's weights are one safetensors file — bare
//! variables (`stages.0.conv.weight`, as this worker stores a trained model's weights) or a
//! training checkpoint's tensors (`model.…` beside `optim.…`) — while the engine starts from a
//! checkpoint with its sidecar. This writes that checkpoint: the model's variables under `model.`,
//! no optimizer state, and a sidecar describing this dataset, so the engine loads every variable
//! whose name and shape fit and keeps a fresh classifier head when the classes differ.

use std::path::{Path, PathBuf};

use tch::Tensor;
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_engine::data::Dataset;
use trainyard_engine::model::ModelSpec;
use trainyard_engine::train::checkpoint::{self, CheckpointMeta, Position};
use trainyard_engine::train::TrainConfig;

use super::failure::fail;

const MODEL_PREFIX: &str = "model.";
const OPTIMIZER_PREFIX: &str = "optim.";

/// Writes `weights` as an engine checkpoint in `dir`; returns the path to pass as `init_from`.
pub fn as_checkpoint(
    weights: &Path,
    dataset: &Dataset,
    config: &TrainConfig,
    dir: &Path,
) -> Result<PathBuf, Failure> {
    let unreadable = |reason: String| {
        fail(
            "worker.object_corrupt",
            RunStage::BuildingModel,
            format!("the initial weights cannot be used: {reason}"),
        )
    };
    let tensors = Tensor::read_safetensors(weights)
        .map_err(|e| unreadable(trainyard_engine::data::error::first_line(&e.to_string())))?;
    let tensors = model_variables(tensors);
    if tensors.is_empty() {
        return Err(unreadable("the file holds no model variables".into()));
    }
    let pre = dataset.preprocess.clone();
    let meta = CheckpointMeta {
        format: checkpoint::FORMAT.into(),
        spec: ModelSpec {
            kind: config.model,
            channels: pre.channels.into(),
            height: pre.height.into(),
            width: pre.width.into(),
            classes: dataset.classes.len() as i64,
        },
        classes: dataset.classes.clone(),
        preprocess: pre,
        config: config.clone(),
        position: Position::default(),
        total_iterations: 0,
        optimizer_steps: 0,
        seed: config.seed,
        dataset_digest: dataset.digest.clone(),
        history: Vec::new(),
    };
    checkpoint::save(&dir.join("initial"), &meta, &tensors)
        .map_err(|e| fail(e.code(), RunStage::BuildingModel, e.to_string()))
}

/// The model's variables under `model.<name>`, whichever form the file has.
fn model_variables(tensors: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    let is_checkpoint = tensors.iter().any(|(n, _)| n.starts_with(MODEL_PREFIX));
    tensors
        .into_iter()
        .filter(|(n, _)| !n.starts_with(OPTIMIZER_PREFIX))
        .filter_map(|(n, t)| match is_checkpoint {
            true => n.starts_with(MODEL_PREFIX).then_some((n, t)),
            false => Some((format!("{MODEL_PREFIX}{n}"), t)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_checkpoint_files_give_the_same_variables() {
        let t = || Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu));
        let bare = model_variables(vec![("fc.bias".into(), t()), ("fc.weight".into(), t())]);
        let from_checkpoint = model_variables(vec![
            ("model.fc.bias".into(), t()),
            ("model.fc.weight".into(), t()),
            ("optim.0.fc.bias".into(), t()),
        ]);
        let names = |v: &[(String, Tensor)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&bare), ["model.fc.bias", "model.fc.weight"]);
        assert_eq!(names(&bare), names(&from_checkpoint));
    }
}

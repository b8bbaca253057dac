//! The training loop's public face: settings, the stop token, and [`train`], which runs (or
//! resumes) a training and reports progress through a callback.

pub mod checkpoint;
pub mod error;
pub mod eval;
pub mod events;
pub mod optim;
mod run;
mod start;

pub use error::TrainError;
pub use events::{EpochMetrics, Progress, Summary};
pub use optim::OptimizerKind;

use crate::augment::{AugmentParams, Augmentation};
use crate::data::Dataset;
use crate::model::{Model, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where to train. `Cuda` falls back to the CPU when no GPU is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    #[default]
    Cuda,
    Cpu,
}

impl DeviceChoice {
    pub fn resolve(self) -> tch::Device {
        match self {
            Self::Cuda if tch::Cuda::is_available() => tch::Device::Cuda(0),
            _ => tch::Device::Cpu,
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown device {s:?} (cuda, cpu)"))
    }
}

/// Training settings (a template's technical parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub augmentation: Augmentation,
    pub augment_params: AugmentParams,
    pub optimizer: OptimizerKind,
    /// Peak learning rate, reached at the end of the warm-up.
    pub learning_rate: f64,
    /// `None` takes the optimizer's default.
    pub weight_decay: Option<f64>,
    /// SGD momentum.
    pub momentum: f64,
    /// Share of all iterations spent warming up linearly.
    pub warmup_fraction: f64,
    /// Optimizer steps, unless `epochs` is set.
    pub iterations: u64,
    /// Full passes over the training split; overrides `iterations`.
    pub epochs: Option<u64>,
    pub batch_size: usize,
    pub device: DeviceChoice,
    /// libtorch intra-op threads; `None` keeps libtorch's default.
    pub threads: Option<usize>,
    pub seed: u64,
    pub eval_batch_size: usize,
    /// Epoch checkpoints kept on disk (the newest ones).
    pub keep_checkpoints: usize,
    pub label_smoothing: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Base,
            augmentation: Augmentation::RotationsExposureNoise,
            augment_params: AugmentParams::default(),
            optimizer: OptimizerKind::Adamw,
            learning_rate: 0.005,
            weight_decay: None,
            momentum: 0.9,
            warmup_fraction: 0.05,
            iterations: 1000,
            epochs: None,
            batch_size: 32,
            device: DeviceChoice::Cuda,
            threads: None,
            seed: 0,
            eval_batch_size: 256,
            keep_checkpoints: 2,
            label_smoothing: 0.0,
        }
    }
}

/// Cooperative stop: set it from any thread; the loop checks it before every iteration and
/// ends with a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Run-level options that are not training hyper-parameters.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Folder for checkpoints (created when missing).
    pub checkpoint_dir: PathBuf,
    /// Continue an interrupted run from this checkpoint (its settings win, except device and
    /// threads, which come from the given config).
    pub resume: Option<PathBuf>,
    /// Start a new run from the weights of this checkpoint (continued training); variables
    /// whose shape differs, e.g. a head for other classes, keep their fresh initialisation.
    pub init_from: Option<PathBuf>,
    pub stop: StopToken,
}

/// The trained model and how the run went.
#[derive(Debug)]
pub struct TrainOutcome {
    pub model: Model,
    pub summary: Summary,
    pub history: Vec<EpochMetrics>,
    pub config: TrainConfig,
    pub preprocess: crate::data::Preprocess,
}

/// Trains (or resumes) on `dataset`, calling `on_event` synchronously for every event.
pub fn train(
    dataset: &Dataset,
    config: &TrainConfig,
    options: &RunOptions,
    on_event: &mut dyn FnMut(&Progress),
) -> Result<TrainOutcome, TrainError> {
    if let Some(threads) = config.threads {
        tch::set_num_threads(threads.max(1) as i32);
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run::run(dataset, config, options, on_event)
    }));
    outcome.unwrap_or_else(|panic| Err(TrainError::from_panic(panic)))
}

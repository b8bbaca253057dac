//! The blocking half of an attempt, run on its own thread: decode the dataset, build the model,
//! train with the engine, then export and verify. It speaks to the async half only through
//! [`JobEvent`]s (sent without waiting) and its result, and checks the stop token between stages.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;
use trainyard_core::contracts::dispatch::RunSnapshot;
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_core::training::{self, EarlyStopping};
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::{self, LoadOptions};
use trainyard_engine::model::ModelKind;
use trainyard_engine::train::checkpoint::CheckpointMeta;
use trainyard_engine::train::{
    self as engine, DeviceChoice, OptimizerKind, Progress, RunOptions, TrainConfig,
};

use super::checkpoints;
use super::export::{self, Trained};
use super::failure::fail;
use super::init;
use super::stop::{StopCause, Stopper};
use crate::device::device_name;
use crate::eta::RunShape;

/// What the job tells the async half while it works.
#[derive(Debug)]
pub enum JobEvent {
    Stage(RunStage),
    /// Training is about to start.
    Planned(Plan),
    Progress {
        progress: Progress,
        at: Instant,
        wall: DateTime<Utc>,
    },
    /// A checkpoint, copied out of the engine's folder, ready to upload.
    Checkpoint(checkpoints::Staged),
}

/// The run as the engine will carry it out.
#[derive(Debug, Clone)]
pub struct Plan {
    pub shape: RunShape,
    pub start_iteration: u64,
    pub train_images: u64,
    pub device: String,
    pub labels: Vec<String>,
}

/// Everything the job needs; paths are in the attempt's work folder.
#[derive(Debug)]
pub struct Job {
    pub archive: PathBuf,
    pub decoded: PathBuf,
    pub snapshot: RunSnapshot,
    /// The unpacked checkpoint to resume from (its sidecar).
    pub resume: Option<PathBuf>,
    /// Downloaded initial weights (a safetensors file).
    pub init_weights: Option<PathBuf>,
    pub dir: PathBuf,
    pub threads: usize,
    pub samples: usize,
    pub stopper: Stopper,
}

#[derive(Debug)]
pub enum JobOutcome {
    /// Ended by a stop order or a shutdown, after `iterations`.
    Stopped {
        iterations: u64,
    },
    Trained(Box<Trained>),
}

/// Runs the job; every failure comes back as a [`Failure`] with the stage it happened in.
pub fn run(job: Job, events: UnboundedSender<JobEvent>) -> Result<JobOutcome, Failure> {
    let send = |e: JobEvent| {
        let _ = events.send(e);
    };
    send(JobEvent::Stage(RunStage::Decoding));
    let params = &job.snapshot.parameters;
    let options = LoadOptions {
        image_size: params.image_size,
        test_split: params.test_split,
        seed: params.seed,
        cache_dir: Some(job.decoded.clone()),
        ..LoadOptions::default()
    };
    let dataset = data::load(&job.archive, &options)
        .map_err(|e| fail(e.code(), RunStage::Decoding, e.to_string()))?;
    let expected = &job.snapshot.dataset;
    if dataset.digest != expected.content_digest || dataset.classes != expected.classes {
        return Err(fail(
            "worker.dataset_changed",
            RunStage::Decoding,
            format!(
                "the archive decodes to content {} with classes {:?}; the order names {} with {:?}",
                dataset.digest, dataset.classes, expected.content_digest, expected.classes
            ),
        ));
    }
    let resumed_at = match &job.resume {
        Some(path) => Some(read_meta(path)?),
        None => None,
    };
    let start_iteration = resumed_at.as_ref().map_or(0, |m| m.position.iteration);
    if job.stopper.cause().is_some() {
        return Ok(JobOutcome::Stopped {
            iterations: start_iteration,
        });
    }
    send(JobEvent::Stage(RunStage::BuildingModel));
    let config = train_config(&job.snapshot, job.threads);
    let init_from = match &job.init_weights {
        Some(weights) => Some(init::as_checkpoint(
            weights,
            &dataset,
            &config,
            &job.dir.join("init"),
        )?),
        None => None,
    };
    // On resume the checkpoint's settings win (the engine's rule): plan with them.
    let planned = resumed_at.as_ref().map_or(&config, |m| &m.config);
    let n_train = dataset.train.len() as u64;
    let batch = (planned.batch_size as u64).min(n_train).max(1);
    let per_epoch = (n_train / batch).max(1);
    let total = resumed_at
        .as_ref()
        .map_or(planned.iterations, |m| m.total_iterations);
    send(JobEvent::Planned(Plan {
        shape: RunShape {
            total_iterations: total,
            iterations_per_epoch: per_epoch,
            batch,
            test_images: dataset.test.len() as u64,
        },
        start_iteration,
        train_images: n_train,
        device: device_name(config.device.resolve()),
        labels: dataset.classes.clone(),
    }));
    let run_options = RunOptions {
        checkpoint_dir: job.dir.join("engine"),
        resume: job.resume.clone(),
        init_from,
        stop: job.stopper.token(),
    };
    let staging = job.dir.join("staging");
    let mut early = job.snapshot.parameters.early_stopping.map(Patience::new);
    let mut on_event = |progress: &Progress| {
        if let Progress::Checkpoint {
            path,
            iteration,
            epoch,
        } = progress
        {
            match checkpoints::stage(path, &staging) {
                Ok(sidecar) => send(JobEvent::Checkpoint(checkpoints::Staged {
                    sidecar,
                    iteration: *iteration,
                    epoch: *epoch,
                })),
                Err(error) => tracing::error!(%error, "checkpoint not staged for upload"),
            }
        }
        if let Progress::Epoch(metrics) = progress {
            let exhausted = early
                .as_mut()
                .is_some_and(|p| p.exhausted(metrics.test_accuracy));
            if exhausted && job.stopper.stop(StopCause::EarlyStopping) {
                tracing::info!(epoch = metrics.epoch, "early stopping: no improvement");
            }
        }
        send(JobEvent::Progress {
            progress: progress.clone(),
            at: Instant::now(),
            wall: Utc::now(),
        });
    };
    let outcome = engine::train(&dataset, &config, &run_options, &mut on_event)
        .map_err(|e| fail(e.code(), RunStage::Training, e.to_string()))?;
    if outcome.summary.stopped && job.stopper.cause() != Some(StopCause::EarlyStopping) {
        return Ok(JobOutcome::Stopped {
            iterations: outcome.summary.iterations,
        });
    }
    let trained = export::export(&outcome, &dataset, &job, &send)?;
    Ok(JobOutcome::Trained(Box::new(trained)))
}

fn read_meta(sidecar: &std::path::Path) -> Result<CheckpointMeta, Failure> {
    let bad = |e: String| {
        fail(
            "worker.object_corrupt",
            RunStage::BuildingModel,
            format!("the checkpoint to resume from is unusable: {e}"),
        )
    };
    let text = std::fs::read(sidecar).map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))
}

/// The engine's settings for a template's parameters on this worker.
pub fn train_config(snapshot: &RunSnapshot, threads: usize) -> TrainConfig {
    let p = &snapshot.parameters;
    TrainConfig {
        model: match snapshot.base_model.architecture {
            training::Architecture::Base => ModelKind::Base,
            training::Architecture::Resnet18 => ModelKind::Resnet18,
        },
        augmentation: match snapshot.augmentation {
            training::Augmentation::None => Augmentation::None,
            training::Augmentation::ExposureNoise => Augmentation::ExposureNoise,
            training::Augmentation::RotationsExposureNoise => Augmentation::RotationsExposureNoise,
        },
        optimizer: match p.optimizer {
            training::Optimizer::Adamw => OptimizerKind::Adamw,
            training::Optimizer::Sgd => OptimizerKind::Sgd,
        },
        learning_rate: p.learning_rate,
        iterations: p.max_iterations,
        epochs: None,
        batch_size: p.batch_size as usize,
        device: match p.device {
            training::Device::Cuda => DeviceChoice::Cuda,
            training::Device::Cpu => DeviceChoice::Cpu,
        },
        // The template's data workers, capped at what this worker may use.
        threads: Some(threads.min(p.workers as usize).max(1)),
        seed: p.seed,
        keep_checkpoints: 2,
        ..TrainConfig::default()
    }
}

/// The template's early-stopping rule over test accuracy.
struct Patience {
    rule: EarlyStopping,
    best: Option<f64>,
    stale: u32,
}

impl Patience {
    fn new(rule: EarlyStopping) -> Self {
        Self {
            rule,
            best: None,
            stale: 0,
        }
    }

    /// Records an epoch's accuracy; true once `patience_epochs` epochs in a row did not improve.
    fn exhausted(&mut self, accuracy: f64) -> bool {
        match self.best {
            Some(best) if accuracy < best + self.rule.min_delta => self.stale += 1,
            _ => {
                self.best = Some(accuracy);
                self.stale = 0;
            }
        }
        self.stale >= self.rule.patience_epochs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_counts_epochs_without_enough_gain() {
        let mut p = Patience::new(EarlyStopping {
            patience_epochs: 2,
            min_delta: 0.01,
        });
        assert!(!p.exhausted(0.5));
        assert!(!p.exhausted(0.505)); // below min_delta: stale 1
        assert!(!p.exhausted(0.6)); // improved: reset
        assert!(!p.exhausted(0.6));
        assert!(p.exhausted(0.59));
    }
}

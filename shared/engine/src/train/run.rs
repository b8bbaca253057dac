//! The loop itself. Every random choice is a function of (seed, epoch) for shuffles and
//! (seed, iteration) for augmentation, so the state a checkpoint stores (weights, BatchNorm
//! statistics, optimizer buffers, position) is all a resumed run needs to continue bit for bit.

use super::checkpoint::{self, CheckpointMeta, Position};
use super::eval::{self, normalize, scale};
use super::events::{EpochMetrics, Progress, Summary};
use super::optim::{learning_rate, Optimizer};
use super::start;
use super::{RunOptions, TrainConfig, TrainError, TrainOutcome};
use crate::augment::augment;
use crate::data::{Dataset, Preprocess};
use crate::model::Model;
use crate::rng::{mix, stream_id, SplitMix64};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Tensor};

/// Sizes derived from the settings and the training split.
#[derive(Debug, Clone, Copy)]
struct Plan {
    batch: usize,
    per_epoch: u64,
    total: u64,
    warmup: u64,
}

impl Plan {
    fn new(cfg: &TrainConfig, n_train: usize) -> Self {
        // `start::check` refused empty batches and batches larger than the training split.
        let batch = cfg.batch_size;
        let per_epoch = (n_train / batch).max(1) as u64;
        let total = cfg.epochs.map_or(cfg.iterations, |e| e * per_epoch);
        let warmup = (total as f64 * cfg.warmup_fraction).round() as u64;
        Plan {
            batch,
            per_epoch,
            total,
            warmup,
        }
    }
}

struct Loop<'a> {
    dataset: &'a Dataset,
    cfg: TrainConfig,
    pre: Preprocess,
    model: Model,
    optimizer: Optimizer,
    pos: Position,
    history: Vec<EpochMetrics>,
    plan: Plan,
    device: Device,
    images: Tensor,
    labels: Tensor,
    options: &'a RunOptions,
    on_event: &'a mut dyn FnMut(&Progress),
    images_per_sec: f64,
}

pub(super) fn run(
    dataset: &Dataset,
    config: &TrainConfig,
    options: &RunOptions,
    on_event: &mut dyn FnMut(&Progress),
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let start = start::prepare(dataset, config, options)?;
    let device = start.device;
    let mut lp = Loop {
        dataset,
        images: dataset.train.images.to_device(device),
        labels: dataset.train.labels.to_device(device),
        plan: Plan::new(&start.cfg, dataset.train.len()),
        cfg: start.cfg,
        pre: start.pre,
        model: start.model,
        optimizer: start.optimizer,
        pos: start.pos,
        history: start.history,
        device,
        options,
        on_event,
        images_per_sec: 0.0,
    };
    let summary = lp.run(started, options.resume.clone())?;
    (lp.on_event)(&Progress::Finished(summary.clone()));
    Ok(TrainOutcome {
        model: lp.model,
        summary,
        history: lp.history,
        config: lp.cfg,
        preprocess: lp.pre,
    })
}

/// The order of the training images in `epoch`.
fn epoch_order(seed: u64, epoch: u64, n: usize) -> Vec<i64> {
    let mut order: Vec<i64> = (0..n as i64).collect();
    SplitMix64::new(mix(mix(seed, stream_id("shuffle")), epoch)).shuffle(&mut order);
    order
}

impl Loop<'_> {
    fn run(
        &mut self,
        started: Instant,
        resumed_from: Option<PathBuf>,
    ) -> Result<Summary, TrainError> {
        let mut last = resumed_from.map(|p| checkpoint::paths(&p).1);
        let mut order = (u64::MAX, Vec::new());
        let mut stopped = false;
        while self.pos.iteration < self.plan.total {
            if self.options.stop.is_stopped() {
                last = Some(self.save(&format!("stopped-it{:07}", self.pos.iteration))?);
                stopped = true;
                break;
            }
            if order.0 != self.pos.epoch {
                order = (
                    self.pos.epoch,
                    epoch_order(self.cfg.seed, self.pos.epoch, self.dataset.train.len()),
                );
            }
            self.step(&order.1);
            if self.pos.batch_in_epoch == self.plan.per_epoch
                || self.pos.iteration == self.plan.total
            {
                last = Some(self.end_epoch()?);
            }
        }
        let checkpoint = match last {
            Some(path) => path,
            None => self.save(&format!("final-it{:07}", self.pos.iteration))?,
        };
        Ok(Summary {
            iterations: self.pos.iteration,
            total_iterations: self.plan.total,
            epochs_completed: self.history.len() as u64,
            stopped,
            device: format!("{:?}", self.device).to_lowercase(),
            test_accuracy: self.history.last().map(|m| m.test_accuracy),
            checkpoint,
            wall_secs: started.elapsed().as_secs_f64(),
        })
    }

    fn step(&mut self, order: &[i64]) {
        let tick = Instant::now();
        let b = self.plan.batch;
        let start = self.pos.batch_in_epoch as usize * b;
        let ix = Tensor::from_slice(&order[start..start + b]).to_device(self.device);
        let seed = mix(mix(self.cfg.seed, stream_id("augment")), self.pos.iteration);
        let x = augment(
            &scale(&self.images.index_select(0, &ix), self.device),
            self.cfg.augmentation,
            &self.cfg.augment_params,
            seed,
        );
        let x = normalize(&x, &self.pre);
        let y = self.labels.index_select(0, &ix);
        let lr = learning_rate(
            self.cfg.learning_rate,
            self.pos.iteration,
            self.plan.total,
            self.plan.warmup,
        );
        let logits = self.model.forward_t(&x, true);
        let loss = logits.cross_entropy_loss::<Tensor>(
            &y,
            None,
            tch::Reduction::Mean,
            -100,
            self.cfg.label_smoothing,
        );
        self.optimizer.zero_grad();
        loss.backward();
        self.optimizer.step(lr);
        let loss = loss.double_value(&[]);
        self.pos.iteration += 1;
        self.pos.batch_in_epoch += 1;
        self.pos.epoch_loss_sum += loss;
        self.pos.epoch_loss_count += 1;
        let ips = b as f64 / tick.elapsed().as_secs_f64().max(1e-9);
        self.images_per_sec = if self.images_per_sec == 0.0 {
            ips
        } else {
            0.9 * self.images_per_sec + 0.1 * ips
        };
        let remaining = (self.plan.total - self.pos.iteration) as f64 * b as f64;
        (self.on_event)(&Progress::Iteration {
            iteration: self.pos.iteration,
            total_iterations: self.plan.total,
            epoch: self.pos.epoch + 1,
            lr,
            loss,
            images_per_sec: self.images_per_sec,
            eta_secs: remaining / self.images_per_sec.max(1e-9),
        });
    }

    fn end_epoch(&mut self) -> Result<PathBuf, TrainError> {
        let classes = self.dataset.classes.len();
        let e = eval::evaluate(
            &self.model,
            &self.dataset.test,
            &self.pre,
            classes,
            self.cfg.eval_batch_size,
        );
        let lr = learning_rate(
            self.cfg.learning_rate,
            self.pos.iteration - 1,
            self.plan.total,
            self.plan.warmup,
        );
        let metrics = EpochMetrics {
            epoch: self.pos.epoch + 1,
            iteration: self.pos.iteration,
            lr,
            train_loss_avg: self.pos.epoch_loss_sum / self.pos.epoch_loss_count.max(1) as f64,
            test_loss: e.loss,
            test_accuracy: e.accuracy,
            per_class_accuracy: e.per_class_accuracy,
            confusion: e.confusion,
        };
        self.history.push(metrics.clone());
        (self.on_event)(&Progress::Epoch(metrics));
        self.pos = Position {
            iteration: self.pos.iteration,
            epoch: self.pos.epoch + 1,
            ..Position::default()
        };
        let path = self.save(&format!("epoch-{:04}", self.pos.epoch))?;
        checkpoint::prune(&self.options.checkpoint_dir, self.cfg.keep_checkpoints);
        Ok(path)
    }

    fn save(&mut self, name: &str) -> Result<PathBuf, TrainError> {
        let meta = CheckpointMeta {
            format: checkpoint::FORMAT.into(),
            spec: self.model.spec.clone(),
            classes: self.dataset.classes.clone(),
            preprocess: self.pre.clone(),
            config: self.cfg.clone(),
            position: self.pos.clone(),
            total_iterations: self.plan.total,
            optimizer_steps: self.optimizer.steps_taken(),
            seed: self.cfg.seed,
            dataset_digest: self.dataset.digest.clone(),
            history: self.history.clone(),
        };
        let mut tensors: Vec<(String, Tensor)> = self
            .model
            .named_tensors()
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), t))
            .collect();
        tensors.extend(self.optimizer.state());
        let path = checkpoint::save(&self.options.checkpoint_dir.join(name), &meta, &tensors)?;
        (self.on_event)(&Progress::Checkpoint {
            path: path.clone(),
            iteration: self.pos.iteration,
            epoch: self.pos.epoch,
        });
        Ok(path)
    }
}

//! How a run begins: the settings are checked, then the model, optimizer and position are
//! built fresh, from another run's weights (continued training) or from a checkpoint (resume).

use super::checkpoint::{self, Checkpoint, CheckpointMeta, Position};
use super::events::EpochMetrics;
use super::optim::Optimizer;
use super::{RunOptions, TrainConfig, TrainError};
use crate::data::{Dataset, Preprocess};
use crate::model::{Model, ModelSpec};
use tch::Device;

/// Everything the loop starts from.
pub(super) struct Start {
    pub cfg: TrainConfig,
    pub pre: Preprocess,
    pub model: Model,
    pub optimizer: Optimizer,
    pub pos: Position,
    pub history: Vec<EpochMetrics>,
    pub device: Device,
}

pub(super) fn prepare(
    dataset: &Dataset,
    config: &TrainConfig,
    options: &RunOptions,
) -> Result<Start, TrainError> {
    let resumed = options
        .resume
        .as_deref()
        .map(checkpoint::load)
        .transpose()?;
    let init = match (&resumed, &options.init_from) {
        (None, Some(path)) => Some(checkpoint::load(path)?),
        _ => None,
    };
    let mut cfg = resumed
        .as_ref()
        .map_or_else(|| config.clone(), |c| c.meta.config.clone());
    (cfg.device, cfg.threads) = (config.device, config.threads);
    check(&cfg, dataset)?;
    let device = cfg.device.resolve();
    let mut pre = dataset.preprocess.clone();
    if let Some(ck) = resumed.as_ref().or(init.as_ref()) {
        compatible(&ck.meta, dataset, options)?;
        // The weights were fitted to this normalisation; keep it.
        pre = ck.meta.preprocess.clone();
    }
    let spec = ModelSpec {
        kind: cfg.model,
        channels: pre.channels.into(),
        height: pre.height.into(),
        width: pre.width.into(),
        classes: dataset.classes.len() as i64,
    };
    let mut model = Model::new(spec, device, cfg.seed);
    if let Some(ck) = &init {
        model.load_matching(&checkpoint::model_tensors(&ck.tensors));
    }
    let weight_decay = cfg
        .weight_decay
        .unwrap_or(cfg.optimizer.default_weight_decay());
    let mut optimizer =
        Optimizer::new(cfg.optimizer, model.trainable(), weight_decay, cfg.momentum);
    let (mut pos, mut history) = (Position::default(), Vec::new());
    if let Some(ck) = resumed {
        let path = options.resume.clone().unwrap_or_default();
        restore(&mut model, &mut optimizer, &ck).map_err(|e| TrainError::checkpoint(&path, e))?;
        (pos, history) = (ck.meta.position, ck.meta.history);
    }
    Ok(Start {
        cfg,
        pre,
        model,
        optimizer,
        pos,
        history,
        device,
    })
}

fn restore(model: &mut Model, optimizer: &mut Optimizer, ck: &Checkpoint) -> Result<(), String> {
    let untouched = model.load_matching(&checkpoint::model_tensors(&ck.tensors));
    if let Some(name) = untouched.first() {
        return Err(format!("no matching tensor for {name}"));
    }
    // The optimizer holds shallow copies of the model's variables, so it sees the loaded values.
    optimizer.load_state(&ck.tensors, ck.meta.optimizer_steps)
}

fn check(cfg: &TrainConfig, dataset: &Dataset) -> Result<(), TrainError> {
    let bad = |reason: &str| {
        Err(TrainError::Config {
            reason: reason.into(),
        })
    };
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 {
        return bad("batch sizes must be positive");
    }
    if !(cfg.learning_rate > 0.0 && cfg.learning_rate.is_finite()) {
        return bad("learning_rate must be positive");
    }
    if cfg.epochs.unwrap_or(cfg.iterations) == 0 {
        return bad("iterations (or epochs) must be positive");
    }
    if !(0.0..1.0).contains(&cfg.warmup_fraction) {
        return bad("warmup_fraction must lie in [0, 1)");
    }
    if dataset.train.is_empty() || dataset.test.is_empty() {
        return bad("the dataset needs images in both the train and the test split");
    }
    if cfg.batch_size > dataset.train.len() {
        return bad(&format!(
            "batch_size {} exceeds the {} images of the training split",
            cfg.batch_size,
            dataset.train.len()
        ));
    }
    Ok(())
}

fn compatible(
    meta: &CheckpointMeta,
    dataset: &Dataset,
    options: &RunOptions,
) -> Result<(), TrainError> {
    let path = options
        .resume
        .clone()
        .or(options.init_from.clone())
        .unwrap_or_default();
    let pre = &dataset.preprocess;
    if (
        meta.preprocess.channels,
        meta.preprocess.height,
        meta.preprocess.width,
    ) != (pre.channels, pre.height, pre.width)
    {
        return Err(TrainError::checkpoint(
            &path,
            "checkpoint was trained on another input size or channel count",
        ));
    }
    if options.resume.is_none() {
        return Ok(());
    }
    if meta.classes != dataset.classes {
        return Err(TrainError::checkpoint(
            &path,
            "checkpoint was trained on other classes",
        ));
    }
    // Resuming continues the same run; other data is a new run (start it from these weights).
    if meta.dataset_digest != dataset.digest {
        return Err(TrainError::checkpoint(
            &path,
            format!(
                "checkpoint was trained on another dataset (digest {}, this dataset {})",
                meta.dataset_digest, dataset.digest
            ),
        ));
    }
    Ok(())
}

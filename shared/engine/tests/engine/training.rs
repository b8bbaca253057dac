//! The loop on small synthetic pages: every model and optimizer learns, events arrive in
//! order, and continued training starts from earlier weights (resuming is in `resume.rs`).

use std::path::Path;
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::Dataset;
use trainyard_engine::model::ModelKind;
use trainyard_engine::synth;
use trainyard_engine::train::{
    self, OptimizerKind, Progress, RunOptions, StopToken, TrainConfig, TrainError, TrainOutcome,
};

pub(crate) fn pages(size: u32) -> Dataset {
    tch::set_num_threads(1);
    synth::dataset(3, 12, size, 21, 0.25).unwrap()
}

pub(crate) fn config(model: ModelKind) -> TrainConfig {
    TrainConfig {
        model,
        augmentation: Augmentation::None,
        learning_rate: 0.003,
        iterations: 24,
        batch_size: 9,
        device: train::DeviceChoice::Cpu,
        threads: Some(1),
        seed: 5,
        ..TrainConfig::default()
    }
}

/// Runs a training to its end (or, with `stop_at`, stopped after that iteration), collecting
/// its events; panics if it fails.
pub(crate) fn run(
    ds: &Dataset,
    cfg: &TrainConfig,
    dir: &Path,
    resume: Option<&Path>,
    stop_at: Option<u64>,
) -> (TrainOutcome, Vec<Progress>) {
    try_run(ds, cfg, dir, resume, stop_at).unwrap()
}

pub(crate) fn try_run(
    ds: &Dataset,
    cfg: &TrainConfig,
    dir: &Path,
    resume: Option<&Path>,
    stop_at: Option<u64>,
) -> Result<(TrainOutcome, Vec<Progress>), TrainError> {
    let options = RunOptions {
        checkpoint_dir: dir.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
        stop: StopToken::new(),
        ..RunOptions::default()
    };
    let mut events = Vec::new();
    let stop = options.stop.clone();
    let outcome = train::train(ds, cfg, &options, &mut |e| {
        if let (Progress::Iteration { iteration, .. }, Some(at)) = (e, stop_at) {
            if *iteration == at {
                stop.stop();
            }
        }
        events.push(e.clone());
    })?;
    Ok((outcome, events))
}

fn losses(events: &[Progress]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| {
            if let Progress::Iteration { loss, .. } = e {
                Some(*loss)
            } else {
                None
            }
        })
        .collect()
}

fn assert_learns(ds: &Dataset, cfg: &TrainConfig) {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events) = run(ds, cfg, dir.path(), None, None);
    let l = losses(&events);
    let head: f64 = l[..4].iter().sum::<f64>() / 4.0;
    let tail: f64 = l[l.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        tail < head * 0.7,
        "{:?}/{:?}: loss {head:.3} -> {tail:.3}",
        cfg.model,
        cfg.optimizer
    );
    assert_eq!(outcome.summary.iterations, cfg.iterations);
    assert!(outcome.summary.checkpoint.exists());
}

#[test]
fn base_learns_with_adamw_and_with_sgd() {
    let ds = pages(32);
    assert_learns(&ds, &config(ModelKind::Base));
    let sgd = TrainConfig {
        optimizer: OptimizerKind::Sgd,
        learning_rate: 0.02,
        ..config(ModelKind::Base)
    };
    assert_learns(&ds, &sgd);
}

#[test]
fn resnet18_learns() {
    let ds = pages(24);
    assert_learns(
        &ds,
        &TrainConfig {
            iterations: 16,
            learning_rate: 0.001,
            ..config(ModelKind::Resnet18)
        },
    );
}

#[test]
fn events_follow_the_schedule_and_epochs() {
    let ds = pages(24);
    let cfg = TrainConfig {
        epochs: Some(3),
        warmup_fraction: 0.25,
        ..config(ModelKind::Base)
    };
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events) = run(&ds, &cfg, dir.path(), None, None);
    let lrs: Vec<f64> = events
        .iter()
        .filter_map(|e| {
            if let Progress::Iteration { lr, .. } = e {
                Some(*lr)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(lrs.len(), 9, "27 training images, batch 9, 3 epochs");
    let peak = lrs.iter().cloned().fold(0.0, f64::max);
    assert!((peak - cfg.learning_rate).abs() < 1e-12);
    assert!(
        lrs[0] < peak && lrs[8] < lrs[3],
        "warm-up then decay: {lrs:?}"
    );
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Progress::Epoch(m) = e {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        epochs.iter().map(|m| m.epoch).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let last = epochs[2];
    assert_eq!(last.confusion.iter().flatten().sum::<u64>(), 9);
    assert_eq!(last.per_class_accuracy.len(), 3);
    assert!(
        matches!(events.last(), Some(Progress::Finished(s)) if !s.stopped && s.epochs_completed == 3)
    );
    assert_eq!(outcome.history.len(), 3);
    let kept = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "json")
        .count();
    assert_eq!(kept, 2, "only the newest checkpoints are kept");
}

#[test]
fn continued_training_starts_from_earlier_weights_with_a_new_head() {
    let three = pages(24);
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = run(&three, &config(ModelKind::Base), dir.path(), None, None);
    let two = synth::dataset(2, 12, 24, 8, 0.25).unwrap();
    let options = RunOptions {
        checkpoint_dir: dir.path().join("next"),
        init_from: Some(first.summary.checkpoint.clone()),
        ..RunOptions::default()
    };
    let cfg = TrainConfig {
        iterations: 1,
        learning_rate: 1e-9,
        ..config(ModelKind::Base)
    };
    let next = train::train(&two, &cfg, &options, &mut |_| {}).unwrap();
    let before: std::collections::HashMap<_, _> = first.model.named_tensors().into_iter().collect();
    for (name, t) in next.model.named_tensors() {
        if name.ends_with("conv.weight") {
            assert!(
                t.allclose(&before[&name], 1e-6, 1e-6, false),
                "{name} was not carried over"
            );
        }
        if name == "fc.weight" {
            assert_eq!(t.size(), [2, 128], "the head is sized for the new classes");
        }
    }
    assert_eq!(
        next.preprocess, three.preprocess,
        "the earlier normalisation is kept"
    );
}

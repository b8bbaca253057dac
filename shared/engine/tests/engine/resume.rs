//! Resuming: a run stopped mid-epoch or at an epoch's end and resumed from its checkpoint starts
//! at the checkpoint's step and ends bit for bit where an uninterrupted run ends, with AdamW and
//! with SGD + momentum (optimizer buffers), and with `resnet18` (BatchNorm statistics).

use std::path::{Path, PathBuf};
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::Dataset;
use trainyard_engine::model::ModelKind;
use trainyard_engine::train::checkpoint;
use trainyard_engine::train::{OptimizerKind, Progress, TrainConfig, TrainOutcome};

use crate::training::{config, pages, run};

fn assert_same_weights(a: &TrainOutcome, b: &TrainOutcome) {
    let (wa, wb) = (a.model.named_tensors(), b.model.named_tensors());
    assert_eq!(wa.len(), wb.len());
    for ((na, ta), (nb, tb)) in wa.iter().zip(&wb) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs after resuming");
    }
    assert_eq!(a.history, b.history);
}

/// Whether a run (`events`, `outcome`) continued from `checkpoint` rather than starting over:
/// its first event is the step after the checkpoint's, it trained exactly the remaining steps
/// and evaluated only the remaining epochs, and its history is the checkpoint's plus those.
/// Starting from scratch with the same seed would end with the same weights, so only these
/// show that the checkpoint's position was taken.
fn continued_from(
    checkpoint: &Path,
    events: &[Progress],
    outcome: &TrainOutcome,
) -> Result<(), String> {
    let meta = checkpoint::load(checkpoint)
        .map_err(|e| e.to_string())?
        .meta;
    let (at, total) = (meta.position.iteration, outcome.summary.total_iterations);
    let steps: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Progress::Iteration { iteration, .. } => Some(*iteration),
            _ => None,
        })
        .collect();
    if at < total
        && !matches!(events.first(), Some(Progress::Iteration { iteration, .. }) if *iteration == at + 1)
    {
        return Err(format!(
            "first event {:?}, not step {}",
            events.first(),
            at + 1
        ));
    }
    if steps != (at + 1..=total).collect::<Vec<_>>() {
        return Err(format!("steps {steps:?}, not {}..={total}", at + 1));
    }
    let epochs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Progress::Epoch(m) => Some(m.epoch),
            _ => None,
        })
        .collect();
    let done = meta.history.len() as u64;
    if epochs != (done + 1..=outcome.history.len() as u64).collect::<Vec<_>>() {
        return Err(format!("evaluated epochs {epochs:?} after {done} done"));
    }
    if outcome.history.get(..meta.history.len()) != Some(meta.history.as_slice()) {
        return Err("history does not continue the checkpoint's".into());
    }
    Ok(())
}

/// The checkpoint a stop after step `at` wrote (the event before `Finished`).
fn stop_checkpoint(events: &[Progress], at: u64) -> PathBuf {
    match events.iter().rev().nth(1) {
        Some(Progress::Checkpoint {
            path, iteration, ..
        }) if *iteration == at => path.clone(),
        other => panic!("a stop ends with a checkpoint: {other:?}"),
    }
}

/// Trains `cfg` uninterrupted and stopped after step `at` then resumed; both must end equal and
/// the resumed run must have continued from the stop's checkpoint. Returns the uninterrupted
/// run with its events and folder, and the stop's checkpoint.
fn stop_and_resume(
    ds: &Dataset,
    cfg: &TrainConfig,
    at: u64,
) -> (
    (TrainOutcome, Vec<Progress>),
    tempfile::TempDir,
    PathBuf,
    tempfile::TempDir,
) {
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = run(ds, cfg, whole_dir.path(), None, None);
    let dir = tempfile::tempdir().unwrap();
    let (stopped, events) = run(ds, cfg, dir.path(), None, Some(at));
    assert!(stopped.summary.stopped);
    assert_eq!(stopped.summary.iterations, at, "stops before the next step");
    let ck = stop_checkpoint(&events, at);
    let (resumed, events) = run(ds, cfg, dir.path(), Some(&ck), None);
    assert_eq!(resumed.summary.iterations, whole.0.summary.iterations);
    continued_from(&ck, &events, &resumed).unwrap();
    assert_same_weights(&whole.0, &resumed);
    (whole, whole_dir, ck, dir)
}

#[test]
fn stop_then_resume_equals_an_uninterrupted_run_bit_for_bit() {
    let ds = pages(24);
    let cfg = TrainConfig {
        epochs: Some(3),
        augmentation: Augmentation::RotationsExposureNoise,
        ..config(ModelKind::Base)
    };
    let ((whole, whole_events), whole_dir, stop, _dir) = stop_and_resume(&ds, &cfg, 4);
    // The check above must tell a run that started over: the uninterrupted run is one.
    let err = continued_from(&stop, &whole_events, &whole).unwrap_err();
    assert!(err.contains("not step 5"), "{err}");

    // From an epoch's end (3 steps per epoch: the checkpoint after epoch 2 is at step 6).
    let epoch_two = whole_dir.path().join("epoch-0002.json");
    let again_dir = tempfile::tempdir().unwrap();
    let (again, events) = run(&ds, &cfg, again_dir.path(), Some(&epoch_two), None);
    continued_from(&epoch_two, &events, &again).unwrap();
    assert!(matches!(
        events.first(),
        Some(Progress::Iteration { iteration: 7, .. })
    ));
    assert_same_weights(&whole, &again);
    assert!(continued_from(&epoch_two, &whole_events, &whole).is_err());
}

#[test]
fn sgd_momentum_resumes_bit_for_bit() {
    let ds = pages(24);
    let cfg = TrainConfig {
        optimizer: OptimizerKind::Sgd,
        momentum: 0.9,
        learning_rate: 0.02,
        iterations: 8,
        ..config(ModelKind::Base)
    };
    let (_, _, stop, _dir) = stop_and_resume(&ds, &cfg, 4);
    let ck = checkpoint::load(&stop).unwrap();
    let buffers = ck
        .tensors
        .iter()
        .filter(|(n, _)| n.starts_with("optim.momentum_buffer."))
        .count();
    assert!(buffers > 0, "the momentum buffers are in the checkpoint");
}

#[test]
fn resnet18_resumes_bit_for_bit_with_its_batchnorm_statistics() {
    let ds = pages(20);
    let cfg = TrainConfig {
        iterations: 6,
        learning_rate: 0.001,
        ..config(ModelKind::Resnet18)
    };
    let (_, _, stop, _dir) = stop_and_resume(&ds, &cfg, 3);
    // After three steps the running statistics have moved off their initial values, so a
    // resume that dropped them could not end equal (the comparison covers every variable).
    let ck = checkpoint::load(&stop).unwrap();
    let mean = &ck
        .tensors
        .iter()
        .find(|(n, _)| n == "model.bn1.running_mean")
        .expect("BatchNorm statistics are checkpointed")
        .1;
    assert!(mean.abs().sum(tch::Kind::Float).double_value(&[]) > 0.0);
}

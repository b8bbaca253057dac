//! Training refuses what it cannot run, with its stable code and before writing anything: bad
//! settings, a batch larger than the training split, unreadable checkpoints and a checkpoint
//! made on another dataset.

use std::path::Path;
use trainyard_engine::model::ModelKind;
use trainyard_engine::synth;
use trainyard_engine::train::{TrainConfig, TrainError};

use crate::training::{config, pages, run, try_run};

/// `result` failed with `code` mentioning `words`, and `dir` was never created.
fn refused<T>(result: Result<T, TrainError>, code: &str, words: &str, dir: &Path) {
    let Err(err) = result else {
        panic!("must be refused ({code}: {words})")
    };
    assert_eq!(err.code(), code, "{err}");
    assert!(err.to_string().contains(words), "{err} lacks {words:?}");
    assert!(!dir.exists(), "{} was written", dir.display());
}

#[test]
fn bad_settings_are_refused_before_anything_is_written() {
    let ds = pages(24);
    let base = config(ModelKind::Base);
    let cases: [(&str, TrainConfig); 9] = [
        (
            "batch sizes",
            TrainConfig {
                batch_size: 0,
                ..base.clone()
            },
        ),
        (
            "batch sizes",
            TrainConfig {
                eval_batch_size: 0,
                ..base.clone()
            },
        ),
        (
            "learning_rate",
            TrainConfig {
                learning_rate: 0.0,
                ..base.clone()
            },
        ),
        (
            "learning_rate",
            TrainConfig {
                learning_rate: -0.1,
                ..base.clone()
            },
        ),
        (
            "learning_rate",
            TrainConfig {
                learning_rate: f64::NAN,
                ..base.clone()
            },
        ),
        (
            "iterations",
            TrainConfig {
                iterations: 0,
                ..base.clone()
            },
        ),
        (
            "epochs",
            TrainConfig {
                epochs: Some(0),
                ..base.clone()
            },
        ),
        (
            "warmup_fraction",
            TrainConfig {
                warmup_fraction: 1.0,
                ..base.clone()
            },
        ),
        (
            "warmup_fraction",
            TrainConfig {
                warmup_fraction: -0.1,
                ..base.clone()
            },
        ),
    ];
    let root = tempfile::tempdir().unwrap();
    for (words, cfg) in cases {
        let dir = root.path().join("ck");
        refused(
            try_run(&ds, &cfg, &dir, None, None),
            "train.config",
            words,
            &dir,
        );
    }
}

#[test]
fn batch_larger_than_the_training_split_is_refused() {
    let ds = pages(24);
    assert_eq!(ds.train.len(), 27);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ck");
    let cfg = TrainConfig {
        batch_size: 28,
        ..config(ModelKind::Base)
    };
    refused(
        try_run(&ds, &cfg, &dir, None, None),
        "train.config",
        "batch_size 28 exceeds the 27 images",
        &dir,
    );
    // The whole split as one batch is still a batch.
    let whole = TrainConfig {
        batch_size: 27,
        iterations: 1,
        ..config(ModelKind::Base)
    };
    assert_eq!(run(&ds, &whole, &dir, None, None).0.summary.iterations, 1);
}

#[test]
fn unreadable_checkpoints_are_refused() {
    let ds = pages(24);
    let cfg = TrainConfig {
        iterations: 2,
        ..config(ModelKind::Base)
    };
    let root = tempfile::tempdir().unwrap();
    let (done, _) = run(&ds, &cfg, &root.path().join("first"), None, None);
    let sidecar = done.summary.checkpoint.clone();
    let weights = sidecar.with_extension("safetensors");
    let (json, tensors) = (
        std::fs::read(&sidecar).unwrap(),
        std::fs::read(&weights).unwrap(),
    );
    let resume = |case: &str, json: &[u8], tensors: &[u8]| {
        let dir = root.path().join(case);
        std::fs::create_dir(&dir).unwrap();
        let stem = dir.join("ck");
        std::fs::write(stem.with_extension("json"), json).unwrap();
        std::fs::write(stem.with_extension("safetensors"), tensors).unwrap();
        let out = dir.join("out");
        (
            try_run(&ds, &cfg, &out, Some(&stem.with_extension("json")), None),
            out,
        )
    };
    let text = String::from_utf8(json.clone()).unwrap();
    let cases: [(&str, Vec<u8>, Vec<u8>, &str); 4] = [
        (
            "cut-json",
            json[..json.len() / 2].to_vec(),
            tensors.clone(),
            "ck.json",
        ),
        (
            "cut-weights",
            json.clone(),
            tensors[..tensors.len() / 2].to_vec(),
            "ck.safetensors",
        ),
        (
            "other-format",
            text.replace("trainyard-checkpoint-v1", "trainyard-checkpoint-v0")
                .into_bytes(),
            tensors.clone(),
            "is not trainyard-checkpoint-v1",
        ),
        ("no-weights", json.clone(), b"{}".to_vec(), "ck.safetensors"),
    ];
    for (case, json, tensors, words) in cases {
        let (result, out) = resume(case, &json, &tensors);
        refused(result, "train.checkpoint", words, &out);
    }
    // The same files, intact, resume.
    let (result, _) = resume("intact", &json, &tensors);
    assert_eq!(result.unwrap().0.summary.iterations, 2);
    // A checkpoint that is not there at all is an IO error naming it.
    let missing = root.path().join("missing.json");
    let out = root.path().join("missing-out");
    refused(
        try_run(&ds, &cfg, &out, Some(&missing), None),
        "train.io",
        "missing.json",
        &out,
    );
}

#[test]
fn checkpoint_of_another_dataset_is_refused() {
    let ds = pages(24);
    let cfg = config(ModelKind::Base);
    let root = tempfile::tempdir().unwrap();
    let (_, events) = run(&ds, &cfg, &root.path().join("first"), None, Some(2));
    let Some(trainyard_engine::train::Progress::Checkpoint { path, .. }) =
        events.iter().rev().nth(1)
    else {
        panic!("a stop ends with a checkpoint");
    };
    // Same classes, size and split sizes, other pages.
    let other = synth::dataset(3, 12, 24, 22, 0.25).unwrap();
    assert_eq!(other.classes, ds.classes);
    let out = root.path().join("other");
    refused(
        try_run(&other, &cfg, &out, Some(path), None),
        "train.checkpoint",
        "another dataset",
        &out,
    );
    // Its own dataset resumes it.
    assert_eq!(
        run(&ds, &cfg, &out, Some(path), None).0.summary.iterations,
        24
    );
}

//! MNIST: `base` must reach at least 99.0 % on the full 10,000-image test set, training on the
//! CPU with one thread.
//!
//! Budget: 4 epochs of 60,000 images (batch 64, AdamW, warm-up then cosine decay, no
//! augmentation); planned to finish within 4 minutes in the dev profile on the 2-core CI machine.

use std::path::Path;
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::mnist;
use trainyard_engine::model::ModelKind;
use trainyard_engine::train::{self, DeviceChoice, Progress, RunOptions, TrainConfig};

#[test]
fn base_reaches_99_percent_on_mnist() {
    tch::set_num_threads(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard/data/mnist");
    let dataset = mnist::load(&dir, None).expect("run scripts/setup.sh data first");
    assert_eq!((dataset.train.len(), dataset.test.len()), (60_000, 10_000));
    let config = TrainConfig {
        model: ModelKind::Base,
        augmentation: Augmentation::None,
        learning_rate: 0.003,
        epochs: Some(4),
        batch_size: 64,
        device: DeviceChoice::Cpu,
        threads: Some(1),
        seed: 1,
        eval_batch_size: 500,
        ..TrainConfig::default()
    };
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        checkpoint_dir: out.path().to_path_buf(),
        ..RunOptions::default()
    };
    let started = std::time::Instant::now();
    let outcome = train::train(&dataset, &config, &options, &mut |e| {
        if let Progress::Epoch(m) = e {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "epoch {}: {:.2}% (test loss {:.4}) at {secs:.0} s",
                m.epoch,
                m.test_accuracy * 100.0,
                m.test_loss
            );
        }
    })
    .unwrap();
    let accuracy = outcome.summary.test_accuracy.unwrap();
    eprintln!(
        "MNIST: {:.2}% in {:.0} s",
        accuracy * 100.0,
        outcome.summary.wall_secs
    );
    assert!(accuracy >= 0.99, "test accuracy {accuracy}");
}

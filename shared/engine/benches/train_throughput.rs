//! Training throughput (images/s) of `base` against a PyTorch eager script of the same network,
//! batch, augmentation, optimizer and thread count, run alternately on the same machine.
//!
//! `cargo bench -p trainyard-engine --bench train_throughput`; PyTorch comes from
//! `.trainyard/bench-venv` (see `scripts/bench_torch_setup.sh`) and is skipped when absent.
//! Settings: 1×64×64 synthetic pages, 5 classes, batch 32, `rotations_exposure_noise`, AdamW,
//! 10 warm-up then 50 timed iterations per run, 5 runs per engine and thread count (medians).

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use trainyard_engine::augment::Augmentation;
use trainyard_engine::model::ModelKind;
use trainyard_engine::synth;
use trainyard_engine::train::{self, DeviceChoice, Progress, RunOptions, TrainConfig};

const BATCH: usize = 32;
const SIZE: u32 = 64;
const WARMUP: u64 = 10;
const ITERATIONS: u64 = 60;
/// Runs per engine and thread count; `TRAINYARD_BENCH_RUNS` overrides.
fn runs() -> usize {
    std::env::var("TRAINYARD_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn trainyard(ds: &trainyard_engine::data::Dataset, threads: usize) -> f64 {
    let config = TrainConfig {
        model: ModelKind::Base,
        augmentation: Augmentation::RotationsExposureNoise,
        iterations: ITERATIONS,
        batch_size: BATCH,
        device: DeviceChoice::Cpu,
        threads: Some(threads),
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let options = RunOptions {
        checkpoint_dir: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    let (mut start, mut end) = (None, None);
    train::train(ds, &config, &options, &mut |e| {
        if let Progress::Iteration { iteration, .. } = e {
            if *iteration == WARMUP {
                start = Some(Instant::now());
            } else if *iteration == ITERATIONS {
                end = Some(Instant::now());
            }
        }
    })
    .expect("training runs");
    let secs = end
        .zip(start)
        .map(|(e, s)| (e - s).as_secs_f64())
        .unwrap_or(f64::NAN);
    (ITERATIONS - WARMUP) as f64 * BATCH as f64 / secs
}

fn pytorch(python: &Path, threads: usize, channels_last: bool) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_torch.py");
    let out = Command::new(python)
        .arg(script)
        .args([
            "--threads",
            &threads.to_string(),
            "--batch",
            &BATCH.to_string(),
            "--size",
            &SIZE.to_string(),
        ])
        .args([
            "--warmup",
            &WARMUP.to_string(),
            "--iterations",
            &ITERATIONS.to_string(),
        ])
        .args(channels_last.then_some("--channels-last"))
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("images_per_sec "))
        .and_then(|v| v.trim().parse().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let ds = synth::dataset(5, 500, SIZE, 1, 0.02).expect("synthetic pages");
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard/bench-venv/bin/python");
    let python = python.exists().then_some(python);
    if python.is_none() {
        eprintln!(
            "no .trainyard/bench-venv: PyTorch column skipped (scripts/bench_torch_setup.sh)"
        );
    }
    let runs = runs();
    println!("| threads | trainyard | PyTorch eager (NCHW) | ratio | PyTorch eager, channels_last | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for threads in [1, 2] {
        let (mut ours, mut nchw, mut nhwc) = (Vec::new(), Vec::new(), Vec::new());
        // Interleaved, so drifting background load touches every column alike.
        for _ in 0..runs {
            ours.push(trainyard(&ds, threads));
            if let Some(p) = python.as_deref() {
                nchw.extend(pytorch(p, threads, false));
                nhwc.extend(pytorch(p, threads, true));
            }
        }
        let (a, b, c) = (median(ours), median(nchw), median(nhwc));
        println!(
            "| {threads} | {a:.0} | {b:.0} | {:.2}× | {c:.0} | {:.2}× |",
            a / b,
            a / c
        );
    }
    println!("(images/s, medians of {runs} runs each)");
}

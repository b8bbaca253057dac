//! Training throughput (images/s) of `base` against a PyTorch eager script of the same network,
//! batch, augmentation, optimizer and thread count, run alternately on the same machine: as
//! written (NCHW) and hand-converted to channels-last, the layout the engine keeps, which is the
//! like-for-like comparison and the headline ratio.
//!
//! `cargo bench -p trainyard-engine --bench train_throughput`; PyTorch comes from
//! `.trainyard/bench-venv` (see `scripts/bench_torch_setup.sh`); without it, or when the script
//! fails, the benchmark fails. Settings: 1×64×64 synthetic pages, 5 classes, batch 32,
//! `rotations_exposure_noise`, AdamW, 10 warm-up then 50 timed iterations per run, 5 runs per
//! engine and thread count (`TRAINYARD_BENCH_RUNS`); every run is printed, then the medians.

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
    let (Some(start), Some(end)) = (start, end) else {
        panic!("training reported no iterations {WARMUP} and {ITERATIONS}");
    };
    (ITERATIONS - WARMUP) as f64 * BATCH as f64 / (end - start).as_secs_f64()
}

/// Images/s of one run of `scripts/bench_torch.py`; panics with its output when it fails.
fn pytorch(python: &Path, threads: usize, channels_last: bool) -> f64 {
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
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("images_per_sec "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r > 0.0);
    match (out.status.success(), rate) {
        (true, Some(rate)) => rate,
        _ => panic!(
            "bench_torch.py failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let ds = synth::dataset(5, 500, SIZE, 1, 0.02).expect("synthetic pages");
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard/bench-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bench_torch_setup.sh",
        python.display()
    );
    let runs = runs();
    println!("load average at start: {}", load_average());
    let mut table = Vec::new();
    for threads in [1, 2] {
        let (mut ours, mut nhwc, mut nchw) = (Vec::new(), Vec::new(), Vec::new());
        // Interleaved, so drifting background load touches every column alike.
        for run in 1..=runs {
            ours.push(trainyard(&ds, threads));
            nhwc.push(pytorch(&python, threads, true));
            nchw.push(pytorch(&python, threads, false));
            println!(
                "threads {threads}, run {run}: trainyard {:.0}, PyTorch channels_last {:.0}, PyTorch NCHW {:.0} (load {})",
                ours[run - 1],
                nhwc[run - 1],
                nchw[run - 1],
                load_average()
            );
        }
        table.push((threads, ours, nhwc, nchw));
    }
    println!();
    println!("| threads | trainyard | PyTorch eager, channels_last | ratio | PyTorch eager (NCHW) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for (threads, ours, nhwc, nchw) in &table {
        let (a, b, c) = (
            median(ours.clone()),
            median(nhwc.clone()),
            median(nchw.clone()),
        );
        println!(
            "| {threads} | {a:.0} | {b:.0} | {:.2}× | {c:.0} | {:.2}× |",
            a / b,
            a / c
        );
    }
    println!(
        "(images/s, medians of {runs} runs each; load average at end: {})",
        load_average()
    );
    for (threads, ours, nhwc, nchw) in &table {
        println!(
            "runs, {threads} thread(s): trainyard [{}], channels_last [{}], NCHW [{}]",
            list(ours),
            list(nhwc),
            list(nchw)
        );
    }
}

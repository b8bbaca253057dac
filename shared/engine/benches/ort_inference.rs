//! Inference throughput of zoo models exported by the engine (`base` and `resnet18` on 1×64×64
//! pages, 5 classes, through the production `to_onnx`), run from Rust through
//! `trainyard_onnx::Session` against Python onnxruntime (`scripts/bench_ort.py`) on the same
//! model file, thread counts, batch sizes and timing method: warm-up, then repetitions of at
//! least `MIN_SECONDS` each, Rust and Python repetitions interleaved (the order alternating),
//! median images/s per side, and the range of the per-repetition ratios.
//!
//! Run: `cargo bench -p trainyard-engine --bench ort_inference` (`TRAINYARD_BENCH_REPS`
//! overrides the 9 repetitions).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use trainyard_engine::data::{Preprocess, ResizeMode};
use trainyard_engine::export::to_onnx;
use trainyard_engine::model::{Model, ModelKind, ModelSpec};
use trainyard_onnx::Session;

const THREADS: [usize; 2] = [1, 2];
const BATCHES: [usize; 2] = [1, 32];
const MIN_SECONDS: f64 = 0.3;
const SIDE: u32 = 64;
const CLASSES: usize = 5;

fn reps() -> usize {
    std::env::var("TRAINYARD_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Writes the ONNX export of a freshly initialised zoo model; returns its size in bytes.
fn export(kind: ModelKind, path: &Path) -> u64 {
    let pre = Preprocess {
        channels: 1,
        height: SIDE,
        width: SIDE,
        resize: ResizeMode::Stretch,
        mean: vec![0.5],
        std: vec![0.25],
    };
    let spec = ModelSpec {
        kind,
        channels: 1,
        height: SIDE.into(),
        width: SIDE.into(),
        classes: CLASSES as i64,
    };
    let model = Model::new(spec, tch::Device::Cpu, 1);
    let classes: Vec<String> = (0..CLASSES).map(|c| format!("class{c}")).collect();
    let onnx = to_onnx(&model, &classes, &pre).expect("export");
    onnx.write(path).expect("write model").size_bytes
}

/// Rust side of one configuration: input data for `batch` images, after 3 warm-up runs.
fn rust_feed(session: &Session, batch: usize) -> (Vec<usize>, Vec<f32>) {
    let shape = vec![batch, 1, SIDE as usize, SIDE as usize];
    let n: usize = shape.iter().product();
    // Values do not affect a dense CNN's speed; a fixed pattern keeps runs reproducible.
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    for _ in 0..3 {
        session.run_f32("input", &shape, &data).expect("inference");
    }
    (shape, data)
}

/// One repetition, mirroring `repetition` in `scripts/bench_ort.py`: whole-batch runs for at
/// least `MIN_SECONDS`, as images/s.
fn rust_repetition(session: &Session, shape: &[usize], data: &[f32]) -> f64 {
    let start = Instant::now();
    let mut runs = 0;
    loop {
        session.run_f32("input", shape, data).expect("inference");
        runs += 1;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= MIN_SECONDS {
            return (runs * shape[0]) as f64 / elapsed;
        }
    }
}

/// `scripts/bench_ort.py --serve` on the same model: one repetition per request.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn start(model: &Path, threads: usize) -> (Self, String) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let home = std::env::var_os("TRAINYARD_HOME")
            .map_or_else(|| root.join(".trainyard"), PathBuf::from);
        let mut child = Command::new(home.join("venv/bin/python"))
            .arg(root.join("scripts/bench_ort.py"))
            .arg(model)
            .args(["--threads", &threads.to_string(), "--serve"])
            .args(["--min-seconds", &MIN_SECONDS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run scripts/bench_ort.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut python = Self {
            child,
            stdin,
            stdout,
        };
        let hello = python.read_json();
        let version = hello["onnxruntime"].as_str().unwrap_or("?").to_owned();
        (python, version)
    }

    fn repetition(&mut self, batch: usize) -> f64 {
        writeln!(self.stdin, "{batch}").expect("write to bench_ort.py");
        self.read_json()["images_per_s"]
            .as_f64()
            .expect("images_per_s")
    }

    fn read_json(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from bench_ort.py");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bench_ort.py said {line:?}: {e}"))
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Kill rather than wait for end of input: `stdin` is only closed after this runs.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    tch::set_num_threads(1);
    let reps = reps();
    let dir = tempfile::tempdir().expect("temp dir");
    println!("load average at start: {}", load_average());
    println!(
        "median of {reps} interleaved repetitions of ≥{MIN_SECONDS} s each, after 3 warm-up runs\n"
    );
    println!("| model (ONNX bytes) | intra-op threads | batch | Rust (images/s) | Python (images/s) | Rust/Python | per-repetition ratios |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let mut version = String::new();
    for kind in ModelKind::ALL {
        let path = dir.path().join(format!("{}.onnx", kind.as_str()));
        let bytes = export(kind, &path);
        for threads in THREADS {
            let session = Session::from_file(&path, threads).expect("session");
            let (mut python, v) = Python::start(&path, threads);
            version = v;
            for batch in BATCHES {
                let (shape, data) = rust_feed(&session, batch);
                let (mut rust, mut py) = (Vec::new(), Vec::new());
                // Alternate which side goes first so drifting background load hits both alike.
                for rep in 0..reps {
                    if rep % 2 == 0 {
                        rust.push(rust_repetition(&session, &shape, &data));
                        py.push(python.repetition(batch));
                    } else {
                        py.push(python.repetition(batch));
                        rust.push(rust_repetition(&session, &shape, &data));
                    }
                }
                let ratios: Vec<f64> = rust.iter().zip(&py).map(|(r, p)| r / p).collect();
                let (lo, hi) = ratios
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
                let (r, p) = (median(rust), median(py));
                println!(
                    "| {} ({bytes}) | {threads} | {batch} | {r:.0} | {p:.0} | {:.2}× | {lo:.2}–{hi:.2} |",
                    kind.as_str(),
                    r / p
                );
            }
        }
    }
    println!(
        "\nPython onnxruntime {version}; load average at end: {}",
        load_average()
    );
}

//! `trainyard-train`: trains a zoo model on an ImageFolder folder/ZIP (or MNIST CSVs), showing
//! progress, and writes `model.onnx` (verified against libtorch), the last checkpoint,
//! `metrics.jsonl` and `curves.png` into the output folder.

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::{self, LoadOptions, ResizeMode};
use trainyard_engine::model::ModelKind;
use trainyard_engine::train::{
    self, DeviceChoice, OptimizerKind, Progress, RunOptions, TrainConfig,
};
use trainyard_engine::{export, plot};

#[derive(Debug, Parser)]
#[command(version, about = "Train an image classifier and export it to ONNX")]
struct Args {
    /// ImageFolder dataset: a folder or a ZIP with one folder per class.
    #[arg(
        long,
        conflicts_with = "mnist_csv",
        required_unless_present = "mnist_csv"
    )]
    data: Option<PathBuf>,
    /// Folder with mnist_train.csv and mnist_test.csv, instead of --data.
    #[arg(long)]
    mnist_csv: Option<PathBuf>,
    #[arg(long, default_value = "base")]
    model: ModelKind,
    #[arg(long, default_value = "rotations_exposure_noise")]
    augment: Augmentation,
    /// Optimizer steps (ignored when --epochs is given).
    #[arg(long, default_value_t = 1000)]
    iterations: u64,
    #[arg(long)]
    epochs: Option<u64>,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Peak learning rate (after the warm-up).
    #[arg(long, default_value_t = 0.005)]
    lr: f64,
    #[arg(long, default_value = "adamw")]
    optimizer: OptimizerKind,
    #[arg(long, default_value = "cuda")]
    device: DeviceChoice,
    /// libtorch threads (and ONNX Runtime threads during verification).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Square input side in pixels (default: from the data).
    #[arg(long)]
    image_size: Option<u32>,
    /// Force 1 (grayscale) or 3 (RGB) input channels.
    #[arg(long)]
    channels: Option<u32>,
    /// stretch or fit_pad.
    #[arg(long, default_value = "stretch")]
    resize: String,
    #[arg(long, default_value_t = 0.2)]
    test_split: f64,
    /// Continue an interrupted run from this checkpoint (.json or .safetensors).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Start from the weights of this checkpoint (continued training).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Folder for the decoded-dataset cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tch::set_num_threads(args.threads.max(1) as i32);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let dataset = load(&args)?;
    eprintln!(
        "{} classes, {} training and {} test images, input {}x{}x{}",
        dataset.classes.len(),
        dataset.train.len(),
        dataset.test.len(),
        dataset.preprocess.channels,
        dataset.preprocess.height,
        dataset.preprocess.width
    );
    let config = TrainConfig {
        model: args.model,
        augmentation: args.augment,
        optimizer: args.optimizer,
        learning_rate: args.lr,
        iterations: args.iterations,
        epochs: args.epochs,
        batch_size: args.batch,
        device: args.device,
        threads: Some(args.threads),
        seed: args.seed,
        ..TrainConfig::default()
    };
    let options = RunOptions {
        checkpoint_dir: args.out.join("checkpoints"),
        resume: args.resume.clone(),
        init_from: args.init_from.clone(),
        ..RunOptions::default()
    };
    let outcome = run(&dataset, &config, &options, &args.out)?;
    let last = outcome.summary.checkpoint.clone();
    copy_checkpoint(&last, &args.out)?;
    std::fs::write(
        args.out.join("curves.png"),
        plot::render_png(&outcome.history)?,
    )?;
    let onnx = args.out.join("model.onnx");
    let report = export::export_and_verify(
        &outcome.model,
        &dataset.classes,
        &outcome.preprocess,
        &dataset.test,
        &onnx,
        args.threads,
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({ "summary": outcome.summary, "verification": report })
        )?
    );
    Ok(())
}

fn load(args: &Args) -> Result<data::Dataset> {
    if let Some(dir) = &args.mnist_csv {
        return Ok(data::mnist::load(dir, None)?);
    }
    let resize = match args.resize.as_str() {
        "stretch" => ResizeMode::Stretch,
        "fit_pad" => ResizeMode::FitPad,
        other => bail!("unknown resize mode {other:?} (stretch, fit_pad)"),
    };
    let options = LoadOptions {
        image_size: args.image_size,
        channels: args.channels,
        resize,
        test_split: args.test_split,
        seed: args.seed,
        cache_dir: args.cache.clone(),
        ..LoadOptions::default()
    };
    let path = args.data.as_deref().unwrap_or(Path::new("."));
    data::load(path, &options).map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))
}

fn run(
    dataset: &data::Dataset,
    config: &TrainConfig,
    options: &RunOptions,
    out: &Path,
) -> Result<train::TrainOutcome> {
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("metrics.jsonl"))?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} it  epoch {prefix}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut write_error = None;
    let outcome = train::train(dataset, config, options, &mut |event| {
        match event {
            Progress::Iteration {
                iteration,
                total_iterations,
                epoch,
                lr,
                loss,
                images_per_sec,
                eta_secs,
            } => {
                bar.set_length(*total_iterations);
                bar.set_position(*iteration);
                bar.set_prefix(epoch.to_string());
                bar.set_message(format!(
                    "loss {loss:.4}  lr {lr:.2e}  {images_per_sec:.0} img/s  eta {eta_secs:.0}s"
                ));
            }
            Progress::Epoch(m) => bar.println(format!(
                "epoch {}: test accuracy {:.2}%  test loss {:.4}  train loss {:.4}",
                m.epoch,
                m.test_accuracy * 100.0,
                m.test_loss,
                m.train_loss_avg
            )),
            Progress::Checkpoint { path, .. } => {
                bar.println(format!("checkpoint {}", path.display()))
            }
            Progress::Finished(_) => bar.finish_and_clear(),
        }
        let line = serde_json::to_string(event).unwrap_or_default();
        if let Err(e) = writeln!(metrics, "{line}") {
            write_error.get_or_insert(e);
        }
    })
    .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
    if let Some(e) = write_error {
        return Err(e).context("writing metrics.jsonl");
    }
    Ok(outcome)
}

fn copy_checkpoint(sidecar: &Path, out: &Path) -> Result<()> {
    let (weights, json) = train::checkpoint::paths(sidecar);
    std::fs::copy(&weights, out.join("checkpoint.safetensors"))
        .with_context(|| format!("copying {}", weights.display()))?;
    std::fs::copy(&json, out.join("checkpoint.json"))
        .with_context(|| format!("copying {}", json.display()))?;
    Ok(())
}

//! After training: `model.onnx` written and verified by the engine (ONNX Runtime against libtorch
//! on every test image), the weights as safetensors, and the verification samples the registry
//! checks the model against again: a safetensors file with
//!
//! * `input` — f32 `[n, channels, height, width]`, the ONNX input exactly (pixels scaled to 0–1),
//! * `labels` — i64 `[n]`, the true class of each image,
//! * `logits`, `probabilities` — f32 `[n, classes]`, libtorch's outputs.
//!
//! The worker runs ONNX Runtime on the samples itself and holds both differences to the engine's
//! bound: those are the parity figures the model carries.

use std::path::PathBuf;

use tch::{Device, Kind, Tensor};
use trainyard_core::contracts::model::Parity;
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_engine::data::Dataset;
use trainyard_engine::export::{self as engine_export, ExportError, VerificationReport, TOLERANCE};
use trainyard_engine::model::Model;
use trainyard_engine::train::eval::{predict_logits, scale};
use trainyard_engine::train::{EpochMetrics, Summary, TrainOutcome};
use trainyard_onnx::Session;

use super::engine::{Job, JobEvent};
use super::failure::fail;
use crate::device::device_name;

/// A trained, exported and verified model, its files in the attempt's folder.
#[derive(Debug)]
pub struct Trained {
    pub onnx: PathBuf,
    pub weights: PathBuf,
    pub samples: PathBuf,
    pub parity: Parity,
    pub verification: VerificationReport,
    pub summary: Summary,
    pub last_epoch: EpochMetrics,
    pub epochs: u64,
    pub preprocess: trainyard_engine::data::Preprocess,
    pub labels: Vec<String>,
    pub test_images: u64,
    pub train_images: u64,
    pub device: String,
}

pub fn export(
    outcome: &TrainOutcome,
    dataset: &Dataset,
    job: &Job,
    send: &dyn Fn(JobEvent),
) -> Result<Trained, Failure> {
    let out = job.dir.join("model");
    std::fs::create_dir_all(&out).map_err(|e| {
        fail(
            "worker.io",
            RunStage::Exporting,
            format!("{}: {e}", out.display()),
        )
    })?;
    send(JobEvent::Stage(RunStage::Exporting));
    let onnx = out.join("model.onnx");
    let verification = engine_export::export_and_verify(
        &outcome.model,
        &dataset.classes,
        &outcome.preprocess,
        &dataset.test,
        &onnx,
        job.threads,
    )
    .map_err(export_failure)?;
    tracing::info!(
        images = verification.images,
        max_abs_prob_diff = verification.max_abs_diff,
        max_abs_logit_diff = verification.max_abs_logit_diff,
        max_abs_logit = verification.max_abs_logit,
        "ONNX verified on the test images"
    );
    send(JobEvent::Stage(RunStage::Verifying));
    let samples = out.join("samples.safetensors");
    let parity = write_samples(
        &outcome.model,
        dataset,
        &outcome.preprocess,
        job,
        &onnx,
        &samples,
    )?;
    let weights = out.join("weights.safetensors");
    write_weights(&outcome.model, &weights)?;
    let last_epoch = outcome.history.last().cloned().ok_or_else(|| {
        fail(
            "worker.internal",
            RunStage::Exporting,
            "training ended without evaluating the model",
        )
    })?;
    Ok(Trained {
        onnx,
        weights,
        samples,
        parity,
        verification,
        summary: outcome.summary.clone(),
        last_epoch,
        epochs: outcome.history.len() as u64,
        preprocess: outcome.preprocess.clone(),
        labels: dataset.classes.clone(),
        test_images: dataset.test.len() as u64,
        train_images: dataset.train.len() as u64,
        device: device_name(outcome.model.vs.device()),
    })
}

fn export_failure(error: ExportError) -> Failure {
    let stage = match error {
        ExportError::Parity { .. } | ExportError::Accuracy { .. } => RunStage::Verifying,
        _ => RunStage::Exporting,
    };
    fail(error.code(), stage, error.to_string())
}

/// The model's variables under their PyTorch names, on the CPU.
fn write_weights(model: &Model, path: &std::path::Path) -> Result<(), Failure> {
    let tensors: Vec<(String, Tensor)> = model
        .named_tensors()
        .into_iter()
        .map(|(name, t)| (name, t.to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&tensors, path).map_err(|e| {
        fail(
            "worker.io",
            RunStage::Exporting,
            format!("weights not written: {}", first_line(&e.to_string())),
        )
    })
}

fn write_samples(
    model: &Model,
    dataset: &Dataset,
    pre: &trainyard_engine::data::Preprocess,
    job: &Job,
    onnx: &std::path::Path,
    path: &std::path::Path,
) -> Result<Parity, Failure> {
    let verifying = |message: String| fail("export.onnx", RunStage::Verifying, message);
    let n = (job.samples as i64).min(dataset.test.len() as i64);
    let images = dataset.test.images.narrow(0, 0, n);
    let labels = dataset.test.labels.narrow(0, 0, n).contiguous();
    let input = scale(&images, Device::Cpu).contiguous();
    let logits = predict_logits(model, &images, pre, 256).contiguous();
    let probabilities = logits.softmax(1, Kind::Float).contiguous();
    let bytes = std::fs::read(onnx).map_err(|e| verifying(e.to_string()))?;
    let session = Session::from_bytes(&bytes, job.threads).map_err(|e| verifying(e.to_string()))?;
    let shape: Vec<usize> = input.size().iter().map(|&d| d as usize).collect();
    let data = Vec::<f32>::try_from(input.view(-1)).map_err(|e| verifying(e.to_string()))?;
    let out = session
        .run_f32("input", &shape, &data)
        .map_err(|e| verifying(e.to_string()))?;
    let diff = |name: &str, torch: &Tensor| -> Result<f64, Failure> {
        let (dims, values) = out
            .get(name)
            .ok_or_else(|| verifying(format!("the ONNX model has no `{name}` output")))?;
        let onnx = Tensor::from_slice(values).view([dims[0] as i64, dims[1] as i64]);
        Ok((onnx - torch).abs().max().double_value(&[]))
    };
    let parity = Parity {
        samples: n as u64,
        max_abs_prob_diff: diff("probabilities", &probabilities)?,
        max_abs_logit_diff: diff("logits", &logits)?,
        bound: TOLERANCE,
    };
    let held = |d: f64| d.is_finite() && d <= parity.bound;
    if !held(parity.max_abs_prob_diff) || !held(parity.max_abs_logit_diff) {
        return Err(fail(
            "export.parity",
            RunStage::Verifying,
            format!(
                "on the verification samples ONNX Runtime and libtorch differ by up to {:e} \
                 (probabilities) and {:e} (logits); the bound is {:e}",
                parity.max_abs_prob_diff, parity.max_abs_logit_diff, parity.bound
            ),
        ));
    }
    let tensors = [
        ("input", input),
        ("labels", labels),
        ("logits", logits),
        ("probabilities", probabilities),
    ];
    Tensor::write_safetensors(&tensors, path).map_err(|e| {
        verifying(format!(
            "samples not written: {}",
            first_line(&e.to_string())
        ))
    })?;
    Ok(parity)
}

fn first_line(message: &str) -> String {
    trainyard_engine::data::error::first_line(message)
}

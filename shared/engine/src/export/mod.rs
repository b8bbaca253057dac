//! ONNX export of every zoo model through `trainyard-onnx`, and its verification with ONNX
//! Runtime against libtorch on the test images.
//!
//! The ONNX input `input` is `[batch, C, H, W]` float pixels scaled to [0, 1] after the
//! recorded resize and channel conversion; normalisation `(x - mean) / std` is folded into the
//! graph (and also recorded in `metadata_props`). BatchNorm uses its running statistics.
//! Outputs: `logits` and `probabilities` (softmax), both `[batch, classes]`.

mod graph;

pub use graph::to_onnx;

use crate::data::{Preprocess, Split};
use crate::model::Model;
use crate::train::eval::{predict_logits, scale};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};
use trainyard_onnx::Session;

/// Largest accepted |ONNX − libtorch| over all test probabilities; logits are held to the same
/// bound times their scale (the largest |logit|, at least 1), since saturated probabilities
/// hide logit errors and a shift of every logit leaves the probabilities alone.
pub const TOLERANCE: f64 = 1e-4;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("ONNX: {message}")]
    Onnx { message: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("ONNX and libtorch {output} differ by up to {max_abs_diff:e} (limit {tolerance:e})")]
    Parity {
        /// `probabilities` or `logits`.
        output: &'static str,
        max_abs_diff: f64,
        tolerance: f64,
    },
    #[error("ONNX test accuracy {onnx} differs from libtorch's {torch}")]
    Accuracy { onnx: f64, torch: f64 },
}

impl ExportError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Onnx { .. } => "export.onnx",
            Self::Io { .. } => "export.io",
            Self::Parity { .. } => "export.parity",
            Self::Accuracy { .. } => "export.accuracy",
        }
    }
}

pub(crate) fn onnx_err(e: impl std::fmt::Display) -> ExportError {
    ExportError::Onnx {
        message: crate::data::error::first_line(&e.to_string()),
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationReport {
    pub images: usize,
    /// Largest |ONNX − libtorch| over all test probabilities.
    pub max_abs_diff: f64,
    pub tolerance: f64,
    /// Largest |ONNX − libtorch| over all logits, the largest |logit| and the bound the logit
    /// difference was held to ([`TOLERANCE`] × max(1, largest |logit|)).
    pub max_abs_logit_diff: f64,
    pub max_abs_logit: f64,
    pub logit_tolerance: f64,
    pub onnx_accuracy: f64,
    pub torch_accuracy: f64,
    pub onnx_sha256: String,
    pub onnx_bytes: u64,
}

/// Writes `model.onnx` to `path`, then verifies it on `test` (see [`verify`]).
pub fn export_and_verify(
    model: &Model,
    classes: &[String],
    pre: &Preprocess,
    test: &Split,
    path: &Path,
    threads: usize,
) -> Result<VerificationReport, ExportError> {
    let onnx = to_onnx(model, classes, pre)?;
    onnx.write(path).map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    verify(path, model, pre, test, threads)
}

/// Runs the ONNX file with ONNX Runtime on every test image and compares with libtorch: the
/// largest probability and logit differences must be within [`TOLERANCE`] (logits: scaled) and
/// accuracies must be equal.
pub fn verify(
    path: &Path,
    model: &Model,
    pre: &Preprocess,
    test: &Split,
    threads: usize,
) -> Result<VerificationReport, ExportError> {
    let bytes = std::fs::read(path).map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let session = Session::from_bytes(&bytes, threads).map_err(onnx_err)?;
    let torch_logits = predict_logits(model, &test.images, pre, 256);
    let torch = torch_logits.softmax(1, Kind::Float);
    let n = test.len() as i64;
    let (mut parts, mut logit_parts) = (Vec::new(), Vec::new());
    for start in (0..n).step_by(256) {
        let chunk = scale(
            &test.images.narrow(0, start, 256.min(n - start)),
            tch::Device::Cpu,
        );
        let shape: Vec<usize> = chunk.size().iter().map(|&d| d as usize).collect();
        let data = Vec::<f32>::try_from(chunk.contiguous().view(-1)).map_err(onnx_err)?;
        let out = session.run_f32("input", &shape, &data).map_err(onnx_err)?;
        for (name, into) in [("probabilities", &mut parts), ("logits", &mut logit_parts)] {
            let (dims, values) = out
                .get(name)
                .ok_or_else(|| onnx_err(format!("no {name} output")))?;
            into.push(Tensor::from_slice(values).view([dims[0] as i64, dims[1] as i64]));
        }
    }
    let onnx = Tensor::cat(&parts, 0);
    let max_abs_logit_diff = (Tensor::cat(&logit_parts, 0) - &torch_logits)
        .abs()
        .max()
        .double_value(&[]);
    let max_abs_logit = torch_logits.abs().max().double_value(&[]);
    let max_abs_diff = (&onnx - &torch).abs().max().double_value(&[]);
    let accuracy = |p: &Tensor| {
        p.argmax(1, false)
            .eq_tensor(&test.labels)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[])
    };
    let (onnx_accuracy, torch_accuracy) = (accuracy(&onnx), accuracy(&torch));
    let logit_tolerance = TOLERANCE * max_abs_logit.max(1.0);
    for (output, diff, tolerance) in [
        ("probabilities", max_abs_diff, TOLERANCE),
        ("logits", max_abs_logit_diff, logit_tolerance),
    ] {
        // NaN compares false with everything, so it is refused by name.
        if diff.is_nan() || diff > tolerance {
            return Err(ExportError::Parity {
                output,
                max_abs_diff: diff,
                tolerance,
            });
        }
    }
    if onnx_accuracy != torch_accuracy {
        return Err(ExportError::Accuracy {
            onnx: onnx_accuracy,
            torch: torch_accuracy,
        });
    }
    use sha2::{Digest, Sha256};
    Ok(VerificationReport {
        images: test.len(),
        max_abs_diff,
        tolerance: TOLERANCE,
        max_abs_logit_diff,
        max_abs_logit,
        logit_tolerance,
        onnx_accuracy,
        torch_accuracy,
        onnx_sha256: hex::encode(Sha256::digest(&bytes)),
        onnx_bytes: bytes.len() as u64,
    })
}

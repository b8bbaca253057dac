//! Turning stored images into model inputs, batched inference, and the test-set metrics.

use crate::data::{Preprocess, Split};
use crate::model::Model;
use tch::{Device, Kind, Tensor};

/// `u8` images to normalised float inputs on `device`.
pub fn to_input(images: &Tensor, pre: &Preprocess, device: Device) -> Tensor {
    normalize(&scale(images, device), pre)
}

/// `u8` images to floats in [0, 1] on `device`.
pub fn scale(images: &Tensor, device: Device) -> Tensor {
    images.to_device(device).to_kind(Kind::Float) / 255.0
}

/// `(x - mean) / std` per channel.
pub fn normalize(x: &Tensor, pre: &Preprocess) -> Tensor {
    let shape = [1, pre.channels as i64, 1, 1];
    let mean = Tensor::from_slice(&pre.mean)
        .view(shape)
        .to_device(x.device());
    let std = Tensor::from_slice(&pre.std)
        .view(shape)
        .to_device(x.device());
    (x - mean) / std
}

/// Logits for every image, in eval mode, gathered on the CPU.
pub fn predict_logits(model: &Model, images: &Tensor, pre: &Preprocess, batch: usize) -> Tensor {
    let device = model.vs.device();
    let n = images.size()[0];
    let batch = batch.max(1) as i64;
    tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..n)
            .step_by(batch as usize)
            .map(|start| {
                let x = to_input(&images.narrow(0, start, batch.min(n - start)), pre, device);
                model.forward_t(&x, false).to_device(Device::Cpu)
            })
            .collect();
        Tensor::cat(&parts, 0)
    })
}

/// Test metrics of one evaluation pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub accuracy: f64,
    pub loss: f64,
    pub per_class_accuracy: Vec<f64>,
    pub confusion: Vec<Vec<u64>>,
}

pub fn evaluate(
    model: &Model,
    split: &Split,
    pre: &Preprocess,
    classes: usize,
    batch: usize,
) -> Evaluation {
    let logits = predict_logits(model, &split.images, pre, batch);
    let loss =
        logits.cross_entropy_loss::<Tensor>(&split.labels, None, tch::Reduction::Mean, -100, 0.0);
    let predicted = Vec::<i64>::try_from(logits.argmax(1, false)).unwrap_or_default();
    let truth = Vec::<i64>::try_from(&split.labels).unwrap_or_default();
    metrics(&truth, &predicted, classes, loss.double_value(&[]))
}

/// Accuracy, per-class accuracy and the confusion matrix of predictions.
pub fn metrics(truth: &[i64], predicted: &[i64], classes: usize, loss: f64) -> Evaluation {
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[t as usize][p as usize] += 1;
    }
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class_accuracy = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let total: u64 = row.iter().sum();
            if total == 0 {
                0.0
            } else {
                row[c] as f64 / total as f64
            }
        })
        .collect();
    let accuracy = correct as f64 / truth.len().max(1) as f64;
    Evaluation {
        accuracy,
        loss,
        per_class_accuracy,
        confusion,
    }
}

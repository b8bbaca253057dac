//! `base`: stages of 3×3 convolution, BatchNorm, ReLU and 2×2 max-pooling until the feature
//! map is small, then a two-layer classifier on the flattened map (which keeps the page layout
//! that global pooling would throw away). Costs grow with the input area only in the first,
//! narrow stages, which keeps it quick on a CPU.

use super::{batch_norm, conv, ModelSpec};
use tch::{nn, Tensor};

/// Channel widths of successive stages.
const WIDTHS: [i64; 5] = [16, 32, 64, 128, 256];
/// Hidden units of the classifier.
pub const HIDDEN: i64 = 128;

/// The stage widths and the final feature-map size for an input of `height`×`width`.
pub fn topology(height: i64, width: i64) -> (Vec<i64>, i64, i64) {
    let (mut h, mut w, mut widths) = (height, width, Vec::new());
    while h.min(w) > 6 && widths.len() < WIDTHS.len() {
        widths.push(WIDTHS[widths.len()]);
        h /= 2;
        w /= 2;
    }
    (widths, h, w)
}

#[derive(Debug)]
struct Stage {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

#[derive(Debug)]
pub(crate) struct BaseNet {
    stages: Vec<Stage>,
    fc1: nn::Linear,
    fc: nn::Linear,
}

impl BaseNet {
    pub fn new(root: &nn::Path, spec: &ModelSpec) -> Self {
        let (widths, h, w) = topology(spec.height, spec.width);
        let mut input = spec.channels;
        let mut stages = Vec::new();
        for (i, &out) in widths.iter().enumerate() {
            let p = root / "stages" / i;
            stages.push(Stage {
                conv: conv(&p / "conv", input, out, 3, 1, 1),
                bn: batch_norm(&p / "bn", out),
            });
            input = out;
        }
        let flat = input * h * w;
        let fc1 = nn::linear(root / "fc1", flat, HIDDEN, Default::default());
        let fc = nn::linear(root / "fc", HIDDEN, spec.classes, Default::default());
        BaseNet { stages, fc1, fc }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for s in &self.stages {
            x = x.apply(&s.conv).apply_t(&s.bn, train).relu().max_pool2d(
                [2, 2],
                [2, 2],
                [0, 0],
                [1, 1],
                false,
            );
        }
        x.flatten(1, -1).apply(&self.fc1).relu().apply(&self.fc)
    }
}

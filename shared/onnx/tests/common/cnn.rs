//! A representative CNN built with the builder: three conv + ReLU + max-pool blocks on
//! 1×64×64 images, then a linear layer to 10 classes, with seeded pseudo-random weights.

use trainyard_onnx::{ConvAttrs, Dim, GraphBuilder, OnnxModel};

/// Small deterministic generator (xorshift), so the model is the same on every run.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Top 24 bits → uniform in [-1, 1).
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_f32() * scale).collect()
    }
}

/// Builds the CNN with a dynamic batch dimension; input `input`, output `logits`.
pub fn build(seed: u64) -> OnnxModel {
    let mut rng = Rng(seed | 1);
    let mut g = GraphBuilder::new("trainyard-bench-cnn");
    let batch = || Dim::Dynamic("batch".into());
    let mut x = g.input(
        "input",
        &[batch(), Dim::Fixed(1), Dim::Fixed(64), Dim::Fixed(64)],
    );
    let mut channels = 1;
    for (i, out) in [16_i64, 32, 64].into_iter().enumerate() {
        let fan_in = (channels * 9) as f32;
        let w = g.initializer(
            &format!("conv{i}.weight"),
            &[out, channels, 3, 3],
            &rng.vec((out * channels * 9) as usize, fan_in.sqrt().recip()),
        );
        let b = g.initializer(
            &format!("conv{i}.bias"),
            &[out],
            &rng.vec(out as usize, 0.1),
        );
        x = g.conv(&x, &w, Some(&b), ConvAttrs::new(1, 1));
        x = g.relu(&x);
        x = g.max_pool(&x, [2, 2], [2, 2], [0, 0, 0, 0]);
        channels = out;
    }
    // 64 channels × 8 × 8 after three halvings of 64.
    let features = channels * 8 * 8;
    let flat = g.flatten(&x, 1);
    let w = g.initializer(
        "fc.weight",
        &[10, features],
        &rng.vec((10 * features) as usize, 0.02),
    );
    let b = g.initializer("fc.bias", &[10], &rng.vec(10, 0.1));
    let logits = g.gemm(&flat, &w, Some(&b), true);
    g.output("logits", &logits, &[batch(), Dim::Fixed(10)]);
    g.finish(&[
        (
            "labels",
            "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
        ),
        ("input_size", "64"),
        ("channels", "1"),
    ])
}

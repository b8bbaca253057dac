//! `resnet18`: torchvision's ResNet-18 (BasicBlocks 2-2-2-2, widths 64–512, BatchNorm) with the
//! stem adapted to the input: the 7×7 stride-2 convolution and max-pool for inputs of at least
//! 96 pixels, a 3×3 stride-1 convolution without pooling for smaller ones.

use super::{batch_norm, conv, ModelSpec};
use tch::{nn, Tensor};

pub const WIDTHS: [i64; 4] = [64, 128, 256, 512];
pub const STRIDES: [i64; 4] = [1, 2, 2, 2];
pub const BLOCKS: usize = 2;

/// True when the input is large enough for torchvision's downsampling stem.
pub fn large_stem(height: i64, width: i64) -> bool {
    height.min(width) >= 96
}

#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl Block {
    fn new(p: nn::Path, input: i64, out: i64, stride: i64) -> Self {
        let downsample = (stride != 1 || input != out).then(|| {
            (
                conv(&p / "downsample" / 0, input, out, 1, stride, 0),
                batch_norm(&p / "downsample" / 1, out),
            )
        });
        Block {
            conv1: conv(&p / "conv1", input, out, 3, stride, 1),
            bn1: batch_norm(&p / "bn1", out),
            conv2: conv(&p / "conv2", out, out, 3, 1, 1),
            bn2: batch_norm(&p / "bn2", out),
            downsample,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train);
        let shortcut = match &self.downsample {
            Some((c, bn)) => x.apply(c).apply_t(bn, train),
            None => x.shallow_clone(),
        };
        (y + shortcut).relu()
    }
}

#[derive(Debug)]
pub(crate) struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    large_stem: bool,
    blocks: Vec<Block>,
    fc: nn::Linear,
}

impl ResNet {
    pub fn new(root: &nn::Path, spec: &ModelSpec) -> Self {
        let large = large_stem(spec.height, spec.width);
        let conv1 = if large {
            conv(root / "conv1", spec.channels, 64, 7, 2, 3)
        } else {
            conv(root / "conv1", spec.channels, 64, 3, 1, 1)
        };
        let mut blocks = Vec::new();
        let mut input = 64;
        for (layer, (&out, &stride)) in WIDTHS.iter().zip(&STRIDES).enumerate() {
            for b in 0..BLOCKS {
                let p = root / format!("layer{}", layer + 1) / b;
                blocks.push(Block::new(p, input, out, if b == 0 { stride } else { 1 }));
                input = out;
            }
        }
        let fc = nn::linear(root / "fc", 512, spec.classes, Default::default());
        ResNet {
            conv1,
            bn1: batch_norm(root / "bn1", 64),
            large_stem: large,
            blocks,
            fc,
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        if self.large_stem {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for b in &self.blocks {
            x = b.forward_t(&x, train);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}

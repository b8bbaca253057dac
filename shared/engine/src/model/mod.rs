//! The model zoo: `base` (a small CNN for page images, quick on a CPU) and `resnet18`
//! (torchvision's topology, for GPUs). Variables are named as PyTorch names them, so weights
//! map one-to-one onto an equivalent PyTorch module and onto the exported ONNX initializers.

pub mod base;
pub mod resnet;

use crate::rng::{mix, stream_id, with_torch_seed};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    #[default]
    Base,
    Resnet18,
}

impl ModelKind {
    pub const ALL: [ModelKind; 2] = [ModelKind::Base, ModelKind::Resnet18];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Resnet18 => "resnet18",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown model {s:?} (base, resnet18)"))
    }
}

/// Architecture plus the input and output sizes it is built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub channels: i64,
    pub height: i64,
    pub width: i64,
    pub classes: i64,
}

#[derive(Debug)]
enum Net {
    Base(base::BaseNet),
    Resnet(Box<resnet::ResNet>),
}

/// A network with its variables.
#[derive(Debug)]
pub struct Model {
    pub spec: ModelSpec,
    pub vs: nn::VarStore,
    net: Net,
}

impl Model {
    /// Builds a freshly initialised network; the initial weights depend only on `seed`.
    pub fn new(spec: ModelSpec, device: Device, seed: u64) -> Model {
        let vs = nn::VarStore::new(device);
        let net = with_torch_seed(mix(seed, stream_id("init")), || match spec.kind {
            ModelKind::Base => Net::Base(base::BaseNet::new(&vs.root(), &spec)),
            ModelKind::Resnet18 => Net::Resnet(Box::new(resnet::ResNet::new(&vs.root(), &spec))),
        });
        let model = Model { spec, vs, net };
        model.use_channels_last();
        model
    }

    /// Stores every convolution kernel channels-last (NHWC strides); with inputs in the same
    /// layout, libtorch's CPU convolutions, BatchNorm and pooling run markedly faster.
    fn use_channels_last(&self) {
        tch::no_grad(|| {
            for (_, mut var) in self.named_tensors() {
                if var.dim() == 4 {
                    var.set_data(&channels_last(&var));
                }
            }
        });
    }

    /// Logits `[N, classes]` for normalised inputs `[N, C, H, W]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let x = channels_last(x);
        let x = &x;
        match &self.net {
            Net::Base(n) => n.forward_t(x, train),
            Net::Resnet(n) => n.forward_t(x, train),
        }
    }

    /// Every variable (weights and BatchNorm statistics), sorted by name.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut all: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Trainable variables, sorted by name.
    pub fn trainable(&self) -> Vec<(String, Tensor)> {
        self.named_tensors()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect()
    }

    /// Copies every given tensor whose name and shape match a variable; returns the names of
    /// variables left untouched (e.g. a classifier head sized for other classes).
    pub fn load_matching(&mut self, tensors: &[(String, Tensor)]) -> Vec<String> {
        let mut untouched = Vec::new();
        tch::no_grad(|| {
            for (name, mut var) in self.named_tensors() {
                match tensors
                    .iter()
                    .find(|(n, t)| *n == name && t.size() == var.size())
                {
                    Some((_, src)) => {
                        var.copy_(src);
                    }
                    None => untouched.push(name),
                }
            }
        });
        untouched
    }
}

/// The same values with channels-last strides (shape unchanged).
pub fn channels_last(t: &Tensor) -> Tensor {
    let size = t.size();
    let (c, h, w) = (size[1], size[2], size[3]);
    // Explicit strides rather than permuting back: with a single channel `contiguous` copies
    // nothing and the permuted view would keep NCHW strides, which libtorch treats as NCHW.
    let nhwc = t.permute([0, 2, 3, 1]).contiguous();
    nhwc.as_strided(
        size.as_slice(),
        [h * w * c, 1, w * c, c].as_slice(),
        None::<i64>,
    )
}

/// A PyTorch-default BatchNorm (weight 1, bias 0).
pub(crate) fn batch_norm(path: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        ..Default::default()
    };
    nn::batch_norm2d(path, channels, config)
}

/// A bias-free convolution, as used before BatchNorm.
pub(crate) fn conv(
    path: nn::Path,
    i: i64,
    o: i64,
    k: i64,
    stride: i64,
    padding: i64,
) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding,
        bias: false,
        ..Default::default()
    };
    nn::conv2d(path, i, o, k, config)
}

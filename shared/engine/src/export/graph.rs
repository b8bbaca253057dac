//! The ONNX graph of each zoo model, written with `trainyard-onnx`'s builder from the
//! network's variables (initializers keep the PyTorch names).

use super::{onnx_err, ExportError};
use crate::data::Preprocess;
use crate::model::{base, resnet, Model, ModelKind};
use std::collections::HashMap;
use tch::{Kind, Tensor};
use trainyard_onnx::{ConvAttrs, Dim, GraphBuilder, OnnxModel};

const BN_EPS: f32 = 1e-5;

/// Builds the ONNX model of a trained network.
pub fn to_onnx(
    model: &Model,
    classes: &[String],
    pre: &Preprocess,
) -> Result<OnnxModel, ExportError> {
    let weights: HashMap<String, Tensor> = model.named_tensors().into_iter().collect();
    let mut g = Graph {
        b: GraphBuilder::new(&format!("trainyard-{}", model.spec.kind.as_str())),
        w: &weights,
    };
    let batch = Dim::Dynamic("batch".into());
    let (c, h, w) = (pre.channels as i64, pre.height as i64, pre.width as i64);
    let x = g.b.input(
        "input",
        &[batch.clone(), Dim::Fixed(c), Dim::Fixed(h), Dim::Fixed(w)],
    );
    let mean = g.b.initializer("preprocess.mean", &[1, c, 1, 1], &pre.mean);
    let std = g.b.initializer("preprocess.std", &[1, c, 1, 1], &pre.std);
    let centred = g.b.sub(&x, &mean);
    let x = g.b.div(&centred, &std);
    let logits = match model.spec.kind {
        ModelKind::Base => g.base(&x, h, w)?,
        ModelKind::Resnet18 => g.resnet(&x, h, w)?,
    };
    let probabilities = g.b.softmax(&logits, 1);
    let out = [batch, Dim::Fixed(classes.len() as i64)];
    g.b.output("logits", &logits, &out);
    g.b.output("probabilities", &probabilities, &out);
    let metadata = [
        ("labels", serde_json::json!(classes).to_string()),
        (
            "input_size",
            serde_json::json!([pre.height, pre.width]).to_string(),
        ),
        ("channels", pre.channels.to_string()),
        ("mean", serde_json::json!(pre.mean).to_string()),
        ("std", serde_json::json!(pre.std).to_string()),
        ("resize", pre.resize.as_str().to_string()),
        ("input_scale", "pixel/255".to_string()),
        ("normalization", "in_graph".to_string()),
        ("model", model.spec.kind.as_str().to_string()),
    ];
    let pairs: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
    g.b.try_finish(&pairs).map_err(onnx_err)
}

struct Graph<'a> {
    b: GraphBuilder,
    w: &'a HashMap<String, Tensor>,
}

impl Graph<'_> {
    fn init(&mut self, name: &str) -> Result<String, ExportError> {
        let t = self
            .w
            .get(name)
            .ok_or_else(|| onnx_err(format!("model has no variable {name}")))?;
        let data = Vec::<f32>::try_from(
            t.to_device(tch::Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous()
                .view(-1),
        )
        .map_err(onnx_err)?;
        Ok(self.b.initializer(name, &t.size(), &data))
    }

    fn conv_bn(
        &mut self,
        x: &str,
        conv: &str,
        bn: &str,
        attrs: ConvAttrs,
    ) -> Result<String, ExportError> {
        let w = self.init(&format!("{conv}.weight"))?;
        let y = self.b.conv(x, &w, None, attrs);
        let [s, b, m, v] = ["weight", "bias", "running_mean", "running_var"]
            .map(|p| self.init(&format!("{bn}.{p}")));
        Ok(self.b.batch_norm(&y, &s?, &b?, &m?, &v?, BN_EPS))
    }

    fn linear(&mut self, x: &str, name: &str) -> Result<String, ExportError> {
        let w = self.init(&format!("{name}.weight"))?;
        let b = self.init(&format!("{name}.bias"))?;
        Ok(self.b.gemm(x, &w, Some(&b), true))
    }

    fn base(&mut self, x: &str, h: i64, w: i64) -> Result<String, ExportError> {
        let (widths, _, _) = base::topology(h, w);
        let mut x = x.to_string();
        for i in 0..widths.len() {
            let y = self.conv_bn(
                &x,
                &format!("stages.{i}.conv"),
                &format!("stages.{i}.bn"),
                ConvAttrs::new(1, 1),
            )?;
            let y = self.b.relu(&y);
            x = self.b.max_pool(&y, [2, 2], [2, 2], [0; 4]);
        }
        let flat = self.b.flatten(&x, 1);
        let hidden = self.linear(&flat, "fc1")?;
        let hidden = self.b.relu(&hidden);
        self.linear(&hidden, "fc")
    }

    fn resnet(&mut self, x: &str, h: i64, w: i64) -> Result<String, ExportError> {
        let large = resnet::large_stem(h, w);
        let stem = if large {
            ConvAttrs::new(2, 3)
        } else {
            ConvAttrs::new(1, 1)
        };
        let y = self.conv_bn(x, "conv1", "bn1", stem)?;
        let mut x = self.b.relu(&y);
        if large {
            x = self.b.max_pool(&x, [3, 3], [2, 2], [1; 4]);
        }
        let mut input = 64;
        for (layer, (&out, &stride)) in resnet::WIDTHS.iter().zip(&resnet::STRIDES).enumerate() {
            for block in 0..resnet::BLOCKS {
                let s = if block == 0 { stride } else { 1 };
                x = self.block(
                    &x,
                    &format!("layer{}.{block}", layer + 1),
                    s,
                    input != out || s != 1,
                )?;
                input = out;
            }
        }
        let pooled = self.b.global_average_pool(&x);
        let flat = self.b.flatten(&pooled, 1);
        self.linear(&flat, "fc")
    }

    fn block(
        &mut self,
        x: &str,
        p: &str,
        stride: i64,
        downsample: bool,
    ) -> Result<String, ExportError> {
        let y = self.conv_bn(
            x,
            &format!("{p}.conv1"),
            &format!("{p}.bn1"),
            ConvAttrs::new(stride, 1),
        )?;
        let y = self.b.relu(&y);
        let y = self.conv_bn(
            &y,
            &format!("{p}.conv2"),
            &format!("{p}.bn2"),
            ConvAttrs::new(1, 1),
        )?;
        let shortcut = if downsample {
            self.conv_bn(
                x,
                &format!("{p}.downsample.0"),
                &format!("{p}.downsample.1"),
                ConvAttrs::new(stride, 0),
            )?
        } else {
            x.to_string()
        };
        let sum = self.b.add(&y, &shortcut);
        Ok(self.b.relu(&sum))
    }
}

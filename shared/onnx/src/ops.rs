//! Typed helpers on [`GraphBuilder`] for the opset-17 operators exported CNNs use. Each writes
//! exactly the attributes ONNX shape inference needs, so models pass the full checker.

use crate::attribute::Attribute;
use crate::builder::GraphBuilder;

/// Attributes of a 2-D convolution (NCHW), with the meanings ONNX `Conv` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvAttrs {
    /// Stride along height, width.
    pub strides: [i64; 2],
    /// Padding: top, left, bottom, right (ONNX order: all begins, then all ends).
    pub pads: [i64; 4],
    /// Dilation along height, width.
    pub dilations: [i64; 2],
    /// Number of groups (1 = ordinary convolution).
    pub group: i64,
}

impl ConvAttrs {
    /// Square stride and symmetric padding, no dilation, one group: the common case.
    pub fn new(stride: i64, pad: i64) -> Self {
        Self {
            strides: [stride; 2],
            pads: [pad; 4],
            dilations: [1; 2],
            group: 1,
        }
    }
}

impl Default for ConvAttrs {
    fn default() -> Self {
        Self::new(1, 0)
    }
}

impl GraphBuilder {
    /// `Conv` (NCHW) of `x` with weight `w` (`[out, in/group, kh, kw]`) and optional bias.
    pub fn conv(&mut self, x: &str, w: &str, bias: Option<&str>, attrs: ConvAttrs) -> String {
        let mut inputs = vec![x, w];
        inputs.extend(bias);
        let attrs = vec![
            Attribute::ints("strides", &attrs.strides),
            Attribute::ints("pads", &attrs.pads),
            Attribute::ints("dilations", &attrs.dilations),
            Attribute::int("group", attrs.group),
        ];
        self.node("Conv", &inputs, attrs)
    }

    /// `BatchNormalization` in inference mode (running statistics, one output):
    /// `y = scale * (x - mean) / sqrt(var + eps) + bias` per channel.
    pub fn batch_norm(
        &mut self,
        x: &str,
        scale: &str,
        bias: &str,
        mean: &str,
        var: &str,
        eps: f32,
    ) -> String {
        let attrs = vec![Attribute::float("epsilon", eps)];
        self.node("BatchNormalization", &[x, scale, bias, mean, var], attrs)
    }

    /// `Relu`.
    pub fn relu(&mut self, x: &str) -> String {
        self.node("Relu", &[x], Vec::new())
    }

    /// `MaxPool` over a 2-D window; `pads` are top, left, bottom, right.
    pub fn max_pool(
        &mut self,
        x: &str,
        kernel: [i64; 2],
        strides: [i64; 2],
        pads: [i64; 4],
    ) -> String {
        let attrs = pool_attrs(kernel, strides, pads);
        self.node("MaxPool", &[x], attrs)
    }

    /// `AveragePool` with ONNX's default of excluding padding from the average.
    pub fn average_pool(
        &mut self,
        x: &str,
        kernel: [i64; 2],
        strides: [i64; 2],
        pads: [i64; 4],
    ) -> String {
        self.average_pool_with(x, kernel, strides, pads, false)
    }

    /// `AveragePool`; `count_include_pad = true` matches PyTorch's `AvgPool2d` default.
    pub fn average_pool_with(
        &mut self,
        x: &str,
        kernel: [i64; 2],
        strides: [i64; 2],
        pads: [i64; 4],
        count_include_pad: bool,
    ) -> String {
        let mut attrs = pool_attrs(kernel, strides, pads);
        attrs.push(Attribute::int(
            "count_include_pad",
            i64::from(count_include_pad),
        ));
        self.node("AveragePool", &[x], attrs)
    }

    /// `GlobalAveragePool`: `[N, C, H, W]` → `[N, C, 1, 1]`.
    pub fn global_average_pool(&mut self, x: &str) -> String {
        self.node("GlobalAveragePool", &[x], Vec::new())
    }

    /// `Flatten` to 2-D around `axis`.
    pub fn flatten(&mut self, x: &str, axis: i64) -> String {
        self.node("Flatten", &[x], vec![Attribute::int("axis", axis)])
    }

    /// `Gemm`: `x · w (+ bias)`, with `w` transposed when `trans_b` (PyTorch `Linear` layout
    /// `[out, in]` needs `trans_b = true`). Both `x` and `w` must be 2-D.
    pub fn gemm(&mut self, x: &str, w: &str, bias: Option<&str>, trans_b: bool) -> String {
        let mut inputs = vec![x, w];
        inputs.extend(bias);
        let attrs = vec![Attribute::int("transB", i64::from(trans_b))];
        self.node("Gemm", &inputs, attrs)
    }

    /// `MatMul` with NumPy broadcasting.
    pub fn matmul(&mut self, a: &str, b: &str) -> String {
        self.node("MatMul", &[a, b], Vec::new())
    }

    /// Element-wise `Add` (broadcasting).
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.node("Add", &[a, b], Vec::new())
    }

    /// Element-wise `Mul` (broadcasting).
    pub fn mul(&mut self, a: &str, b: &str) -> String {
        self.node("Mul", &[a, b], Vec::new())
    }

    /// Element-wise `Sub` (broadcasting).
    pub fn sub(&mut self, a: &str, b: &str) -> String {
        self.node("Sub", &[a, b], Vec::new())
    }

    /// Element-wise `Div` (broadcasting).
    pub fn div(&mut self, a: &str, b: &str) -> String {
        self.node("Div", &[a, b], Vec::new())
    }

    /// `Softmax` along `axis`.
    pub fn softmax(&mut self, x: &str, axis: i64) -> String {
        self.node("Softmax", &[x], vec![Attribute::int("axis", axis)])
    }

    /// `Identity`.
    pub fn identity(&mut self, x: &str) -> String {
        self.node("Identity", &[x], Vec::new())
    }

    /// `Reshape` of `x` to the int64 tensor `shape` (`0` copies a dimension, `-1` infers one).
    pub fn reshape(&mut self, x: &str, shape: &str) -> String {
        self.node("Reshape", &[x, shape], Vec::new())
    }
}

fn pool_attrs(kernel: [i64; 2], strides: [i64; 2], pads: [i64; 4]) -> Vec<Attribute> {
    vec![
        Attribute::ints("kernel_shape", &kernel),
        Attribute::ints("strides", &strides),
        Attribute::ints("pads", &pads),
    ]
}

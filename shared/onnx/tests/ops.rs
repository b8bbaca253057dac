//! Every builder operator, run through ONNX Runtime against hand-computed results; each model
//! also passes the onnx full checker and decodes back to what was built.

mod common;

use common::{assert_close, iota, run_single};
use trainyard_onnx::{Attribute, ConvAttrs};

#[test]
fn conv_with_bias() {
    // 3×3 input 1..9, kernel [[1,2],[3,4]], bias 0.5 → each output is a 2×2 dot product.
    let (shape, y) = run_single(&[1, 1, 3, 3], &[1, 1, 2, 2], &iota(9), |g, x| {
        let w = g.initializer("w", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let b = g.initializer("b", &[1], &[0.5]);
        g.conv(x, &w, Some(&b), ConvAttrs::default())
    });
    assert_eq!(shape, [1, 1, 2, 2]);
    assert_close(&y, &[37.5, 47.5, 67.5, 77.5], 1e-5);
}

#[test]
fn conv_padding_stride_dilation_group() {
    // All-ones 3×3 kernel, pad 1, stride 2: sums of the (zero-padded) neighbourhoods of the corners.
    let (_, y) = run_single(&[1, 1, 3, 3], &[1, 1, 2, 2], &iota(9), |g, x| {
        let w = g.initializer("w", &[1, 1, 3, 3], &[1.0; 9]);
        g.conv(x, &w, None, ConvAttrs::new(2, 1))
    });
    assert_close(&y, &[12.0, 16.0, 24.0, 28.0], 1e-5);

    // Dilation 2: the 2×2 kernel touches the four corners of the 3×3 input.
    let (_, y) = run_single(&[1, 1, 3, 3], &[1, 1, 1, 1], &iota(9), |g, x| {
        let w = g.initializer("w", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let attrs = ConvAttrs {
            dilations: [2, 2],
            ..ConvAttrs::default()
        };
        g.conv(x, &w, None, attrs)
    });
    assert_close(&y, &[1.0 + 2.0 * 3.0 + 3.0 * 7.0 + 4.0 * 9.0], 1e-5);

    // Two groups with 1×1 kernels: channel 0 doubled, channel 1 negated.
    let (_, y) = run_single(&[1, 2, 1, 2], &[1, 2, 1, 2], &iota(4), |g, x| {
        let w = g.initializer("w", &[2, 1, 1, 1], &[2.0, -1.0]);
        let attrs = ConvAttrs {
            group: 2,
            ..ConvAttrs::default()
        };
        g.conv(x, &w, None, attrs)
    });
    assert_close(&y, &[2.0, 4.0, -3.0, -4.0], 1e-6);
}

#[test]
fn batch_norm_inference_formula() {
    let (scale, bias, mean, var, eps) = (
        [2.0_f32, 0.5],
        [1.0_f32, -1.0],
        [1.0_f32, 3.0],
        [4.0_f32, 1.0],
        1e-3,
    );
    let x = iota(4);
    let (_, y) = run_single(&[1, 2, 1, 2], &[1, 2, 1, 2], &x, |g, x| {
        let s = g.initializer("scale", &[2], &scale);
        let b = g.initializer("bias", &[2], &bias);
        let m = g.initializer("mean", &[2], &mean);
        let v = g.initializer("var", &[2], &var);
        g.batch_norm(x, &s, &b, &m, &v, eps)
    });
    let expected: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = i / 2;
            scale[c] * (v - mean[c]) / (var[c] + eps).sqrt() + bias[c]
        })
        .collect();
    assert_close(&y, &expected, 1e-5);
}

#[test]
fn relu_clamps_negatives() {
    let (_, y) = run_single(&[1, 4], &[1, 4], &[-1.5, 0.0, 2.0, -0.0], |g, x| g.relu(x));
    assert_close(&y, &[0.0, 0.0, 2.0, 0.0], 0.0);
}

#[test]
fn max_pool_windows() {
    let (shape, y) = run_single(&[1, 1, 4, 4], &[1, 1, 2, 2], &iota(16), |g, x| {
        g.max_pool(x, [2, 2], [2, 2], [0, 0, 0, 0])
    });
    assert_eq!(shape, [1, 1, 2, 2]);
    assert_close(&y, &[6.0, 8.0, 14.0, 16.0], 0.0);

    let (_, y) = run_single(&[1, 1, 3, 3], &[1, 1, 3, 3], &iota(9), |g, x| {
        g.max_pool(x, [3, 3], [1, 1], [1, 1, 1, 1])
    });
    assert_close(&y, &[5.0, 6.0, 6.0, 8.0, 9.0, 9.0, 8.0, 9.0, 9.0], 0.0);
}

#[test]
fn average_pool_with_and_without_padding_in_the_count() {
    let (_, y) = run_single(&[1, 1, 4, 4], &[1, 1, 2, 2], &iota(16), |g, x| {
        g.average_pool(x, [2, 2], [2, 2], [0, 0, 0, 0])
    });
    assert_close(&y, &[3.5, 5.5, 11.5, 13.5], 1e-6);

    // Top-left 3×3 window with pad 1 covers 1, 2, 4, 5 (sum 12) and five padding cells.
    let (_, y) = run_single(&[1, 1, 3, 3], &[1, 1, 3, 3], &iota(9), |g, x| {
        g.average_pool(x, [3, 3], [1, 1], [1, 1, 1, 1])
    });
    assert_close(&y[..1], &[3.0], 1e-6);
    assert_close(&y[4..5], &[5.0], 1e-6);
    let (_, y) = run_single(&[1, 1, 3, 3], &[1, 1, 3, 3], &iota(9), |g, x| {
        g.average_pool_with(x, [3, 3], [1, 1], [1, 1, 1, 1], true)
    });
    assert_close(&y[..1], &[12.0 / 9.0], 1e-6);
}

#[test]
fn global_average_pool_and_flatten() {
    let data = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
    let (shape, y) = run_single(&[1, 2, 2, 2], &[1, 2, 1, 1], &data, |g, x| {
        g.global_average_pool(x)
    });
    assert_eq!(shape, [1, 2, 1, 1]);
    assert_close(&y, &[2.5, 25.0], 1e-6);

    let (shape, y) = run_single(&[1, 2, 2, 2], &[1, 8], &data, |g, x| g.flatten(x, 1));
    assert_eq!(shape, [1, 8]);
    assert_close(&y, &data, 0.0);
}

#[test]
fn gemm_with_and_without_transposed_weight() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    // PyTorch Linear layout [out=2, in=3].
    let (shape, y) = run_single(&[2, 3], &[2, 2], &x, |g, x| {
        let w = g.initializer("w", &[2, 3], &[1.0, 0.0, -1.0, 2.0, 1.0, 0.0]);
        let b = g.initializer("b", &[2], &[10.0, 20.0]);
        g.gemm(x, &w, Some(&b), true)
    });
    assert_eq!(shape, [2, 2]);
    assert_close(&y, &[8.0, 24.0, 8.0, 33.0], 1e-5);

    let (_, y) = run_single(&[2, 3], &[2, 2], &x, |g, x| {
        let w = g.initializer("w", &[3, 2], &[1.0, 2.0, 0.0, 1.0, -1.0, 0.0]);
        g.gemm(x, &w, None, false)
    });
    assert_close(&y, &[-2.0, 4.0, -2.0, 13.0], 1e-5);
}

#[test]
fn matmul_and_elementwise_arithmetic() {
    // [[1,2],[3,4]] · [[0,1],[1,0]] swaps the columns.
    let (_, y) = run_single(&[2, 2], &[2, 2], &iota(4), |g, x| {
        let m = g.initializer("m", &[2, 2], &[0.0, 1.0, 1.0, 0.0]);
        g.matmul(x, &m)
    });
    assert_close(&y, &[2.0, 1.0, 4.0, 3.0], 0.0);

    // ((x + 1) * 3 - 2) / 4 with broadcast scalars-per-column.
    let x = iota(4);
    let (_, y) = run_single(&[1, 4], &[1, 4], &x, |g, x| {
        let one = g.initializer("one", &[1], &[1.0]);
        let three = g.initializer("three", &[4], &[3.0; 4]);
        let two = g.initializer("two", &[1, 1], &[2.0]);
        let four = g.initializer("four", &[], &[4.0]);
        let a = g.add(x, &one);
        let m = g.mul(&a, &three);
        let s = g.sub(&m, &two);
        g.div(&s, &four)
    });
    let expected: Vec<f32> = x.iter().map(|v| ((v + 1.0) * 3.0 - 2.0) / 4.0).collect();
    assert_close(&y, &expected, 1e-6);
}

#[test]
fn softmax_rows_sum_to_one() {
    let x = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
    let (_, y) = run_single(&[2, 3], &[2, 3], &x, |g, x| g.softmax(x, 1));
    let z: f32 = [1.0_f32, 2.0, 3.0].iter().map(|v| v.exp()).sum();
    let expected = [
        1.0_f32.exp() / z,
        2.0_f32.exp() / z,
        3.0_f32.exp() / z,
        1.0 / 3.0,
        1.0 / 3.0,
        1.0 / 3.0,
    ];
    assert_close(&y, &expected, 1e-6);
    for row in y.chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn identity_reshape_and_generic_node() {
    let (_, y) = run_single(&[1, 3], &[1, 3], &iota(3), |g, x| g.identity(x));
    assert_close(&y, &iota(3), 0.0);

    let (shape, y) = run_single(&[1, 2, 3], &[2, 3], &iota(6), |g, x| {
        let s = g.initializer_i64("shape", &[2], &[-1, 3]);
        g.reshape(x, &s)
    });
    assert_eq!(shape, [2, 3]);
    assert_close(&y, &iota(6), 0.0);

    // Any opset-17 op through `node`: Transpose with a `perm` attribute.
    let (shape, y) = run_single(&[2, 3], &[3, 2], &iota(6), |g, x| {
        g.node("Transpose", &[x], vec![Attribute::ints("perm", &[1, 0])])
    });
    assert_eq!(shape, [3, 2]);
    assert_close(&y, &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0);
}

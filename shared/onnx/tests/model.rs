//! Whole-model behaviour: the CNN export shape, dynamic batch, metadata through ONNX Runtime,
//! protobuf round trips, corrupted files and builder misuse.

mod common;

use std::process::Command;

use common::{assert_close, assert_onnx_checker_accepts, check_and_load, cnn, venv_python};
use trainyard_onnx::proto::ModelProto;
use trainyard_onnx::{
    ConvAttrs, Dim, GraphBuilder, OnnxError, OnnxModel, Session, TensorInfo, OPSET_VERSION,
};

#[test]
fn cnn_runs_with_dynamic_batch_1_and_7() {
    let model = cnn::build(7);
    let (_dir, _path, session) = check_and_load(&model);
    assert_eq!(session.input_names(), ["input"]);
    assert_eq!(session.output_names(), ["logits"]);

    let image = 64 * 64;
    let data: Vec<f32> = (0..7 * image)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let batch7 = session
        .run_f32("input", &[7, 1, 64, 64], &data)
        .expect("batch 7");
    let (shape, logits7) = &batch7["logits"];
    assert_eq!(shape, &[7, 10]);
    // Each image's logits must not depend on the rest of the batch.
    for k in [0, 3, 6] {
        let one = session
            .run_f32("input", &[1, 1, 64, 64], &data[k * image..(k + 1) * image])
            .expect("batch 1");
        let (shape, logits1) = &one["logits"];
        assert_eq!(shape, &[1, 10]);
        assert_close(logits1, &logits7[k * 10..(k + 1) * 10], 1e-4);
    }
}

#[test]
fn inputs_outputs_and_model_header() {
    let model = cnn::build(1);
    let batch = Dim::Dynamic("batch".into());
    assert_eq!(
        model.inputs(),
        [TensorInfo {
            name: "input".into(),
            elem_type: Some(1),
            shape: vec![batch.clone(), Dim::Fixed(1), Dim::Fixed(64), Dim::Fixed(64)],
        }]
    );
    assert_eq!(model.outputs()[0].shape, [batch, Dim::Fixed(10)]);
    let proto = model.proto();
    assert_eq!(proto.ir_version, Some(8));
    assert_eq!(proto.producer_name(), "trainyard");
    assert_eq!(proto.opset_import[0].version, Some(OPSET_VERSION));
    assert_eq!(proto.opset_import[0].domain(), "");
    let graph = proto.graph.as_ref().expect("graph");
    let names: Vec<&str> = graph.node.iter().map(|n| n.name()).collect();
    assert!(
        names.starts_with(&["Conv_0", "Relu_0", "MaxPool_0", "Conv_1"]),
        "{names:?}"
    );
    // Deterministic: the same seed gives the same bytes.
    assert_eq!(model.sha256_hex(), cnn::build(1).sha256_hex());
}

#[test]
fn metadata_round_trips_through_onnx_runtime() {
    let model = cnn::build(3);
    let expected = model.metadata();
    assert_eq!(expected["input_size"], "64");
    let (_dir, _path, from_file) = check_and_load(&model);
    assert_eq!(from_file.metadata(), &expected);
    let from_bytes = Session::from_bytes(&model.to_bytes(), 2).expect("from bytes");
    assert_eq!(from_bytes.metadata(), &expected);
    let labels: Vec<String> = serde_json::from_str(&from_bytes.metadata()["labels"]).expect("json");
    assert_eq!(labels.len(), 10);
}

#[test]
fn prost_round_trip_and_python_decode_agree() {
    let model = cnn::build(5);
    let bytes = model.to_bytes();
    assert_eq!(OnnxModel::from_bytes(&bytes).expect("decode"), model);
    let proto: ModelProto = prost::Message::decode(bytes.as_slice()).expect("prost");
    assert_eq!(&proto, model.proto());

    // The reference implementation reads the same structure back.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cnn.onnx");
    model.write(&path).expect("write");
    let script = "import onnx,sys; m=onnx.load(sys.argv[1]); g=m.graph; \
                  print(m.ir_version, m.producer_name, m.opset_import[0].version, len(g.node), \
                  len(g.initializer), g.input[0].type.tensor_type.shape.dim[0].dim_param, \
                  dict((p.key, p.value) for p in m.metadata_props)['input_size'])";
    let out = Command::new(venv_python())
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = model.proto().graph.as_ref().expect("graph");
    let expected = format!(
        "8 trainyard 17 {} {} batch 64\n",
        graph.node.len(),
        graph.initializer.len()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn corrupted_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = cnn::build(2).to_bytes();

    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = OnnxModel::read(&truncated).expect_err("truncated must fail");
    assert!(matches!(err, OnnxError::Decode { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("truncated.onnx") && message.contains("not a valid ONNX model"),
        "{message}"
    );
    let err = Session::from_file(&truncated, 1).expect_err("runtime rejects it too");
    assert!(matches!(err, OnnxError::Runtime { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated.onnx"), "{err}");

    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").expect("write");
    let err = OnnxModel::read(&empty).expect_err("empty must fail");
    assert!(err.to_string().contains("no graph"), "{err}");

    let missing = dir.path().join("missing.onnx");
    let err = OnnxModel::read(&missing).expect_err("missing must fail");
    assert!(
        matches!(err, OnnxError::Io { .. }) && err.to_string().contains("missing.onnx"),
        "{err}"
    );
}

#[test]
fn output_keeps_value_usable_and_names_stay_unique() {
    let mut g = GraphBuilder::new("two-outputs");
    let x = g.input("x", &[Dim::Dynamic("batch".into()), Dim::Fixed(3)]);
    let r = g.relu(&x);
    g.output("relu", &r, &[Dim::Dynamic("batch".into()), Dim::Fixed(3)]);
    let p = g.softmax(&r, 1);
    g.output("probs", &p, &[Dim::Dynamic("batch".into()), Dim::Fixed(3)]);
    let model = g.finish(&[]);
    let (_dir, _path, session) = check_and_load(&model);
    let out = session
        .run_f32("x", &[2, 3], &[-1.0, 0.0, 1.0, 0.0, 0.0, 0.0])
        .expect("run");
    assert_close(&out["relu"].1, &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], 0.0);
    assert_close(&out["probs"].1[3..], &[1.0 / 3.0; 3], 1e-6);

    let graph = model.proto().graph.as_ref().expect("graph");
    let mut names: Vec<&str> = graph.node.iter().map(|n| n.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), graph.node.len());
}

#[test]
fn builder_misuse_is_reported() {
    let mut g = GraphBuilder::new("bad");
    let x = g.input("x", &[Dim::Fixed(1)]);
    g.initializer("w", &[2, 2], &[1.0; 3]);
    g.output("y", &x, &[Dim::Fixed(1)]);
    let err = g.try_finish(&[]).expect_err("wrong length");
    assert!(err.to_string().contains("initializer w"), "{err}");

    let mut g = GraphBuilder::new("bad");
    let x = g.input("x", &[Dim::Fixed(1)]);
    let y = g.add(&x, "nowhere");
    g.output("y", &y, &[Dim::Fixed(1)]);
    let err = g.try_finish(&[]).expect_err("undefined input");
    assert!(
        err.to_string().contains("'nowhere' is not defined"),
        "{err}"
    );

    let mut g = GraphBuilder::new("bad");
    g.input("x", &[Dim::Fixed(1)]);
    g.initializer("x", &[1], &[1.0]);
    assert!(g.try_finish(&[]).is_err(), "duplicate name");

    let mut g = GraphBuilder::new("bad");
    g.input("x", &[Dim::Fixed(1)]);
    assert!(g.try_finish(&[]).is_err(), "no output");
}

#[test]
#[should_panic(expected = "ONNX graph construction")]
fn finish_panics_on_misuse() {
    let mut g = GraphBuilder::new("bad");
    let x = g.input("x", &[Dim::Fixed(1)]);
    g.output("y", "nowhere", &[Dim::Fixed(1)]);
    let _ = x;
    g.finish(&[]);
}

#[test]
fn checker_helper_rejects_an_invalid_model() {
    // Gemm needs 2-D inputs; a 3-D one must fail full-check shape inference, which shows the
    // checker really runs (and that a missing venv would fail the suite, not skip it).
    let mut g = GraphBuilder::new("invalid");
    let x = g.input("x", &[Dim::Fixed(1), Dim::Fixed(2), Dim::Fixed(3)]);
    let w = g.initializer("w", &[3, 3], &[0.0; 9]);
    let y = g.gemm(&x, &w, None, false);
    g.output("y", &y, &[Dim::Fixed(1), Dim::Fixed(3)]);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("invalid.onnx");
    g.finish(&[]).write(&path).expect("write");
    let result = std::panic::catch_unwind(|| assert_onnx_checker_accepts(&path));
    assert!(result.is_err(), "the checker accepted a 3-D Gemm input");
}

#[test]
fn resnet_style_block_with_batch_norm_passes_and_runs() {
    // Stem conv/BN/ReLU/max-pool, one basic residual block, global pooling and a classifier with
    // logits and probabilities: the structure a ResNet-18 export is made of.
    let batch = || Dim::Dynamic("batch".into());
    let mut g = GraphBuilder::new("resnet-block");
    let x = g.input(
        "input",
        &[batch(), Dim::Fixed(3), Dim::Fixed(32), Dim::Fixed(32)],
    );
    let bn = |g: &mut GraphBuilder, x: &str, name: &str, c: usize| {
        let s = g.initializer(&format!("{name}.weight"), &[c as i64], &vec![1.5; c]);
        let b = g.initializer(&format!("{name}.bias"), &[c as i64], &vec![0.1; c]);
        let m = g.initializer(&format!("{name}.running_mean"), &[c as i64], &vec![0.2; c]);
        let v = g.initializer(&format!("{name}.running_var"), &[c as i64], &vec![0.9; c]);
        g.batch_norm(x, &s, &b, &m, &v, 1e-5)
    };
    let w = g.initializer("conv1.weight", &[8, 3, 7, 7], &vec![0.01; 8 * 3 * 49]);
    let stem = g.conv(&x, &w, None, ConvAttrs::new(2, 3));
    let stem = bn(&mut g, &stem, "bn1", 8);
    let stem = g.relu(&stem);
    let stem = g.max_pool(&stem, [3, 3], [2, 2], [1, 1, 1, 1]);
    let w1 = g.initializer(
        "layer1.0.conv1.weight",
        &[8, 8, 3, 3],
        &vec![0.02; 8 * 8 * 9],
    );
    let y = g.conv(&stem, &w1, None, ConvAttrs::new(1, 1));
    let y = bn(&mut g, &y, "layer1.0.bn1", 8);
    let y = g.relu(&y);
    let w2 = g.initializer(
        "layer1.0.conv2.weight",
        &[8, 8, 3, 3],
        &vec![-0.02; 8 * 8 * 9],
    );
    let y = g.conv(&y, &w2, None, ConvAttrs::new(1, 1));
    let y = bn(&mut g, &y, "layer1.0.bn2", 8);
    let y = g.add(&y, &stem);
    let y = g.relu(&y);
    let pooled = g.global_average_pool(&y);
    let flat = g.flatten(&pooled, 1);
    let fc = g.initializer("fc.weight", &[10, 8], &vec![0.05; 80]);
    let fc_b = g.initializer(
        "fc.bias",
        &[10],
        &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    );
    let logits = g.gemm(&flat, &fc, Some(&fc_b), true);
    let probs = g.softmax(&logits, 1);
    g.output("logits", &logits, &[batch(), Dim::Fixed(10)]);
    g.output("probabilities", &probs, &[batch(), Dim::Fixed(10)]);
    let model = g.finish(&[("architecture", "resnet-block")]);
    let (_dir, _path, session) = check_and_load(&model);
    for n in [1, 7] {
        let data: Vec<f32> = (0..n * 3 * 32 * 32)
            .map(|i| (i % 17) as f32 / 17.0)
            .collect();
        let out = session
            .run_f32("input", &[n, 3, 32, 32], &data)
            .expect("run");
        assert_eq!(out["logits"].0, [n, 10]);
        assert_eq!(out["probabilities"].0, [n, 10]);
        for row in out["probabilities"].1.chunks(10) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}

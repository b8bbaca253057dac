//! ONNX export of every zoo model: ONNX Runtime matches libtorch within 1e-4 with the same
//! accuracy, the metadata is complete, and PyPI `onnx`'s full checker accepts the file; a graph
//! whose weights were altered after export fails verification.

use std::path::Path;
use std::process::Command;
use trainyard_engine::augment::Augmentation;
use trainyard_engine::data::Dataset;
use trainyard_engine::export::{export_and_verify, to_onnx, verify, ExportError, TOLERANCE};
use trainyard_engine::model::{Model, ModelKind, ModelSpec};
use trainyard_engine::synth;
use trainyard_engine::train::{self, DeviceChoice, RunOptions, TrainConfig};
use trainyard_onnx::OnnxModel;

fn check_with_onnx_package(model: &Path) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh python",
        python.display()
    );
    let status = Command::new(python)
        .args([
            "-c",
            "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)",
        ])
        .arg(model)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "onnx.checker rejected {}",
        model.display()
    );
}

fn train_and_export(ds: &Dataset, model: ModelKind, iterations: u64) {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        model,
        augmentation: Augmentation::ExposureNoise,
        iterations,
        // The smallest sets here have fewer training images than that.
        batch_size: 8.min(ds.train.len()),
        learning_rate: 0.002,
        device: DeviceChoice::Cpu,
        threads: Some(1),
        ..TrainConfig::default()
    };
    let options = RunOptions {
        checkpoint_dir: dir.path().join("ck"),
        ..RunOptions::default()
    };
    let outcome = train::train(ds, &config, &options, &mut |_| {}).unwrap();
    let path = dir.path().join("model.onnx");
    let report = export_and_verify(
        &outcome.model,
        &ds.classes,
        &outcome.preprocess,
        &ds.test,
        &path,
        1,
    )
    .unwrap();
    eprintln!(
        "{model:?} {}x{}: max |probability diff| {:e}, max |logit diff| {:e} (max |logit| {:.2})",
        ds.preprocess.height,
        ds.preprocess.width,
        report.max_abs_diff,
        report.max_abs_logit_diff,
        report.max_abs_logit
    );
    assert!(report.max_abs_diff <= TOLERANCE);
    assert!(
        report.max_abs_logit_diff <= report.logit_tolerance,
        "{report:?}"
    );
    assert_eq!(report.onnx_accuracy, report.torch_accuracy);
    assert_eq!(report.images, ds.test.len());
    let meta = OnnxModel::read(&path).unwrap().metadata();
    let labels: Vec<String> = serde_json::from_str(&meta["labels"]).unwrap();
    assert_eq!(labels, ds.classes);
    assert_eq!(meta["channels"], ds.preprocess.channels.to_string());
    let size: Vec<u32> = serde_json::from_str(&meta["input_size"]).unwrap();
    assert_eq!(size, [ds.preprocess.height, ds.preprocess.width]);
    let mean: Vec<f32> = serde_json::from_str(&meta["mean"]).unwrap();
    assert_eq!(mean, ds.preprocess.mean);
    assert!(meta.contains_key("std") && meta["resize"] == "stretch");
    check_with_onnx_package(&path);
}

fn rgb(mut ds: Dataset) -> Dataset {
    ds.train.images = ds.train.images.repeat([1, 3, 1, 1]);
    ds.test.images = ds.test.images.repeat([1, 3, 1, 1]);
    ds.preprocess.channels = 3;
    ds.preprocess.mean = vec![ds.preprocess.mean[0]; 3];
    ds.preprocess.std = vec![ds.preprocess.std[0]; 3];
    ds
}

#[test]
fn base_exports_with_parity() {
    train_and_export(
        &synth::dataset(3, 8, 28, 2, 0.25).unwrap(),
        ModelKind::Base,
        12,
    );
    train_and_export(
        &rgb(synth::dataset(2, 6, 40, 3, 0.34).unwrap()),
        ModelKind::Base,
        4,
    );
}

#[test]
fn resnet18_exports_with_parity() {
    train_and_export(
        &synth::dataset(3, 6, 20, 4, 0.34).unwrap(),
        ModelKind::Resnet18,
        6,
    );
    // Inputs of 96 pixels and more use torchvision's strided stem with max-pooling.
    train_and_export(
        &synth::dataset(2, 3, 96, 5, 0.34).unwrap(),
        ModelKind::Resnet18,
        2,
    );
}

/// A freshly initialised `base` for the synthetic pages, its exported graph written to a file,
/// and that graph with `alter` applied to the named initializer's values, written beside it.
fn altered_export(
    ds: &Dataset,
    initializer: &str,
    alter: impl Fn(&mut [f32]),
) -> (Model, tempfile::TempDir) {
    tch::set_num_threads(1);
    let pre = &ds.preprocess;
    let spec = ModelSpec {
        kind: ModelKind::Base,
        channels: pre.channels.into(),
        height: pre.height.into(),
        width: pre.width.into(),
        classes: ds.classes.len() as i64,
    };
    let model = Model::new(spec, tch::Device::Cpu, 3);
    let dir = tempfile::tempdir().unwrap();
    let onnx = to_onnx(&model, &ds.classes, pre).unwrap();
    onnx.write(dir.path().join("exported.onnx")).unwrap();
    let mut proto = onnx.into_proto();
    let graph = proto.graph.as_mut().unwrap();
    let tensor = graph
        .initializer
        .iter_mut()
        .find(|t| t.name.as_deref() == Some(initializer))
        .unwrap_or_else(|| panic!("no initializer {initializer}"));
    let raw = tensor.raw_data.as_mut().unwrap();
    let mut values: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    alter(&mut values);
    *raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    OnnxModel::from_proto(proto)
        .write(dir.path().join("altered.onnx"))
        .unwrap();
    (model, dir)
}

fn verify_file(path: &Path, model: &Model, ds: &Dataset) -> Result<(), ExportError> {
    verify(path, model, &ds.preprocess, &ds.test, 1).map(drop)
}

#[test]
fn a_perturbed_weight_fails_the_parity_gate() {
    let ds = synth::dataset(3, 8, 28, 2, 0.25).unwrap();
    let (model, dir) = altered_export(&ds, "stages.0.conv.weight", |w| w[0] += 0.5);
    verify_file(&dir.path().join("exported.onnx"), &model, &ds).expect("the export itself passes");
    let err = verify_file(&dir.path().join("altered.onnx"), &model, &ds).unwrap_err();
    assert_eq!(err.code(), "export.parity", "{err}");
}

#[test]
fn logits_shifted_alike_fail_the_parity_gate_though_probabilities_agree() {
    // Adding the same constant to every logit leaves softmax unchanged: only the logit check
    // can see it.
    let ds = synth::dataset(3, 8, 28, 2, 0.25).unwrap();
    let (model, dir) = altered_export(&ds, "fc.bias", |b| b.iter_mut().for_each(|v| *v += 1.0));
    let err = verify_file(&dir.path().join("altered.onnx"), &model, &ds).unwrap_err();
    assert_eq!(err.code(), "export.parity", "{err}");
    let ExportError::Parity { output, .. } = err else {
        unreachable!()
    };
    assert_eq!(output, "logits");
}

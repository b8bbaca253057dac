//! Helpers shared by the integration tests: the PyPI `onnx` full checker run as a subprocess,
//! and write → check → read back → load into ONNX Runtime in one call.

#![allow(dead_code)]

pub mod cnn;

use std::path::{Path, PathBuf};
use std::process::Command;

use trainyard_onnx::{Dim, GraphBuilder, OnnxModel, Session};

/// The Python of the project's virtual environment (`$TRAINYARD_HOME/venv`).
pub fn venv_python() -> PathBuf {
    let home = std::env::var_os("TRAINYARD_HOME").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard"),
        PathBuf::from,
    );
    home.join("venv/bin/python")
}

/// Runs `onnx.checker.check_model(..., full_check=True)` on `path`; panics with the checker's
/// message when the model is rejected or when Python/onnx is unavailable (never skips).
pub fn assert_onnx_checker_accepts(path: &Path) {
    let python = venv_python();
    let out = Command::new(&python)
        .arg("-c")
        .arg("import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "onnx checker rejected {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `model`, checks it with the onnx checker, asserts that it decodes back to exactly
/// what was built, and opens it in ONNX Runtime.
pub fn check_and_load(model: &OnnxModel) -> (tempfile::TempDir, PathBuf, Session) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("model.onnx");
    let digest = model.write(&path).expect("write model");
    assert_eq!(digest.sha256_hex, model.sha256_hex());
    assert_eq!(
        digest.size_bytes,
        std::fs::metadata(&path).expect("stat").len()
    );
    assert_onnx_checker_accepts(&path);
    let read = OnnxModel::read(&path).expect("read model back");
    assert_eq!(&read, model, "decoded model differs from the built one");
    let session = Session::from_file(&path, 1).expect("ONNX Runtime loads the model");
    (dir, path, session)
}

/// Builds a one-input, one-output graph with `body`, validates it, runs `data` through it and
/// returns the output's shape and values.
pub fn run_single(
    in_shape: &[usize],
    out_dims: &[i64],
    data: &[f32],
    body: impl FnOnce(&mut GraphBuilder, &str) -> String,
) -> (Vec<usize>, Vec<f32>) {
    let mut g = GraphBuilder::new("op-test");
    let dims: Vec<Dim> = in_shape.iter().map(|d| Dim::Fixed(*d as i64)).collect();
    let x = g.input("x", &dims);
    let y = body(&mut g, &x);
    let out_dims: Vec<Dim> = out_dims.iter().map(|d| Dim::Fixed(*d)).collect();
    g.output("y", &y, &out_dims);
    let model = g.finish(&[]);
    let (_dir, _path, session) = check_and_load(&model);
    let mut outputs = session.run_f32("x", in_shape, data).expect("run");
    outputs.remove("y").expect("output y")
}

/// Asserts element-wise closeness.
pub fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "length: {actual:?} vs {expected:?}"
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol,
            "element {i}: {a} vs {e} (all: {actual:?})"
        );
    }
}

/// `1.0, 2.0, …, n`.
pub fn iota(n: usize) -> Vec<f32> {
    (1..=n).map(|v| v as f32).collect()
}

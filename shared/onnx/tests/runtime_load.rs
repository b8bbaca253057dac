//! Loading ONNX Runtime from a wrong path names that path, and a later call with the right path
//! succeeds. Kept alone in its own test binary because it changes the process environment.

use trainyard_onnx::{ensure_runtime, OnnxError};

#[test]
fn bad_library_path_is_named_then_recovers() {
    let good = std::env::var("ORT_DYLIB_PATH").expect("cargo config sets ORT_DYLIB_PATH");
    let bad = "/nonexistent/libonnxruntime.so";
    std::env::set_var("ORT_DYLIB_PATH", bad);
    let err = ensure_runtime().expect_err("a missing library must fail");
    assert!(matches!(err, OnnxError::RuntimeLoad { .. }), "{err:?}");
    assert!(err.to_string().contains(bad), "{err}");

    std::env::set_var("ORT_DYLIB_PATH", &good);
    ensure_runtime().expect("the real library loads after a failed attempt");
    ensure_runtime().expect("initialisation is idempotent");
}

//! `trainyard-train` end to end on a small synthetic ZIP: every output file is written and the
//! ONNX model carries the class list.

use std::process::Command;
use trainyard_engine::synth;

#[test]
fn trains_from_a_zip_and_writes_all_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("pages.zip");
    synth::write_zip(&zip, 3, 8, 48, 9).unwrap();
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_trainyard-train"))
        .args([
            "--data",
            zip.to_str().unwrap(),
            "--model",
            "base",
            "--augment",
            "rotations_exposure_noise",
        ])
        .args([
            "--iterations",
            "12",
            "--batch",
            "6",
            "--lr",
            "0.003",
            "--device",
            "cpu",
            "--threads",
            "1",
        ])
        .args([
            "--image-size",
            "32",
            "--test-split",
            "0.25",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("OMP_NUM_THREADS", "1")
        .status()
        .unwrap();
    assert!(status.success());
    for file in [
        "model.onnx",
        "checkpoint.json",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "curves.png",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events.iter().filter(|e| e["event"] == "iteration").count(),
        12
    );
    assert!(events.iter().any(|e| e["event"] == "epoch"));
    assert_eq!(events.last().unwrap()["event"], "finished");
    let model = trainyard_onnx::OnnxModel::read(out.join("model.onnx")).unwrap();
    assert_eq!(model.metadata()["labels"], r#"["form","invoice","letter"]"#);
    let plot = image::open(out.join("curves.png")).unwrap();
    assert!(plot.width() > 100 && plot.height() > 100);

    // Resuming a finished run's last checkpoint trains no further and still exports.
    let again = dir.path().join("again");
    let resumed = Command::new(env!("CARGO_BIN_EXE_trainyard-train"))
        .args([
            "--data",
            zip.to_str().unwrap(),
            "--image-size",
            "32",
            "--test-split",
            "0.25",
            "--seed",
            "3",
        ])
        .args([
            "--device",
            "cpu",
            "--resume",
            out.join("checkpoint.json").to_str().unwrap(),
        ])
        .args(["--out", again.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let report: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(report["summary"]["iterations"], 12);
    assert_eq!(report["summary"]["total_iterations"], 12);
    let events = std::fs::read_to_string(again.join("metrics.jsonl")).unwrap();
    let kinds: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [r#""finished""#],
        "no step, evaluation or checkpoint"
    );
    assert!(again.join("model.onnx").is_file());
}

//! The committed JSON Schemas of the wire contracts (`schemas/contracts/*.schema.json`) must
//! equal the ones generated from the Rust types, and sample messages must keep their wire form.
//! Regenerate with `UPDATE_SCHEMAS=1 cargo test -p trainyard-core` and review the diff.

use std::path::PathBuf;

use serde_json::json;
use trainyard_core::contracts::dispatch::DispatchOrder;
use trainyard_core::contracts::metric::MetricPoint;
use trainyard_core::contracts::report::{ReportBody, WorkerReport};
use trainyard_core::contracts::worker::Registration;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/contracts")
}

#[test]
fn contract_schemas_match_the_committed_snapshots() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    if update {
        std::fs::create_dir_all(dir()).unwrap();
    }
    let mut drifted = Vec::new();
    for (name, schema) in trainyard_core::contracts::schemas() {
        let path = dir().join(format!("{name}.schema.json"));
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::write(&path, &generated).unwrap();
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == generated => {}
            _ => drifted.push(name),
        }
    }
    assert!(
        drifted.is_empty(),
        "schemas drifted or missing: {drifted:?}; run with UPDATE_SCHEMAS=1 and review the diff"
    );
    let files = std::fs::read_dir(dir()).unwrap().count();
    assert_eq!(
        files,
        trainyard_core::contracts::schemas().len(),
        "a schema file without a contract"
    );
}

#[test]
fn orders_reports_and_points_keep_their_wire_form() {
    let process = "0190f3a0-0000-7000-8000-000000000001";
    let machine = "0190f3a0-0000-7000-8000-000000000002";
    let stop = json!({
        "order": "stop", "order_id": "0190f3a0-0000-7000-8000-000000000003",
        "process_id": process, "attempt": 2, "issued_at": "2026-12-01T10:00:00Z"
    });
    let order: DispatchOrder = serde_json::from_value(stop.clone()).unwrap();
    assert_eq!(order.attempt(), 2);
    assert_eq!(serde_json::to_value(&order).unwrap(), stop);

    let report = json!({
        "report_id": "0190f3a0-0000-7000-8000-000000000004", "machine_id": machine,
        "process_id": process, "attempt": 1, "order_id": "0190f3a0-0000-7000-8000-000000000005",
        "sent_at": "2026-12-01T10:00:01Z",
        "body": {"report": "progress", "iteration": 10, "total_iterations": 100, "epoch": 1,
                 "total_epochs": 4, "images_per_sec": 512.5, "elapsed_secs": 3.0,
                 "eta": {"eta_secs": 27.0, "low_secs": 24.0, "high_secs": 31.0}}
    });
    let parsed: WorkerReport = serde_json::from_value(report.clone()).unwrap();
    assert!(matches!(&parsed.body, ReportBody::Progress(p) if p.eta.eta_secs == 27.0));
    assert_eq!(serde_json::to_value(&parsed).unwrap(), report);

    let point = json!({
        "kind": "iteration", "process_id": process, "machine_id": machine, "attempt": 1,
        "iteration": 10, "epoch": 1, "iterations_per_epoch": 25, "train_loss": 0.5,
        "learning_rate": 0.005, "images_per_sec": 512.5, "batch_size": 32,
        "at": "2026-12-01T10:00:01Z"
    });
    let parsed: MetricPoint = serde_json::from_value(point.clone()).unwrap();
    assert_eq!(parsed.iteration(), 10);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), point);

    let refused =
        json!({"outcome": "refused", "code": "unknown_machine", "message": "no such machine"});
    let parsed: Registration = serde_json::from_value(refused.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), refused);
}

#[test]
fn unknown_fields_are_refused() {
    let stop = json!({
        "order": "stop", "order_id": "0190f3a0-0000-7000-8000-000000000003",
        "process_id": "0190f3a0-0000-7000-8000-000000000001", "attempt": 2,
        "issued_at": "2026-12-01T10:00:00Z", "colour": "red"
    });
    assert!(serde_json::from_value::<DispatchOrder>(stop).is_err());
}

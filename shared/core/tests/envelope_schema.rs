//! The committed JSON Schema of the event envelope (`schemas/envelope.schema.json`) must equal the
//! one generated from the Rust types. Regenerate with `UPDATE_SCHEMAS=1 cargo test -p trainyard-core`.

use std::path::PathBuf;

use trainyard_core::EventEnvelope;

#[test]
fn envelope_schema_matches_the_committed_snapshot() {
    let schema = schemars::schema_for!(EventEnvelope);
    let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/envelope.schema.json");
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} unreadable ({e}); run with UPDATE_SCHEMAS=1",
            path.display()
        )
    });
    assert_eq!(
        committed, generated,
        "schema drifted; run with UPDATE_SCHEMAS=1 and review the diff"
    );
}

#[test]
fn schema_requires_every_envelope_field() {
    let schema = serde_json::to_value(schemars::schema_for!(EventEnvelope)).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in [
        "envelope_version",
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "tenant_id",
        "actor",
        "correlation_id",
        "aggregate_type",
        "aggregate_id",
        "payload",
    ] {
        assert!(required.contains(&field), "{field} not required");
    }
}

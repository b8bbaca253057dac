//! The committed OpenAPI document (`schemas/openapi/template.json`) must match what the code
//! generates. After an intended API change: `UPDATE_SNAPSHOTS=1 cargo test -p trainyard-template --test openapi`.

use std::path::PathBuf;

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated =
        serde_json::to_string_pretty(&trainyard_template::http::openapi()).unwrap() + "\n";
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/openapi/template.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi/template.json is out of date; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn every_resource_of_the_design_is_documented() {
    let doc = serde_json::to_value(trainyard_template::http::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/projects",
        "/api/v1/projects/{id}",
        "/api/v1/model-types",
        "/api/v1/base-models",
        "/api/v1/datasets",
        "/api/v1/training-templates",
        "/api/v1/training-templates/{id}",
        "/api/v1/training-templates/{id}/versions",
        "/api/v1/training-templates/parameters-schema",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the OpenAPI document"
        );
    }
}

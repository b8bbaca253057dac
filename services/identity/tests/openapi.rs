//! The committed OpenAPI document (`schemas/openapi/identity.json`) must match what the code
//! generates. After an intended API change: `UPDATE_SNAPSHOTS=1 cargo test -p trainyard-identity --test openapi`.

use std::path::PathBuf;

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated =
        serde_json::to_string_pretty(&trainyard_identity::http::openapi()).unwrap() + "\n";
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/openapi/identity.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi/identity.json is out of date; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn every_endpoint_is_documented() {
    let doc = serde_json::to_value(trainyard_identity::http::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/token",
        "/api/v1/auth/jwks",
        "/api/v1/auth/me",
        "/api/v1/tenants",
        "/api/v1/users",
        "/api/v1/users/{id}/roles",
        "/api/v1/roles/{id}",
        "/api/v1/service-accounts/{id}/api-keys",
        "/api/v1/service-accounts/{id}/roles",
        "/api/v1/audit/events",
        "/api/v1/audit/verify",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the OpenAPI document"
        );
    }
}

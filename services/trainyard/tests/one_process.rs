//! Both services behind one listener: one login, one base URL, one readiness report, one
//! OpenAPI document.

use std::time::Duration;

use serde_json::{json, Value};
use trainyard_testkit::{nats, postgres_db, wait_until};

const PASSWORD: &str = "Admin#Passw0rd";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listener_serves_identity_and_templates() {
    let (nats, db) = (nats(), postgres_db().await);
    let mut identity = trainyard_identity::config::default_config();
    identity.common.nats.url = nats.url();
    identity.common.postgres.url = db.url();
    identity.common.http.addr = "127.0.0.1:0".parse().unwrap();
    identity.service.bootstrap.admin_password = Some(PASSWORD.into());
    identity.service.password_hash.memory_kib = 1024;
    identity.service.password_hash.iterations = 1;
    let mut template = trainyard_template::config::default_config();
    template.common = identity.common.clone();
    // Unreachable on purpose: the in-process verifier must not need identity's JWKS over HTTP.
    template.service.auth.jwks_url = "http://127.0.0.1:9/jwks".into();
    let server = trainyard::build(identity, template, Box::new(std::io::sink()))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until_stopped());
    let client = reqwest::Client::new();

    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let response = client
        .post(format!("{base}/api/v1/projects"))
        .bearer_auth(token)
        .json(&json!({"name": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let doc: Value = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/users",
        "/api/v1/training-templates",
        "/api/v1/datasets",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the merged document"
        );
    }
    wait_until(
        Duration::from_secs(20),
        "every projection is ready",
        || async {
            let Ok(response) = client.get(format!("{base}/readyz")).send().await else {
                return false;
            };
            let report: Value = response.json().await.unwrap_or(Value::Null);
            let names: Vec<&str> = report["checks"].as_array().map_or(vec![], |c| {
                c.iter().filter_map(|c| c["name"].as_str()).collect()
            });
            report["ready"] == true
                && names.contains(&"projection:identity")
                && names.contains(&"projection:template")
        },
    )
    .await;
}

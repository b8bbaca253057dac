//! The audit journal: events of the log are queryable by filter, and editing a row in PostgreSQL
//! is detected by `/audit/verify`.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_filterable_and_tampering_is_detected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("audited").await;
    let user = app.create_user(&tenant, "dora", &[]).await;
    let path = format!("/api/v1/audit/events?aggregate_type=identity.user&aggregate_id={user}");
    app.wait_for(&path, "dora's creation in the journal", |v| {
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    let page = app
        .admin("GET", &format!("{path}&event_type=UserCreated"), None)
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["envelope"]["payload"]["login"], "dora");
    let by_tenant = app
        .admin(
            "GET",
            &format!("/api/v1/audit/events?tenant_id={tenant}"),
            None,
        )
        .await;
    assert!(by_tenant["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["envelope"]["tenant_id"] == Value::String(tenant.clone())));
    let future = app
        .admin(
            "GET",
            "/api/v1/audit/events?from=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert!(future["items"].as_array().unwrap().is_empty());

    let report = app.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(report["intact"], true, "{report}");
    let sequence = items[0]["sequence"].as_i64().unwrap();

    let (client, connection) = tokio_postgres::connect(&app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute("UPDATE audit.events SET envelope = jsonb_set(envelope, '{payload,login}', '\"mallory\"') WHERE sequence = $1", &[&sequence])
        .await
        .unwrap();
    let report = app.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_broken_sequence"], sequence);
}

//! Projects: create, read, rename, delete; names unique per tenant; tenants isolated.

use serde_json::json;
use trainyard_auth::{Entity, Right, Rights};

use crate::helpers::{ids, spawn_app};

#[tokio::test]
async fn a_project_is_created_listed_renamed_and_deleted() {
    let app = spawn_app().await;
    let id = app.create_project("Счета-2026").await;
    let project = app
        .admin("GET", &format!("/api/v1/projects/{id}"), None)
        .await;
    assert_eq!(project["name"], "Счета-2026");
    app.wait_for(
        "/api/v1/projects?name=сч",
        "the project is listed",
        |page| ids(page) == [id.clone()],
    )
    .await;
    let renamed = app
        .admin(
            "PUT",
            &format!("/api/v1/projects/{id}"),
            Some(json!({"name": "invoices.v2", "description": "Входящие счета"})),
        )
        .await;
    assert_eq!(renamed["name"], "invoices.v2");
    // The old name is free again, the new one is taken.
    app.create_project("Счета-2026").await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/projects",
            &app.admin_token,
            Some(json!({"name": "INVOICES.v2", "tenant_id": app.tenant})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("project_name_taken"))
    );
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/projects/{id}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/projects/{id}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_bad_name_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/projects",
            &app.admin_token,
            Some(json!({"name": "счета 2026", "tenant_id": app.tenant})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "invalid_name");
    assert_eq!(body["field"], "name");
    // The name was not reserved by the refused request.
    app.create_project("счета_2026").await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/projects",
            &app.admin_token,
            Some(json!({"name": "x", "colour": "red"})),
        )
        .await;
    // A body of the wrong shape is malformed input (the platform's `invalid_body`, 400).
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (400, Some("invalid_body"), Some("colour")),
        "{body}"
    );
}

#[tokio::test]
async fn another_tenants_project_looks_like_one_that_does_not_exist() {
    let app = spawn_app().await;
    let id = app.create_project("private").await;
    let stranger = app.stranger_token();
    let (status, _) = app
        .call("GET", &format!("/api/v1/projects/{id}"), &stranger, None)
        .await;
    assert_eq!(status, 404);
    let (status, page) = app.call("GET", "/api/v1/projects", &stranger, None).await;
    assert_eq!(status, 200);
    assert!(ids(&page).is_empty());
    // A template author may read projects without project rights; someone with none may not.
    let author = app.token(Rights::none().with(Entity::TrainingTemplates, Right::View));
    app.wait_for("/api/v1/projects", "listed", |page| {
        ids(page) == [id.clone()]
    })
    .await;
    let (status, page) = app.call("GET", "/api/v1/projects", &author, None).await;
    assert_eq!((status, ids(&page)), (200, vec![id.clone()]));
    let nobody = app.token(Rights::none().with(Entity::Users, Right::View));
    let (status, body) = app.call("GET", "/api/v1/projects", &nobody, None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_a_problem_naming_the_path() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/projects/not-a-uuid"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("invalid_path"), Some("path")),
        "{body}"
    );
    assert_eq!(body["instance"], "/api/v1/projects/not-a-uuid");
}

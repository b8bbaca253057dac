//! Training templates: the guide's first step, versions, pins, bounds, races and rights.

use serde_json::{json, Value};
use trainyard_auth::testing::guide_minimal_rights;
use trainyard_auth::{Entity, Right, Rights};

use crate::helpers::{ids, spawn_app, TestApp};

pub const CLASSIFIER: &str = "00000000-0000-0000-0000-000000000001";
pub const BASE_MODEL: &str = "00000000-0000-0000-0000-000000000001";

/// What the guide's form sends: name, type, base model left at `Базовая модель`, the
/// recommended augmentation, every technical parameter at its default.
pub fn guide_form(project: &str, name: &str) -> Value {
    json!({
        "project_id": project,
        "name": name,
        "model_type_id": CLASSIFIER,
        "description": "Классификатор входящих документов",
        "augmentation": "rotations_exposure_noise",
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.call("POST", "/api/v1/training-templates", token, Some(body))
        .await
}

#[tokio::test]
async fn the_guides_minimal_role_creates_a_template_with_the_reference_defaults() {
    let app = spawn_app().await;
    let project = app.create_project("documents").await;
    let user = app.token(guide_minimal_rights());
    let (status, template) = create(&app, &user, guide_form(&project, "Счета.v1")).await;
    assert_eq!(status, 201, "{template}");
    assert_eq!(template["version"], 1);
    assert_eq!(template["base_model_id"], BASE_MODEL);
    assert_eq!(template["augmentation"], "rotations_exposure_noise");
    let p = &template["parameters"];
    assert_eq!(
        (
            &p["workers"],
            &p["max_iterations"],
            &p["learning_rate"],
            &p["metrics_period_secs"],
            &p["device"]
        ),
        (
            &json!(8),
            &json!(1000),
            &json!(0.005),
            &json!(60),
            &json!("cuda")
        )
    );
    let id = template["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/training-templates?project_id={project}");
    app.wait_for(&path, "the template is listed", |page| {
        ids(page) == [id.clone()]
    })
    .await;
    let (status, page) = app.call("GET", &path, &user, None).await;
    assert_eq!(
        (status, &page["items"][0]["name"]),
        (200, &json!("Счета.v1"))
    );
    // The minimal role may not edit or delete.
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/training-templates/{id}"),
            &user,
            Some(guide_form(&project, "x")),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/training-templates/{id}"),
            &user,
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_edit_is_a_new_version_and_a_pinned_version_survives_it() {
    let app = spawn_app().await;
    let project = app.create_project("p").await;
    let (_, template) = create(&app, &app.admin_token, guide_form(&project, "t")).await;
    let id = template["id"].as_str().unwrap();
    let base = format!("/api/v1/training-templates/{id}");
    let process = uuid::Uuid::now_v7().to_string();
    let pin = app
        .admin(
            "POST",
            &format!("{base}/pins"),
            Some(json!({"process_id": process})),
        )
        .await;
    assert_eq!(pin["version"], 1);
    let mut form = guide_form(&project, "t-renamed");
    form["parameters"] = json!({"batch_size": 64, "device": "cpu"});
    form["expected_version"] = json!(1);
    let edited = app.admin("PUT", &base, Some(form.clone())).await;
    assert_eq!(
        (edited["version"].as_u64(), edited["name"].as_str()),
        (Some(2), Some("t-renamed"))
    );
    assert_eq!(edited["parameters"]["batch_size"], 64);
    // The same form again changes nothing; a stale expected version is a conflict.
    form["expected_version"] = json!(2);
    assert_eq!(
        app.admin("PUT", &base, Some(form.clone())).await["version"],
        2
    );
    form["expected_version"] = json!(1);
    let (status, body) = app.call("PUT", &base, &app.admin_token, Some(form)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("version_mismatch"))
    );
    let v1 = app.admin("GET", &format!("{base}/versions/1"), None).await;
    assert_eq!(
        (v1["name"].as_str(), &v1["parameters"]["batch_size"]),
        (Some("t"), &json!(32))
    );
    assert_eq!(v1["pinned_by"], json!([process]));
    let versions = app.admin("GET", &format!("{base}/versions"), None).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    // Pinned: not deletable; unpinned: deletable, and its name is free again.
    let (status, body) = app.call("DELETE", &base, &app.admin_token, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("template_in_use"))
    );
    let (status, _) = app
        .call(
            "DELETE",
            &format!("{base}/pins/{process}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.call("DELETE", &base, &app.admin_token, None).await;
    assert_eq!(status, 204);
    let (status, _) = app.call("GET", &base, &app.admin_token, None).await;
    assert_eq!(status, 404);
    let (status, _) = create(&app, &app.admin_token, guide_form(&project, "T-RENAMED")).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn of_fifty_parallel_creates_of_one_name_exactly_one_succeeds() {
    let app = spawn_app().await;
    let project = app.create_project("race").await;
    let calls = (0..50).map(|i| {
        let mut form = guide_form(
            &project,
            if i % 2 == 0 {
                "Договор"
            } else {
                "договор"
            },
        );
        form["description"] = json!(format!("attempt {i}"));
        create(&app, &app.admin_token, form)
    });
    let results = futures::future::join_all(calls).await;
    let created: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(
            (*status, body["code"].as_str()),
            (409, Some("template_name_taken")),
            "{body}"
        );
        assert_eq!(body["field"], "name");
    }
    let winner = created[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/training-templates?project_id={project}");
    app.wait_for(&path, "only the winner is listed", |page| {
        ids(page) == [winner.clone()]
    })
    .await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let project = app.create_project("strict").await;
    let cases = [
        (json!({"name": "счёт 1"}), "invalid_name", "name"),
        (
            json!({"parameters": {"learning_rate": 0}}),
            "parameter_out_of_range",
            "parameters.learning_rate",
        ),
        (
            json!({"parameters": {"batch_size": 5000}}),
            "parameter_out_of_range",
            "parameters.batch_size",
        ),
        (
            json!({"model_type_id": uuid::Uuid::now_v7()}),
            "unknown_model_type",
            "model_type_id",
        ),
        (
            json!({"base_model_id": uuid::Uuid::now_v7()}),
            "unknown_base_model",
            "base_model_id",
        ),
        (
            json!({"dataset_id": uuid::Uuid::now_v7()}),
            "unknown_dataset",
            "dataset_id",
        ),
        (
            json!({"project_id": uuid::Uuid::now_v7()}),
            "unknown_project",
            "project_id",
        ),
    ];
    for (change, code, field) in cases {
        let mut form = guide_form(&project, "same-name");
        for (k, v) in change.as_object().unwrap() {
            form[k] = v.clone();
        }
        let (status, body) = create(&app, &app.admin_token, form).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(
            (body["code"].as_str(), body["field"].as_str()),
            (Some(code), Some(field)),
            "{change}"
        );
    }
    // A field the schema does not know is refused too, naming it.
    let mut form = guide_form(&project, "same-name");
    form["parameters"] = json!({"epochs_please": 3});
    let (status, body) = create(&app, &app.admin_token, form).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_body")),
        "{body}"
    );
    assert_eq!(body["field"], "parameters.epochs_please");
    // None of the refusals kept the name or left a reference behind.
    let (status, _) = create(&app, &app.admin_token, guide_form(&project, "same-name")).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn the_served_schema_and_the_enforced_bounds_agree() {
    let app = spawn_app().await;
    let project = app.create_project("schema").await;
    let schema = app
        .admin("GET", "/api/v1/training-templates/parameters-schema", None)
        .await;
    let properties = schema["properties"].as_object().unwrap();
    let mut checked = 0;
    for (name, property) in properties {
        let (Some(min), Some(max)) = (property["minimum"].as_f64(), property["maximum"].as_f64())
        else {
            continue;
        };
        for (value, ok) in [(min, true), (max, true), (max * 2.0 + 1.0, false)] {
            let number = if property["type"] == "integer"
                || property["type"].to_string().contains("integer")
            {
                json!(value as u64)
            } else {
                json!(value)
            };
            let mut form = guide_form(&project, &format!("b{checked}"));
            form["parameters"] = json!({ name: number });
            let (status, body) = create(&app, &app.admin_token, form).await;
            checked += 1;
            if ok {
                assert_eq!(status, 201, "{name} = {number}: {body}");
            } else {
                assert_eq!(status, 422, "{name} = {number}: {body}");
                assert_eq!(body["field"], format!("parameters.{name}"));
            }
        }
    }
    assert!(
        checked >= 18,
        "only {checked} bounded properties in {schema}"
    );
}

#[tokio::test]
async fn an_augmentation_preview_is_a_png_grid() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/training-templates/augmentation-preview.png?augmentation=rotations_exposure_noise&images=3&variants=4&image_size=64"))
        .bearer_auth(app.token(Rights::none().with(Entity::TrainingTemplates, Right::View)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    // 3 rows of 64 px and 5 columns (original + 4 variants), with 2 px gaps.
    assert_eq!((png.width(), png.height()), (5 * 66 + 2, 3 * 66 + 2));
}

#[tokio::test]
async fn another_tenant_cannot_see_or_pin_a_template() {
    let app = spawn_app().await;
    let project = app.create_project("mine").await;
    let (_, template) = create(&app, &app.admin_token, guide_form(&project, "t")).await;
    let id = template["id"].as_str().unwrap();
    let stranger = app.stranger_token();
    for (method, path, body) in [
        ("GET", format!("/api/v1/training-templates/{id}"), None),
        (
            "GET",
            format!("/api/v1/training-templates/{id}/versions"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/training-templates/{id}/pins"),
            Some(json!({"process_id": uuid::Uuid::now_v7()})),
        ),
    ] {
        let (status, _) = app.call(method, &path, &stranger, body).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    // Creating in another tenant's project is refused as an unknown project.
    let (status, body) = create(&app, &stranger, guide_form(&project, "t2")).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("project_id")));
}

#[tokio::test]
async fn a_model_type_or_base_model_in_use_cannot_be_deleted_until_its_templates_are() {
    let app = spawn_app().await;
    let project = app.create_project("links").await;
    let kind = app
        .admin(
            "POST",
            "/api/v1/model-types",
            Some(json!({"name": "passport", "goal": "classification"})),
        )
        .await;
    let base = app
        .admin(
            "POST",
            "/api/v1/base-models",
            Some(json!({"name": "ResNet паспорта", "architecture": "resnet18"})),
        )
        .await;
    let (kind, base) = (kind["id"].as_str().unwrap(), base["id"].as_str().unwrap());
    let mut form = guide_form(&project, "passports");
    form["model_type_id"] = json!(kind);
    form["base_model_id"] = json!(base);
    let (status, template) = create(&app, &app.admin_token, form.clone()).await;
    assert_eq!(status, 201, "{template}");
    // An edit back to the defaults keeps version 1's links: a process may pin version 1.
    let id = template["id"].as_str().unwrap();
    app.admin(
        "PUT",
        &format!("/api/v1/training-templates/{id}"),
        Some(guide_form(&project, "passports")),
    )
    .await;
    for (path, code) in [
        (format!("/api/v1/model-types/{kind}"), "model_type_in_use"),
        (format!("/api/v1/base-models/{base}"), "base_model_in_use"),
    ] {
        let (status, body) = app.call("DELETE", &path, &app.admin_token, None).await;
        assert_eq!((status, body["code"].as_str()), (409, Some(code)), "{path}");
    }
    app.wait_for(
        &format!("/api/v1/model-types/{kind}"),
        "usage is counted",
        |t| t["templates"] == 1,
    )
    .await;
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/training-templates/{id}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 204);
    for path in [
        format!("/api/v1/model-types/{kind}"),
        format!("/api/v1/base-models/{base}"),
    ] {
        let (status, body) = app.call("DELETE", &path, &app.admin_token, None).await;
        assert_eq!(status, 204, "{path}: {body}");
    }
    // A template naming the deleted model type is refused and leaves nothing behind.
    let (status, body) = create(&app, &app.admin_token, form).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("model_type_id"))
    );
}

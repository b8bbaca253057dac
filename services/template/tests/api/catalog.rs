//! Model types and base models: the installation's defaults, administrators managing them,
//! everyone reading them, unique and immutable names, and uploaded initial weights checked
//! against the architecture.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trainyard_auth::Rights;
use trainyard_engine::model::{Model, ModelKind, ModelSpec};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// Names of a page's items.
fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A safetensors file with freshly initialised weights of `kind`, named as in a training
/// checkpoint when `prefix` is `model.`.
fn weights_file(kind: ModelKind, channels: i64, side: i64, classes: i64, prefix: &str) -> Vec<u8> {
    let spec = ModelSpec {
        kind,
        channels,
        height: side,
        width: side,
        classes,
    };
    let model = Model::new(spec, tch::Device::Cpu, 3);
    let tensors: Vec<(String, tch::Tensor)> = model
        .named_tensors()
        .into_iter()
        .map(|(name, tensor)| (format!("{prefix}{name}"), tensor.contiguous()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.safetensors");
    tch::Tensor::write_safetensors(&tensors, &path).unwrap();
    std::fs::read(&path).unwrap()
}

/// A raw upload of `bytes` to a base model's weights.
async fn upload(app: &TestApp, id: &str, token: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .put(app.url(&format!("/api/v1/base-models/{id}/weights")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create_base_model(app: &TestApp, name: &str, architecture: &str) -> String {
    let body = json!({"name": name, "architecture": architecture});
    app.admin("POST", "/api/v1/base-models", Some(body)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_fresh_installation_has_the_classifier_and_the_base_model_for_everyone() {
    let app = spawn_app().await;
    app.wait_for(
        "/api/v1/model-types",
        "the defaults are projected",
        |page| !names(page).is_empty(),
    )
    .await;
    app.wait_for(
        "/api/v1/base-models",
        "the defaults are projected",
        |page| !names(page).is_empty(),
    )
    .await;
    // Any signed-in user reads the catalog, even one without rights.
    let nobody = app.token(Rights::none());
    let (status, page) = app.call("GET", "/api/v1/model-types", &nobody, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["classifier"]);
    let classifier = &page["items"][0];
    assert_eq!(classifier["goal"], "classification");
    assert_eq!(classifier["configuration"], json!({}));
    assert_eq!(classifier["templates"], 0);
    let (status, page) = app.call("GET", "/api/v1/base-models", &nobody, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["Базовая модель"]);
    let base = &page["items"][0];
    assert_eq!(base["architecture"], "base");
    assert_eq!(base["weights"], Value::Null);
    assert_eq!(base["templates"], 0);
    let id = base["id"].as_str().unwrap();
    let (status, one) = app
        .call("GET", &format!("/api/v1/base-models/{id}"), &nobody, None)
        .await;
    assert_eq!((status, &one["name"]), (200, &json!("Базовая модель")));
    let (status, _) = app
        .call("GET", "/api/v1/model-types", "not-a-token", None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_administrator_creates_updates_and_deletes_a_model_type() {
    let app = spawn_app().await;
    let created = app
        .admin(
            "POST",
            "/api/v1/model-types",
            Some(json!({
                "name": "ocr-pages",
                "description": "Страницы документов",
                "goal": "classification",
                "configuration": {"labels": ["invoice", "act"]}
            })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["configuration"]["labels"][1], "act");
    assert_eq!(created["templates"], 0);
    app.wait_for(
        "/api/v1/model-types?name=ocr",
        "the model type is listed",
        |page| names(page) == ["ocr-pages"],
    )
    .await;
    // The name filter is case-sensitive, like the names.
    app.wait_for("/api/v1/model-types?name=OCR", "no match", |page| {
        names(page).is_empty()
    })
    .await;

    // Names are unique and case-sensitive.
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/model-types",
            &app.admin_token,
            Some(json!({"name": "classifier"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("model_type_name_taken"))
    );
    assert_eq!(body["field"], "name");
    app.admin(
        "POST",
        "/api/v1/model-types",
        Some(json!({"name": "Classifier"})),
    )
    .await;

    // A configuration must be a JSON object; the refused request reserves nothing.
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/model-types",
            &app.admin_token,
            Some(json!({"name": "tables", "configuration": [1, 2]})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_configuration"))
    );
    assert_eq!(body["field"], "configuration");
    app.admin(
        "POST",
        "/api/v1/model-types",
        Some(json!({"name": "tables"})),
    )
    .await;

    // Updating keeps the name; sending another name is refused and changes nothing.
    let path = format!("/api/v1/model-types/{id}");
    let updated = app
        .admin(
            "PUT",
            &path,
            Some(json!({
                "name": "ocr-pages",
                "description": "Все страницы",
                "configuration": {"labels": ["invoice"]}
            })),
        )
        .await;
    assert_eq!(updated["name"], "ocr-pages");
    assert_eq!(updated["description"], "Все страницы");
    assert_eq!(updated["configuration"], json!({"labels": ["invoice"]}));
    let (status, body) = app
        .call(
            "PUT",
            &path,
            &app.admin_token,
            Some(json!({"name": "ocr-v2", "description": "renamed"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("name_immutable"))
    );
    assert_eq!(body["field"], "name");
    let (status, body) = app
        .call(
            "PUT",
            &path,
            &app.admin_token,
            Some(json!({"configuration": "labels"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("configuration"))
    );
    let current = app.admin("GET", &path, None).await;
    assert_eq!(current["description"], "Все страницы");
    assert_eq!(current["configuration"], json!({"labels": ["invoice"]}));

    // Deleted: gone, and its name is free again.
    let (status, _) = app.call("DELETE", &path, &app.admin_token, None).await;
    assert_eq!(status, 204);
    let (status, body) = app.call("GET", &path, &app.admin_token, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    app.admin(
        "POST",
        "/api/v1/model-types",
        Some(json!({"name": "ocr-pages"})),
    )
    .await;
}

#[tokio::test]
async fn only_administrators_change_the_catalog_but_everyone_reads_it() {
    let app = spawn_app().await;
    let user = app.token(Rights::all());
    let model_type = app
        .admin(
            "POST",
            "/api/v1/model-types",
            Some(json!({"name": "stamps"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base_model = create_base_model(&app, "resnet-stamps", "resnet18").await;
    let writes = [
        (
            "POST",
            "/api/v1/model-types".to_owned(),
            Some(json!({"name": "mine"})),
        ),
        (
            "PUT",
            format!("/api/v1/model-types/{model_type}"),
            Some(json!({"description": "mine"})),
        ),
        ("DELETE", format!("/api/v1/model-types/{model_type}"), None),
        (
            "POST",
            "/api/v1/base-models".to_owned(),
            Some(json!({"name": "mine", "architecture": "base"})),
        ),
        (
            "PUT",
            format!("/api/v1/base-models/{base_model}"),
            Some(json!({"description": "mine"})),
        ),
        (
            "DELETE",
            format!("/api/v1/base-models/{base_model}/weights"),
            None,
        ),
        ("DELETE", format!("/api/v1/base-models/{base_model}"), None),
    ];
    for (method, path, body) in writes {
        let (status, problem) = app.call(method, &path, &user, body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }
    let weights = weights_file(ModelKind::Resnet18, 3, 32, 2, "");
    let (status, _) = upload(&app, &base_model, &user, weights).await;
    assert_eq!(status, 403);
    let reads = [
        "/api/v1/model-types".to_owned(),
        format!("/api/v1/model-types/{model_type}"),
        "/api/v1/base-models".to_owned(),
        format!("/api/v1/base-models/{base_model}"),
    ];
    for path in reads {
        let (status, body) = app.call("GET", &path, &user, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }
    // Nothing changed.
    let stamps = app
        .admin("GET", &format!("/api/v1/model-types/{model_type}"), None)
        .await;
    assert_eq!(stamps["description"], "");
}

#[tokio::test]
async fn an_administrator_creates_updates_and_deletes_a_base_model() {
    let app = spawn_app().await;
    let registered = uuid::Uuid::now_v7();
    let created = app
        .admin(
            "POST",
            "/api/v1/base-models",
            Some(json!({
                "name": "ResNet документы",
                "architecture": "resnet18",
                "description": "Для GPU",
                "registered_model": {"model_id": registered, "version": 2}
            })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["architecture"], "resnet18");
    assert_eq!(
        created["weights"],
        json!({"source": "registered_model", "model_id": registered, "version": 2})
    );
    app.wait_for(
        "/api/v1/base-models?architecture=resnet18",
        "the base model is listed by architecture",
        |page| names(page) == ["ResNet документы"],
    )
    .await;
    app.wait_for(
        "/api/v1/base-models?architecture=base&name=БАЗ",
        "the default is listed by architecture and name",
        |page| names(page) == ["Базовая модель"],
    )
    .await;
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/base-models?architecture=vgg16",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("architecture"))
    );

    // Names are unique (case-insensitive for base models); bad input reserves nothing.
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/base-models",
            &app.admin_token,
            Some(json!({"name": "базовая модель", "architecture": "base"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("base_model_name_taken"))
    );
    assert_eq!(body["field"], "name");
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/base-models",
            &app.admin_token,
            Some(json!({
                "name": "from-registry",
                "architecture": "base",
                "registered_model": {"model_id": registered, "version": 0}
            })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("registered_model.version"))
    );
    create_base_model(&app, "from-registry", "base").await;

    let path = format!("/api/v1/base-models/{id}");
    let updated = app
        .admin(
            "PUT",
            &path,
            Some(json!({"description": "Для GPU, 224×224"})),
        )
        .await;
    assert_eq!(updated["description"], "Для GPU, 224×224");
    assert_eq!(updated["architecture"], "resnet18");
    let (status, _) = app.call("DELETE", &path, &app.admin_token, None).await;
    assert_eq!(status, 204);
    let (status, _) = app.call("GET", &path, &app.admin_token, None).await;
    assert_eq!(status, 404);
    app.wait_for(
        "/api/v1/base-models?architecture=resnet18",
        "the deleted base model is no longer listed",
        |page| names(page).is_empty(),
    )
    .await;
    create_base_model(&app, "ResNet документы", "resnet18").await;
}

#[tokio::test]
async fn uploaded_weights_are_checked_against_the_architecture() {
    let app = spawn_app().await;
    let id = create_base_model(&app, "pages-finetune", "base").await;
    let path = format!("/api/v1/base-models/{id}");

    // A training checkpoint's tensors (`model.` prefix) for other classes and input size.
    let file = weights_file(ModelKind::Base, 1, 64, 7, "model.");
    let sha256 = hex::encode(Sha256::digest(&file));
    let size = file.len();
    let (status, body) = upload(&app, &id, &app.admin_token, file).await;
    assert_eq!(status, 200, "{body}");
    let weights = &body["weights"];
    assert_eq!(weights["source"], "checkpoint");
    assert_eq!(weights["sha256"], sha256.as_str());
    assert_eq!(weights["size"], size);
    assert_eq!(
        weights["object"],
        format!("base-models/{id}/{sha256}.safetensors")
    );
    // Four stages of a convolution kernel and BatchNorm's four tensors; the classifier head is
    // not counted.
    assert_eq!(weights["matched_tensors"], 4 * 5);
    app.wait_for(
        "/api/v1/base-models?name=pages",
        "the weights are listed",
        |page| page["items"][0]["weights"]["sha256"] == sha256.as_str(),
    )
    .await;

    // Not safetensors: refused, and the weights stay.
    let (status, body) = upload(&app, &id, &app.admin_token, b"\x07random bytes".repeat(100)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_weights"))
    );
    assert_eq!(body["field"], "body");
    // Another architecture's weights: refused.
    let resnet = weights_file(ModelKind::Resnet18, 3, 32, 2, "");
    let (status, body) = upload(&app, &id, &app.admin_token, resnet).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("weights_mismatch"))
    );
    assert_eq!(body["field"], "body");
    let current = app.admin("GET", &path, None).await;
    assert_eq!(current["weights"]["sha256"], sha256.as_str());

    // Bare variable names are accepted too and replace the checkpoint.
    let bare = weights_file(ModelKind::Base, 3, 32, 2, "");
    let (status, body) = upload(&app, &id, &app.admin_token, bare).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["weights"]["sha256"], sha256.as_str());
    assert_eq!(body["weights"]["matched_tensors"], 3 * 5);

    let cleared = app.admin("DELETE", &format!("{path}/weights"), None).await;
    assert_eq!(cleared["weights"], Value::Null);
}

#[tokio::test]
async fn weights_over_the_limit_are_refused_with_413() {
    let app = spawn_app_with(|config| config.service.base_models.max_weights_bytes = 4096).await;
    let id = create_base_model(&app, "small", "base").await;
    let file = weights_file(ModelKind::Base, 1, 64, 2, "");
    assert!(file.len() > 4096);
    let (status, body) = upload(&app, &id, &app.admin_token, file).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("upload_too_large"))
    );
    let current = app
        .admin("GET", &format!("/api/v1/base-models/{id}"), None)
        .await;
    assert_eq!(current["weights"], Value::Null);
}

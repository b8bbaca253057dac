//! Datasets: create, rename, delete; ZIP uploads validated in the background to `ready` (with
//! statistics and a sample grid) or `invalid` (with the engine's code); oversize uploads refused
//! with nothing stored; rights and tenants.

use std::io::{Cursor, Write};

use futures::StreamExt;
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage};
use serde_json::{json, Value};
use trainyard_auth::{Entity, Right, Rights};

use crate::helpers::{ids, spawn_app, spawn_app_with, TestApp};

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn colour_png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([seed.wrapping_mul(37), (x * 9) as u8, (y * 7) as u8])
    });
    encode(DynamicImage::ImageRgb8(image), ImageFormat::Png)
}

fn gray(width: u32, height: u32, seed: u8, format: ImageFormat) -> Vec<u8> {
    let image = GrayImage::from_fn(width, height, |x, y| {
        Luma([seed.wrapping_mul(53).wrapping_add((x + y) as u8)])
    });
    encode(DynamicImage::ImageLuma8(image), format)
}

/// Pixels that do not compress, so an archive of them is about as large as the pixels.
fn noise_png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let image = RgbImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        };
        Rgb([next(), next(), next()])
    });
    encode(DynamicImage::ImageRgb8(image), ImageFormat::Png)
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().large_file(true);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `cats`: 3 colour PNGs 20×16; `dogs`: 4 grayscale PNGs 24×24; `birds`: 2 JPEGs 16×16; plus a
/// note that is skipped; all under a wrapping `animals/` folder.
pub(crate) fn good_dataset() -> Vec<u8> {
    let mut entries = Vec::new();
    for i in 0..3u8 {
        entries.push((format!("animals/cats/{i}.png"), colour_png(20, 16, i)));
    }
    for i in 0..4u8 {
        entries.push((
            format!("animals/dogs/{i}.png"),
            gray(24, 24, i, ImageFormat::Png),
        ));
    }
    for i in 0..2u8 {
        entries.push((
            format!("animals/birds/{i}.jpg"),
            gray(16, 16, i, ImageFormat::Jpeg),
        ));
    }
    entries.push(("animals/cats/notes.txt".into(), b"not an image".to_vec()));
    zip_of(&entries)
}

/// `train/` and `test/` folders with two classes.
pub(crate) fn split_dataset() -> Vec<u8> {
    let mut entries = Vec::new();
    for (split, count) in [("train", 3u8), ("test", 1)] {
        for class in ["invoice", "receipt"] {
            for i in 0..count {
                let seed = i + if class == "invoice" { 0 } else { 100 };
                entries.push((
                    format!("{split}/{class}/{i}.png"),
                    gray(12, 12, seed, ImageFormat::Png),
                ));
            }
        }
    }
    zip_of(&entries)
}

pub(crate) async fn create_dataset(app: &TestApp, project: &str, name: &str) -> String {
    let body = json!({"project_id": project, "name": name, "description": "test data"});
    app.admin("POST", "/api/v1/datasets", Some(body)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    dataset: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/datasets/{dataset}/versions?file_name=animals.zip"
        )))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Uploads `bytes` as an administrator and waits until validation decided; returns the version.
pub(crate) async fn upload_and_settle(app: &TestApp, dataset: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = upload(app, &app.admin_token, dataset, bytes).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "uploaded");
    let version = body["version"].as_u64().unwrap();
    let path = format!("/api/v1/datasets/{dataset}/versions/{version}");
    app.wait_for(&path, "the version is validated", |v| {
        v["status"] == "ready" || v["status"] == "invalid"
    })
    .await;
    app.admin("GET", &path, None).await
}

/// Live objects of `dataset` in the datasets bucket.
async fn objects_of(app: &TestApp, dataset: &str) -> Vec<String> {
    let client = async_nats::connect(app.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let bucket = js.get_object_store("datasets").await.unwrap();
    let mut list = bucket.list().await.unwrap();
    let mut names = Vec::new();
    while let Some(info) = list.next().await {
        let info = info.unwrap();
        if !info.deleted && info.name.starts_with(&format!("{dataset}/")) {
            names.push(info.name);
        }
    }
    names
}

#[tokio::test]
async fn a_good_dataset_becomes_ready_with_statistics_and_a_sample_grid() {
    let app = spawn_app().await;
    let project = app.create_project("vision").await;
    let id = create_dataset(&app, &project, "Animals").await;
    let dataset = app
        .admin("GET", &format!("/api/v1/datasets/{id}"), None)
        .await;
    assert_eq!(dataset["project_id"], project.as_str());
    assert_eq!(dataset["latest_version"], Value::Null);

    let bytes = good_dataset();
    let version = upload_and_settle(&app, &id, bytes.clone()).await;
    assert_eq!(version["status"], "ready", "{version}");
    assert_eq!(version["version"], 1);
    assert_eq!(version["size"], bytes.len());
    assert_eq!(version["file_name"], "animals.zip");
    assert_eq!(version["sha256"].as_str().unwrap().len(), 64);
    let stats = &version["statistics"];
    assert_eq!(
        stats["classes"],
        json!([
            {"name": "birds", "images": 2},
            {"name": "cats", "images": 3},
            {"name": "dogs", "images": 4},
        ])
    );
    assert_eq!(stats["images"], 9);
    assert_eq!(stats["skipped_files"], 1);
    assert_eq!(stats["formats"]["png"], 7);
    assert_eq!(stats["sizes"], json!({"16x16": 2, "20x16": 3, "24x24": 4}));
    assert_eq!(
        (stats["min_width"].as_u64(), stats["max_width"].as_u64()),
        (Some(16), Some(24))
    );
    assert_eq!(stats["any_color"], true);
    assert_eq!(stats["explicit_split"], false);
    assert_eq!(version["reason"], Value::Null);

    let response = app
        .client
        .get(app.url(&format!("/api/v1/datasets/{id}/versions/1/samples.png")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let grid = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    // One row per class, four tiles per row.
    assert!(grid.height() > 3 * 64 && grid.width() > 4 * 64, "{grid:?}");

    // The same bytes again: refused, nothing added.
    let (status, body) = upload(&app, &app.admin_token, &id, bytes).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("duplicate_upload")),
        "{body}"
    );
    let versions = app
        .admin("GET", &format!("/api/v1/datasets/{id}/versions"), None)
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1);

    // A second version with `train/` and `test/` folders.
    let split = upload_and_settle(&app, &id, split_dataset()).await;
    assert_eq!(split["version"], 2);
    assert_eq!(split["status"], "ready", "{split}");
    assert_eq!(split["statistics"]["explicit_split"], true);
    assert_eq!(split["statistics"]["explicit_test_images"], 2);
    assert_eq!(split["statistics"]["images"], 8);
    let mut objects = objects_of(&app, &id).await;
    objects.sort();
    assert_eq!(objects.len(), 4, "two archives and two grids: {objects:?}");

    app.wait_for(
        &format!("/api/v1/datasets?project_id={project}&status=ready&name=ani"),
        "the dataset is listed as ready",
        |page| ids(page) == [id.clone()] && page["items"][0]["latest_version"] == 2,
    )
    .await;
    let (status, page) = app
        .call(
            "GET",
            "/api/v1/datasets?status=invalid",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(!ids(&page).contains(&id));
    let (status, body) = app
        .call(
            "GET",
            "/api/v1/datasets?status=finished",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("status")));
}

#[tokio::test]
async fn bad_archives_end_invalid_with_the_engine_code_and_the_file_at_fault() {
    let app = spawn_app_with(|c| c.service.datasets.max_inflated_bytes = 4 << 20).await;
    let project = app.create_project("vision").await;
    let id = create_dataset(&app, &project, "broken").await;
    let a = || gray(8, 8, 1, ImageFormat::Png);
    let b = || gray(8, 8, 2, ImageFormat::Png);
    let truncated = {
        let png = colour_png(32, 32, 3);
        png[..png.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, &str, Option<&str>)> = vec![
        (
            "decompression bomb",
            zip_of(&[
                ("a/1.png".into(), a()),
                ("b/1.png".into(), b()),
                ("b/huge.bmp".into(), vec![0u8; 8 << 20]),
            ]),
            "dataset.zip_bomb",
            Some("b/huge.bmp"),
        ),
        (
            "path traversal",
            zip_of(&[
                ("a/1.png".into(), a()),
                ("b/1.png".into(), b()),
                ("../evil.png".into(), a()),
            ]),
            "dataset.unsafe_path",
            Some("../evil.png"),
        ),
        (
            "corrupt image",
            zip_of(&[
                ("a/1.png".into(), a()),
                ("b/1.png".into(), b()),
                ("b/2.png".into(), truncated),
            ]),
            "dataset.corrupt_image",
            Some("b/2.png"),
        ),
        (
            "single class",
            zip_of(&[("a/1.png".into(), a()), ("a/2.png".into(), b())]),
            "dataset.too_few_classes",
            None,
        ),
        (
            "empty archive",
            zip_of(&[]),
            "dataset.too_few_classes",
            None,
        ),
        (
            "not an archive",
            b"just some text, not a ZIP".to_vec(),
            "dataset.corrupt_archive",
            None,
        ),
    ];
    for (what, bytes, code, path) in cases {
        let version = upload_and_settle(&app, &id, bytes).await;
        assert_eq!(version["status"], "invalid", "{what}: {version}");
        let reason = &version["reason"];
        assert_eq!(reason["code"], code, "{what}: {reason}");
        assert_eq!(reason["path"].as_str(), path, "{what}: {reason}");
        let message = reason["message"].as_str().unwrap();
        assert!(
            !message.contains("archive.zip/"),
            "{what}: work paths leak: {message}"
        );
        assert_eq!(version["statistics"], Value::Null);
    }
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/v1/datasets/{id}/versions/1/samples.png"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("version_not_ready"))
    );
    let dataset = app
        .admin("GET", &format!("/api/v1/datasets/{id}"), None)
        .await;
    assert_eq!(dataset["latest_status"], "invalid");

    // Nothing at all is not an upload.
    let (status, body) = upload(&app, &app.admin_token, &id, Vec::new()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (422, Some("empty_upload"), Some("body"))
    );
}

/// Sends `bytes` in chunks without a `Content-Length`, as a client streaming from a pipe does.
async fn upload_chunked(app: &TestApp, dataset: &str, bytes: &[u8]) -> (u16, Value) {
    let path = format!("/api/v1/datasets/{dataset}/versions");
    app.send_chunked("POST", &path, &["Content-Type: application/zip"], bytes)
        .await
}

#[tokio::test]
async fn an_oversize_upload_is_refused_and_stores_nothing() {
    let work = tempfile::tempdir().unwrap();
    let work_dir = work.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.service.datasets.max_upload_bytes = 64 << 10;
        c.service.datasets.work_dir = Some(work_dir);
    })
    .await;
    let project = app.create_project("vision").await;
    let id = create_dataset(&app, &project, "big").await;
    let limit = app.config.service.datasets.max_upload_bytes;
    let entries: Vec<(String, Vec<u8>)> = (0..16u32)
        .map(|i| {
            let class = if i % 2 == 0 { "a" } else { "b" };
            (format!("{class}/{i}.png"), noise_png(64, 64, i + 1))
        })
        .collect();
    let big = zip_of(&entries);
    assert!(big.len() as u64 > 2 * limit, "{}", big.len());

    // Declared too large up front.
    let (status, body) = upload(&app, &app.admin_token, &id, big.clone()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (413, Some("upload_too_large"), Some("body")),
        "{body}"
    );
    // Streamed without a length: refused once the limit is passed.
    let (status, body) = upload_chunked(&app, &id, &big).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("upload_too_large")),
        "{body}"
    );

    let versions = app
        .admin("GET", &format!("/api/v1/datasets/{id}/versions"), None)
        .await;
    assert_eq!(versions["items"], json!([]));
    assert_eq!(objects_of(&app, &id).await, Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(left.is_empty(), "work files left behind: {left:?}");
    let dataset = app
        .admin("GET", &format!("/api/v1/datasets/{id}"), None)
        .await;
    assert_eq!(dataset["latest_version"], Value::Null);

    // A small upload still works (the limit is on size, not on the route).
    let small = upload_and_settle(&app, &id, split_dataset()).await;
    assert_eq!(small["status"], "ready", "{small}");
}

#[tokio::test]
async fn names_are_unique_per_project_and_deletion_removes_the_archives() {
    let app = spawn_app().await;
    let project = app.create_project("vision").await;
    let other_project = app.create_project("audio").await;
    let id = create_dataset(&app, &project, "Scans").await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/datasets",
            &app.admin_token,
            Some(json!({"project_id": project, "name": "SCANS"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (409, Some("dataset_name_taken"), Some("name"))
    );
    // Another project may use the name.
    create_dataset(&app, &other_project, "scans").await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/datasets",
            &app.admin_token,
            Some(json!({"project_id": uuid_like(), "name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (422, Some("unknown_project"), Some("project_id"))
    );
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/datasets",
            &app.admin_token,
            Some(json!({"project_id": project, "name": "bad name"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("name")),
        "{body}"
    );

    let renamed = app
        .admin(
            "PUT",
            &format!("/api/v1/datasets/{id}"),
            Some(json!({"name": "scans-2026", "description": "Q1"})),
        )
        .await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["description"].as_str()),
        (Some("scans-2026"), Some("Q1"))
    );
    upload_and_settle(&app, &id, split_dataset()).await;
    assert_eq!(objects_of(&app, &id).await.len(), 2);

    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/datasets/{id}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/datasets/{id}"),
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(objects_of(&app, &id).await, Vec::<String>::new());
    // Both the old and the new name are free again.
    create_dataset(&app, &project, "scans-2026").await;
    create_dataset(&app, &project, "scans").await;
    app.wait_for(
        &format!("/api/v1/datasets?project_id={project}"),
        "the deleted dataset is no longer listed",
        |page| !ids(page).contains(&id) && ids(page).len() == 2,
    )
    .await;
}

fn uuid_like() -> String {
    "01900000-0000-7000-8000-000000000000".to_owned()
}

#[tokio::test]
async fn rights_and_tenants_are_enforced() {
    let app = spawn_app().await;
    let project = app.create_project("vision").await;
    let id = create_dataset(&app, &project, "scans").await;
    upload_and_settle(&app, &id, split_dataset()).await;

    let viewer = app.token(Rights::none().with(Entity::Datasets, Right::View));
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v1/datasets/{id}/versions/1"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = upload(&app, &viewer, &id, good_dataset()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _) = app
        .call("DELETE", &format!("/api/v1/datasets/{id}"), &viewer, None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/datasets",
            &viewer,
            Some(json!({"project_id": project, "name": "mine"})),
        )
        .await;
    assert_eq!(status, 403);
    let nobody = app.token(Rights::none().with(Entity::Projects, Right::View));
    let (status, _) = app.call("GET", "/api/v1/datasets", &nobody, None).await;
    assert_eq!(status, 403);

    let editor = app.token(
        Rights::none()
            .with(Entity::Datasets, Right::View)
            .with(Entity::Datasets, Right::Edit),
    );
    let (status, body) = upload(&app, &editor, &id, good_dataset()).await;
    assert_eq!((status, body["version"].as_u64()), (202, Some(2)), "{body}");

    let stranger = app.stranger_token();
    for path in [
        format!("/api/v1/datasets/{id}"),
        format!("/api/v1/datasets/{id}/versions"),
        format!("/api/v1/datasets/{id}/versions/1"),
        format!("/api/v1/datasets/{id}/versions/1/samples.png"),
    ] {
        let (status, body) = app.call("GET", &path, &stranger, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let (status, _) = upload(&app, &stranger, &id, split_dataset()).await;
    assert_eq!(status, 404);
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/datasets",
            &stranger,
            Some(json!({"project_id": project, "name": "theirs"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("unknown_project"))
    );
    let (status, page) = app.call("GET", "/api/v1/datasets", &stranger, None).await;
    assert_eq!((status, page["items"].clone()), (200, json!([])));
    // Nothing the stranger tried changed anything.
    let versions = app
        .admin("GET", &format!("/api/v1/datasets/{id}/versions"), None)
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 2);
}

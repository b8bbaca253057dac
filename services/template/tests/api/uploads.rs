//! Resumable dataset uploads: an archive sent in pieces (one of them broken off, the rest sent to
//! another instance on the same work folder) becomes the same version a one-request upload makes;
//! wrong offsets, overlong pieces, oversize declarations and busy uploads change nothing; a
//! cancelled upload leaves nothing behind.

use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use trainyard_auth::{Entity, Right, Rights};
use trainyard_template::App;

use crate::datasets::{create_dataset, good_dataset, split_dataset, upload_and_settle};
use crate::helpers::{spawn_app_with, TestApp};

/// A service whose work folder the test can look into.
async fn app_in(work: &Path) -> TestApp {
    let dir = work.to_path_buf();
    spawn_app_with(move |c| {
        c.service.datasets.work_dir = Some(dir);
        c.service.datasets.max_upload_bytes = 256 << 10;
        c.service.datasets.max_open_uploads = 3;
    })
    .await
}

async fn begin(app: &TestApp, dataset: &str, size: usize) -> (u16, Value) {
    let body = json!({"size": size, "file_name": "animals.zip"});
    let path = format!("/api/v1/datasets/{dataset}/uploads");
    app.call("POST", &path, &app.admin_token, Some(body)).await
}

/// Sends one piece; `offset` goes into `Upload-Offset` when given.
async fn patch(
    base: &str,
    app: &TestApp,
    upload: &str,
    offset: Option<usize>,
    piece: Vec<u8>,
) -> (u16, Value) {
    let mut request = app
        .client
        .patch(format!("{base}{upload}"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/offset+octet-stream")
        .body(piece);
    if let Some(offset) = offset {
        request = request.header("upload-offset", offset.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends the head of a piece declaring `declared` bytes and the first bytes of it, and waits until
/// the server holds them; the piece is still being sent while the connection lives.
async fn start_piece(
    app: &TestApp,
    path: &str,
    offset: usize,
    piece: &[u8],
    declared: usize,
) -> tokio::net::TcpStream {
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
         Content-Length: {declared}\r\n\r\n",
        app.admin_token
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(piece).await.unwrap();
    let want = (offset + piece.len()) as u64;
    app.wait_for(path, "the first bytes are held", |u| u["offset"] == want)
        .await;
    socket
}

async fn offset_of(app: &TestApp, path: &str) -> u64 {
    app.admin("GET", path, None).await["offset"]
        .as_u64()
        .unwrap()
}

/// Sends a piece without a `Content-Length`, in chunks, as a client streaming from a pipe does.
async fn patch_chunked(app: &TestApp, path: &str, offset: usize, piece: &[u8]) -> (u16, Value) {
    let offset = format!("Upload-Offset: {offset}");
    app.send_chunked("PATCH", path, &[&offset], piece).await
}

fn part_files(work: &Path) -> Vec<String> {
    std::fs::read_dir(work.join("dataset-uploads"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_archive_sent_in_pieces_becomes_the_version_a_single_request_makes() {
    let work = tempfile::tempdir().unwrap();
    let app = app_in(work.path()).await;
    let project = app.create_project("pieces").await;
    let whole = create_dataset(&app, &project, "whole").await;
    let reference = upload_and_settle(&app, &whole, good_dataset()).await;
    assert_eq!(reference["status"], "ready", "{reference}");

    let id = create_dataset(&app, &project, "pieces").await;
    let bytes = good_dataset();
    let (status, begun) = begin(&app, &id, bytes.len()).await;
    assert_eq!(status, 201, "{begun}");
    assert_eq!(
        (begun["offset"].as_u64(), begun["version"].clone()),
        (Some(0), Value::Null)
    );
    let upload = begun["id"].as_str().unwrap().to_owned();
    let base = app.url(&format!("/api/v1/datasets/{id}/uploads/"));
    let cuts = [0, bytes.len() / 5, bytes.len() / 2, bytes.len()];
    for pair in cuts.windows(2) {
        let (status, view) = patch(
            &base,
            &app,
            &upload,
            Some(pair[0]),
            bytes[pair[0]..pair[1]].to_vec(),
        )
        .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["offset"].as_u64(), Some(pair[1] as u64));
        if pair[1] < bytes.len() {
            assert_eq!(view["version"], Value::Null);
            let listed = app
                .admin("GET", &format!("/api/v1/datasets/{id}/uploads"), None)
                .await;
            assert_eq!(
                listed[0]["offset"].as_u64(),
                Some(pair[1] as u64),
                "{listed}"
            );
        } else {
            let version = &view["version"];
            assert_eq!(version["version"], 1);
            assert_eq!(version["sha256"], hex::encode(Sha256::digest(&bytes)));
            assert_eq!(version["size"].as_u64(), Some(bytes.len() as u64));
            assert_eq!(version["file_name"], "animals.zip");
        }
    }
    let path = format!("/api/v1/datasets/{id}/uploads/{upload}");
    let (status, _) = app.call("GET", &path, &app.admin_token, None).await;
    assert_eq!(status, 404, "a completed upload is gone");
    assert!(
        part_files(work.path()).is_empty(),
        "{:?}",
        part_files(work.path())
    );
    let version_path = format!("/api/v1/datasets/{id}/versions/1");
    app.wait_for(&version_path, "validated", |v| v["status"] == "ready")
        .await;
    let version = app.admin("GET", &version_path, None).await;
    assert_eq!(version["statistics"], reference["statistics"]);
    assert_eq!(version["sha256"], reference["sha256"]);
}

#[tokio::test]
async fn a_broken_piece_keeps_what_arrived_and_another_instance_finishes_the_upload_but_never_two_writers_at_once(
) {
    let work = tempfile::tempdir().unwrap();
    let app = app_in(work.path()).await;
    let project = app.create_project("flaky").await;
    let id = create_dataset(&app, &project, "scans").await;
    let bytes = split_dataset();
    let (_, begun) = begin(&app, &id, bytes.len()).await;
    let upload = begun["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/datasets/{id}/uploads/{upload}");
    let third = bytes.len() / 3;
    // A second instance on the same work folder (as after a restart, or beside this one).
    let second = App::build_with(app.config.clone(), app.issuer.verifier())
        .await
        .unwrap();
    let other = format!(
        "http://127.0.0.1:{}/api/v1/datasets/{id}/uploads/",
        second.port()
    );
    tokio::spawn(second.run_until_stopped());
    let base = app.url(&format!("/api/v1/datasets/{id}/uploads/"));

    let sending = start_piece(&app, &path, 0, &bytes[..third], bytes.len()).await;
    // While a piece is on its way, no other writer gets in, on this instance or the other one.
    for url in [&base, &other] {
        let (status, view) = patch(url, &app, &upload, Some(third), bytes[third..].to_vec()).await;
        assert_eq!(
            (status, view["code"].as_str()),
            (409, Some("upload_busy")),
            "{view}"
        );
    }
    // The connection breaks: what arrived is kept, and the upload is free again once the
    // broken request has ended.
    drop(sending);
    trainyard_testkit::wait_until(
        std::time::Duration::from_secs(20),
        "the upload is free",
        || async { patch(&base, &app, &upload, Some(third), Vec::new()).await.0 == 200 },
    )
    .await;

    // The other instance takes it from there.
    let (status, view) = patch(&other, &app, &upload, Some(0), bytes.clone()).await;
    assert_eq!(
        (status, view["code"].as_str()),
        (409, Some("offset_mismatch")),
        "{view}"
    );
    let (status, view) = patch(&other, &app, &upload, Some(third), bytes[third..].to_vec()).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["version"]["sha256"],
        hex::encode(Sha256::digest(&bytes))
    );
    let version_path = format!("/api/v1/datasets/{id}/versions/1");
    app.wait_for(&version_path, "validated", |v| v["status"] == "ready")
        .await;
}

#[tokio::test]
async fn bad_pieces_and_declarations_change_nothing() {
    let work = tempfile::tempdir().unwrap();
    let app = app_in(work.path()).await;
    let project = app.create_project("strict").await;
    let id = create_dataset(&app, &project, "scans").await;
    let bytes = good_dataset();
    let (_, begun) = begin(&app, &id, bytes.len()).await;
    let upload = begun["id"].as_str().unwrap().to_owned();
    let base = app.url(&format!("/api/v1/datasets/{id}/uploads/"));
    let path = format!("/api/v1/datasets/{id}/uploads/{upload}");
    let (status, body) = patch(&base, &app, &upload, Some(0), bytes[..100].to_vec()).await;
    assert_eq!(status, 200, "{body}");

    let cases = [
        (
            Some(0),
            bytes[..10].to_vec(),
            409,
            "offset_mismatch",
            "Upload-Offset",
        ),
        (
            None,
            bytes[100..110].to_vec(),
            422,
            "invalid_offset",
            "Upload-Offset",
        ),
        (
            Some(100),
            vec![0; bytes.len()],
            422,
            "upload_exceeds_size",
            "body",
        ),
    ];
    for (offset, piece, want, code, field) in cases {
        let (status, body) = patch(&base, &app, &upload, offset, piece).await;
        assert_eq!(
            (status, body["code"].as_str(), body["field"].as_str()),
            (want, Some(code), Some(field)),
            "{body}"
        );
        assert_eq!(offset_of(&app, &path).await, 100);
    }
    // Sent without a length, an overlong piece is noticed only as it arrives: taken back whole.
    let (status, body) = patch_chunked(&app, &path, 100, &vec![7; bytes.len()]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("upload_exceeds_size")),
        "{body}"
    );
    assert_eq!(offset_of(&app, &path).await, 100);

    for (body, want, code, field) in [
        (json!({"size": 0}), 422, "empty_upload", "size"),
        (
            json!({"size": (256 << 10) + 1}),
            413,
            "upload_too_large",
            "size",
        ),
        (
            json!({"size": 10, "colour": "red"}),
            400,
            "invalid_body",
            "colour",
        ),
    ] {
        let (status, answer) = app
            .call(
                "POST",
                &format!("/api/v1/datasets/{id}/uploads"),
                &app.admin_token,
                Some(body),
            )
            .await;
        assert_eq!(
            (status, answer["code"].as_str(), answer["field"].as_str()),
            (want, Some(code), Some(field)),
            "{answer}"
        );
    }
    let listed = app
        .admin("GET", &format!("/api/v1/datasets/{id}/uploads"), None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Rights and tenants: a viewer may look but not write; a stranger sees nothing.
    let viewer = app.token(Rights::none().with(Entity::Datasets, Right::View));
    let (status, _) = app.call("GET", &path, &viewer, None).await;
    assert_eq!(status, 200);
    let (status, _) = app.call("DELETE", &path, &viewer, None).await;
    assert_eq!(status, 403);
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&viewer)
        .header("upload-offset", "100")
        .body(bytes[100..200].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403, "only editors send bytes");
    let (status, _) = app.call("GET", &path, &app.stranger_token(), None).await;
    assert_eq!(status, 404);
    assert_eq!(offset_of(&app, &path).await, 100);

    // At most three open uploads on this instance.
    for _ in 0..2 {
        assert_eq!(begin(&app, &id, 10).await.0, 201);
    }
    let (status, body) = begin(&app, &id, 10).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("too_many_uploads")),
        "{body}"
    );

    // A cancelled upload is gone with its bytes.
    assert_eq!(
        app.call("DELETE", &path, &app.admin_token, None).await.0,
        204
    );
    assert_eq!(app.call("GET", &path, &app.admin_token, None).await.0, 404);
    assert!(!part_files(work.path())
        .iter()
        .any(|f| f.starts_with(&upload)));
    let versions = app
        .admin("GET", &format!("/api/v1/datasets/{id}/versions"), None)
        .await;
    assert_eq!(versions["items"], json!([]));
}

#[tokio::test]
async fn an_upload_of_bytes_already_stored_ends_as_a_duplicate() {
    let work = tempfile::tempdir().unwrap();
    let app = app_in(work.path()).await;
    let project = app.create_project("twice").await;
    let id = create_dataset(&app, &project, "scans").await;
    let bytes = split_dataset();
    upload_and_settle(&app, &id, bytes.clone()).await;
    let (_, begun) = begin(&app, &id, bytes.len()).await;
    let upload = begun["id"].as_str().unwrap().to_owned();
    let base = app.url(&format!("/api/v1/datasets/{id}/uploads/"));
    let (status, body) = patch(&base, &app, &upload, Some(0), bytes).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("duplicate_upload")),
        "{body}"
    );
    let path = format!("/api/v1/datasets/{id}/uploads/{upload}");
    assert_eq!(app.call("GET", &path, &app.admin_token, None).await.0, 404);
    let versions = app
        .admin("GET", &format!("/api/v1/datasets/{id}/versions"), None)
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1);
    assert!(
        part_files(work.path()).is_empty(),
        "{:?}",
        part_files(work.path())
    );
}

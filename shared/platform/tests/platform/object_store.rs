//! Object store helper against a real server: streaming put reports the SHA-256 and size of what
//! went in, get and get-to-file give the same bytes back, a wrong expected digest leaves no file.

use async_nats::jetstream::object_store;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use trainyard_platform::object_store::{ensure_bucket, ensure_buckets, Blobs, ObjectStoreError};
use trainyard_platform::streams::StreamNames;

/// Deterministic bytes that do not compress to nothing, across several 128 KiB chunks.
fn data(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

async fn bucket(url: &str) -> Blobs {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    ensure_bucket(
        &js,
        object_store::Config {
            bucket: "blobs".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn put_get_and_get_to_file_round_trip_with_digest() {
    let server = trainyard_testkit::nats();
    let blobs = bucket(&server.url()).await;
    let bytes = data(1_000_003);
    let stored = blobs
        .put("dataset.zip", &mut bytes.as_slice())
        .await
        .unwrap();
    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(blobs.info("dataset.zip").await.unwrap().size, bytes.len());

    let mut read = Vec::new();
    blobs
        .get("dataset.zip")
        .await
        .unwrap()
        .read_to_end(&mut read)
        .await
        .unwrap();
    assert!(read == bytes, "streamed bytes differ");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dataset.zip");
    let fetched = blobs
        .get_to_file("dataset.zip", &path, Some(&stored.sha256))
        .await
        .unwrap();
    assert_eq!(fetched, stored);
    assert!(std::fs::read(&path).unwrap() == bytes, "file bytes differ");
}

#[tokio::test]
async fn a_wrong_digest_fails_and_leaves_no_file() {
    let server = trainyard_testkit::nats();
    let blobs = bucket(&server.url()).await;
    blobs
        .put("model.onnx", &mut data(4096).as_slice())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let error = blobs
        .get_to_file("model.onnx", &path, Some(&wrong))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ObjectStoreError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[tokio::test]
async fn delete_and_missing_objects_are_reported_as_not_found() {
    let server = trainyard_testkit::nats();
    let blobs = bucket(&server.url()).await;
    blobs.put("ckpt-1", &mut data(10).as_slice()).await.unwrap();
    blobs.delete("ckpt-1").await.unwrap();
    assert!(matches!(
        blobs.info("ckpt-1").await,
        Err(ObjectStoreError::NotFound { .. })
    ));
    assert!(matches!(
        blobs.get("nope").await,
        Err(ObjectStoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_three_buckets_are_created_verified_and_reopenable() {
    let server = trainyard_testkit::nats();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let names = StreamNames::with_prefix("T");
    ensure_buckets(&js, &names, 1).await.unwrap();
    ensure_buckets(&js, &names, 1).await.expect("idempotent");
    for bucket in ["T_datasets", "T_checkpoints", "T_models"] {
        Blobs::open(&js, bucket).await.unwrap();
    }
}

//! Orders that cannot succeed end `failed` with a stable code and the stage it happened in, and
//! the worker goes on to the next order.

use trainyard_core::contracts::dispatch::{DispatchOrder, StartOrder};
use trainyard_core::contracts::report::{Failure, ReportBody, RunStage};

use crate::helpers::Env;
use crate::reading::{bodies, is_final};

async fn failure(env: &Env, order: &StartOrder) -> Failure {
    env.send(DispatchOrder::Start(order.clone())).await;
    let reports = env.reports_until(order.process_id, is_final).await;
    match &reports.last().unwrap().body {
        ReportBody::Failed(f) => f.clone(),
        _ => panic!("not failed: {:?}", bodies(&reports)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_datasets_fail_with_their_code_and_stage_and_the_worker_goes_on() {
    let env = Env::start().await;
    let dataset = env.dataset(2, 8, 16).await;

    // The stored bytes are not the ones the dataset version names.
    let mut tampered = env.order(&dataset, 4);
    tampered.snapshot.dataset.archive.sha256 = "0".repeat(64);
    tampered.snapshot.dataset.content_digest = "1".repeat(64);
    let f = failure(&env, &tampered).await;
    assert_eq!(
        (f.code.as_str(), f.stage),
        ("dataset.digest_mismatch", RunStage::FetchingDataset),
        "{f:?}"
    );

    // Intact bytes that are not an archive.
    let mut broken = env.order(&dataset, 4);
    broken.snapshot.dataset.archive = env.upload("junk.zip", b"not a zip archive").await;
    broken.snapshot.dataset.content_digest = "2".repeat(64);
    let f = failure(&env, &broken).await;
    assert_eq!(
        (f.code.as_str(), f.stage),
        ("dataset.corrupt_archive", RunStage::Decoding),
        "{f:?}"
    );

    // An archive missing from the bucket.
    let mut missing = env.order(&dataset, 4);
    missing.snapshot.dataset.archive.object = "gone.zip".into();
    missing.snapshot.dataset.content_digest = "3".repeat(64);
    let f = failure(&env, &missing).await;
    assert_eq!(f.code, "dataset.archive_missing", "{f:?}");

    // A checkpoint that is not there.
    let mut lost = env.order(&dataset, 4);
    let checkpoint = trainyard_core::contracts::dispatch::CheckpointRef {
        object: trainyard_core::contracts::dispatch::ObjectRef {
            bucket: trainyard_core::contracts::dispatch::BucketName::Checkpoints,
            object: "nowhere.zip".into(),
            sha256: "4".repeat(64),
            size: 10,
        },
        iteration: 2,
        epoch: 1,
        attempt: 1,
    };
    lost.resume = Some(checkpoint);
    let f = failure(&env, &lost).await;
    assert_eq!(f.code, "worker.object_missing", "{f:?}");

    // Still alive, and the next order trains.
    assert!(env.worker_alive());
    let good = env.order(&dataset, 4);
    env.send(DispatchOrder::Start(good.clone())).await;
    let reports = env.reports_until(good.process_id, is_final).await;
    assert!(
        matches!(reports.last().unwrap().body, ReportBody::Succeeded(_)),
        "{:?}",
        bodies(&reports)
    );
}

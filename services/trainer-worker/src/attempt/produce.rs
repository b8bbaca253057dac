//! Storing a trained model in the models bucket (`<process_id>/attempt-<n>/model.onnx`,
//! `weights.safetensors`, `samples.safetensors`) and describing it with its full lineage.

use std::path::Path;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use trainyard_core::contracts::dispatch::{BucketName, ObjectRef, StartOrder};
use trainyard_core::contracts::model::{ModelMetrics, ModelProduced, Preprocessing};
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_platform::object_store::{Blobs, ObjectStoreError};

use super::export::Trained;
use super::failure::{fail, storage_failure};
use super::figures::ClassFigures;
use super::storage::patiently;

pub async fn store(
    models: &Blobs,
    order: &StartOrder,
    prefix: &str,
    trained: &Trained,
    shutdown: &CancellationToken,
) -> Result<ModelProduced, Failure> {
    let onnx = put(
        models,
        &format!("{prefix}/model.onnx"),
        &trained.onnx,
        shutdown,
    )
    .await?;
    if onnx.sha256 != trained.verification.onnx_sha256 {
        return Err(fail(
            "worker.storage",
            RunStage::Storing,
            format!(
                "model.onnx was stored with SHA-256 {}, but {} was verified",
                onnx.sha256, trained.verification.onnx_sha256
            ),
        ));
    }
    let weights = put(
        models,
        &format!("{prefix}/weights.safetensors"),
        &trained.weights,
        shutdown,
    )
    .await?;
    let samples = put(
        models,
        &format!("{prefix}/samples.safetensors"),
        &trained.samples,
        shutdown,
    )
    .await?;
    let last = &trained.last_epoch;
    let figures = ClassFigures::from_confusion(&last.confusion);
    let pre = &trained.preprocess;
    Ok(ModelProduced {
        tenant_id: order.tenant_id,
        process_id: order.process_id,
        attempt: order.attempt,
        machine_id: order.machine_id,
        lineage: order.snapshot.clone(),
        labels: trained.labels.clone(),
        preprocessing: Preprocessing {
            channels: pre.channels,
            height: pre.height,
            width: pre.width,
            resize: pre.resize.as_str().to_owned(),
            mean: pre.mean.clone(),
            std: pre.std.clone(),
        },
        metrics: ModelMetrics {
            test_accuracy: last.test_accuracy,
            test_loss: last.test_loss,
            per_class_accuracy: last.per_class_accuracy.clone(),
            confusion: last.confusion.clone(),
            macro_f1: Some(figures.macro_f1),
            validation_accuracy: None,
            iterations: trained.summary.iterations,
            epochs: trained.epochs,
            selected_epoch: last.epoch,
            test_images: trained.test_images,
            train_images: trained.train_images,
        },
        onnx,
        weights,
        samples,
        parity: trained.parity,
        device: trained.device.clone(),
        training_secs: trained.summary.wall_secs,
        produced_at: Utc::now(),
    })
}

async fn put(
    models: &Blobs,
    name: &str,
    path: &Path,
    shutdown: &CancellationToken,
) -> Result<ObjectRef, Failure> {
    let stored = patiently("model upload", shutdown, || async {
        let mut file =
            tokio::fs::File::open(path)
                .await
                .map_err(|source| ObjectStoreError::File {
                    path: path.display().to_string(),
                    source,
                })?;
        models.put(name, &mut file).await
    })
    .await
    .map_err(|error| storage_failure(RunStage::Storing, &error))?;
    Ok(ObjectRef {
        bucket: BucketName::Models,
        object: name.to_owned(),
        sha256: stored.sha256,
        size: stored.size,
    })
}

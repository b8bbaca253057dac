//! Storing a trained model in the models bucket (`<process_id>/attempt-<n>/model.onnx`,
//! `weights.safetensors`, `samples.safetensors`) and describing it with its full lineage.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use trainyard_core::contracts::dispatch::{BucketName, ObjectRef, StartOrder};
use trainyard_core::contracts::model::{ModelMetrics, ModelProduced, Preprocessing};
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_platform::object_store::Blobs;

use super::export::Trained;
use super::failure::{fail, storage_failure};
use super::relay::ClassFigures;

const TRIES: u32 = 4;

pub async fn store(
    models: &Blobs,
    order: &StartOrder,
    prefix: &str,
    trained: &Trained,
) -> Result<ModelProduced, Failure> {
    let onnx = put(models, &format!("{prefix}/model.onnx"), &trained.onnx).await?;
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
    )
    .await?;
    let samples = put(
        models,
        &format!("{prefix}/samples.safetensors"),
        &trained.samples,
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

async fn put(models: &Blobs, name: &str, path: &Path) -> Result<ObjectRef, Failure> {
    let mut tries = 0;
    loop {
        tries += 1;
        let mut file = tokio::fs::File::open(path).await.map_err(|e| {
            fail(
                "worker.io",
                RunStage::Storing,
                format!("{}: {e}", path.display()),
            )
        })?;
        match models.put(name, &mut file).await {
            Ok(stored) => {
                return Ok(ObjectRef {
                    bucket: BucketName::Models,
                    object: name.to_owned(),
                    sha256: stored.sha256,
                    size: stored.size,
                })
            }
            Err(error) if tries >= TRIES => return Err(storage_failure(RunStage::Storing, &error)),
            Err(error) => {
                tracing::warn!(%error, name, "model file upload failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

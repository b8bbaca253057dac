//! One attempt of a process, from an accepted start order to its final report: fetch the dataset
//! (and a checkpoint or initial weights), run the engine on a blocking thread while relaying its
//! events, store the model, and end with exactly one of `succeeded`, `stopped` or `failed`.
//! Metric points and checkpoint uploads are all stored before that final report goes out.

pub mod checkpoints;
pub mod dataset;
pub mod engine;
pub mod export;
pub mod failure;
pub mod figures;
pub mod init;
pub mod produce;
pub mod relay;
pub mod stop;
pub mod storage;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trainyard_core::contracts::dispatch::{CheckpointRef, StartOrder};
use trainyard_core::contracts::model::ModelProduced;
use trainyard_core::contracts::report::{Failure, ReportBody, RunStage};

use self::engine::{Job, JobEvent, JobOutcome};
use self::failure::{fail, panic_message};
use self::relay::Relay;
use self::stop::{StopCause, Stopper};
use crate::report::Reporter;
use crate::worker::Shared;

/// How an attempt ended.
#[derive(Debug)]
pub enum Ending {
    Succeeded(Box<ModelProduced>),
    Stopped {
        iterations: u64,
        checkpoint: Option<CheckpointRef>,
    },
    Failed(Failure),
}

/// Runs an accepted attempt to its end and sends the final report.
/// `over` is set just before the final report goes out.
pub async fn run(
    shared: Arc<Shared>,
    order: StartOrder,
    reporter: Reporter,
    stopper: Stopper,
    over: Arc<AtomicBool>,
) {
    let dir = shared
        .config
        .attempts_dir()
        .join(format!("{}-{}", order.process_id, order.attempt));
    let ending = match attempt(&shared, &order, &reporter, &stopper, &dir).await {
        Ok(Ending::Stopped { checkpoint, .. }) if stopper.cause() == Some(StopCause::Shutdown) => {
            let mut message = "the worker was shut down during the attempt".to_owned();
            if let Some(c) = &checkpoint {
                message.push_str(&format!(
                    "; it can continue from the checkpoint at iteration {}",
                    c.iteration
                ));
            }
            Ending::Failed(fail("worker.shutdown", RunStage::Training, message))
        }
        Ok(ending) => ending,
        Err(failure) => Ending::Failed(failure),
    };
    over.store(true, Ordering::SeqCst);
    finish(&reporter, ending).await;
    if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(%error, dir = %dir.display(), "attempt folder not removed");
        }
    }
}

/// Sends the final report of an attempt.
pub async fn finish(reporter: &Reporter, ending: Ending) {
    let (key, body) = match ending {
        Ending::Succeeded(model) => {
            tracing::info!(onnx = %model.onnx.object, accuracy = model.metrics.test_accuracy, "attempt succeeded");
            ("succeeded", ReportBody::Succeeded(model))
        }
        Ending::Stopped {
            iterations,
            checkpoint,
        } => {
            tracing::info!(iterations, "attempt stopped");
            (
                "stopped",
                ReportBody::Stopped {
                    iterations_done: iterations,
                    checkpoint,
                },
            )
        }
        Ending::Failed(failure) => {
            tracing::warn!(code = %failure.code, stage = failure.stage.as_str(), message = %failure.message, "attempt failed");
            ("failed", ReportBody::Failed(failure))
        }
    };
    if let Err(error) = reporter.send(key, body).await {
        tracing::error!(%error, "final report not delivered");
    }
}

async fn attempt(
    shared: &Shared,
    order: &StartOrder,
    reporter: &Reporter,
    stopper: &Stopper,
    dir: &Path,
) -> Result<Ending, Failure> {
    let stage = |stage: RunStage| {
        let key = format!("stage/{}", stage.as_str());
        reporter.send_logged(key, ReportBody::Stage { stage })
    };
    stage(RunStage::FetchingDataset).await;
    let buckets = &shared.infra.buckets;
    let cached = shared
        .cache
        .fetch(
            &buckets.datasets,
            &order.snapshot.dataset,
            &shared.infra.shutdown,
        )
        .await?;
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        fail(
            "worker.io",
            RunStage::FetchingDataset,
            format!("{}: {e}", dir.display()),
        )
    })?;
    let (resume, init_weights) = fetch_start(shared, order, dir).await?;
    if stopper.cause().is_some() {
        return Ok(Ending::Stopped {
            iterations: order.resume.as_ref().map_or(0, |c| c.iteration),
            checkpoint: order.resume.clone(),
        });
    }
    let prefix = format!("{}/attempt-{}", order.process_id, order.attempt);
    let (uploads, uploaded) = checkpoints::start_uploads(
        buckets.checkpoints.clone(),
        reporter.clone(),
        prefix.clone(),
        order.attempt,
        shared.infra.shutdown.clone(),
    );
    let mut relay = Relay::new(
        reporter.clone(),
        shared.points.clone(),
        uploads,
        shared.busy.clone(),
        order.machine_id,
        shared.config.progress_period(),
    );
    let job = Job {
        archive: cached.archive.clone(),
        decoded: cached.decoded.clone(),
        snapshot: order.snapshot.clone(),
        resume,
        init_weights,
        dir: dir.to_owned(),
        threads: shared.config.threads(),
        samples: shared.config.verification_samples,
        stopper: stopper.clone(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let span = tracing::Span::current();
    let handle = tokio::task::spawn_blocking(move || span.in_scope(|| engine::run(job, tx)));
    let mut ticker = tokio::time::interval(shared.config.progress_period());
    let mut last_stage = RunStage::FetchingDataset;
    loop {
        let delivered = tokio::select! {
            event = rx.recv() => match event {
                Some(event) => {
                    if let JobEvent::Stage(s) = &event {
                        last_stage = *s;
                    }
                    relay.handle(event).await
                }
                None => break,
            },
            _ = ticker.tick() => relay.progress_due().await,
        };
        if let Err(error) = delivered {
            tracing::warn!(%error, "report not delivered");
        }
    }
    let outcome = handle.await.unwrap_or_else(|e| {
        let message = match e.try_into_panic() {
            Ok(payload) => panic_message(payload.as_ref()),
            Err(e) => e.to_string(),
        };
        Err(fail("worker.internal", last_stage, message))
    });
    drop(relay);
    let last_checkpoint = uploaded.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "checkpoint upload task ended abnormally");
        None
    });
    shared.points.flush().await;
    match &outcome {
        // What this archive decodes to is not what the order names: do not keep it.
        Err(failure) if failure.stage == RunStage::Decoding => shared.cache.forget(&cached.entry),
        _ => shared.cache.make_room(&cached.entry, 0),
    }
    match outcome? {
        JobOutcome::Stopped { iterations } => Ok(Ending::Stopped {
            iterations,
            checkpoint: last_checkpoint.or_else(|| order.resume.clone()),
        }),
        JobOutcome::Trained(trained) => {
            stage(RunStage::Storing).await;
            let model = produce::store(
                &buckets.models,
                order,
                &prefix,
                &trained,
                &shared.infra.shutdown,
            )
            .await?;
            Ok(Ending::Succeeded(Box::new(model)))
        }
    }
}

/// Downloads what a run starts from: the checkpoint to resume from, or else the base model's
/// initial weights (a resumed run takes its weights from the checkpoint).
async fn fetch_start(
    shared: &Shared,
    order: &StartOrder,
    dir: &Path,
) -> Result<(Option<PathBuf>, Option<PathBuf>), Failure> {
    let buckets = &shared.infra.buckets;
    let stage = RunStage::FetchingDataset;
    if let Some(checkpoint) = &order.resume {
        let zip = dir.join("resume.zip");
        let what = "the checkpoint to resume from";
        checkpoints::download(
            buckets.get(checkpoint.object.bucket),
            &checkpoint.object,
            &zip,
            stage,
            what,
            &shared.infra.shutdown,
        )
        .await?;
        let sidecar = checkpoints::unpack(&zip, &dir.join("resume")).map_err(|e| {
            fail(
                "worker.object_corrupt",
                stage,
                format!("{what} is not a checkpoint archive: {e}"),
            )
        })?;
        return Ok((Some(sidecar), None));
    }
    if let Some(weights) = &order.snapshot.base_model.weights {
        let path = dir.join("initial-weights.safetensors");
        let what = "the base model's weights";
        let shutdown = &shared.infra.shutdown;
        checkpoints::download(
            buckets.get(weights.bucket),
            weights,
            &path,
            stage,
            what,
            shutdown,
        )
        .await?;
        return Ok((None, Some(path)));
    }
    Ok((None, None))
}

//! The dataset validator. For each `DatasetVersionUploaded` it records `DatasetValidationStarted`,
//! downloads the archive to a work folder (checking its digest), runs the engine's validation off
//! the async runtime, renders the sample grid, and records `DatasetVersionReady` with statistics
//! or `DatasetVersionInvalid` with the engine's code, message and the file at fault.
//!
//! A message is acknowledged only once the outcome is stored: a crash or restart mid-validation
//! leaves it unacknowledged, so it is delivered again and finished (the aggregate turns repeated
//! commands into no-ops). Long validations keep their message with progress notices. At most
//! `datasets.validation_concurrency` versions are validated at once: the consumer never has more
//! messages outstanding than that.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{AckKind, Context, Message};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use trainyard_core::{Actor, Aggregate, DatasetId, EventId, Metadata};
use trainyard_engine::data::{self, DatasetError, DatasetStats, LoadOptions};
use trainyard_platform::event_store::{codec, ExecuteError};
use trainyard_platform::object_store::ObjectStoreError;
use trainyard_platform::streams::ensure_durable_consumer;

use crate::archive::{remove_objects, render_grid, samples_object};
use crate::domain::dataset::{
    ClassCount, Dataset, DatasetCommand, DatasetEvent, DatasetStatistics, InvalidReason, Upload,
    VersionStatus,
};
use crate::state::AppState;

/// The durable consumer's name.
pub const DURABLE: &str = "template_dataset_validation";
/// A delivered message without acknowledgement or progress notice for this long is redelivered.
const ACK_WAIT: Duration = Duration::from_secs(60);
/// How often a validation in progress tells the server it is still working on its message.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// Wait before a message whose handling failed on infrastructure is delivered again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Creates (or verifies) the durable consumer and starts validating; stops on `shutdown`.
pub async fn start_validator(
    js: &Context,
    events_stream: &str,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let stream = js.get_stream(events_stream).await?;
    let concurrency = state.config.service.datasets.validation_concurrency.max(1);
    let config = pull::Config {
        durable_name: Some(DURABLE.into()),
        description: Some("dataset validation: each uploaded version ends ready or invalid".into()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_ack_pending: i64::try_from(concurrency).unwrap_or(i64::MAX),
        filter_subject: state
            .store
            .subject_pattern(&format!("{}.>", Dataset::aggregate_type())),
        ..Default::default()
    };
    let consumer = ensure_durable_consumer(js, &stream, config).await?;
    Ok(tokio::spawn(run(consumer, state, concurrency, shutdown)))
}

async fn run(
    consumer: PullConsumer,
    state: AppState,
    concurrency: usize,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    'feed: while !shutdown.is_cancelled() {
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "dataset validation feed unavailable; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break 'feed,
                    () = tokio::time::sleep(RETRY_AFTER) => continue 'feed,
                }
            }
        };
        loop {
            while tasks.try_join_next().is_some() {}
            // A permit first: a message is only taken when it can be worked on at once.
            let permit = tokio::select! {
                () = shutdown.cancelled() => break 'feed,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break 'feed,
                },
            };
            let next = tokio::select! {
                () = shutdown.cancelled() => break 'feed,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    let state = state.clone();
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        tokio::select! {
                            // Unacknowledged: delivered again after a restart.
                            () = stop.cancelled() => {}
                            () = handle(&state, message) => {}
                        }
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "dataset validation feed interrupted");
                }
                None => {
                    tracing::warn!("dataset validation feed ended; reopening");
                    continue 'feed;
                }
            }
        }
    }
    tasks.shutdown().await;
}

/// What became of one message.
enum Handled {
    /// Acknowledge: the outcome is stored, or there is nothing to do.
    Done,
    /// Leave for a later delivery: storage or the log failed.
    Retry(anyhow::Error),
}

async fn handle(state: &AppState, message: Message) {
    match process(state, &message).await {
        Handled::Done => {
            if let Err(error) = message.double_ack().await {
                // Delivered again later; the aggregate makes the repeat harmless.
                tracing::warn!(%error, "dataset validation not acknowledged");
            }
        }
        Handled::Retry(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "dataset validation failed; will retry"
            );
            if let Err(error) = message.ack_with(AckKind::Nak(Some(RETRY_AFTER))).await {
                tracing::warn!(%error, "dataset validation not handed back");
            }
        }
    }
}

async fn process(state: &AppState, message: &Message) -> Handled {
    let sequence = match message.info() {
        Ok(info) => info.stream_sequence,
        Err(error) => return Handled::Retry(anyhow::anyhow!("message metadata: {error}")),
    };
    let stored = match codec::decode(
        message.subject.as_str(),
        sequence,
        message.headers.as_ref(),
        &message.payload,
    ) {
        Ok(stored) => stored,
        Err(error) => {
            // Retrying cannot make an undecodable message readable.
            tracing::error!(%error, sequence, "dataset event skipped: not decodable");
            return Handled::Done;
        }
    };
    let envelope = stored.envelope;
    let Ok(DatasetEvent::DatasetVersionUploaded {
        version, upload, ..
    }) = envelope.decode::<DatasetEvent>()
    else {
        return Handled::Done;
    };
    let Ok(dataset) = envelope.aggregate_id.parse::<DatasetId>() else {
        tracing::error!(id = %envelope.aggregate_id, "dataset event skipped: not a dataset id");
        return Handled::Done;
    };
    let meta = Metadata {
        tenant_id: envelope.tenant_id,
        actor: Actor::system(),
        correlation_id: envelope.correlation_id,
        causation_id: Some(envelope.event_id.as_uuid()),
        occurred_at: crate::http::now(),
    };
    let span = tracing::info_span!("dataset.validate", %dataset, version, sequence);
    match validate_version(state, message, dataset, version, &upload, &meta)
        .instrument(span)
        .await
    {
        Ok(()) => Handled::Done,
        Err(error) => Handled::Retry(error),
    }
}

async fn validate_version(
    state: &AppState,
    message: &Message,
    dataset: DatasetId,
    version: u32,
    upload: &Upload,
    meta: &Metadata,
) -> anyhow::Result<()> {
    let id = dataset.to_string();
    let current = state.store.load::<Dataset>(&id).await?.state;
    match current.version(version).map(|v| v.status) {
        Some(VersionStatus::Uploaded | VersionStatus::Validating) => {}
        // Already decided (a redelivery), or unknown to the log.
        _ => return Ok(()),
    }
    execute(
        state,
        &id,
        meta,
        DatasetCommand::StartValidation { version },
    )
    .await?;
    tracing::info!("validating dataset version");
    let work = check(state, dataset, upload);
    tokio::pin!(work);
    let mut progress = tokio::time::interval(PROGRESS_EVERY);
    progress.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome?,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, "progress notice not sent");
                }
            }
        }
    };
    let command = match outcome {
        Ok(statistics) => {
            tracing::info!(images = statistics.images, "dataset version ready");
            DatasetCommand::CompleteValidation {
                version,
                statistics,
            }
        }
        Err(reason) => {
            tracing::info!(code = %reason.code, message = %reason.message, "dataset version invalid");
            DatasetCommand::FailValidation { version, reason }
        }
    };
    execute(state, &id, meta, command).await?;
    // Deleted while it was being validated: the deletion may have run before the grid existed.
    if !state.store.load::<Dataset>(&id).await?.state.is_live() {
        remove_objects(&state.datasets, dataset, &upload.sha256).await;
    }
    Ok(())
}

async fn execute(
    state: &AppState,
    id: &str,
    meta: &Metadata,
    command: DatasetCommand,
) -> anyhow::Result<()> {
    match state
        .store
        .execute::<Dataset>(id, meta, command, &[EventId::new()])
        .await
    {
        Ok(_) => Ok(()),
        Err(ExecuteError::Rejected(rejection)) => {
            // Only a version the log does not know is refused; nothing left to record.
            tracing::warn!(code = %rejection.code, message = %rejection.message, "validation outcome refused");
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

/// Downloads and validates one archive: `Ok(Ok(statistics))` when ready, `Ok(Err(reason))` when
/// invalid, `Err` when storage failed (worth retrying).
async fn check(
    state: &AppState,
    dataset: DatasetId,
    upload: &Upload,
) -> anyhow::Result<Result<DatasetStatistics, InvalidReason>> {
    let config = state.config.service.datasets.clone();
    let work_dir = config.work_dir();
    tokio::fs::create_dir_all(&work_dir).await?;
    let dir = tempfile::Builder::new()
        .prefix("validate-")
        .tempdir_in(&work_dir)?;
    let archive = dir.path().join("archive.zip");
    match state
        .datasets
        .get_to_file(&upload.object, &archive, Some(&upload.sha256))
        .await
    {
        Ok(_) => {}
        Err(ObjectStoreError::NotFound { .. }) => {
            return Ok(Err(reason(
                "dataset.archive_missing",
                "the uploaded archive is no longer stored",
            )));
        }
        Err(ObjectStoreError::DigestMismatch { got, .. }) => {
            return Ok(Err(reason(
                "dataset.digest_mismatch",
                format!(
                    "the stored archive has SHA-256 {got}, not the uploaded {}",
                    upload.sha256
                ),
            )));
        }
        Err(other) => return Err(other.into()),
    }
    let limits = config.engine_limits();
    let options = LoadOptions {
        limits: limits.clone(),
        ..LoadOptions::default()
    };
    let shown = upload
        .file_name
        .clone()
        .unwrap_or_else(|| "archive.zip".to_owned());
    let work = tokio::task::spawn_blocking(move || {
        let validated = data::validate(&archive, &options);
        let grid = validated.as_ref().ok().map(|stats| {
            let classes: Vec<String> = stats.classes.iter().map(|c| c.name.clone()).collect();
            render_grid(
                &archive,
                &classes,
                limits.max_entry_bytes,
                limits.max_pixels,
            )
        });
        let validated = validated.map_err(|error| invalid(&error, &archive, &shown));
        drop(dir);
        (validated, grid)
    });
    let (validated, grid) = match work.await {
        Ok(done) => done,
        Err(error) => {
            tracing::error!(%error, "dataset validation crashed");
            return Ok(Err(reason(
                "dataset.validation_crashed",
                "validation stopped unexpectedly on this archive",
            )));
        }
    };
    let stats = match validated {
        Ok(stats) => stats,
        Err(reason) => return Ok(Err(reason)),
    };
    match grid {
        Some(Ok(png)) => {
            let object = samples_object(dataset, &upload.sha256);
            if let Err(error) = state.datasets.put(&object, &mut png.as_slice()).await {
                tracing::warn!(%error, %object, "sample grid not stored; it is rendered on request");
            }
        }
        Some(Err(error)) => tracing::warn!(%error, "sample grid not rendered"),
        None => {}
    }
    Ok(Ok(statistics(stats)))
}

fn reason(code: &str, message: impl Into<String>) -> InvalidReason {
    InvalidReason {
        code: code.to_owned(),
        message: message.into(),
        path: None,
    }
}

/// The engine's refusal as people see it: paths inside the archive instead of the work file.
fn invalid(error: &DatasetError, archive: &Path, shown: &str) -> InvalidReason {
    let inside = format!("{}/", archive.display());
    let message = error
        .to_string()
        .replace(&inside, "")
        .replace(&archive.display().to_string(), shown);
    let path = error
        .path()
        .and_then(|p| p.strip_prefix(archive).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty());
    InvalidReason {
        code: error.code().to_owned(),
        message,
        path,
    }
}

fn statistics(stats: DatasetStats) -> DatasetStatistics {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    DatasetStatistics {
        classes: stats
            .classes
            .into_iter()
            .map(|c| ClassCount {
                name: c.name,
                images: count(c.images),
            })
            .collect(),
        images: count(stats.images),
        skipped_files: count(stats.skipped_files),
        formats: stats
            .formats
            .into_iter()
            .map(|(k, v)| (k, count(v)))
            .collect(),
        sizes: stats
            .sizes
            .into_iter()
            .map(|(k, v)| (k, count(v)))
            .collect(),
        min_width: stats.min_width,
        max_width: stats.max_width,
        min_height: stats.min_height,
        max_height: stats.max_height,
        any_color: stats.any_color,
        explicit_split: stats.explicit_split,
        explicit_test_images: count(stats.explicit_test_images),
        content_digest: stats.digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn refusals_name_paths_inside_the_archive() {
        let archive = std::env::temp_dir().join("validate-x").join("archive.zip");
        let error = DatasetError::UnsafePath {
            path: PathBuf::from(format!("{}/../evil.png", archive.display())),
        };
        let reason = invalid(&error, &archive, "scans.zip");
        assert_eq!(reason.code, "dataset.unsafe_path");
        assert_eq!(reason.path.as_deref(), Some("../evil.png"));
        assert_eq!(
            reason.message,
            "../evil.png: archive entry escapes its folder"
        );
        let error = DatasetError::TooFewClasses {
            path: archive.clone(),
            found: 1,
        };
        let reason = invalid(&error, &archive, "scans.zip");
        assert_eq!(reason.path, None);
        assert!(
            reason.message.starts_with("scans.zip: found 1"),
            "{}",
            reason.message
        );
    }
}

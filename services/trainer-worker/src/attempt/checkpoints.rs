//! Checkpoints in the checkpoints bucket. The engine writes a checkpoint as two files (weights
//! and optimizer state in safetensors, a JSON sidecar with the position and settings); the
//! bucket holds them as one object, a ZIP without compression of `checkpoint.safetensors` and
//! `checkpoint.json`, named `<process_id>/attempt-<n>/<engine name>.zip` (e.g. `epoch-0002`).
//!
//! Uploads run in their own task, in order, so training never waits for the object store; each
//! stored checkpoint is reported as `checkpointed`. An upload that keeps failing is logged and
//! skipped: training goes on, and the last stored checkpoint stays the one to resume from.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use trainyard_core::contracts::dispatch::{BucketName, CheckpointRef, ObjectRef};
use trainyard_core::contracts::report::{Failure, ReportBody, RunStage};
use trainyard_engine::train::checkpoint;
use trainyard_platform::object_store::{Blobs, ObjectStoreError};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use tokio_util::sync::CancellationToken;

use super::failure::{fail, storage_failure};
use super::storage::patiently;
use crate::report::Reporter;

const WEIGHTS: &str = "checkpoint.safetensors";
const SIDECAR: &str = "checkpoint.json";

/// A checkpoint copied out of the engine's folder (which prunes old ones), waiting for upload.
#[derive(Debug, Clone)]
pub struct Staged {
    /// The sidecar; the weights lie beside it.
    pub sidecar: PathBuf,
    pub iteration: u64,
    pub epoch: u64,
}

/// Copies the engine's checkpoint `sidecar` (and its weights) into `staging` under a new name.
/// Hard links when possible: the engine never rewrites a checkpoint file in place.
pub fn stage(sidecar: &Path, staging: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(staging)?;
    let (weights, sidecar) = checkpoint::paths(sidecar);
    let stem = sidecar
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".to_owned());
    let staged = staging.join(format!("{stem}.json"));
    for (from, to) in [
        (&weights, staging.join(format!("{stem}.safetensors"))),
        (&sidecar, staged.clone()),
    ] {
        let _ = std::fs::remove_file(&to);
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to)?;
        }
    }
    Ok(staged)
}

/// Packs a checkpoint's two files into one ZIP at `out`.
pub fn pack(sidecar: &Path, out: &Path) -> std::io::Result<()> {
    let (weights, sidecar) = checkpoint::paths(sidecar);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out)?);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    for (name, path) in [(WEIGHTS, &weights), (SIDECAR, &sidecar)] {
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(path)?, &mut zip)?;
    }
    zip.finish().map_err(std::io::Error::other)?.flush()
}

/// Unpacks a checkpoint ZIP into `dir`; returns the sidecar's path (what the engine resumes from).
pub fn unpack(archive: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(archive)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    for name in [WEIGHTS, SIDECAR] {
        let mut entry = zip
            .by_name(name)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut out = std::fs::File::create(dir.join(name))?;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n])?;
        }
    }
    Ok(dir.join(SIDECAR))
}

/// Downloads an object named by an order into `path`, its SHA-256 checked.
pub async fn download(
    blobs: &Blobs,
    object: &ObjectRef,
    path: &Path,
    stage: RunStage,
    what: &str,
    shutdown: &CancellationToken,
) -> Result<(), Failure> {
    let got = patiently(what, shutdown, || {
        blobs.get_to_file(&object.object, path, Some(&object.sha256))
    })
    .await;
    match got {
        Ok(_) => Ok(()),
        Err(ObjectStoreError::NotFound { bucket, name }) => Err(fail(
            "worker.object_missing",
            stage,
            format!("{what} `{name}` is not in bucket `{bucket}`"),
        )),
        Err(ObjectStoreError::DigestMismatch { got, expected, .. }) => Err(fail(
            "worker.object_corrupt",
            stage,
            format!("{what} has SHA-256 {got}, the order says {expected}"),
        )),
        Err(error) => Err(storage_failure(stage, &error)),
    }
}

/// The upload task of one attempt. Dropping the sender ends it; its result is the last
/// checkpoint stored.
pub fn start_uploads(
    blobs: Blobs,
    reporter: Reporter,
    prefix: String,
    attempt: u32,
    shutdown: CancellationToken,
) -> (
    mpsc::UnboundedSender<Staged>,
    JoinHandle<Option<CheckpointRef>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Staged>();
    let task = tokio::spawn(async move {
        let mut last = None;
        while let Some(staged) = rx.recv().await {
            match upload(&blobs, &prefix, attempt, &staged, &shutdown).await {
                Ok(stored) => {
                    let key = format!("checkpointed/{}", stored.iteration);
                    if let Err(error) = reporter
                        .send(&key, ReportBody::Checkpointed(stored.clone()))
                        .await
                    {
                        tracing::warn!(%error, "checkpoint report not delivered");
                    }
                    last = Some(stored);
                }
                Err(error) => {
                    tracing::error!(%error, iteration = staged.iteration, "checkpoint not stored; training goes on")
                }
            }
            remove_staged(&staged.sidecar);
        }
        last
    });
    (tx, task)
}

async fn upload(
    blobs: &Blobs,
    prefix: &str,
    attempt: u32,
    staged: &Staged,
    shutdown: &CancellationToken,
) -> Result<CheckpointRef, ObjectStoreError> {
    let stem = staged
        .sidecar
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let zip = staged.sidecar.with_extension("zip");
    let file_error = |source| ObjectStoreError::File {
        path: zip.display().to_string(),
        source,
    };
    let (sidecar, out) = (staged.sidecar.clone(), zip.clone());
    tokio::task::spawn_blocking(move || pack(&sidecar, &out))
        .await
        .map_err(|e| file_error(std::io::Error::other(e)))?
        .map_err(file_error)?;
    let name = format!("{prefix}/{stem}.zip");
    let stored = patiently("checkpoint upload", shutdown, || async {
        let mut file = tokio::fs::File::open(&zip).await.map_err(file_error)?;
        blobs.put(&name, &mut file).await
    })
    .await?;
    let _ = tokio::fs::remove_file(&zip).await;
    Ok(CheckpointRef {
        object: ObjectRef {
            bucket: BucketName::Checkpoints,
            object: name,
            sha256: stored.sha256,
            size: stored.size,
        },
        iteration: staged.iteration,
        epoch: staged.epoch,
        attempt,
    })
}

fn remove_staged(sidecar: &Path) {
    let (weights, sidecar) = checkpoint::paths(sidecar);
    let _ = std::fs::remove_file(weights);
    let _ = std::fs::remove_file(sidecar);
}

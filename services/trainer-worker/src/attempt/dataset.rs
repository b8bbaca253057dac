//! The dataset cache in the work folder: one entry per content digest (the engine's digest over
//! paths and contents), holding the archive and the engine's decoded tensors, so a second run on
//! the same data downloads and decodes nothing.
//!
//! The cache holds at most `worker.dataset_cache_bytes`: before a download and after decoding,
//! the least recently used other entries are removed until everything fits. An archive larger
//! than the whole bound is refused; the entry in use is never removed. An archive enters the
//! cache only once its bytes matched the order's SHA-256 (it is downloaded beside its final name
//! and renamed when checked).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use trainyard_core::contracts::dispatch::DatasetRef;
use trainyard_core::contracts::report::{Failure, RunStage};
use trainyard_platform::object_store::{Blobs, ObjectStoreError};

use tokio_util::sync::CancellationToken;

use super::failure::{fail, storage_failure};
use super::storage::patiently;

const ARCHIVE: &str = "archive.zip";
const DECODED: &str = "decoded";
const LAST_USED: &str = "last-used";

#[derive(Debug, Clone)]
pub struct DatasetCache {
    root: PathBuf,
    max_bytes: u64,
}

/// A cached dataset: its archive and the folder for its decoded tensors.
#[derive(Debug, Clone)]
pub struct Cached {
    pub entry: PathBuf,
    pub archive: PathBuf,
    pub decoded: PathBuf,
    /// Whether the archive was already here.
    pub hit: bool,
}

impl DatasetCache {
    pub fn new(root: PathBuf, max_bytes: u64) -> Self {
        Self { root, max_bytes }
    }

    /// The archive of `dataset`, downloaded unless cached.
    pub async fn fetch(
        &self,
        blobs: &Blobs,
        dataset: &DatasetRef,
        shutdown: &CancellationToken,
    ) -> Result<Cached, Failure> {
        let stage = RunStage::FetchingDataset;
        let digest = &dataset.content_digest;
        if digest.is_empty() || !digest.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(fail(
                "worker.bad_order",
                stage,
                format!("dataset content digest {digest:?} is not a digest"),
            ));
        }
        let entry = self.root.join(digest);
        let cached = Cached {
            archive: entry.join(ARCHIVE),
            decoded: entry.join(DECODED),
            entry: entry.clone(),
            hit: entry.join(ARCHIVE).is_file(),
        };
        let io = |e: std::io::Error| fail("worker.io", stage, format!("{}: {e}", entry.display()));
        if cached.hit {
            touch(&entry).map_err(io)?;
            return Ok(cached);
        }
        if dataset.archive.size > self.max_bytes {
            return Err(fail(
                "worker.dataset_too_large",
                stage,
                format!(
                    "the dataset archive has {} bytes; worker.dataset_cache_bytes allows {}",
                    dataset.archive.size, self.max_bytes
                ),
            ));
        }
        self.make_room(&entry, dataset.archive.size);
        std::fs::create_dir_all(&cached.decoded).map_err(io)?;
        touch(&entry).map_err(io)?;
        let fetched = self.download(blobs, dataset, &cached, shutdown).await;
        if fetched.is_err() {
            self.forget(&entry);
        }
        fetched.map(|()| cached)
    }

    async fn download(
        &self,
        blobs: &Blobs,
        dataset: &DatasetRef,
        cached: &Cached,
        shutdown: &CancellationToken,
    ) -> Result<(), Failure> {
        let stage = RunStage::FetchingDataset;
        let object = &dataset.archive.object;
        let got = patiently("dataset download", shutdown, || {
            blobs.get_to_file(object, &cached.archive, Some(&dataset.archive.sha256))
        })
        .await;
        match got {
            Ok(_) => Ok(()),
            Err(ObjectStoreError::NotFound { .. }) => Err(fail(
                "dataset.archive_missing",
                stage,
                format!("the dataset archive `{object}` is not in the datasets bucket"),
            )),
            Err(ObjectStoreError::DigestMismatch { got, .. }) => Err(fail(
                "dataset.digest_mismatch",
                stage,
                format!(
                    "the stored archive has SHA-256 {got}, the dataset version says {}",
                    dataset.archive.sha256
                ),
            )),
            Err(error) => Err(storage_failure(stage, &error)),
        }
    }

    /// Removes least recently used entries other than `keep` until the cache (with `incoming`
    /// more bytes) fits the bound.
    pub fn make_room(&self, keep: &Path, incoming: u64) {
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .map(|p| (last_used(&p), size_of(&p), p))
            .collect();
        let mut used: u64 = entries.iter().map(|e| e.1).sum::<u64>() + incoming;
        entries.sort();
        for (_, size, path) in entries {
            if used <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    used -= size;
                    tracing::info!(entry = %path.display(), bytes = size, "dataset evicted from the cache");
                }
                Err(error) => {
                    tracing::warn!(%error, entry = %path.display(), "dataset cache entry not removed")
                }
            }
        }
    }

    /// Removes an entry (its archive did not decode to what the order named).
    pub fn forget(&self, entry: &Path) {
        if let Err(error) = std::fs::remove_dir_all(entry) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, entry = %entry.display(), "dataset cache entry not removed");
            }
        }
    }

    /// Bytes held by the cache.
    pub fn used_bytes(&self) -> u64 {
        size_of(&self.root)
    }
}

fn touch(entry: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(entry)?;
    std::fs::File::create(entry.join(LAST_USED))?.set_modified(SystemTime::now())
}

fn last_used(entry: &Path) -> SystemTime {
    std::fs::metadata(entry.join(LAST_USED))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| size_of(&e.path()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(cache: &DatasetCache, name: &str, bytes: usize, age_secs: u64) -> PathBuf {
        let dir = cache.root.join(name);
        std::fs::create_dir_all(dir.join(DECODED)).unwrap();
        std::fs::write(dir.join(ARCHIVE), vec![0u8; bytes]).unwrap();
        std::fs::File::create(dir.join(LAST_USED))
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
        dir
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_one_in_use_stays() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::new(dir.path().to_owned(), 3000);
        let old = entry(&cache, "old", 1000, 300);
        let recent = entry(&cache, "recent", 1000, 10);
        let current = entry(&cache, "current", 1000, 500);
        // 3000 held + 500 coming: one entry must go, the oldest that is not in use.
        cache.make_room(&current, 500);
        assert!(!old.exists());
        assert!(recent.exists() && current.exists());
        assert!(cache.used_bytes() + 500 <= 3000);
        // Over the bound with the current entry alone: everything else goes, it stays.
        cache.make_room(&current, 5000);
        assert!(!recent.exists() && current.exists());
    }
}

//! Resumable dataset uploads in progress, kept in the work folder so that a restart of the
//! service (or another instance on the same folder) goes on where the last one stopped. For each
//! upload, `dataset-uploads/<id>.json` holds what was declared (written once, atomically) and
//! `<id>.part` the bytes so far; its length is the offset a client resumes from. An upload
//! untouched for the configured time expires and its files are removed.
//!
//! Writers of one upload take turns through [`UploadSessions::lock`], across processes too; a
//! second writer is told the upload is busy instead of interleaving bytes.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::{DatasetId, TenantId};
use uuid::Uuid;

/// What a client declared when it began an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Declared {
    pub id: Uuid,
    pub dataset_id: DatasetId,
    pub tenant_id: TenantId,
    /// The archive's whole size in bytes.
    pub size: u64,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An upload as it stands now.
#[derive(Debug, Clone)]
pub struct Session {
    pub declared: Declared,
    /// Bytes received so far.
    pub offset: u64,
    /// When it expires unless more bytes arrive.
    pub expires_at: DateTime<Utc>,
}

/// The uploads in progress under one work folder.
#[derive(Debug)]
pub struct UploadSessions {
    dir: PathBuf,
    ttl: Duration,
    busy: Mutex<HashSet<Uuid>>,
}

/// Held while one request writes to an upload; the upload is free again on drop (closing the
/// file releases its lock).
#[derive(Debug)]
pub struct Turn {
    sessions: Arc<UploadSessions>,
    id: Uuid,
    file: Option<std::fs::File>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.sessions.busy_set().remove(&self.id);
    }
}

impl UploadSessions {
    pub fn new(work_dir: &Path, ttl: Duration) -> Self {
        Self {
            dir: work_dir.join("dataset-uploads"),
            ttl,
            busy: Mutex::new(HashSet::new()),
        }
    }

    fn busy_set(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        // A panic while holding the set cannot leave it inconsistent (single inserts/removes).
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn meta_path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Where the bytes of upload `id` go.
    pub fn part_path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    /// Records a new upload with no bytes yet.
    pub async fn begin(&self, declared: &Declared) -> io::Result<Session> {
        tokio::fs::create_dir_all(&self.dir).await?;
        tokio::fs::File::create(self.part_path(declared.id))
            .await?
            .sync_all()
            .await?;
        // Written aside and renamed, so a crash never leaves a half-written declaration.
        let staging = self.dir.join(format!("{}.json.new", declared.id));
        let json = serde_json::to_vec(declared).map_err(io::Error::other)?;
        tokio::fs::write(&staging, json).await?;
        tokio::fs::File::open(&staging).await?.sync_all().await?;
        tokio::fs::rename(&staging, self.meta_path(declared.id)).await?;
        self.open(declared.id)
            .await?
            .ok_or_else(|| io::Error::other("upload vanished right after it was begun"))
    }

    /// The upload `id`, unless there is none or it expired (an expired one is removed).
    pub async fn open(&self, id: Uuid) -> io::Result<Option<Session>> {
        let json = match tokio::fs::read(self.meta_path(id)).await {
            Ok(json) => json,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let declared: Declared = serde_json::from_slice(&json).map_err(io::Error::other)?;
        let part = match tokio::fs::metadata(self.part_path(id)).await {
            Ok(part) => part,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let touched = part.modified().unwrap_or_else(|_| SystemTime::now());
        let expires_at = DateTime::<Utc>::from(touched + self.ttl);
        if expires_at <= Utc::now() && !self.busy_set().contains(&id) {
            self.remove(id).await?;
            return Ok(None);
        }
        Ok(Some(Session {
            declared,
            offset: part.len(),
            expires_at,
        }))
    }

    /// Every live upload (expired ones are removed on the way).
    pub async fn all(&self) -> io::Result<Vec<Session>> {
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut sessions = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| Uuid::parse_str(n).ok())
            else {
                self.drop_if_stray(&entry.path()).await?;
                continue;
            };
            if let Some(session) = self.open(id).await? {
                sessions.push(session);
            }
        }
        sessions.sort_by_key(|s| (s.declared.created_at, s.declared.id));
        Ok(sessions)
    }

    /// Takes the writer's turn on `id`; `None` while another request holds it, here or in
    /// another process on the same work folder (an exclusive lock on the part file, held by the
    /// turn).
    pub fn lock(self: &Arc<Self>, id: Uuid) -> io::Result<Option<Turn>> {
        if !self.busy_set().insert(id) {
            return Ok(None);
        }
        // Built first, so that every way out below frees the in-process turn again.
        let mut turn = Turn {
            sessions: Arc::clone(self),
            id,
            file: None,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(self.part_path(id))?;
        match file.try_lock() {
            Ok(()) => {
                turn.file = Some(file);
                Ok(Some(turn))
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(error)) => Err(error),
        }
    }

    /// Removes a file left by a crash while an upload was begun (a part or staged declaration
    /// without a declaration) once it is as old as an expired upload.
    async fn drop_if_stray(&self, path: &Path) -> io::Result<()> {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Ok(());
        };
        let Some(id) = name
            .strip_suffix(".part")
            .or_else(|| name.strip_suffix(".json.new"))
            .and_then(|n| Uuid::parse_str(n).ok())
        else {
            return Ok(());
        };
        let declared = tokio::fs::try_exists(self.meta_path(id)).await?;
        let touched = tokio::fs::metadata(path).await?.modified()?;
        let old = touched.elapsed().unwrap_or_default() >= self.ttl;
        if !declared && old {
            tokio::fs::remove_file(path).await?;
        }
        Ok(())
    }

    /// Removes the upload's files (declaration first, so a half-removed upload is gone).
    pub async fn remove(&self, id: Uuid) -> io::Result<()> {
        for path in [self.meta_path(id), self.part_path(id)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

//! Large artifacts (datasets, checkpoints, ONNX models) in JetStream object store buckets:
//! verified bucket creation, streaming put that computes the SHA-256 the lineage records, and
//! streaming get or get-to-file that checks the bytes against that digest. Nothing is buffered
//! whole in memory: a dataset may be larger than RAM.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use async_nats::jetstream::object_store::{self, ObjectInfo, ObjectStore};
use async_nats::jetstream::stream::{self, Compression, DiscardPolicy};
use async_nats::jetstream::Context;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::streams::{server_error, verify_stream, Bucket, StreamNames, StreamSetupError};

/// Digest and size of stored bytes; `sha256` is lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("object `{name}` not found in bucket `{bucket}`")]
    NotFound { bucket: String, name: String },
    #[error("object `{name}` in `{bucket}` has sha256 {got}, expected {expected}")]
    DigestMismatch {
        bucket: String,
        name: String,
        expected: String,
        got: String,
    },
    #[error("local file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("object store `{bucket}` failed on `{name}`: {source}")]
    Infrastructure {
        bucket: String,
        name: String,
        #[source]
        source: async_nats::Error,
    },
}

/// Creates (or verifies) each bucket of `names`.
pub async fn ensure_buckets(
    js: &Context,
    names: &StreamNames,
    replicas: usize,
) -> Result<(), StreamSetupError> {
    for bucket in Bucket::ALL {
        let config = object_store::Config {
            bucket: names.bucket(bucket),
            description: Some(format!("Trainyard {}", bucket.name())),
            num_replicas: replicas,
            ..Default::default()
        };
        ensure_bucket(js, config).await?;
    }
    Ok(())
}

/// Creates a bucket, then checks its backing stream like any other stream.
pub async fn ensure_bucket(
    js: &Context,
    config: object_store::Config,
) -> Result<Blobs, StreamSetupError> {
    let store = js
        .create_object_store(config.clone())
        .await
        .map_err(|e| server_error(js, "object store bucket", &config.bucket, e.into()))?;
    verify_stream(js, "object store stream", &backing_stream(&config)).await?;
    Ok(Blobs {
        bucket: config.bucket,
        store,
    })
}

/// The stream the client derives from a bucket configuration.
fn backing_stream(config: &object_store::Config) -> stream::Config {
    stream::Config {
        name: format!("OBJ_{}", config.bucket),
        description: config.description.clone(),
        subjects: vec![
            format!("$O.{}.C.>", config.bucket),
            format!("$O.{}.M.>", config.bucket),
        ],
        max_age: config.max_age,
        max_bytes: config.max_bytes,
        storage: config.storage,
        num_replicas: config.num_replicas,
        discard: DiscardPolicy::New,
        allow_rollup: true,
        allow_direct: true,
        compression: config.compression.then_some(Compression::S2),
        ..Default::default()
    }
}

/// One bucket.
#[derive(Clone)]
pub struct Blobs {
    bucket: String,
    store: ObjectStore,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("bucket", &self.bucket)
            .finish()
    }
}

impl Blobs {
    /// Opens an existing bucket.
    pub async fn open(js: &Context, bucket: &str) -> Result<Self, ObjectStoreError> {
        let store = js
            .get_object_store(bucket)
            .await
            .map_err(|e| infra(bucket, "", e))?;
        Ok(Self {
            bucket: bucket.to_owned(),
            store,
        })
    }

    /// Streams `data` into object `name` (replacing an older version), hashing on the way.
    pub async fn put(
        &self,
        name: &str,
        data: &mut (impl AsyncRead + Unpin + Send),
    ) -> Result<Stored, ObjectStoreError> {
        let mut hashing = Hashing::new(data);
        self.store
            .put(name, &mut hashing)
            .await
            .map_err(|e| infra(&self.bucket, name, e))?;
        Ok(hashing.finish())
    }

    /// A reader over the object's bytes. The client checks the bucket's own digest at the end.
    pub async fn get(&self, name: &str) -> Result<object_store::Object, ObjectStoreError> {
        self.store.get(name).await.map_err(|e| match e.kind() {
            object_store::GetErrorKind::NotFound => self.not_found(name),
            _ => infra(&self.bucket, name, e),
        })
    }

    /// Downloads into `path` (written beside it first, renamed when complete) and checks the
    /// bytes against `expected_sha256` when given; a mismatch leaves no file behind.
    pub async fn get_to_file(
        &self,
        name: &str,
        path: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Stored, ObjectStoreError> {
        let file_error = |source| ObjectStoreError::File {
            path: path.display().to_string(),
            source,
        };
        let partial = path.with_extension("partial");
        let mut reader = Hashing::new(self.get(name).await?);
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(file_error)?;
        let copied = tokio::io::copy(&mut reader, &mut file).await;
        let flushed = async {
            copied?;
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        let stored = reader.finish();
        let verdict = match (flushed, expected_sha256) {
            (Err(e), _) => Err(file_error(e)),
            (Ok(()), Some(expected)) if !expected.eq_ignore_ascii_case(&stored.sha256) => {
                Err(ObjectStoreError::DigestMismatch {
                    bucket: self.bucket.clone(),
                    name: name.to_owned(),
                    expected: expected.to_owned(),
                    got: stored.sha256.clone(),
                })
            }
            (Ok(()), _) => Ok(()),
        };
        if let Err(e) = verdict {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, path)
            .await
            .map_err(file_error)?;
        Ok(stored)
    }

    pub async fn delete(&self, name: &str) -> Result<(), ObjectStoreError> {
        self.store.delete(name).await.map_err(|e| match e.kind() {
            object_store::DeleteErrorKind::NotFound => self.not_found(name),
            _ => infra(&self.bucket, name, e),
        })
    }

    /// Metadata of a live object; a deleted one (the bucket keeps a tombstone) is not found.
    pub async fn info(&self, name: &str) -> Result<ObjectInfo, ObjectStoreError> {
        match self.store.info(name).await {
            Ok(info) if info.deleted => Err(self.not_found(name)),
            Ok(info) => Ok(info),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {
                Err(self.not_found(name))
            }
            Err(e) => Err(infra(&self.bucket, name, e)),
        }
    }

    fn not_found(&self, name: &str) -> ObjectStoreError {
        ObjectStoreError::NotFound {
            bucket: self.bucket.clone(),
            name: name.to_owned(),
        }
    }
}

fn infra(bucket: &str, name: &str, source: impl Into<async_nats::Error>) -> ObjectStoreError {
    ObjectStoreError::Infrastructure {
        bucket: bucket.to_owned(),
        name: name.to_owned(),
        source: source.into(),
    }
}

/// Passes bytes through while hashing and counting them.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> Stored {
        Stored {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = &buf.filled()[before..];
            self.size += fresh.len() as u64;
            self.hasher.update(fresh);
        }
        polled
    }
}

//! What the worker needs from the platform, in one place: the NATS client and its JetStream
//! context, the stream and subject names, and the three object store buckets. A worker needs
//! nothing else (no PostgreSQL, no HTTP to other services). It does not create streams or
//! buckets: the services own them, so it waits until they exist.

use std::time::Duration;

use async_nats::jetstream::{self, Context};
use async_nats::Client;
use tokio_util::sync::CancellationToken;
use trainyard_core::contracts::dispatch::BucketName;
use trainyard_platform::object_store::Blobs;
use trainyard_platform::streams::{Bucket, StreamNames};

/// Connections and names shared by every part of the worker.
#[derive(Clone, Debug)]
pub struct Infra {
    pub client: Client,
    pub js: Context,
    pub names: StreamNames,
    pub buckets: Buckets,
    /// Cancelled when the worker shuts down.
    pub shutdown: CancellationToken,
}

/// The object store buckets, by role.
#[derive(Clone, Debug)]
pub struct Buckets {
    pub datasets: Blobs,
    pub checkpoints: Blobs,
    pub models: Blobs,
}

impl Buckets {
    pub fn get(&self, bucket: BucketName) -> &Blobs {
        match bucket {
            BucketName::Datasets => &self.datasets,
            BucketName::Checkpoints => &self.checkpoints,
            BucketName::Models => &self.models,
        }
    }
}

impl Infra {
    /// Opens the buckets, waiting (and saying so once) while they do not exist yet. `None` when
    /// shut down first.
    pub async fn open(
        client: Client,
        names: StreamNames,
        shutdown: CancellationToken,
    ) -> Option<Self> {
        let js = jetstream::new(client.clone());
        let mut warned = false;
        let buckets = loop {
            match open_buckets(&js, &names).await {
                Ok(buckets) => break buckets,
                Err(error) => {
                    if !warned {
                        tracing::warn!(%error, "object store buckets not available yet; waiting");
                        warned = true;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        };
        Some(Self {
            client,
            js,
            names,
            buckets,
            shutdown,
        })
    }
}

async fn open_buckets(js: &Context, names: &StreamNames) -> anyhow::Result<Buckets> {
    Ok(Buckets {
        datasets: Blobs::open(js, &names.bucket(Bucket::Datasets)).await?,
        checkpoints: Blobs::open(js, &names.bucket(Bucket::Checkpoints)).await?,
        models: Blobs::open(js, &names.bucket(Bucket::Models)).await?,
    })
}

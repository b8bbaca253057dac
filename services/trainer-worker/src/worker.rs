//! The worker as a whole: measure the host, register, then heartbeat and take orders until shut
//! down. [`Worker::spawn`] runs it on a given NATS connection, so the one-process `trainyard`
//! binary can run a local worker beside the services; the `trainyard-worker` binary does the
//! same on its own connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard_core::contracts::worker::Busy;
use trainyard_core::TargetMachineId;
use trainyard_platform::streams::StreamNames;
use uuid::Uuid;

use crate::attempt::dataset::DatasetCache;
use crate::config::WorkerConfig;
use crate::infra::Infra;
use crate::points::Points;
use crate::presence::{self, Identity};

/// What every part of a running worker shares.
#[derive(Debug)]
pub struct Shared {
    pub infra: Infra,
    pub config: WorkerConfig,
    pub machine_id: TargetMachineId,
    pub points: Points,
    pub cache: DatasetCache,
    /// The attempt running now, as heartbeats tell it.
    pub busy: Arc<Mutex<Option<Busy>>>,
}

/// A trainer-worker for one target machine.
#[derive(Debug)]
pub struct Worker;

impl Worker {
    /// Starts a worker on `client`. It ends when `shutdown` is cancelled (a running attempt is
    /// stopped at its next iteration, checkpointed and reported `failed` with `worker.shutdown`,
    /// so it can be restarted from there) or when the configuration is unusable.
    pub fn spawn(
        config: WorkerConfig,
        client: Client,
        names: StreamNames,
        shutdown: CancellationToken,
    ) -> JoinHandle<anyhow::Result<()>> {
        tokio::spawn(Self::run(config, client, names, shutdown))
    }

    /// [`Worker::spawn`] on the connection and names of a process's service kit (the
    /// one-process binary's local worker).
    pub fn spawn_on(
        config: WorkerConfig,
        infra: &trainyard_platform::service::Infra,
        shutdown: CancellationToken,
    ) -> JoinHandle<anyhow::Result<()>> {
        Self::spawn(
            config,
            infra.client().clone(),
            infra.names().clone(),
            shutdown,
        )
    }

    /// [`Worker::spawn`] without the task.
    pub async fn run(
        config: WorkerConfig,
        client: Client,
        names: StreamNames,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        config.check()?;
        let machine_id = config.machine()?;
        let api_key = config.key()?;
        std::fs::create_dir_all(&config.work_dir)?;
        // Folders of attempts a previous run of this worker did not finish (it was killed).
        match std::fs::remove_dir_all(config.attempts_dir()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(error = %e, "folders of earlier attempts not removed")
            }
            _ => {}
        }
        let device = tokio::task::spawn_blocking(crate::device::measure).await?;
        tracing::info!(machine = %machine_id, ?device, "trainer-worker starting");
        let Some(infra) = Infra::open(client, names, shutdown.clone()).await else {
            return Ok(());
        };
        let identity = Identity {
            machine_id,
            worker_id: Uuid::now_v7(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            device,
        };
        let default_heartbeat = Duration::from_secs(config.heartbeat_interval_secs.into());
        let Some(accepted) = presence::register(
            &infra,
            &identity,
            &api_key,
            config.refused_retry(),
            default_heartbeat,
        )
        .await
        else {
            return Ok(());
        };
        let shared = Arc::new(Shared {
            points: Points::start(&infra, machine_id),
            cache: DatasetCache::new(config.datasets_dir(), config.dataset_cache_bytes),
            infra: infra.clone(),
            config,
            machine_id,
            busy: Arc::new(Mutex::new(None)),
        });
        let beats = tokio::spawn(presence::heartbeats(
            infra,
            identity,
            accepted,
            shared.busy.clone(),
        ));
        crate::dispatch::run(shared).await;
        let _ = beats.await;
        tracing::info!("trainer-worker stopped");
        Ok(())
    }
}

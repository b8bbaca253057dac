//! A worker against a real NATS server with the platform's streams and buckets, a stand-in for
//! the scheduler's registration responder (the only part of the scheduler a worker talks to
//! besides queues), and readers for what the worker publishes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::{Client, HeaderMap};
use chrono::Utc;
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard_core::contracts::dispatch::*;
use trainyard_core::contracts::worker::{Heartbeat, RegisterWorker, Registration};
use trainyard_core::training::{self, TechnicalParameters};
use trainyard_core::*;
use trainyard_platform::object_store::{ensure_buckets, Blobs};
use trainyard_platform::streams::{ensure_streams, Bucket, StreamNames, StreamSettings};
use trainyard_testkit::{nats, NatsServer};
use trainyard_worker::{Worker, WorkerConfig};
use uuid::Uuid;

pub const API_KEY: &str = "tyk_test_worker_key";
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Env {
    nats: NatsServer,
    pub client: Client,
    pub js: Context,
    pub names: StreamNames,
    pub machine: TargetMachineId,
    pub tenant: TenantId,
    pub datasets: Blobs,
    pub checkpoints: Blobs,
    pub models: Blobs,
    /// Registration requests seen; answers are Accepted while `accept` holds.
    pub registrations: Arc<AtomicU32>,
    pub accept: Arc<AtomicBool>,
    pub heartbeats: Arc<Mutex<Vec<Heartbeat>>>,
    pub work: tempfile::TempDir,
    shutdown: CancellationToken,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Env {
    /// NATS with streams and buckets under a test prefix, the registration stand-in; no worker
    /// yet.
    pub async fn new(accept: bool) -> Self {
        Self::with_names(accept, StreamNames::with_prefix("T")).await
    }

    /// [`Env::new`] with the given names (the binary uses the production ones).
    pub async fn with_names(accept: bool, names: StreamNames) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trainyard_worker=info")
            .with_test_writer()
            .try_init();
        let nats = nats();
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        ensure_streams(&js, &names, &StreamSettings::default())
            .await
            .unwrap();
        ensure_buckets(&js, &names, 1).await.unwrap();
        let mut buckets = Vec::new();
        for bucket in Bucket::ALL {
            buckets.push(Blobs::open(&js, &names.bucket(bucket)).await.unwrap());
        }
        let [datasets, checkpoints, models] = <[Blobs; 3]>::try_from(buckets).unwrap();
        let machine = TargetMachineId::new();
        let env = Self {
            registrations: Arc::new(AtomicU32::new(0)),
            accept: Arc::new(AtomicBool::new(accept)),
            heartbeats: Arc::default(),
            work: tempfile::tempdir().unwrap(),
            nats,
            client,
            js,
            names,
            machine,
            tenant: TenantId::new(),
            datasets,
            checkpoints,
            models,
            shutdown: CancellationToken::new(),
            worker: None,
        };
        env.answer_registrations().await;
        env.collect_heartbeats().await;
        env
    }

    /// A started environment with a registered worker.
    pub async fn start() -> Self {
        let mut env = Self::new(true).await;
        env.spawn_worker();
        env
    }

    pub fn spawn_worker(&mut self) {
        let config = WorkerConfig {
            threads: Some(1),
            progress_period_ms: 50,
            refused_retry_ms: 100,
            ..WorkerConfig::new(self.machine, API_KEY, self.work.path())
        };
        self.worker = Some(Worker::spawn(
            config,
            self.client.clone(),
            self.names.clone(),
            self.shutdown.clone(),
        ));
    }

    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// Whether the worker task is still running.
    pub fn worker_alive(&self) -> bool {
        self.worker.as_ref().is_some_and(|w| !w.is_finished())
    }

    async fn answer_registrations(&self) {
        let mut requests = self
            .client
            .subscribe(self.names.register_subject(self.machine))
            .await
            .unwrap();
        let (client, seen, accept) = (
            self.client.clone(),
            self.registrations.clone(),
            self.accept.clone(),
        );
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let asked: RegisterWorker = serde_json::from_slice(&request.payload).unwrap();
                let answer = if asked.api_key != API_KEY {
                    Registration::Refused {
                        code: "invalid_api_key".into(),
                        message: "unknown key".into(),
                    }
                } else if accept.load(Ordering::SeqCst) {
                    Registration::Accepted {
                        protocol: PROTOCOL,
                        heartbeat_interval_secs: 1,
                    }
                } else {
                    Registration::Refused {
                        code: "machine_disabled".into(),
                        message: "the machine is disabled".into(),
                    }
                };
                let reply = request.reply.unwrap();
                let body = serde_json::to_vec(&answer).unwrap();
                client.publish(reply, body.into()).await.unwrap();
            }
        });
    }

    async fn collect_heartbeats(&self) {
        let mut beats = self
            .client
            .subscribe(self.names.heartbeat_subject(self.machine))
            .await
            .unwrap();
        let into = self.heartbeats.clone();
        tokio::spawn(async move {
            while let Some(beat) = beats.next().await {
                into.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&beat.payload).unwrap());
            }
        });
    }

    /// Uploads a ZIP of synthetic pages and describes it as a ready dataset version.
    pub async fn dataset(&self, classes: usize, per_class: usize, size: u32) -> DatasetRef {
        let path = self
            .work
            .path()
            .join(format!("pages-{}.zip", Uuid::now_v7()));
        trainyard_engine::synth::write_zip(&path, classes, per_class, size, 7).unwrap();
        let stats =
            trainyard_engine::data::validate(&path, &Default::default()).expect("valid pages");
        let mut archive = self.upload_file(&path).await;
        archive.bucket = BucketName::Datasets;
        DatasetRef {
            id: DatasetId::new(),
            version: 1,
            archive,
            content_digest: stats.digest,
            classes: stats.classes.iter().map(|c| c.name.clone()).collect(),
            images: stats.images as u64,
        }
    }

    pub async fn upload_file(&self, path: &Path) -> ObjectRef {
        let name = format!("{}/{}.zip", DatasetId::new(), Uuid::now_v7());
        self.upload(&name, &std::fs::read(path).unwrap()).await
    }

    pub async fn upload(&self, name: &str, bytes: &[u8]) -> ObjectRef {
        let stored = self.datasets.put(name, &mut &bytes[..]).await.unwrap();
        ObjectRef {
            bucket: BucketName::Datasets,
            object: name.to_owned(),
            sha256: stored.sha256,
            size: stored.size,
        }
    }

    pub fn order(&self, dataset: &DatasetRef, iterations: u64) -> StartOrder {
        StartOrder {
            order_id: Uuid::now_v7(),
            process_id: TrainingProcessId::new(),
            attempt: 1,
            tenant_id: self.tenant,
            machine_id: self.machine,
            snapshot: RunSnapshot {
                project_id: ProjectId::new(),
                template: TemplateRef {
                    id: TrainingTemplateId::new(),
                    version: 3,
                    name: "pages".into(),
                },
                model_type: ModelTypeRef {
                    id: ModelTypeId::new(),
                    name: "documents".into(),
                },
                base_model: BaseModelRef {
                    id: BaseModelId::new(),
                    name: "base".into(),
                    architecture: training::Architecture::Base,
                    weights: None,
                },
                dataset: dataset.clone(),
                augmentation: training::Augmentation::None,
                parameters: TechnicalParameters {
                    workers: 1,
                    batch_size: 8,
                    max_iterations: iterations,
                    learning_rate: 0.005,
                    device: training::Device::Cpu,
                    test_split: 0.25,
                    ..TechnicalParameters::default()
                },
            },
            resume: None,
            issued_at: Utc::now(),
        }
    }

    pub async fn send(&self, order: DispatchOrder) {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", order.order_id().to_string().as_str());
        let body = serde_json::to_vec(&order).unwrap();
        self.js
            .publish_with_headers(
                self.names.dispatch_subject(self.machine),
                headers,
                body.into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    pub fn stop_order(&self, start: &StartOrder) -> DispatchOrder {
        DispatchOrder::Stop(StopOrder {
            order_id: Uuid::now_v7(),
            process_id: start.process_id,
            attempt: start.attempt,
            start_order_id: Some(start.order_id),
            issued_at: Utc::now(),
        })
    }

    /// Stops the worker and waits for it to end.
    pub async fn shut_down(&mut self) {
        self.shutdown.cancel();
        if let Some(worker) = self.worker.take() {
            tokio::time::timeout(WAIT, worker)
                .await
                .expect("worker ended")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

const PROTOCOL: u32 = trainyard_core::contracts::PROTOCOL_VERSION;

//! Metric points on `metrics.<machine_id>.<process_id>`: published as training produces them,
//! without waiting for each ack in the training path; a background task collects the acks,
//! publishes again what was not acknowledged (the `Nats-Msg-Id` keeps a point stored once), and
//! [`Points::flush`] waits until every point sent so far is stored — the final report of an
//! attempt goes out only after that.

use std::future::IntoFuture;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use trainyard_core::contracts::metric::MetricPoint;
use trainyard_core::TargetMachineId;

use crate::infra::Infra;
use crate::report::publish_acked;

enum Command {
    Publish(Box<MetricPoint>),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Points {
    tx: mpsc::UnboundedSender<Command>,
}

/// A point's `Nats-Msg-Id`: `(process, attempt, kind, iteration)` names it.
pub fn point_id(point: &MetricPoint) -> String {
    match point {
        MetricPoint::Iteration(p) => format!("{}.{}.it.{}", p.process_id, p.attempt, p.iteration),
        MetricPoint::Epoch(p) => format!("{}.{}.ep.{}", p.process_id, p.attempt, p.epoch),
    }
}

struct Outgoing {
    subject: String,
    id: String,
    payload: Bytes,
}

impl Points {
    /// Starts the publishing task for points of `machine`.
    pub fn start(infra: &Infra, machine: TargetMachineId) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(infra.clone(), machine, rx));
        Self { tx }
    }

    /// Queues a point; never blocks.
    pub fn publish(&self, point: MetricPoint) {
        let _ = self.tx.send(Command::Publish(Box::new(point)));
    }

    /// Waits until every point queued before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

type Pending = FuturesUnordered<BoxFuture<'static, Option<Outgoing>>>;

async fn run(infra: Infra, machine: TargetMachineId, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut pending: Pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Publish(point)) => {
                    let outgoing = Outgoing {
                        subject: infra.names.metrics_subject(machine, point.process_id()),
                        id: point_id(&point),
                        payload: Bytes::from(
                            serde_json::to_vec(&point).expect("a point always serialises"),
                        ),
                    };
                    let waiting = send(infra.clone(), outgoing).await;
                    pending.push(waiting);
                }
                Some(Command::Flush(done)) => {
                    while let Some(failed) = pending.next().await {
                        retry(&infra, failed).await;
                    }
                    let _ = done.send(());
                }
                None => break,
            },
            Some(failed) = pending.next(), if !pending.is_empty() => {
                retry(&infra, failed).await;
            }
        }
    }
    while let Some(failed) = pending.next().await {
        retry(&infra, failed).await;
    }
}

/// Sends the point at once (keeping points in order on the stream) and returns a future that
/// waits for its ack and yields the point back when it was not stored.
async fn send(infra: Infra, outgoing: Outgoing) -> BoxFuture<'static, Option<Outgoing>> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", outgoing.id.as_str());
    let published = infra
        .js
        .publish_with_headers(outgoing.subject.clone(), headers, outgoing.payload.clone())
        .await;
    Box::pin(async move {
        match published {
            Ok(ack) => ack.into_future().await.err().map(|_| outgoing),
            Err(_) => Some(outgoing),
        }
    })
}

async fn retry(infra: &Infra, failed: Option<Outgoing>) {
    if let Some(point) = failed {
        if let Err(error) = publish_acked(infra, &point.subject, &point.id, point.payload).await {
            tracing::warn!(%error, id = %point.id, "metric point dropped at shutdown");
        }
    }
}

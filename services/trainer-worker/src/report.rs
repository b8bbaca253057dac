//! Publishing reports on one attempt: `report.<machine_id>.<process_id>`, each stored once.
//!
//! A report's id (also its `Nats-Msg-Id`) is derived from the order id and what the report says
//! (`accepted`, `stage/decoding`, `progress/7`, …), so the same report published twice — a retry
//! after a lost ack, an order delivered again after a crash before its ack — is kept once by the
//! stream. Every publish waits for the stream's ack and is retried until it comes.

use std::time::Duration;

use async_nats::HeaderMap;
use chrono::Utc;
use sha2::{Digest, Sha256};
use trainyard_core::contracts::report::{ReportBody, WorkerReport};
use trainyard_core::{TargetMachineId, TrainingProcessId};
use uuid::Uuid;

use crate::infra::Infra;

/// Pause after a failed publish, growing to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// Tries left for one publish once the worker is shutting down.
const TRIES_WHEN_SHUTTING_DOWN: u32 = 3;

/// The id of the report `key` of order `order_id`: the first 16 bytes of
/// `sha256(order_id ‖ key)` as a version-8 UUID.
pub fn report_id(order_id: Uuid, key: &str) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(order_id.as_bytes());
    hasher.update(b"/");
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Reports about one attempt of one process.
#[derive(Debug, Clone)]
pub struct Reporter {
    infra: Infra,
    subject: String,
    machine_id: TargetMachineId,
    process_id: TrainingProcessId,
    attempt: u32,
    order_id: Uuid,
}

/// The worker shut down before the stream acknowledged a report.
#[derive(Debug, thiserror::Error)]
#[error("report `{key}` not acknowledged before shutdown: {last_error}")]
pub struct NotDelivered {
    pub key: String,
    pub last_error: String,
}

impl Reporter {
    pub fn new(
        infra: &Infra,
        machine_id: TargetMachineId,
        process_id: TrainingProcessId,
        attempt: u32,
        order_id: Uuid,
    ) -> Self {
        Self {
            subject: infra.names.report_subject(machine_id, process_id),
            infra: infra.clone(),
            machine_id,
            process_id,
            attempt,
            order_id,
        }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn process_id(&self) -> TrainingProcessId {
        self.process_id
    }

    /// Publishes `body` as report `key` and waits until the stream has stored it.
    pub async fn send(&self, key: &str, body: ReportBody) -> Result<(), NotDelivered> {
        let report = WorkerReport {
            report_id: report_id(self.order_id, key),
            machine_id: self.machine_id,
            process_id: self.process_id,
            attempt: self.attempt,
            order_id: self.order_id,
            sent_at: Utc::now(),
            body,
        };
        let payload = bytes::Bytes::from(
            serde_json::to_vec(&report).expect("a report always serialises to JSON"),
        );
        let id = report.report_id.to_string();
        publish_acked(&self.infra, &self.subject, &id, payload)
            .await
            .map_err(|last_error| NotDelivered {
                key: key.to_owned(),
                last_error,
            })
    }
}

impl Reporter {
    /// [`Reporter::send`] for reports whose loss only matters at shutdown: logs instead.
    pub async fn send_logged(&self, key: String, body: ReportBody) {
        if let Err(error) = self.send(&key, body).await {
            tracing::warn!(%error, "report not delivered");
        }
    }
}

/// Publishes to JetStream with `Nats-Msg-Id` = `id` until acknowledged. Gives up (with the last
/// error) only after a few tries once the worker is shutting down.
pub async fn publish_acked(
    infra: &Infra,
    subject: &str,
    id: &str,
    payload: bytes::Bytes,
) -> Result<(), String> {
    let mut pause = FIRST_PAUSE;
    let mut tries_left = TRIES_WHEN_SHUTTING_DOWN;
    loop {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let error = match infra
            .js
            .publish_with_headers(subject.to_owned(), headers, payload.clone())
            .await
        {
            Ok(ack) => match ack.await {
                Ok(_) => return Ok(()),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        if infra.shutdown.is_cancelled() {
            tries_left -= 1;
            if tries_left == 0 {
                return Err(error);
            }
        }
        tracing::warn!(%error, subject, id, "publish not acknowledged; retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_stable_per_order_and_key() {
        let order = Uuid::now_v7();
        assert_eq!(report_id(order, "accepted"), report_id(order, "accepted"));
        assert_ne!(report_id(order, "accepted"), report_id(order, "running"));
        assert_ne!(
            report_id(order, "accepted"),
            report_id(Uuid::now_v7(), "accepted")
        );
        assert_eq!(report_id(order, "accepted").get_version_num(), 8);
    }
}

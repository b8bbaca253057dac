//! Registration and heartbeats. A worker takes no order before the scheduler has accepted its
//! registration: it asks on `worker.register.<machine_id>` until it gets an answer (with a
//! growing pause while no scheduler answers or it answers `scheduler_unavailable`), and after a
//! refusal logs the reason and asks again after `worker.refused_retry_ms` (an administrator may
//! enable the machine or fix the key).
//! Once accepted it sends a heartbeat every interval, saying which attempt it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use trainyard_core::contracts::worker::{
    Busy, DeviceInfo, Heartbeat, RegisterWorker, Registration,
};
use trainyard_core::contracts::PROTOCOL_VERSION;
use trainyard_core::TargetMachineId;
use uuid::Uuid;

use crate::infra::Infra;

/// How long one registration request waits for its answer.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// The refusal a scheduler gives when it could not decide (not a verdict on this worker).
const TRANSIENT_REFUSAL: &str = "scheduler_unavailable";

/// Who this worker is, as it tells the scheduler.
#[derive(Debug, Clone)]
pub struct Identity {
    pub machine_id: TargetMachineId,
    pub worker_id: Uuid,
    pub version: String,
    pub device: DeviceInfo,
}

/// What the scheduler agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub protocol: u32,
    pub heartbeat_interval: Duration,
}

/// Registers until accepted; `None` when the worker shuts down first.
pub async fn register(
    infra: &Infra,
    identity: &Identity,
    api_key: &str,
    refused_retry: Duration,
    default_heartbeat: Duration,
) -> Option<Accepted> {
    let subject = infra.names.register_subject(identity.machine_id);
    let request = RegisterWorker {
        machine_id: identity.machine_id,
        worker_id: identity.worker_id,
        version: identity.version.clone(),
        protocols: vec![PROTOCOL_VERSION],
        device: identity.device.clone(),
        api_key: api_key.to_owned(),
    };
    let payload = bytes::Bytes::from(serde_json::to_vec(&request).expect("serialisable"));
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let asked = tokio::time::timeout(
            ANSWER_WAIT,
            infra.client.request(subject.clone(), payload.clone()),
        )
        .await;
        let wait = match asked {
            Ok(Ok(reply)) => match serde_json::from_slice::<Registration>(&reply.payload) {
                Ok(Registration::Accepted {
                    protocol,
                    heartbeat_interval_secs,
                }) if protocol == PROTOCOL_VERSION => {
                    let secs = if heartbeat_interval_secs == 0 {
                        default_heartbeat
                    } else {
                        Duration::from_secs(heartbeat_interval_secs.into())
                    };
                    tracing::info!(machine = %identity.machine_id, worker = %identity.worker_id, protocol, attempts, "registered");
                    return Some(Accepted {
                        protocol,
                        heartbeat_interval: secs,
                    });
                }
                Ok(Registration::Accepted { protocol, .. }) => {
                    tracing::error!(protocol, "the scheduler chose a protocol this worker does not speak; not taking orders");
                    refused_retry
                }
                // The scheduler's own trouble (identity unreachable, say): ask again soon.
                Ok(Registration::Refused { code, message }) if code == TRANSIENT_REFUSAL => {
                    tracing::warn!(%code, %message, "registration not decided; retrying");
                    pause
                }
                Ok(Registration::Refused { code, message }) => {
                    tracing::warn!(%code, %message, "registration refused; not taking orders");
                    refused_retry
                }
                Err(error) => {
                    tracing::warn!(%error, "unreadable registration answer");
                    refused_retry
                }
            },
            Ok(Err(error)) => {
                if attempts == 1 || pause == MAX_PAUSE {
                    tracing::warn!(%error, subject, "no scheduler answered the registration; retrying");
                }
                pause
            }
            Err(_) => {
                tracing::warn!(subject, "registration not answered in time; retrying");
                pause
            }
        };
        pause = (pause * 2).min(MAX_PAUSE);
        tokio::select! {
            _ = infra.shutdown.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends heartbeats until shutdown.
pub async fn heartbeats(
    infra: Infra,
    identity: Identity,
    accepted: Accepted,
    busy: Arc<Mutex<Option<Busy>>>,
) {
    let subject = infra.names.heartbeat_subject(identity.machine_id);
    let mut ticker = tokio::time::interval(accepted.heartbeat_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = infra.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let beat = Heartbeat {
            machine_id: identity.machine_id,
            worker_id: identity.worker_id,
            version: identity.version.clone(),
            protocol: accepted.protocol,
            device: identity.device.clone(),
            busy: busy.lock().ok().and_then(|b| *b),
            sent_at: Utc::now(),
        };
        let payload = bytes::Bytes::from(serde_json::to_vec(&beat).expect("serialisable"));
        if let Err(error) = infra.client.publish(subject.clone(), payload).await {
            tracing::warn!(%error, "heartbeat not sent");
        }
    }
}

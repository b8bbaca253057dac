//! Revoked sessions and token ids, fed from identity's `SessionRevoked` events. Each verifier
//! follows `<events_root>.identity.session.>` from "now minus the longest token lifetime" (older
//! revocations concern tokens that have expired anyway), so a logged-out token answers 401 in
//! every service moments after the event is stored, without a call to identity per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use trainyard_core::EventEnvelope;
use uuid::Uuid;

/// `event_type` of identity's revocation event; its payload carries at least these fields.
pub const SESSION_REVOKED: &str = "SessionRevoked";

/// The part of a `SessionRevoked` payload verifiers rely on. Identity's event has these fields
/// (and others, ignored here); changing them is a schema change for every service.
#[derive(Debug, Clone, Deserialize)]
pub struct RevocationNotice {
    pub session_id: Uuid,
    /// Access-token ids revoked explicitly (the one presented at logout).
    #[serde(default)]
    pub access_jtis: Vec<Uuid>,
    /// After this instant no token of the session is valid anyway; the entry can be forgotten.
    pub until: DateTime<Utc>,
}

/// Revoked session ids and token ids with the time after which remembering them is pointless.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    entries: Arc<RwLock<HashMap<Uuid, DateTime<Utc>>>>,
}

impl RevocationList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a notice; expired entries are swept at the same time so the map stays small.
    pub fn record(&self, notice: &RevocationNotice) {
        let now = Utc::now();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, until| *until > now);
        for id in std::iter::once(&notice.session_id).chain(&notice.access_jtis) {
            entries.insert(*id, notice.until);
        }
    }

    /// Whether the session `sid` or the token `jti` is revoked.
    pub fn is_revoked(&self, sid: &Uuid, jti: &Uuid) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.contains_key(sid) || entries.contains_key(jti)
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies one stored envelope if it is a revocation.
    pub fn apply(&self, envelope: &EventEnvelope) {
        if envelope.event_type != SESSION_REVOKED {
            return;
        }
        match serde_json::from_value::<RevocationNotice>(envelope.payload.clone()) {
            Ok(notice) => self.record(&notice),
            Err(error) => {
                tracing::error!(%error, event = %envelope.event_id, "unreadable SessionRevoked event")
            }
        }
    }
}

/// Where the revocation feed reads from.
#[derive(Debug, Clone)]
pub struct RevocationFeed {
    /// The events stream (`EVENTS`, or a prefixed one in tests).
    pub stream: String,
    /// Subject root of the events stream (`evt`).
    pub events_root: String,
    /// The longest access-token lifetime: how far back revocations still matter.
    pub lookback: Duration,
}

impl RevocationFeed {
    fn subject(&self) -> String {
        format!("{}.identity.session.>", self.events_root)
    }

    /// Follows revocations into `list` until `shutdown`, resubscribing after failures. An
    /// ordered consumer restarts by itself on gaps, so no notice is skipped.
    pub fn spawn(
        self,
        client: async_nats::Client,
        list: RevocationList,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut since =
                Utc::now() - chrono::Duration::from_std(self.lookback).unwrap_or_default();
            while !shutdown.is_cancelled() {
                match self.follow(&client, &list, since, &shutdown).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::warn!(%error, "revocation feed interrupted; resubscribing")
                    }
                }
                since = Utc::now() - chrono::Duration::from_std(self.lookback).unwrap_or_default();
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        })
    }

    async fn follow(
        &self,
        client: &async_nats::Client,
        list: &RevocationList,
        since: DateTime<Utc>,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let js = async_nats::jetstream::new(client.clone());
        let stream = js.get_stream_no_info(&self.stream).await?;
        let start_time = time::OffsetDateTime::from_unix_timestamp(since.timestamp())?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: self.subject(),
                deliver_policy: DeliverPolicy::ByStartTime { start_time },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = messages.next() => next,
            };
            let Some(message) = message else {
                return Err("revocation subscription ended".into());
            };
            let message = message?;
            match serde_json::from_slice::<EventEnvelope>(&message.payload) {
                Ok(envelope) => list.apply(&envelope),
                Err(error) => {
                    tracing::error!(%error, subject = %message.subject, "undecodable event")
                }
            }
        }
    }
}

//! Revoked sessions and superseded tokens, fed from identity's events. Each verifier follows
//! `<events_root>.identity.>` from "now minus the longest token lifetime" (older events concern
//! tokens that have expired anyway), so a logged-out token answers 401 in every service moments
//! after the event is stored, without a call to identity per request.
//!
//! Two kinds of notice:
//! * `SessionRevoked` ends a session and its tokens ([`RevocationNotice`]);
//! * an event in [`SUPERSEDING_EVENTS`] (an account's roles set, an account blocked or deleted,
//!   a role's rights edited or the role deleted) makes every token computed from an older
//!   version of that account or role stale: a token lists those versions in `ver`, and is
//!   refused once the log holds a superseding event of one of them at a later sequence. The
//!   session lives on, so a refresh (or a new API-key exchange) gets a token with the new rights.
//!   Versions are log sequences, not clocks: "issued before the change" is exact across replicas.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use trainyard_core::StoredEvent;
use trainyard_platform::event_store::codec;
use uuid::Uuid;

use crate::claims::Claims;

/// `event_type` of identity's revocation event; its payload carries at least these fields.
pub const SESSION_REVOKED: &str = "SessionRevoked";

/// Identity's events after which tokens computed from an older version of the aggregate (an
/// account, or a role: its id is the `aggregate_id`) no longer hold. Renaming one of these
/// events is a schema change for every service.
pub const SUPERSEDING_EVENTS: &[&str] = &[
    "UserRolesSet",
    "UserBlocked",
    "UserDeleted",
    "ServiceAccountRolesSet",
    "ServiceAccountDeleted",
    "RoleUpdated",
    "RoleDeleted",
];

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

/// Revoked session ids and token ids with the time after which remembering them is pointless,
/// and for each changed account or role the log sequence of its latest superseding event (one
/// entry per account or role, so the map is bounded by identity's population).
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    entries: Arc<RwLock<HashMap<Uuid, DateTime<Utc>>>>,
    changed: Arc<RwLock<HashMap<Uuid, u64>>>,
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

    /// Records that `id` (an account or a role) changed at log sequence `sequence`.
    pub fn supersede(&self, id: Uuid, sequence: u64) {
        let mut changed = self.changed.write().unwrap_or_else(|p| p.into_inner());
        let latest = changed.entry(id).or_default();
        *latest = (*latest).max(sequence);
    }

    /// Whether a change of the account or of one of the roles `claims` were computed from is
    /// later than the version the token names. A token naming no version of its account counts
    /// as computed from version 0.
    pub fn is_superseded(&self, claims: &Claims) -> bool {
        let changed = self.changed.read().unwrap_or_else(|p| p.into_inner());
        if changed.is_empty() {
            return false;
        }
        let account = claims.sub.0;
        let stale = |id: &Uuid, version: u64| changed.get(id).is_some_and(|at| *at > version);
        stale(&account, claims.ver.get(&account).copied().unwrap_or(0))
            || claims.ver.iter().any(|(id, version)| stale(id, *version))
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies one stored event if it is a revocation or a superseding change.
    pub fn apply(&self, event: &StoredEvent) {
        let envelope = &event.envelope;
        if SUPERSEDING_EVENTS.contains(&envelope.event_type.as_str()) {
            match Uuid::parse_str(&envelope.aggregate_id) {
                Ok(id) => self.supersede(id, event.sequence),
                Err(error) => {
                    tracing::error!(%error, event = %envelope.event_id, "superseding event without a uuid aggregate id")
                }
            }
            return;
        }
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
        format!("{}.identity.>", self.events_root)
    }

    /// Follows revocations and superseding changes into `list` until `shutdown`, resubscribing
    /// after failures. An ordered consumer restarts by itself on gaps, so no notice is skipped.
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
            let sequence = message.info()?.stream_sequence;
            match codec::decode(
                message.subject.as_str(),
                sequence,
                message.headers.as_ref(),
                &message.payload,
            ) {
                Ok(event) => list.apply(&event),
                Err(error) => {
                    tracing::error!(%error, subject = %message.subject, "undecodable event")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use trainyard_core::access::Rights;
    use trainyard_core::{ActorId, ActorKind, TenantId};

    use super::*;

    fn claims(ver: BTreeMap<Uuid, u64>) -> Claims {
        Claims {
            iss: "i".into(),
            sub: ActorId(Uuid::from_u128(1)),
            kind: ActorKind::User,
            tenant: TenantId::new(),
            name: "n".into(),
            admin: false,
            rights: Rights::none(),
            sid: Uuid::now_v7(),
            jti: Uuid::now_v7(),
            iat: 0,
            exp: 0,
            pwd_change: false,
            ver,
        }
    }

    #[test]
    fn a_token_is_superseded_by_later_changes_of_its_account_or_roles_only() {
        let (account, role, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let token = claims(BTreeMap::from([(account, 5), (role, 7)]));
        let list = RevocationList::new();
        list.supersede(other, 100);
        list.supersede(role, 7);
        list.supersede(account, 5);
        assert!(!list.is_superseded(&token), "changes it already reflects");
        list.supersede(role, 8);
        assert!(list.is_superseded(&token), "a later change of a role");
        let fresh = claims(BTreeMap::from([(account, 9), (role, 8)]));
        list.supersede(account, 6);
        assert!(!list.is_superseded(&fresh), "an older notice arriving late");
        assert!(
            list.is_superseded(&claims(BTreeMap::new())),
            "no versions: version 0"
        );
    }
}

//! Reservations: invariants that span aggregates ("a template name is unique in a project",
//! "one process per target machine"). Each key owns a subject in the event log,
//! `<root>.<service>.reservation.<hash of scope and key>`, whose last event says who holds it.
//! Taking or releasing a key is an append with the subject's last sequence as expectation, so of
//! many concurrent claimants exactly one wins; the others see a conflict, re-read, and learn the
//! winner. Because reservations are ordinary events, replay and projections see them too.

use async_nats::jetstream::stream::DirectGetErrorKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trainyard_core::{EventEnvelope, EventId, Metadata};

use super::{AppendError, EventStore, ExpectedVersion, ReadError, ReservationError};

/// Conflicts tolerated before giving up; each one means another claimant moved the key.
const ATTEMPTS: u32 = 8;
const RESERVED: &str = "KeyReserved";
const RELEASED: &str = "KeyReleased";

/// A unique key within a scope of one service, e.g. service `template`, scope
/// `template_name/<project id>`, key `invoice-reader`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationKey {
    pub service: String,
    pub scope: String,
    pub key: String,
}

impl ReservationKey {
    pub fn new(
        service: impl Into<String>,
        scope: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            service: service.into(),
            scope: scope.into(),
            key: key.into(),
        }
    }

    /// Keys may hold any characters (names are Unicode); a hash makes them one subject token.
    fn token(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.scope.as_bytes())
            .chain_update([0])
            .chain_update(self.key.as_bytes())
            .finalize();
        hex::encode(&digest[..16])
    }

    fn aggregate_type(&self) -> String {
        format!("{}.reservation", self.service)
    }

    fn display(&self) -> String {
        format!("{}/{}", self.scope, self.key)
    }
}

/// A key's current holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub owner: String,
    /// Stream sequence of the event that granted it.
    pub sequence: u64,
    /// When it was granted (the claimant's clock), so a holder that never followed up can be
    /// recognised as stale.
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReservationPayload {
    scope: String,
    key: String,
    owner: String,
}

impl EventStore {
    /// Grants `key` to `owner` unless someone else holds it. Reserving a key one already holds
    /// succeeds again (so a retried request is harmless).
    pub async fn reserve(
        &self,
        meta: &Metadata,
        event_id: EventId,
        key: &ReservationKey,
        owner: &str,
    ) -> Result<Reservation, ReservationError> {
        for _ in 0..ATTEMPTS {
            let (holder, last) = self.holder(key).await?;
            match holder {
                Some(held) if held.owner == owner => return Ok(held),
                Some(held) => return Err(taken(key, held.owner)),
                None => {}
            }
            match self
                .record(meta, event_id, key, owner, RESERVED, last)
                .await
            {
                Ok(sequence) => {
                    return Ok(Reservation {
                        owner: owner.to_owned(),
                        sequence,
                        at: meta.occurred_at,
                    })
                }
                Err(AppendError::Conflict { .. }) => continue,
                Err(other) => return Err(ReservationError::Append(other)),
            }
        }
        Err(ReservationError::Contended {
            key: key.display(),
            attempts: ATTEMPTS,
        })
    }

    /// Frees `key` if `owner` holds it.
    pub async fn release(
        &self,
        meta: &Metadata,
        event_id: EventId,
        key: &ReservationKey,
        owner: &str,
    ) -> Result<(), ReservationError> {
        for _ in 0..ATTEMPTS {
            let (holder, last) = self.holder(key).await?;
            if holder.as_ref().is_none_or(|held| held.owner != owner) {
                return Err(ReservationError::NotHeld {
                    key: key.display(),
                    owner: owner.to_owned(),
                });
            }
            match self
                .record(meta, event_id, key, owner, RELEASED, last)
                .await
            {
                Ok(_) => return Ok(()),
                Err(AppendError::Conflict { .. }) => continue,
                Err(other) => return Err(ReservationError::Append(other)),
            }
        }
        Err(ReservationError::Contended {
            key: key.display(),
            attempts: ATTEMPTS,
        })
    }

    /// Who holds `key` now, if anyone.
    pub async fn reservation(
        &self,
        key: &ReservationKey,
    ) -> Result<Option<Reservation>, ReadError> {
        Ok(self.holder(key).await?.0)
    }

    /// The holder and the subject's last sequence (0 when the key was never used).
    async fn holder(&self, key: &ReservationKey) -> Result<(Option<Reservation>, u64), ReadError> {
        let subject = self
            .subject(&key.aggregate_type(), &key.token())
            .map_err(ReadError::Invalid)?;
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| ReadError::infra(subject.clone(), e))?;
        let last = match stream.direct_get_last_for_subject(subject.clone()).await {
            Ok(message) => message,
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => return Ok((None, 0)),
            Err(e) => return Err(ReadError::infra(subject, e)),
        };
        let stored =
            super::codec::decode(&subject, last.sequence, Some(&last.headers), &last.payload)?;
        if stored.envelope.event_type != RESERVED {
            return Ok((None, last.sequence));
        }
        let payload = decode_payload(&stored.envelope, &subject, last.sequence)?;
        Ok((
            Some(Reservation {
                owner: payload.owner,
                sequence: last.sequence,
                at: stored.envelope.occurred_at,
            }),
            last.sequence,
        ))
    }

    async fn record(
        &self,
        meta: &Metadata,
        event_id: EventId,
        key: &ReservationKey,
        owner: &str,
        event_type: &str,
        last: u64,
    ) -> Result<u64, AppendError> {
        let payload = ReservationPayload {
            scope: key.scope.clone(),
            key: key.key.clone(),
            owner: owner.to_owned(),
        };
        let envelope = EventEnvelope {
            envelope_version: trainyard_core::ENVELOPE_SCHEMA_VERSION,
            event_id,
            event_type: event_type.to_owned(),
            schema_version: 1,
            occurred_at: meta.occurred_at,
            tenant_id: meta.tenant_id,
            actor: meta.actor,
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            aggregate_type: key.aggregate_type(),
            aggregate_id: key.token(),
            payload: serde_json::to_value(&payload)
                .map_err(|e| AppendError::Invalid(e.to_string()))?,
        };
        let expected = ExpectedVersion::Sequence(last);
        let appended = self
            .append(&key.aggregate_type(), &key.token(), expected, &[envelope])
            .await?;
        Ok(appended.last_sequence)
    }
}

fn taken(key: &ReservationKey, owner: String) -> ReservationError {
    ReservationError::Taken {
        key: key.display(),
        owner,
    }
}

fn decode_payload(
    envelope: &EventEnvelope,
    subject: &str,
    sequence: u64,
) -> Result<ReservationPayload, ReadError> {
    serde_json::from_value(envelope.payload.clone()).map_err(|e| ReadError::Decode {
        sequence,
        subject: subject.to_owned(),
        reason: format!("reservation payload: {e}"),
    })
}

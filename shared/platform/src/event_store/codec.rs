//! How an event is laid out in a NATS message. The body is the envelope as JSON (the schema in
//! `schemas/envelope.schema.json`), so a message is self-describing without its headers; the
//! headers carry what the server and tools act on: `Nats-Msg-Id` (de-duplication), the event type
//! (for filtering and inspection without parsing), and the W3C trace context.

use async_nats::HeaderMap;
use bytes::Bytes;
use trainyard_core::{EventEnvelope, StoredEvent};

use super::ReadError;
use crate::telemetry::{extract_nats, inject_nats};

pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
pub const EVENT_TYPE_HEADER: &str = "Trainyard-Event-Type";

/// Headers and body of one event message (without concurrency-control or batch headers).
pub fn encode(envelope: &EventEnvelope) -> Result<(HeaderMap, Bytes), serde_json::Error> {
    let body = serde_json::to_vec(envelope)?;
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID_HEADER, envelope.event_id.to_string().as_str());
    headers.insert(EVENT_TYPE_HEADER, envelope.event_type.as_str());
    inject_nats(&mut headers);
    Ok((headers, Bytes::from(body)))
}

/// Turns a stored message back into an event. A `Nats-Msg-Id` that disagrees with the envelope's
/// event id means the message was not written by this store and is refused.
pub fn decode(
    subject: &str,
    sequence: u64,
    headers: Option<&HeaderMap>,
    body: &[u8],
) -> Result<StoredEvent, ReadError> {
    let fail = |reason: String| ReadError::Decode {
        sequence,
        subject: subject.to_owned(),
        reason,
    };
    let envelope: EventEnvelope =
        serde_json::from_slice(body).map_err(|e| fail(format!("body is not an envelope: {e}")))?;
    if let Some(id) = headers.and_then(|h| h.get(MSG_ID_HEADER)) {
        // Parsed rather than formatted: this runs for every replayed event.
        if id.as_str().parse::<uuid::Uuid>().ok() != Some(envelope.event_id.as_uuid()) {
            return Err(fail(format!(
                "{MSG_ID_HEADER} {} differs from event id {}",
                id.as_str(),
                envelope.event_id
            )));
        }
    }
    Ok(StoredEvent {
        sequence,
        subject: subject.to_owned(),
        envelope,
    })
}

/// The trace context a stored event was appended under, for consumers that continue the trace.
pub fn trace_context(headers: Option<&HeaderMap>) -> opentelemetry::Context {
    headers.map(extract_nats).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainyard_core::{Actor, CorrelationId, EventId, TenantId};

    fn envelope() -> EventEnvelope {
        EventEnvelope {
            envelope_version: 1,
            event_id: EventId::new(),
            event_type: "Created".into(),
            schema_version: 1,
            occurred_at: chrono::Utc::now(),
            tenant_id: TenantId::new(),
            actor: Actor::system(),
            correlation_id: CorrelationId::new(),
            causation_id: None,
            aggregate_type: "svc.thing".into(),
            aggregate_id: "a1".into(),
            payload: serde_json::json!({"n": 1}),
        }
    }

    #[test]
    fn round_trips_and_names_the_event_in_headers() {
        let original = envelope();
        let (headers, body) = encode(&original).unwrap();
        assert_eq!(headers.get(EVENT_TYPE_HEADER).unwrap().as_str(), "Created");
        let stored = decode("evt.svc.thing.a1", 7, Some(&headers), &body).unwrap();
        assert_eq!(stored.sequence, 7);
        assert_eq!(stored.envelope, original);
    }

    #[test]
    fn refuses_a_message_whose_id_header_disagrees() {
        let (mut headers, body) = encode(&envelope()).unwrap();
        headers.insert(MSG_ID_HEADER, EventId::new().to_string().as_str());
        let error = decode("evt.svc.thing.a1", 1, Some(&headers), &body).unwrap_err();
        assert!(
            error.to_string().contains("differs from event id"),
            "{error}"
        );
    }

    #[test]
    fn refuses_a_body_that_is_not_an_envelope() {
        let error = decode("evt.x", 3, None, b"{\"n\":1}").unwrap_err();
        assert!(matches!(error, ReadError::Decode { sequence: 3, .. }));
    }
}

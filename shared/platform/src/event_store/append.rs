//! Appending with optimistic concurrency. One event is one JetStream publish carrying
//! `Nats-Expected-Last-Subject-Sequence`; several events of one command are one atomic batch
//! (ADR-50: `Nats-Batch-Id`/`-Sequence`/`-Commit`), which the server stores all together, on
//! consecutive sequences, or not at all, with the expectation checked on the first message.
//! `Nats-Msg-Id` = event id makes a retried append land once: the server acknowledges a repeated
//! single message as a duplicate, but it checks the expectation first (a retry after a lost ack
//! then reads as "wrong last sequence") and refuses a batch holding known ids; in both cases the
//! log is read back, and finding exactly these events right after the expectation is success.

use async_nats::header::{
    NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL, NATS_BATCH_ID, NATS_BATCH_SEQUENCE,
    NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::response::Response;
use async_nats::jetstream::ErrorCode;
use async_nats::HeaderMap;
use bytes::Bytes;
use trainyard_core::EventEnvelope;

use super::{codec, AppendError, AppendResult, EventStore, ExpectedVersion};

impl EventStore {
    /// Appends `envelopes` (the events of one command, all of aggregate `aggregate_id`) if the
    /// aggregate's last stream sequence is still `expected`.
    #[tracing::instrument(name = "event_store.append", skip(self, envelopes), fields(events = envelopes.len()))]
    pub async fn append(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        expected: ExpectedVersion,
        envelopes: &[EventEnvelope],
    ) -> Result<AppendResult, AppendError> {
        let subject = self
            .subject(aggregate_type, aggregate_id)
            .map_err(AppendError::Invalid)?;
        check_envelopes(aggregate_type, aggregate_id, envelopes)?;
        let mut messages = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            messages
                .push(codec::encode(envelope).map_err(|e| AppendError::Invalid(e.to_string()))?);
        }
        if let ExpectedVersion::Sequence(sequence) = expected {
            messages[0]
                .0
                .insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, sequence.to_string());
        }
        let outcome = if messages.len() == 1 {
            self.publish_one(&subject, messages.remove(0)).await
        } else {
            self.publish_batch(&subject, messages).await
        };
        match outcome {
            Ok(result) => Ok(result),
            Err(failure @ (Failure::WrongLastSequence(_) | Failure::KnownIds(_))) => {
                match self.already_stored(&subject, expected, envelopes).await {
                    Ok(Some(result)) => Ok(result),
                    Ok(None) => Err(failure.into_error(subject, expected)),
                    Err(read) => Err(AppendError::Infrastructure {
                        subject,
                        source: read.into(),
                    }),
                }
            }
            Err(failure) => Err(failure.into_error(subject, expected)),
        }
    }

    /// Where `envelopes` already sit in the log as one run, right after the expectation (or
    /// anywhere on the subject without one).
    async fn already_stored(
        &self,
        subject: &str,
        expected: ExpectedVersion,
        envelopes: &[EventEnvelope],
    ) -> Result<Option<AppendResult>, super::ReadError> {
        let from = match expected {
            ExpectedVersion::Sequence(sequence) => sequence + 1,
            ExpectedVersion::Any => 1,
        };
        let stored = self.read_subject_from(subject, from).await?;
        let Some(start) = stored
            .iter()
            .position(|e| e.envelope.event_id == envelopes[0].event_id)
        else {
            return Ok(None);
        };
        let run = &stored[start..];
        let same = run.len() >= envelopes.len()
            && run
                .iter()
                .zip(envelopes)
                .all(|(stored, ours)| stored.envelope.event_id == ours.event_id);
        let in_place = start == 0 || expected == ExpectedVersion::Any;
        Ok((same && in_place).then(|| AppendResult {
            first_sequence: run[0].sequence,
            last_sequence: run[envelopes.len() - 1].sequence,
            duplicate: true,
        }))
    }

    async fn publish_one(
        &self,
        subject: &str,
        (headers, body): (HeaderMap, Bytes),
    ) -> Result<AppendResult, Failure> {
        let publish = PublishMessage::build().headers(headers).payload(body);
        let ack = self
            .js
            .send_publish(subject.to_owned(), publish)
            .await
            .map_err(|e| Failure::Other(e.into()))?
            .await;
        match ack {
            Ok(ack) => Ok(result(&ack, 1)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                Err(Failure::WrongLastSequence(e.to_string()))
            }
            Err(e) => Err(Failure::Other(e.into())),
        }
    }

    /// Publishes all but the last message without waiting (the server answers only the commit,
    /// and answers it with the first error if any message was refused), then commits.
    async fn publish_batch(
        &self,
        subject: &str,
        messages: Vec<(HeaderMap, Bytes)>,
    ) -> Result<AppendResult, Failure> {
        let batch_id = uuid::Uuid::now_v7().simple().to_string();
        let count = messages.len();
        let mut commit = None;
        for (index, (mut headers, body)) in messages.into_iter().enumerate() {
            headers.insert(NATS_BATCH_ID, batch_id.as_str());
            headers.insert(NATS_BATCH_SEQUENCE, (index + 1).to_string());
            if index + 1 == count {
                headers.insert(NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL);
                commit = Some((headers, body));
            } else {
                self.client
                    .publish_with_headers(subject.to_owned(), headers, body)
                    .await
                    .map_err(|e| Failure::Other(e.into()))?;
            }
        }
        let (headers, body) = commit.ok_or_else(|| Failure::Other("empty batch".into()))?;
        let reply = self
            .client
            .request_with_headers(subject.to_owned(), headers, body)
            .await
            .map_err(|e| Failure::Other(e.into()))?;
        let response: Response<PublishAck> =
            serde_json::from_slice(&reply.payload).map_err(|e| Failure::Other(e.into()))?;
        match response {
            Response::Ok(ack) => Ok(result(&ack, count)),
            Response::Err { error }
                if error.error_code() == ErrorCode::STREAM_WRONG_LAST_SEQUENCE =>
            {
                Err(Failure::WrongLastSequence(error.to_string()))
            }
            Response::Err { error }
                if error.error_code() == ErrorCode::ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE =>
            {
                Err(Failure::KnownIds(error.to_string()))
            }
            Response::Err { error } => Err(Failure::Other(error.into())),
        }
    }
}

/// A stored message's ack. A duplicate batch is acknowledged with its last message's sequence.
fn result(ack: &PublishAck, count: usize) -> AppendResult {
    let first = ack.sequence.saturating_sub(count as u64 - 1);
    AppendResult {
        first_sequence: first,
        last_sequence: ack.sequence,
        duplicate: ack.duplicate,
    }
}

enum Failure {
    /// The server's message, e.g. "wrong last sequence: 41".
    WrongLastSequence(String),
    /// A batch carried event ids the log already has.
    KnownIds(String),
    Other(async_nats::Error),
}

impl Failure {
    fn into_error(self, subject: String, expected: ExpectedVersion) -> AppendError {
        match (self, expected) {
            (Failure::WrongLastSequence(message), ExpectedVersion::Sequence(expected)) => {
                AppendError::Conflict {
                    subject,
                    expected,
                    actual: actual_sequence(&message),
                }
            }
            (Failure::WrongLastSequence(message), ExpectedVersion::Any) => {
                AppendError::Infrastructure {
                    subject,
                    source: message.into(),
                }
            }
            (Failure::KnownIds(message), _) => {
                AppendError::Invalid(format!("{subject}: {message}, but not as this append"))
            }
            (Failure::Other(source), _) => AppendError::Infrastructure { subject, source },
        }
    }
}

/// The server names the subject's real last sequence after a colon.
fn actual_sequence(message: &str) -> Option<u64> {
    const MARKER: &str = "wrong last sequence:";
    // The client may repeat the kind before the server's text; the number follows the last one.
    let after = &message[message.rfind(MARKER)? + MARKER.len()..];
    after
        .split_whitespace()
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

fn check_envelopes(
    aggregate_type: &str,
    aggregate_id: &str,
    envelopes: &[EventEnvelope],
) -> Result<(), AppendError> {
    if envelopes.is_empty() {
        return Err(AppendError::Invalid("no events to append".into()));
    }
    match envelopes
        .iter()
        .find(|e| e.aggregate_type != aggregate_type || e.aggregate_id != aggregate_id)
    {
        Some(stray) => Err(AppendError::Invalid(format!(
            "event {} belongs to {}/{}, not {aggregate_type}/{aggregate_id}",
            stray.event_id, stray.aggregate_type, stray.aggregate_id
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::actual_sequence;

    #[test]
    fn reads_the_actual_sequence_from_the_server_message() {
        assert_eq!(
            actual_sequence("wrong last sequence: 41 (code 400, error code 10071)"),
            Some(41)
        );
        assert_eq!(
            actual_sequence("wrong last sequence: wrong last sequence: 7"),
            Some(7)
        );
        assert_eq!(actual_sequence("publish failed"), None);
    }
}

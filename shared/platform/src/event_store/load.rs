//! Reading one subject's events in order with JetStream batched direct get (ADR-31): one request
//! returns up to `BATCH` messages of the subject, so an aggregate with thousands of events loads
//! in a handful of round trips and without creating a consumer.

use std::time::Duration;

use async_nats::{HeaderMap, StatusCode};
use futures::StreamExt;
use trainyard_core::StoredEvent;

use super::{codec, EventStore, ReadError};

/// Messages asked for per direct-get request.
const BATCH: usize = 1024;
/// How long to wait for the next message of a batch before calling the server unresponsive.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const END_OF_BATCH: u16 = 204;
const SEQUENCE_HEADER: &str = "Nats-Sequence";
const SUBJECT_HEADER: &str = "Nats-Subject";

impl EventStore {
    /// Every event stored on `subject`, in log order.
    pub(crate) async fn read_subject(&self, subject: &str) -> Result<Vec<StoredEvent>, ReadError> {
        self.read_subject_from(subject, 1).await
    }

    /// The events stored on `subject` at stream sequence `from` or later, in log order.
    pub(crate) async fn read_subject_from(
        &self,
        subject: &str,
        from: u64,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        let mut events = Vec::new();
        let mut from = from;
        loop {
            let got = self.read_batch(subject, from, &mut events).await?;
            match events.last() {
                Some(last) if got == BATCH => from = last.sequence + 1,
                _ => return Ok(events),
            }
        }
    }

    /// Appends to `out` up to `BATCH` events of `subject` from stream sequence `from`; returns
    /// how many it read.
    async fn read_batch(
        &self,
        subject: &str,
        from: u64,
        out: &mut Vec<StoredEvent>,
    ) -> Result<usize, ReadError> {
        let what = || format!("{subject} from sequence {from}");
        let inbox = self.client.new_inbox();
        let mut replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| ReadError::infra(what(), e))?;
        let request = serde_json::json!({"seq": from, "next_by_subj": subject, "batch": BATCH});
        self.client
            .publish_with_reply(
                self.direct_get_subject.clone(),
                inbox,
                request.to_string().into(),
            )
            .await
            .map_err(|e| ReadError::infra(what(), e))?;
        let mut read = 0;
        loop {
            let message = tokio::time::timeout(REPLY_TIMEOUT, replies.next())
                .await
                .map_err(|e| ReadError::infra(what(), e))?
                .ok_or_else(|| ReadError::infra(what(), "reply subscription closed"))?;
            match message.status {
                // 204 ends a batch; 404: nothing (more) on this subject.
                Some(status) if status == END_OF_BATCH || status == StatusCode::NOT_FOUND => {
                    return Ok(read)
                }
                Some(status) => {
                    let detail = message.description.unwrap_or_default();
                    return Err(ReadError::infra(
                        what(),
                        format!("direct get answered {status} {detail}"),
                    ));
                }
                None => {
                    let headers = message.headers.as_ref();
                    let sequence = header_u64(headers, SEQUENCE_HEADER, &what)?;
                    let stored_subject = headers
                        .and_then(|h| h.get(SUBJECT_HEADER))
                        .map_or(subject, |s| s.as_str());
                    out.push(codec::decode(
                        stored_subject,
                        sequence,
                        headers,
                        &message.payload,
                    )?);
                    read += 1;
                }
            }
        }
    }
}

fn header_u64(
    headers: Option<&HeaderMap>,
    name: &str,
    what: &dyn Fn() -> String,
) -> Result<u64, ReadError> {
    headers
        .and_then(|h| h.get(name))
        .and_then(|v| v.as_str().parse().ok())
        .ok_or_else(|| ReadError::infra(what(), format!("direct get reply without {name}")))
}

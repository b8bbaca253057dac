//! Reading the log as a stream: `subscribe_from` follows a subject pattern from a stream
//! sequence on, live; `replay_all` reads everything stored when it is called and ends. Both use
//! an ordered pull consumer, which the client recreates on a gap, so no event is skipped or seen
//! twice even across reconnects.

use std::pin::Pin;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use futures::{Stream, StreamExt};
use trainyard_core::StoredEvent;

use super::{codec, EventStore, ReadError};

/// Events in log order.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StoredEvent, ReadError>> + Send>>;

impl EventStore {
    /// Events matching `filter` (relative to the events root, e.g. `>` or `template.>`) from
    /// stream sequence `sequence` on (1 = the beginning), then new ones as they are appended.
    pub async fn subscribe_from(
        &self,
        filter: &str,
        sequence: u64,
    ) -> Result<EventStream, ReadError> {
        let pattern = self.subject_pattern(filter);
        let messages = self.ordered(&pattern, sequence).await?;
        Ok(Box::pin(messages))
    }

    /// Every event stored when called, in order; the stream ends after the last one.
    pub async fn replay_all(&self) -> Result<EventStream, ReadError> {
        let mut stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| ReadError::infra("events stream", e))?;
        let last = stream
            .info()
            .await
            .map_err(|e| ReadError::infra("events stream info", e))?
            .state
            .last_sequence;
        if last == 0 {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let messages = Box::pin(self.ordered(&self.subject_pattern(">"), 1).await?);
        // Ends right after the event at `last` (without waiting for a next one that may never
        // come); an error ends it too, after being yielded.
        let bounded =
            futures::stream::unfold((messages, false), move |(mut messages, done)| async move {
                if done {
                    return None;
                }
                let item = messages.next().await?;
                let done = item.as_ref().map_or(true, |event| event.sequence >= last);
                Some((item, (messages, done)))
            });
        Ok(Box::pin(bounded))
    }

    async fn ordered(
        &self,
        pattern: &str,
        sequence: u64,
    ) -> Result<impl Stream<Item = Result<StoredEvent, ReadError>> + Send + 'static, ReadError>
    {
        let what = format!("{pattern} from sequence {sequence}");
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| ReadError::infra(what.clone(), e))?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: pattern.to_owned(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: sequence.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(|e| ReadError::infra(what.clone(), e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| ReadError::infra(what.clone(), e))?;
        Ok(messages.map(move |message| {
            let message = message.map_err(|e| ReadError::infra(what.clone(), e))?;
            let info = message
                .info()
                .map_err(|e| ReadError::infra(what.clone(), e))?;
            codec::decode(
                message.subject.as_str(),
                info.stream_sequence,
                message.headers.as_ref(),
                &message.payload,
            )
        }))
    }
}

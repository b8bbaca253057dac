//! Command execution: load, decide, append with the loaded sequence as the expectation. A lost
//! race is retried by reloading and deciding again, because the command may now produce other
//! events or be refused; after a few lost races the conflict goes back to the caller.
//!
//! Commands on one aggregate from the same process take turns: without that, many requests on
//! a busy aggregate (every template creation records itself on its model type) would mostly
//! lose races to each other and retry, and past saturation retries would crowd out progress.
//! Writers in other processes are still kept apart by the expected sequence.

use trainyard_core::{Aggregate, AggregateState, EventEnvelope, EventId, Metadata, StoredEvent};

use super::{AppendError, EventStore, ExecuteError, ExpectedVersion};

/// Attempts before a conflict is returned to the caller.
pub const EXECUTE_ATTEMPTS: u32 = 5;

impl EventStore {
    /// Handles `command` against aggregate `id` and stores the events it produces.
    ///
    /// `new_event_ids` supplies one id per produced event, in order, so a caller retrying the
    /// whole request (e.g. after a timeout) reuses them and the log de-duplicates. A command that
    /// produces no event succeeds with an empty list and writes nothing.
    #[tracing::instrument(name = "event_store.execute", skip_all, fields(aggregate = %A::aggregate_type(), id = %id))]
    pub async fn execute<A>(
        &self,
        id: &str,
        meta: &Metadata,
        command: A::Command,
        new_event_ids: &[EventId],
    ) -> Result<Vec<StoredEvent>, ExecuteError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let subject = self.subject_unchecked::<A>(id);
        let _turn = self.turn(&subject).lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut loaded = self.load_owned::<A>(&subject, id).await?;
            let outcome = self
                .attempt::<A>(&mut loaded, meta, command.clone(), new_event_ids)
                .await;
            // Whatever happened, the fold is correct up to its sequence: keep it, so the next
            // load (a retry after a lost race included) reads only what came after.
            self.states.put(&subject, loaded);
            match outcome {
                Err(ExecuteError::Append(conflict @ AppendError::Conflict { .. }))
                    if attempt >= EXECUTE_ATTEMPTS =>
                {
                    return Err(ExecuteError::Conflict {
                        attempts: attempt,
                        last: conflict,
                    });
                }
                Err(ExecuteError::Append(AppendError::Conflict { .. })) => {
                    tracing::debug!(attempt, "lost a race; reloading");
                }
                other => return other,
            }
        }
    }

    /// Decides `command` on `loaded` and appends the events with its sequence as the
    /// expectation; a fresh append is folded into `loaded` instead of being read back.
    async fn attempt<A: Aggregate>(
        &self,
        loaded: &mut AggregateState<A>,
        meta: &Metadata,
        command: A::Command,
        new_event_ids: &[EventId],
    ) -> Result<Vec<StoredEvent>, ExecuteError> {
        let events = A::handle(&loaded.state, command).map_err(ExecuteError::Rejected)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let envelopes = wrap::<A>(meta, &loaded.id, &events, new_event_ids)?;
        let expected = ExpectedVersion::Sequence(loaded.last_sequence);
        let appended = self
            .append(&A::aggregate_type(), &loaded.id, expected, &envelopes)
            .await
            .map_err(ExecuteError::Append)?;
        // A duplicate (a retried request) was folded when it was first written, or will be
        // read by the next load.
        if !appended.duplicate {
            for (event, sequence) in events.iter().zip(appended.first_sequence..) {
                loaded.apply(event, sequence);
            }
        }
        let subject = self.subject_unchecked::<A>(&loaded.id);
        Ok(stored(&subject, appended.first_sequence, envelopes))
    }

    fn subject_unchecked<A: Aggregate>(&self, id: &str) -> String {
        format!("{}.{}.{id}", self.root, A::aggregate_type())
    }
}

fn wrap<A: Aggregate>(
    meta: &Metadata,
    id: &str,
    events: &[A::Event],
    ids: &[EventId],
) -> Result<Vec<EventEnvelope>, ExecuteError> {
    if ids.len() < events.len() {
        return Err(ExecuteError::Invalid(format!(
            "{} events produced but only {} event ids supplied",
            events.len(),
            ids.len()
        )));
    }
    events
        .iter()
        .zip(ids)
        .map(|(event, event_id)| {
            EventEnvelope::wrap(meta, *event_id, &A::aggregate_type(), id, event)
                .map_err(|e| ExecuteError::Invalid(format!("event cannot be serialised: {e}")))
        })
        .collect()
}

/// Events of one append occupy consecutive stream sequences (a single message or an atomic
/// batch, which the server stores without interleaving).
fn stored(subject: &str, first_sequence: u64, envelopes: Vec<EventEnvelope>) -> Vec<StoredEvent> {
    envelopes
        .into_iter()
        .zip(first_sequence..)
        .map(|(envelope, sequence)| StoredEvent {
            sequence,
            subject: subject.to_owned(),
            envelope,
        })
        .collect()
}

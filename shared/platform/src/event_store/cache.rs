//! Folded aggregate states kept between loads. The log of a subject only grows, so a state
//! folded up to stream sequence `s`, plus the subject's events after `s`, is exactly the state a
//! full replay gives. Loading a busy aggregate (a model type every template refers to) then costs
//! the events since the last load instead of its whole history; other writers are no problem,
//! since whatever they appended lies after `s`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

use trainyard_core::{Aggregate, AggregateState};

/// Subjects kept; beyond this the cache starts over (loads stay correct, only slower).
const CAPACITY: usize = 4096;

struct Entry {
    state: Box<dyn Any + Send + Sync>,
    last_sequence: u64,
    events: u64,
}

/// A cached state as loaded: with the sequence of its last event and the count of its events.
fn restore<A: Aggregate>(
    id: &str,
    state: A::State,
    last_sequence: u64,
    events: u64,
) -> AggregateState<A> {
    AggregateState {
        id: id.to_owned(),
        state,
        last_sequence,
        events,
    }
}

#[derive(Default)]
pub(crate) struct StateCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map_or(0, |e| e.len());
        f.debug_struct("StateCache")
            .field("subjects", &len)
            .finish()
    }
}

impl StateCache {
    /// The cached fold of `subject`, or an empty state.
    pub(crate) fn get<A: Aggregate>(&self, subject: &str, id: &str) -> AggregateState<A> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let cached = entries.get(subject).and_then(|entry| {
            let state = entry.state.downcast_ref::<A::State>()?.clone();
            Some(restore(id, state, entry.last_sequence, entry.events))
        });
        cached.unwrap_or_else(|| AggregateState::empty(id))
    }

    /// Moves the cached fold out (commands fold further and put it back: no copy of a large
    /// state per command).
    pub(crate) fn take<A: Aggregate>(&self, subject: &str, id: &str) -> AggregateState<A> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let taken = entries.remove(subject).and_then(|entry| {
            let Entry {
                state,
                last_sequence,
                events,
            } = entry;
            let state = *state.downcast::<A::State>().ok()?;
            Some(restore(id, state, last_sequence, events))
        });
        taken.unwrap_or_else(|| AggregateState::empty(id))
    }

    /// Keeps `loaded` unless a fold at least as recent is already kept.
    pub(crate) fn put<A: Aggregate>(&self, subject: &str, loaded: AggregateState<A>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let newer = entries
            .get(subject)
            .is_none_or(|e| e.last_sequence < loaded.last_sequence);
        if !newer || loaded.events == 0 {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(subject) {
            entries.clear();
        }
        entries.insert(
            subject.to_owned(),
            Entry {
                state: Box::new(loaded.state),
                last_sequence: loaded.last_sequence,
                events: loaded.events,
            },
        );
    }
}

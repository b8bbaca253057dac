//! Unique names across aggregates ("a template name is unique in its project"), kept with the
//! event store's reservations. A name is reserved for the id of the thing it names, then the
//! thing is written; on failure the name is given back, and a rename frees the old name only
//! after the new one is stored, so a refused request keeps no name and no name is ever lost.
//!
//! A crash between reserving and writing leaves a reservation whose holder never came to life.
//! [`named`] takes such a reservation over once it is older than [`STALE_AFTER`] (a create may
//! still be in flight before that), and one whose holder was deleted at once. Because the owner
//! is the holder's id, a reservation doubles as a consistent lookup that never lags the way a
//! read model can (`EventStore::reservation`).

use std::future::Future;

use trainyard_core::{Aggregate, EventId, Metadata, Rejection};

use super::CommandError;
use crate::event_store::{EventStore, ReservationError, ReservationKey};

/// A reservation older than this whose holder never came to life is taken over.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// How a taken name is reported: a conflict with this code, on this field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub code: &'static str,
    pub field: &'static str,
    pub message: &'static str,
}

impl Taken {
    fn rejection(&self) -> Rejection {
        Rejection::conflict(self.code, self.message).field(self.field)
    }

    fn error(&self, error: ReservationError) -> CommandError {
        match error {
            ReservationError::Taken { .. } | ReservationError::Contended { .. } => {
                CommandError::Rejected(self.rejection())
            }
            other => CommandError::unavailable(other),
        }
    }
}

/// What became of a reservation's holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Live,
    /// Deleted, but a crash came before its name was released.
    Gone,
    /// Never created: a crash came between reserving and creating, or the create is in flight.
    Never,
}

/// Classifies the holder `id` of a reservation by loading its aggregate `A`.
pub async fn holder<A: Aggregate>(
    store: &EventStore,
    id: &str,
    is_live: fn(&A::State) -> bool,
) -> Result<Holder, CommandError> {
    let loaded = store.load::<A>(id).await?;
    Ok(if loaded.is_new() {
        Holder::Never
    } else if is_live(&loaded.state) {
        Holder::Live
    } else {
        Holder::Gone
    })
}

/// Who changes a name: the store, the command's metadata, the id of the thing named, and how a
/// taken name is reported.
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub store: &'a EventStore,
    pub meta: &'a Metadata,
    pub owner: &'a str,
    pub taken: Taken,
}

impl<'a> Naming<'a> {
    pub fn new(store: &'a EventStore, meta: &'a Metadata, owner: &'a str, taken: Taken) -> Self {
        Self {
            store,
            meta,
            owner,
            taken,
        }
    }

    /// Reserves `key` for the owner, taking a stale reservation over (see the module). Answers
    /// whether this command granted it: `false` when the owner held it already (a restart
    /// seeding a fixed id, a replica that won the race for the same id).
    pub async fn claim<L, LF>(
        &self,
        key: &ReservationKey,
        holder_of: L,
    ) -> Result<bool, CommandError>
    where
        L: Fn(String) -> LF,
        LF: Future<Output = Result<Holder, CommandError>>,
    {
        let (store, meta) = (self.store, self.meta);
        match store.reserve(meta, EventId::new(), key, self.owner).await {
            // A reservation granted now carries this command's time.
            Ok(held) => return Ok(held.at == meta.occurred_at),
            Err(ReservationError::Taken { .. }) => {}
            Err(other) => return Err(self.taken.error(other)),
        }
        let held = store.reservation(key).await?;
        let stale = match &held {
            None => true,
            Some(held) => match holder_of(held.owner.clone()).await? {
                Holder::Live => false,
                Holder::Gone => true,
                Holder::Never => meta.occurred_at - held.at > STALE_AFTER,
            },
        };
        if !stale {
            return Err(CommandError::Rejected(self.taken.rejection()));
        }
        if let Some(held) = held {
            tracing::warn!(key = ?key, holder = %held.owner, "taking over a stale reservation");
            store
                .release(meta, EventId::new(), key, &held.owner)
                .await
                .map_err(|e| self.taken.error(e))?;
        }
        store
            .reserve(meta, EventId::new(), key, self.owner)
            .await
            .map(|_| true)
            .map_err(|e| self.taken.error(e))
    }

    /// Frees `key` if the owner holds it; a key no longer held is fine (a retried request).
    pub async fn free(&self, key: &ReservationKey) -> Result<(), CommandError> {
        free(self.store, self.meta, key, self.owner).await
    }
}

/// Frees `key` held by `owner`; a key that is no longer held is fine (a retried request).
pub async fn free(
    store: &EventStore,
    meta: &Metadata,
    key: &ReservationKey,
    owner: &str,
) -> Result<(), CommandError> {
    match store.release(meta, EventId::new(), key, owner).await {
        Ok(()) | Err(ReservationError::NotHeld { .. }) => Ok(()),
        Err(other) => Err(CommandError::unavailable(other)),
    }
}

/// Stores a thing under the name `to` that had the name `from` (`None` on creation): claims `to`
/// unless it is the same key, runs `write`, then frees `from`; if `write` fails, frees `to`
/// instead (when this call granted it), so a refused request keeps no name. `holder_of`
/// classifies the holder of a taken name (see [`holder`]).
pub async fn named<T, E, L, LF, W>(
    naming: Naming<'_>,
    from: Option<ReservationKey>,
    to: ReservationKey,
    holder_of: L,
    write: W,
) -> Result<T, E>
where
    E: From<CommandError>,
    L: Fn(String) -> LF,
    LF: Future<Output = Result<Holder, CommandError>>,
    W: Future<Output = Result<T, E>>,
{
    let changed = from.as_ref() != Some(&to);
    let granted = changed && naming.claim(&to, holder_of).await?;
    match write.await {
        Ok(value) => {
            if let Some(from) = from.filter(|_| changed) {
                naming.free(&from).await?;
            }
            Ok(value)
        }
        Err(error) => {
            if granted {
                naming.free(&to).await?;
            }
            Err(error)
        }
    }
}

/// [`named`] for the common case: the write is one command on the named aggregate `A` itself,
/// whose live-ness decides whether a reservation it holds is stale.
pub async fn execute_named<A>(
    naming: Naming<'_>,
    from: Option<ReservationKey>,
    to: ReservationKey,
    is_live: fn(&A::State) -> bool,
    command: A::Command,
) -> Result<(), CommandError>
where
    A: Aggregate,
    A::Command: Clone,
{
    let store = naming.store;
    let write = async {
        store
            .execute::<A>(naming.owner, naming.meta, command, &[EventId::new()])
            .await?;
        Ok::<(), CommandError>(())
    };
    let holder_of = |id: String| async move { holder::<A>(store, &id, is_live).await };
    named(naming, from, to, holder_of, write).await
}

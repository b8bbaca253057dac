//! Reservation keys for the template service's uniqueness rules. A key's owner is the id of the
//! holder, so a reservation doubles as a consistent lookup that never lags like a read model.

use trainyard_core::{Aggregate, EventId, Metadata, ProjectId, Rejection, TenantId};
use trainyard_platform::event_store::{EventStore, ReservationError, ReservationKey};
use trainyard_platform::http::ApiError;

const SERVICE: &str = "template";

/// Project names are unique in a tenant, case-insensitively.
pub fn project_name(tenant: TenantId, name: &str) -> ReservationKey {
    ReservationKey::new(
        SERVICE,
        format!("project_name/{tenant}"),
        name.to_lowercase(),
    )
}

/// Model type names are unique installation-wide and case-sensitive (they route inference).
pub fn model_type_name(name: &str) -> ReservationKey {
    ReservationKey::new(SERVICE, "model_type_name", name)
}

/// Base model names are unique installation-wide, case-insensitively.
pub fn base_model_name(name: &str) -> ReservationKey {
    ReservationKey::new(SERVICE, "base_model_name", name.to_lowercase())
}

/// Dataset names are unique in a project, case-insensitively.
pub fn dataset_name(project: ProjectId, name: &str) -> ReservationKey {
    ReservationKey::new(
        SERVICE,
        format!("dataset_name/{project}"),
        name.to_lowercase(),
    )
}

/// Template names are unique in a project, case-insensitively.
pub fn template_name(project: ProjectId, name: &str) -> ReservationKey {
    ReservationKey::new(
        SERVICE,
        format!("template_name/{project}"),
        name.to_lowercase(),
    )
}

/// A reservation older than this whose holder never came to life was left by a crash between
/// "reserve the name" and "create the thing", and may be taken over.
const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// What became of a reservation's holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Live,
    /// Deleted, but a crash came before its name was released.
    Gone,
    /// Never created: a crash came between reserving and creating, or the create is in flight.
    Never,
}

/// Classifies the holder `id` of a reservation by loading its aggregate.
pub async fn holder<A: Aggregate>(
    store: &EventStore,
    id: &str,
    is_live: fn(&A::State) -> bool,
) -> Result<Holder, ApiError> {
    let loaded = store.load::<A>(id).await?;
    Ok(if loaded.is_new() {
        Holder::Never
    } else if is_live(&loaded.state) {
        Holder::Live
    } else {
        Holder::Gone
    })
}

/// Reserves `key` for `owner`. A key whose holder was deleted is taken over at once; one whose
/// holder never came to life is taken over once the reservation is older than a minute (a
/// create may still be in flight before that); a live holder answers 409 with `code` on
/// `field`.
async fn claim<F, Fut>(
    store: &EventStore,
    meta: &Metadata,
    key: &ReservationKey,
    owner: &str,
    taken: (&str, &str, &str),
    is_live: F,
) -> Result<(), ApiError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Holder, ApiError>>,
{
    let (code, field, message) = taken;
    match store.reserve(meta, EventId::new(), key, owner).await {
        Ok(_) => return Ok(()),
        Err(ReservationError::Taken { .. }) => {}
        Err(other) => return Err(ApiError::reservation(other, code, field, message)),
    }
    let held = store.reservation(key).await?;
    let stale = match &held {
        None => true,
        Some(held) => match is_live(held.owner.clone()).await? {
            Holder::Live => false,
            Holder::Gone => true,
            Holder::Never => meta.occurred_at - held.at > STALE_AFTER,
        },
    };
    if !stale {
        return Err(ApiError::Conflict(
            Rejection::conflict(code, message).field(field),
        ));
    }
    if let Some(held) = held {
        tracing::warn!(key = ?key, holder = %held.owner, "taking over a stale reservation");
        store
            .release(meta, EventId::new(), key, &held.owner)
            .await
            .map_err(|e| ApiError::reservation(e, code, field, message))?;
    }
    store
        .reserve(meta, EventId::new(), key, owner)
        .await
        .map(drop)
        .map_err(|e| ApiError::reservation(e, code, field, message))
}

/// Frees `key` held by `owner`; a key that is no longer held is fine (a retried request).
pub async fn free(
    store: &EventStore,
    meta: &Metadata,
    key: &ReservationKey,
    owner: &str,
) -> Result<(), ApiError> {
    match store.release(meta, EventId::new(), key, owner).await {
        Ok(()) | Err(ReservationError::NotHeld { .. }) => Ok(()),
        Err(other) => Err(ApiError::unavailable(other)),
    }
}

/// Who changes names, for [`named`].
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub store: &'a EventStore,
    pub meta: &'a Metadata,
    /// The id of the thing named.
    pub owner: &'a str,
    /// Code, field and message of the 409 when the name is taken.
    pub taken: (&'a str, &'a str, &'a str),
}

impl<'a> Naming<'a> {
    pub fn new(
        store: &'a EventStore,
        meta: &'a Metadata,
        owner: &'a str,
        taken: (&'a str, &'a str, &'a str),
    ) -> Self {
        Self {
            store,
            meta,
            owner,
            taken,
        }
    }
}

/// Stores a thing under the name `to` that had the name `from` (`None` on creation): reserves
/// `to` unless it is the same key, runs `write`, then frees `from`; if `write` fails, frees `to`
/// instead, so a refused request keeps no name.
pub async fn named<T, L, LF, W>(
    naming: Naming<'_>,
    from: Option<ReservationKey>,
    to: ReservationKey,
    is_live: L,
    write: W,
) -> Result<T, ApiError>
where
    L: Fn(String) -> LF,
    LF: std::future::Future<Output = Result<Holder, ApiError>>,
    W: std::future::Future<Output = Result<T, ApiError>>,
{
    let Naming {
        store,
        meta,
        owner,
        taken,
    } = naming;
    let changed = from.as_ref() != Some(&to);
    if changed {
        claim(store, meta, &to, owner, taken, is_live).await?;
    }
    match write.await {
        Ok(value) => {
            if let Some(from) = from.filter(|_| changed) {
                free(store, meta, &from, owner).await?;
            }
            Ok(value)
        }
        Err(error) => {
            if changed {
                free(store, meta, &to, owner).await?;
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
) -> Result<(), ApiError>
where
    A: Aggregate,
    A::Command: Clone,
{
    let store = naming.store;
    let write = async {
        let ids = [EventId::new()];
        store
            .execute::<A>(naming.owner, naming.meta, command, &ids)
            .await?;
        Ok(())
    };
    let holder_of = |id: String| async move { holder::<A>(store, &id, is_live).await };
    named(naming, from, to, holder_of, write).await
}

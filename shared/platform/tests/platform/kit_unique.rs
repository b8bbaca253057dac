//! Unique names through the command layer's `unique::named`: a live holder keeps its name, a
//! refused write gives back a name it reserved (not one its owner held before), a rename frees
//! the old name, and a reservation left by a crash is taken over (at once when its holder was deleted, after `STALE_AFTER` when it never
//! came to life).

use trainyard_core::{Aggregate, EventId};
use trainyard_platform::command::unique::{self, Naming, Taken};
use trainyard_platform::command::CommandError;
use trainyard_platform::event_store::{EventStore, ReservationKey};

use crate::event_store_support::*;

const TAKEN: Taken = Taken {
    code: "counter_name_taken",
    field: "name",
    message: "a counter with this name exists",
};

fn key(name: &str) -> ReservationKey {
    ReservationKey::new("test", "counter_name", name)
}

fn is_live(state: &CounterState) -> bool {
    !state.values.is_empty() && !state.closed
}

/// Creates counter `id` named `name` (one value added).
async fn create(store: &EventStore, id: &str, name: &str) -> Result<(), CommandError> {
    let meta = meta();
    let naming = Naming::new(store, &meta, id, TAKEN);
    unique::execute_named::<Counter>(
        naming,
        None,
        key(name),
        is_live,
        CounterCommand::Add(vec![1]),
    )
    .await
}

async fn holder(store: &EventStore, name: &str) -> Option<String> {
    store
        .reservation(&key(name))
        .await
        .unwrap()
        .map(|r| r.owner)
}

#[tokio::test]
async fn names_are_kept_given_back_and_moved() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "U").await;
    create(&store, "c1", "alpha").await.unwrap();
    let refused = create(&store, "c2", "alpha").await.unwrap_err();
    let rejection = refused.rejection().expect("a rejection");
    assert_eq!(
        (rejection.code.as_str(), rejection.field.as_deref()),
        ("counter_name_taken", Some("name"))
    );
    assert_eq!(holder(&store, "alpha").await.as_deref(), Some("c1"));

    // A write the aggregate refuses (the counter is closed) gives the new name back.
    let meta = meta();
    store
        .execute::<Counter>("c3", &meta, CounterCommand::Close, &[EventId::new()])
        .await
        .unwrap();
    assert!(create(&store, "c3", "beta").await.is_err());
    assert_eq!(holder(&store, "beta").await, None);
    // A name its owner held before the refused write (a restart seeding a fixed id) stays held.
    store
        .reserve(&meta, EventId::new(), &key("delta"), "c3")
        .await
        .unwrap();
    assert!(create(&store, "c3", "delta").await.is_err());
    assert_eq!(holder(&store, "delta").await.as_deref(), Some("c3"));

    // A rename takes the new name and frees the old one.
    let naming = Naming::new(&store, &meta, "c1", TAKEN);
    let write = async { Ok::<_, CommandError>(()) };
    let holder_of = |id: String| {
        let store = store.clone();
        async move { unique::holder::<Counter>(&store, &id, is_live).await }
    };
    unique::named(naming, Some(key("alpha")), key("gamma"), holder_of, write)
        .await
        .unwrap();
    assert_eq!(holder(&store, "alpha").await, None);
    assert_eq!(holder(&store, "gamma").await.as_deref(), Some("c1"));
}

#[tokio::test]
async fn reservations_left_by_crashes_are_taken_over() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "U").await;
    // A holder that never came to life, reserved just now: the create may be in flight.
    let now = meta();
    store
        .reserve(&now, EventId::new(), &key("fresh"), "ghost-1")
        .await
        .unwrap();
    assert!(create(&store, "c1", "fresh").await.is_err());
    // The same, reserved longer ago than the stale window: taken over.
    let mut old = meta();
    old.occurred_at -= unique::STALE_AFTER + chrono::Duration::seconds(5);
    store
        .reserve(&old, EventId::new(), &key("old"), "ghost-2")
        .await
        .unwrap();
    create(&store, "c2", "old").await.unwrap();
    assert_eq!(holder(&store, "old").await.as_deref(), Some("c2"));
    // A holder that was deleted (closed) without giving its name back: taken over at once.
    create(&store, "c3", "gone").await.unwrap();
    store
        .execute::<Counter>("c3", &now, CounterCommand::Close, &[EventId::new()])
        .await
        .unwrap();
    create(&store, "c4", "gone").await.unwrap();
    assert_eq!(holder(&store, "gone").await.as_deref(), Some("c4"));
    assert_eq!(Counter::aggregate_type(), "test.counter");
}

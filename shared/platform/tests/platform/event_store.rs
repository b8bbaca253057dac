//! The event store against a real nats-server: what is appended loads back exactly, in order;
//! expectations are enforced; retries de-duplicate; batches are atomic; commands retry lost
//! races.

use crate::event_store_support::*;
use trainyard_core::{Aggregate, EventId};
use trainyard_platform::event_store::{AppendError, ExecuteError, ExpectedVersion};

#[tokio::test]
async fn load_returns_exactly_what_was_appended_in_order() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let first = store
        .append(
            "test.counter",
            "a",
            ExpectedVersion::NEW,
            &added_many("a", [1]),
        )
        .await
        .unwrap();
    let batch = added_many("a", 2..=4);
    let second = store
        .append(
            "test.counter",
            "a",
            ExpectedVersion::Sequence(first.last_sequence),
            &batch,
        )
        .await
        .unwrap();
    store
        .append(
            "test.counter",
            "b",
            ExpectedVersion::NEW,
            &added_many("b", [99]),
        )
        .await
        .unwrap();
    assert_eq!(
        second.last_sequence - second.first_sequence,
        2,
        "a batch takes consecutive sequences"
    );

    let events = store.load_events("test.counter", "a").await.unwrap();
    assert_eq!(values(&events), [1, 2, 3, 4]);
    assert_eq!(
        events[1..]
            .iter()
            .map(|e| e.envelope.clone())
            .collect::<Vec<_>>(),
        batch
    );
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(events.iter().all(|e| e.subject == "T.evt.test.counter.a"));

    let state = store.load::<Counter>("a").await.unwrap();
    assert_eq!(state.state.values, [1, 2, 3, 4]);
    assert_eq!(
        (state.events, state.last_sequence),
        (4, second.last_sequence)
    );
    assert!(store.load::<Counter>("never").await.unwrap().is_new());
}

#[tokio::test]
async fn loads_an_aggregate_with_thousands_of_events() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let mut last = 0;
    for chunk in (0..3000).collect::<Vec<i64>>().chunks(100) {
        let appended = store
            .append(
                "test.counter",
                "big",
                ExpectedVersion::Sequence(last),
                &added_many("big", chunk.to_vec()),
            )
            .await
            .unwrap();
        last = appended.last_sequence;
    }
    let state = store.load::<Counter>("big").await.unwrap();
    assert_eq!(state.state.values, (0..3000).collect::<Vec<_>>());
    assert_eq!(state.last_sequence, last);
}

#[tokio::test]
async fn a_repeated_load_sees_what_any_writer_appended_since() {
    let server = trainyard_testkit::nats();
    let (reader, writer) = (
        store_on(&server.url(), "T").await,
        store_on(&server.url(), "T").await,
    );
    let first = writer
        .append(
            "test.counter",
            "c",
            ExpectedVersion::NEW,
            &added_many("c", vec![1, 2]),
        )
        .await
        .unwrap();
    assert_eq!(
        reader.load::<Counter>("c").await.unwrap().state.values,
        [1, 2]
    );
    // Another process (its own store, so its own cache) appends; the reader's next load,
    // which starts from its cached fold, must still see everything, in order.
    let second = writer
        .append(
            "test.counter",
            "c",
            ExpectedVersion::Sequence(first.last_sequence),
            &added_many("c", vec![3]),
        )
        .await
        .unwrap();
    let again = reader.load::<Counter>("c").await.unwrap();
    assert_eq!(again.state.values, [1, 2, 3]);
    assert_eq!(
        (again.events, again.last_sequence),
        (3, second.last_sequence)
    );
    let unchanged = reader.load::<Counter>("c").await.unwrap();
    assert_eq!((unchanged.state.values.len(), unchanged.events), (3, 3));
}

#[tokio::test]
async fn a_stale_expectation_is_a_typed_conflict_and_stores_nothing() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    store
        .append(
            "test.counter",
            "a",
            ExpectedVersion::NEW,
            &added_many("a", [1]),
        )
        .await
        .unwrap();
    for batch in [added_many("a", [2]), added_many("a", [2, 3, 4])] {
        let error = store
            .append("test.counter", "a", ExpectedVersion::NEW, &batch)
            .await
            .unwrap_err();
        match error {
            AppendError::Conflict {
                expected: 0,
                actual,
                ..
            } => assert_eq!(actual, Some(1)),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(
        values(&store.load_events("test.counter", "a").await.unwrap()),
        [1]
    );
}

#[tokio::test]
async fn a_retried_append_with_the_same_event_ids_is_stored_once() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let single = added_many("a", [1]);
    let first = store
        .append("test.counter", "a", ExpectedVersion::NEW, &single)
        .await
        .unwrap();
    let retried = store
        .append("test.counter", "a", ExpectedVersion::NEW, &single)
        .await
        .unwrap();
    assert!(retried.duplicate && !first.duplicate);
    assert_eq!(retried.last_sequence, first.last_sequence);

    let batch = added_many("a", [2, 3]);
    let expected = ExpectedVersion::Sequence(first.last_sequence);
    let stored = store
        .append("test.counter", "a", expected, &batch)
        .await
        .unwrap();
    let again = store
        .append("test.counter", "a", expected, &batch)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.last_sequence, stored.last_sequence);
    assert_eq!(
        values(&store.load_events("test.counter", "a").await.unwrap()),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn invalid_appends_are_refused_before_reaching_the_server() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let cases = [
        ("a.b", added_many("a.b", [1])),
        ("a", vec![]),
        ("a", added_many("other", [1])),
    ];
    for (id, envelopes) in cases {
        let error = store
            .append("test.counter", id, ExpectedVersion::Any, &envelopes)
            .await
            .unwrap_err();
        assert!(matches!(error, AppendError::Invalid(_)), "{id}: {error:?}");
    }
}

#[tokio::test]
async fn execute_handles_commands_and_reports_rejections() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let ids: Vec<EventId> = (0..3).map(|_| EventId::new()).collect();
    let stored = store
        .execute::<Counter>("c", &meta(), CounterCommand::Add(vec![5, 6]), &ids)
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|e| e.envelope.event_id)
            .collect::<Vec<_>>(),
        ids[..2]
    );
    assert_eq!(
        stored,
        store
            .load_events(&Counter::aggregate_type(), "c")
            .await
            .unwrap()
    );

    store
        .execute::<Counter>("c", &meta(), CounterCommand::Close, &[EventId::new()])
        .await
        .unwrap();
    let refused = store
        .execute::<Counter>(
            "c",
            &meta(),
            CounterCommand::Add(vec![1]),
            &[EventId::new()],
        )
        .await;
    assert!(matches!(refused, Err(ExecuteError::Rejected(r)) if r.code == "counter_closed"));
    let too_few = store
        .execute::<Counter>(
            "d",
            &meta(),
            CounterCommand::Add(vec![1, 2]),
            &[EventId::new()],
        )
        .await;
    assert!(matches!(too_few, Err(ExecuteError::Invalid(_))));
}

#[tokio::test]
async fn concurrent_executes_all_land_through_conflict_retries() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let tasks: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .execute::<Counter>(
                        "hot",
                        &meta(),
                        CounterCommand::Add(vec![n]),
                        &[EventId::new()],
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut got = store.load::<Counter>("hot").await.unwrap().state.values;
    got.sort();
    assert_eq!(got, [0, 1, 2, 3]);
}

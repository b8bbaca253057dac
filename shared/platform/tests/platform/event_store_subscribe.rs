//! Reading the log as a stream: `subscribe_from` starts exactly at the asked sequence, honours
//! its filter and follows new appends; `replay_all` yields everything stored and ends.

use crate::event_store_support::*;
use futures::StreamExt;
use trainyard_platform::event_store::ExpectedVersion;

#[tokio::test]
async fn subscribe_from_starts_at_the_given_sequence_and_follows_new_events() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let mut sequences = Vec::new();
    for n in 0..5 {
        let id = format!("s{}", n % 2);
        let appended = store
            .append(
                "test.counter",
                &id,
                ExpectedVersion::Any,
                &added_many(&id, [n]),
            )
            .await
            .unwrap();
        sequences.push(appended.last_sequence);
    }
    let mut live = store.subscribe_from(">", sequences[2]).await.unwrap();
    let first_three: Vec<_> = (&mut live).take(3).map(Result::unwrap).collect().await;
    assert_eq!(
        first_three.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        sequences[2..]
    );
    assert_eq!(values(&first_three), [2, 3, 4]);

    store
        .append(
            "test.counter",
            "s9",
            ExpectedVersion::NEW,
            &added_many("s9", [9]),
        )
        .await
        .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(values(&[next]), [9]);

    let only_s1: Vec<_> = store
        .subscribe_from("test.counter.s1", 1)
        .await
        .unwrap()
        .take(2)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(values(&only_s1), [1, 3]);
}

#[tokio::test]
async fn replay_all_yields_every_event_then_ends() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    assert_eq!(store.replay_all().await.unwrap().count().await, 0);
    for id in ["x", "y", "z"] {
        store
            .append(
                "test.counter",
                id,
                ExpectedVersion::NEW,
                &added_many(id, [1, 2]),
            )
            .await
            .unwrap();
    }
    let replayed: Vec<_> = store
        .replay_all()
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(replayed.len(), 6);
    assert_eq!(
        replayed.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
}

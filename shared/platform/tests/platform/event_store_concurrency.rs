//! Many writers racing on one aggregate with the same expectation: per round exactly one wins and
//! the others get a conflict naming the expectation; the log ends up holding exactly the winners'
//! events, in round order, nothing lost or duplicated. Random writer counts, rounds, batch sizes
//! and scheduling delays; one server serves every case.

use std::sync::OnceLock;

use crate::event_store_support::*;
use proptest::prelude::*;
use trainyard_core::EventEnvelope;
use trainyard_platform::event_store::{AppendError, EventStore, ExpectedVersion};
use trainyard_testkit::NatsServer;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn store() -> &'static EventStore {
    static SERVER: OnceLock<NatsServer> = OnceLock::new();
    static STORE: OnceLock<EventStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let server = SERVER.get_or_init(trainyard_testkit::nats);
        runtime().block_on(store_on(&server.url(), "P"))
    })
}

/// One writer's attempt in a round: its events and how long it dawdles before publishing.
#[derive(Debug, Clone)]
struct Attempt {
    events: usize,
    yields: usize,
}

fn rounds() -> impl Strategy<Value = Vec<Vec<Attempt>>> {
    let attempt = (1usize..5, 0usize..20).prop_map(|(events, yields)| Attempt { events, yields });
    prop::collection::vec(prop::collection::vec(attempt, 2..8), 1..5)
}

async fn race(store: &EventStore, id: &str, round: &[Attempt]) -> Vec<EventEnvelope> {
    let expected = store
        .load_events("test.counter", id)
        .await
        .unwrap()
        .last()
        .map_or(0, |e| e.sequence);
    let writers: Vec<_> = round
        .iter()
        .map(|attempt| {
            let (store, id, attempt) = (store.clone(), id.to_owned(), attempt.clone());
            let batch = added_many(&id, (0..attempt.events as i64).collect::<Vec<_>>());
            tokio::spawn(async move {
                for _ in 0..attempt.yields {
                    tokio::task::yield_now().await;
                }
                let outcome = store
                    .append(
                        "test.counter",
                        &id,
                        ExpectedVersion::Sequence(expected),
                        &batch,
                    )
                    .await;
                (outcome, batch)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            (Ok(appended), batch) => {
                assert!(!appended.duplicate);
                winners.push(batch);
            }
            (Err(AppendError::Conflict { expected: e, .. }), _) => assert_eq!(e, expected),
            (Err(other), _) => panic!("unexpected failure {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins a round");
    winners.remove(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn exactly_one_writer_wins_each_round_and_nothing_is_lost_or_duplicated(rounds in rounds()) {
        let store = store();
        let id = uuid::Uuid::now_v7().simple().to_string();
        runtime().block_on(async {
            let mut expected_log = Vec::new();
            for round in &rounds {
                expected_log.extend(race(store, &id, round).await);
            }
            let stored = store.load_events("test.counter", &id).await.unwrap();
            let stored: Vec<_> = stored.into_iter().map(|e| e.envelope).collect();
            assert_eq!(stored, expected_log);
        });
    }
}

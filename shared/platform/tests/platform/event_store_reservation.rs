//! Reservations hold under concurrency: of many parallel claimants of one key exactly one wins,
//! and a released key can be taken by someone else.

use crate::event_store_support::*;
use trainyard_core::EventId;
use trainyard_platform::event_store::{ReservationError, ReservationKey};

#[tokio::test]
async fn of_fifty_parallel_claims_on_one_key_exactly_one_wins() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let key = ReservationKey::new("template", "template_name/project-1", "Счёт-фактура_v1.2");
    let claims: Vec<_> = (0..50)
        .map(|n| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                store
                    .reserve(&meta(), EventId::new(), &key, &format!("owner-{n}"))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for claim in claims {
        match claim.await.unwrap() {
            Ok(reservation) => winners.push(reservation.owner),
            Err(ReservationError::Taken { .. }) => {}
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let holder = store.reservation(&key).await.unwrap().expect("held");
    assert_eq!(holder.owner, winners[0]);
}

#[tokio::test]
async fn reserving_again_is_idempotent_and_release_frees_the_key() {
    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let key = ReservationKey::new("scheduler", "process_per_machine", "machine-7");
    let other_key = ReservationKey::new("scheduler", "process_per_machine", "machine-8");
    let first = store
        .reserve(&meta(), EventId::new(), &key, "p1")
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve(&meta(), EventId::new(), &key, "p1")
            .await
            .unwrap(),
        first
    );
    store
        .reserve(&meta(), EventId::new(), &other_key, "p2")
        .await
        .unwrap();

    let refused = store
        .release(&meta(), EventId::new(), &key, "p2")
        .await
        .unwrap_err();
    assert!(matches!(refused, ReservationError::NotHeld { .. }));
    let taken = store
        .reserve(&meta(), EventId::new(), &key, "p2")
        .await
        .unwrap_err();
    assert!(matches!(taken, ReservationError::Taken { ref owner, .. } if owner == "p1"));

    store
        .release(&meta(), EventId::new(), &key, "p1")
        .await
        .unwrap();
    assert_eq!(store.reservation(&key).await.unwrap(), None);
    assert_eq!(
        store
            .reserve(&meta(), EventId::new(), &key, "p2")
            .await
            .unwrap()
            .owner,
        "p2"
    );
    assert_eq!(
        store.reservation(&other_key).await.unwrap().unwrap().owner,
        "p2"
    );
}

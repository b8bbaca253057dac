//! Durable work consumers run by the service kit, on real NATS and PostgreSQL: a message is
//! acknowledged only once its handler is done, a retried one comes back after its back-off, a
//! poison one (parked, or a panicking handler) is parked with its reason and not delivered again,
//! at most `concurrency` messages are in hand, and a shutdown hands unfinished messages back to
//! the next instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard_core::Aggregate;
use trainyard_platform::config::CommonConfig;
use trainyard_platform::event_store::ExpectedVersion;
use trainyard_platform::service::{Builder, Guard, Infra, Parts};
use trainyard_platform::work::{self, Backoff, Delivery, Outcome, WorkConsumer, WorkHandler};
use trainyard_testkit::{wait_until, NatsServer, TestDatabase};
use utoipa_axum::router::OpenApiRouter;

use crate::event_store_support::*;

const WAIT: Duration = Duration::from_secs(30);

struct Open;

impl Guard for Open {
    fn start(&self, _: &Infra, _: &CancellationToken) -> Vec<JoinHandle<()>> {
        Vec::new()
    }
    fn protect(&self, api: Router) -> Router {
        api
    }
}

async fn infra() -> (NatsServer, TestDatabase, Infra) {
    let (nats, db) = (
        trainyard_testkit::nats(),
        trainyard_testkit::postgres_db().await,
    );
    let mut config = CommonConfig::default();
    config.nats.url = nats.url();
    config.postgres.url = db.url();
    let infra = Infra::connect(&config, "work-test").await.expect("infra");
    (nats, db, infra)
}

fn consumer(infra: &Infra, concurrency: usize) -> WorkConsumer {
    let subject = infra
        .store()
        .subject_pattern(&format!("{}.>", Counter::aggregate_type()));
    let mut consumer = WorkConsumer::new("test_work", &infra.names().events, vec![subject]);
    consumer.concurrency = concurrency;
    consumer.backoff = Backoff {
        first: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    consumer.grace = Duration::from_millis(100);
    consumer
}

async fn publish(infra: &Infra, values: impl IntoIterator<Item = i64>) {
    for n in values {
        infra
            .store()
            .append(
                "test.counter",
                &format!("c{n}"),
                ExpectedVersion::NEW,
                &[added(&format!("c{n}"), n)],
            )
            .await
            .expect("append");
    }
}

async fn start(infra: &Infra, consumer: WorkConsumer, handler: impl WorkHandler) -> Parts {
    let mut builder = Builder::new(infra, "test");
    builder
        .work(consumer, handler)
        .await
        .expect("work consumer");
    builder.api(OpenApiRouter::<()>::new(), (), &Open)
}

async fn stop(parts: Parts) {
    parts.shutdown.cancel();
    for task in parts.tasks {
        task.await.unwrap();
    }
}

fn value(delivery: &Delivery) -> i64 {
    values(&[delivery.event().expect("an event")])[0]
}

/// `1`: done; `2`: retried once, then done; `3`: parked; `4`: the handler panics.
#[derive(Default)]
struct Scripted {
    deliveries: Mutex<HashMap<i64, u64>>,
}

impl WorkHandler for Scripted {
    async fn handle(&self, delivery: &Delivery) -> Outcome {
        let n = value(delivery);
        *self.deliveries.lock().unwrap().entry(n).or_default() += 1;
        match n {
            2 if delivery.delivered() == 1 => Outcome::Retry(anyhow::anyhow!("not yet")),
            3 => Outcome::Park(format!("counter {n} is poison")),
            4 => panic!("counter {n} breaks the handler"),
            _ => Outcome::Done,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_settle_messages() {
    let (_nats, _db, infra) = infra().await;
    publish(&infra, 1..=4).await;
    let handler = Arc::new(Scripted::default());
    let parts = start(&infra, consumer(&infra, 2), handler.clone()).await;
    let consumer_info = || async {
        let stream = infra.js().get_stream(&infra.names().events).await.unwrap();
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("test_work").await.unwrap();
        consumer.info().await.unwrap().clone()
    };
    wait_until(WAIT, "every message settled", || async {
        let info = consumer_info().await;
        info.num_ack_pending == 0 && info.num_pending == 0 && info.ack_floor.stream_sequence == 4
    })
    .await;
    let deliveries = handler.deliveries.lock().unwrap().clone();
    assert_eq!(deliveries, HashMap::from([(1, 1), (2, 2), (3, 1), (4, 1)]));
    let parked = work::parked(infra.pool(), "test_work").await.unwrap();
    let reasons: Vec<(u64, &str)> = parked
        .iter()
        .map(|p| (p.stream_sequence, p.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (3, "counter 3 is poison"),
            (4, "the handler panicked: counter 4 breaks the handler")
        ]
    );
    assert_eq!(parked[0].subject, "evt.test.counter.c3");
    stop(parts).await;
}

/// Holds every message until released; counts how many it holds at once.
#[derive(Default)]
struct Holding {
    in_hand: AtomicUsize,
    most: AtomicUsize,
    release: tokio::sync::Notify,
    done: Mutex<Vec<i64>>,
}

impl WorkHandler for Holding {
    async fn handle(&self, delivery: &Delivery) -> Outcome {
        let now = self.in_hand.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.release.notified().await;
        self.in_hand.fetch_sub(1, Ordering::SeqCst);
        self.done.lock().unwrap().push(value(delivery));
        Outcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_a_shutdown_hands_work_back() {
    let (_nats, _db, infra) = infra().await;
    publish(&infra, 1..=5).await;
    let first = Arc::new(Holding::default());
    let parts = start(&infra, consumer(&infra, 2), first.clone()).await;
    wait_until(WAIT, "two messages in hand", || async {
        first.in_hand.load(Ordering::SeqCst) == 2
    })
    .await;
    // Nothing is released: the shutdown's grace runs out and both are handed back.
    stop(parts).await;
    assert_eq!(first.most.load(Ordering::SeqCst), 2);
    assert!(first.done.lock().unwrap().is_empty());

    let second = Arc::new(Holding::default());
    let parts = start(&infra, consumer(&infra, 2), second.clone()).await;
    wait_until(
        WAIT,
        "every message handled by the next instance",
        || async {
            second.release.notify_waiters();
            second.done.lock().unwrap().len() == 5
        },
    )
    .await;
    assert!(second.most.load(Ordering::SeqCst) <= 2);
    let mut done = second.done.lock().unwrap().clone();
    done.sort_unstable();
    assert_eq!(done, [1, 2, 3, 4, 5]);
    stop(parts).await;
}

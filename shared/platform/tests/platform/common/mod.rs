//! Shared set-up of the projection and readiness tests: a real nats-server with the `EVENTS`
//! stream, a fresh PostgreSQL database, and helpers to run a projection until it reaches a
//! checkpoint and to read its rows.

#![allow(dead_code)]

pub mod ledger;

use std::time::Duration;

use async_nats::jetstream;
use deadpool_postgres::Pool;
use trainyard_platform::projection::{
    Projection, ProjectionError, ProjectionRunner, RunnerOptions,
};
use trainyard_testkit::{NatsServer, TestDatabase};

pub const WAIT: Duration = Duration::from_secs(60);

pub struct Env {
    pub nats: NatsServer,
    pub db: TestDatabase,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub pool: Pool,
}

pub async fn env() -> Env {
    let nats = trainyard_testkit::nats();
    let db = trainyard_testkit::postgres_db().await;
    let client = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let js = jetstream::new(client.clone());
    ledger::create_events_stream(&js).await;
    let pool =
        trainyard_platform::postgres::pool(&db.url(), 8, Duration::from_secs(5)).expect("pool");
    Env {
        nats,
        db,
        client,
        js,
        pool,
    }
}

/// Options that make tests quick: small batches, short idle pulls.
pub fn quick_options() -> RunnerOptions {
    RunnerOptions {
        batch_size: 100,
        idle_wait: Duration::from_millis(200),
        retry_after: Duration::from_millis(100),
        lock_poll: Duration::from_millis(100),
        ..RunnerOptions::default()
    }
}

/// Runs `projection` until its checkpoint reaches `target`, then stops it cleanly.
pub async fn run_until<P: Projection>(
    env: &Env,
    projection: P,
    options: RunnerOptions,
    target: u64,
) {
    let runner = ProjectionRunner::new(projection, env.pool.clone(), env.js.clone(), options)
        .expect("runner");
    let mut checkpoints = runner.checkpoints();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    tokio::time::timeout(WAIT, checkpoints.wait_for(|c| *c >= target))
        .await
        .expect("projection reached its target in time")
        .expect("runner alive");
    shutdown.cancel();
    task.await
        .expect("runner task")
        .expect("runner stopped cleanly");
}

/// Runs a runner that is expected to stop at an injected fault.
pub async fn run_until_fault<P: Projection>(
    env: &Env,
    projection: P,
    options: RunnerOptions,
) -> ProjectionError {
    let runner = ProjectionRunner::new(projection, env.pool.clone(), env.js.clone(), options)
        .expect("runner");
    let outcome =
        tokio::time::timeout(WAIT, runner.run(tokio_util::sync::CancellationToken::new()))
            .await
            .expect("runner reached the fault in time");
    outcome.expect_err("the injected fault stops the runner")
}

/// Every row of a ledger schema, in a canonical order.
pub async fn rows(pool: &Pool, schema: &str) -> (Vec<(i64, String, i64)>, Vec<(String, i64, i64)>) {
    let client = pool.get().await.expect("connection");
    let log = client
        .query(
            &format!("SELECT seq, account, amount FROM {schema}.event_log ORDER BY seq, account"),
            &[],
        )
        .await
        .expect("event log")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let tallies = client
        .query(
            &format!("SELECT account, events, total FROM {schema}.tallies ORDER BY account"),
            &[],
        )
        .await
        .expect("tallies")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    (log, tallies)
}

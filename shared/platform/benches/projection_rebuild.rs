//! Rebuild speed of a projection: publishes `BENCH_EVENTS` events (default 1,000,000) into a real
//! JetStream `EVENTS` stream, then times, `BENCH_RUNS` times (default 3), a full rebuild (drop
//! schema, migrate, replay every event into PostgreSQL with batched writes) and, for reference,
//! a raw ordered-consumer read of the same events. Prints a Markdown table of medians.
//!
//! `cargo bench -p trainyard-platform --bench projection_rebuild`

#[path = "../tests/platform/common/ledger.rs"]
mod ledger;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
use futures::StreamExt;
use ledger::{create_events_stream, publish, Ledger};
use tokio_util::sync::CancellationToken;
use trainyard_platform::projection::{ProjectionRunner, RunnerOptions};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Reads every event once through an ordered consumer: the transport's ceiling.
async fn raw_read(js: &jetstream::Context, events: u64) -> Duration {
    let stream = js.get_stream("EVENTS").await.expect("stream");
    let started = Instant::now();
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: "evt.bank.account.>".into(),
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut read = 0;
    while read < events {
        messages
            .next()
            .await
            .expect("stream open")
            .expect("message");
        read += 1;
    }
    started.elapsed()
}

/// Drops the read model and replays the whole log into it.
async fn rebuild(
    js: &jetstream::Context,
    pool: &deadpool_postgres::Pool,
    events: u64,
    batch: usize,
) -> Duration {
    let options = RunnerOptions {
        batch_size: batch,
        idle_wait: Duration::from_millis(200),
        ..RunnerOptions::default()
    };
    let runner = ProjectionRunner::new(
        Ledger::new("ledger", "ledger"),
        pool.clone(),
        js.clone(),
        options,
    )
    .expect("runner");
    let started = Instant::now();
    runner.rebuild().await.expect("rebuild");
    let mut checkpoints = runner.checkpoints();
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    checkpoints
        .wait_for(|c| *c >= events)
        .await
        .expect("runner alive");
    let elapsed = started.elapsed();
    shutdown.cancel();
    task.await.expect("runner task").expect("runner");
    let client = pool.get().await.expect("connection");
    let rows: i64 = client
        .query_one("SELECT count(*) FROM ledger.event_log", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows as u64, events, "every event applied exactly once");
    elapsed
}

#[tokio::main]
async fn main() {
    let events = env_or("BENCH_EVENTS", 1_000_000);
    let runs = env_or("BENCH_RUNS", 3).max(1);
    let batch = env_or("BENCH_BATCH", 5000) as usize;
    let nats = trainyard_testkit::nats();
    let db = trainyard_testkit::postgres_db().await;
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client);
    create_events_stream(&js).await;
    let pool =
        trainyard_platform::postgres::pool(&db.url(), 4, Duration::from_secs(10)).expect("pool");

    let started = Instant::now();
    publish(&js, 0, events, 1000, 4096).await;
    let publish_secs = started.elapsed().as_secs_f64();
    eprintln!("published {events} events in {publish_secs:.1} s");

    let mut rebuilds = Vec::new();
    let mut reads = Vec::new();
    for run in 1..=runs {
        let r = rebuild(&js, &pool, events, batch).await.as_secs_f64();
        let raw = raw_read(&js, events).await.as_secs_f64();
        eprintln!("run {run}: rebuild {r:.2} s, raw read {raw:.2} s");
        rebuilds.push(r);
        reads.push(raw);
    }
    let (rebuild_s, read_s) = (median(rebuilds.clone()), median(reads.clone()));
    let rebuild_rate = events as f64 / rebuild_s;
    let read_rate = events as f64 / read_s;
    let list = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("| events | batch | runs | rebuild median (s) | rebuild runs (s) | rebuild events/s | raw read median (s) | raw read events/s | rebuild / raw read |");
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    println!(
        "| {events} | {batch} | {runs} | {rebuild_s:.2} | {} | {rebuild_rate:.0} | {read_s:.2} | {read_rate:.0} | {:.2} |",
        list(&rebuilds),
        rebuild_rate / read_rate
    );
    println!("publish of {events} events (async, 4096 acks in flight): {publish_secs:.1} s");
}

//! Event store throughput and latency against raw JetStream in the same run, on a nats-server the
//! testkit starts. Each append case has a like-for-like raw baseline (the headline ratio): across
//! aggregates, pipelined publishes; on one aggregate, where every append waits for the previous
//! ack, publishes that each wait for their ack, and for atomic batches raw atomic batches of the
//! same size one after another. Pipelined raw publishing (1,000 in flight) is shown beside them
//! as the transport's ceiling. Each figure is the median of `RUNS` runs (env
//! `TRAINYARD_BENCH_RUNS`, at least 5), the per-run ratios are printed too; ours and raw alternate
//! within each run so drift hits both. Prints markdown tables.
//!
//! `cargo bench -p trainyard-platform --bench event_store`

use std::time::{Duration, Instant};

use async_nats::header::{
    NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL, NATS_BATCH_ID, NATS_BATCH_SEQUENCE,
};
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::Context;
use futures::{stream, StreamExt};
use trainyard_core::{Actor, CorrelationId, EventEnvelope, EventId, Metadata, TenantId};
use trainyard_platform::event_store::{EventStore, ExpectedVersion};
use trainyard_platform::streams::{ensure_streams, StreamNames, StreamSettings};

const EVENTS: usize = 20_000;
const AGGREGATES: usize = 1_000;
const IN_FLIGHT: usize = 1_000;
const REPLAY_EVENTS: usize = 50_000;
const LATENCY_SAMPLES: usize = 2_000;
const TYPE: &str = "bench.thing";

struct Bench {
    client: async_nats::Client,
    js: Context,
    meta: Metadata,
    runs: usize,
    prefixes: usize,
}

impl Bench {
    /// A fresh stream layout so every measurement starts from the same empty log.
    async fn fresh(&mut self) -> (EventStore, StreamNames) {
        self.prefixes += 1;
        let names = StreamNames::with_prefix(&format!("B{}", self.prefixes));
        ensure_streams(&self.js, &names, &StreamSettings::default())
            .await
            .expect("streams");
        (EventStore::new(self.client.clone(), &names), names)
    }

    /// An event whose stored body is about 1 KiB.
    fn envelope(&self, id: &str) -> EventEnvelope {
        let payload = serde_json::json!({ "note": "x".repeat(640), "n": 1 });
        EventEnvelope {
            envelope_version: 1,
            event_id: EventId::new(),
            event_type: "ThingHappened".into(),
            schema_version: 1,
            occurred_at: self.meta.occurred_at,
            tenant_id: self.meta.tenant_id,
            actor: self.meta.actor,
            correlation_id: self.meta.correlation_id,
            causation_id: None,
            aggregate_type: TYPE.into(),
            aggregate_id: id.into(),
            payload,
        }
    }

    fn body(&self) -> bytes::Bytes {
        serde_json::to_vec(&self.envelope("raw"))
            .expect("json")
            .into()
    }
}

/// Events per second for `events` events taking `elapsed`.
fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

/// Ours: each aggregate appends its events one after another (each waits for the previous ack,
/// whose sequence is the next expectation); aggregates run concurrently.
async fn ours_many(b: &mut Bench, aggregates: usize, per_append: usize) -> f64 {
    let (store, _) = b.fresh().await;
    let per_aggregate = EVENTS / aggregates / per_append;
    let batches: Vec<Vec<Vec<EventEnvelope>>> = (0..aggregates)
        .map(|a| {
            (0..per_aggregate)
                .map(|_| {
                    (0..per_append)
                        .map(|_| b.envelope(&format!("a{a}")))
                        .collect()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    stream::iter(batches.into_iter().enumerate())
        .for_each_concurrent(IN_FLIGHT, |(a, batches)| {
            let store = store.clone();
            async move {
                let mut last = 0;
                for batch in batches {
                    let id = format!("a{a}");
                    let done = store
                        .append(TYPE, &id, ExpectedVersion::Sequence(last), &batch)
                        .await
                        .expect("append");
                    last = done.last_sequence;
                }
            }
        })
        .await;
    rate(aggregates * per_aggregate * per_append, started.elapsed())
}

/// Raw: publish every message without headers, many acks in flight, then await them all.
async fn raw_publish(b: &mut Bench, aggregates: usize) -> f64 {
    let (_, names) = b.fresh().await;
    let body = b.body();
    let js = b.js.clone();
    let started = Instant::now();
    stream::iter(0..EVENTS)
        .map(|n| {
            let (js, body) = (js.clone(), body.clone());
            let subject = format!("{}.{TYPE}.a{}", names.events_root, n % aggregates);
            async move { js.publish(subject, body).await.expect("publish") }
        })
        .buffered(IN_FLIGHT)
        .for_each_concurrent(IN_FLIGHT, |ack| async move {
            ack.await.expect("ack");
        })
        .await;
    rate(EVENTS, started.elapsed())
}

/// Raw on one subject, one append's worth at a time: a publish awaiting its ack, or (for
/// `per_append` > 1) an atomic batch of that many messages awaiting its commit's answer.
async fn raw_sequential(b: &mut Bench, per_append: usize) -> f64 {
    let (_, names) = b.fresh().await;
    let body = b.body();
    let subject = format!("{}.{TYPE}.a0", names.events_root);
    let started = Instant::now();
    for n in 0..EVENTS / per_append {
        if per_append == 1 {
            b.js.publish(subject.clone(), body.clone())
                .await
                .expect("publish")
                .await
                .expect("ack");
            continue;
        }
        let id = format!("raw{n}");
        for i in 1..=per_append {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(NATS_BATCH_ID, id.as_str());
            headers.insert(NATS_BATCH_SEQUENCE, i.to_string());
            if i < per_append {
                b.client
                    .publish_with_headers(subject.clone(), headers, body.clone())
                    .await
                    .expect("publish");
            } else {
                headers.insert(NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL);
                let reply = b
                    .client
                    .request_with_headers(subject.clone(), headers, body.clone())
                    .await
                    .expect("commit");
                let answer: serde_json::Value =
                    serde_json::from_slice(&reply.payload).expect("commit answer");
                assert!(answer.get("error").is_none(), "batch refused: {answer}");
            }
        }
    }
    rate(EVENTS / per_append * per_append, started.elapsed())
}

async fn ours_replay(store: &EventStore) -> f64 {
    let started = Instant::now();
    let count = store
        .replay_all()
        .await
        .expect("replay")
        .map(|e| e.expect("event"))
        .count()
        .await;
    assert_eq!(count, REPLAY_EVENTS);
    rate(count, started.elapsed())
}

async fn raw_replay(js: &Context, names: &StreamNames) -> f64 {
    let started = Instant::now();
    let stream = js.get_stream(&names.events).await.expect("stream");
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut count = 0;
    while let Some(message) = messages.next().await {
        let message = message.expect("message");
        count += 1;
        if message.info().expect("info").pending == 0 {
            break;
        }
    }
    assert_eq!(count, REPLAY_EVENTS);
    rate(count, started.elapsed())
}

/// Fills a log for replay with `REPLAY_EVENTS` events over `AGGREGATES` aggregates.
async fn replay_log(b: &mut Bench) -> (EventStore, StreamNames) {
    let (store, names) = b.fresh().await;
    let envelopes: Vec<EventEnvelope> = (0..REPLAY_EVENTS)
        .map(|n| b.envelope(&format!("a{}", n % AGGREGATES)))
        .collect();
    stream::iter(envelopes)
        .for_each_concurrent(IN_FLIGHT, |envelope| {
            let store = store.clone();
            async move {
                let id = envelope.aggregate_id.clone();
                store
                    .append(TYPE, &id, ExpectedVersion::Any, &[envelope])
                    .await
                    .expect("append");
            }
        })
        .await;
    (store, names)
}

/// p50 and p99 of sequential single-event appends (ours) and publishes (raw), in microseconds.
async fn latency(b: &mut Bench) -> [(f64, f64); 2] {
    let (store, names) = b.fresh().await;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    let mut last = 0;
    let body = b.body();
    for _ in 0..LATENCY_SAMPLES {
        let envelope = b.envelope("lat");
        let started = Instant::now();
        last = store
            .append(TYPE, "lat", ExpectedVersion::Sequence(last), &[envelope])
            .await
            .expect("append")
            .last_sequence;
        ours.push(started.elapsed());
        let started = Instant::now();
        let subject = format!("{}.{TYPE}.raw", names.events_root);
        b.js.publish(subject, body.clone())
            .await
            .expect("publish")
            .await
            .expect("ack");
        raw.push(started.elapsed());
    }
    [percentiles(ours), percentiles(raw)]
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let runs = std::env::var("TRAINYARD_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(5);
    let server = trainyard_testkit::nats();
    let client = async_nats::connect(server.url()).await.expect("connect");
    let meta = Metadata {
        tenant_id: TenantId::new(),
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: chrono::Utc::now(),
    };
    let js = async_nats::jetstream::new(client.clone());
    let mut b = Bench {
        client,
        js,
        meta,
        runs,
        prefixes: 0,
    };

    let cases: [(&str, usize, usize); 4] = [
        ("append, 1,000 aggregates, 1 event/append", AGGREGATES, 1),
        ("append, 1 aggregate, 1 event/append", 1, 1),
        (
            "append, 1 aggregate, 10 events/append (atomic batch)",
            1,
            10,
        ),
        (
            "append, 1 aggregate, 100 events/append (atomic batch)",
            1,
            100,
        ),
    ];
    println!("load average at start: {}", load_average());
    println!();
    println!("| benchmark | ours (events/s) | raw, like for like (events/s) | ratio | raw, 1,000 in flight (events/s) | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut per_run = Vec::new();
    for (label, aggregates, per_append) in cases {
        let (mut ours, mut like, mut piped) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..b.runs {
            ours.push(ours_many(&mut b, aggregates, per_append).await);
            piped.push(raw_publish(&mut b, aggregates).await);
            if aggregates > 1 {
                like.push(*piped.last().expect("a run"));
            } else {
                like.push(raw_sequential(&mut b, per_append).await);
            }
        }
        let ratios: Vec<f64> = ours.iter().zip(&like).map(|(o, r)| o / r).collect();
        let (o, l, p) = (median(ours), median(like), median(piped));
        println!(
            "| {label} | {o:.0} | {l:.0} | {:.2} | {p:.0} | {:.2} |",
            o / l,
            o / p
        );
        per_run.push((label, ratios));
    }
    println!();
    for (label, ratios) in per_run {
        let list: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!("like-for-like ratio per run, {label}: {}", list.join(", "));
    }
    println!();
    println!("| benchmark | ours (events/s) | raw JetStream (events/s) | ratio |");
    println!("|---|---:|---:|---:|");

    let (store, names) = replay_log(&mut b).await;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..b.runs {
        ours.push(ours_replay(&store).await);
        raw.push(raw_replay(&b.js, &names).await);
    }
    row(
        "replay_all into StoredEvent vs ordered consumer, 50,000 events",
        median(ours),
        median(raw),
    );

    let mut samples = Vec::new();
    for _ in 0..b.runs {
        samples.push(latency(&mut b).await);
    }
    let pick = |side: usize, p99: bool| {
        median(
            samples
                .iter()
                .map(|s| if p99 { s[side].1 } else { s[side].0 })
                .collect(),
        )
    };
    println!();
    println!("| sequential single-event append latency | p50 (µs) | p99 (µs) |");
    println!("|---|---:|---:|");
    println!(
        "| ours (expected sequence, msg id, trace headers) | {:.0} | {:.0} |",
        pick(0, false),
        pick(0, true)
    );
    println!(
        "| raw JetStream publish + ack | {:.0} | {:.0} |",
        pick(1, false),
        pick(1, true)
    );
    println!();
    println!(
        "medians of {} runs; nats-server {}; load average at end: {}",
        b.runs,
        b.client.server_info().version,
        load_average()
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn row(label: &str, ours: f64, raw: f64) {
    println!("| {label} | {ours:.0} | {raw:.0} | {:.2} |", ours / raw);
}

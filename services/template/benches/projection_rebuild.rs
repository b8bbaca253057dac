//! Rebuild of the template service's read model (schema `template`, the service's own
//! `TemplateProjection` run by the platform's `ProjectionRunner`) from a log shaped like the
//! service's: `BENCH_PROJECTS` projects (default 100), each with `BENCH_TEMPLATES` training
//! templates (default 200) created and then edited `BENCH_EDITS` times (default 9), and every
//! tenth template pinned and unpinned by a process. The events go into a real JetStream `EVENTS`
//! stream through the event store; each run then drops the schema, migrates it and replays the
//! whole log into PostgreSQL, and, in the same binary, an ordered consumer reads the same events
//! raw (no decoding, no database) for reference. `BENCH_RUNS` (default 3) runs; each is printed,
//! then the medians. Each rebuild is checked: every template and every version has its row.
//!
//! `cargo bench -p trainyard-template --bench projection_rebuild --profile dev`

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trainyard_core::{
    Actor, Aggregate, CorrelationId, EventEnvelope, EventId, Metadata, ProjectId, TenantId,
    TrainingProcessId, TrainingTemplateId,
};
use trainyard_platform::event_store::{EventStore, ExpectedVersion};
use trainyard_platform::projection::{ProjectionRunner, RunnerOptions};
use trainyard_platform::streams::{ensure_streams, StreamNames, StreamSettings};
use trainyard_template::domain::project::{Project, ProjectEvent};
use trainyard_template::domain::template::{TemplateEvent, TemplateSpec, TrainingTemplate};
use trainyard_template::projection::TemplateProjection;

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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Shape {
    projects: u64,
    templates: u64,
    edits: u64,
}

/// One aggregate's events, in order.
struct History {
    aggregate_type: String,
    id: String,
    events: Vec<EventEnvelope>,
}

fn spec(n: u64) -> TemplateSpec {
    serde_json::from_value(serde_json::json!({
        "model_type_id": uuid::Uuid::now_v7(),
        "base_model_id": uuid::Uuid::now_v7(),
        "description": format!("template {n}: document pages, rotations and exposure"),
        "augmentation": "rotations_exposure_noise",
        "parameters": {"batch_size": 16 + n % 48, "max_iterations": 1000 + n},
        "dataset": null,
    }))
    .expect("a template spec")
}

fn histories(shape: &Shape, meta: &Metadata) -> Vec<History> {
    let mut out = Vec::new();
    for p in 0..shape.projects {
        let tenant = meta.tenant_id;
        let project = ProjectId::new();
        let created = ProjectEvent::ProjectCreated {
            project_id: project,
            tenant_id: tenant,
            name: format!("project-{p}"),
            description: "pages".into(),
        };
        out.push(History {
            aggregate_type: Project::aggregate_type(),
            id: project.to_string(),
            events: vec![envelope(
                meta,
                &Project::aggregate_type(),
                &project.to_string(),
                &created,
            )],
        });
        for t in 0..shape.templates {
            let id = TrainingTemplateId::new();
            let n = p * shape.templates + t;
            let kind = TrainingTemplate::aggregate_type();
            let key = id.to_string();
            let mut events = vec![TemplateEvent::TemplateCreated {
                template_id: id,
                tenant_id: tenant,
                project_id: project,
                name: format!("template-{n}"),
                spec: spec(n),
                at: meta.occurred_at,
            }];
            for v in 2..=shape.edits + 1 {
                events.push(TemplateEvent::TemplateEdited {
                    version: v as u32,
                    name: format!("template-{n}-v{v}"),
                    spec: spec(n + v),
                    at: meta.occurred_at,
                });
            }
            if n.is_multiple_of(10) {
                let process_id = TrainingProcessId::new();
                events.push(TemplateEvent::TemplatePinned {
                    process_id,
                    version: 1,
                });
                events.push(TemplateEvent::TemplateUnpinned { process_id });
            }
            out.push(History {
                aggregate_type: kind.clone(),
                id: key.clone(),
                events: events
                    .iter()
                    .map(|e| envelope(meta, &kind, &key, e))
                    .collect(),
            });
        }
    }
    out
}

fn envelope<E: trainyard_core::DomainEvent>(
    meta: &Metadata,
    kind: &str,
    id: &str,
    event: &E,
) -> EventEnvelope {
    EventEnvelope::wrap(meta, EventId::new(), kind, id, event).expect("envelope")
}

/// Appends every history, aggregates concurrently, each one's events in order.
async fn publish(store: &EventStore, histories: Vec<History>) -> u64 {
    let total: usize = histories.iter().map(|h| h.events.len()).sum();
    futures::stream::iter(histories)
        .for_each_concurrent(512, |h| async move {
            for event in h.events {
                store
                    .append(&h.aggregate_type, &h.id, ExpectedVersion::Any, &[event])
                    .await
                    .expect("append");
            }
        })
        .await;
    total as u64
}

async fn raw_read(js: &jetstream::Context, names: &StreamNames, events: u64) -> Duration {
    let stream = js.get_stream(&names.events).await.expect("stream");
    let started = Instant::now();
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: format!("{}.template.>", names.events_root),
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    for _ in 0..events {
        messages.next().await.expect("open").expect("message");
    }
    started.elapsed()
}

async fn rebuild(
    js: &jetstream::Context,
    pool: &deadpool_postgres::Pool,
    names: &StreamNames,
    last_sequence: u64,
    shape: &Shape,
) -> Duration {
    let options = RunnerOptions {
        stream: names.events.clone(),
        idle_wait: Duration::from_millis(200),
        ..RunnerOptions::default()
    };
    let projection = TemplateProjection {
        events_root: names.events_root.clone(),
    };
    let runner =
        ProjectionRunner::new(projection, pool.clone(), js.clone(), options).expect("runner");
    let started = Instant::now();
    runner.rebuild().await.expect("rebuild");
    let mut checkpoints = runner.checkpoints();
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    checkpoints
        .wait_for(|c| *c >= last_sequence)
        .await
        .expect("runner alive");
    let elapsed = started.elapsed();
    shutdown.cancel();
    task.await.expect("runner task").expect("runner");
    let client = pool.get().await.expect("connection");
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .expect("count")
                .get::<_, i64>(0) as u64
        }
    };
    let templates = shape.projects * shape.templates;
    assert_eq!(
        count("SELECT count(*) FROM template.templates").await,
        templates
    );
    assert_eq!(
        count("SELECT count(*) FROM template.template_versions").await,
        templates * (shape.edits + 1)
    );
    assert_eq!(
        count("SELECT count(*) FROM template.projects").await,
        shape.projects
    );
    elapsed
}

#[tokio::main]
async fn main() {
    let shape = Shape {
        projects: env_or("BENCH_PROJECTS", 100),
        templates: env_or("BENCH_TEMPLATES", 200),
        edits: env_or("BENCH_EDITS", 9),
    };
    let runs = env_or("BENCH_RUNS", 3).max(1);
    let nats = trainyard_testkit::nats();
    let db = trainyard_testkit::postgres_db().await;
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let names = StreamNames::default();
    ensure_streams(&js, &names, &StreamSettings::default())
        .await
        .expect("streams");
    let pool =
        trainyard_platform::postgres::pool(&db.url(), 4, Duration::from_secs(10)).expect("pool");
    let meta = Metadata {
        tenant_id: TenantId::new(),
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: chrono::Utc::now(),
    };

    let store = EventStore::new(client, &names);
    let started = Instant::now();
    let events = publish(&store, histories(&shape, &meta)).await;
    let publish_secs = started.elapsed().as_secs_f64();
    let last_sequence = js
        .get_stream(&names.events)
        .await
        .expect("stream")
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    println!(
        "{events} events ({} projects, {} templates with {} edits each) appended in {publish_secs:.1} s; load average {}",
        shape.projects,
        shape.projects * shape.templates,
        shape.edits,
        load_average()
    );

    let (mut rebuilds, mut reads) = (Vec::new(), Vec::new());
    println!("| run | rebuild (s) | rebuild events/s | raw read (s) | raw read events/s | rebuild / raw read |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |run: &str, r: f64, raw: f64| {
        println!(
            "| {run} | {r:.2} | {:.0} | {raw:.2} | {:.0} | {:.2} |",
            events as f64 / r,
            events as f64 / raw,
            raw / r
        );
    };
    for run in 1..=runs {
        let r = rebuild(&js, &pool, &names, last_sequence, &shape)
            .await
            .as_secs_f64();
        let raw = raw_read(&js, &names, events).await.as_secs_f64();
        row(&run.to_string(), r, raw);
        rebuilds.push(r);
        reads.push(raw);
    }
    row("median", median(rebuilds), median(reads));
    println!("load average at end: {}", load_average());
}

//! The read model is the same whether its events arrive one per batch (each event on its own, as
//! live traffic mostly does) or all in one batch (a rebuild), where runs of created and edited
//! templates are written as multi-row statements between the other events.

use std::time::Duration;

use async_nats::jetstream;
use tokio_util::sync::CancellationToken;
use trainyard_core::{
    Actor, Aggregate, CorrelationId, DomainEvent, EventEnvelope, EventId, Metadata, ProjectId,
    TenantId, TrainingProcessId, TrainingTemplateId,
};
use trainyard_platform::event_store::{EventStore, ExpectedVersion};
use trainyard_platform::projection::{ProjectionRunner, RunnerOptions};
use trainyard_platform::streams::{ensure_streams, StreamNames, StreamSettings};
use trainyard_template::domain::project::{Project, ProjectEvent};
use trainyard_template::domain::template::{TemplateEvent, TemplateSpec, TrainingTemplate};
use trainyard_template::projection::TemplateProjection;

fn spec(n: u64) -> TemplateSpec {
    serde_json::from_value(serde_json::json!({
        "model_type_id": uuid::Uuid::now_v7(),
        "base_model_id": uuid::Uuid::now_v7(),
        "description": format!("spec {n}"),
        "augmentation": if n.is_multiple_of(2) { "none" } else { "exposure_noise" },
        "parameters": {"batch_size": 8 + n},
        "dataset": if n.is_multiple_of(3) {
            serde_json::json!({"dataset_id": uuid::Uuid::now_v7(), "version": n})
        } else {
            serde_json::Value::Null
        },
    }))
    .expect("a template spec")
}

fn edited(version: u32, n: u64, meta: &Metadata) -> TemplateEvent {
    TemplateEvent::TemplateEdited {
        version,
        name: format!("edited-{n}"),
        spec: spec(n),
        at: meta.occurred_at + chrono::Duration::seconds(n as i64),
    }
}

/// Reads every table of the read model as JSON text, rows in key order.
async fn dump(pool: &deadpool_postgres::Pool) -> Vec<String> {
    let client = pool.get().await.expect("connection");
    let mut out = Vec::new();
    for (table, order) in [
        ("projects", "id"),
        ("templates", "id"),
        ("template_versions", "template_id, version"),
        ("template_pins", "template_id, process_id"),
    ] {
        let sql = format!(
            "SELECT coalesce(json_agg(t ORDER BY {order}), '[]')::text FROM template.{table} t"
        );
        out.push(client.query_one(&sql, &[]).await.expect("dump").get(0));
    }
    out
}

#[tokio::test]
async fn one_batch_writes_what_one_event_per_batch_writes() {
    let nats = trainyard_testkit::nats();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let names = StreamNames::default();
    ensure_streams(&js, &names, &StreamSettings::default())
        .await
        .expect("streams");
    let meta = Metadata {
        tenant_id: TenantId::new(),
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: chrono::Utc::now(),
    };
    let project = ProjectId::new();
    let (a, b, c) = (
        TrainingTemplateId::new(),
        TrainingTemplateId::new(),
        TrainingTemplateId::new(),
    );
    let process = TrainingProcessId::new();
    let created = |id: TrainingTemplateId, n: u64| TemplateEvent::TemplateCreated {
        template_id: id,
        tenant_id: meta.tenant_id,
        project_id: project,
        name: format!("created-{n}"),
        spec: spec(n),
        at: meta.occurred_at,
    };
    // Template events interleaved with each other and with events of other kinds: runs end at a
    // pin, an unpin, a deletion and a project event.
    let t = |id: TrainingTemplateId, e: TemplateEvent| (None, Some((id, e)));
    let p = |e: ProjectEvent| (Some(e), None);
    let log = vec![
        p(ProjectEvent::ProjectCreated {
            project_id: project,
            tenant_id: meta.tenant_id,
            name: "pages".into(),
            description: String::new(),
        }),
        t(a, created(a, 1)),
        t(b, created(b, 2)),
        t(a, edited(2, 3, &meta)),
        t(a, edited(3, 4, &meta)),
        t(b, edited(2, 5, &meta)),
        t(
            a,
            TemplateEvent::TemplatePinned {
                process_id: process,
                version: 3,
            },
        ),
        t(a, edited(4, 6, &meta)),
        p(ProjectEvent::ProjectUpdated {
            name: "pages, renamed".into(),
            description: "scans".into(),
        }),
        t(b, edited(3, 7, &meta)),
        t(b, TemplateEvent::TemplateDeleted),
        t(c, created(c, 8)),
        t(
            a,
            TemplateEvent::TemplateUnpinned {
                process_id: process,
            },
        ),
        t(a, edited(5, 9, &meta)),
        t(c, edited(2, 10, &meta)),
        t(a, edited(6, 11, &meta)),
    ];
    let store = EventStore::new(client, &names);
    let mut last = 0;
    for (project_event, template_event) in log {
        let (kind, id, e) = match (project_event, template_event) {
            (Some(e), _) => {
                let (kind, id) = (Project::aggregate_type(), project.to_string());
                let e = wrap(&meta, &kind, &id, &e);
                (kind, id, e)
            }
            (_, Some((template, e))) => {
                let (kind, id) = (TrainingTemplate::aggregate_type(), template.to_string());
                let e = wrap(&meta, &kind, &id, &e);
                (kind, id, e)
            }
            (None, None) => continue,
        };
        last = store
            .append(&kind, &id, ExpectedVersion::Any, &[e])
            .await
            .expect("append")
            .last_sequence;
    }

    let mut dumps = Vec::new();
    for batch_size in [1, 1000] {
        let db = trainyard_testkit::postgres_db().await;
        let pool = trainyard_platform::postgres::pool(&db.url(), 2, Duration::from_secs(10))
            .expect("pool");
        let options = RunnerOptions {
            stream: names.events.clone(),
            batch_size,
            idle_wait: Duration::from_millis(50),
            ..RunnerOptions::default()
        };
        let projection = TemplateProjection {
            events_root: names.events_root.clone(),
        };
        let runner =
            ProjectionRunner::new(projection, pool.clone(), js.clone(), options).expect("runner");
        runner.rebuild().await.expect("rebuild");
        let mut checkpoints = runner.checkpoints();
        let shutdown = CancellationToken::new();
        let task = runner.spawn(shutdown.clone());
        tokio::time::timeout(
            Duration::from_secs(60),
            checkpoints.wait_for(|c| *c >= last),
        )
        .await
        .expect("caught up in time")
        .expect("runner alive");
        shutdown.cancel();
        task.await.expect("runner task").expect("runner");
        dumps.push(dump(&pool).await);
    }
    // The last edit of a run is the one that stays.
    assert!(dumps[0][1].contains("edited-11"), "{}", dumps[0][1]);
    assert!(!dumps[0][1].contains("edited-7"), "b was deleted");
    assert_eq!(dumps[0], dumps[1]);
}

fn wrap<E: DomainEvent>(meta: &Metadata, kind: &str, id: &str, event: &E) -> EventEnvelope {
    EventEnvelope::wrap(meta, EventId::new(), kind, id, event).expect("envelope")
}

//! `/healthz`, `/readyz` and `/metrics` against real dependencies: not ready while PostgreSQL is
//! unreachable or a projection lags, ready once it caught up; metrics in the Prometheus text
//! format; and a served app that stops on its shutdown signal.

use std::time::Duration;

use crate::common::ledger::{publish, Ledger};
use crate::common::{env, quick_options, WAIT};
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use trainyard_platform::http::{app, NatsCheck, Ops, PostgresCheck, ProjectionCheck};
use trainyard_platform::metrics::Metrics;
use trainyard_platform::projection::ProjectionRunner;
use trainyard_platform::service::Parts;
use trainyard_testkit::wait_until;

async fn get_json(router: &Router, path: &str) -> (StatusCode, Value) {
    let response = router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {body}"))
}

/// A PostgreSQL URL on a loopback port nothing listens on.
fn unreachable_postgres() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("postgres://postgres@127.0.0.1:{port}/nowhere")
}

#[tokio::test]
async fn readyz_is_not_ready_while_postgres_is_unreachable() {
    let env = env().await;
    let down =
        trainyard_platform::postgres::pool(&unreachable_postgres(), 2, Duration::from_millis(500))
            .unwrap();
    let ops = Ops::new(Metrics::new())
        .check(NatsCheck(env.client.clone()))
        .check(PostgresCheck(down));
    let router = app(Router::new(), ops, Duration::from_secs(5));
    let (status, body) = get_json(&router, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(check(&body, "postgres")["ok"], false);
    assert!(check(&body, "postgres")["detail"].is_string());
    assert_eq!(check(&body, "nats")["ok"], true);
    assert_eq!(
        get_json(&router, "/healthz").await.0,
        StatusCode::OK,
        "alive although not ready"
    );

    let up = Ops::new(Metrics::new())
        .check(NatsCheck(env.client.clone()))
        .check(PostgresCheck(env.pool.clone()));
    let (status, body) = get_json(&app(Router::new(), up, Duration::from_secs(5)), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
}

#[tokio::test]
async fn readyz_waits_for_projections_to_catch_up_and_metrics_show_it() {
    let env = env().await;
    publish(&env.js, 0, 300, 5, 128).await;
    let metrics = Metrics::new();
    let runner = ProjectionRunner::new(
        Ledger::new("ledger", "ledger"),
        env.pool.clone(),
        env.js.clone(),
        quick_options(),
    )
    .unwrap()
    .with_metrics(metrics.clone());
    let ops = Ops::new(metrics.clone()).check(ProjectionCheck {
        monitor: runner.monitor(),
        max_lag: 10,
    });
    let router = app(
        Router::new().route("/things/{id}", get(|| async { "thing" })),
        ops,
        Duration::from_secs(5),
    );

    let (status, body) = get_json(&router, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let detail = check(&body, "projection:ledger")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("300 events behind"), "{detail}");

    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    wait_until(WAIT, "readiness once the projection caught up", || {
        let router = router.clone();
        async move { get_json(&router, "/readyz").await.0 == StatusCode::OK }
    })
    .await;
    get_json(&router, "/things/42").await;

    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(r#"trainyard_projection_events_applied_total{projection="ledger"} 300"#),
        "{text}"
    );
    assert!(
        text.contains(r#"trainyard_projection_lag_events{projection="ledger"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/things/{id}",method="GET",status="200""#),
        "{text}"
    );
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_answers_until_shutdown_then_returns() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let parts = Parts {
        api: Router::new(),
        openapi: utoipa::openapi::OpenApiBuilder::new().build(),
        ops: Ops::new(Metrics::new()),
        tasks: Vec::new(),
        shutdown: shutdown.clone(),
    };
    let bound = parts
        .bind("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5))
        .await
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], bound.port()));
    let server = tokio::spawn(bound.run_until_stopped());

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("alive"), "{response}");

    shutdown.cancel();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

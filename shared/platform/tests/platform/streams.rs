//! Stream set-up against a real server: the layout is created, re-running it is harmless, and a
//! server that does not apply an option fails start-up with a message naming the stream, the
//! option, what was asked and what the server reports, and the server version. Connecting
//! retries until a deadline.

use async_nats::jetstream::consumer::{pull, AckPolicy};
use std::time::Duration;

use async_nats::jetstream::stream::RetentionPolicy;
use trainyard_platform::streams::{
    ensure_durable_consumer, ensure_stream, ensure_streams, events_stream, StreamNames,
    StreamSettings, StreamSetupError,
};

async fn jetstream(url: &str) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(async_nats::connect(url).await.unwrap())
}

#[tokio::test]
async fn the_layout_is_created_with_the_asked_options_and_setup_is_repeatable() {
    let server = trainyard_testkit::nats();
    let js = jetstream(&server.url()).await;
    let names = StreamNames::default();
    ensure_streams(&js, &names, &StreamSettings::default())
        .await
        .unwrap();
    ensure_streams(&js, &names, &StreamSettings::default())
        .await
        .expect("second run");

    let events = js
        .get_stream("EVENTS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    assert_eq!(events.subjects, ["evt.>"]);
    assert!(
        events.deny_delete
            && events.deny_purge
            && events.allow_direct
            && events.allow_atomic_publish
    );
    assert_eq!(events.max_age, Duration::ZERO);
    let dispatch = js
        .get_stream("DISPATCH")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    assert_eq!(dispatch.retention, RetentionPolicy::WorkQueue);
    let reports = js
        .get_stream("REPORTS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    assert_eq!(reports.subjects, ["report.>"]);
    assert_eq!(reports.retention, RetentionPolicy::WorkQueue);
    let metrics = js
        .get_stream("METRICS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    assert!(metrics.max_age > Duration::ZERO);
}

#[tokio::test]
async fn the_event_log_refuses_deletes_and_purges() {
    let server = trainyard_testkit::nats();
    let js = jetstream(&server.url()).await;
    ensure_streams(&js, &StreamNames::default(), &StreamSettings::default())
        .await
        .unwrap();
    js.publish("evt.test.thing.1", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let stream = js.get_stream("EVENTS").await.unwrap();
    assert!(
        stream.delete_message(1).await.is_err(),
        "delete must be denied"
    );
    assert!(stream.purge().await.is_err(), "purge must be denied");
}

/// A server that, like releases before an option existed, accepts a stream definition and
/// silently drops what it does not know: nats-server with `jetstream { strict: false }` ignores
/// unknown fields instead of refusing them. `template_owner` is a field the client still sends
/// and 2.11+ servers no longer know.
#[tokio::test]
async fn an_option_the_server_ignores_fails_startup_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("lenient.conf");
    std::fs::write(&conf, "jetstream { strict: false }\n").unwrap();
    let server =
        trainyard_testkit::NatsServer::start_with_args(&["-c", conf.to_str().unwrap()]).unwrap();
    let js = jetstream(&server.url()).await;
    let mut config = events_stream(&StreamNames::default(), &StreamSettings::default());
    config.template_owner = "legacy".into();
    let error = ensure_stream(&js, config).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StreamSetupError::NotApplied { .. }),
        "{message}"
    );
    let expected = [
        "stream `EVENTS`",
        "`template_owner` asked \"legacy\" but server reports nothing",
        "nats-server 2.15",
        "may be too old",
    ];
    for needle in expected {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

#[tokio::test]
async fn an_option_a_strict_server_refuses_fails_startup_naming_the_stream() {
    let server = trainyard_testkit::nats();
    let js = jetstream(&server.url()).await;
    let mut config = events_stream(&StreamNames::default(), &StreamSettings::default());
    config.template_owner = "legacy".into();
    let message = ensure_stream(&js, config).await.unwrap_err().to_string();
    assert!(
        message.contains("stream `EVENTS`") && message.contains("template_owner"),
        "{message}"
    );
}

#[tokio::test]
async fn durable_consumers_are_verified_too() {
    let server = trainyard_testkit::nats();
    let js = jetstream(&server.url()).await;
    ensure_streams(&js, &StreamNames::default(), &StreamSettings::default())
        .await
        .unwrap();
    let stream = js.get_stream("EVENTS").await.unwrap();
    let good = pull::Config {
        durable_name: Some("projection".into()),
        ack_policy: AckPolicy::Explicit,
        filter_subject: "evt.template.>".into(),
        max_ack_pending: 256,
        ..Default::default()
    };
    ensure_durable_consumer(&js, &stream, good.clone())
        .await
        .unwrap();
    ensure_durable_consumer(&js, &stream, good)
        .await
        .expect("repeatable");

    // With a back-off list the server replaces `ack_wait` by the first back-off step.
    let normalised = pull::Config {
        durable_name: Some("retrying".into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        backoff: vec![Duration::from_secs(1), Duration::from_secs(10)],
        max_deliver: 5,
        ..Default::default()
    };
    let message = ensure_durable_consumer(&js, &stream, normalised)
        .await
        .unwrap_err()
        .to_string();
    let expected = "consumer `retrying`: the server did not apply what was asked: `ack_wait` asked 30000000000 but server reports 1000000000";
    assert!(message.contains(expected), "{message}");
}

#[tokio::test]
async fn connecting_to_an_absent_server_gives_up_after_the_deadline_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut settings = trainyard_platform::nats::NatsConnect::new(&url, "absent-test");
    settings.deadline = Duration::from_millis(600);
    let started = std::time::Instant::now();
    let error = trainyard_platform::nats::connect(&settings)
        .await
        .unwrap_err();
    assert!(error.attempts >= 2, "retried: {error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.to_string().contains(&url), "{error}");
}

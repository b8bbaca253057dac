//! W3C trace context crosses the log: an append made inside a traced span stores `traceparent`
//! in the message headers, and a consumer extracting it continues the same trace.

use crate::event_store_support::*;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use trainyard_platform::event_store::{codec, ExpectedVersion};

#[tokio::test]
async fn the_trace_of_the_appending_span_travels_in_the_headers() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = trainyard_testkit::nats();
    let store = store_on(&server.url(), "T").await;
    let request = tracing::info_span!("http_request");
    let trace_id = request.context().span().span_context().trace_id();
    let appended = store
        .append(
            "test.counter",
            "t",
            ExpectedVersion::NEW,
            &added_many("t", [1, 2]),
        )
        .instrument(request)
        .await
        .unwrap();

    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let stream = js.get_stream("T_EVENTS").await.unwrap();
    for sequence in appended.first_sequence..=appended.last_sequence {
        let message = stream.direct_get(sequence).await.unwrap();
        assert!(
            message.headers.get("traceparent").is_some(),
            "no traceparent on {sequence}"
        );
        let continued = codec::trace_context(Some(&message.headers));
        assert_eq!(continued.span().span_context().trace_id(), trace_id);
        assert!(continued.span().span_context().is_remote());
    }
}

//! Process-wide telemetry: JSON logs through `tracing-subscriber`, OpenTelemetry trace export over
//! OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and the W3C trace-context propagator, so that a
//! trace started by an HTTP request continues through NATS headers into every consumer.

mod propagation;

pub use propagation::{extract_http, extract_nats, inject_http, inject_nats, set_parent_from};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::TelemetryConfig;

/// The standard variable that switches OTLP export on.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Why telemetry could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was installed before (tests call `init` more than once).
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the exporter alive; dropping it flushes and shuts the exporter down, so spans of the
/// last requests before a shutdown still reach the collector.
#[derive(Debug)]
#[must_use = "dropping the guard immediately stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("telemetry: flushing spans at shutdown failed: {error}");
            }
        }
    }
}

/// Installs the global subscriber and propagator for `service_name`. `RUST_LOG`, when set, wins
/// over `config.log_filter`. Call once, early in `main`, inside the Tokio runtime.
pub fn init(
    service_name: &str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(&config.log_filter)?,
    };
    let fmt = if config.json_logs {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    let provider = otlp_provider(service_name)?;
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service_name.to_owned()))
            .boxed()
    });
    Registry::default()
        .with(otel)
        .with(fmt.with_filter(filter))
        .try_init()?;
    if let Some(p) = &provider {
        opentelemetry::global::set_tracer_provider(p.clone());
    }
    Ok(TelemetryGuard { provider })
}

/// An OTLP/gRPC exporter when the endpoint variable is set; the exporter reads the endpoint and
/// the other standard `OTEL_*` variables itself.
fn otlp_provider(service_name: &str) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    match std::env::var(OTLP_ENDPOINT_ENV) {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => return Ok(None),
    }
    let exporter = SpanExporter::builder().with_tonic().build()?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

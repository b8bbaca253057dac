//! The service's Prometheus registry and the metrics every service shares: HTTP request duration
//! by route/method/status, events applied by each projection, projection lag, and the outcomes of
//! work consumers. Services register their own metrics (queue depth, images/s, …) on the same
//! registry through [`Metrics::register`], so `/metrics` shows everything in one scrape.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};

/// Labels of one HTTP request observation. `route` is the matched route template, never the raw
/// path, so ids do not explode the series count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// Labels of a per-projection series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabels {
    pub projection: String,
}

/// Labels of a work consumer's outcome count (`done`, `retry`, `parked`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkLabels {
    pub work: String,
    pub outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s: covers cached reads up to slow exports.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The registry plus handles to the shared metrics. Cheap to clone behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_request_duration: HistogramFamily<HttpLabels>,
    pub events_applied: Family<ProjectionLabels, Counter>,
    pub projection_lag: Family<ProjectionLabels, Gauge>,
    pub projection_checkpoint: Family<ProjectionLabels, Gauge>,
    pub work_outcomes: Family<WorkLabels, Counter>,
}

impl Metrics {
    /// A registry whose metric names start with `trainyard_`.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("trainyard");
        let http_request_duration = HistogramFamily::new_with_constructor(latency_histogram as _);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration by matched route, method and status",
            http_request_duration.clone(),
        );
        let events_applied = Family::<ProjectionLabels, Counter>::default();
        registry.register(
            "projection_events_applied",
            "Events applied to a projection's read model",
            events_applied.clone(),
        );
        let projection_lag = Family::<ProjectionLabels, Gauge>::default();
        registry.register(
            "projection_lag_events",
            "Events in the log a projection has not applied yet",
            projection_lag.clone(),
        );
        let projection_checkpoint = Family::<ProjectionLabels, Gauge>::default();
        registry.register(
            "projection_checkpoint_sequence",
            "Stream sequence of the last event a projection committed",
            projection_checkpoint.clone(),
        );
        let work_outcomes = Family::<WorkLabels, Counter>::default();
        registry.register(
            "work_messages",
            "Messages a work consumer settled, by outcome",
            work_outcomes.clone(),
        );
        Arc::new(Self {
            registry: Mutex::new(registry),
            http_request_duration,
            events_applied,
            projection_lag,
            projection_checkpoint,
            work_outcomes,
        })
    }

    /// Adds a service-specific metric (name without the `trainyard_` prefix).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// The registry in the text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.lock());
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Registration cannot leave the registry half-updated, so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

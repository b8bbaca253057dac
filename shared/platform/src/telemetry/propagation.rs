//! W3C trace-context carriers for HTTP and NATS headers. The event store injects into the headers
//! of each appended event; consumers extract and parent their spans on it, so one trace spans the
//! request, the log and every reaction to it.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct NatsInjector<'a>(&'a mut async_nats::HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct NatsExtractor<'a>(&'a async_nats::HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

struct HttpInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HttpInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagator keys and values are ASCII tokens; anything else is dropped, not sent broken.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HttpExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the current span's trace context into NATS headers (no-op without an active trace).
pub fn inject_nats(headers: &mut async_nats::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut NatsInjector(headers))
    });
}

/// Reads a trace context from NATS headers (an empty context when there is none).
pub fn extract_nats(headers: &async_nats::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&NatsExtractor(headers)))
}

/// Writes the current span's trace context into outgoing HTTP request headers.
pub fn inject_http(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HttpInjector(headers))
    });
}

/// Reads a trace context from incoming HTTP request headers.
pub fn extract_http(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HttpExtractor(headers)))
}

/// Parents `span` on a remote context. Without the OpenTelemetry layer installed this does
/// nothing, which is the intended behaviour when export is off.
pub fn set_parent_from(span: &tracing::Span, parent: Context) {
    // The only failure is "no OpenTelemetry layer", i.e. export is switched off.
    let _ = span.set_parent(parent);
}

//! IO glue every Trainyard service uses: configuration, telemetry, PostgreSQL (pool, schema,
//! migrations), projections fed from the event log, Prometheus metrics, and the HTTP conventions
//! (problem+json errors, health and readiness, the standard layers, graceful shutdown).

pub mod config;
pub mod event_store;
pub mod http;
pub mod metrics;
pub mod nats;
pub mod object_store;
pub mod postgres;
pub mod projection;
pub mod service;
pub mod streams;
pub mod telemetry;

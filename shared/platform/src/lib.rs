//! IO glue every Trainyard service uses: configuration, telemetry, PostgreSQL (pool, schema,
//! migrations, list queries), the event store, projections fed from the event log, durable work
//! consumers, Prometheus metrics, the HTTP conventions (problem+json errors, health and
//! readiness, the standard layers), the command layer's building blocks ([`command`]) and the
//! service kit that assembles and serves a service ([`service`]).

pub mod command;
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
pub mod work;

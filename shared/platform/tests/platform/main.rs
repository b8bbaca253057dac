//! The platform crate against real NATS and PostgreSQL, as one test binary: the event store,
//! reservations, subscriptions and trace propagation; HTTP errors and readiness; migrations; the
//! object store; projections rebuilt and recovered; stream set-up; the service kit's unique
//! names and work consumers. (Configuration tests stay in
//! their own binary: they change the process's environment and working directory.)

mod common;
mod event_store_support;

mod event_store;
mod event_store_concurrency;
mod event_store_reservation;
mod event_store_subscribe;
mod event_store_trace;
mod http_errors;
mod http_ready;
mod kit_unique;
mod kit_work;
mod migrations;
mod object_store;
mod projection_rebuild;
mod projection_recovery;
mod streams;

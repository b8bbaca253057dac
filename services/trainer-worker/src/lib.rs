//! The trainer-worker of one target machine: it registers with the scheduler over NATS
//! ([`presence`]), takes the machine's dispatch orders ([`dispatch`]), runs each attempt with the
//! engine on a blocking thread ([`attempt`]) while reporting stages, progress with the time left
//! ([`eta`]) and metric points ([`points`]), and stores checkpoints and verified models in the
//! object store. It needs NATS and the object store only ([`infra`]).
//!
//! Entry point: [`Worker::spawn`] (or [`Worker::run`]) with a [`WorkerConfig`], a NATS client,
//! the stream names and a shutdown token.

pub mod attempt;
pub mod config;
pub mod device;
pub mod dispatch;
pub mod eta;
pub mod infra;
pub mod points;
pub mod presence;
pub mod report;
pub mod worker;

pub use config::{WorkerConfig, WorkerFileConfig};
pub use worker::Worker;

//! Hermetic test infrastructure. Tests that need the broker or the database get real ones:
//! a fresh `nats-server` with JetStream per call (cheap, so streams never leak between tests) and
//! one PostgreSQL per test binary with a fresh database per test (initdb is the slow part).
//! Servers live in temporary folders on free loopback ports and are removed by a supervisor
//! process that also notices when the test binary dies without unwinding.
//!
//! Beside the servers: the given/when/then harness for aggregates ([`aggregate`]), a JSON client
//! for black-box API tests ([`ApiClient`]), committed snapshots that CI cannot rewrite
//! ([`assert_snapshot`]) and a service binary as a child process for crash tests
//! ([`ServiceProcess`]).

pub mod aggregate;
mod api;
mod nats;
mod postgres;
mod process;
mod service;
pub mod snapshot;

pub use api::ApiClient;
pub use nats::NatsServer;
pub use postgres::{postgres_db, PostgresServer, TestDatabase};
pub use process::tools_dir;
pub use service::ServiceProcess;
pub use snapshot::assert_snapshot;

use std::future::Future;
use std::time::{Duration, Instant};

/// A fresh NATS server with JetStream for the calling test. Killed when dropped.
pub fn nats() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("cannot start nats-server: {e}"))
}

/// Polls `check` until it returns true, panicking with `what` after `timeout`. Tests wait on
/// conditions this way instead of sleeping a fixed time.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

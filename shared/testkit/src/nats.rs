//! A nats-server with JetStream in a temporary store directory on a free loopback port.

use std::io;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use crate::process::{free_port, spawn_supervised, stop, tool, wait_for_port};

#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Child,
}

impl NatsServer {
    /// Starts a server, retrying on another free port if the first one was taken meanwhile.
    pub fn start() -> io::Result<Self> {
        Self::start_with_args(&[])
    }

    /// Starts a server with extra command-line arguments (e.g. a config file with limits).
    pub fn start_with_args(extra: &[&str]) -> io::Result<Self> {
        let mut last = None;
        for _ in 0..5 {
            match Self::try_start(extra) {
                Ok(server) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("nats-server did not start")))
    }

    fn try_start(extra: &[&str]) -> io::Result<Self> {
        let bin = tool("nats-server")?;
        let port = free_port()?;
        let store = std::env::temp_dir().join(format!("trainyard-nats-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&store)?;
        let mut cmd: Vec<String> = vec![
            bin.display().to_string(),
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-sd".into(),
            store.display().to_string(),
        ];
        cmd.extend(extra.iter().map(|s| s.to_string()));
        let mut child = spawn_supervised(&store, "", &cmd)?;
        if let Err(e) = wait_for_port(port, &mut child, Duration::from_secs(20)) {
            stop(&mut child);
            return Err(e);
        }
        Ok(Self { port, store, child })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (removed when the server stops).
    pub fn store_dir(&self) -> &std::path::Path {
        &self.store
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

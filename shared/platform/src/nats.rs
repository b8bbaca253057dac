//! The NATS connection: connecting with retries and a client name (so `nats-server` monitoring
//! shows which service holds which connection) and logging connection events. Trace context in
//! NATS headers lives in `telemetry` beside its HTTP twin.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

/// How to reach NATS at start-up.
#[derive(Debug, Clone)]
pub struct NatsConnect {
    pub url: String,
    /// Shown by the server as the connection name, e.g. `trainyard-scheduler`.
    pub client_name: String,
    /// Give up when the server is still unreachable after this long.
    pub deadline: Duration,
}

impl NatsConnect {
    pub fn new(url: impl Into<String>, client_name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_name: client_name.into(),
            deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to NATS at {url} within {deadline:?} ({attempts} attempts): {source}")]
pub struct NatsConnectError {
    pub url: String,
    pub deadline: Duration,
    pub attempts: u32,
    #[source]
    pub source: async_nats::ConnectError,
}

/// Connects, retrying with a growing pause: services and the server are often started together,
/// and a service that dies because NATS came up a second later only adds restart noise.
/// After the first connection the client reconnects by itself, forever.
pub async fn connect(settings: &NatsConnect) -> Result<Client, NatsConnectError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match options(&settings.client_name).connect(&settings.url).await {
            Ok(client) => {
                tracing::info!(url = %settings.url, name = %settings.client_name, attempts, "connected to NATS");
                return Ok(client);
            }
            Err(source) if started.elapsed() + pause >= settings.deadline => {
                return Err(NatsConnectError {
                    url: settings.url.clone(),
                    deadline: settings.deadline,
                    attempts,
                    source,
                });
            }
            Err(error) => {
                tracing::warn!(url = %settings.url, %error, attempts, "NATS not reachable yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

fn options(client_name: &str) -> ConnectOptions {
    ConnectOptions::new()
        .name(client_name)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                Event::Connected => tracing::info!("NATS connection (re)established"),
                Event::Disconnected => tracing::warn!("NATS connection lost; reconnecting"),
                other => tracing::warn!(event = %other, "NATS client event"),
            }
        })
}

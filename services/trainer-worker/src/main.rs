//! `trainyard-worker`: loads configuration (`[worker]` section, `TRAINYARD_WORKER__*`), installs
//! telemetry, connects to NATS and runs the worker until ctrl-c or SIGTERM.
//! `trainyard-worker --device` prints the hardware as the worker measures it and exits.

use tokio_util::sync::CancellationToken;
use trainyard_platform::nats::{connect, NatsConnect};
use trainyard_platform::streams::StreamNames;
use trainyard_platform::{config, http, telemetry};
use trainyard_worker::{Worker, WorkerFileConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--device") {
        println!(
            "{}",
            serde_json::to_string_pretty(&trainyard_worker::device::measure())?
        );
        return Ok(());
    }
    let config: WorkerFileConfig = config::load()?;
    let _telemetry = telemetry::init("trainyard-worker", &config.common.telemetry)?;
    config.service.check()?;
    let machine = config.service.machine()?;
    let nats = connect(&NatsConnect::new(
        config.common.nats.url.clone(),
        format!("trainyard-worker-{machine}"),
    ))
    .await?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        http::shutdown_signal().await;
        stop.cancel();
    });
    Worker::run(config.service, nats, StreamNames::default(), shutdown).await
}

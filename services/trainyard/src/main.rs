//! `trainyard`: every service in one process. Configuration comes from one file and one
//! environment (`TRAINYARD_…`); each service reads its own keys and the shared sections.

use trainyard_identity::IdentityConfig;
use trainyard_platform::{config, http, telemetry};
use trainyard_template::TemplateConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let identity: IdentityConfig = config::load()?;
    let template: TemplateConfig = config::load()?;
    let _telemetry = telemetry::init("trainyard", &identity.common.telemetry)?;
    let server = trainyard::build(identity, template, Box::new(std::io::stdout())).await?;
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        http::shutdown_signal().await;
        stop.cancel();
    });
    server.run_until_stopped().await?;
    Ok(())
}

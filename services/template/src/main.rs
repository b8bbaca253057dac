//! `trainyard-template`: loads configuration, installs telemetry, builds the service and serves
//! until ctrl-c or SIGTERM.

use trainyard_platform::{config, http, telemetry};
use trainyard_template::{App, TemplateConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: TemplateConfig = config::load()?;
    let _telemetry = telemetry::init("trainyard-template", &config.common.telemetry)?;
    let app = App::build(config).await?;
    let stop = app.shutdown_token();
    tokio::spawn(async move {
        http::shutdown_signal().await;
        stop.cancel();
    });
    app.run_until_stopped().await?;
    Ok(())
}

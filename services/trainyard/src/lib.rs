//! Every service of an installation in one process, behind one listener: one base URL for
//! clients, one `/readyz` covering every service's dependencies and projections, one `/metrics`,
//! one OpenAPI document. The template service verifies tokens with identity's in-process
//! verifier, so no JWKS round trip is needed.

use std::io::Write;

use trainyard_identity::IdentityConfig;
use trainyard_platform::metrics::Metrics;
use trainyard_platform::service::Server;
use trainyard_template::TemplateConfig;

/// Builds identity and the template service and binds the identity configuration's address.
pub async fn build(
    identity: IdentityConfig,
    template: TemplateConfig,
    out: Box<dyn Write + Send>,
) -> anyhow::Result<Server> {
    let addr = identity.common.http.addr;
    let timeout = identity.common.http.request_timeout();
    let metrics = Metrics::new();
    let identity = trainyard_identity::App::parts(identity, out, metrics.clone()).await?;
    let template =
        trainyard_template::App::parts(template, identity.verifier.clone(), metrics).await?;
    Ok(identity.parts.merge(template).bind(addr, timeout).await?)
}

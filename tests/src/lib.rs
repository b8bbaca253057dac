//! A whole installation in one test process: identity and the template service on their own
//! ports, sharing one NATS server and one PostgreSQL database as they would on one machine, the
//! template service verifying identity's tokens through identity's JWKS endpoint.

use std::time::Duration;

use serde_json::{json, Value};
use trainyard_identity::config::PasswordHashConfig;
use trainyard_testkit::{nats, postgres_db, NatsServer, TestDatabase};

pub const ADMIN_PASSWORD: &str = "Admin#Passw0rd";
pub const USER_PASSWORD: &str = "User#Passw0rd";

#[derive(Debug)]
pub struct Installation {
    pub identity: String,
    pub template: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub nats: NatsServer,
    pub db: TestDatabase,
}

impl Installation {
    /// Starts identity, then the template service pointed at identity's JWKS.
    pub async fn start() -> anyhow::Result<Self> {
        let nats = nats();
        let db = postgres_db().await;
        let mut config = trainyard_identity::config::default_config();
        config.common.nats.url = nats.url();
        config.common.postgres.url = db.url();
        config.common.http.addr = "127.0.0.1:0".parse()?;
        config.service.bootstrap.admin_password = Some(ADMIN_PASSWORD.into());
        config.service.password_hash = PasswordHashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
        };
        let identity =
            trainyard_identity::App::build_with(config, Box::new(std::io::sink())).await?;
        let identity_url = format!("http://127.0.0.1:{}", identity.port());
        tokio::spawn(identity.run_until_stopped());
        let mut config = trainyard_template::config::default_config();
        config.common.nats.url = nats.url();
        config.common.postgres.url = db.url();
        config.common.http.addr = "127.0.0.1:0".parse()?;
        config.service.auth.jwks_url = format!("{identity_url}/api/v1/auth/jwks");
        let template = trainyard_template::App::build(config).await?;
        let template_url = format!("http://127.0.0.1:{}", template.port());
        tokio::spawn(template.run_until_stopped());
        let mut installation = Self {
            identity: identity_url,
            template: template_url,
            client: reqwest::Client::new(),
            admin_token: String::new(),
            nats,
            db,
        };
        installation.admin_token = installation.login("admin", ADMIN_PASSWORD).await?;
        Ok(installation)
    }

    /// An access token for `login`.
    pub async fn login(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({"login": login, "password": password});
        let (status, value) = self
            .call(
                "POST",
                &self.identity,
                "/api/v1/auth/login",
                None,
                Some(body),
            )
            .await?;
        anyhow::ensure!(status == 200, "login of {login}: {status} {value}");
        Ok(value["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// A call to `base` + `path`; status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        base: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method.parse()?, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Polls `check` until it holds or `timeout` passes.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        trainyard_testkit::wait_until(Duration::from_secs(20), what, check).await;
    }
}

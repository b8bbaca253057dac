//! `spawn_app()`: the real service on port 0 against the test kit's NATS and PostgreSQL, with
//! tokens signed by a test issuer the service trusts, and a client.

use std::time::Duration;

use serde_json::{json, Value};
use trainyard_auth::testing::{Caller, TestIssuer};
use trainyard_auth::Rights;
use trainyard_core::TenantId;
use trainyard_template::config::{default_config, TemplateConfig};
use trainyard_template::App;
use trainyard_testkit::{nats, postgres_db, NatsServer, TestDatabase};

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub issuer: TestIssuer,
    /// The tenant tests work in.
    pub tenant: TenantId,
    /// An `Administrator` of every tenant.
    pub admin_token: String,
    /// Held so the database lives as long as the app.
    #[allow(dead_code)]
    pub db: TestDatabase,
    pub nats: NatsServer,
    pub config: TemplateConfig,
    /// The app's own work folder (uploads in progress, validation), unless a test set one.
    #[allow(dead_code)]
    pub work: std::sync::Arc<tempfile::TempDir>,
}

pub fn test_config(nats: &NatsServer, db: &TestDatabase) -> TemplateConfig {
    let mut config = default_config();
    config.common.nats.url = nats.url();
    config.common.postgres.url = db.url();
    config.common.http.addr = "127.0.0.1:0".parse().unwrap();
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut TemplateConfig)) -> TestApp {
    let nats = nats();
    let db = postgres_db().await;
    let mut config = test_config(&nats, &db);
    let work = tempfile::tempdir().expect("work folder");
    config.service.datasets.work_dir = Some(work.path().to_path_buf());
    adjust(&mut config);
    let issuer = TestIssuer::default();
    let app = App::build_with(config.clone(), issuer.verifier())
        .await
        .expect("template service builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let tenant = TenantId::new();
    let admin_token = issuer.token_for(&Caller::Administrator, tenant).unwrap();
    TestApp {
        base,
        client: reqwest::Client::new(),
        issuer,
        tenant,
        admin_token,
        db,
        nats,
        config,
        work: std::sync::Arc::new(work),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token of a user of the test tenant holding `rights`.
    pub fn token(&self, rights: Rights) -> String {
        self.issuer
            .sign(&self.issuer.claims(self.tenant, rights, false))
    }

    /// A token of a user of another tenant holding every right there.
    pub fn stranger_token(&self) -> String {
        self.issuer
            .sign(&self.issuer.claims(TenantId::new(), Rights::all(), false))
    }

    /// A call with a bearer token, returning status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// An administrator call that must succeed; returns the body.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, &self.admin_token, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// A project of the test tenant; returns its id.
    pub async fn create_project(&self, name: &str) -> String {
        let body = json!({"name": name, "tenant_id": self.tenant});
        self.admin("POST", "/api/v1/projects", Some(body)).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An administrator request whose body is sent in chunks without a `Content-Length`, as a
    /// client streaming from a pipe does (`headers` are extra header lines). The server may
    /// answer and close before the whole body is sent.
    pub async fn send_chunked(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://").to_owned();
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             {extra}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            self.admin_token
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        for chunk in body.chunks(16 << 10) {
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.to_vec(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if socket.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // The response body may itself be chunked: take the JSON object inside it.
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let json = body
            .find('{')
            .zip(body.rfind('}'))
            .map_or("", |(start, end)| &body[start..=end]);
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }

    /// Waits until `check` holds on the JSON of an administrator GET (read models lag a little).
    pub async fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) {
        trainyard_testkit::wait_until(Duration::from_secs(20), what, || async {
            let (status, value) = self.call("GET", path, &self.admin_token, None).await;
            status == 200 && check(&value)
        })
        .await;
    }
}

/// The ids of a page's items.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

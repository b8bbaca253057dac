//! `spawn_app()`: the real service on port 0 against the test kit's NATS and PostgreSQL, an
//! administrator token, a client, and the captured tracing output of the test binary.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use trainyard_identity::config::{IdentityConfig, PasswordHashConfig};
use trainyard_identity::App;
use trainyard_testkit::{nats, postgres_db, NatsServer, TestDatabase};

pub const ADMIN_PASSWORD: &str = "Admin#Passw0rd";
pub const USER_PASSWORD: &str = "User#Passw0rd";

/// Everything the service logged in this test binary (all tests share one subscriber).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(
                "debug,async_nats=info,tokio_postgres=info,hyper=info,h2=info,tower=info",
            )
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    })
    .clone()
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub db: TestDatabase,
    pub nats: NatsServer,
    pub bootstrap_output: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn test_config(nats: &NatsServer, db: &TestDatabase) -> IdentityConfig {
    let mut config = trainyard_identity::config::default_config();
    config.common.nats.url = nats.url();
    config.common.postgres.url = db.url();
    config.common.http.addr = "127.0.0.1:0".parse().unwrap();
    config.service.bootstrap.admin_password = Some(ADMIN_PASSWORD.into());
    // Cheap hashes keep the suite fast; the production cost is benchmarked separately.
    config.service.password_hash = PasswordHashConfig {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 4,
    };
    // A first throttling delay no test outruns on a busy machine (the growth is unit-tested).
    config.service.throttle.first_delay_secs = 60;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut IdentityConfig)) -> TestApp {
    logs();
    let nats = nats();
    let db = postgres_db().await;
    let mut config = test_config(&nats, &db);
    adjust(&mut config);
    let output = Arc::new(Mutex::new(Vec::new()));
    let app = App::build_with(config.clone(), Box::new(Shared(output.clone())))
        .await
        .expect("identity builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let mut test = TestApp {
        base,
        client,
        admin_token: String::new(),
        db,
        nats,
        bootstrap_output: output,
    };
    if config.service.bootstrap.admin_password.is_some() {
        test.admin_token = test
            .login(None, &config.service.bootstrap.admin_login, ADMIN_PASSWORD)
            .await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    test
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in and returns the token response (panics unless 200).
    pub async fn login(&self, tenant: Option<&str>, login: &str, password: &str) -> Value {
        let response = self.try_login(tenant, login, password).await;
        assert_eq!(response.status(), 200, "login of {login}");
        response.json().await.unwrap()
    }

    pub async fn try_login(
        &self,
        tenant: Option<&str>,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        let body = json!({"tenant": tenant, "login": login, "password": password});
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap()
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

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, &self.admin_token, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    pub async fn create_tenant(&self, name: &str) -> String {
        self.admin("POST", "/api/v1/tenants", Some(json!({"name": name})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A user in `tenant` with `roles`, a known password and nothing to change.
    pub async fn create_user(&self, tenant: &str, login: &str, roles: &[String]) -> String {
        let body = json!({"login": login, "password": USER_PASSWORD, "roles": roles, "must_change_password": false, "tenant_id": tenant});
        self.admin("POST", "/api/v1/users", Some(body)).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_role(
        &self,
        tenant: &str,
        name: &str,
        rights: trainyard_auth::Rights,
    ) -> String {
        let body = json!({"name": name, "permissions": rights.permissions(), "tenant_id": tenant});
        self.admin("POST", "/api/v1/roles", Some(body)).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A service account in `tenant` with `roles`.
    pub async fn create_service_account(
        &self,
        tenant: &str,
        name: &str,
        roles: &[String],
    ) -> String {
        let body = json!({"name": name, "roles": roles, "tenant_id": tenant});
        self.admin("POST", "/api/v1/service-accounts", Some(body))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A fresh API key of `account`: its id and the key itself.
    pub async fn issue_key(&self, account: &str) -> (String, String) {
        let path = format!("/api/v1/service-accounts/{account}/api-keys");
        let issued = self.admin("POST", &path, None).await;
        (
            issued["key_id"].as_str().unwrap().to_owned(),
            issued["api_key"].as_str().unwrap().to_owned(),
        )
    }

    /// Exchanges an API key for an access token (panics unless 200).
    pub async fn exchange(&self, api_key: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&json!({"api_key": api_key}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "API key exchange");
        let tokens: Value = response.json().await.unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// An access token of `login` in tenant `tenant_name` (password [`USER_PASSWORD`]).
    pub async fn token_of(&self, tenant_name: &str, login: &str) -> String {
        self.login(Some(tenant_name), login, USER_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An access token of `login` in the installation's first tenant.
    pub async fn token_of_default(&self, login: &str) -> String {
        self.login(None, login, USER_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until `check` holds on the JSON of an admin GET.
    pub async fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) {
        trainyard_testkit::wait_until(Duration::from_secs(20), what, || async {
            let (status, value) = self.call("GET", path, &self.admin_token, None).await;
            status == 200 && check(&value)
        })
        .await;
    }
}

//! Crash safety of the real `trainyard-template` binary: concurrent creates, edits and deletes,
//! `kill -9` in the middle of them, a restart on the same NATS and PostgreSQL, then checks over
//! the public API only:
//!
//! * every request answered with a 2xx before the kill is reflected (created templates exist at
//!   the acknowledged version with the acknowledged content, deleted ones are gone);
//! * the read model (the list) and the event log (`GET /{id}`) agree field by field, and on which
//!   templates exist;
//! * every list reads the same after a second, clean restart;
//! * a name whose create was in flight (or refused) is either taken by a listed template or can be
//!   created again; it is never lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::{Child, Command};
use trainyard_identity::config::PasswordHashConfig;
use trainyard_template::bootstrap::CLASSIFIER;
use trainyard_testkit::{nats, postgres_db, wait_until, NatsServer, TestDatabase};

const ADMIN_PASSWORD: &str = "Admin#Passw0rd";
/// Concurrent clients during the crash.
const WORKERS: usize = 4;
/// Acknowledged requests before the kill.
const ACKED_BEFORE_KILL: usize = 60;
/// How long the service may refuse the name of a create it never finished: a reservation whose
/// holder never came to life is taken over after a minute (`unique::claim`), plus slack.
const ORPHANED_NAME_WINDOW: Duration = Duration::from_secs(90);

/// Identity, in process on the same NATS (as installed), to sign the tokens the child verifies
/// through JWKS.
struct Identity {
    base: String,
    _db: TestDatabase,
}

async fn start_identity(nats: &NatsServer) -> Identity {
    let db = postgres_db().await;
    let mut config = trainyard_identity::config::default_config();
    config.common.nats.url = nats.url();
    config.common.postgres.url = db.url();
    config.common.http.addr = "127.0.0.1:0".parse().unwrap();
    config.service.bootstrap.admin_password = Some(ADMIN_PASSWORD.into());
    config.service.password_hash = PasswordHashConfig {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 4,
    };
    let app = trainyard_identity::App::build_with(config, Box::new(std::io::sink()))
        .await
        .expect("identity builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Identity { base, _db: db }
}

impl Identity {
    async fn admin_token(&self, client: &reqwest::Client) -> String {
        let response = client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "bootstrap administrator logs in");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// One run of the binary.
struct Service {
    child: Child,
    base: String,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary against `nats` and `db` and waits until `/readyz` answers 200. The
/// projection may lag by no event, so "ready" also means "the read model has caught up".
async fn start_service(
    client: &reqwest::Client,
    nats: &NatsServer,
    db: &TestDatabase,
    identity: &Identity,
    dir: &Path,
    run: usize,
) -> Service {
    let port = free_port();
    let log = dir.join(format!("run-{run}.log"));
    let output = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_trainyard-template"))
        .env_remove("TRAINYARD_CONFIG")
        .env("RUST_LOG", "warn")
        .env("TRAINYARD_NATS__URL", nats.url())
        .env("TRAINYARD_POSTGRES__URL", db.url())
        .env("TRAINYARD_HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("TRAINYARD_HTTP__MAX_PROJECTION_LAG", "0")
        .env(
            "TRAINYARD_AUTH__JWKS_URL",
            format!("{}/api/v1/auth/jwks", identity.base),
        )
        .env("TRAINYARD_AUTH__ISSUER", "trainyard-identity")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .kill_on_drop(true)
        .spawn()
        .expect("the service binary starts");
    let mut service = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    service.wait_ready(client).await;
    service
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn wait_ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut pause = Duration::from_millis(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the service exited with {status}:\n{}", self.output());
            }
            let ready = client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the service was not ready within a minute:\n{}",
                self.output()
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9` (`start_kill` sends SIGKILL): no shutdown hook runs.
    async fn crash(mut self) {
        self.child.start_kill().unwrap();
        let status = self.child.wait().await.unwrap();
        assert!(!status.success(), "a killed service does not exit cleanly");
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "SIGTERM sent to {pid}");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service stops within 30 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "clean exit: {status}\n{}", self.output());
    }
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Status and JSON body (Null when empty); `Err` when no answer came back.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await.unwrap();
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// Every item of a list, page by page.
    async fn all(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .ok(
                    "GET",
                    &format!("{path}{separator}limit=200&offset={offset}"),
                    None,
                )
                .await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_offset"].as_u64() {
                Some(next) => offset = next,
                None => return items,
            }
        }
    }
}

/// What the client knows about one template it created.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    /// The last acknowledged version and description.
    version: u32,
    description: String,
    /// An edit that got no answer: its description, if the service stored it.
    edit_in_flight: Option<String>,
    deleted: bool,
    delete_in_flight: bool,
}

#[derive(Debug, Default)]
struct Journal {
    templates: BTreeMap<String, Known>,
    /// Names of creates without an answer (in flight at the kill) or refused with a non-2xx.
    uncertain_names: BTreeSet<String>,
    refusals: Vec<String>,
}

fn template_body(project: &str, name: &str, description: &str) -> Value {
    json!({
        "project_id": project,
        "name": name,
        "model_type_id": CLASSIFIER.to_string(),
        "description": description,
        "augmentation": "exposure_noise",
        "parameters": {"max_iterations": 300, "batch_size": 16},
    })
}

/// One client: creates templates with its own names, edits and deletes some of them, until a
/// request gets no answer.
async fn worker(
    api: Api,
    project: String,
    worker: usize,
    journal: Arc<Mutex<Journal>>,
    acked: Arc<AtomicUsize>,
) {
    let mut live: Vec<String> = Vec::new();
    for step in 0usize.. {
        if step % 4 == 2 && !live.is_empty() {
            let id = live[step % live.len()].clone();
            let (name, version) = {
                let journal = journal.lock().unwrap();
                let known = &journal.templates[&id];
                (known.name.clone(), known.version)
            };
            let description = format!("edit {step} of {name}");
            let mut body = template_body(&project, &name, &description);
            body["expected_version"] = json!(version);
            let answer = api
                .call(
                    "PUT",
                    &format!("/api/v1/training-templates/{id}"),
                    Some(body),
                )
                .await;
            let mut journal = journal.lock().unwrap();
            let known = journal.templates.get_mut(&id).unwrap();
            match answer {
                Ok((200, view)) => {
                    assert_eq!(view["version"], json!(version + 1), "{view}");
                    known.version = version + 1;
                    known.description = description;
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok((status, body)) => journal
                    .refusals
                    .push(format!("PUT {name}: {status} {body}")),
                Err(_) => {
                    known.edit_in_flight = Some(description);
                    return;
                }
            }
        } else if step % 6 == 5 && !live.is_empty() {
            let id = live.remove(0);
            let answer = api
                .call("DELETE", &format!("/api/v1/training-templates/{id}"), None)
                .await;
            let mut journal = journal.lock().unwrap();
            let known = journal.templates.get_mut(&id).unwrap();
            match answer {
                Ok((204, _)) => {
                    known.deleted = true;
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok((status, body)) => {
                    let refusal = format!("DELETE {}: {status} {body}", known.name);
                    live.push(id);
                    journal.refusals.push(refusal);
                }
                Err(_) => {
                    known.delete_in_flight = true;
                    return;
                }
            }
        } else {
            let name = format!("w{worker}-t{step}");
            let description = format!("created by worker {worker}");
            let answer = api
                .call(
                    "POST",
                    "/api/v1/training-templates",
                    Some(template_body(&project, &name, &description)),
                )
                .await;
            let mut journal = journal.lock().unwrap();
            match answer {
                Ok((201, view)) => {
                    assert_eq!((&view["name"], &view["version"]), (&json!(name), &json!(1)));
                    let id = view["id"].as_str().unwrap().to_owned();
                    journal.templates.insert(
                        id.clone(),
                        Known {
                            name,
                            version: 1,
                            description,
                            edit_in_flight: None,
                            deleted: false,
                            delete_in_flight: false,
                        },
                    );
                    live.push(id);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok((status, body)) => {
                    journal
                        .refusals
                        .push(format!("POST {name}: {status} {body}"));
                    journal.uncertain_names.insert(name);
                }
                Err(_) => {
                    journal.uncertain_names.insert(name);
                    return;
                }
            }
        }
    }
}

/// Everything the lists say, for comparing two runs.
async fn snapshot(api: &Api, project: &str) -> Value {
    let projects = api.all("/api/v1/projects").await;
    let templates = api
        .all(&format!("/api/v1/training-templates?project_id={project}"))
        .await;
    let mut versions = serde_json::Map::new();
    for template in &templates {
        let id = template["id"].as_str().unwrap();
        let list = api
            .ok(
                "GET",
                &format!("/api/v1/training-templates/{id}/versions"),
                None,
            )
            .await;
        versions.insert(id.to_owned(), list);
    }
    json!({"projects": projects, "templates": templates, "versions": versions})
}

/// The list against the event log, and both against what the clients were told.
async fn check_consistency(api: &Api, project: &str, journal: &Journal) {
    let listed: BTreeMap<String, Value> = api
        .all(&format!("/api/v1/training-templates?project_id={project}"))
        .await
        .into_iter()
        .map(|item| (item["id"].as_str().unwrap().to_owned(), item))
        .collect();
    // Every listed template is in the event log, field for field.
    for (id, item) in &listed {
        let (status, current) = api
            .call("GET", &format!("/api/v1/training-templates/{id}"), None)
            .await
            .unwrap();
        assert_eq!(
            status, 200,
            "listed template {id} is unknown to the event log"
        );
        assert_eq!(
            item, &current,
            "the read model and the event log disagree on {id}"
        );
        let name = item["name"].as_str().unwrap();
        assert!(
            journal.templates.contains_key(id) || journal.uncertain_names.contains(name),
            "listed template {name} ({id}) was never requested"
        );
    }
    // Every template the clients know of is in the event log exactly when it is listed, at an
    // acknowledged (or in-flight) version.
    for (id, known) in &journal.templates {
        let (status, current) = api
            .call("GET", &format!("/api/v1/training-templates/{id}"), None)
            .await
            .unwrap();
        assert_eq!(
            status == 200,
            listed.contains_key(id),
            "{} ({id}): the event log answers {status} but the list {}",
            known.name,
            if listed.contains_key(id) {
                "has it"
            } else {
                "does not"
            }
        );
        if known.deleted {
            assert_eq!(status, 404, "{} was deleted with a 204", known.name);
            continue;
        }
        if status == 404 {
            assert!(
                known.delete_in_flight,
                "{} ({id}) was created with a 201 and never deleted, yet it is gone",
                known.name
            );
            continue;
        }
        assert_eq!(status, 200, "{current}");
        assert_eq!(current["name"], json!(known.name));
        let version = current["version"].as_u64().unwrap();
        let description = current["description"].as_str().unwrap();
        let acknowledged = version == u64::from(known.version) && description == known.description;
        let in_flight = known
            .edit_in_flight
            .as_deref()
            .is_some_and(|edit| version == u64::from(known.version) + 1 && description == edit);
        assert!(
            acknowledged || in_flight,
            "{} is at version {version} ({description}), acknowledged {} ({})",
            known.name,
            known.version,
            known.description
        );
    }
}

/// The listed template named `name` (names are unique case-insensitively), if any.
async fn listed_by_name(api: &Api, project: &str, name: &str) -> Option<Value> {
    api.all(&format!(
        "/api/v1/training-templates?project_id={project}&name={name}"
    ))
    .await
    .into_iter()
    .find(|item| {
        item["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_kill_9_mid_traffic_and_restarts() {
    let client = reqwest::Client::new();
    let nats = nats();
    let identity = start_identity(&nats).await;
    let token = identity.admin_token(&client).await;
    let db = postgres_db().await;
    let dir = tempfile::tempdir().unwrap();

    let service = start_service(&client, &nats, &db, &identity, dir.path(), 1).await;
    let api = Api {
        client: client.clone(),
        base: service.base.clone(),
        token,
    };
    let project = api
        .ok(
            "POST",
            "/api/v1/projects",
            Some(json!({"name": "crash-test"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Traffic, and a kill -9 once enough of it has been acknowledged.
    let journal = Arc::new(Mutex::new(Journal::default()));
    let acked = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            tokio::spawn(worker(
                api.clone(),
                project.clone(),
                w,
                journal.clone(),
                acked.clone(),
            ))
        })
        .collect();
    wait_until(Duration::from_secs(120), "acknowledged requests", || {
        let acked = acked.clone();
        async move { acked.load(Ordering::SeqCst) >= ACKED_BEFORE_KILL }
    })
    .await;
    service.crash().await;
    for worker in workers {
        worker.await.unwrap();
    }
    let journal = Arc::try_unwrap(journal).unwrap().into_inner().unwrap();
    let live = journal
        .templates
        .values()
        .filter(|k| !k.deleted && !k.delete_in_flight)
        .count();
    eprintln!(
        "killed after {} acknowledged requests: {} templates created, {live} live, {} uncertain names, refusals: {:#?}",
        acked.load(Ordering::SeqCst),
        journal.templates.len(),
        journal.uncertain_names.len(),
        journal.refusals
    );
    assert!(live > 0);

    // Restart on the same NATS and PostgreSQL.
    let service = start_service(&client, &nats, &db, &identity, dir.path(), 2).await;
    let api = Api {
        base: service.base.clone(),
        ..api
    };
    check_consistency(&api, &project, &journal).await;
    let after_crash = snapshot(&api, &project).await;

    // A clean restart reads the same.
    service.stop().await;
    let service = start_service(&client, &nats, &db, &identity, dir.path(), 3).await;
    let api = Api {
        base: service.base.clone(),
        ..api
    };
    let after_restart = snapshot(&api, &project).await;
    assert_eq!(
        after_crash, after_restart,
        "the lists differ between two restarts"
    );

    // A name whose create got no answer is taken by a listed template or can be created; a
    // refusal while it is not listed lasts only until the orphaned reservation may be taken over.
    for name in &journal.uncertain_names {
        let started = Instant::now();
        let body = template_body(&project, name, "created again after the crash");
        loop {
            let existing = listed_by_name(&api, &project, name).await;
            let (status, answer) = api
                .call("POST", "/api/v1/training-templates", Some(body.clone()))
                .await
                .unwrap();
            match (existing, status) {
                (None, 201) | (Some(_), 409) => break,
                (None, 409) => {
                    assert_eq!(answer["code"], "template_name_taken", "{answer}");
                    assert!(
                        started.elapsed() < ORPHANED_NAME_WINDOW,
                        "{name} is neither listed nor can be created: {answer}"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                (existing, status) => {
                    panic!("{name}: listed as {existing:?}, create answered {status} {answer}")
                }
            }
        }
        if started.elapsed() > Duration::from_secs(1) {
            eprintln!(
                "{name}: not listed, yet refused as taken for {:.1?} after the restart",
                started.elapsed()
            );
        }
    }
    service.stop().await;
}

//! Template service under open-loop load on loopback: the whole service in process (release build)
//! against the test kit's NATS and PostgreSQL, a project seeded with `SEEDED` templates, and a
//! generator that sends at a fixed arrival rate whatever the answers do, measuring each latency
//! from the request's scheduled send time (so queueing counts). Scenarios:
//!
//! * `GET /healthz` at `RATE`/s: the same server stack doing no work (the baseline);
//! * `GET /api/v1/training-templates?project_id=…&limit=50` at `RATE`/s (goal: p99 < 20 ms);
//! * `POST /api/v1/training-templates` at the highest rate creates sustain: a closed-loop probe
//!   measures their capacity, then creates are offered open-loop at `CREATE_LOAD` of it.
//!
//! Each scenario runs `RUNS` times; the table shows every run (ratios against the same run's
//! baseline), then the medians. Prints a markdown table.
//!
//! `cargo bench -p trainyard-template --bench template_load`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use trainyard_auth::testing::{Caller, TestIssuer};
use trainyard_core::TenantId;
use trainyard_template::bootstrap::CLASSIFIER;
use trainyard_template::config::default_config;
use trainyard_template::App;

const SEEDED: usize = 1_000;
/// Seeding clients; creates of one model type contend on it, so more do not help.
const SEED_CLIENTS: usize = 2;
const RATE: f64 = 1_000.0;
const DURATION: Duration = Duration::from_secs(6);
const RUNS: usize = 3;
const PROBE: Duration = Duration::from_secs(4);
const PROBE_CLIENTS: usize = 4;
/// Share of the probed create capacity offered open-loop.
const CREATE_LOAD: f64 = 0.8;
const CREATE_DURATION: Duration = Duration::from_secs(5);
const GOAL_P99_MS: f64 = 20.0;

#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
    project: String,
    names: Arc<AtomicUsize>,
}

#[derive(Clone, Copy)]
enum Scenario {
    Healthz,
    List,
    Create,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz (baseline)",
            Self::List => "GET /api/v1/training-templates?project_id=…&limit=50",
            Self::Create => "POST /api/v1/training-templates",
        }
    }
}

impl Target {
    fn create_body(&self) -> Value {
        let n = self.names.fetch_add(1, Ordering::Relaxed);
        json!({
            "project_id": self.project,
            "name": format!("bench-{n:07}"),
            "model_type_id": CLASSIFIER.to_string(),
            "description": "load benchmark",
            "parameters": {"max_iterations": 1000, "batch_size": 16},
        })
    }

    /// One request; true when it was answered with a 2xx.
    async fn send(&self, scenario: Scenario) -> bool {
        let request = match scenario {
            Scenario::Healthz => self.client.get(format!("{}/healthz", self.base)),
            Scenario::List => self
                .client
                .get(format!(
                    "{}/api/v1/training-templates?project_id={}&limit=50",
                    self.base, self.project
                ))
                .bearer_auth(&self.token),
            Scenario::Create => self
                .client
                .post(format!("{}/api/v1/training-templates", self.base))
                .bearer_auth(&self.token)
                .json(&self.create_body()),
        };
        match request.send().await {
            Ok(response) => {
                let ok = response.status().is_success();
                // Read the body: a latency includes the whole answer.
                response.bytes().await.is_ok() && ok
            }
            Err(_) => false,
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    offered: f64,
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: usize,
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn figures(
    offered: f64,
    mut latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
) -> Figures {
    latencies.sort();
    Figures {
        offered,
        achieved: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: quantile(&latencies, 0.50),
        p99_ms: quantile(&latencies, 0.99),
        max_ms: latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        errors,
    }
}

/// Open loop: request `i` is due at `start + i / rate` and is sent then, however many earlier
/// ones are still waiting for their answers; its latency runs from that due time.
async fn open_loop(target: &Target, scenario: Scenario, rate: f64, duration: Duration) -> Figures {
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let (done, mut answers) = mpsc::unbounded_channel::<(bool, Duration)>();
    let start = tokio::time::Instant::now() + Duration::from_millis(10);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let target = target.clone();
        let done = done.clone();
        tasks.spawn(async move {
            let ok = target.send(scenario).await;
            let _ = done.send((ok, due.elapsed()));
        });
    }
    drop(done);
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    while let Some((ok, latency)) = answers.recv().await {
        if ok {
            latencies.push(latency);
        } else {
            errors += 1;
        }
    }
    figures(rate, latencies, errors, elapsed)
}

/// Closed loop: `clients` each send one request after another for `duration`.
async fn closed_loop(
    target: &Target,
    scenario: Scenario,
    clients: usize,
    duration: Duration,
) -> Figures {
    let start = Instant::now();
    let runs = (0..clients).map(|_| async {
        let mut latencies = Vec::new();
        let mut errors = 0;
        while start.elapsed() < duration {
            let sent = Instant::now();
            if target.send(scenario).await {
                latencies.push(sent.elapsed());
            } else {
                errors += 1;
            }
        }
        (latencies, errors)
    });
    let results = futures::future::join_all(runs).await;
    let elapsed = start.elapsed();
    let errors = results.iter().map(|(_, e)| e).sum();
    let latencies = results.into_iter().flat_map(|(l, _)| l).collect();
    figures(f64::NAN, latencies, errors, elapsed)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Medians of each figure over the runs.
fn medians(runs: &[Figures]) -> Figures {
    Figures {
        offered: median(runs.iter().map(|f| f.offered)),
        achieved: median(runs.iter().map(|f| f.achieved)),
        p50_ms: median(runs.iter().map(|f| f.p50_ms)),
        p99_ms: median(runs.iter().map(|f| f.p99_ms)),
        max_ms: median(runs.iter().map(|f| f.max_ms)),
        errors: median(runs.iter().map(|f| f.errors as f64)) as usize,
    }
}

async fn seed(target: &Target) -> Duration {
    let started = Instant::now();
    let remaining = Arc::new(AtomicUsize::new(SEEDED));
    let clients = (0..SEED_CLIENTS).map(|_| {
        let remaining = remaining.clone();
        async move {
            while remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                // A create losing the race on the shared model type is refused; seed it again.
                while !target.send(Scenario::Create).await {}
            }
        }
    });
    futures::future::join_all(clients).await;
    started.elapsed()
}

fn main() {
    let nats = trainyard_testkit::nats();
    // The service gets its own runtime and threads; the generator runs on this thread.
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let (db, config) = server.block_on(async {
        let db = trainyard_testkit::postgres_db().await;
        let mut config = default_config();
        config.common.nats.url = nats.url();
        config.common.postgres.url = db.url();
        config.common.http.addr = "127.0.0.1:0".parse().expect("address");
        (db, config)
    });
    let issuer = TestIssuer::default();
    let verifier = issuer.verifier();
    let app = server
        .block_on(App::build_with(config, verifier))
        .expect("template service builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    server.spawn(app.run_until_stopped());

    let generator = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    generator.block_on(async {
        let tenant = TenantId::new();
        let token = issuer
            .token_for(&Caller::Administrator, tenant)
            .expect("token");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(4096)
            .build()
            .expect("client");
        let response = client
            .post(format!("{base}/api/v1/projects"))
            .bearer_auth(&token)
            .json(&json!({"name": "load", "tenant_id": tenant}))
            .send()
            .await
            .expect("project");
        assert_eq!(response.status(), 201, "project created");
        let project: Value = response.json().await.expect("project body");
        let target = Target {
            client,
            base: base.clone(),
            token,
            project: project["id"].as_str().expect("project id").to_owned(),
            names: Arc::new(AtomicUsize::new(0)),
        };
        let seeding = seed(&target).await;
        eprintln!("seeded {SEEDED} templates in {seeding:.1?}");

        // Warm up connections and caches.
        open_loop(&target, Scenario::Healthz, RATE, Duration::from_secs(1)).await;
        open_loop(&target, Scenario::List, RATE, Duration::from_secs(1)).await;
        let probe = closed_loop(&target, Scenario::Create, PROBE_CLIENTS, PROBE).await;
        let create_rate = (probe.achieved * CREATE_LOAD).max(1.0);
        eprintln!(
            "create capacity probe ({PROBE_CLIENTS} clients, closed loop): {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            probe.achieved, probe.p50_ms, probe.p99_ms, probe.errors
        );

        let mut rows: Vec<(Scenario, Vec<Figures>)> = vec![
            (Scenario::Healthz, Vec::new()),
            (Scenario::List, Vec::new()),
            (Scenario::Create, Vec::new()),
        ];
        // Scenarios alternate within each run so drift hits all of them.
        for _ in 0..RUNS {
            for (scenario, runs) in &mut rows {
                let run = match scenario {
                    Scenario::Create => {
                        open_loop(&target, *scenario, create_rate, CREATE_DURATION).await
                    }
                    _ => open_loop(&target, *scenario, RATE, DURATION).await,
                };
                eprintln!(
                    "{}: offered {:.0}/s, achieved {:.1}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                    scenario.label(),
                    run.offered,
                    run.achieved,
                    run.p50_ms,
                    run.p99_ms,
                    run.errors
                );
                runs.push(run);
            }
        }
        let creates = target.names.load(Ordering::Relaxed);
        println!(
            "open loop on loopback, latency from the scheduled send time; {RUNS} runs each; {} cores; {SEEDED} templates seeded, {creates} creates sent in all; load average {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average()
        );
        println!(
            "| run | scenario | offered/s | achieved/s | p50 ms | p99 ms | max ms | errors | p50 / baseline | p99 / baseline |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let row = |run: &str, scenario: Scenario, f: &Figures, baseline: &Figures| {
            println!(
                "| {run} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} | {} | {:.2} | {:.2} |",
                scenario.label(),
                f.offered,
                f.achieved,
                f.p50_ms,
                f.p99_ms,
                f.max_ms,
                f.errors,
                f.p50_ms / baseline.p50_ms,
                f.p99_ms / baseline.p99_ms
            );
        };
        for run in 0..RUNS {
            for (scenario, runs) in &rows {
                row(&(run + 1).to_string(), *scenario, &runs[run], &rows[0].1[run]);
            }
        }
        let baseline = medians(&rows[0].1);
        for (scenario, runs) in &rows {
            row("median", *scenario, &medians(runs), &baseline);
        }
        let met = rows[1]
            .1
            .iter()
            .filter(|f| f.p99_ms < GOAL_P99_MS && f.errors == 0)
            .count();
        println!(
            "goal: list p99 < {GOAL_P99_MS} ms at {RATE:.0} requests/s with no errors: met in {met} of {RUNS} runs"
        );
    });
    drop(server);
    drop(db);
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

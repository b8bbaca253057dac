//! Login throughput with the production argon2id parameters (m = 19 MiB, t = 2, p = 1, four
//! hashes at once), through the whole HTTP path, against raw argon2id hashing with the same
//! parameters and concurrency measured in the same run. Prints a table of medians.
//!
//! Run: `cargo bench -p trainyard-identity --bench login`

use std::time::Instant;

use argon2::Params;
use serde_json::json;
use trainyard_identity::config::PasswordHashConfig;
use trainyard_identity::password::hash_with;
use trainyard_identity::App;

const LOGINS: usize = 40;
const RUNS: usize = 5;
const PASSWORD: &str = "Bench#Passw0rd";

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn logins_per_second(client: &reqwest::Client, url: &str, concurrency: usize) -> f64 {
    let started = Instant::now();
    let per_task = LOGINS / concurrency;
    let tasks = (0..concurrency).map(|_| async {
        for _ in 0..per_task {
            let body = json!({"login": "admin", "password": PASSWORD});
            let response = client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("login request");
            assert_eq!(response.status(), 200);
        }
    });
    futures::future::join_all(tasks).await;
    (per_task * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn hashes_per_second(params: &Params, concurrency: usize) -> f64 {
    let started = Instant::now();
    let per_thread = LOGINS / concurrency;
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    hash_with(params, PASSWORD).expect("hash");
                }
            });
        }
    });
    (per_thread * concurrency) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let nats = trainyard_testkit::nats();
    let db = trainyard_testkit::postgres_db().await;
    let hashing = PasswordHashConfig::default();
    let mut config = trainyard_identity::config::default_config();
    config.common.nats.url = nats.url();
    config.common.postgres.url = db.url();
    config.common.http.addr = "127.0.0.1:0".parse().expect("address");
    config.service.bootstrap.admin_password = Some(PASSWORD.into());
    config.service.throttle.free_failures_per_address = u32::MAX;
    config.service.password_hash = hashing.clone();
    let app = App::build(config).await.expect("identity builds");
    let url = format!("http://127.0.0.1:{}/api/v1/auth/login", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let params = Params::new(
        hashing.memory_kib,
        hashing.iterations,
        hashing.parallelism,
        None,
    )
    .expect("params");
    let concurrency = hashing.max_concurrent;

    logins_per_second(&client, &url, concurrency).await;
    // Raw hashing at 1, 2 and `concurrency` threads: on a small machine argon2 is bound by
    // memory bandwidth, so more threads than cores can be slower than fewer.
    let widths: Vec<usize> = [1, 2, concurrency]
        .into_iter()
        .filter(|w| LOGINS.is_multiple_of(*w))
        .collect();
    let mut login_runs = Vec::new();
    let mut hash_runs = vec![Vec::new(); widths.len()];
    for _ in 0..RUNS {
        login_runs.push(logins_per_second(&client, &url, concurrency).await);
        for (runs, width) in hash_runs.iter_mut().zip(&widths) {
            runs.push(tokio::task::block_in_place(|| {
                hashes_per_second(&params, *width)
            }));
        }
    }
    let logins = median(login_runs);
    let hashes: Vec<f64> = hash_runs.into_iter().map(median).collect();
    let best = hashes.iter().copied().fold(0.0, f64::max);
    println!(
        "argon2id m={} KiB t={} p={}; logins {concurrency} at once; {LOGINS} operations x {RUNS} runs, medians; {} cores",
        hashing.memory_kib,
        hashing.iterations,
        hashing.parallelism,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| operation | per second | ratio to the best raw hashing |");
    println!("|---|---:|---:|");
    for (width, rate) in widths.iter().zip(&hashes) {
        println!(
            "| raw argon2id hash, {width} thread(s) (baseline) | {rate:.1} | {:.2} |",
            rate / best
        );
    }
    println!(
        "| POST /api/v1/auth/login (verify + session event + token) | {logins:.1} | {:.2} |",
        logins / best
    );
}

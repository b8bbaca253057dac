//! Dataset upload throughput on loopback: the whole service in process (release build) against the
//! test kit's NATS and PostgreSQL, one archive of `SIZE_MIB` MiB (fresh random bytes each time, so
//! no upload is a duplicate) sent
//!
//! * in one request to `POST /datasets/{id}/versions` (the baseline), and
//! * as a resumable upload: `POST /datasets/{id}/uploads`, then `PIECE_MIB` MiB pieces by `PATCH`
//!   (each piece synced to disk before it is answered; the last one hashes the whole archive again
//!   and stores it like the baseline).
//!
//! Both end with the archive in the datasets bucket and a version recorded; the time is from the
//! first byte sent to the answer that names the version. Each way runs `RUNS` times, alternating;
//! the table shows every run (the ratio against the same run's baseline), then the medians.
//! Prints a markdown table.
//!
//! `cargo bench -p trainyard-template --bench dataset_upload`

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trainyard_auth::testing::{Caller, TestIssuer};
use trainyard_core::TenantId;
use trainyard_template::config::default_config;
use trainyard_template::App;

const SIZE_MIB: usize = 256;
const PIECE_MIB: usize = 16;
const RUNS: usize = 5;

struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
    dataset: String,
}

impl Target {
    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON answer")
    }

    /// One request with the whole archive; the time until the version is recorded.
    async fn single(&self, archive: Vec<u8>) -> Duration {
        let started = Instant::now();
        let response = self
            .client
            .post(format!(
                "{}/api/v1/datasets/{}/versions",
                self.base, self.dataset
            ))
            .bearer_auth(&self.token)
            .body(archive)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 202, "one-request upload accepted");
        started.elapsed()
    }

    /// Declared, then sent in pieces; the time until the last piece's answer names the version.
    async fn resumable(&self, archive: Vec<u8>) -> Duration {
        let started = Instant::now();
        let path = format!("/api/v1/datasets/{}/uploads", self.dataset);
        let begun = self.post(&path, json!({"size": archive.len()})).await;
        let url = format!("{}{path}/{}", self.base, begun["id"].as_str().expect("id"));
        let mut answer = Value::Null;
        for (i, piece) in archive.chunks(PIECE_MIB << 20).enumerate() {
            let response = self
                .client
                .patch(&url)
                .bearer_auth(&self.token)
                .header("upload-offset", (i * (PIECE_MIB << 20)).to_string())
                .body(piece.to_vec())
                .send()
                .await
                .expect("piece");
            assert_eq!(response.status(), 200, "piece {i} accepted");
            answer = response.json().await.expect("piece answer");
        }
        assert!(answer["version"]["version"].is_u64(), "{answer}");
        started.elapsed()
    }
}

fn random_archive(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..SIZE_MIB << 17)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let nats = trainyard_testkit::nats();
    let work = tempfile::tempdir().expect("work folder");
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let (_db, config) = server.block_on(async {
        let db = trainyard_testkit::postgres_db().await;
        let mut config = default_config();
        config.common.nats.url = nats.url();
        config.common.postgres.url = db.url();
        config.common.http.addr = "127.0.0.1:0".parse().expect("address");
        config.service.datasets.work_dir = Some(work.path().to_path_buf());
        (db, config)
    });
    let issuer = TestIssuer::default();
    let app = server
        .block_on(App::build_with(config, issuer.verifier()))
        .expect("template service builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    server.spawn(app.run_until_stopped());

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async {
        let tenant = TenantId::new();
        let token = issuer
            .token_for(&Caller::Administrator, tenant)
            .expect("token");
        let mut target = Target {
            client: reqwest::Client::new(),
            base,
            token,
            dataset: String::new(),
        };
        let project = target
            .post(
                "/api/v1/projects",
                json!({"name": "uploads", "tenant_id": tenant}),
            )
            .await;
        let dataset = target
            .post(
                "/api/v1/datasets",
                json!({"project_id": project["id"], "name": "archives"}),
            )
            .await;
        target.dataset = dataset["id"].as_str().expect("dataset id").to_owned();

        // Warm up both paths once.
        target.single(random_archive(1)).await;
        target.resumable(random_archive(2)).await;
        let (mut single, mut resumable) = (Vec::new(), Vec::new());
        for run in 0..RUNS as u64 {
            let archive = random_archive(10 + 2 * run);
            single.push(target.single(archive).await.as_secs_f64());
            let archive = random_archive(11 + 2 * run);
            resumable.push(target.resumable(archive).await.as_secs_f64());
            eprintln!(
                "run {run}: one request {:.2} s, resumable {:.2} s",
                single.last().copied().unwrap_or_default(),
                resumable.last().copied().unwrap_or_default()
            );
        }
        let mib = SIZE_MIB as f64;
        println!("load average: {}", load_average());
        println!("| run | one request (baseline), s | MiB/s | resumable, {PIECE_MIB} MiB pieces, s | MiB/s | time / baseline |");
        println!("|---|---:|---:|---:|---:|---:|");
        let row = |run: &str, one: f64, pieces: f64| {
            println!(
                "| {run} | {one:.2} | {:.0} | {pieces:.2} | {:.0} | {:.2} |",
                mib / one,
                mib / pieces,
                pieces / one
            );
        };
        for (run, (one, pieces)) in single.iter().zip(&resumable).enumerate() {
            row(&(run + 1).to_string(), *one, *pieces);
        }
        row("median", median(single), median(resumable));
    });
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

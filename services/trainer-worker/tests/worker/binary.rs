//! The `trainyard-worker` binary as an operator runs it: configured by environment variables
//! (the key in a file), started without `LD_LIBRARY_PATH` (libtorch found through the rpath),
//! registering, training an order, and leaving cleanly on SIGTERM.

use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use trainyard_core::contracts::dispatch::DispatchOrder;
use trainyard_core::contracts::report::ReportBody;
use trainyard_platform::streams::StreamNames;
use trainyard_testkit::wait_until;

use crate::helpers::{Env, API_KEY, WAIT};
use crate::reading::{bodies, is_final};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_registers_trains_and_stops_on_sigterm() {
    let env = Env::with_names(true, StreamNames::default()).await;
    let key_file = env.work.path().join("api-key");
    std::fs::write(&key_file, format!("{API_KEY}\n")).unwrap();
    let log = env.work.path().join("worker.log");
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainyard-worker"))
        .env_remove("LD_LIBRARY_PATH")
        .env("TRAINYARD_NATS__URL", env.nats_url())
        .env("TRAINYARD_WORKER__MACHINE_ID", env.machine.to_string())
        .env("TRAINYARD_WORKER__API_KEY_FILE", &key_file)
        .env("TRAINYARD_WORKER__WORK_DIR", env.work.path().join("work"))
        .env("TRAINYARD_WORKER__THREADS", "1")
        .env("TRAINYARD_TELEMETRY__JSON_LOGS", "false")
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(log.with_extension("err")).unwrap(),
        ))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let seen = env.registrations.clone();
    wait_until(WAIT, "the binary's registration", || {
        let seen = seen.clone();
        async move { seen.load(Ordering::SeqCst) >= 1 }
    })
    .await;

    let dataset = env.dataset(2, 8, 16).await;
    let order = env.order(&dataset, 4);
    env.send(DispatchOrder::Start(order.clone())).await;
    let reports = env.reports_until(order.process_id, is_final).await;
    assert!(
        matches!(reports.last().unwrap().body, ReportBody::Succeeded(_)),
        "{:?}",
        bodies(&reports)
    );

    let pid = worker.id().unwrap().to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("stops within 30 s of SIGTERM")
        .unwrap();
    let output = std::fs::read_to_string(&log).unwrap_or_default()
        + &std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    assert!(status.success(), "{status}\n{output}");
    assert!(
        !output.contains(API_KEY),
        "the API key never shows in the log"
    );
}

//! Servers are removed even when the test binary dies without unwinding (abort, SIGKILL):
//! the supervisor notices that its owner process is gone.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use trainyard_testkit::{nats, postgres_db, wait_until};

const CHILD_ENV: &str = "TRAINYARD_TESTKIT_CRASH_CHILD";

/// Runs only inside the child process started by the test below: starts both servers, reports
/// where they live, then aborts.
#[tokio::test]
#[ignore = "helper process for servers_are_removed_when_the_test_binary_aborts"]
async fn crash_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let server = nats();
    let db = postgres_db().await;
    println!("NATS {} {}", server.port(), server.store_dir().display());
    println!("PG {}", db.port());
    std::process::abort();
}

#[tokio::test]
async fn servers_are_removed_when_the_test_binary_aborts() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut nats_port = 0u16;
    let mut store = PathBuf::new();
    let mut pg_port = 0u16;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest may print its own "test name ..." prefix on the same line.
        let start = line.find("NATS ").or_else(|| line.find("PG ")).unwrap_or(0);
        let parts: Vec<&str> = line[start..].split_whitespace().collect();
        match parts.as_slice() {
            ["NATS", port, dir] => {
                nats_port = port.parse().unwrap();
                store = PathBuf::from(dir);
            }
            ["PG", port] => pg_port = port.parse().unwrap(),
            _ => {}
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was meant to abort");
    assert!(
        nats_port > 0 && pg_port > 0,
        "child did not report its servers"
    );
    wait_until(
        Duration::from_secs(20),
        "servers of the aborted binary removed",
        || {
            let closed = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_err();
            let done = closed(nats_port) && closed(pg_port) && !store.exists();
            async move { done }
        },
    )
    .await;
}

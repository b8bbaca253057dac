//! A service binary as a child process, for crash tests: started on a free port with the
//! environment a test gives it, ready once `/readyz` answers 200, killed with `kill -9` (no
//! shutdown hook runs) or stopped with SIGTERM, and restarted on the same NATS and PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a start may take before the test fails with the service's output.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// One run of a service binary.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts `program` with `env` (on top of this process's environment, without
    /// `TRAINYARD_CONFIG`), listening on a free loopback port (`TRAINYARD_HTTP__ADDR`), its output
    /// in `log`; returns once `/readyz` answers 200. Panics with the output when the process exits
    /// or is not ready within a minute.
    pub async fn start(program: &Path, env: &[(&str, String)], log: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let output = std::fs::File::create(log).expect("log file");
        let mut command = Command::new(program);
        command
            .env_remove("TRAINYARD_CONFIG")
            .env("TRAINYARD_HTTP__ADDR", format!("127.0.0.1:{port}"));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log file"))
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
        let mut process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
        };
        process.wait_ready().await;
        process
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// What the process wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WITHIN;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the service exited with {status}:\n{}", self.output());
            }
            let ready = client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the service was not ready within {READY_WITHIN:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// `kill -9`: no shutdown hook runs.
    pub async fn crash(mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        let status = self
            .child
            .wait()
            .await
            .expect("the killed service is reaped");
        assert!(!status.success(), "a killed service does not exit cleanly");
    }

    /// SIGTERM, then a clean exit within 30 s.
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent to {pid}");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service stops within 30 s of SIGTERM")
            .expect("the service is reaped");
        assert!(status.success(), "clean exit: {status}\n{}", self.output());
    }
}

//! One PostgreSQL cluster per test binary (initdb in a temporary folder, free loopback port,
//! `runuser -u postgres` when running as root) and a fresh database for each test.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::process::{free_port, is_root, spawn_supervised, stop, tool, wait_for_port};

#[derive(Debug)]
pub struct PostgresServer {
    port: u16,
    data_dir: PathBuf,
    child: Mutex<Child>,
}

/// A database created for one test; dropped with the cluster when the test binary exits.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    name: String,
    port: u16,
}

impl TestDatabase {
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

static SERVER: OnceLock<PostgresServer> = OnceLock::new();

/// A fresh, empty database in this binary's PostgreSQL (started on first use).
pub async fn postgres_db() -> TestDatabase {
    let server = SERVER.get_or_init(|| {
        PostgresServer::start().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"))
    });
    server.create_database().await
}

fn as_postgres(program: &Path, args: &[String]) -> Vec<String> {
    let mut cmd = Vec::new();
    if is_root() {
        cmd.extend(["runuser", "-u", "postgres", "--"].map(String::from));
    }
    cmd.push(program.display().to_string());
    cmd.extend(args.iter().cloned());
    cmd
}

fn run(cmd: &[String]) -> io::Result<()> {
    let out = Command::new(&cmd[0]).args(&cmd[1..]).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl PostgresServer {
    fn start() -> io::Result<Self> {
        let data_dir = std::env::temp_dir().join(format!("trainyard-pg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&data_dir)?;
        if is_root() {
            run(&[
                "chown".into(),
                "postgres:postgres".into(),
                data_dir.display().to_string(),
            ])?;
        }
        let dir = data_dir.display().to_string();
        let initdb = [
            "-D",
            &dir,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ];
        run(&as_postgres(&tool("initdb")?, &initdb.map(String::from)))?;
        let mut last = None;
        for _ in 0..5 {
            match Self::launch(&data_dir) {
                Ok((port, child)) => {
                    return Ok(Self {
                        port,
                        data_dir,
                        child: Mutex::new(child),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("PostgreSQL did not start")))
    }

    fn launch(data_dir: &Path) -> io::Result<(u16, Child)> {
        let port = free_port()?;
        let dir = data_dir.display().to_string();
        // Durability is irrelevant for throw-away test data; these settings make tests faster.
        let args = [
            "-D",
            &dir,
            "-p",
            &port.to_string(),
            "-k",
            &dir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ]
        .map(String::from);
        let stop_cmd = as_postgres(
            &tool("pg_ctl")?,
            &[
                "-D".into(),
                dir.clone(),
                "stop".into(),
                "-m".into(),
                "immediate".into(),
            ],
        )
        .join(" ");
        let mut child =
            spawn_supervised(data_dir, &stop_cmd, &as_postgres(&tool("postgres")?, &args))?;
        match wait_for_port(port, &mut child, Duration::from_secs(30)) {
            Ok(()) => Ok((port, child)),
            Err(e) => {
                stop(&mut child);
                Err(e)
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    async fn create_database(&self) -> TestDatabase {
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());
        let admin = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        );
        // The port opens before the server accepts sessions; retry while it finishes starting.
        let mut attempt = 0;
        let client = loop {
            match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(conn);
                    break client;
                }
                Err(e) if attempt < 100 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot connect to test PostgreSQL: {e}"),
            }
        };
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        TestDatabase {
            name,
            port: self.port,
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            stop(&mut child);
        }
    }
}

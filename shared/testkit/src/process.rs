//! Starting supervised server processes: free ports, tool lookup and readiness by TCP connect.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SUPERVISOR: &str = include_str!("supervise.sh");

/// Where `scripts/setup.sh` put nats-server and the PostgreSQL tools.
pub fn tools_dir() -> PathBuf {
    let home = std::env::var_os("TRAINYARD_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard"));
    home.join("bin")
}

/// The program a link in [`tools_dir`] points to. PostgreSQL's tools run as `postgres`, who
/// may not be able to enter the checkout (root's home is mode 0700): the system binary itself
/// is what that user runs.
pub(crate) fn tool(name: &str) -> io::Result<PathBuf> {
    let path = tools_dir().join(name);
    std::fs::canonicalize(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{} is missing ({e}); run scripts/setup.sh", path.display()),
        )
    })
}

/// A port that was free a moment ago. Callers retry start-up if another process takes it first.
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `cmd` under the supervisor, which removes `data_dir` and runs `stop_cmd` when told to
/// or when this process disappears.
pub(crate) fn spawn_supervised(
    data_dir: &Path,
    stop_cmd: &str,
    cmd: &[String],
) -> io::Result<Child> {
    let script = data_dir.with_extension("supervise.sh");
    std::fs::write(&script, SUPERVISOR)?;
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .arg(std::process::id().to_string())
        .arg(data_dir)
        .arg(stop_cmd)
        .arg("--")
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.spawn()
}

/// Waits until something accepts TCP connections on `port`, or the supervised process exits.
pub(crate) fn wait_for_port(port: u16, child: &mut Child, timeout: Duration) -> io::Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("server exited early: {status}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("port {port} not open after {timeout:?}"),
    ))
}

/// Asks the supervisor to stop its server and waits for it to finish cleaning up.
pub(crate) fn stop(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

//! A real S3-compatible server for the tests: `moto_server` (moto in server mode, installed by
//! `scripts/s3-test-server.sh`) on a free loopback port, stopped when dropped — and by its
//! watchdog when the test process dies first.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The whole process group: the shell and moto_server.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Where moto_server is: `MULTIVIO_MOTO_SERVER`, else where the install script puts it, else
/// on `PATH`.
fn executable() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MULTIVIO_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../scripts/s3-test-server.sh"
    );
    if let Ok(out) = Command::new("bash").arg(script).arg("path").output()
        && out.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if path.is_file() {
            return Some(path);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
}

fn start() -> Result<Moto, String> {
    let server = executable().ok_or(
        "moto_server not found (run scripts/s3-test-server.sh install, or set MULTIVIO_MOTO_SERVER)",
    )?;
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    // moto_server in the background; the shell watches this process and stops moto when it
    // is gone.
    let script = format!(
        "\"$0\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.2; done; \
         kill $m 2>/dev/null; wait $m",
        parent = std::process::id()
    );
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&server)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?
    };
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not listen on port {port} within 60 s",
                server.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(moto)
}

/// A moto server, or `None` when S3 tests are turned off (`MULTIVIO_S3_TESTS=skip`, which is
/// said loudly). Without that setting a server that cannot be started fails the test.
pub fn start_or_skip() -> Option<Moto> {
    let skip = std::env::var("MULTIVIO_S3_TESTS").is_ok_and(|v| v == "skip");
    if skip {
        eprintln!("SKIPPED: S3 adapter test (MULTIVIO_S3_TESTS=skip)");
        return None;
    }
    match start() {
        Ok(moto) => Some(moto),
        Err(e) => panic!(
            "the S3 tests need an S3-compatible server: {e}. Set MULTIVIO_S3_TESTS=skip to skip them"
        ),
    }
}

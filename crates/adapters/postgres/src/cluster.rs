//! A private PostgreSQL cluster started from the system's PostgreSQL binaries: what
//! `multivio serve` uses when `DATABASE_URL` is not set, and what the test harness uses when
//! no server is given to it.
//!
//! The cluster lives in one directory. It is initialised on first use (password
//! authentication, a generated password kept beside it with mode 0600), listens on 127.0.0.1
//! only (no Unix socket), and keeps its data across restarts. Run as root, the server
//! processes run as the `postgres` user, which PostgreSQL requires.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cluster could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres; version 15 or newer) were not found \
         on PATH or under /usr/lib/postgresql/*/bin. Install them — on Debian/Ubuntu: \
         `sudo apt-get install -y postgresql` — or set DATABASE_URL to an existing server."
    )]
    BinariesMissing,
    /// Running as root, but there is no `postgres` user to run the server as.
    #[error(
        "running as root, and PostgreSQL refuses to run as root: create a `postgres` user \
         (installing the postgresql package does), run as a normal user, or set DATABASE_URL"
    )]
    NoPostgresUser,
    /// Running as root, the cluster's directory sits below one the `postgres` user cannot enter.
    #[error(
        "running as root, the cluster runs as the postgres user, which cannot enter {0} \
         (not searchable by others); choose a data directory outside it, e.g. \
         MULTIVIO_DATA_DIR=/var/lib/multivio"
    )]
    Unreachable(PathBuf),
    /// A file or directory operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A PostgreSQL tool exited with an error.
    #[error("{tool} failed ({status}); see {log}")]
    Tool {
        /// The tool (initdb, pg_ctl).
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// Where its output went.
        log: String,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// The superuser created in a private cluster.
pub const SUPERUSER: &str = "multivio";

/// A private cluster, started (or found running) in a directory.
pub struct Cluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    password: String,
    run_as: Option<(u32, u32)>,
    started_here: bool,
}

/// The superuser's password is never printed.
impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("data_dir", &self.data_dir)
            .field("bin_dir", &self.bin_dir)
            .field("port", &self.port)
            .field("password", &"[redacted]")
            .field("run_as", &self.run_as)
            .field("started_here", &self.started_here)
            .finish()
    }
}

impl Cluster {
    /// Starts the cluster in `dir` (creating it on first use), or attaches to the one already
    /// running there. Blocking: call it from `spawn_blocking` in async code.
    pub fn start(dir: &Path) -> Result<Cluster, ClusterError> {
        let bin_dir = find_binaries()?;
        let run_as = if effective_uid() == Some(0) {
            Some(postgres_user().ok_or(ClusterError::NoPostgresUser)?)
        } else {
            None
        };
        let parent = dir.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        if let Some((uid, _)) = run_as {
            check_reachable(parent, uid)?;
        }
        // Only one process may initialise or start the cluster at a time.
        let lock_path = with_suffix(dir, ".lock");
        let lock =
            File::create(&lock_path).map_err(io(format!("creating {}", lock_path.display())))?;
        lock.lock()
            .map_err(io(format!("locking {}", lock_path.display())))?;

        let password_path = with_suffix(dir, ".password");
        if !dir.join("PG_VERSION").exists() {
            let password = random_password()?;
            init(&bin_dir, dir, &password, run_as)?;
            write_secret(&password_path, &password)?;
        }
        let password = fs::read_to_string(&password_path)
            .map_err(io(format!("reading {}", password_path.display())))?
            .trim()
            .to_owned();

        let mut cluster = Cluster {
            data_dir: dir.to_path_buf(),
            bin_dir,
            port: 0,
            password,
            run_as,
            started_here: false,
        };
        if let Some(port) = running_port(dir) {
            cluster.port = port;
            return Ok(cluster);
        }
        cluster.port = free_port()?;
        let log = dir.join("server.log");
        let status = cluster
            .pg_ctl()
            .args(["-w", "-t", "60", "-l"])
            .arg(&log)
            .args(["-o", &format!("-p {}", cluster.port), "start"])
            // Its own process group: Ctrl-C in a terminal must reach us, not the server, so
            // that we stop it in order.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(io("running pg_ctl start"))?;
        if !status.success() {
            return Err(ClusterError::Tool {
                tool: "pg_ctl start",
                status: status.to_string(),
                log: log.display().to_string(),
            });
        }
        cluster.started_here = true;
        drop(lock);
        Ok(cluster)
    }

    /// The cluster running in `dir`, if one is (without starting anything). Blocking.
    pub fn attach(dir: &Path) -> Result<Option<Cluster>, ClusterError> {
        let Some(port) = running_port(dir) else {
            return Ok(None);
        };
        let run_as = if effective_uid() == Some(0) {
            postgres_user()
        } else {
            None
        };
        let password_path = with_suffix(dir, ".password");
        let password = fs::read_to_string(&password_path)
            .map_err(io(format!("reading {}", password_path.display())))?
            .trim()
            .to_owned();
        Ok(Some(Cluster {
            data_dir: dir.to_path_buf(),
            bin_dir: find_binaries()?,
            port,
            password,
            run_as,
            started_here: false,
        }))
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL of a database in this cluster (`postgres` is always there).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether this process started the server (rather than finding it running).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Stops the server (fast shutdown: open transactions roll back, data is kept).
    /// Blocking.
    pub fn stop(&self) -> Result<(), ClusterError> {
        if running_port(&self.data_dir).is_none() {
            return Ok(());
        }
        let status = self
            .pg_ctl()
            .args(["-w", "-t", "60", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(io("running pg_ctl stop"))?;
        if status.success() {
            Ok(())
        } else {
            Err(ClusterError::Tool {
                tool: "pg_ctl stop",
                status: status.to_string(),
                log: self.data_dir.join("server.log").display().to_string(),
            })
        }
    }

    fn pg_ctl(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("pg_ctl"));
        cmd.arg("-D").arg(&self.data_dir);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }
}

fn init(
    bin_dir: &Path,
    dir: &Path,
    password: &str,
    run_as: Option<(u32, u32)>,
) -> Result<(), ClusterError> {
    fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("restricting {}", dir.display())))?;
    // initdb reads the superuser's password from a file; keep it inside the (private) data
    // directory's parent only for as long as initdb runs.
    let pwfile = with_suffix(dir, ".initpw");
    write_secret(&pwfile, password)?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(io(format!("giving {} to the postgres user", dir.display())))?;
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).map_err(io(format!(
            "giving {} to the postgres user",
            pwfile.display()
        )))?;
    }
    let log = with_suffix(dir, ".initdb.log");
    let log_file = File::create(&log).map_err(io(format!("creating {}", log.display())))?;
    let log_err = log_file
        .try_clone()
        .map_err(io("duplicating a log handle"))?;
    let mut cmd = Command::new(bin_dir.join("initdb"));
    cmd.arg("-D")
        .arg(dir)
        .args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .stdout(log_file)
        .stderr(log_err);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    let status = cmd.status().map_err(io("running initdb"));
    let _ = fs::remove_file(&pwfile);
    let status = status?;
    if !status.success() {
        return Err(ClusterError::Tool {
            tool: "initdb",
            status: status.to_string(),
            log: log.display().to_string(),
        });
    }
    let mut conf = OpenOptions::new()
        .append(true)
        .open(dir.join("postgresql.conf"))
        .map_err(io("opening postgresql.conf"))?;
    conf.write_all(
        b"\n# Multivio private cluster\n\
          listen_addresses = '127.0.0.1'\n\
          unix_socket_directories = ''\n\
          max_connections = 200\n\
          shared_buffers = 128MB\n",
    )
    .map_err(io("writing postgresql.conf"))?;
    Ok(())
}

/// Every ancestor of `dir` must be searchable by the user `uid` (owner or others' `x` bit).
fn check_reachable(dir: &Path, uid: u32) -> Result<(), ClusterError> {
    use std::os::unix::fs::MetadataExt;
    let dir = fs::canonicalize(dir).map_err(io(format!("resolving {}", dir.display())))?;
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(io(format!("reading {}", ancestor.display())))?;
        if meta.uid() != uid && meta.mode() & 0o001 == 0 {
            return Err(ClusterError::Unreachable(ancestor.to_path_buf()));
        }
    }
    Ok(())
}

/// The port of the server running in `dir`, from its `postmaster.pid`, if its process lives.
fn running_port(dir: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let mut lines = pid_file.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(port)
}

/// Where the PostgreSQL server binaries are: on PATH, else the newest
/// `/usr/lib/postgresql/<major>/bin` with major ≥ 15.
pub fn find_binaries() -> Result<PathBuf, ClusterError> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // Follow symlinks (Debian links /usr/local/bin/initdb → the versioned dir).
                let real = fs::canonicalize(dir.join("initdb"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                return Ok(real);
            }
        }
    }
    let mut majors: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((major, e.path().join("bin")))
                })
                .filter(|(major, bin)| *major >= 15 && has_all(bin))
                .collect()
        })
        .unwrap_or_default();
    majors.sort();
    majors
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(ClusterError::BinariesMissing)
}

fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn postgres_user() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != "postgres" {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port();
    Ok(port)
}

fn random_password() -> Result<String, ClusterError> {
    let mut bytes = [0u8; 24];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io("reading /dev/urandom"))?;
    Ok(hex::encode(bytes))
}

fn write_secret(path: &Path, secret: &str) -> Result<(), ClusterError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    file.write_all(secret.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests;

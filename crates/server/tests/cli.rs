//! The `multivio` binary, run as a user would run it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_postgres::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_multivio");

fn multivio() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("DATABASE_URL")
        .env_remove("MULTIVIO_LISTEN")
        .env_remove("MULTIVIO_DATA_DIR")
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn help_explains_every_command() {
    let out = multivio().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "serve",
        "migrate",
        "DATABASE_URL",
        "MULTIVIO_LISTEN",
        "MULTIVIO_DATA_DIR",
    ] {
        assert!(
            help.contains(needle),
            "--help does not mention {needle}:\n{help}"
        );
    }
    let out = multivio().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("/readyz"), "{help}");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn two_concurrent_migrate_processes_apply_one_set() {
    let db = TestDb::empty().await;
    let spawn = || {
        multivio()
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let applied: Count = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result(&mut conn)
        .await
        .unwrap();
    let expected = multivio_postgres::migrate::embedded_versions().len() as i64;
    assert_eq!(applied.n, expected);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.1 GET; returns the status code, or None when nothing answers.
fn http_get(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn wait_ready(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("multivio serve exited early: {status}");
        }
        if http_get(port, "/readyz") == Some(200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("GET /readyz did not answer 200 within a minute");
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "multivio serve did not stop cleanly: {status}"
    );
}

/// The URL of the `multivio` database in the private cluster under `data_dir` (running).
fn private_db_url(data_dir: &Path) -> String {
    let pid_file = std::fs::read_to_string(data_dir.join("postgres/postmaster.pid")).unwrap();
    let port: u16 = pid_file.lines().nth(3).unwrap().trim().parse().unwrap();
    let password = std::fs::read_to_string(data_dir.join("postgres.password")).unwrap();
    format!(
        "postgres://multivio:{}@127.0.0.1:{port}/multivio",
        password.trim()
    )
}

fn serve(data_dir: &Path, port: u16) -> Child {
    serve_with(data_dir, port, &[])
}

fn serve_with(data_dir: &Path, port: u16, envs: &[(&str, &str)]) -> Child {
    multivio()
        .arg("serve")
        .env("MULTIVIO_DATA_DIR", data_dir)
        .env("MULTIVIO_LISTEN", format!("127.0.0.1:{port}"))
        // The sandbox on a free port: tests run side by side.
        .env("MULTIVIO_SANDBOX_LISTEN", "127.0.0.1:0")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn serve_on_defaults_starts_a_private_database_and_keeps_its_data() {
    let data_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{}", free_port()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();

    let mut first = serve(&data_dir, port);
    wait_ready(&mut first, port);
    assert_eq!(http_get(port, "/healthz"), Some(200));
    let cluster = data_dir.join("postgres");
    let url = private_db_url(&data_dir);
    {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        diesel::sql_query(
            "INSERT INTO subscription_history (user_email) VALUES ('kept@example.com')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    stop(first);
    assert!(
        !cluster.join("postmaster.pid").exists(),
        "the private cluster was left running"
    );

    let mut second = serve(&data_dir, port);
    wait_ready(&mut second, port);
    let url = private_db_url(&data_dir);
    let kept: Count = {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        diesel::sql_query(
            "SELECT count(*) AS n FROM subscription_history WHERE user_email = 'kept@example.com'",
        )
        .get_result(&mut conn)
        .await
        .unwrap()
    };
    stop(second);
    assert_eq!(kept.n, 1, "the second start lost the first one's data");
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A bare HTTP/1.1 request with a bearer token and an optional JSON body: (status, body).
fn http(port: u16, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The JSON of a (possibly chunked) HTTP body.
fn json_of(body: &str) -> serde_json::Value {
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[tokio::test]
async fn serve_runs_the_publishing_worker() {
    let data_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("worker-{}", free_port()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    // Without the sandbox, no platform is configured on this machine.
    let mut server = serve_with(&data_dir, port, &[("MULTIVIO_SANDBOX", "false")]);
    wait_ready(&mut server, port);
    let token = String::from_utf8(
        multivio()
            .args([
                "dev-token",
                "--uid",
                "walker",
                "--email",
                "walker@example.com",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    assert_eq!(http(port, "GET", "/v1/me", token, None).0, 200);

    // No platform is configured here: connect an account directly, and the worker must record
    // a failed target, settle the post as failed, and give the quota unit back.
    let url = private_db_url(&data_dir);
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(
        "INSERT INTO social_connections (user_id, provider, provider_account_id, access_token, is_primary)
         SELECT id, 'twitter', 'walker', 'sealed', true FROM users WHERE firebase_uid = 'walker'",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let (status, body) = http(
        port,
        "POST",
        "/v1/posts",
        token,
        Some(r#"{"name":"now","universal_content":"hi","platforms":["x"]}"#),
    );
    assert_eq!(status, 201, "{body}");
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (status, body) = http(
        port,
        "POST",
        &format!("/v1/posts/{id}/publish"),
        token,
        None,
    );
    assert_eq!(status, 202, "{body}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let post = loop {
        let post = json_of(&http(port, "GET", &format!("/v1/posts/{id}"), token, None).1);
        if post["status"] != "publishing" || Instant::now() > deadline {
            break post;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(
        post["publish_results"]["twitter"]["error"]["code"],
        "not_configured"
    );
    let me = json_of(&http(port, "GET", "/v1/me", token, None).1);
    assert_eq!(
        me["quota"]["remaining_posts"], 10,
        "every target failed: refunded"
    );
    stop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn an_exposed_server_needs_the_production_profile_and_never_takes_unsigned_tokens() {
    let data_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exposed-{}", free_port()));
    let refused = |envs: &[(&str, &str)]| {
        let out = multivio()
            .args(["serve", "--listen", "0.0.0.0:0"])
            .env("MULTIVIO_DATA_DIR", &data_dir)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{envs:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Reachable from other machines without saying it is production or development.
    let stderr = refused(&[]);
    assert!(stderr.contains("MULTIVIO_PRODUCTION"), "{stderr}");
    // A development server on purpose still takes no unsigned tokens off loopback: neither the
    // local default nor the emulator with a real project id.
    let stderr = refused(&[("MULTIVIO_DEVELOPMENT", "true")]);
    assert!(stderr.contains("unsigned"), "{stderr}");
    let stderr = refused(&[
        ("MULTIVIO_DEVELOPMENT", "true"),
        ("MULTIVIO_FIREBASE_PROJECT_ID", "real-project"),
        ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
    ]);
    assert!(stderr.contains("unsigned"), "{stderr}");
    assert!(
        !data_dir.join("postgres/postmaster.pid").exists(),
        "the private cluster was started"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

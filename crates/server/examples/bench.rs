//! The API benchmark's tools; `scripts/bench-api.sh` (`just bench-api`) drives them against a
//! private PostgreSQL and a release `multivio serve`. See docs/benchmarks.md.
//!
//! - `seed`: 10,000 users × 100 posts (half drafts), predictable ids: user `n` is
//!   `bench-<n>` with id `n`; its post `g` has the id `md5('bench-<n>-<g>')`.
//! - `claims`: the tenant claims (and their MACs, valid ten minutes) of the first users, in the
//!   owner-only table `bench_claims`, so `pgbench` can enter a tenant's session in one statement
//!   as the API does. Run right before each `pgbench`.
//! - `pgbench-scripts`: the SQL each endpoint needs, for `pgbench -f`.
//! - `load`: a load generator: `connections` concurrent keep-alive clients, each request as one
//!   of the first `users` users in turn (their emulator ID tokens minted here), for a warm-up
//!   then a measured time; prints one JSON line (requests/s, p50, p99, errors).
//! - `publish`: schedules targets due at once (or, with `--rate`, falling due at a steady
//!   rate) for users connected to the sandbox, then waits for `multivio worker` processes
//!   (started by the script) to publish them; prints targets/s, the lag from each target's due
//!   time (p50, p99, max) and how many reached the sandbox more than once.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use multivio_postgres::ClaimKeys;
use serde_json::{Value, json};

/// The Firebase project of local runs (`multivio dev-token`).
const PROJECT: &str = multivio::LOCAL_PROJECT;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seeds users and posts (owner `DATABASE_URL`).
    Seed {
        #[arg(long, default_value_t = 10_000)]
        users: i32,
        #[arg(long, default_value_t = 100)]
        posts: i32,
    },
    /// Writes `bench_claims` for users 1..=users, signed with the server's claim key.
    Claims {
        #[arg(long, default_value_t = 1_000)]
        users: i32,
    },
    /// Writes the pgbench scripts into a directory.
    PgbenchScripts {
        #[arg(long)]
        dir: std::path::PathBuf,
        #[arg(long, default_value_t = 1_000)]
        users: i32,
        /// Posts per user, as seeded.
        #[arg(long, default_value_t = 100)]
        posts: i32,
    },
    /// Drives one endpoint.
    Load {
        #[arg(long)]
        base: String,
        #[arg(long)]
        scenario: Scenario,
        #[arg(long, default_value_t = 1_000)]
        users: i32,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 5)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 20)]
        secs: u64,
    },
    /// Schedules targets due now for connected sandbox accounts and waits until published.
    Publish {
        #[arg(long)]
        base: String,
        #[arg(long)]
        sandbox: String,
        #[arg(long, default_value_t = 20_000)]
        targets: usize,
        /// Accounts to spread them over (each connected on X and Mastodon).
        #[arg(long, default_value_t = 20)]
        accounts: usize,
        /// `connect` the accounts, `prepare` (schedule the round's targets) or `wait` (until
        /// they are published, then report).
        #[arg(long)]
        phase: Phase,
        /// The round's name (each round's posts are its own).
        #[arg(long, default_value = "1")]
        round: String,
        /// Targets falling due per second, from three seconds after `prepare` (0: all at once).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
enum Phase {
    Connect,
    Prepare,
    Wait,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
enum Scenario {
    List,
    Get,
    Create,
    Validate,
    Schedule,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built without a TLS provider of its own: rustls on ring, as the server's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Seed { users, posts } => seed(users, posts).await,
        Command::Claims { users } => claims(users).await,
        Command::PgbenchScripts { dir, users, posts } => pgbench_scripts(&dir, users, posts),
        Command::Load {
            base,
            scenario,
            users,
            connections,
            warmup_secs,
            secs,
        } => {
            load(
                &base,
                scenario,
                users,
                connections,
                Duration::from_secs(warmup_secs),
                Duration::from_secs(secs),
            )
            .await
        }
        Command::Publish {
            base,
            sandbox,
            targets,
            accounts,
            phase,
            round,
            rate,
            timeout_secs,
        } => {
            publish(
                &base,
                &sandbox,
                targets,
                accounts,
                phase,
                &round,
                rate,
                Duration::from_secs(timeout_secs),
            )
            .await
        }
    }
}

async fn owner() -> anyhow::Result<AsyncPgConnection> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL (the owner's) is required")?;
    AsyncPgConnection::establish(&url)
        .await
        .context("connecting to DATABASE_URL")
}

async fn seed(users: i32, posts: i32) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = owner().await?;
    conn.batch_execute(&format!(
        "INSERT INTO users (id, firebase_uid, email, email_verified)
           SELECT g, 'bench-' || g, 'bench-' || g || '@example.com', true
             FROM generate_series(1, {users}) g;
         SELECT setval(pg_get_serial_sequence('users', 'id'), {users});
         INSERT INTO user_info (user_id, monthly_post_quota, remaining_posts, last_quota_reset,
                                quota_anchor, quota_resets_at)
           SELECT g, 1000000000, 1000000000, now(), now(), now() + interval '1 month'
             FROM generate_series(1, {users}) g;
         INSERT INTO posts (id, user_id, name, universal_content, platforms, status, created_at,
                            updated_at)
           SELECT md5('bench-' || u || '-' || g)::uuid, u, 'Post ' || g,
                  'Benchmark post number ' || g || ' of user ' || u, '[\"mastodon\"]',
                  CASE WHEN g % 2 = 0 THEN 'draft' ELSE 'published' END,
                  now() - (g || ' minutes')::interval, now()
             FROM generate_series(1, {users}) u CROSS JOIN generate_series(1, {posts}) g;
         ANALYZE;"
    ))
    .await
    .context("seeding")?;
    println!(
        "seeded {users} users and {} posts in {:.1?}",
        i64::from(users) * i64::from(posts),
        started.elapsed()
    );
    Ok(())
}

/// The claim keys the server derives from `MULTIVIO_TOKEN_KEYS`.
fn claim_keys() -> anyhow::Result<ClaimKeys> {
    let keys = std::env::var("MULTIVIO_TOKEN_KEYS").context("MULTIVIO_TOKEN_KEYS is required")?;
    let keyring = multivio_vault::Keyring::from_config(&keys).context("MULTIVIO_TOKEN_KEYS")?;
    let (kid, secret) = keyring
        .derive(multivio::database::CLAIM_PURPOSE)
        .into_iter()
        .next()
        .context("no key")?;
    Ok(ClaimKeys::new(
        format!("{}{}", multivio::database::CLAIM_KEY_PREFIX, kid.as_str()),
        &secret,
    ))
}

async fn claims(users: i32) -> anyhow::Result<()> {
    let keys = claim_keys()?;
    let mut conn = owner().await?;
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_claims (n integer PRIMARY KEY, mac text NOT NULL);
         TRUNCATE bench_claims;",
    )
    .await?;
    let values: Vec<String> = (1..=users)
        .map(|n| format!("({n}, '{}')", keys.mac(&format!("bench-{n}"))))
        .collect();
    conn.batch_execute(&format!(
        "INSERT INTO bench_claims (n, mac) VALUES {}",
        values.join(",")
    ))
    .await?;
    // A claim the database does not accept would make every baseline query see nothing (and
    // look fast): check one.
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Seen {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    conn.batch_execute(
        "BEGIN; SELECT set_config('multivio.tenant_mac', (SELECT mac FROM bench_claims WHERE n = 1), true), \
                set_config('multivio.tenant', 'bench-1', true), set_config('role', 'multivio_api', true);",
    )
    .await?;
    let visible: Seen = diesel::sql_query("SELECT count(*) AS n FROM posts WHERE user_id = 1")
        .get_result(&mut conn)
        .await?;
    conn.batch_execute("ROLLBACK").await?;
    if visible.n == 0 {
        bail!(
            "the claims are refused: a tenant sees none of its posts (is MULTIVIO_TOKEN_KEYS the \
             server's?)"
        );
    }
    Ok(())
}

/// What a listed page with at least one post contains.
const NON_EMPTY_PAGE: &[u8] = b"\"items\":[{";

/// Enters user `:n`'s session as the API does (role, claim, MAC) in one statement.
const ENTER: &str = "SELECT set_config('multivio.tenant_mac', (SELECT mac FROM bench_claims WHERE n = :n), true), \
     set_config('multivio.tenant', 'bench-' || :n, true), set_config('role', 'multivio_api', true);";

fn pgbench_scripts(dir: &std::path::Path, users: i32, posts: i32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Post `:g` of user `:n`; drafts are the even ones.
    let post = "md5('bench-' || :n || '-' || :g)::uuid";
    let draft = "md5('bench-' || :n || '-' || (:d * 2))::uuid";
    let scripts = [
        // What the API sends for a page: the session, every column of the page's posts.
        (
            "list-exact",
            format!(
                "BEGIN;\n{ENTER}\nSELECT * FROM posts WHERE user_id = :n ORDER BY created_at DESC, id DESC LIMIT 21;\nCOMMIT;"
            ),
        ),
        // The least the work needs: the session and the listed columns.
        (
            "list-lean",
            format!(
                "BEGIN;\n{ENTER}\nSELECT id, name, status, platforms, schedule_date, created_at, updated_at FROM posts WHERE user_id = :n ORDER BY created_at DESC, id DESC LIMIT 21;\nCOMMIT;"
            ),
        ),
        (
            "get",
            format!("BEGIN;\n{ENTER}\nSELECT * FROM posts WHERE id = {post};\nCOMMIT;"),
        ),
        (
            "create",
            format!(
                "BEGIN;\n{ENTER}\nINSERT INTO posts (id, user_id, name, universal_content, platforms, status) VALUES (gen_random_uuid(), :n, 'Bench', 'Benchmark post', '[\"mastodon\"]', 'draft');\nCOMMIT;"
            ),
        ),
        (
            "validate",
            format!(
                "BEGIN;\n{ENTER}\nSELECT * FROM social_connections WHERE user_id = :n;\nCOMMIT;"
            ),
        ),
        (
            "schedule",
            format!(
                "BEGIN;\n{ENTER}\nSELECT * FROM posts WHERE id = {draft} FOR UPDATE;\nSELECT multivio_private.consume_post_unit({draft}, :n);\nUPDATE publish_jobs SET status = 'cancelled' WHERE post_id = {draft} AND status = 'pending';\nINSERT INTO publish_jobs (id, user_id, post_id, provider, status, run_at) VALUES (gen_random_uuid(), :n, {draft}, 'mastodon', 'pending', now() + interval '1 day');\nUPDATE posts SET status = 'scheduled', schedule_date = now() + interval '1 day', revision = revision + 1 WHERE id = {draft};\nCOMMIT;"
            ),
        ),
    ];
    for (name, body) in scripts {
        let drafts = (posts / 2).max(1);
        let text = format!(
            "\\set n random(1, {users})\n\\set g random(1, {posts})\n\\set d random(1, {drafts})\n{body}\n"
        );
        std::fs::write(dir.join(format!("{name}.sql")), text)?;
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct PostOf {
    #[diesel(sql_type = Integer)]
    user_id: i32,
    #[diesel(sql_type = Text)]
    id: String,
}

/// Per user: one post to read, and its drafts to schedule.
async fn posts_of(users: i32) -> anyhow::Result<(HashMap<i32, String>, HashMap<i32, Vec<String>>)> {
    use diesel_async::RunQueryDsl;
    let mut conn = owner().await?;
    let rows: Vec<PostOf> = diesel::sql_query(
        "SELECT user_id, id::text AS id FROM posts WHERE user_id <= $1 AND status = 'draft'",
    )
    .bind::<Integer, _>(users)
    .load(&mut conn)
    .await?;
    let mut drafts: HashMap<i32, Vec<String>> = HashMap::new();
    for row in rows {
        drafts.entry(row.user_id).or_default().push(row.id);
    }
    let one = drafts
        .iter()
        .filter_map(|(u, ids)| <[String]>::first(ids).map(|id| (*u, id.clone())))
        .collect();
    Ok((one, drafts))
}

fn token(n: i32) -> String {
    multivio_http::auth::mint_emulator_token(
        PROJECT,
        &format!("bench-{n}"),
        Some(&format!("bench-{n}@example.com")),
        true,
        Duration::from_secs(4 * 3600),
        chrono::Utc::now(),
    )
}

struct Recorder {
    measuring: AtomicBool,
    done: AtomicBool,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

async fn load(
    base: &str,
    scenario: Scenario,
    users: i32,
    connections: usize,
    warmup: Duration,
    measured: Duration,
) -> anyhow::Result<()> {
    let tokens: Arc<Vec<String>> = Arc::new((1..=users).map(token).collect());
    let (one, drafts) = if matches!(scenario, Scenario::Get | Scenario::Schedule) {
        posts_of(users).await?
    } else {
        Default::default()
    };
    let (one, drafts) = (Arc::new(one), Arc::new(drafts));
    let recorder = Arc::new(Recorder {
        measuring: AtomicBool::new(false),
        done: AtomicBool::new(false),
        errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        let (tokens, one, drafts, recorder) = (
            tokens.clone(),
            one.clone(),
            drafts.clone(),
            recorder.clone(),
        );
        let base = base.to_owned();
        let later = later.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(100_000);
            let mut i = c;
            while !recorder.done.load(Ordering::Relaxed) {
                let n = i32::try_from(i % tokens.len()).unwrap_or(0) + 1;
                i += connections;
                let token = &tokens[usize::try_from(n - 1).unwrap_or(0)];
                let rb = match scenario {
                    Scenario::List => client.get(format!("{base}/v1/posts?limit=20")),
                    Scenario::Get => match one.get(&n) {
                        Some(id) => client.get(format!("{base}/v1/posts/{id}")),
                        None => continue,
                    },
                    Scenario::Create => client.post(format!("{base}/v1/posts")).json(&json!({
                        "name": "Bench",
                        "universal_content": "Benchmark post",
                        "platforms": ["mastodon"],
                    })),
                    Scenario::Validate => client.post(format!("{base}/v1/posts/validate")).json(
                        &json!({
                            "name": "Bench",
                            "universal_content": "Benchmark post with a link https://example.com",
                            "platforms": ["x", "mastodon", "bluesky"],
                        }),
                    ),
                    Scenario::Schedule => {
                        let Some(ids) = drafts.get(&n) else { continue };
                        let id = &ids[(i / tokens.len()) % ids.len()];
                        client
                            .post(format!("{base}/v1/posts/{id}/schedule"))
                            .json(&json!({ "schedule_date": later }))
                    }
                };
                let started = Instant::now();
                let outcome = rb.bearer_auth(token).send().await;
                let ok = match outcome {
                    Ok(resp) => {
                        let status = resp.status();
                        let body = resp.bytes().await;
                        // Every user has posts: an empty page is a tenant seeing nothing (a
                        // broken session), however fast, and no result.
                        let empty = scenario == Scenario::List
                            && body.as_ref().is_ok_and(|b| {
                                !b.windows(NON_EMPTY_PAGE.len()).any(|w| w == NON_EMPTY_PAGE)
                            });
                        if status.is_success() && body.is_ok() && !empty {
                            true
                        } else {
                            let text: String = body
                                .map(|b| String::from_utf8_lossy(&b).chars().take(300).collect())
                                .unwrap_or_default();
                            record_error(&recorder, format!("{status}: {text}"));
                            false
                        }
                    }
                    Err(e) => {
                        record_error(&recorder, e.to_string());
                        false
                    }
                };
                if ok && recorder.measuring.load(Ordering::Relaxed) {
                    let micros = started.elapsed().as_micros();
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(warmup).await;
    recorder.errors.store(0, Ordering::Relaxed);
    recorder.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(measured).await;
    recorder.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    recorder.done.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64) * p).ceil() as usize;
        all.get(i.saturating_sub(1)).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{}",
        json!({
            "scenario": format!("{scenario:?}").to_lowercase(),
            "requests": all.len(),
            "rps": all.len() as f64 / elapsed.as_secs_f64(),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "errors": recorder.errors.load(Ordering::Relaxed),
            "first_error": recorder.first_error.lock().ok().and_then(|e| e.clone()),
        })
    );
    Ok(())
}

fn record_error(recorder: &Recorder, error: String) {
    recorder.errors.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut first) = recorder.first_error.lock()
        && first.is_none()
    {
        *first = Some(error);
    }
}

// ---------------------------------------------------------------------------------------------
// The publisher.

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Lag {
    #[diesel(sql_type = BigInt)]
    ms: i64,
}

/// Connects `uid`'s X and Mastodon accounts through the API and the sandbox's consent pages.
async fn connect(
    client: &reqwest::Client,
    base: &str,
    sandbox: &str,
    n: usize,
) -> anyhow::Result<()> {
    let token = token(i32::try_from(n).unwrap_or(0) + 100_000);
    let username = format!("bench_pub_{n}");
    for (provider, body) in [
        ("twitter", json!({})),
        (
            "mastodon",
            json!({ "server_url": format!("{sandbox}/mastodon") }),
        ),
    ] {
        if provider == "twitter" {
            client
                .post(format!("{sandbox}/x/_sandbox/next_user"))
                .json(&json!({ "username": username }))
                .send()
                .await?
                .error_for_status()?;
        }
        let started: Value = client
            .post(format!("{base}/v1/connections/{provider}/authorize"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let url = started["authorization_url"]
            .as_str()
            .context("no authorization_url")?;
        // The consent page's approval, as a person's browser submits it; the callback answers
        // with the code and state (no return_to).
        let approved = approve(client, url).await?;
        client
            .post(format!("{base}/v1/connections/{provider}/complete"))
            .bearer_auth(&token)
            .json(&json!({ "code": approved["code"], "state": approved["state"] }))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("completing {provider} for {username}"))?;
    }
    Ok(())
}

/// Follows the sandbox's authorisation URL and its approval to the API's callback.
async fn approve(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let page = client.get(url).send().await?.error_for_status()?;
    let final_url = page.url().clone();
    let body: Value = page.json().await.with_context(|| {
        format!("the authorisation at {final_url} did not end at the API's callback as JSON")
    })?;
    Ok(body)
}

#[allow(clippy::too_many_arguments)]
async fn publish(
    base: &str,
    sandbox: &str,
    targets: usize,
    accounts: usize,
    phase: Phase,
    round: &str,
    rate: f64,
    timeout: Duration,
) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()?;
    let mut conn = owner().await?;
    if phase == Phase::Connect {
        for n in 0..accounts {
            connect(&client, base, sandbox, n).await?;
        }
        return Ok(());
    }
    let round = round.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let tag = format!("Due {round} %");
    if phase == Phase::Prepare {
        let posts = targets / 2;
        // Seconds between one post's due time and the next's (two targets per post).
        let step = if rate > 0.0 { 2.0 / rate } else { 0.0 };
        // Due a few seconds from now (all at once, or one post every `step` seconds), inserted
        // as the API's schedule writes them: the post scheduled with its quota unit and one
        // pending job per target.
        conn.batch_execute(&format!(
            "UPDATE user_info SET monthly_post_quota = 1000000000, remaining_posts = 1000000000
               WHERE user_id IN (SELECT id FROM users WHERE firebase_uid LIKE 'bench-1_____');
             CREATE TEMP TABLE due AS SELECT now() + interval '3 seconds' AS at;
             WITH u AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users
                         WHERE firebase_uid IN (SELECT 'bench-' || (100000 + g)
                                                  FROM generate_series(0, {accounts} - 1) g)),
                  p AS (INSERT INTO posts (id, user_id, name, universal_content, platforms, status,
                                           schedule_date)
                        SELECT gen_random_uuid(), u.id, 'Due {round} ' || g,
                               'Due post {round}-' || g || ' ' || md5(g::text),
                               '[\"twitter\", \"mastodon\"]', 'scheduled',
                               (SELECT at FROM due) + make_interval(secs => g * {step}::float8)
                          FROM generate_series(0, {posts} - 1) g
                          JOIN u ON u.k = g % {accounts}
                        RETURNING id, user_id, schedule_date)
                 , q AS (INSERT INTO post_quota_usage (post_id, user_id)
                         SELECT id, user_id FROM p)
             INSERT INTO publish_jobs (id, user_id, post_id, provider, status, run_at)
               SELECT gen_random_uuid(), p.user_id, p.id, prov, 'pending', p.schedule_date
                 FROM p CROSS JOIN (VALUES ('twitter'), ('mastodon')) v(prov);"
        ))
        .await
        .context("scheduling the due posts")?;
        return Ok(());
    }
    let started = Instant::now();
    let due_total: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM publish_jobs j JOIN posts p ON p.id = j.post_id \
          WHERE p.name LIKE $1",
    )
    .bind::<Text, _>(&tag)
    .get_result(&mut conn)
    .await?;
    loop {
        let open: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM posts WHERE name LIKE $1 \
              AND status IN ('scheduled', 'publishing')",
        )
        .bind::<Text, _>(&tag)
        .get_result(&mut conn)
        .await?;
        if open.n == 0 {
            break;
        }
        if started.elapsed() > timeout {
            bail!("{} posts still open after {timeout:?}", open.n);
        }
        // Once a second: the count scans the round's posts on the cores being measured, and the
        // figures come from the publication times, not from when this loop notices.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Lags: from the due time to each target's publication (the result's published_at).
    let lags: Vec<Lag> = diesel::sql_query(
        "SELECT (extract(epoch FROM (r.value->>'published_at')::timestamptz - p.schedule_date) * 1000)::bigint AS ms
           FROM posts p, jsonb_each(p.publish_results) r
          WHERE p.name LIKE $1 AND r.value->>'status' = 'published'",
    )
    .bind::<Text, _>(&tag)
    .load(&mut conn)
    .await?;
    let first_due: Lag = diesel::sql_query(
        "SELECT (extract(epoch FROM now() - min(schedule_date)) * 1000)::bigint AS ms \
           FROM posts WHERE name LIKE $1",
    )
    .bind::<Text, _>(&tag)
    .get_result(&mut conn)
    .await?;
    let mut ms: Vec<i64> = lags.iter().map(|l| l.ms).collect();
    ms.sort_unstable();
    let pct = |p: f64| {
        let i = ((ms.len() as f64) * p).ceil() as usize;
        ms.get(i.saturating_sub(1)).copied().unwrap_or(0)
    };
    // The rate: publications over the time from the first due time to the last publication.
    let span: Lag = diesel::sql_query(
        "SELECT coalesce((extract(epoch FROM max((r.value->>'published_at')::timestamptz) - min(p.schedule_date)) * 1000)::bigint, 0) AS ms
           FROM posts p, jsonb_each(p.publish_results) r
          WHERE p.name LIKE $1 AND r.value->>'status' = 'published'",
    )
    .bind::<Text, _>(&tag)
    .get_result(&mut conn)
    .await?;
    let span_ms = span.ms.max(1);
    // Exactly once: what the sandbox holds of these posts.
    let held: Vec<Value> = client
        .get(format!("{sandbox}/_sandbox/posts"))
        .send()
        .await?
        .json()
        .await?;
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for post in &held {
        let text = post["text"].as_str().unwrap_or_default();
        if text.starts_with(&format!("Due post {round}-")) {
            *seen
                .entry((
                    post["platform"].as_str().unwrap_or_default().to_owned(),
                    text.to_owned(),
                ))
                .or_default() += 1;
        }
    }
    let duplicates: usize = seen.values().map(|c| c.saturating_sub(1)).sum();
    println!(
        "{}",
        json!({
            "targets": due_total.n,
            "published": ms.len(),
            "on_sandbox": seen.len(),
            "duplicates": duplicates,
            "targets_per_s": ms.len() as f64 / (span_ms as f64 / 1000.0),
            "offered_per_s": rate,
            "lag_p50_ms": pct(0.50),
            "lag_p99_ms": pct(0.99),
            "lag_max_ms": ms.last().copied().unwrap_or(0),
            "since_due_ms": first_due.ms,
        })
    );
    Ok(())
}

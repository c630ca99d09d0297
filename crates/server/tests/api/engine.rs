//! The publishing engine as deployments run it: `multivio worker` processes (not tasks) against
//! one PostgreSQL and the sandbox's fakes, which count what they receive — including workers
//! killed with `kill -9` after the platform has a post, and workers paused past their lease.
//!
//! Timings are measured and printed, never asserted: CI shares two busy cores.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use multivio_domain::post::{Post, PostContent, PostInput, Target};
use multivio_domain::{JobId, PostId, Provider, Tenant};
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use serde_json::{Value, json};

use crate::Api;
use crate::platforms::{RETURN_TO, approve_in_browser, connect_x, png, upload};

/// A `multivio worker` process, killed when dropped.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn spawn(api: &Api, name: &str, lease_secs: u32) -> Worker {
        let log = api.data_dir.join(format!("worker-{name}.log"));
        std::fs::create_dir_all(&api.data_dir).unwrap();
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_multivio"))
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", api.db.url())
            .env("MULTIVIO_WORKER_DATABASE_URL", api.db.worker_url())
            // The API's directory: media live there (until they are on object storage).
            .env("MULTIVIO_DATA_DIR", &api.data_dir)
            .env("MULTIVIO_TOKEN_KEYS", crate::TOKEN_KEYS)
            .env("MULTIVIO_PUBLIC_URL", "http://localhost")
            .env("MULTIVIO_SANDBOX_URL", api.sandbox().url())
            .env("MULTIVIO_JOB_LEASE_SECONDS", lease_secs.to_string())
            .env("MULTIVIO_WORKER_CONCURRENCY", "8")
            .env("RUST_LOG", "multivio=info,multivio_app=info,warn")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap();
        Worker { child, log }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid());
    }

    /// Its whole log.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of its log, for a failing assertion.
    fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A paused process must run again to die of SIGKILL on every system.
        let _ = Command::new("kill").args(["-CONT", &self.pid()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Posts by status.
async fn statuses(api: &Api) -> BTreeMap<String, i64> {
    let mut conn = api.db.pool().get().await.unwrap();
    diesel::sql_query("SELECT status::text AS status, count(*) AS n FROM posts GROUP BY status")
        .load::<Count>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.status, c.n))
        .collect()
}

/// Waits (up to `max`) until no post is scheduled or publishing.
async fn all_settled(api: &Api, max: Duration, workers: &[&Worker]) -> BTreeMap<String, i64> {
    let start = Instant::now();
    loop {
        let by_status = statuses(api).await;
        let open = by_status.get("scheduled").copied().unwrap_or(0)
            + by_status.get("publishing").copied().unwrap_or(0);
        if open == 0 {
            return by_status;
        }
        if start.elapsed() > max {
            let logs: Vec<String> = workers.iter().map(|w| w.tail()).collect();
            panic!(
                "posts still open after {max:?}: {by_status:?}\n{}",
                logs.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `uid` connected to X, Bluesky and the sandbox's Mastodon instance.
async fn connect_all(api: &Api, uid: &str) {
    connect_x(api, uid).await;
    let (status, done) = api
        .post(
            uid,
            "/v1/connections/bluesky",
            json!({ "identifier": format!("{uid}.bsky.sandbox"), "password": "abcd-efgh-ijkl-mnop" }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    connect_mastodon(api, uid, None).await;
}

/// Plenty of quota for everyone.
async fn unlimited_quota(api: &Api) {
    let mut conn = api.db.pool().get().await.unwrap();
    diesel::sql_query(
        "UPDATE user_info SET monthly_post_quota = 1000000, remaining_posts = 1000000",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Schedules a post of `tenant` at `at`, as the API does: the quota unit and a job per target
/// in the same step.
async fn schedule(
    api: &Api,
    tenant: &Tenant,
    text: &str,
    platforms: &[Provider],
    at: chrono::DateTime<chrono::Utc>,
) -> PostId {
    let content = PostContent::parse(PostInput {
        name: text.chars().take(60).collect(),
        universal_content: Some(text.to_owned()),
        platforms: platforms.iter().map(|p| Target::primary(*p)).collect(),
        ..Default::default()
    })
    .unwrap();
    let now = chrono::Utc::now();
    let mut post = Post::new_draft(PostId(uuid::Uuid::new_v4()), tenant.user_id, content, now);
    let quota = post.schedule(at, now).unwrap();
    let jobs = post.plan_all_jobs(at, || JobId(uuid::Uuid::new_v4()));
    let id = post.id;
    api.store
        .apply(
            tenant,
            PostChange {
                quota,
                enqueue: jobs,
                ..PostChange::write(PostWrite::Insert(post))
            },
        )
        .await
        .unwrap();
    id
}

/// The sandbox's answer to `GET path`.
async fn sandbox_get(api: &Api, path: &str) -> Value {
    reqwest::get(format!("{}{path}", api.sandbox().url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn sandbox_post(api: &Api, path: &str, body: Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", api.sandbox().url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

/// Posts the fake of `platform` holds with exactly this text.
async fn posted(api: &Api, platform: &str, text: &str) -> usize {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("platform", platform)
        .append_pair("text", text)
        .finish();
    sandbox_get(api, &format!("/_sandbox/posts?{q}"))
        .await
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn four_worker_processes_publish_two_thousand_due_posts_exactly_once() {
    let api = Api::start_with_sandbox_and(false).await;
    let uids = ["ada", "bea", "cal", "dot"];
    let mut tenants = Vec::new();
    for uid in uids {
        connect_all(&api, uid).await;
        tenants.push(api.tenant(uid).await);
    }
    unlimited_quota(&api).await;

    // 2,000 posts due at the same moment, spread over the three platforms; every tenth goes
    // to all three at once (its targets' results meet on one row).
    let platforms = [Provider::X, Provider::Bluesky, Provider::Mastodon];
    let posts = 2000;
    let created = Instant::now();
    // Scheduled an hour ahead (however long scheduling takes on a busy machine, the date stays
    // in the future), then all made due together once they are in.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let mut targets = 0;
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..posts {
        let to: Vec<Provider> = if i % 10 == 0 {
            platforms.to_vec()
        } else {
            vec![platforms[i % 3]]
        };
        for p in &to {
            *expected.entry(p.as_str()).or_default() += 1;
        }
        targets += to.len();
        schedule(
            &api,
            &tenants[i % 4],
            &format!("engine post {i}"),
            &to,
            later,
        )
        .await;
    }
    eprintln!(
        "scheduled {posts} posts ({targets} targets) in {:?}",
        created.elapsed()
    );
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    {
        let mut conn = api.db.pool().get().await.unwrap();
        for table in ["publish_jobs SET run_at", "posts SET schedule_date"] {
            diesel::sql_query(format!("UPDATE {table} = $1"))
                .bind::<diesel::sql_types::Timestamptz, _>(due)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let workers: Vec<Worker> = (0..4)
        .map(|n| Worker::spawn(&api, &format!("bulk{n}"), 60))
        .collect();
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let started = Instant::now();
    let refs: Vec<&Worker> = workers.iter().collect();
    let by_status = all_settled(&api, Duration::from_secs(600), &refs).await;
    let took = started.elapsed();
    eprintln!(
        "4 worker processes published {targets} targets in {took:?} ({:.0} targets/s)",
        targets as f64 / took.as_secs_f64()
    );
    assert_eq!(
        by_status,
        BTreeMap::from([("published".to_owned(), posts as i64)])
    );
    // The platforms received one create per target: nothing twice, nothing missing.
    assert_eq!(sandbox_get(&api, "/_sandbox/duplicates").await, json!([]));
    for (provider, n) in &expected {
        let platform = if *provider == "twitter" {
            "x"
        } else {
            provider
        };
        let all = sandbox_get(&api, &format!("/_sandbox/posts?platform={platform}")).await;
        assert_eq!(all.as_array().map(Vec::len), Some(*n), "{platform}: {all}");
    }
    // As the requests show, not only what the fakes kept: X, which deduplicates nothing, got
    // exactly one create per target; Bluesky and Mastodon may see a create again after a
    // stalled worker's lease ran out, but only with the same record key or Idempotency-Key
    // (which they answer with the first post), never under a second one.
    let creates = |platform: &str, path: &str| {
        let (platform, path) = (platform.to_owned(), path.to_owned());
        let api = &api;
        async move {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("platform", &platform)
                .append_pair("method", "POST")
                .append_pair("path", &path)
                .finish();
            sandbox_get(api, &format!("/_sandbox/requests?{q}"))
                .await
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let x = creates("x", "/2/tweets").await;
    assert_eq!(x.len(), expected["twitter"], "X creates");
    let keys: BTreeSet<String> = creates("mastodon", "/api/v1/statuses")
        .await
        .iter()
        .map(|r| r["idempotency_key"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys.len(), expected["mastodon"], "Mastodon creates' keys");
    let rkeys: BTreeSet<String> = creates("bluesky", "/xrpc/com.atproto.repo.createRecord")
        .await
        .iter()
        .map(|r| {
            let body: Value =
                serde_json::from_str(r["body"].as_str().unwrap_or("{}")).unwrap_or_default();
            body["rkey"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        rkeys.len(),
        expected["bluesky"],
        "Bluesky creates' record keys"
    );
}

#[tokio::test]
async fn a_worker_killed_after_the_platform_has_the_post_never_causes_a_duplicate() {
    let api = Api::start_with_sandbox_and(false).await;
    connect_all(&api, "ada").await;
    let tenant = api.tenant("ada").await;
    // Each platform stores the next post at once, then takes 60 s to answer.
    for fake in ["x", "bsky", "mastodon"] {
        sandbox_post(
            &api,
            &format!("/{fake}/_sandbox/answer_late"),
            json!({ "seconds": 60, "count": 1 }),
        )
        .await;
    }
    let text = "killed mid-answer";
    let id = schedule(
        &api,
        &tenant,
        text,
        &[Provider::X, Provider::Bluesky, Provider::Mastodon],
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await;
    let first = Worker::spawn(&api, "doomed", 3);
    // Wait until every platform holds the post, still unanswered.
    let start = Instant::now();
    for platform in ["x", "bluesky", "mastodon"] {
        while posted(&api, platform, text).await == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{platform} never received the post\n{}",
                first.tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    first.signal("-KILL");
    let second = Worker::spawn(&api, "rescuer", 3);
    all_settled(&api, Duration::from_secs(180), &[&second]).await;
    let (_, post) = api.get("ada", &format!("/v1/posts/{}", id.0)).await;
    for (key, platform) in [
        ("twitter", "x"),
        ("bluesky", "bluesky"),
        ("mastodon", "mastodon"),
    ] {
        let result = &post["publish_results"][key];
        let status = result["status"].as_str().unwrap();
        eprintln!("{key}: {status} {}", result["error"]);
        // Reconciled (found on the platform) or left for a person — never sent twice.
        assert!(
            status == "published" || status == "needs_review",
            "{key}: {result}"
        );
        assert_eq!(posted(&api, platform, text).await, 1, "{platform}");
    }
    assert_eq!(sandbox_get(&api, "/_sandbox/duplicates").await, json!([]));
    // X was found on its timeline, Bluesky by its record key, Mastodon by its
    // Idempotency-Key: all three published.
    assert_eq!(post["status"], "published", "{post}");
}

/// Connects `uid` to the sandbox's Mastodon instance as its user `username` (else the
/// instance's next one); the connection.
async fn connect_mastodon(api: &Api, uid: &str, username: Option<&str>) -> Value {
    if let Some(username) = username {
        sandbox_post(
            api,
            "/mastodon/_sandbox/next_user",
            json!({ "username": username }),
        )
        .await;
    }
    let (status, started) = api
        .post(
            uid,
            "/v1/connections/mastodon/authorize",
            json!({ "return_to": RETURN_TO, "server_url": api.sandbox().mastodon_url() }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    let handed = approve_in_browser(api, &url).await;
    let (status, done) = api
        .post(
            uid,
            "/v1/connections/mastodon/complete",
            json!({ "code": handed["code"], "state": handed["state"] }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    done["items"][0].clone()
}

#[tokio::test]
async fn a_send_left_open_goes_on_through_its_account_after_the_primary_changed() {
    let api = Api::start_with_sandbox_and(false).await;
    let first = connect_mastodon(&api, "ada", Some("ada_first")).await;
    let second = connect_mastodon(&api, "ada", Some("ada_second")).await;
    assert_eq!(first["is_primary"], true, "{first}");
    let tenant = api.tenant("ada").await;
    // Mastodon stores the status at once, then takes 60 s to answer.
    sandbox_post(
        &api,
        "/mastodon/_sandbox/answer_late",
        json!({ "seconds": 60, "count": 1 }),
    )
    .await;
    let text = "sent, then the primary changed";
    let id = schedule(
        &api,
        &tenant,
        text,
        &[Provider::Mastodon],
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await;
    let doomed = Worker::spawn(&api, "doomed", 3);
    let start = Instant::now();
    while posted(&api, "mastodon", text).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "Mastodon never received the post\n{}",
            doomed.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    doomed.signal("-KILL");
    // The other account becomes the primary while the send's outcome is open.
    let second_id = second["id"].as_str().unwrap();
    let (status, made) = api
        .post(
            "ada",
            &format!("/v1/connections/{second_id}/primary"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let rescuer = Worker::spawn(&api, "rescuer", 3);
    all_settled(&api, Duration::from_secs(180), &[&rescuer]).await;

    // Sent again (Mastodon deduplicates by Idempotency-Key) through the account that has it,
    // not the new primary: one status, on the first account.
    let (_, post) = api.get("ada", &format!("/v1/posts/{}", id.0)).await;
    let result = &post["publish_results"]["mastodon"];
    assert_eq!(result["status"], "published", "{result}");
    assert_eq!(result["connection_id"], first["id"], "{result}");
    let q = |account: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("platform", "mastodon")
            .append_pair("account", account)
            .append_pair("text", text)
            .finish()
    };
    for (account, held) in [("@ada_first", 1), ("@ada_second", 0)] {
        let posts = sandbox_get(&api, &format!("/_sandbox/posts?{}", q(account))).await;
        assert_eq!(posts.as_array().unwrap().len(), held, "{account}: {posts}");
    }
}

#[tokio::test]
async fn a_worker_paused_past_its_lease_changes_nothing_and_posts_nothing() {
    let api = Api::start_with_sandbox_and(false).await;
    connect_x(&api, "ada").await;
    let media = upload(&api, "ada", png(64, 64), "a square").await;
    let text = "paused mid-upload";
    let (status, created) = api
        .post(
            "ada",
            "/v1/posts",
            json!({ "name": "pause", "universal_content": text, "platforms": ["x"], "media_files": [media] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // The first media call the worker makes takes 10 s.
    sandbox_post(
        &api,
        "/x/_sandbox/slow_media",
        json!({ "seconds": 10, "count": 1 }),
    )
    .await;
    let paused = Worker::spawn(&api, "paused", 3);
    let (status, _) = api
        .post("ada", &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, 202);
    // The slow call has begun once the fake's count is used up: pause the worker inside it.
    let start = Instant::now();
    while sandbox_get(&api, "/x/_sandbox/slow_media").await["count"] != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}",
            paused.tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    paused.signal("-STOP");
    // Its lease runs out; another worker publishes the post.
    let other = Worker::spawn(&api, "other", 3);
    let settled = api
        .settled_within("ada", &id, Duration::from_secs(120))
        .await;
    assert_eq!(
        settled["status"],
        "published",
        "{settled}\n{}",
        other.tail()
    );
    let finalizes = || async {
        sandbox_get(
            &api,
            "/_sandbox/requests?platform=x&method=POST&path=/2/media/upload",
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("finalize")))
        .count()
    };
    let before = finalizes().await;
    // The paused worker resumes: its upload finishes, then it finds the job taken.
    paused.signal("-CONT");
    let start = Instant::now();
    while finalizes().await == before {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the resumed worker never finished its upload\n{}",
            paused.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for it to reach the send it must not make.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(posted(&api, "x", text).await, 1, "{}", paused.tail());
    let (_, after) = api.get("ada", &format!("/v1/posts/{id}")).await;
    assert_eq!(after, settled, "the resumed worker changed nothing");
    assert!(
        paused.tail().contains("send withheld") || paused.tail().contains("lost"),
        "{}",
        paused.tail()
    );
}

#[tokio::test]
async fn a_worker_paused_after_its_send_went_out_records_nothing_over_the_one_that_took_over() {
    let api = Api::start_with_sandbox_and(false).await;
    connect_x(&api, "ada").await;
    let tenant = api.tenant("ada").await;
    // X stores the next post at once and answers 8 s later.
    sandbox_post(
        &api,
        "/x/_sandbox/answer_late",
        json!({ "seconds": 8, "count": 1 }),
    )
    .await;
    let text = "paused after the send";
    let id = schedule(
        &api,
        &tenant,
        text,
        &[Provider::X],
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await;
    let paused = Worker::spawn(&api, "paused-sender", 3);
    // The send is out (past the guard): X holds the post, its answer still to come.
    let start = Instant::now();
    while posted(&api, "x", text).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "X never received the post\n{}",
            paused.tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    paused.signal("-STOP");
    // Its lease runs out; another worker finds the post on X's timeline.
    let other = Worker::spawn(&api, "taker", 3);
    let settled = api
        .settled_within("ada", &id.0.to_string(), Duration::from_secs(120))
        .await;
    assert_eq!(
        settled["status"],
        "published",
        "{settled}\n{}",
        other.tail()
    );
    // The paused worker resumes and gets X's answer: the job is no longer its own, so it
    // writes nothing (and says what X answered).
    paused.signal("-CONT");
    let start = Instant::now();
    while !paused.log_text().contains("its result was not recorded") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the resumed worker never got X's answer\n{}",
            paused.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(posted(&api, "x", text).await, 1);
    let (_, after) = api.get("ada", &format!("/v1/posts/{}", id.0)).await;
    assert_eq!(after, settled, "the resumed worker changed nothing");
}

#[tokio::test]
async fn a_scheduled_post_starts_promptly_after_its_time() {
    let api = Api::start_with_sandbox_and(false).await;
    connect_x(&api, "ada").await;
    let _worker = Worker::spawn(&api, "prompt", 60);
    let tenant = api.tenant("ada").await;
    // Let the worker reach its idle wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let id = schedule(&api, &tenant, "on time", &[Provider::X], at).await;
    let post = api
        .settled_within("ada", &id.0.to_string(), Duration::from_secs(60))
        .await;
    assert_eq!(post["status"], "published", "{post}");
    let published: chrono::DateTime<chrono::Utc> =
        post["published_at"].as_str().unwrap().parse().unwrap();
    eprintln!(
        "a post due at {at} was published {} ms after its time",
        (published - at).num_milliseconds()
    );
}

#[tokio::test]
async fn a_platform_that_timed_out_waiting_for_the_request_is_retried_not_failed() {
    let api = Api::start_with_sandbox().await;
    connect_all(&api, "ada").await;
    // X's server gave up waiting for the request (408): nothing was created, so it is sent
    // again rather than failed.
    sandbox_post(
        &api,
        "/x/_sandbox/fail_next_tweet",
        json!({ "status": 408 }),
    )
    .await;
    let text = "timed out once";
    let (status, created) = api
        .post(
            "ada",
            "/v1/posts",
            json!({ "name": "408", "universal_content": text, "platforms": ["x"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .post("ada", &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, 202);
    let post = api
        .settled_within("ada", &id, Duration::from_secs(120))
        .await;
    assert_eq!(post["status"], "published", "{post}");
    let on_x: Vec<Value> = sandbox_get(&api, "/_sandbox/posts?platform=x")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["text"] == text)
        .cloned()
        .collect();
    assert_eq!(on_x.len(), 1, "{on_x:?}");
}

#[tokio::test]
async fn one_target_of_three_rejected_is_partial_and_a_retry_sends_only_that_one() {
    let api = Api::start_with_sandbox().await;
    connect_all(&api, "ada").await;
    sandbox_post(
        &api,
        "/x/_sandbox/fail_next_tweet",
        json!({ "status": 403 }),
    )
    .await;
    let text = "two of three";
    let (status, created) = api
        .post(
            "ada",
            "/v1/posts",
            json!({ "name": "partial", "universal_content": text, "platforms": ["x", "bluesky", "mastodon"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .post("ada", &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, 202);
    let post = api.settled("ada", &id).await;
    assert_eq!(post["status"], "partially_published", "{post}");
    assert_eq!(post["publish_results"]["twitter"]["status"], "failed");
    assert!(post["publish_results"]["twitter"]["error"]["message"].is_string());
    assert_eq!(post["publish_results"]["bluesky"]["status"], "published");
    assert_eq!(post["publish_results"]["mastodon"]["status"], "published");

    let (status, retried) = api
        .post("ada", &format!("/v1/posts/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{retried}");
    let post = api.settled("ada", &id).await;
    assert_eq!(post["status"], "published", "{post}");
    for platform in ["x", "bluesky", "mastodon"] {
        assert_eq!(posted(&api, platform, text).await, 1, "{platform}");
    }
    assert_eq!(
        post["publish_results"]["bluesky"]["attempts"], 1,
        "not re-sent"
    );
    assert_eq!(
        post["publish_results"]["mastodon"]["attempts"], 1,
        "not re-sent"
    );
    assert_eq!(post["publish_results"]["twitter"]["attempts"], 2);
}

#[tokio::test]
async fn a_token_that_no_longer_opens_needs_reauth_and_the_post_can_be_rescheduled() {
    let api = Api::start_with_sandbox().await;
    let ada = connect_x(&api, "ada").await;
    let bea = connect_x(&api, "bea").await;
    // Ada's token now holds a ciphertext bound to another row: it no longer opens, as after
    // its key was removed from the keyring.
    let mut conn = api.db.pool().get().await.unwrap();
    diesel::sql_query(
        "UPDATE social_connections SET access_token = (SELECT access_token FROM social_connections WHERE id = $2) WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(ada["id"].as_str().unwrap()).unwrap())
    .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(bea["id"].as_str().unwrap()).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, created) = api
        .post(
            "ada",
            "/v1/posts",
            json!({ "name": "sealed", "universal_content": "unreadable token", "platforms": ["x"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    api.post("ada", &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    let post = api.settled("ada", &id).await;
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(
        post["publish_results"]["twitter"]["error"]["code"],
        "needs_reauth"
    );
    assert_eq!(posted(&api, "x", "unreadable token").await, 0);
    let (_, connections) = api.get("ada", "/v1/connections").await;
    assert_eq!(connections["items"][0]["status"], "needs_reauth");

    // Nothing went out: the post can be edited and scheduled again.
    let (status, edited, _) = api
        .send(
            api.req(reqwest::Method::PATCH, "ada", &format!("/v1/posts/{id}"))
                .json(&json!({ "universal_content": "unreadable token, take two" })),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["status"], "draft");
    // Scheduling asks for the account first; once reconnected, the post is scheduled.
    let later_at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, refused) = api
        .post(
            "ada",
            &format!("/v1/posts/{id}/schedule"),
            json!({ "schedule_date": later_at }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("reconnect"), "{refused}");
    connect_x(&api, "ada").await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, scheduled) = api
        .post(
            "ada",
            &format!("/v1/posts/{id}/schedule"),
            json!({ "schedule_date": later }),
        )
        .await;
    assert_eq!(status, 200, "{scheduled}");
    assert_eq!(scheduled["status"], "scheduled");
}

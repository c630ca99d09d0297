//! Wake-ups (migration 014 and `JobListener`): which job changes notify `multivio_jobs`, with
//! what, under the runtime roles; and a listener that wakes, times out and breaks cleanly.
//!
//! Waits for a notification are generous (the test machines are shared); a wait that must
//! time out is short and only ever asserted to return `false`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::pin::pin;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use common::{draft, now, setup, tenant};
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use multivio_domain::job::{JobOutcome, NewJob};
use multivio_domain::post::{Post, Target};
use multivio_domain::{JobId, Provider, Tenant};
use multivio_ports::jobs::JobQueue;
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use multivio_postgres::testing::TestDb;
use multivio_postgres::{JOBS_CHANNEL, JobListener, PgStore};
use uuid::Uuid;

/// Long enough for a notification on a loaded machine.
const ARRIVES: StdDuration = StdDuration::from_secs(10);
/// A wait that must come back empty.
const QUIET: StdDuration = StdDuration::from_millis(300);

async fn insert_post(store: &PgStore, t: &Tenant, targets: Vec<Target>) -> Post {
    store
        .apply(
            t,
            PostChange::write(PostWrite::Insert(draft(t, "p", targets))),
        )
        .await
        .unwrap()
        .unwrap()
}

/// Enqueues one job per target of `post` at `run_at` in one unit of work, as the API does.
async fn enqueue(store: &PgStore, t: &Tenant, post: &Post, run_at: DateTime<Utc>) -> Post {
    let jobs = post
        .platforms
        .as_slice()
        .iter()
        .map(|target| NewJob {
            id: JobId(Uuid::new_v4()),
            post_id: post.id,
            target: *target,
            run_at,
        })
        .collect();
    let change = PostChange {
        enqueue: jobs,
        ..PostChange::write(PostWrite::Update {
            post: post.clone(),
            expected_revision: post.revision,
        })
    };
    store.apply(t, change).await.unwrap().unwrap()
}

/// `run_at` in microseconds since the epoch, as [`parse_epoch`] reads a payload (Unix epoch
/// seconds with a fraction).
fn epoch(run_at: DateTime<Utc>) -> i64 {
    run_at.timestamp_micros()
}

fn parse_epoch(payload: &str) -> i64 {
    let seconds: f64 = payload
        .parse()
        .map_err(|e| format!("payload {payload:?}: {e}"))
        .unwrap();
    (seconds * 1e6).round() as i64
}

/// A plain connection listening on the jobs channel (to see the payloads themselves).
struct RawListener {
    conn: AsyncPgConnection,
    owner: AsyncPgConnection,
}

impl RawListener {
    /// Listens as the worker's runtime login.
    async fn new(db: &TestDb) -> Self {
        let mut conn = AsyncPgConnection::establish(&db.worker_url())
            .await
            .unwrap();
        conn.batch_execute(&format!("LISTEN {JOBS_CHANNEL}"))
            .await
            .unwrap();
        Self {
            conn,
            owner: AsyncPgConnection::establish(db.url()).await.unwrap(),
        }
    }

    /// Every payload received since the last call. A marker notification is sent now; as
    /// notifications arrive in commit order, everything committed before it arrives first.
    async fn received(&mut self) -> Vec<i64> {
        let marker = format!("marker-{}", Uuid::new_v4());
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(JOBS_CHANNEL)
            .bind::<Text, _>(&marker)
            .execute(&mut self.owner)
            .await
            .unwrap();
        let mut notifications = pin!(self.conn.notifications_stream());
        let mut payloads = Vec::new();
        loop {
            let n = tokio::time::timeout(ARRIVES, notifications.next())
                .await
                .expect("the marker arrives")
                .expect("the connection is open")
                .unwrap();
            assert_eq!(n.channel, JOBS_CHANNEL);
            if n.payload == marker {
                return payloads;
            }
            payloads.push(parse_epoch(&n.payload));
        }
    }
}

#[tokio::test]
async fn jobs_becoming_pending_notify_at_commit_and_nothing_else_does() {
    let (db, store) = setup().await;
    let mut listener = RawListener::new(&db).await;
    let alice = tenant(&store, "alice").await;
    assert_eq!(listener.received().await, Vec::<i64>::new());

    // The API role inserts a post, then schedules two jobs in one unit of work: one
    // notification for the statement, with their run_at.
    let post = insert_post(
        &store,
        &alice,
        vec![
            Target::primary(Provider::X),
            Target::primary(Provider::Bluesky),
        ],
    )
    .await;
    assert_eq!(listener.received().await, Vec::<i64>::new(), "no job yet");
    let run_at = now() + Duration::minutes(1);
    let post = enqueue(&store, &alice, &post, run_at).await;
    assert_eq!(listener.received().await, [epoch(run_at)]);

    // A worker-only process enqueues as the worker role (with the tenant's claim).
    let worker_store = db.worker_store();
    let other = insert_post(&worker_store, &alice, vec![Target::primary(Provider::X)]).await;
    let other_at = now() + Duration::hours(3);
    enqueue(&worker_store, &alice, &other, other_at).await;
    assert_eq!(listener.received().await, [epoch(other_at)]);

    // A transaction that rolls back sends nothing.
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "BEGIN;
             INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at)
               SELECT gen_random_uuid(), user_id, id, 'twitter', now() FROM posts;
             ROLLBACK;",
        )
        .await
        .unwrap();
    assert_eq!(listener.received().await, Vec::<i64>::new());

    // Claims, lease renewals and finishing send nothing: the worker role updates jobs.
    let claimed = store
        .claim_due("w1", run_at, 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for job in &claimed {
        store
            .extend_lease(job.job_id, job.fencing_token, run_at + Duration::minutes(5))
            .await
            .unwrap();
    }
    store
        .complete(
            claimed[0].job_id,
            claimed[0].fencing_token,
            &JobOutcome::Completed,
        )
        .await
        .unwrap();
    assert_eq!(listener.received().await, Vec::<i64>::new());

    // A retry makes the job pending again: it notifies with its new time.
    let retry_at = now() + Duration::minutes(2);
    store
        .complete(
            claimed[1].job_id,
            claimed[1].fencing_token,
            &JobOutcome::RetryAt {
                run_at: retry_at,
                reason: "503".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(listener.received().await, [epoch(retry_at)]);

    // The API role cancels the post's jobs (pending → cancelled): nothing.
    let cancel = PostChange {
        cancel_pending_jobs: true,
        ..PostChange::write(PostWrite::Update {
            post: post.clone(),
            expected_revision: post.revision,
        })
    };
    store.apply(&alice, cancel).await.unwrap();
    assert_eq!(listener.received().await, Vec::<i64>::new());

    // Thousands of jobs in one statement: one notification, with the earliest run_at. Jobs
    // inserted already finished: none. A pending job moved: its new time; other edits: none.
    let earliest: DateTime<Utc> = {
        #[derive(diesel::QueryableByName)]
        struct Earliest {
            #[diesel(sql_type = diesel::sql_types::Timestamptz)]
            at: DateTime<Utc>,
        }
        owner
            .batch_execute(
                "INSERT INTO posts (user_id, name) SELECT u.id, 'bulk ' || g
                   FROM users u, generate_series(1, 5000) g WHERE u.firebase_uid = 'alice';
                 INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at)
                   SELECT gen_random_uuid(), p.user_id, p.id, 'twitter',
                          now() + interval '1 day' + (random() * interval '1 day')
                     FROM posts p WHERE p.name LIKE 'bulk %';
                 INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at, status)
                   SELECT gen_random_uuid(), p.user_id, p.id, 'mastodon', now(), 'completed'
                     FROM posts p WHERE p.name LIKE 'bulk %';",
            )
            .await
            .unwrap();
        diesel::sql_query(
            "SELECT min(j.run_at) AS at FROM publish_jobs j JOIN posts p ON p.id = j.post_id \
              WHERE p.name LIKE 'bulk %' AND j.status = 'pending'",
        )
        .get_result::<Earliest>(&mut owner)
        .await
        .unwrap()
        .at
    };
    assert_eq!(listener.received().await, [epoch(earliest)]);
    owner
        .batch_execute(
            "UPDATE publish_jobs SET last_error = 'edited' WHERE status = 'pending';
             UPDATE publish_jobs SET status = 'pending' WHERE status = 'pending';",
        )
        .await
        .unwrap();
    assert_eq!(listener.received().await, Vec::<i64>::new());
    owner
        .batch_execute(
            "UPDATE publish_jobs SET run_at = '2030-01-01T00:00:00Z'
              WHERE id = (SELECT id FROM publish_jobs WHERE status = 'pending' LIMIT 1)",
        )
        .await
        .unwrap();
    assert_eq!(
        listener.received().await,
        [epoch("2030-01-01T00:00:00Z".parse().unwrap())]
    );
}

#[tokio::test]
async fn a_listener_wakes_when_a_job_is_enqueued_or_retried_and_not_for_claims() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    // Two workers listen as the worker's runtime login.
    let mut first = JobListener::connect(&db.worker_url()).await.unwrap();
    let mut second = JobListener::connect(&db.worker_url()).await.unwrap();
    assert!(!first.wait(QUIET).await.unwrap(), "nothing happened yet");

    let post = insert_post(&store, &alice, vec![Target::primary(Provider::X)]).await;
    let run_at = now();
    enqueue(&store, &alice, &post, run_at).await;
    let started = Instant::now();
    assert!(first.wait(ARRIVES).await.unwrap(), "woken by the enqueue");
    assert!(started.elapsed() < ARRIVES);
    assert!(second.wait(ARRIVES).await.unwrap(), "every listener wakes");

    // A claim wakes nobody.
    let job = store
        .claim_due("w1", run_at, 1, Duration::seconds(30))
        .await
        .unwrap()
        .remove(0);
    assert!(!first.wait(QUIET).await.unwrap(), "claims do not wake");

    // A retry does.
    store
        .complete(
            job.job_id,
            job.fencing_token,
            &JobOutcome::RetryAt {
                run_at: now() + Duration::seconds(5),
                reason: "429".into(),
            },
        )
        .await
        .unwrap();
    assert!(first.wait(ARRIVES).await.unwrap(), "woken by the retry");
    assert!(second.wait(ARRIVES).await.unwrap());
}

#[tokio::test]
async fn a_quiet_wait_times_out() {
    let db = TestDb::new().await;
    let mut listener = JobListener::connect(&db.worker_url()).await.unwrap();
    let started = Instant::now();
    assert!(!listener.wait(QUIET).await.unwrap());
    assert!(started.elapsed() >= QUIET);
    assert!(!listener.wait(StdDuration::ZERO).await.unwrap());
    // A worker runs it on a task of its own.
    let waited = tokio::spawn(async move { listener.wait(QUIET).await })
        .await
        .unwrap();
    assert!(!waited.unwrap());
}

#[tokio::test]
async fn a_broken_listener_says_so_and_a_new_one_listens_again() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let mut listener = JobListener::connect(&db.worker_url()).await.unwrap();

    #[derive(diesel::QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = Bool)]
        done: bool,
    }
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    let terminated: Vec<Terminated> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'multivio-job-listener'",
    )
    .load(&mut owner)
    .await
    .unwrap();
    assert_eq!(terminated.len(), 1);
    assert!(terminated[0].done);
    assert!(
        listener.wait(ARRIVES).await.is_err(),
        "a terminated connection is an error, not a timeout"
    );

    let mut listener = JobListener::connect(&db.worker_url()).await.unwrap();
    let post = insert_post(&store, &alice, vec![Target::primary(Provider::X)]).await;
    enqueue(&store, &alice, &post, now()).await;
    assert!(listener.wait(ARRIVES).await.unwrap());
}

#[tokio::test]
async fn connecting_to_nowhere_fails() {
    let db = TestDb::new().await;
    let url = db
        .worker_url()
        .replace("multivio-test-login", "wrong-password");
    assert!(JobListener::connect(&url).await.is_err());
}

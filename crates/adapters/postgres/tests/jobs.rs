//! JobQueue's lease renewal and next due time, and the plans of the queue's statements.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{draft, now, setup, tenant};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use multivio_domain::job::{FencingToken, JobOutcome, NewJob};
use multivio_domain::post::{Post, Target};
use multivio_domain::{JobId, Provider, Tenant};
use multivio_ports::StoreError;
use multivio_ports::jobs::JobQueue;
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use multivio_postgres::testing::{TestDb, test_claim_keys};
use multivio_postgres::{
    DbError, PgStore, Scope, expiring_statement, in_scope, next_due_statement,
};
use uuid::Uuid;

/// Inserts a draft of `alice` targeting X and enqueues one job for it at `run_at`, as the API
/// does (one unit of work).
async fn enqueue(store: &PgStore, alice: &Tenant, run_at: DateTime<Utc>) -> (Post, JobId) {
    let post = store
        .apply(
            alice,
            PostChange::write(PostWrite::Insert(draft(
                alice,
                "p",
                vec![Target::primary(Provider::X)],
            ))),
        )
        .await
        .unwrap()
        .unwrap();
    let job = NewJob {
        id: JobId(Uuid::new_v4()),
        post_id: post.id,
        target: Target::primary(Provider::X),
        run_at,
    };
    let change = PostChange {
        enqueue: vec![job.clone()],
        ..PostChange::write(PostWrite::Update {
            post: post.clone(),
            expected_revision: post.revision,
        })
    };
    let post = store.apply(alice, change).await.unwrap().unwrap();
    (post, job.id)
}

#[tokio::test]
async fn a_renewed_lease_keeps_the_job_and_a_lost_one_cannot_be_renewed() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let due = now();
    let (_post, job_id) = enqueue(&store, &alice, due).await;
    let job = store
        .claim_due("w1", due, 1, Duration::seconds(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(job.job_id, job_id);

    // The worker renews its lease (a heartbeat): past the first lease, nobody rescues it.
    store
        .extend_lease(job.job_id, job.fencing_token, due + Duration::minutes(5))
        .await
        .unwrap();
    assert!(
        store
            .claim_due("w2", due + Duration::seconds(31), 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty(),
        "a renewed lease is not rescued"
    );
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(due + Duration::minutes(5))
    );

    // The worker stalls past its renewed lease; another one rescues the job.
    let rescued = store
        .claim_due(
            "w2",
            due + Duration::minutes(5) + Duration::seconds(1),
            10,
            Duration::seconds(30),
        )
        .await
        .unwrap();
    assert_eq!(rescued.len(), 1);
    assert!(rescued[0].fencing_token > job.fencing_token);
    assert_eq!(
        store
            .extend_lease(job.job_id, job.fencing_token, due + Duration::hours(1))
            .await
            .unwrap_err(),
        StoreError::LeaseLost,
        "the first worker's token is stale"
    );
    // The rescuer's renewal holds; the stale one changed nothing.
    let renewed = due + Duration::minutes(20);
    store
        .extend_lease(rescued[0].job_id, rescued[0].fencing_token, renewed)
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(renewed));

    // A finished job's lease is gone for good, as is an unknown job's.
    store
        .complete(
            rescued[0].job_id,
            rescued[0].fencing_token,
            &JobOutcome::Completed,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .extend_lease(rescued[0].job_id, rescued[0].fencing_token, renewed)
            .await
            .unwrap_err(),
        StoreError::LeaseLost
    );
    assert_eq!(
        store
            .extend_lease(JobId(Uuid::new_v4()), FencingToken(1), renewed)
            .await
            .unwrap_err(),
        StoreError::LeaseLost
    );
}

#[derive(diesel::QueryableByName, Debug)]
struct JobRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempt: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    run_at: chrono::DateTime<chrono::Utc>,
}

async fn job_row(owner: &mut AsyncPgConnection, id: JobId) -> JobRow {
    diesel::sql_query("SELECT status, last_error, attempt, run_at FROM publish_jobs WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .get_result(owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_row_the_core_cannot_read_is_set_aside_and_the_queue_goes_on() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let due = now();
    let (_post, unknown) = enqueue(&store, &alice, due - Duration::seconds(2)).await;
    let (_post, corrupt) = enqueue(&store, &bob, due - Duration::seconds(1)).await;
    let (_post, readable) = enqueue(&store, &alice, due).await;
    // On the jobs that sort first: a provider this build does not know (a newer build's), and
    // an owner whose sign-in id the core cannot read.
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(&format!(
            "UPDATE publish_jobs SET provider = 'friendster' WHERE id = '{}';
             UPDATE users SET firebase_uid = ' ' WHERE firebase_uid = 'bob';",
            unknown.0
        ))
        .await
        .unwrap();

    let claimed = store
        .claim_due("w1", due, 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        vec![readable],
        "the readable job is claimed despite the unreadable ones before it"
    );
    // The unknown provider's job is handed back for a build that knows it: pending a minute
    // later, its attempt not counted, the reason recorded — its post is not left publishing
    // with no job.
    let row = job_row(&mut owner, unknown).await;
    assert_eq!(
        (row.status.as_str(), row.attempt),
        ("pending", 0),
        "{row:?}"
    );
    assert_eq!(row.run_at, due + Duration::minutes(1));
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("left for a build that knows its provider"),
        "{row:?}"
    );
    // The other unreadable row is set aside, visibly.
    let row = job_row(&mut owner, corrupt).await;
    assert_eq!(row.status, "discarded", "{row:?}");
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("firebase_uid"),
        "{row:?}"
    );
    // Neither comes back before its time (the readable job's lease runs)...
    assert!(
        store
            .claim_due("w2", due + Duration::seconds(10), 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    // ...and this build hands the unknown one back again when it is due again.
    assert!(
        store
            .claim_due("w2", due + Duration::minutes(2), 10, Duration::seconds(1))
            .await
            .unwrap()
            .iter()
            .all(|j| j.job_id == readable)
    );
    let row = job_row(&mut owner, unknown).await;
    assert_eq!(
        (row.status.as_str(), row.attempt),
        ("pending", 0),
        "{row:?}"
    );
    assert_eq!(row.run_at, due + Duration::minutes(3));
}

#[tokio::test]
async fn next_due_is_the_earliest_pending_run_or_expiring_lease() {
    let (db, store) = setup().await;
    assert_eq!(store.next_due().await.unwrap(), None, "an empty queue");
    assert_eq!(db.worker_store().next_due().await.unwrap(), None);

    let alice = tenant(&store, "alice").await;
    let t0 = now();
    let in_an_hour = t0 + Duration::hours(1);
    let (_, later) = enqueue(&store, &alice, in_an_hour).await;
    assert_eq!(store.next_due().await.unwrap(), Some(in_an_hour));
    let in_half_an_hour = t0 + Duration::minutes(30);
    let (_, sooner) = enqueue(&store, &alice, in_half_an_hour).await;
    assert_eq!(store.next_due().await.unwrap(), Some(in_half_an_hour));

    // The sooner job is claimed with a lease ending after the other job's run_at.
    let claim_at = t0 + Duration::minutes(45);
    let first = store
        .claim_due("w1", claim_at, 1, Duration::minutes(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.job_id, sooner);
    assert_eq!(store.next_due().await.unwrap(), Some(in_an_hour));
    // Both claimed: the earliest lease to expire.
    let second_at = t0 + Duration::minutes(65);
    let second = store
        .claim_due("w1", second_at, 1, Duration::minutes(20))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.job_id, later);
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(claim_at + Duration::minutes(30)),
        "min(leased_until) over running jobs"
    );
    store
        .complete(first.job_id, first.fencing_token, &JobOutcome::Completed)
        .await
        .unwrap();
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(second_at + Duration::minutes(20))
    );
    // A retry counts as pending again, at its new time.
    let retry_at = t0 + Duration::hours(3);
    store
        .complete(
            second.job_id,
            second.fencing_token,
            &JobOutcome::RetryAt {
                run_at: retry_at,
                reason: "503".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(retry_at));
    let last = store
        .claim_due("w1", retry_at, 1, Duration::minutes(5))
        .await
        .unwrap()
        .remove(0);
    store
        .complete(
            last.job_id,
            last.fencing_token,
            &JobOutcome::Discarded {
                reason: "gave up".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), None, "only finished jobs");
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The plan of `sql` (parameters written in) as the worker role runs it.
async fn plan(db: &TestDb, sql: String) -> String {
    in_scope(
        db.pool(),
        Scope::Worker,
        &test_claim_keys(),
        async move |conn| {
            let lines: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN (COSTS OFF) {sql}"))
                .load(conn)
                .await?;
            Ok::<_, DbError>(
                lines
                    .into_iter()
                    .map(|l| l.line)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        },
    )
    .await
    .unwrap()
}

/// Thousands of finished jobs and connections that cannot be refreshed, a few that matter.
async fn seed_for_plans(db: &TestDb) {
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "INSERT INTO users (firebase_uid, email)
               SELECT 'user-' || g, 'user-' || g || '@example.com' FROM generate_series(1, 100) g;
             INSERT INTO posts (user_id, name) SELECT 1 + (g % 100), 'post ' || g
               FROM generate_series(1, 5000) g;
             INSERT INTO publish_jobs (id, user_id, post_id, provider, status, run_at,
                                       leased_until)
               SELECT gen_random_uuid(), p.user_id, p.id, 'twitter',
                      CASE WHEN g % 500 = 0 THEN 'pending'
                           WHEN g % 500 = 1 THEN 'running' ELSE 'completed' END,
                      now() + (g || ' seconds')::interval,
                      CASE WHEN g % 500 = 1 THEN now() + interval '5 minutes' END
                 FROM posts p, generate_series(1, 4) g;
             INSERT INTO social_connections (user_id, provider, provider_account_id, access_token,
                                             refresh_token, expires_at, status)
               SELECT 1 + (g % 100), 'twitter', 'acct-' || g, 'sealed',
                      CASE WHEN g % 50 = 0 THEN 'sealed-refresh' END,
                      now() + (g || ' seconds')::interval,
                      CASE WHEN g % 100 = 0 THEN 'needs_reauth' ELSE 'active' END
                 FROM generate_series(1, 20000) g;
             ANALYZE;",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_queues_lookups_are_served_by_their_partial_indexes() {
    let db = TestDb::new().await;
    seed_for_plans(&db).await;

    let next_due = plan(&db, next_due_statement().to_owned()).await;
    for index in ["idx_publish_jobs_due", "idx_publish_jobs_lease"] {
        assert!(
            next_due.contains(&format!("Index Only Scan using {index}"))
                || next_due.contains(&format!("Index Scan using {index}")),
            "next_due does not use {index}:\n{next_due}"
        );
    }
    assert!(!next_due.contains("Seq Scan"), "{next_due}");

    let expiring = plan(
        &db,
        expiring_statement()
            .replace("$1", "now() + interval '1 hour'")
            .replace("$2", "50"),
    )
    .await;
    assert!(
        expiring.contains("Index Scan using idx_social_connections_refresh_due"),
        "expiring does not use its index:\n{expiring}"
    );
    assert!(
        !expiring.contains("Seq Scan on social_connections"),
        "{expiring}"
    );
}

#[tokio::test]
async fn a_platforms_reason_with_a_nul_is_kept_with_it_replaced() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let due = now();
    let (_post, id) = enqueue(&store, &alice, due).await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    for (n, outcome) in [
        JobOutcome::RetryAt {
            run_at: due,
            reason: "429: slow\u{0} down".into(),
        },
        JobOutcome::Discarded {
            reason: "gave up\u{0}".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let job = store
            .claim_due("w", due, 1, Duration::seconds(30))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(job.job_id, id);
        store
            .complete(job.job_id, job.fencing_token, &outcome)
            .await
            .unwrap();
        let kept = ["429: slow\u{FFFD} down", "gave up\u{FFFD}"][n];
        assert_eq!(
            job_row(&mut owner, id).await.last_error.as_deref(),
            Some(kept)
        );
    }
}

//! Seeds a database with 1,000,000 posts (1,000 users) and 200,000 publishing jobs, then
//! prints the plans of "list my posts" (first page and a later page, as the API role with the
//! tenant claim set, RLS on), of the workers' due-job claim and of the next due time — each
//! must be an index scan.
//!
//! `just explain` runs it (against DATABASE_URL or the private test cluster).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::time::Instant;

use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use multivio_postgres::testing::{TestDb, test_claim_keys};
use multivio_postgres::{DbError, Scope, due_claim_statement, in_scope, next_due_statement};

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The store's post listing, as SQL: newest first, keyset on (created_at, id) as a row
/// comparison.
const LIST_FIRST_PAGE: &str = "SELECT p.* FROM posts p WHERE p.user_id = 500
  ORDER BY p.created_at DESC, p.id DESC LIMIT 21";
const LIST_LATER_PAGE: &str = "SELECT p.* FROM posts p WHERE p.user_id = 500
       AND (p.created_at, p.id) < (now() - interval '5 days', '80000000-0000-0000-0000-000000000000')
  ORDER BY p.created_at DESC, p.id DESC LIMIT 21";

async fn explain(
    db: &TestDb,
    scope: Scope<'_>,
    title: &str,
    sql: String,
    bind_now: bool,
) -> String {
    let plan = in_scope(db.pool(), scope, &test_claim_keys(), async move |conn| {
        let query = diesel::sql_query(format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"));
        let lines: Vec<PlanLine> = if bind_now {
            query
                .bind::<Text, _>("explain-worker")
                .bind::<Timestamptz, _>(chrono::Utc::now())
                .bind::<diesel::sql_types::BigInt, _>(30_000_i64)
                .bind::<diesel::sql_types::BigInt, _>(25_i64)
                .load(conn)
                .await?
        } else {
            query.load(conn).await?
        };
        // Roll back: the claim's EXPLAIN ANALYZE really updated rows.
        Err::<(), _>(DbError::Migration(
            lines
                .into_iter()
                .map(|l| l.line)
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    })
    .await;
    let plan = match plan {
        Err(DbError::Migration(plan)) => plan,
        other => panic!("EXPLAIN failed: {other:?}"),
    };
    println!("\n== {title}\n{plan}");
    plan
}

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    let started = Instant::now();
    owner
        .batch_execute(
            "INSERT INTO users (firebase_uid, email)
               SELECT 'user-' || g, 'user-' || g || '@example.com' FROM generate_series(1, 1000) g;
             INSERT INTO user_info (user_id) SELECT id FROM users;
             INSERT INTO posts (user_id, name, platforms, status, created_at, updated_at)
               SELECT 1 + (g % 1000), 'post ' || g, '[\"twitter\", \"linkedin\"]',
                      CASE WHEN g % 10 = 0 THEN 'scheduled' ELSE 'published' END,
                      now() - (g || ' seconds')::interval, now()
                 FROM generate_series(1, 1000000) g;
             INSERT INTO publish_jobs (id, user_id, post_id, provider, status, run_at)
               SELECT gen_random_uuid(), p.user_id, p.id, 'twitter',
                      CASE WHEN random() < 0.99 THEN 'completed' ELSE 'pending' END,
                      p.created_at + interval '1 day'
                 FROM posts p WHERE p.status = 'scheduled' OR random() < 0.1;
             ANALYZE;",
        )
        .await
        .unwrap();
    println!(
        "seeded 1,000,000 posts and their jobs in {:.1?}",
        started.elapsed()
    );

    let mut bad = Vec::new();
    for (title, sql) in [
        (
            "list my posts: first page (API role, RLS on)",
            LIST_FIRST_PAGE,
        ),
        ("list my posts: a later page", LIST_LATER_PAGE),
    ] {
        let plan = explain(&db, Scope::Tenant("user-500"), title, sql.to_owned(), false).await;
        if !plan.contains("Index Scan using idx_posts_user_id_created_at") {
            bad.push(title);
        }
    }
    let plan = explain(
        &db,
        Scope::Worker,
        "claim due jobs (worker role)",
        due_claim_statement(),
        true,
    )
    .await;
    if !plan.contains("Index Scan using idx_publish_jobs_due") {
        bad.push("claim due jobs");
    }
    let plan = explain(
        &db,
        Scope::Worker,
        "when the next job is due (worker role)",
        next_due_statement().to_owned(),
        false,
    )
    .await;
    if !["idx_publish_jobs_due", "idx_publish_jobs_lease"]
        .iter()
        .all(|index| plan.contains(&format!("Scan using {index}")))
    {
        bad.push("next due");
    }
    assert!(bad.is_empty(), "not served by an index: {bad:?}");
    println!("\nevery plan above is an index scan");
}

//! The migrations: reversible, complete, and the Row Level Security they set up holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::sql_types::{BigInt, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use multivio_postgres::migrate::{MIGRATIONS, embedded_versions};
use multivio_postgres::testing::{TestDb, test_claim_keys};
use multivio_postgres::{Scope, in_scope, run_migrations};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Everything the migrations define in the public and auth schemas, one line per object.
async fn catalog(url: &str) -> Vec<String> {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let rows: Vec<Line> = diesel::sql_query(
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
                 || is_nullable || ' ' || coalesce(column_default, '') AS line
           FROM information_schema.columns WHERE table_schema = 'public'
         UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
         UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace
         UNION ALL SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' '
                 || array_to_string(roles, ',') || ' ' || coalesce(qual, '') || ' '
                 || coalesce(with_check, '')
           FROM pg_policies WHERE schemaname = 'public'
         UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname
           FROM pg_trigger WHERE NOT tgisinternal
         UNION ALL SELECT 'rls ' || relname || ' ' || relrowsecurity || ' ' || relforcerowsecurity
           FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
         UNION ALL SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'auth'))
         ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| r.line)
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect()
}

/// Runs `work` on a blocking connection to `url`, as diesel's migration harness needs.
async fn with_harness(
    url: &str,
    work: impl FnOnce(&mut AsyncConnectionWrapper<AsyncPgConnection>) + Send + 'static,
) {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .unwrap();
        work(&mut conn);
    })
    .await
    .unwrap();
}

async fn revert_all(url: &str) {
    with_harness(url, |conn| {
        conn.revert_all_migrations(MIGRATIONS).unwrap();
    })
    .await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_to_the_same_schema() {
    let db = TestDb::empty().await;
    let applied = run_migrations(db.url()).await.unwrap();
    assert_eq!(applied, embedded_versions());
    assert_eq!(applied[..5], ["001", "002", "003", "004", "005"]);
    let first = catalog(db.url()).await;
    assert!(
        first
            .iter()
            .any(|l| l.starts_with("column posts.publish_results jsonb"))
    );
    assert!(first.iter().any(|l| l == "rls posts true true"));

    revert_all(db.url()).await;
    let empty = catalog(db.url()).await;
    assert!(empty.is_empty(), "down migrations left: {empty:#?}");

    run_migrations(db.url()).await.unwrap();
    assert_eq!(catalog(db.url()).await, first);
    // A second run finds nothing to do.
    assert!(run_migrations(db.url()).await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_migration_runs_apply_one_set() {
    let db = TestDb::empty().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            tokio::spawn(async move { run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().expect("no run fails"));
    }
    applied.sort();
    assert_eq!(
        applied,
        embedded_versions(),
        "each migration applied exactly once"
    );
}

#[tokio::test]
async fn accounts_sharing_a_payment_customer_stop_the_billing_migration_with_the_customer_named() {
    let db = TestDb::empty().await;
    run_migrations(db.url()).await.unwrap();
    // Back to before 018, with two accounts sharing a customer (as 017 allowed).
    revert_to(db.url(), "018").await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "INSERT INTO users (firebase_uid, email, stripe_customer_id) VALUES
           ('uid-a', 'a@example.com', 'cus_shared'), ('uid-b', 'b@example.com', 'cus_shared'),
           ('uid-c', 'c@example.com', 'cus_own'), ('uid-d', 'd@example.com', NULL),
           ('uid-e', 'e@example.com', NULL);",
    )
    .await
    .unwrap();

    let error = run_migrations(db.url()).await.unwrap_err().to_string();
    assert!(
        error.contains("share the Stripe customers cus_shared:"),
        "{error}"
    );
    // Nothing of 018 stayed, and the owner's Row Level Security is forced again.
    let left: Vec<Line> = diesel::sql_query(
        "SELECT indexname AS line FROM pg_indexes WHERE indexname = 'idx_users_stripe_customer_id'
         UNION ALL SELECT 'rls forced' FROM pg_class
          WHERE oid = 'users'::regclass AND relforcerowsecurity",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        left,
        vec![Line {
            line: "rls forced".into()
        }]
    );

    // Each account given its own customer, the migration goes through.
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "UPDATE users SET stripe_customer_id = 'cus_b' WHERE firebase_uid = 'uid-b'",
    )
    .await
    .unwrap();
    assert_eq!(run_migrations(db.url()).await.unwrap()[0], "018");
}

/// The embedded migrations from `version` on: what running them applies after reverting to it.
fn versions_from(version: &str) -> Vec<String> {
    embedded_versions()
        .into_iter()
        .skip_while(|v| v != version)
        .collect()
}

/// Reverts the newest migrations down to `version` included.
async fn revert_to(url: &str, version: &str) {
    let version = version.to_owned();
    with_harness(url, move |conn| {
        while conn.revert_last_migration(MIGRATIONS).unwrap().to_string() != version {}
    })
    .await;
}

#[tokio::test]
async fn videos_stored_before_019_lose_the_platforms_that_do_not_take_them() {
    let db = TestDb::empty().await;
    run_migrations(db.url()).await.unwrap();
    revert_to(db.url(), "019").await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        r#"INSERT INTO users (firebase_uid, email) VALUES ('uid-a', 'a@example.com');
           INSERT INTO media_files (user_id, filename, file_type, file_size, platform_compatibility)
           SELECT id, f, t, 10, c::jsonb FROM users, (VALUES
             ('v.mp4', 'video/mp4', '["twitter", "linkedin", "bluesky", "youtube"]'),
             ('i.png', 'image/png', '["twitter", "linkedin", "bluesky"]'),
             ('w.webm', 'video/webm', '["bluesky", "mastodon"]')) AS m(f, t, c);"#,
    )
    .await
    .unwrap();
    assert_eq!(
        run_migrations(db.url()).await.unwrap(),
        versions_from("019")
    );
    let rows: Vec<Line> = diesel::sql_query(
        "SELECT filename || ' ' || platform_compatibility::text AS line FROM media_files
          ORDER BY filename",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows.into_iter().map(|r| r.line).collect::<Vec<_>>(),
        [
            r#"i.png ["twitter", "linkedin", "bluesky"]"#,
            r#"v.mp4 ["twitter", "youtube"]"#,
            r#"w.webm ["mastodon"]"#,
        ]
    );
}

#[tokio::test]
async fn periods_running_before_021_end_a_calendar_month_after_their_start() {
    let db = TestDb::empty().await;
    run_migrations(db.url()).await.unwrap();
    revert_to(db.url(), "021").await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    // One period from its start, one from the row's creation (no start written).
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "INSERT INTO users (firebase_uid, email) VALUES
           ('uid-a', 'a@example.com'), ('uid-b', 'b@example.com');
         INSERT INTO user_info (user_id, last_quota_reset)
           SELECT id, '2025-03-01 02:00Z' FROM users WHERE firebase_uid = 'uid-a';
         INSERT INTO user_info (user_id, last_quota_reset, created_at)
           SELECT id, NULL, '2025-01-31 12:00Z' FROM users WHERE firebase_uid = 'uid-b';",
    )
    .await
    .unwrap();
    assert_eq!(
        run_migrations(db.url()).await.unwrap(),
        versions_from("021")
    );
    let rows: Vec<Line> = diesel::sql_query(
        "SELECT u.firebase_uid || ' ' || to_char(i.quota_resets_at AT TIME ZONE 'UTC',
                'YYYY-MM-DD HH24:MI') || ' ' || COALESCE(i.quota_anchor::text, 'no anchor') AS line
           FROM user_info i JOIN users u ON u.id = i.user_id ORDER BY u.firebase_uid",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows.into_iter().map(|r| r.line).collect::<Vec<_>>(),
        [
            "uid-a 2025-04-01 02:00 no anchor",
            "uid-b 2025-02-28 12:00 no anchor"
        ]
    );
}

#[tokio::test]
async fn every_foreign_key_has_an_index() {
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let unindexed: Vec<Line> = diesel::sql_query(
        "SELECT c.conrelid::regclass || '(' || a.attname || ')' AS line
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
          WHERE c.contype = 'f' AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                 WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(unindexed, vec![], "foreign keys without an index");
}

async fn seed_two_tenants(url: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    // As the owner (a superuser here), bypassing RLS to set the scene.
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "INSERT INTO users (firebase_uid, email) VALUES ('uid-a', 'a@example.com'), ('uid-b', 'b@example.com');
         INSERT INTO posts (user_id, name) SELECT id, 'post of ' || firebase_uid FROM users;",
    )
    .await
    .unwrap();
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn visible_posts(db: &TestDb, scope: Scope<'_>) -> Vec<String> {
    in_scope(db.pool(), scope, &test_claim_keys(), async |conn| {
        let rows: Vec<Line> = diesel::sql_query("SELECT name AS line FROM posts ORDER BY name")
            .load(conn)
            .await?;
        Ok::<_, multivio_postgres::DbError>(rows.into_iter().map(|r| r.line).collect())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_api_role_sees_only_the_claimed_tenant() {
    let db = TestDb::new().await;
    seed_two_tenants(db.url()).await;
    assert_eq!(
        visible_posts(&db, Scope::Tenant("uid-a")).await,
        ["post of uid-a"]
    );
    assert_eq!(
        visible_posts(&db, Scope::Tenant("uid-b")).await,
        ["post of uid-b"]
    );
    assert!(visible_posts(&db, Scope::Tenant("")).await.is_empty());
    assert!(
        visible_posts(&db, Scope::Tenant("uid-nobody"))
            .await
            .is_empty()
    );
    assert_eq!(visible_posts(&db, Scope::Worker).await.len(), 2);

    let err = in_scope(
        db.pool(),
        Scope::Tenant("uid-a"),
        &test_claim_keys(),
        async |conn| {
            let b: Count =
                diesel::sql_query("SELECT id::bigint AS n FROM users WHERE firebase_uid = 'uid-b'")
                    .get_result(conn)
                    .await?;
            Ok::<_, multivio_postgres::DbError>(b.n)
        },
    )
    .await;
    assert!(err.is_err(), "uid-a cannot even see uid-b's user row");
    // Writing a row for another tenant is refused by the policy's check (42501).
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    let b: Count =
        diesel::sql_query("SELECT id::bigint AS n FROM users WHERE firebase_uid = 'uid-b'")
            .get_result(&mut owner)
            .await
            .unwrap();
    let forged = in_scope(
        db.pool(),
        Scope::Tenant("uid-a"),
        &test_claim_keys(),
        async |conn| {
            diesel::sql_query("INSERT INTO posts (user_id, name) VALUES ($1, 'forged')")
                .bind::<diesel::sql_types::Integer, _>(b.n as i32)
                .execute(conn)
                .await?;
            Ok::<_, multivio_postgres::DbError>(())
        },
    )
    .await;
    let message = format!("{:?}", forged.unwrap_err());
    assert!(message.contains("row-level security"), "{message}");
    assert_eq!(
        visible_posts(&db, Scope::Tenant("uid-b")).await,
        ["post of uid-b"]
    );
}

#[tokio::test]
async fn a_pooled_connection_carries_no_tenant_into_the_next_use() {
    let db = TestDb::new().await;
    seed_two_tenants(db.url()).await;
    assert_eq!(visible_posts(&db, Scope::Tenant("uid-a")).await.len(), 1);
    // Every connection the pool has handed out is back; whichever we get now must be clean.
    let mut conn = db.pool().get().await.unwrap();
    let row: Line = diesel::sql_query(
        "SELECT current_user || '|' || coalesce(current_setting('multivio.tenant', true), '<null>') AS line",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    let (role, claim) = row.line.split_once('|').unwrap();
    assert_ne!(role, "multivio_api");
    assert!(
        claim.is_empty() || claim == "<null>",
        "claim leaked: {claim}"
    );
}

#[tokio::test]
async fn jobs_and_quota_units_belong_to_their_posts_owner() {
    let db = TestDb::new().await;
    seed_two_tenants(db.url()).await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    // Even bypassing RLS, a row of user A cannot point at user B's post.
    for sql in [
        "INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at)
         SELECT gen_random_uuid(), a.id, p.id, 'twitter', now()
           FROM users a, posts p JOIN users b ON b.id = p.user_id
          WHERE a.firebase_uid = 'uid-a' AND b.firebase_uid = 'uid-b'",
        "INSERT INTO post_quota_usage (post_id, user_id)
         SELECT p.id, a.id FROM users a, posts p JOIN users b ON b.id = p.user_id
          WHERE a.firebase_uid = 'uid-a' AND b.firebase_uid = 'uid-b'",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut owner)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("foreign key"), "{err}");
    }
}

//! Row Level Security, table by table, as the API role: every tenant table × select / insert /
//! update / delete × own rows / another tenant's rows / no tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use multivio_postgres::testing::{TestDb, test_claim_keys};
use multivio_postgres::{DbError, Scope, in_scope};

/// What a statement did: rows touched, or refused with SQLSTATE 42501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Rows(i64),
    Refused,
}
use Outcome::{Refused, Rows};

#[derive(Debug)]
enum Stop {
    Done(Outcome),
    Db(diesel::result::Error),
}
impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Db(e)
    }
}
impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Db(diesel::result::Error::QueryBuilderError(
            e.to_string().into(),
        ))
    }
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `sql` as the API role with the tenant claim `claim`, and always rolls back.
/// Statements are written to return one `n`: a count, or the rows a CTE touched.
async fn run(db: &TestDb, claim: &str, sql: &str) -> Outcome {
    let sql = sql.to_owned();
    let result = in_scope(
        db.pool(),
        Scope::Tenant(claim),
        &test_claim_keys(),
        async move |conn| {
            let n: N = diesel::sql_query(sql).get_result(conn).await?;
            Err::<(), Stop>(Stop::Done(Rows(n.n)))
        },
    )
    .await;
    match result {
        Err(Stop::Done(o)) => o,
        Err(Stop::Db(e)) => {
            let m = e.to_string();
            assert!(
                m.contains("row-level security") || m.contains("permission denied"),
                "unexpected error: {m}"
            );
            Refused
        }
        Ok(()) => unreachable!(),
    }
}

/// Rows of tenant A (`uid-a`, id 1) and tenant B (`uid-b`, id 2) in every table.
async fn seed(db: &TestDb) {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(
        "INSERT INTO users (id, firebase_uid, email) VALUES (1, 'uid-a', 'a@x.test'), (2, 'uid-b', 'b@x.test');
         INSERT INTO user_info (user_id) VALUES (1), (2);
         INSERT INTO social_connections (id, user_id, provider, provider_account_id, access_token) VALUES
           ('00000000-0000-0000-0000-00000000000a', 1, 'twitter', 'a', 'sealed'),
           ('00000000-0000-0000-0000-00000000000b', 2, 'twitter', 'b', 'sealed');
         INSERT INTO posts (id, user_id, name) VALUES
           ('00000000-0000-0000-0000-00000000001a', 1, 'a'), ('00000000-0000-0000-0000-00000000001b', 2, 'b');
         INSERT INTO media_files (id, user_id, filename) VALUES
           ('00000000-0000-0000-0000-00000000002a', 1, 'a'), ('00000000-0000-0000-0000-00000000002b', 2, 'b');
         INSERT INTO subscription_history (user_id, user_email, status) VALUES (1, 'a@x.test', 'active'), (2, 'b@x.test', 'active');
         INSERT INTO post_quota_usage (post_id, user_id) VALUES
           ('00000000-0000-0000-0000-00000000001a', 1), ('00000000-0000-0000-0000-00000000001b', 2);
         INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at) VALUES
           ('00000000-0000-0000-0000-00000000003a', 1, '00000000-0000-0000-0000-00000000001a', 'twitter', now()),
           ('00000000-0000-0000-0000-00000000003b', 2, '00000000-0000-0000-0000-00000000001b', 'twitter', now());
         INSERT INTO oauth_states (state_hash, user_id, provider, pkce_verifier, redirect_uri, expires_at) VALUES
           ('a', 1, 'x', 'v', 'r', now() + interval '1 hour'), ('b', 2, 'x', 'v', 'r', now() + interval '1 hour');
         INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash) VALUES (1, 'k', 'h'), (2, 'k', 'h');
         INSERT INTO processed_webhook_events (event_id) VALUES ('evt_1');",
    )
    .await
    .unwrap();
}

/// A table's statements; `$ID` is replaced by 1 (tenant A's rows) or 2 (tenant B's), `$K` by
/// the row key suffix `a` or `b`.
struct Table {
    name: &'static str,
    select: &'static str,
    insert: &'static str,
    update: &'static str,
    delete: &'static str,
    /// Operations the API role has no privilege for at all (migration 011): quota, plan and
    /// verification state moves only through the worker or the quota functions.
    no_privilege: &'static [&'static str],
}

fn touched(verb_sql: &str) -> String {
    format!("WITH t AS ({verb_sql} RETURNING 1) SELECT count(*) AS n FROM t")
}

const TABLES: &[Table] = &[
    Table {
        name: "users",
        select: "SELECT count(*) AS n FROM users WHERE id = $ID",
        insert: "INSERT INTO users (firebase_uid, email) VALUES ('uid-$K', '$K@x.test') ON CONFLICT (firebase_uid) DO UPDATE SET bio = 'signed in again'",
        update: "UPDATE users SET bio = 'x' WHERE id = $ID",
        delete: "DELETE FROM users WHERE id = $ID",
        no_privilege: &["insert"],
    },
    Table {
        name: "user_info",
        select: "SELECT count(*) AS n FROM user_info WHERE user_id = $ID",
        insert: "INSERT INTO user_info (user_id) VALUES ($ID) ON CONFLICT (user_id) DO UPDATE SET preferences = '{}'",
        update: "UPDATE user_info SET remaining_posts = 99 WHERE user_id = $ID",
        delete: "DELETE FROM user_info WHERE user_id = $ID",
        no_privilege: &["insert", "update", "delete"],
    },
    Table {
        name: "social_connections",
        select: "SELECT count(*) AS n FROM social_connections WHERE user_id = $ID",
        insert: "INSERT INTO social_connections (user_id, provider, provider_account_id, access_token) VALUES ($ID, 'bluesky', 'n', 's')",
        update: "UPDATE social_connections SET account_label = 'x' WHERE user_id = $ID",
        delete: "DELETE FROM social_connections WHERE user_id = $ID",
        no_privilege: &[],
    },
    Table {
        name: "posts",
        select: "SELECT count(*) AS n FROM posts WHERE user_id = $ID",
        insert: "INSERT INTO posts (user_id, name) VALUES ($ID, 'new')",
        update: "UPDATE posts SET name = 'x' WHERE user_id = $ID",
        delete: "DELETE FROM posts WHERE user_id = $ID",
        no_privilege: &[],
    },
    Table {
        name: "media_files",
        select: "SELECT count(*) AS n FROM media_files WHERE user_id = $ID",
        insert: "INSERT INTO media_files (user_id, filename) VALUES ($ID, 'new')",
        update: "UPDATE media_files SET alt_text = 'x' WHERE user_id = $ID",
        delete: "DELETE FROM media_files WHERE user_id = $ID",
        no_privilege: &[],
    },
    Table {
        name: "post_quota_usage",
        select: "SELECT count(*) AS n FROM post_quota_usage WHERE user_id = $ID",
        insert: "INSERT INTO post_quota_usage (post_id, user_id) VALUES ('00000000-0000-0000-0000-00000000001$K', $ID) ON CONFLICT (post_id) DO UPDATE SET consumed_at = now()",
        update: "UPDATE post_quota_usage SET consumed_at = now() WHERE user_id = $ID",
        delete: "DELETE FROM post_quota_usage WHERE user_id = $ID",
        no_privilege: &["insert", "update", "delete"],
    },
    Table {
        name: "publish_jobs",
        select: "SELECT count(*) AS n FROM publish_jobs WHERE user_id = $ID",
        insert: "INSERT INTO publish_jobs (id, user_id, post_id, provider, run_at) VALUES (gen_random_uuid(), $ID, '00000000-0000-0000-0000-00000000001$K', 'twitter', now())",
        update: "UPDATE publish_jobs SET run_at = now() WHERE user_id = $ID",
        delete: "DELETE FROM publish_jobs WHERE user_id = $ID",
        no_privilege: &[],
    },
    Table {
        name: "oauth_states",
        select: "SELECT count(*) AS n FROM oauth_states WHERE user_id = $ID",
        insert: "INSERT INTO oauth_states (state_hash, user_id, provider, pkce_verifier, redirect_uri, expires_at) VALUES ('new-$K', $ID, 'x', 'v', 'r', now())",
        update: "UPDATE oauth_states SET return_to = 'x' WHERE user_id = $ID",
        delete: "DELETE FROM oauth_states WHERE user_id = $ID",
        no_privilege: &[],
    },
    Table {
        name: "idempotency_keys",
        select: "SELECT count(*) AS n FROM idempotency_keys WHERE user_id = $ID",
        insert: "INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash) VALUES ($ID, 'new', 'h')",
        update: "UPDATE idempotency_keys SET response_status = 200 WHERE user_id = $ID",
        delete: "DELETE FROM idempotency_keys WHERE user_id = $ID",
        no_privilege: &[],
    },
];

fn bind(sql: &str, id: i32, key: char) -> String {
    sql.replace("$ID", &id.to_string())
        .replace("$K", &key.to_string())
}

#[tokio::test]
async fn every_tenant_table_keeps_tenants_apart() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut failures = Vec::new();
    for t in TABLES {
        let own = |sql: &str| bind(sql, 1, 'a');
        let other = |sql: &str| bind(sql, 2, 'b');
        let checks: [(&str, &str, String, Outcome); 12] = [
            ("select", "own", own(t.select), Rows(1)),
            ("select", "other", other(t.select), Rows(0)),
            ("select", "none", own(t.select), Rows(0)),
            ("insert", "own", touched(&own(t.insert)), Rows(1)),
            ("insert", "other", touched(&other(t.insert)), Refused),
            ("insert", "none", touched(&own(t.insert)), Refused),
            ("update", "own", touched(&own(t.update)), Rows(1)),
            ("update", "other", touched(&other(t.update)), Rows(0)),
            ("update", "none", touched(&own(t.update)), Rows(0)),
            ("delete", "own", touched(&own(t.delete)), Rows(1)),
            ("delete", "other", touched(&other(t.delete)), Rows(0)),
            ("delete", "none", touched(&own(t.delete)), Rows(0)),
        ];
        for (op, who, sql, expected) in checks {
            let expected = if t.no_privilege.contains(&op) {
                Refused
            } else {
                expected
            };
            let claim = if who == "none" { "" } else { "uid-a" };
            let got = run(&db, claim, &sql).await;
            if got != expected {
                failures.push(format!(
                    "{}: {op} as {who}: expected {expected:?}, got {got:?} ({sql})",
                    t.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "RLS matrix failures:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn billing_history_is_read_only_and_webhook_events_are_out_of_reach() {
    let db = TestDb::new().await;
    seed(&db).await;
    let own = "SELECT count(*) AS n FROM subscription_history WHERE user_id = 1";
    let other = "SELECT count(*) AS n FROM subscription_history WHERE user_id = 2";
    assert_eq!(run(&db, "uid-a", own).await, Rows(1));
    assert_eq!(run(&db, "uid-a", other).await, Rows(0));
    assert_eq!(run(&db, "", own).await, Rows(0));
    // History is the user's by id: when A changes address and B takes A's old one, B still
    // sees none of A's history.
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "UPDATE users SET email = 'a-new@x.test' WHERE id = 1;
             UPDATE users SET email = 'a@x.test' WHERE id = 2;",
        )
        .await
        .unwrap();
    assert_eq!(
        run(
            &db,
            "uid-b",
            "SELECT count(*) AS n FROM subscription_history WHERE user_email = 'a@x.test'"
        )
        .await,
        Rows(0)
    );
    assert_eq!(run(&db, "uid-a", own).await, Rows(1));
    for sql in [
        "INSERT INTO subscription_history (user_email) VALUES ('a@x.test')",
        "UPDATE subscription_history SET status = 'x'",
        "DELETE FROM subscription_history",
    ] {
        assert_eq!(run(&db, "uid-a", &touched(sql)).await, Refused, "{sql}");
    }
    for sql in [
        "SELECT count(*) AS n FROM processed_webhook_events".to_owned(),
        touched("INSERT INTO processed_webhook_events (event_id) VALUES ('evt_2')"),
        touched("DELETE FROM processed_webhook_events"),
    ] {
        assert_eq!(run(&db, "uid-a", &sql).await, Refused, "{sql}");
    }
}

#[tokio::test]
async fn quota_carryovers_are_out_of_the_api_roles_reach() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "INSERT INTO quota_carryovers
               (key_hash, last_quota_reset, monthly_post_quota, remaining_posts, expires_at)
             VALUES (repeat('a', 64), now(), 10, 0, now() + interval '1 month');",
        )
        .await
        .unwrap();
    // Kept for deleted accounts, so no tenant owns a row: the API role reaches none, with its
    // own claim, another's or none.
    for claim in ["uid-a", "uid-b", ""] {
        for sql in [
            "SELECT count(*) AS n FROM quota_carryovers".to_owned(),
            touched(
                "INSERT INTO quota_carryovers
                   (key_hash, last_quota_reset, monthly_post_quota, remaining_posts, expires_at)
                 VALUES (repeat('b', 64), now(), 10, 10, now() + interval '1 month')",
            ),
            touched("UPDATE quota_carryovers SET remaining_posts = 10"),
            touched("DELETE FROM quota_carryovers"),
        ] {
            assert_eq!(run(&db, claim, &sql).await, Refused, "{claim}: {sql}");
        }
    }
    let left: N =
        diesel::sql_query("SELECT count(*) AS n FROM quota_carryovers WHERE remaining_posts = 0")
            .get_result(&mut owner)
            .await
            .unwrap();
    assert_eq!(left.n, 1);
}

#[tokio::test]
async fn the_api_role_cannot_write_the_new_quota_and_verification_columns() {
    let db = TestDb::new().await;
    seed(&db).await;
    for sql in [
        touched("UPDATE user_info SET pending_monthly_post_quota = 1000 WHERE user_id = 1"),
        touched("UPDATE users SET email_verification_sends = '{}' WHERE id = 1"),
    ] {
        assert_eq!(run(&db, "uid-a", &sql).await, Refused, "{sql}");
    }
    // Reading its own is allowed (the profile and quota are the tenant's to see).
    assert_eq!(
        run(
            &db,
            "uid-a",
            "SELECT count(*) AS n FROM users WHERE id = 1 AND email_verification_sends = '{}'"
        )
        .await,
        Rows(1)
    );
}

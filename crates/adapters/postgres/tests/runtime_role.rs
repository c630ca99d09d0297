//! The runtime logins as an attacker holding one of their connections would use them: no role
//! switch, no forged claim, no write to money or trust columns reaches another tenant or
//! changes what the core alone may change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use multivio_postgres::testing::{TestDb, test_claim_keys};
use multivio_postgres::{Role, check_login};

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn seed(db: &TestDb) {
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "INSERT INTO users (id, firebase_uid, email) VALUES (1, 'uid-a', 'a@x.test'), (2, 'uid-b', 'b@x.test');
             INSERT INTO user_info (user_id, remaining_posts) VALUES (1, 3), (2, 3);
             INSERT INTO posts (id, user_id, name) VALUES
               ('00000000-0000-0000-0000-00000000001a', 1, 'a'), ('00000000-0000-0000-0000-00000000001b', 2, 'b');",
        )
        .await
        .unwrap();
}

/// A direct connection as the API's runtime login.
async fn api_login(db: &TestDb) -> AsyncPgConnection {
    AsyncPgConnection::establish(&db.api_url()).await.unwrap()
}

/// Posts visible in one transaction after `setup` (statements separated by `;`).
async fn visible_posts(conn: &mut AsyncPgConnection, setup: &str) -> i64 {
    conn.batch_execute("BEGIN").await.unwrap();
    conn.batch_execute(setup).await.unwrap();
    let n: N = diesel::sql_query("SELECT count(*) AS n FROM posts")
        .get_result(conn)
        .await
        .unwrap();
    conn.batch_execute("ROLLBACK").await.unwrap();
    n.n
}

/// A pool of one connection as the API's runtime login: each use gets the connection the last
/// one left.
fn one_api_connection(db: &TestDb) -> multivio_postgres::PgPool {
    let mut settings = multivio_postgres::PoolSettings::new(db.api_url());
    settings.max_size = 1;
    multivio_postgres::build_pool(&settings).unwrap()
}

/// The API role's session for the tenant `uid`, with its MAC.
fn api_session<'a>(uid: &'a str, mac: &'a str) -> multivio_postgres::Session<'a> {
    multivio_postgres::Session {
        role: Role::Api,
        claim: Some((uid, mac)),
        synchronous: true,
    }
}

/// The error of a statement run in a transaction that is then rolled back.
async fn refused(conn: &mut AsyncPgConnection, setup: &str, sql: &str) -> String {
    conn.batch_execute("BEGIN").await.unwrap();
    conn.batch_execute(setup).await.unwrap();
    let err = conn.batch_execute(sql).await.expect_err(sql).to_string();
    conn.batch_execute("ROLLBACK").await.unwrap();
    err
}

fn signed_claim(uid: &str) -> String {
    format!(
        "SELECT set_config('multivio.tenant', '{uid}', true), \
                set_config('multivio.tenant_mac', '{}', true)",
        test_claim_keys().mac(uid)
    )
}

#[tokio::test]
async fn a_forged_claim_sees_nothing_and_a_signed_one_only_its_tenant() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut conn = api_login(&db).await;
    assert_eq!(visible_posts(&mut conn, &signed_claim("uid-a")).await, 1);
    // The seed's claim, set by hand: nothing.
    let forged = "SELECT set_config('request.jwt.claim.sub', 'uid-b', true)";
    assert_eq!(visible_posts(&mut conn, forged).await, 0);
    // The product's tenant without a MAC: nothing.
    let unsigned = "SELECT set_config('multivio.tenant', 'uid-b', true)";
    assert_eq!(visible_posts(&mut conn, unsigned).await, 0);
    // An authentic tenant with the seed's claim pointing elsewhere: nothing at all.
    let mixed = format!(
        "{}; SELECT set_config('request.jwt.claim.sub', 'uid-b', true)",
        signed_claim("uid-a")
    );
    assert_eq!(visible_posts(&mut conn, &mixed).await, 0);
    // A's MAC under B's claim, a made-up MAC, an unknown key id: nothing.
    let mac_a = test_claim_keys().mac("uid-a");
    for mac in [
        mac_a.as_str(),
        "test.0000000000000000000000000000000000000000000000000000000000000000",
        "nokey.00",
        "garbage",
    ] {
        let setup = format!(
            "SELECT set_config('multivio.tenant', 'uid-b', true), \
                    set_config('multivio.tenant_mac', '{mac}', true)"
        );
        assert_eq!(visible_posts(&mut conn, &setup).await, 0, "{mac}");
    }
    // The keys that sign claims are out of reach.
    let err = refused(&mut conn, "", "SELECT * FROM multivio_private.claim_keys").await;
    assert!(err.contains("permission denied"), "{err}");
    // Quota functions refuse a forged claim.
    let err = refused(
        &mut conn,
        forged,
        "SELECT multivio_private.consume_post_unit('00000000-0000-0000-0000-00000000001b', 2)",
    )
    .await;
    assert!(err.contains("not authentic"), "{err}");
}

#[tokio::test]
async fn set_role_and_reset_role_lead_nowhere() {
    let db = TestDb::new().await;
    seed(&db).await;
    // The superuser the tests' database belongs to.
    #[derive(diesel::QueryableByName)]
    struct Owner {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    let superuser = diesel::sql_query("SELECT current_user::text AS name")
        .get_result::<Owner>(&mut owner)
        .await
        .unwrap()
        .name;
    let mut conn = api_login(&db).await;
    for role in [
        "multivio_worker",
        "multivio_worker_login",
        superuser.as_str(),
    ] {
        let err = refused(&mut conn, "", &format!("SET ROLE {role}")).await;
        assert!(err.contains("permission denied"), "{role}: {err}");
        let err = refused(&mut conn, "", &format!("SET LOCAL ROLE {role}")).await;
        assert!(err.contains("permission denied"), "{role}: {err}");
    }
    let err = refused(
        &mut conn,
        "",
        &format!("SET SESSION AUTHORIZATION {superuser}"),
    )
    .await;
    assert!(err.contains("permission denied"), "{err}");
    let forged = "SELECT set_config('request.jwt.claim.sub', 'uid-b', true)";
    for switch in ["RESET ROLE", "SET ROLE multivio_api", "SET ROLE NONE"] {
        let setup = format!("{switch}; {forged}");
        assert_eq!(visible_posts(&mut conn, &setup).await, 0, "{switch}");
    }
    // And without any claim: nothing either.
    assert_eq!(visible_posts(&mut conn, "RESET ROLE").await, 0);
}

#[tokio::test]
async fn money_and_trust_columns_are_not_the_api_roles_to_write() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut conn = api_login(&db).await;
    let own = signed_claim("uid-a");
    for sql in [
        "UPDATE user_info SET remaining_posts = 1000 WHERE user_id = 1",
        "UPDATE user_info SET monthly_post_quota = 1000 WHERE user_id = 1",
        "UPDATE users SET plan_name = 'business' WHERE id = 1",
        "UPDATE users SET subscription_status = 'active' WHERE id = 1",
        "UPDATE users SET email_verified = true WHERE id = 1",
        "UPDATE users SET email_verification_token = 'known' WHERE id = 1",
        "UPDATE users SET stripe_customer_id = 'cus_x' WHERE id = 1",
        "DELETE FROM post_quota_usage WHERE user_id = 1",
        "UPDATE posts SET quota_unit_held = true WHERE user_id = 1",
        "INSERT INTO posts (id, user_id, name, quota_unit_held) \
         VALUES ('00000000-0000-0000-0000-0000000000ff', 1, 'x', true)",
        "INSERT INTO users (firebase_uid, email) VALUES ('uid-a', 'x@x.test')",
    ] {
        let err = refused(&mut conn, &own, sql).await;
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    // The profile is the user's to edit.
    conn.batch_execute("BEGIN").await.unwrap();
    conn.batch_execute(&own).await.unwrap();
    conn.batch_execute("UPDATE users SET bio = 'hello' WHERE id = 1")
        .await
        .unwrap();
    conn.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn quota_units_and_their_mirror_are_not_the_worker_roles_to_write() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut conn = AsyncPgConnection::establish(&db.worker_url())
        .await
        .unwrap();
    let as_worker = format!(
        "SELECT set_config('role', 'multivio_worker', true); {}",
        signed_claim("uid-a")
    );
    for sql in [
        "UPDATE posts SET quota_unit_held = true WHERE user_id = 1",
        "INSERT INTO post_quota_usage (post_id, user_id) \
         VALUES ('00000000-0000-0000-0000-00000000001a', 1)",
        "DELETE FROM post_quota_usage WHERE user_id = 1",
    ] {
        let err = refused(&mut conn, &as_worker, sql).await;
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    // The rest of a post is the worker's to write (it settles posts).
    conn.batch_execute("BEGIN").await.unwrap();
    conn.batch_execute(&as_worker).await.unwrap();
    conn.batch_execute("UPDATE posts SET status = 'failed' WHERE user_id = 1")
        .await
        .unwrap();
    conn.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn the_server_refuses_logins_with_more_power_than_their_role() {
    let db = TestDb::new().await;
    check_login(&db.api_url(), Role::Api).await.unwrap();
    let err = check_login(&db.api_url(), Role::Worker).await.unwrap_err();
    assert!(
        err.to_string().contains("not a member of multivio_worker"),
        "{err}"
    );
    // The owner of the test database is a superuser: never a runtime login.
    let err = check_login(db.url(), Role::Api).await.unwrap_err();
    assert!(err.to_string().contains("superuser"), "{err}");
    // A login that may create temporary tables, or roles, or that may become the schema's
    // owner, is refused too.
    let mut admin = AsyncPgConnection::establish(db.url()).await.unwrap();
    let login = format!("powerful_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {login} LOGIN PASSWORD 'pw' IN ROLE multivio_api"
        ))
        .await
        .unwrap();
    let url = multivio_postgres::login_url(db.url(), Role::Api, "pw")
        .unwrap()
        .replace("multivio_api_login", &login);
    check_login(&url, Role::Api).await.unwrap();
    for (grant, revoke, why) in [
        (
            format!("GRANT TEMPORARY ON DATABASE \"{}\" TO {login}", db.name()),
            format!(
                "REVOKE TEMPORARY ON DATABASE \"{}\" FROM {login}",
                db.name()
            ),
            "temporary tables",
        ),
        (
            format!("ALTER ROLE {login} CREATEROLE"),
            format!("ALTER ROLE {login} NOCREATEROLE"),
            "create roles",
        ),
        (
            format!("GRANT SELECT ON multivio_private.claim_keys TO {login}"),
            format!("REVOKE SELECT ON multivio_private.claim_keys FROM {login}"),
            "claim_keys",
        ),
    ] {
        admin.batch_execute(&grant).await.unwrap();
        let err = check_login(&url, Role::Api).await.unwrap_err();
        assert!(err.to_string().contains(why), "{why}: {err}");
        admin.batch_execute(&revoke).await.unwrap();
    }
    let owner_role = format!("owner_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner_role}; ALTER TABLE posts OWNER TO {owner_role}; \
             GRANT {owner_role} TO {login}"
        ))
        .await
        .unwrap();
    let err = check_login(&url, Role::Api).await.unwrap_err();
    assert!(err.to_string().contains("owner of the schema"), "{err}");
    // Roles are cluster-wide: leave none behind.
    admin
        .batch_execute(&format!(
            "ALTER TABLE posts OWNER TO CURRENT_USER; REVOKE {owner_role} FROM {login}; \
             DROP ROLE {owner_role}; DROP OWNED BY {login}; DROP ROLE {login}"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_claim_expires_and_a_hosted_claims_setting_voids_it() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut conn = api_login(&db).await;
    let claim_with = |mac: String| {
        format!(
            "SELECT set_config('multivio.tenant', 'uid-a', true), \
                    set_config('multivio.tenant_mac', '{mac}', true)"
        )
    };
    let keys = test_claim_keys();
    let fresh = keys.mac_until("uid-a", chrono::Utc::now() + chrono::TimeDelta::minutes(1));
    assert_eq!(
        visible_posts(&mut conn, &claim_with(fresh.clone())).await,
        1
    );
    // A MAC past its expiry — as one copied out of a statement log — sees nothing.
    let expired = keys.mac_until("uid-a", chrono::Utc::now() - chrono::TimeDelta::seconds(1));
    assert_eq!(visible_posts(&mut conn, &claim_with(expired)).await, 0);
    // The expiry is under the MAC: pushing it later breaks the MAC.
    let mut parts: Vec<&str> = fresh.split('.').collect();
    let later = (chrono::Utc::now().timestamp() + 86_400).to_string();
    parts[1] = &later;
    assert_eq!(
        visible_posts(&mut conn, &claim_with(parts.join("."))).await,
        0
    );
    // What a hosted auth.uid() reads, set next to an authentic claim: nothing at all.
    let hosted = format!(
        "{}; SELECT set_config('request.jwt.claims', '{{\"sub\":\"uid-b\"}}', true)",
        signed_claim("uid-a")
    );
    assert_eq!(visible_posts(&mut conn, &hosted).await, 0);
}

#[tokio::test]
async fn the_api_login_cannot_shadow_tables_or_move_anothers_quota() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut conn = api_login(&db).await;
    // No temporary table can stand in for a real one on a pooled connection.
    let err = refused(
        &mut conn,
        "",
        "CREATE TEMPORARY TABLE posts (id uuid, user_id int)",
    )
    .await;
    assert!(err.contains("permission denied"), "{err}");
    let own = signed_claim("uid-a");
    // Another user's unit, under one's own authentic claim.
    let err = refused(
        &mut conn,
        &own,
        "SELECT multivio_private.consume_post_unit('00000000-0000-0000-0000-00000000001b', 2)",
    )
    .await;
    assert!(err.contains("another user"), "{err}");
    // A published post keeps its unit: consume-then-refund is not a way to free quota.
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "UPDATE posts SET status = 'published' WHERE id = '00000000-0000-0000-0000-00000000001a';
             INSERT INTO post_quota_usage (post_id, user_id) VALUES ('00000000-0000-0000-0000-00000000001a', 1);
             UPDATE user_info SET remaining_posts = 2 WHERE user_id = 1;",
        )
        .await
        .unwrap();
    let err = refused(
        &mut conn,
        &own,
        "SELECT multivio_private.refund_post_unit('00000000-0000-0000-0000-00000000001a', 1)",
    )
    .await;
    assert!(err.contains("did not publish"), "{err}");
    #[derive(diesel::QueryableByName)]
    struct Remaining {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        remaining_posts: Option<i32>,
    }
    let left: Remaining =
        diesel::sql_query("SELECT remaining_posts FROM user_info WHERE user_id = 1")
            .get_result(&mut owner)
            .await
            .unwrap();
    assert_eq!(left.remaining_posts, Some(2));
}

#[tokio::test]
async fn a_wider_policy_added_by_a_platform_still_shows_only_the_authentic_tenants_rows() {
    let db = TestDb::new().await;
    seed(&db).await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(r#"CREATE POLICY "a platform's own" ON posts FOR SELECT USING (true)"#)
        .await
        .unwrap();
    let mut conn = api_login(&db).await;
    assert_eq!(visible_posts(&mut conn, &signed_claim("uid-a")).await, 1);
    assert_eq!(visible_posts(&mut conn, "").await, 0);
}

#[tokio::test]
async fn keys_retired_from_the_keyring_stop_signing_and_other_services_keys_stay() {
    use multivio_postgres::provision::{install_claim_keys, prune_claim_keys};
    let db = TestDb::new().await;
    seed(&db).await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    let key = |kid: &str| (kid.to_owned(), vec![7u8; 32]);
    install_claim_keys(
        &mut owner,
        &[key("claim-old"), key("claim-new"), key("billing-1")],
    )
    .await
    .unwrap();
    prune_claim_keys(&mut owner, "claim-", &[key("claim-new")])
        .await
        .unwrap();
    let mut conn = api_login(&db).await;
    let claim = |kid: &str| {
        let mac = multivio_postgres::ClaimKeys::new(kid, &[7u8; 32]).mac("uid-a");
        format!(
            "SELECT set_config('multivio.tenant', 'uid-a', true), \
                    set_config('multivio.tenant_mac', '{mac}', true)"
        )
    };
    assert_eq!(visible_posts(&mut conn, &claim("claim-old")).await, 0);
    assert_eq!(visible_posts(&mut conn, &claim("claim-new")).await, 1);
    assert_eq!(visible_posts(&mut conn, &claim("billing-1")).await, 1);
    // The harness's own key, of no prefix given, is untouched too.
    assert_eq!(visible_posts(&mut conn, &signed_claim("uid-a")).await, 1);
}

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test]
async fn only_a_relaxed_session_commits_without_waiting_for_the_flush() {
    use multivio_postgres::{DbError, Session, in_session};
    let db = TestDb::new().await;
    let commit_mode = async |synchronous: bool| -> String {
        let session = Session {
            role: Role::Worker,
            claim: None,
            synchronous,
        };
        in_session(db.worker_pool(), session, async |conn| {
            let s: Setting =
                diesel::sql_query("SELECT current_setting('synchronous_commit') AS value")
                    .get_result(conn)
                    .await?;
            Ok::<_, DbError>(s.value)
        })
        .await
        .unwrap()
    };
    assert_eq!(commit_mode(false).await, "off");
    // The server's own setting otherwise, also on the same pooled connection afterwards.
    assert_eq!(commit_mode(true).await, "on");
    assert_eq!(commit_mode(false).await, "off");
    assert_eq!(commit_mode(true).await, "on");
}

#[tokio::test]
async fn a_session_that_cannot_be_entered_leaves_its_connection_usable() {
    use multivio_postgres::{DbError, Session, in_session};
    let db = TestDb::new().await;
    // One connection, so the failed session's connection is the one used next.
    let pool = one_api_connection(&db);
    let session = |role| Session {
        role,
        claim: None,
        synchronous: true,
    };
    let count = async |role| {
        in_session(&pool, session(role), async |conn| {
            let n: N = diesel::sql_query("SELECT count(*) AS n FROM posts")
                .get_result(conn)
                .await?;
            Ok::<_, DbError>(n.n)
        })
        .await
    };
    // The API's login may not take the worker's role: `BEGIN` ran, the settings failed.
    assert!(count(Role::Worker).await.is_err());
    // The connection is not left in the aborted transaction.
    assert_eq!(count(Role::Api).await.unwrap(), 0);
    assert_eq!(count(Role::Api).await.unwrap(), 0);
}

#[tokio::test]
async fn the_works_first_statement_runs_in_the_session_it_was_sent_with() {
    use multivio_postgres::{DbError, in_session};
    let db = TestDb::new().await;
    seed(&db).await;
    let pool = one_api_connection(&db);
    let mac = test_claim_keys().mac("uid-a");
    let session = api_session("uid-a", &mac);
    // Twice: the statement is prepared on the first run (its execution waits for that round
    // trip) and cached for the second, whose execution is sent at once.
    for _ in 0..2 {
        let visible = in_session(&pool, session, async |conn| {
            use diesel::QueryDsl;
            use multivio_postgres::schema::posts;
            let n: i64 = posts::table.count().get_result(conn).await?;
            Ok::<_, DbError>(n)
        })
        .await
        .unwrap();
        // The claim is a transaction-local setting: only a statement run after it, in its
        // transaction, sees the tenant's post.
        assert_eq!(visible, 1);
    }
}

#[tokio::test]
async fn work_dropped_midway_ends_its_transaction_at_once() {
    use multivio_postgres::{DbError, in_session};
    let db = TestDb::new().await;
    seed(&db).await;
    let pool = one_api_connection(&db);
    let mac = test_claim_keys().mac("uid-a");
    let session = api_session("uid-a", &mac);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let stalled = in_session(&pool, session, async |conn| {
        diesel::sql_query("UPDATE posts SET name = 'changed' WHERE user_id = 1")
            .execute(conn)
            .await?;
        let _ = started_tx.send(());
        std::future::pending::<()>().await;
        Ok::<_, DbError>(())
    });
    tokio::select! {
        _ = stalled => unreachable!("the work never ends"),
        _ = started_rx => {}
    }
    // The request was dropped with its update done and uncommitted: its connection closed,
    // the server rolled the update back and freed the rows at once (without the pool's help:
    // it is not used meanwhile; a transaction left open would hold them past this wait).
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    owner
        .batch_execute(
            "SET lock_timeout = '30s'; UPDATE posts SET name = 'free' WHERE user_id = 1; \
             RESET lock_timeout",
        )
        .await
        .unwrap();
    // And the next use of the pool (one connection) gets a connection without it.
    let n = in_session(&pool, session, async |conn| {
        let n: N = diesel::sql_query("SELECT count(*) AS n FROM posts WHERE name = 'changed'")
            .get_result(conn)
            .await?;
        Ok::<_, DbError>(n.n)
    })
    .await
    .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn every_column_of_a_post_but_its_quota_mirror_is_the_runtime_roles_to_insert() {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let db = TestDb::new().await;
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    for role in ["multivio_api", "multivio_worker"] {
        // A column added to `posts` later is refused until a migration grants it.
        let refused: Vec<Column> = diesel::sql_query(
            "SELECT attname::text AS name FROM pg_attribute
              WHERE attrelid = 'public.posts'::regclass AND attnum > 0 AND NOT attisdropped
                AND NOT has_column_privilege($1, 'public.posts', attname, 'INSERT')
              ORDER BY attnum",
        )
        .bind::<diesel::sql_types::Text, _>(role)
        .load(&mut owner)
        .await
        .unwrap();
        let refused: Vec<String> = refused.into_iter().map(|c| c.name).collect();
        assert_eq!(refused, ["quota_unit_held"], "{role}");
    }
}

#[tokio::test]
async fn a_runtime_connection_writes_only_inside_a_transaction_it_opened() {
    use multivio_postgres::{PoolSettings, build_pool};
    let db = TestDb::new().await;
    seed(&db).await;
    let pool = build_pool(&PoolSettings::new(db.worker_url())).unwrap();
    let mut conn = pool.get().await.unwrap();
    // What a statement would meet had its `BEGIN` failed: no transaction, so no writes.
    let err = conn
        .batch_execute("SET ROLE multivio_worker; UPDATE posts SET name = 'changed'")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only transaction"), "{err}");
    conn.batch_execute("RESET ROLE").await.unwrap();
    conn.batch_execute(
        "BEGIN READ WRITE; SET LOCAL ROLE multivio_worker; \
         UPDATE posts SET name = 'changed' WHERE user_id = 1; ROLLBACK",
    )
    .await
    .unwrap();
}

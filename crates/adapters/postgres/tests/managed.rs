//! A managed PostgreSQL as Supabase, RDS or Cloud SQL give one: the deployment's owner role
//! is not a superuser (it may create roles and databases), and the platform already has an
//! `auth.uid()` of its own — Supabase's returns a uuid — that the owner cannot replace. The
//! migrations run unchanged there, and tenants work through the runtime logins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use multivio_domain::contact::Email;
use multivio_domain::post::{Post, PostContent, PostInput, Target};
use multivio_domain::quota::Quota;
use multivio_domain::user::{AuthProvider, NewUser};
use multivio_domain::{FirebaseUid, PostId, Provider};
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use multivio_ports::users::UserStore;
use multivio_postgres::provision::API_LOGIN;
use multivio_postgres::testing::{TEST_LOGIN_PASSWORD, server_url, test_claim_keys, with_database};
use multivio_postgres::{
    PgStore, PoolSettings, Role, RuntimeSetup, build_pool, login_url, provision, run_migrations,
};

/// Supabase's own definition: the claim cast to uuid.
const SUPABASE_AUTH_UID: &str = "
CREATE SCHEMA auth AUTHORIZATION {auth_admin};
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
ALTER FUNCTION auth.uid() OWNER TO {auth_admin};
GRANT USAGE ON SCHEMA auth TO {owner} WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION auth.uid() TO {owner} WITH GRANT OPTION;
";

#[tokio::test]
async fn migrations_and_tenants_work_where_the_owner_is_no_superuser_and_auth_uid_is_taken() {
    // The cluster-wide roles and the harness's login passwords exist.
    let _harness = multivio_postgres::testing::TestDb::new().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let owner = format!("managed_owner_{}", &suffix[..12]);
    let auth_admin = format!("managed_auth_{}", &suffix[..12]);
    let database = format!("managed_{suffix}");
    let admin_url = server_url();
    let mut admin = AsyncPgConnection::establish(admin_url).await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner} LOGIN PASSWORD 'owner-pw' NOSUPERUSER CREATEROLE CREATEDB NOBYPASSRLS;
             CREATE ROLE {auth_admin} NOLOGIN;"
        ))
        .await
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {database} OWNER {owner}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let db_admin_url = with_database(admin_url, &database);
    let mut db_admin = AsyncPgConnection::establish(&db_admin_url).await.unwrap();
    db_admin
        .batch_execute(
            &SUPABASE_AUTH_UID
                .replace("{auth_admin}", &auth_admin)
                .replace("{owner}", &owner),
        )
        .await
        .unwrap();
    drop(db_admin);

    let owner_url = login_url(&db_admin_url, Role::Api, "unused")
        .unwrap()
        .replace(&format!("{API_LOGIN}:unused"), &format!("{owner}:owner-pw"));
    let applied = run_migrations(&owner_url).await.unwrap();
    assert!(!applied.is_empty());
    // The platform's auth.uid() is still the platform's.
    #[derive(diesel::QueryableByName)]
    struct Returns {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let mut owner_conn = AsyncPgConnection::establish(&owner_url).await.unwrap();
    let returns: Returns = diesel::sql_query(
        "SELECT format_type(prorettype, NULL) AS t FROM pg_proc p JOIN pg_namespace n \
         ON n.oid = p.pronamespace WHERE n.nspname = 'auth' AND p.proname = 'uid'",
    )
    .get_result(&mut owner_conn)
    .await
    .unwrap();
    assert_eq!(returns.t, "uuid");
    drop(owner_conn);

    // The owner sets up the runtime logins, as the server does at start. (Login roles are
    // cluster-wide, shared with every other test: their password stays the harness's.)
    let setup = RuntimeSetup {
        passwords: vec![
            (Role::Api, TEST_LOGIN_PASSWORD.to_owned()),
            (Role::Worker, TEST_LOGIN_PASSWORD.to_owned()),
        ],
        claim_keys: vec![(
            multivio_postgres::testing::TEST_CLAIM_KID.to_owned(),
            multivio_postgres::testing::TEST_CLAIM_SECRET.to_vec(),
        )],
        claim_key_prefix: None,
    };
    async {
        provision(&owner_url, &setup).await.unwrap();
        let pool = |role, pw| {
            build_pool(&PoolSettings::new(
                login_url(&db_admin_url, role, pw).unwrap(),
            ))
            .unwrap()
        };
        let store = PgStore::new(
            Some(pool(Role::Api, TEST_LOGIN_PASSWORD)),
            pool(Role::Worker, TEST_LOGIN_PASSWORD),
            test_claim_keys(),
        );
        let new = |uid: &str| NewUser {
            firebase_uid: FirebaseUid::new(uid).unwrap(),
            email: Email::new(format!("{uid}@x.test")).unwrap(),
            email_verified: true,
            auth_provider: AuthProvider::email(),
            full_name: None,
            avatar_url: None,
        };
        let quota = Quota::full(10, Utc::now());
        let alice = store
            .upsert_from_identity(&new("firebase-uid-alice"), &quota)
            .await
            .unwrap()
            .user
            .tenant();
        let bob = store
            .upsert_from_identity(&new("firebase-uid-bob"), &quota)
            .await
            .unwrap()
            .user
            .tenant();
        let content = PostContent::parse(PostInput {
            name: "On a managed database".into(),
            universal_content: Some("hello".into()),
            platforms: vec![Target::primary(Provider::X)],
            ..Default::default()
        })
        .unwrap();
        let post = Post::new_draft(
            PostId(uuid::Uuid::new_v4()),
            alice.user_id,
            content,
            Utc::now(),
        );
        let stored = store
            .apply(&alice, PostChange::write(PostWrite::Insert(post.clone())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            PostStore::get(&store, &alice, post.id).await.unwrap().id,
            post.id
        );
        // Scheduling takes a quota unit; its mirror on the post (a trigger run as this owner,
        // under the forced policies) reads back.
        let mut scheduled = stored.clone();
        let quota = scheduled
            .schedule(Utc::now() + chrono::Duration::hours(1), Utc::now())
            .unwrap();
        let change = PostChange {
            quota,
            ..PostChange::write(PostWrite::Update {
                post: scheduled,
                expected_revision: stored.revision,
            })
        };
        store.apply(&alice, change).await.unwrap();
        assert!(
            PostStore::get(&store, &alice, post.id)
                .await
                .unwrap()
                .quota_consumed
        );
        // The mirror's migration, run again over that unit as this owner (no superuser, no
        // RLS bypass), finds it: its backfill sees every row.
        let url = owner_url.clone();
        tokio::task::spawn_blocking(move || {
            use diesel_migrations::MigrationHarness;
            let mut conn = <diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
                AsyncPgConnection,
            > as diesel::Connection>::establish(&url)
            .unwrap();
            // Down to and including 017 (later migrations first).
            loop {
                let reverted = conn
                    .revert_last_migration(multivio_postgres::migrate::MIGRATIONS)
                    .unwrap();
                if reverted.to_string().starts_with("017") {
                    break;
                }
            }
        })
        .await
        .unwrap();
        run_migrations(&owner_url).await.unwrap();
        assert!(
            PostStore::get(&store, &alice, post.id)
                .await
                .unwrap()
                .quota_consumed,
            "backfilled"
        );
        assert!(
            PostStore::get(&store, &bob, post.id).await.is_err(),
            "bob sees nothing of alice's"
        );
    }
    .await;
    let mut admin = AsyncPgConnection::establish(admin_url).await.unwrap();
    diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "DROP OWNED BY {owner}; DROP ROLE {owner}; DROP ROLE {auth_admin};"
        ))
        .await
        .ok();
}

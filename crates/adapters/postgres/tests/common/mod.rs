//! Shared helpers for the store tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use multivio_domain::contact::Email;
use multivio_domain::quota::Quota;
use multivio_domain::user::{AuthProvider, NewUser};
use multivio_domain::{FirebaseUid, Tenant};
use multivio_ports::users::UserStore;
use multivio_postgres::PgStore;
use multivio_postgres::testing::TestDb;

pub fn new_user(uid: &str) -> NewUser {
    NewUser {
        firebase_uid: FirebaseUid::new(uid).unwrap(),
        email: Email::new(format!("{uid}@example.com")).unwrap(),
        email_verified: false,
        auth_provider: AuthProvider::new("password").unwrap(),
        full_name: None,
        avatar_url: None,
    }
}

pub fn now() -> DateTime<Utc> {
    // Microseconds, as PostgreSQL stores them, so round trips compare equal.
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

/// A user with a fresh free quota of `quota` posts.
pub async fn tenant_with_quota(store: &PgStore, uid: &str, quota: u32) -> Tenant {
    store
        .upsert_from_identity(&new_user(uid), &Quota::full(quota, now()))
        .await
        .unwrap()
        .user
        .tenant()
}

pub async fn tenant(store: &PgStore, uid: &str) -> Tenant {
    tenant_with_quota(store, uid, 10).await
}

pub async fn setup() -> (TestDb, PgStore) {
    let db = TestDb::new().await;
    let store = db.store();
    (db, store)
}

/// A connection as the core would build it, and made-up sealed credentials.
pub fn connection(
    tenant: &Tenant,
    provider: multivio_domain::Provider,
    account: &str,
    is_primary: bool,
    created_at: DateTime<Utc>,
) -> (
    multivio_domain::connection::Connection,
    multivio_ports::vault::SealedCredentials,
) {
    use multivio_domain::connection::{
        AccountLabel, AccountType, Connection, ConnectionStatus, ProviderAccountId,
    };
    use multivio_ports::vault::{SealedCredentials, SealedToken};
    let id = multivio_domain::ConnectionId(uuid::Uuid::new_v4());
    (
        Connection {
            id,
            user_id: tenant.user_id,
            provider,
            provider_account_id: ProviderAccountId::new(account).unwrap(),
            account_label: Some(AccountLabel::new(format!("@{account}")).unwrap()),
            account_type: AccountType::Personal,
            is_primary,
            status: ConnectionStatus::Active,
            metadata: serde_json::json!({ "screen_name": account }),
            expires_at: Some(created_at + chrono::Duration::hours(2)),
            created_at,
            updated_at: created_at,
        },
        SealedCredentials {
            access_token: SealedToken(format!("sealed-access-{id}")),
            refresh_token: Some(SealedToken(format!("sealed-refresh-{id}"))),
            expires_at: Some(created_at + chrono::Duration::hours(2)),
            oauth1: None,
        },
    )
}

/// A draft post of `tenant` targeting `targets`.
pub fn draft(
    tenant: &Tenant,
    name: &str,
    targets: Vec<multivio_domain::post::Target>,
) -> multivio_domain::post::Post {
    use multivio_domain::post::{ContentMode, Post, PostContent, PostInput};
    let content = PostContent::parse(PostInput {
        name: name.to_owned(),
        content_mode: ContentMode::Universal,
        universal_content: Some(format!("{name}: hello")),
        universal_metadata: Some(serde_json::json!({ "hashtags": ["launch"] })),
        platform_content: Default::default(),
        platforms: targets,
        media_files: vec![],
        thread: vec![],
    })
    .unwrap();
    Post::new_draft(
        multivio_domain::PostId(uuid::Uuid::new_v4()),
        tenant.user_id,
        content,
        now(),
    )
}

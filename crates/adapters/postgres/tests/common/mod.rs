//! Shared helpers for the store tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use multivio_domain::quota::Quota;
use multivio_domain::user::{AuthProvider, Email, NewUser};
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
    let store = PgStore::new(db.pool().clone());
    (db, store)
}

//! Shared test fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use multivio_domain::connection::{
    AccountType, Connection, ConnectionStatus, Credentials, ProviderAccountId,
};
use multivio_domain::{ConnectionId, FirebaseUid, Provider, Secret, Tenant, UserId};
use multivio_ports::system::{MockClock, MockIdGenerator};
use uuid::Uuid;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

pub(crate) fn clock() -> Arc<MockClock> {
    let mut c = MockClock::new();
    c.expect_now().returning(now);
    Arc::new(c)
}

pub(crate) fn ids() -> Arc<MockIdGenerator> {
    let counter = std::sync::atomic::AtomicU64::new(1000);
    let mut g = MockIdGenerator::new();
    g.expect_new_uuid().returning(move || {
        Uuid::from_u128(u128::from(
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        ))
    });
    Arc::new(g)
}

pub(crate) fn tenant() -> Tenant {
    Tenant::new(UserId(1), FirebaseUid::new("uid-1").unwrap())
}

pub(crate) fn other_tenant() -> Tenant {
    Tenant::new(UserId(2), FirebaseUid::new("uid-2").unwrap())
}

pub(crate) fn cid(n: u128) -> ConnectionId {
    ConnectionId(Uuid::from_u128(n))
}

pub(crate) fn connection(n: u128, provider: Provider, primary: bool, age_days: i64) -> Connection {
    let at = now() - chrono::Duration::days(age_days);
    Connection {
        id: cid(n),
        user_id: UserId(1),
        provider,
        provider_account_id: ProviderAccountId::new(format!("acct-{n}")).unwrap(),
        account_label: None,
        account_type: AccountType::Personal,
        is_primary: primary,
        status: ConnectionStatus::Active,
        metadata: serde_json::json!({}),
        expires_at: None,
        created_at: at,
        updated_at: at,
    }
}

pub(crate) fn credentials(access: &str) -> Credentials {
    Credentials {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(format!("{access}-refresh"))),
        expires_at: Some(now() + chrono::Duration::hours(2)),
        oauth1: None,
    }
}

/// A vault whose "sealing" is a reversible tag over the plaintext and the associated data, so
/// tests can check that each column is sealed with its own associated data.
pub(crate) fn fake_vault() -> Arc<multivio_ports::vault::MockTokenVault> {
    use multivio_ports::vault::{MockTokenVault, SealedToken, VaultError};
    let mut v = MockTokenVault::new();
    v.expect_seal()
        .returning(|s, aad| Ok(SealedToken(format!("sealed({aad})|{}", s.expose()))));
    v.expect_open().returning(|sealed, aad| {
        let prefix = format!("sealed({aad})|");
        sealed
            .0
            .strip_prefix(&prefix)
            .map(Secret::new)
            .ok_or(VaultError::Corrupt)
    });
    Arc::new(v)
}

use super::*;
use crate::testing::*;
use multivio_domain::Provider;
use multivio_domain::connection::TokenGrant;
use multivio_ports::StoreError;
use multivio_ports::connections::MockConnectionStore;
use multivio_ports::platform::{MockOAuthClient, MockPlatforms, OAuthClient};
use multivio_ports::vault::SealedToken;
use std::sync::Mutex;

#[tokio::test]
async fn each_column_is_sealed_with_its_own_associated_data() {
    let vault = fake_vault();
    let mut creds = credentials("a");
    creds.oauth1 = Some(OAuth1Credentials {
        token: Secret::new("o1"),
        token_secret: Secret::new("o1s"),
        user_id: Some("42".into()),
        screen_name: Some("ada".into()),
        created_at: None,
    });
    let sealed = seal(vault.as_ref(), cid(1), &creds).await.unwrap();
    let aad = |col: &str| format!("sealed(social_connections:{}:{col})|", cid(1));
    assert!(sealed.access_token.0.starts_with(&aad("access_token")));
    assert!(
        sealed
            .refresh_token
            .as_ref()
            .unwrap()
            .0
            .starts_with(&aad("refresh_token"))
    );
    assert!(
        sealed
            .oauth1
            .as_ref()
            .unwrap()
            .token_secret
            .0
            .starts_with(&aad("oauth1_access_token_secret"))
    );
    assert_eq!(open(vault.as_ref(), cid(1), &sealed).await.unwrap(), creds);
    // Moved to another row, or a column swapped: does not open.
    assert!(open(vault.as_ref(), cid(2), &sealed).await.is_err());
    let mut swapped = sealed.clone();
    swapped.access_token = sealed.refresh_token.clone().unwrap();
    assert_eq!(
        open(vault.as_ref(), cid(1), &swapped).await,
        Err(AppError::Unavailable(
            "token vault: sealed value does not open".into()
        ))
    );
}

fn sealed(access: &str, expires_in: chrono::Duration) -> SealedCredentials {
    let id = cid(1);
    SealedCredentials {
        access_token: SealedToken(format!(
            "sealed(social_connections:{id}:access_token)|{access}"
        )),
        refresh_token: Some(SealedToken(format!(
            "sealed(social_connections:{id}:refresh_token)|r-{access}"
        ))),
        expires_at: Some(now() + expires_in),
        oauth1: None,
    }
}

fn keeper(store: MockConnectionStore, client: Option<MockOAuthClient>) -> CredentialKeeper {
    let mut platforms = MockPlatforms::new();
    let client: Option<Arc<dyn OAuthClient>> = client.map(|c| Arc::new(c) as Arc<dyn OAuthClient>);
    platforms.expect_oauth().returning(move |_| client.clone());
    CredentialKeeper::new(Arc::new(store), fake_vault(), Arc::new(platforms), clock())
}

#[tokio::test]
async fn fresh_tokens_are_used_as_they_are() {
    let mut store = MockConnectionStore::new();
    store
        .expect_credentials()
        .returning(|_, _| Ok(sealed("a", chrono::Duration::hours(1))));
    store.expect_try_lock_refresh().never();
    let c = keeper(store, None)
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await
        .unwrap();
    assert_eq!(c.access_token.expose(), "a");
}

#[tokio::test]
async fn a_refresh_finished_elsewhere_is_reused() {
    let reads = Arc::new(Mutex::new(0));
    let mut store = MockConnectionStore::new();
    let r = reads.clone();
    store.expect_credentials().returning(move |_, _| {
        let mut n = r.lock().unwrap();
        *n += 1;
        Ok(if *n == 1 {
            sealed("old", chrono::Duration::minutes(1))
        } else {
            sealed("new", chrono::Duration::hours(2))
        })
    });
    store
        .expect_try_lock_refresh()
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    store
        .expect_unlock_refresh()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut client = MockOAuthClient::new();
    client.expect_refresh().never();
    let c = keeper(store, Some(client))
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await
        .unwrap();
    assert_eq!(c.access_token.expose(), "new");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_sealed() {
    let mut store = MockConnectionStore::new();
    store
        .expect_credentials()
        .returning(|_, _| Ok(sealed("old", chrono::Duration::minutes(1))));
    store
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    store
        .expect_store_refreshed()
        .withf(|_, _, s, _| {
            s.refresh_token
                .as_ref()
                .is_some_and(|t| t.0.ends_with("|rotated"))
                && s.access_token.0.ends_with("|fresh")
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let mut client = MockOAuthClient::new();
    client.expect_refresh().times(1).returning(|_, _| {
        Ok(TokenGrant {
            access_token: Secret::new("fresh"),
            refresh_token: Some(Secret::new("rotated")),
            expires_at: None,
        })
    });
    let c = keeper(store, Some(client))
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await
        .unwrap();
    assert_eq!(c.refresh_token.unwrap().expose(), "rotated");
}

#[tokio::test]
async fn refreshed_tokens_the_store_missed_are_stored_again_from_memory() {
    let mut store = MockConnectionStore::new();
    store
        .expect_credentials()
        .returning(|_, _| Ok(sealed("old", chrono::Duration::minutes(1))));
    store
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    let tries = Arc::new(Mutex::new(0));
    let t = tries.clone();
    store
        .expect_store_refreshed()
        .withf(|_, _, s, _| s.access_token.0.ends_with("|fresh"))
        .returning(move |_, _, _, _| {
            let mut n = t.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Err(StoreError::Unavailable("connection reset".into()))
            } else {
                Ok(())
            }
        });
    // The platform answers once: its new refresh token exists only in memory meanwhile.
    let mut client = MockOAuthClient::new();
    client.expect_refresh().times(1).returning(|_, _| {
        Ok(TokenGrant {
            access_token: Secret::new("fresh"),
            refresh_token: Some(Secret::new("rotated")),
            expires_at: None,
        })
    });
    let c = keeper(store, Some(client))
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await
        .unwrap();
    assert_eq!(c.refresh_token.unwrap().expose(), "rotated");
    assert_eq!(*tries.lock().unwrap(), 3);
}

#[tokio::test]
async fn refreshed_tokens_stored_with_only_the_answer_lost_are_taken_as_stored() {
    let written = Arc::new(Mutex::new(None::<SealedCredentials>));
    let mut store = MockConnectionStore::new();
    let w = written.clone();
    store.expect_credentials().returning(move |_, _| {
        Ok(w.lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| sealed("old", chrono::Duration::minutes(1))))
    });
    store
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    // The first write commits but its answer is lost; the second finds the lock released by it.
    let w = written.clone();
    store
        .expect_store_refreshed()
        .times(2)
        .returning(move |_, _, s, _| {
            let mut stored = w.lock().unwrap();
            if stored.is_none() {
                *stored = Some(s.clone());
                Err(StoreError::Unavailable("connection reset".into()))
            } else {
                Err(StoreError::Conflict("the refresh lock expired".into()))
            }
        });
    store.expect_unlock_refresh().never();
    let mut client = MockOAuthClient::new();
    client.expect_refresh().times(1).returning(|_, _| {
        Ok(TokenGrant {
            access_token: Secret::new("fresh"),
            refresh_token: Some(Secret::new("rotated")),
            expires_at: None,
        })
    });
    let c = keeper(store, Some(client))
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await
        .unwrap();
    assert_eq!(c.access_token.expose(), "fresh");
}

#[tokio::test]
async fn transient_refresh_failures_release_the_lock() {
    let mut store = MockConnectionStore::new();
    store
        .expect_credentials()
        .returning(|_, _| Ok(sealed("old", chrono::Duration::minutes(1))));
    store
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    store
        .expect_unlock_refresh()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut client = MockOAuthClient::new();
    client.expect_refresh().returning(|_, _| {
        Err(OAuthError::Transient {
            reason: "503".into(),
        })
    });
    let r = keeper(store, Some(client))
        .fresh(&tenant(), &connection(1, Provider::X, true, 1))
        .await;
    assert!(matches!(r, Err(RefreshError::Transient { .. })));
}

#[tokio::test]
async fn missing_credentials_are_not_found() {
    let mut store = MockConnectionStore::new();
    store
        .expect_credentials()
        .returning(|_, _| Err(StoreError::NotFound));
    let r = keeper(store, None).load(&tenant(), cid(1)).await;
    assert_eq!(r, Err(AppError::NotFound("connection")));
}

//! ConnectionStore on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{connection, now, setup, tenant};
use multivio_domain::connection::{AccountLabel, ConnectionStatus, ProviderAccountId, primary};
use multivio_domain::{ConnectionId, Provider, Tenant};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::vault::{SealedOAuth1, SealedToken};
use multivio_postgres::PgStore;

async fn connect(
    store: &PgStore,
    t: &Tenant,
    provider: Provider,
    account: &str,
    age_minutes: i64,
) -> ConnectionId {
    let existing = store.list_for_provider(t, provider).await.unwrap();
    let (c, creds) = connection(
        t,
        provider,
        account,
        primary::on_connect(&existing),
        now() - Duration::minutes(age_minutes),
    );
    store.insert(t, &c, &creds).await.unwrap().id
}

async fn primaries(store: &PgStore, t: &Tenant, provider: Provider) -> Vec<ConnectionId> {
    store
        .list_for_provider(t, provider)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.is_primary)
        .map(|c| c.id)
        .collect()
}

#[tokio::test]
async fn connections_round_trip_with_their_sealed_credentials() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let (mut c, mut creds) = connection(&alice, Provider::X, "alice_x", true, now());
    creds.oauth1 = Some(SealedOAuth1 {
        token: SealedToken("sealed-o1".into()),
        token_secret: SealedToken("sealed-o1-secret".into()),
        user_id: Some("123".into()),
        screen_name: Some("alice_x".into()),
        created_at: Some(now()),
    });
    let stored = store.insert(&alice, &c, &creds).await.unwrap();
    assert_eq!(stored, c);
    assert_eq!(store.get(&alice, c.id).await.unwrap(), c);
    assert_eq!(store.credentials(&alice, c.id).await.unwrap(), creds);
    let found = store
        .find_by_account(
            &alice,
            Provider::X,
            &ProviderAccountId::new("alice_x").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(c.id));
    assert_eq!(store.list(&alice).await.unwrap(), vec![c.clone()]);

    // Reconnecting replaces credentials and metadata, keeps primary and created_at.
    store
        .set_status(&alice, c.id, ConnectionStatus::NeedsReauth)
        .await
        .unwrap();
    c.metadata = serde_json::json!({ "screen_name": "alice_renamed" });
    c.is_primary = false;
    creds.access_token = SealedToken("sealed-access-new".into());
    creds.oauth1 = None;
    let again = store.reconnect(&alice, &c, &creds).await.unwrap();
    assert!(again.is_primary);
    assert_eq!(again.status, ConnectionStatus::Active);
    assert_eq!(again.metadata["screen_name"], "alice_renamed");
    assert_eq!(store.credentials(&alice, c.id).await.unwrap(), creds);

    let labelled = store
        .update_label(&alice, c.id, Some(AccountLabel::new("Work").unwrap()))
        .await
        .unwrap();
    assert_eq!(labelled.account_label.unwrap().as_str(), "Work");
}

#[tokio::test]
async fn an_account_connects_once_and_a_provider_has_one_primary() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let (c, creds) = connection(&alice, Provider::Bluesky, "a.bsky.social", true, now());
    store.insert(&alice, &c, &creds).await.unwrap();
    let (dup, creds2) = connection(&alice, Provider::Bluesky, "a.bsky.social", false, now());
    assert!(matches!(
        store.insert(&alice, &dup, &creds2).await,
        Err(StoreError::Conflict(_))
    ));
    let (second_primary, creds3) =
        connection(&alice, Provider::Bluesky, "b.bsky.social", true, now());
    assert!(matches!(
        store.insert(&alice, &second_primary, &creds3).await,
        Err(StoreError::Conflict(_))
    ));
    // Another tenant may connect the same platform account.
    let bob = tenant(&store, "bob").await;
    let (same, creds4) = connection(&bob, Provider::Bluesky, "a.bsky.social", true, now());
    store.insert(&bob, &same, &creds4).await.unwrap();
}

#[tokio::test]
async fn other_tenants_connections_are_not_found_and_untouched() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let id = connect(&store, &alice, Provider::Mastodon, "alice@m.social", 0).await;
    assert_eq!(store.get(&bob, id).await.unwrap_err(), StoreError::NotFound);
    assert_eq!(
        store.credentials(&bob, id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store.update_label(&bob, id, None).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store
            .set_status(&bob, id, ConnectionStatus::NeedsReauth)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store.delete(&bob, id, None).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store
            .set_primary_flags(&bob, Provider::Mastodon, &[(id, false)])
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store
            .try_lock_refresh(&bob, id, now(), now())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    // A forged tenant (Bob's claim, Alice's id) sees nothing either.
    let forged = Tenant::new(alice.user_id, bob.firebase_uid.clone());
    assert!(store.list(&forged).await.unwrap().is_empty());
    let c = store.get(&alice, id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    assert!(c.is_primary);
}

#[tokio::test]
async fn a_publishing_account_is_the_named_one_or_the_primary_with_its_credentials() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let first = connect(&store, &alice, Provider::Mastodon, "alice@one.social", 10).await;
    let second = connect(&store, &alice, Provider::Mastodon, "alice@two.social", 5).await;
    let x = connect(&store, &alice, Provider::X, "alice_x", 1).await;

    let account = |provider, id| {
        let store = &store;
        let alice = &alice;
        async move {
            store
                .publishing_account(alice, provider, id)
                .await
                .unwrap()
                .map(|(c, sealed)| (c.id, sealed))
        }
    };
    // The primary (the first connected), or the one named, each with its own credentials.
    let (id, sealed) = account(Provider::Mastodon, None).await.unwrap();
    assert_eq!(id, first);
    assert_eq!(sealed, store.credentials(&alice, first).await.unwrap());
    let (id, sealed) = account(Provider::Mastodon, Some(second)).await.unwrap();
    assert_eq!(id, second);
    assert_eq!(sealed, store.credentials(&alice, second).await.unwrap());
    assert_ne!(
        store.credentials(&alice, first).await.unwrap(),
        store.credentials(&alice, second).await.unwrap()
    );
    // A named account of another platform, a platform without an account, and another
    // tenant's account are none.
    assert!(account(Provider::Mastodon, Some(x)).await.is_none());
    assert!(account(Provider::Bluesky, None).await.is_none());
    let bobs = store
        .publishing_account(&bob, Provider::Mastodon, Some(first))
        .await
        .unwrap();
    assert!(bobs.is_none());
    assert!(
        store
            .publishing_account(&bob, Provider::Mastodon, None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn removing_the_primary_of_three_promotes_the_oldest_remaining() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let first = connect(&store, &alice, Provider::Linkedin, "one", 30).await;
    let second = connect(&store, &alice, Provider::Linkedin, "two", 20).await;
    let _third = connect(&store, &alice, Provider::Linkedin, "three", 10).await;
    assert_eq!(primaries(&store, &alice, Provider::Linkedin).await, [first]);

    let remaining: Vec<_> = store
        .list_for_provider(&alice, Provider::Linkedin)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.id != first)
        .collect();
    let promote = primary::after_removal(&remaining);
    assert_eq!(promote, Some(second));
    store.delete(&alice, first, promote).await.unwrap();
    assert_eq!(
        primaries(&store, &alice, Provider::Linkedin).await,
        [second]
    );
    assert_eq!(
        store
            .list_for_provider(&alice, Provider::Linkedin)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn concurrent_make_primary_calls_leave_exactly_one_primary() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            connect(
                &store,
                &alice,
                Provider::Facebook,
                &format!("page{i}"),
                50 - i,
            )
            .await,
        );
    }
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let alice = alice.clone();
            let id = ids[i % ids.len()];
            tokio::spawn(async move {
                // What the use case does: read, decide with the domain rule, apply; a lost race
                // is a Conflict, and the caller retries on fresh data.
                for _ in 0..50 {
                    let conns = store
                        .list_for_provider(&alice, Provider::Facebook)
                        .await
                        .unwrap();
                    let changes = primary::make_primary(&conns, id).unwrap();
                    match store
                        .set_primary_flags(&alice, Provider::Facebook, &changes)
                        .await
                    {
                        Ok(()) => return true,
                        Err(StoreError::Conflict(_)) => continue,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                false
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap(), "a call never got through");
    }
    assert_eq!(primaries(&store, &alice, Provider::Facebook).await.len(), 1);
}

#[tokio::test]
async fn one_refresh_at_a_time() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let id = connect(&store, &alice, Provider::X, "alice", 0).await;
    let t0 = now();
    assert!(
        store
            .try_lock_refresh(&alice, id, t0, t0 + Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lock_refresh(&alice, id, t0, t0 + Duration::seconds(30))
            .await
            .unwrap()
    );
    // An expired lock can be taken over.
    assert!(
        store
            .try_lock_refresh(
                &alice,
                id,
                t0 + Duration::seconds(31),
                t0 + Duration::seconds(60)
            )
            .await
            .unwrap()
    );
    // The first holder, slower than its lock, must not overwrite what the new holder stores.
    let mut stale = store.credentials(&alice, id).await.unwrap();
    stale.access_token = SealedToken("stale".into());
    assert!(matches!(
        store
            .store_refreshed(&alice, id, &stale, t0 + Duration::seconds(30))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .unlock_refresh(&alice, id, t0 + Duration::seconds(30))
        .await
        .unwrap();
    assert!(
        !store
            .try_lock_refresh(
                &alice,
                id,
                t0 + Duration::seconds(32),
                t0 + Duration::seconds(90)
            )
            .await
            .unwrap(),
        "a stale unlock does not release the new holder's lock"
    );
    let mut creds = store.credentials(&alice, id).await.unwrap();
    creds.access_token = SealedToken("refreshed".into());
    store
        .set_status(&alice, id, ConnectionStatus::NeedsReauth)
        .await
        .unwrap();
    store
        .store_refreshed(&alice, id, &creds, t0 + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        store.credentials(&alice, id).await.unwrap().access_token,
        SealedToken("refreshed".into())
    );
    assert_eq!(
        store.get(&alice, id).await.unwrap().status,
        ConnectionStatus::Active
    );
    assert!(
        store
            .try_lock_refresh(&alice, id, t0, t0 + Duration::seconds(30))
            .await
            .unwrap(),
        "released"
    );
    store
        .unlock_refresh(&alice, id, t0 + Duration::seconds(30))
        .await
        .unwrap();

    // A refused refresh token: needs reauth, the lock released — unless a new sign-in (which
    // clears the lock) came between, whose connection stays active.
    let lock = t0 + Duration::seconds(30);
    assert!(store.try_lock_refresh(&alice, id, t0, lock).await.unwrap());
    assert!(store.refresh_refused(&alice, id, lock).await.unwrap());
    assert_eq!(
        store.get(&alice, id).await.unwrap().status,
        ConnectionStatus::NeedsReauth
    );
    assert!(store.try_lock_refresh(&alice, id, t0, lock).await.unwrap());
    let signed_in = store.get(&alice, id).await.unwrap();
    let fresh = store.credentials(&alice, id).await.unwrap();
    store.reconnect(&alice, &signed_in, &fresh).await.unwrap();
    assert!(!store.refresh_refused(&alice, id, lock).await.unwrap());
    assert_eq!(
        store.get(&alice, id).await.unwrap().status,
        ConnectionStatus::Active
    );

    // Many at once: exactly one wins.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let alice = alice.clone();
            tokio::spawn(async move {
                store
                    .try_lock_refresh(&alice, id, t0, t0 + Duration::seconds(30))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

/// Connects `account` of `t` to X (not primary) with an access token expiring at `expires_at`
/// (`None`: never) and a refresh token when `refreshable`.
async fn connect_expiring(
    store: &PgStore,
    t: &Tenant,
    account: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    refreshable: bool,
) -> ConnectionId {
    let (mut c, mut creds) = connection(t, Provider::X, account, false, now());
    c.expires_at = expires_at;
    creds.expires_at = expires_at;
    if !refreshable {
        creds.refresh_token = None;
    }
    store.insert(t, &c, &creds).await.unwrap().id
}

#[tokio::test]
async fn expiring_finds_refreshable_unlocked_active_connections_across_tenants_soonest_first() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let t0 = now();
    let minutes = |m: i64| Some(t0 + Duration::minutes(m));

    let alice_due = connect_expiring(&store, &alice, "a-due", minutes(10), true).await;
    connect_expiring(&store, &alice, "a-later", minutes(180), true).await;
    connect_expiring(&store, &alice, "a-no-refresh", minutes(5), false).await;
    connect_expiring(&store, &alice, "a-never", None, true).await;
    let alice_stale_lock =
        connect_expiring(&store, &alice, "a-stale-lock", minutes(20), true).await;
    let bob_soonest = connect_expiring(&store, &bob, "b-soonest", minutes(2), true).await;
    let bob_reauth = connect_expiring(&store, &bob, "b-reauth", minutes(1), true).await;
    store
        .set_status(&bob, bob_reauth, ConnectionStatus::NeedsReauth)
        .await
        .unwrap();
    let bob_locked = connect_expiring(&store, &bob, "b-locked", minutes(4), true).await;
    // Being refreshed right now (the database's clock decides), and a lock long expired.
    assert!(
        store
            .try_lock_refresh(&bob, bob_locked, t0, t0 + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lock_refresh(
                &alice,
                alice_stale_lock,
                t0 - Duration::minutes(10),
                t0 - Duration::minutes(5)
            )
            .await
            .unwrap()
    );
    let before = t0 + Duration::hours(1);

    let found = store.expiring(before, 10).await.unwrap();
    let ids: Vec<_> = found.iter().map(|(_, c)| c.id).collect();
    assert_eq!(ids, [bob_soonest, alice_due, alice_stale_lock]);
    let owners: Vec<_> = found.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(owners, [bob.clone(), alice.clone(), alice.clone()]);
    assert_eq!(found[0].1.provider_account_id.as_str(), "b-soonest");
    assert_eq!(found[0].1.expires_at, minutes(2));
    assert_eq!(found[0].1.status, ConnectionStatus::Active);

    assert_eq!(
        store
            .expiring(before, 2)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, c)| c.id)
            .collect::<Vec<_>>(),
        [bob_soonest, alice_due],
        "limited"
    );
    assert!(
        store
            .expiring(t0 + Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing refreshable expires before then"
    );
    // A worker-only process sees the same.
    assert_eq!(
        db.worker_store()
            .expiring(before, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, c)| c.id)
            .collect::<Vec<_>>(),
        ids
    );

    // Once refreshed (lock released, a later expiry) a connection leaves the list.
    let mut creds = store.credentials(&bob, bob_soonest).await.unwrap();
    creds.expires_at = minutes(120);
    let lock = t0 + Duration::seconds(30);
    assert!(
        store
            .try_lock_refresh(&bob, bob_soonest, t0, lock)
            .await
            .unwrap()
    );
    store
        .store_refreshed(&bob, bob_soonest, &creds, lock)
        .await
        .unwrap();
    let ids: Vec<_> = store
        .expiring(before, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, c)| c.id)
        .collect();
    assert_eq!(ids, [alice_due, alice_stale_lock]);
}

//! IdempotencyStore on a real database, with the effect recorded by the post unit of work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::{setup, tenant};
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_domain::post::{Post, PostContent, PostInput, Target};
use multivio_domain::{PostId, Provider, Tenant};
use multivio_ports::StoreError;
use multivio_ports::idempotency::{IdempotencyStore, Reservation};
use multivio_ports::posts::{PostChange, PostStore, PostWrite};

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

fn reserved(r: Reservation) -> IdempotencyClaim {
    match r {
        Reservation::Reserved(claim) => claim,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

fn draft(t: &Tenant) -> Post {
    let content = PostContent::parse(PostInput {
        name: "Idempotent".into(),
        universal_content: Some("hello".into()),
        platforms: vec![Target::primary(Provider::X)],
        ..Default::default()
    })
    .unwrap();
    Post::new_draft(PostId(uuid::Uuid::new_v4()), t.user_id, content, Utc::now())
}

/// Inserts a draft as the effect of `claim`'s request.
async fn effect(
    store: &impl PostStore,
    t: &Tenant,
    claim: &IdempotencyClaim,
) -> Result<Post, StoreError> {
    let change = PostChange {
        idempotency: Some(claim.clone()),
        ..PostChange::write(PostWrite::Insert(draft(t)))
    };
    Ok(store.apply(t, change).await?.unwrap())
}

#[tokio::test]
async fn a_key_is_reserved_once_replayed_after_completion_and_scoped_to_its_tenant() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let claim = reserved(store.reserve(&alice, &key("k1"), b"h1").await.unwrap());
    assert_eq!(claim.key, key("k1"));
    assert_eq!(
        store.reserve(&alice, &key("k1"), b"h1").await.unwrap(),
        Reservation::InProgress
    );
    assert_eq!(
        store.reserve(&alice, &key("k1"), b"h2").await.unwrap(),
        Reservation::Mismatch
    );
    let bobs = reserved(store.reserve(&bob, &key("k1"), b"h1").await.unwrap());

    let body = serde_json::json!({ "id": "p1" });
    store
        .complete(&alice, &key("k1"), 201, &body)
        .await
        .unwrap();
    assert_eq!(
        store.reserve(&alice, &key("k1"), b"h1").await.unwrap(),
        Reservation::Replay { status: 201, body }
    );
    // A completed key cannot be released.
    store.release(&alice, &claim).await.unwrap();
    assert!(matches!(
        store.reserve(&alice, &key("k1"), b"h1").await.unwrap(),
        Reservation::Replay { .. }
    ));

    store.release(&bob, &bobs).await.unwrap();
    reserved(store.reserve(&bob, &key("k1"), b"h1").await.unwrap());
}

#[tokio::test]
async fn concurrent_reservations_of_one_key_let_one_run() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let alice = alice.clone();
            tokio::spawn(async move { store.reserve(&alice, &key("same"), b"h").await.unwrap() })
        })
        .collect();
    let mut reserved = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Reservation::Reserved(_)) {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1);
}

#[tokio::test]
async fn an_abandoned_reservation_is_taken_over_and_the_old_attempt_cannot_commit() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let first = reserved(store.reserve(&alice, &key("k"), b"h").await.unwrap());
    assert_eq!(
        store.reserve(&alice, &key("k"), b"h").await.unwrap(),
        Reservation::InProgress
    );
    // The process that reserved it stalled ten minutes ago before doing anything.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE idempotency_keys SET created_at = now() - interval '10 minutes'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        store.reserve(&alice, &key("k"), b"other").await.unwrap(),
        Reservation::Mismatch
    );
    let second = reserved(store.reserve(&alice, &key("k"), b"h").await.unwrap());
    assert_ne!(first.attempt, second.attempt);
    // The stalled attempt wakes up: its effect is refused, and nothing of it is stored.
    assert!(matches!(
        effect(&store, &alice, &first).await,
        Err(StoreError::Conflict(_))
    ));
    let post = effect(&store, &alice, &second).await.unwrap();
    assert_eq!(
        store.reserve(&alice, &key("k"), b"h").await.unwrap(),
        Reservation::Committed { post_id: post.id }
    );
}

#[tokio::test]
async fn an_effect_committed_without_an_answer_is_never_run_again() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let claim = reserved(store.reserve(&alice, &key("k"), b"h").await.unwrap());
    let post = effect(&store, &alice, &claim).await.unwrap();
    // The process dies here: no answer stored. Even long after, a repeat finds the effect
    // and is not offered the key again.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE idempotency_keys SET created_at = now() - interval '30 minutes'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        store.reserve(&alice, &key("k"), b"h").await.unwrap(),
        Reservation::Committed { post_id: post.id }
    );
    // Releasing after an effect changes nothing; a second effect under the claim is refused.
    store.release(&alice, &claim).await.unwrap();
    assert!(effect(&store, &alice, &claim).await.is_err());
    assert_eq!(
        store.reserve(&alice, &key("k"), b"h").await.unwrap(),
        Reservation::Committed { post_id: post.id }
    );
}

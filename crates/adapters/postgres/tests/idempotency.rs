//! IdempotencyStore on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{setup, tenant};
use multivio_ports::idempotency::{IdempotencyStore, Reservation};

#[tokio::test]
async fn a_key_is_reserved_once_replayed_after_completion_and_scoped_to_its_tenant() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    assert_eq!(
        store.reserve(&alice, "k1", "h1").await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&alice, "k1", "h1").await.unwrap(),
        Reservation::InProgress
    );
    assert_eq!(
        store.reserve(&alice, "k1", "h2").await.unwrap(),
        Reservation::Mismatch
    );
    assert_eq!(
        store.reserve(&bob, "k1", "h1").await.unwrap(),
        Reservation::Reserved,
        "keys are per tenant"
    );

    let body = serde_json::json!({ "id": "p1" });
    store.complete(&alice, "k1", 201, &body).await.unwrap();
    assert_eq!(
        store.reserve(&alice, "k1", "h1").await.unwrap(),
        Reservation::Replay { status: 201, body }
    );
    // A completed key cannot be released.
    store.release(&alice, "k1").await.unwrap();
    assert!(matches!(
        store.reserve(&alice, "k1", "h1").await.unwrap(),
        Reservation::Replay { .. }
    ));

    store.release(&bob, "k1").await.unwrap();
    assert_eq!(
        store.reserve(&bob, "k1", "h1").await.unwrap(),
        Reservation::Reserved,
        "released keys may run again"
    );
}

#[tokio::test]
async fn concurrent_reservations_of_one_key_let_one_run() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let alice = alice.clone();
            tokio::spawn(async move { store.reserve(&alice, "same", "h").await.unwrap() })
        })
        .collect();
    let mut reserved = 0;
    for t in tasks {
        if t.await.unwrap() == Reservation::Reserved {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1);
}

#[tokio::test]
async fn an_abandoned_reservation_is_taken_over() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    assert_eq!(
        store.reserve(&alice, "k", "h").await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&alice, "k", "h").await.unwrap(),
        Reservation::InProgress
    );
    // The process that reserved it died ten minutes ago without answering.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut owner = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE idempotency_keys SET created_at = now() - interval '10 minutes'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        store.reserve(&alice, "k", "other").await.unwrap(),
        Reservation::Mismatch
    );
    assert_eq!(
        store.reserve(&alice, "k", "h").await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&alice, "k", "h").await.unwrap(),
        Reservation::InProgress
    );
}

use std::sync::atomic::{AtomicUsize, Ordering};

use multivio_domain::post::{PostContent, PostInput, Target};
use multivio_domain::{PostId, Provider, UserId};
use multivio_ports::idempotency::MockIdempotencyStore;
use multivio_ports::posts::MockPostStore;
use uuid::Uuid;

use super::*;
use crate::testing::{now, tenant};

fn post(n: u128) -> Post {
    let content = PostContent::parse(PostInput {
        name: "Launch".into(),
        universal_content: Some("Hello".into()),
        platforms: vec![Target::primary(Provider::X)],
        ..Default::default()
    })
    .unwrap();
    Post::new_draft(PostId(Uuid::from_u128(n)), UserId(1), content, now())
}

fn render(post: &Post) -> AppResult<Answer> {
    Ok(Answer {
        status: 201,
        body: serde_json::json!({ "id": post.id.to_string(), "name": post.name.as_str() }),
    })
}

fn key() -> IdempotencyKey {
    IdempotencyKey::new("k-1").unwrap()
}

fn claim() -> IdempotencyClaim {
    IdempotencyClaim {
        key: key(),
        attempt: Uuid::from_u128(77),
    }
}

fn service(store: MockIdempotencyStore, posts: MockPostStore) -> IdempotencyService {
    IdempotencyService::new(Arc::new(store), Arc::new(posts))
}

#[tokio::test]
async fn a_new_key_runs_once_with_its_claim_and_stores_the_answer() {
    let mut store = MockIdempotencyStore::new();
    store
        .expect_reserve()
        .withf(|_, k, fp| k.as_str() == "k-1" && fp == b"POST /v1/posts\n{}")
        .times(1)
        .returning(|_, _, _| Ok(Reservation::Reserved(claim())));
    store
        .expect_complete()
        .withf(|_, k, status, body| {
            k.as_str() == "k-1" && *status == 201 && body["name"] == "Launch"
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let runs = AtomicUsize::new(0);
    let outcome = service(store, MockPostStore::new())
        .run(
            &tenant(),
            Some(&key()),
            b"POST /v1/posts\n{}",
            |c| {
                runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(c, Some(claim()), "the effect must carry the claim");
                async { Ok(post(1)) }
            },
            render,
        )
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(!outcome.replayed);
    assert_eq!(outcome.answer.status, 201);
}

#[tokio::test]
async fn a_finished_request_is_replayed_without_running() {
    let mut store = MockIdempotencyStore::new();
    store.expect_reserve().returning(|_, _, _| {
        Ok(Reservation::Replay {
            status: 202,
            body: serde_json::json!({"first": true}),
        })
    });
    let outcome = service(store, MockPostStore::new())
        .run(
            &tenant(),
            Some(&key()),
            b"x",
            |_| async { panic!("a replay must not run the request") },
            render,
        )
        .await
        .unwrap();
    assert!(outcome.replayed);
    assert_eq!(outcome.answer.status, 202);
    assert_eq!(outcome.answer.body["first"], true);
}

#[tokio::test]
async fn an_effect_without_an_answer_is_answered_from_the_post_not_run_again() {
    let mut store = MockIdempotencyStore::new();
    store.expect_reserve().returning(|_, _, _| {
        Ok(Reservation::Committed {
            post_id: PostId(Uuid::from_u128(9)),
        })
    });
    store
        .expect_complete()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let mut posts = MockPostStore::new();
    posts
        .expect_get()
        .withf(|_, id| *id == PostId(Uuid::from_u128(9)))
        .returning(|_, _| Ok(post(9)));
    let outcome = service(store, posts)
        .run(
            &tenant(),
            Some(&key()),
            b"x",
            |_| async { panic!("a committed effect must not run again") },
            render,
        )
        .await
        .unwrap();
    assert!(outcome.replayed);
    assert_eq!(
        outcome.answer.body["id"],
        Uuid::from_u128(9).to_string().as_str()
    );
}

#[tokio::test]
async fn busy_and_reused_keys_are_refused() {
    for (found, expected) in [
        (Reservation::InProgress, AppError::IdempotencyInProgress),
        (Reservation::Mismatch, AppError::IdempotencyKeyReused),
    ] {
        let mut store = MockIdempotencyStore::new();
        store
            .expect_reserve()
            .returning(move |_, _, _| Ok(found.clone()));
        let err = service(store, MockPostStore::new())
            .run(
                &tenant(),
                Some(&key()),
                b"x",
                |_| async { panic!("must not run") },
                render,
            )
            .await
            .unwrap_err();
        assert_eq!(err, expected);
    }
}

#[tokio::test]
async fn a_failed_request_releases_its_reservation_and_stores_nothing() {
    let mut store = MockIdempotencyStore::new();
    store
        .expect_reserve()
        .returning(|_, _, _| Ok(Reservation::Reserved(claim())));
    store
        .expect_release()
        .withf(|_, c| *c == claim())
        .times(1)
        .returning(|_, _| Ok(()));
    store.expect_complete().never();
    let err = service(store, MockPostStore::new())
        .run(
            &tenant(),
            Some(&key()),
            b"x",
            |_| async { Err(AppError::Conflict("no".into())) },
            render,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)));
}

#[tokio::test]
async fn without_a_key_the_request_simply_runs() {
    let mut store = MockIdempotencyStore::new();
    store.expect_reserve().never();
    let outcome = service(store, MockPostStore::new())
        .run(
            &tenant(),
            None,
            b"x",
            |c| {
                assert!(c.is_none());
                async { Ok(post(2)) }
            },
            render,
        )
        .await
        .unwrap();
    assert!(!outcome.replayed);
}

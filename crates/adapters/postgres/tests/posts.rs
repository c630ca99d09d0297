//! PostStore (the unit of work) and JobQueue on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use chrono::Duration;
use common::{connection, draft, now, setup, tenant, tenant_with_quota};
use multivio_domain::job::{FencingToken, JobOutcome, NewJob};
use multivio_domain::post::{PlatformContent, Post, PostStatus, Target};
use multivio_domain::quota::QuotaEffect;
use multivio_domain::{ConnectionId, JobId, MediaId, PostId, Provider, Tenant};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::jobs::JobQueue;
use multivio_ports::posts::{
    AccountRef, Decide, Decision, JobStep, PostChange, PostQuery, PostStore, PostWrite,
    StoredAccount,
};
use multivio_ports::users::QuotaStore;
use multivio_postgres::PgStore;
use uuid::Uuid;

async fn insert(store: &PgStore, t: &Tenant, post: &Post) -> Post {
    store
        .apply(t, PostChange::write(PostWrite::Insert(post.clone())))
        .await
        .unwrap()
        .unwrap()
}

fn jobs_for(post: &Post, run_at: chrono::DateTime<chrono::Utc>) -> Vec<NewJob> {
    post.platforms
        .as_slice()
        .iter()
        .map(|t| NewJob {
            id: JobId(Uuid::new_v4()),
            post_id: post.id,
            target: *t,
            run_at,
        })
        .collect()
}

/// Schedules `post` the way the use case does: domain transition, then one unit of work.
async fn schedule(store: &PgStore, t: &Tenant, post: &Post) -> Result<Post, StoreError> {
    let mut next = post.clone();
    let at = now() + Duration::hours(1);
    let quota = next.schedule(at, now()).unwrap();
    let change = PostChange {
        write: PostWrite::Update {
            post: next.clone(),
            expected_revision: post.revision,
        },
        quota,
        enqueue: jobs_for(&next, at),
        cancel_pending_jobs: false,
        job: None,
        idempotency: None,
    };
    store.apply(t, change).await.map(|p| p.unwrap())
}

/// The first page of every post, at the default size.
fn first_page() -> PostQuery {
    PostQuery {
        status: None,
        platform: None,
        from: None,
        to: None,
        limit: multivio_domain::page::PageSize::new(None),
        cursor: None,
    }
}

async fn remaining(store: &PgStore, t: &Tenant) -> u32 {
    QuotaStore::get(store, t).await.unwrap().remaining_posts
}

#[tokio::test]
async fn a_post_round_trips_with_its_json_columns() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let account = ConnectionId(Uuid::new_v4());
    let mut post = draft(
        &alice,
        "launch",
        vec![
            Target::primary(Provider::X),
            Target::account(Provider::Linkedin, account),
        ],
    );
    post.platform_content.insert(
        Provider::X,
        PlatformContent {
            content: "short".into(),
            thread: vec![multivio_domain::post::ThreadPart {
                text: "and a reply".into(),
                media_files: vec![],
            }],
            extra: serde_json::Map::from_iter([("max_length".to_owned(), serde_json::json!(280))]),
        },
    );
    post.media_files = vec![MediaId(Uuid::new_v4())];
    post.thread = vec![multivio_domain::post::ThreadPart {
        text: "the universal thread goes on".into(),
        media_files: vec![MediaId(Uuid::new_v4())],
    }];
    // Numbers at the ends of what a request may carry: PostgreSQL keeps them exactly and
    // prints them in full (the largest float as 309 digits), and they read back as sent.
    post.universal_metadata = serde_json::json!({
        "largest": f64::MAX,
        "lowest": f64::MIN,
        "smallest": f64::MIN_POSITIVE,
        "subnormal": -5e-324,
        "float": -1.175494351e-38,
        "unsigned": u64::MAX,
        "signed": i64::MIN,
    });
    let stored = insert(&store, &alice, &post).await;
    assert_eq!(stored, post);
    assert_eq!(PostStore::get(&store, &alice, post.id).await.unwrap(), post);
    let listed = PostStore::list(&store, &alice, &first_page())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![post]);
}

#[tokio::test]
async fn a_platforms_words_with_a_nul_are_stored_with_it_replaced() {
    // A post id or an error message from a platform (a Mastodon instance or a PDS the user
    // chose) holding a NUL, which PostgreSQL refuses in text and jsonb: the write keeps the
    // result, with U+FFFD in place of each NUL.
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let target = Target::primary(Provider::Mastodon);
    let mut post = draft(&alice, "nul", vec![target]);
    let key = post.platforms.result_key(&target);
    let mut result = multivio_domain::post::TargetResult::pending(&target);
    result.platform_post_id = Some("10\u{0}9".to_owned());
    result.error = Some(multivio_domain::post::TargetError::new(
        "bad\u{0}code",
        "refused: \u{0}",
    ));
    post.publish_results.insert(key.clone(), result);
    let stored = insert(&store, &alice, &post).await;
    let read = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(read, stored);
    let result = &read.publish_results[&key];
    assert_eq!(result.platform_post_id.as_deref(), Some("10\u{FFFD}9"));
    let error = result.error.as_ref().unwrap();
    assert_eq!(
        (error.code.as_str(), error.message.as_str()),
        ("bad\u{FFFD}code", "refused: \u{FFFD}")
    );

    // A connection whose profile holds one, in a key and in a value.
    let (mut c, sealed) = connection(&alice, Provider::Mastodon, "ann", true, now());
    c.metadata = serde_json::json!({"display_name": "A\u{0}nn", "k\u{0}": ["x\u{0}"]});
    let saved = ConnectionStore::insert(&store, &alice, &c, &sealed)
        .await
        .unwrap();
    assert_eq!(
        saved.metadata,
        serde_json::json!({"display_name": "A\u{FFFD}nn", "k\u{FFFD}": ["x\u{FFFD}"]})
    );
}

#[tokio::test]
async fn writes_are_guarded_by_revision_and_tenant() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;

    let mut edited = post.clone();
    edited.universal_content = Some("edited".into());
    let change = |p: &Post, rev| {
        PostChange::write(PostWrite::Update {
            post: p.clone(),
            expected_revision: rev,
        })
    };
    let stored = store
        .apply(&alice, change(&edited, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.universal_content.as_deref(), Some("edited"));
    // A second writer that read revision 0 loses.
    assert!(matches!(
        store.apply(&alice, change(&edited, 0)).await,
        Err(StoreError::Conflict(_))
    ));
    // Bob can neither read nor write Alice's post, even with the right revision.
    assert_eq!(
        PostStore::get(&store, &bob, post.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store.apply(&bob, change(&edited, 1)).await.unwrap_err(),
        StoreError::NotFound
    );
    let delete = PostChange::write(PostWrite::Delete {
        id: post.id,
        expected_revision: 1,
    });
    assert_eq!(
        store.apply(&bob, delete.clone()).await.unwrap_err(),
        StoreError::NotFound
    );
    // Bob cannot plant a post in Alice's name either.
    let mut planted = draft(&alice, "planted", vec![]);
    planted.user_id = alice.user_id;
    assert_eq!(
        store
            .apply(&bob, PostChange::write(PostWrite::Insert(planted.clone())))
            .await
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        PostStore::get(&store, &bob, planted.id)
            .await
            .unwrap()
            .user_id,
        bob.user_id,
        "the store writes the caller's user id"
    );
    assert_eq!(store.apply(&alice, delete).await.unwrap(), None);
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap_err(),
        StoreError::NotFound
    );
}

/// A decision that counts in `universal_content`: each one depends on the post it was given.
fn count_up(post: &Post) -> Decision {
    let n: u32 = post
        .universal_content
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut next = post.clone();
    next.universal_content = Some((n + 1).to_string());
    Decision::Write(Box::new(PostChange::write(PostWrite::Update {
        post: next,
        expected_revision: post.revision,
    })))
}

#[tokio::test]
async fn concurrent_decisions_over_one_post_each_see_the_last_one_and_none_is_lost() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, alice) = (store.clone(), alice.clone());
            tokio::spawn(async move { store.modify(&alice, post.id, Box::new(count_up)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(stored.universal_content.as_deref(), Some("16"));
    assert_eq!(stored.revision, post.revision + 16);

    // Keeping writes nothing; a decision about another revision is refused; so is another
    // tenant.
    let kept = store
        .modify(&alice, post.id, Box::new(|_: &Post| Decision::Keep))
        .await
        .unwrap();
    assert_eq!(kept, stored);
    let stale = stored.clone();
    let refused = store
        .modify(
            &alice,
            post.id,
            Box::new(move |_: &Post| {
                Decision::Write(Box::new(PostChange::write(PostWrite::Update {
                    post: stale,
                    expected_revision: 3,
                })))
            }),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        store
            .modify(&bob, post.id, Box::new(count_up))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap(),
        stored
    );
}

/// A step with its account ([`PostStore::modify_with_account`]) over `post`: the account found
/// (its id, and whether its credentials are the ones stored) and the post as stored after it
/// counted up.
async fn step_with_account(
    store: &PgStore,
    t: &Tenant,
    post: &Post,
    account: AccountRef,
) -> Result<(Option<ConnectionId>, Post), StoreError> {
    let (seen, found) = std::sync::mpsc::channel::<StoredAccount>();
    let stored = store
        .modify_with_account(
            t,
            post.id,
            account,
            Box::new(move |stored: StoredAccount| {
                Box::pin(async move {
                    seen.send(stored).unwrap();
                    Box::new(count_up) as Decide
                })
            }),
        )
        .await?;
    let account = match found.try_recv().unwrap() {
        Some((c, sealed)) => {
            assert_eq!(sealed, store.credentials(t, c.id).await.unwrap());
            assert_eq!(c, ConnectionStore::get(store, t, c.id).await.unwrap());
            Some(c.id)
        }
        None => None,
    };
    Ok((account, stored))
}

#[tokio::test]
async fn a_step_with_its_account_reads_the_named_or_primary_one_with_the_post() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let mut ids = Vec::new();
    for (account, primary, age) in [("one", true, 10), ("two", false, 5)] {
        let (c, creds) = connection(
            &alice,
            Provider::Mastodon,
            account,
            primary,
            now() - Duration::minutes(age),
        );
        ids.push(
            ConnectionStore::insert(&store, &alice, &c, &creds)
                .await
                .unwrap()
                .id,
        );
    }
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::Mastodon)]),
    )
    .await;
    let mastodon = |connection| AccountRef {
        provider: Provider::Mastodon,
        connection,
    };

    // The primary, or the one named, each with its credentials; the decision is written.
    let (found, stored) = step_with_account(&store, &alice, &post, mastodon(None))
        .await
        .unwrap();
    assert_eq!(found, Some(ids[0]));
    assert_eq!(stored.universal_content.as_deref(), Some("1"));
    assert_eq!(stored.revision, post.revision + 1);
    let (found, stored) = step_with_account(&store, &alice, &post, mastodon(Some(ids[1])))
        .await
        .unwrap();
    assert_eq!(found, Some(ids[1]));
    assert_eq!(stored.universal_content.as_deref(), Some("2"));
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap(),
        stored
    );
    // A platform without an account, or an account of another platform named: none, and the
    // decision still runs.
    let other = AccountRef {
        provider: Provider::Bluesky,
        connection: Some(ids[0]),
    };
    let (found, stored) = step_with_account(&store, &alice, &post, other)
        .await
        .unwrap();
    assert_eq!(
        (found, stored.universal_content.as_deref()),
        (None, Some("3"))
    );

    // Another tenant finds neither the post nor, so, anything to decide over.
    let refused = step_with_account(&store, &bob, &post, mastodon(Some(ids[0]))).await;
    assert_eq!(refused.unwrap_err(), StoreError::NotFound);
    assert_eq!(
        PostStore::get(&store, &alice, post.id)
            .await
            .unwrap()
            .universal_content
            .as_deref(),
        Some("3")
    );
}

/// A draft of `tenant`'s whose id puts its steps in `lane`, and in the `rank`th place of a
/// batch (ordered by post id) among such drafts.
fn draft_in_lane(tenant: &Tenant, name: &str, lane: usize, rank: u8) -> Post {
    let mut post = draft(tenant, name, vec![Target::primary(Provider::X)]);
    while multivio_postgres::testing::step_lane(post.id) != lane {
        let low = Uuid::new_v4().as_u128() & (u128::MAX >> 8);
        post.id = PostId(Uuid::from_u128(u128::from(rank) << 120 | low));
    }
    post
}

#[tokio::test]
async fn steps_queued_behind_a_batch_share_a_transaction_and_a_refused_one_is_undone_alone() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let lane = 0;
    // Batched in this order: `mine`, `lost` (refused), `theirs` (a step after a rolled-back
    // one, in another tenant's session).
    let first = insert(&store, &alice, &draft_in_lane(&alice, "first", lane, 0)).await;
    let mine = insert(&store, &alice, &draft_in_lane(&alice, "mine", lane, 1)).await;
    let theirs = insert(&store, &bob, &draft_in_lane(&bob, "theirs", lane, 3)).await;
    // Bob's post with a job claimed, and a step guarded by a token that is not the claim's.
    let lost = schedule(
        &store,
        &bob,
        &insert(&store, &bob, &draft_in_lane(&bob, "lost", lane, 2)).await,
    )
    .await
    .unwrap();
    let job = store
        .claim_due("w1", now() + Duration::hours(2), 10, Duration::seconds(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(job.post_id, lost.id);
    let stale = JobStep {
        job_id: job.job_id,
        fencing_token: FencingToken(job.fencing_token.0 + 1),
        outcome: None,
        renew_until: None,
    };

    // The first step holds its lane's batch open until the others are queued behind it.
    let (held, go) = hold_lane(&store, &alice, first.id).await;
    let refused = store.modify(
        &bob,
        lost.id,
        Box::new(move |read: &Post| {
            let mut changed = read.clone();
            changed.universal_content = Some("late".into());
            Decision::Write(Box::new(PostChange {
                job: Some(stale),
                ..PostChange::write(PostWrite::Update {
                    expected_revision: read.revision,
                    post: changed,
                })
            }))
        }),
    );
    let (queued, ()) = futures_util::future::join(
        futures_util::future::join3(
            refused,
            store.modify(&alice, mine.id, Box::new(count_up)),
            store.modify(&bob, theirs.id, Box::new(count_up)),
        ),
        // Sent once the three steps above are queued (each queues when first polled).
        async { go.send(()).unwrap() },
    )
    .await;
    let (refused, mine_after, theirs_after) = queued;

    // Each step answered for itself: the refused one wrote nothing, the others their decision
    // — each in its own tenant's session.
    let first_after = held.await.unwrap().unwrap();
    assert_eq!(first_after.universal_content.as_deref(), Some("1"));
    assert_eq!(refused.unwrap_err(), StoreError::LeaseLost);
    assert_eq!(PostStore::get(&store, &bob, lost.id).await.unwrap(), lost);
    let mine_after = mine_after.unwrap();
    let theirs_after = theirs_after.unwrap();
    assert_eq!(mine_after.universal_content.as_deref(), Some("1"));
    assert_eq!(theirs_after.universal_content.as_deref(), Some("1"));
    assert_eq!(
        PostStore::get(&store, &alice, mine.id).await.unwrap(),
        mine_after
    );
    assert_eq!(
        PostStore::get(&store, &bob, theirs.id).await.unwrap(),
        theirs_after
    );
    // The two queued behind the first step were written by one transaction, not the first's:
    // `updated_at` is the writing transaction's start (`now()`, by trigger).
    assert_eq!(mine_after.updated_at, theirs_after.updated_at);
    assert_ne!(first_after.updated_at, mine_after.updated_at);
}

/// Holds `post`'s lane: its step waits inside its transaction until the returned sender
/// fires, so steps of that lane queued meanwhile make the lane's next batch.
async fn hold_lane(
    store: &PgStore,
    tenant: &Tenant,
    post: PostId,
) -> (
    tokio::task::JoinHandle<Result<Post, StoreError>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (entered, started) = tokio::sync::oneshot::channel::<()>();
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let held = {
        let (store, tenant) = (store.clone(), tenant.clone());
        tokio::spawn(async move {
            store
                .modify_with_account(
                    &tenant,
                    post,
                    AccountRef {
                        provider: Provider::X,
                        connection: None,
                    },
                    Box::new(move |_: StoredAccount| {
                        Box::pin(async move {
                            entered.send(()).unwrap();
                            wait.await.unwrap();
                            Box::new(count_up) as Decide
                        })
                    }),
                )
                .await
        })
    };
    started.await.unwrap();
    (held, go)
}

/// A step taking a quota unit for the post as read.
fn consume(read: &Post) -> Decision {
    let mut post = read.clone();
    post.quota_consumed = true;
    Decision::Write(Box::new(PostChange {
        quota: QuotaEffect::Consume,
        ..PostChange::write(PostWrite::Update {
            expected_revision: read.revision,
            post,
        })
    }))
}

#[tokio::test]
async fn batches_taking_quota_units_of_the_same_users_lock_them_in_one_order() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    // By post id, lane 0's batch would take Alice's quota row first and lane 1's Bob's: each
    // would then wait for the other's (a deadlock, one step failed).
    let (a, b) = (
        insert(&store, &alice, &draft_in_lane(&alice, "a", 0, 1)).await,
        insert(&store, &bob, &draft_in_lane(&bob, "b", 0, 2)).await,
    );
    let (c, d) = (
        insert(&store, &bob, &draft_in_lane(&bob, "c", 1, 1)).await,
        insert(&store, &alice, &draft_in_lane(&alice, "d", 1, 2)).await,
    );
    let (first0, first1) = (
        insert(&store, &alice, &draft_in_lane(&alice, "first0", 0, 0)).await,
        insert(&store, &alice, &draft_in_lane(&alice, "first1", 1, 0)).await,
    );
    let (held0, go0) = hold_lane(&store, &alice, first0.id).await;
    let (held1, go1) = hold_lane(&store, &alice, first1.id).await;

    // Both users' quota rows are locked elsewhere until both batches wait for one, so that
    // both batches then run at once.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
    let mut other = AsyncPgConnection::establish(db.url()).await.unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM user_info WHERE user_id IN ({}, {}) FOR NO KEY UPDATE",
            alice.user_id.0, bob.user_id.0
        ))
        .await
        .unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let (steps, ()) = futures_util::future::join(
        futures_util::future::join4(
            store.modify(&alice, a.id, Box::new(consume)),
            store.modify(&bob, b.id, Box::new(consume)),
            store.modify(&bob, c.id, Box::new(consume)),
            store.modify(&alice, d.id, Box::new(consume)),
        ),
        // Once the four steps above are queued (each queues when first polled).
        async {
            go0.send(()).unwrap();
            go1.send(()).unwrap();
            let mut watch = AsyncPgConnection::establish(db.url()).await.unwrap();
            // (A bound only so that a broken setup fails instead of hanging.)
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
            loop {
                assert!(
                    std::time::Instant::now() < give_up,
                    "the two batches never waited for the quota rows"
                );
                let waiting: N = diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .get_result(&mut watch)
                .await
                .unwrap();
                if waiting.n >= 2 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other.batch_execute("COMMIT").await.unwrap();
        },
    )
    .await;
    held0.await.unwrap().unwrap();
    held1.await.unwrap().unwrap();

    let (a, b, c, d) = steps;
    for (name, step) in [("a", a), ("b", b), ("c", c), ("d", d)] {
        assert!(step.unwrap().quota_consumed, "{name}");
    }
    assert_eq!(remaining(&store, &alice).await, 8);
    assert_eq!(remaining(&store, &bob).await, 8);
}

#[tokio::test]
async fn scheduling_consumes_once_cancelling_refunds_and_jobs_go_with_the_change() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(
            &alice,
            "p",
            vec![
                Target::primary(Provider::X),
                Target::primary(Provider::Bluesky),
            ],
        ),
    )
    .await;
    let scheduled = schedule(&store, &alice, &post).await.unwrap();
    assert_eq!(scheduled.status, PostStatus::Scheduled);
    assert!(scheduled.quota_consumed);
    let read = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(read, scheduled, "read back");
    assert_eq!(
        remaining(&store, &alice).await,
        9,
        "one unit for two platforms"
    );
    assert_eq!(pending_jobs(&db, post.id.0).await, 2);

    // Asking to consume again for the same post changes nothing.
    let again = PostChange {
        quota: QuotaEffect::Consume,
        ..PostChange::write(PostWrite::Update {
            post: scheduled.clone(),
            expected_revision: scheduled.revision,
        })
    };
    let scheduled = store.apply(&alice, again).await.unwrap().unwrap();
    assert_eq!(remaining(&store, &alice).await, 9);

    let mut cancelled = scheduled.clone();
    let quota = cancelled.cancel(now()).unwrap();
    assert_eq!(quota, QuotaEffect::Refund);
    let change = PostChange {
        write: PostWrite::Update {
            post: cancelled,
            expected_revision: scheduled.revision,
        },
        quota,
        enqueue: vec![],
        cancel_pending_jobs: true,
        job: None,
        idempotency: None,
    };
    let draft_again = store.apply(&alice, change).await.unwrap().unwrap();
    assert!(!draft_again.quota_consumed);
    let read = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(read, draft_again, "read back");
    assert_eq!(remaining(&store, &alice).await, 10);
    assert_eq!(pending_jobs(&db, post.id.0).await, 0);
}

#[tokio::test]
async fn deleting_a_scheduled_post_that_started_publishing_meanwhile_is_a_conflict() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    let scheduled = schedule(&store, &alice, &post).await.unwrap();
    // The person read it scheduled; a worker starts publishing it before their delete.
    let mut publishing = scheduled.clone();
    publishing.start_publishing(now()).unwrap();
    store
        .apply(
            &alice,
            PostChange::write(PostWrite::Update {
                post: publishing,
                expected_revision: scheduled.revision,
            }),
        )
        .await
        .unwrap()
        .unwrap();
    let delete = PostChange {
        quota: scheduled.deletion().unwrap(),
        cancel_pending_jobs: true,
        ..PostChange::write(PostWrite::Delete {
            id: post.id,
            expected_revision: scheduled.revision,
        })
    };
    assert_eq!(delete.quota, QuotaEffect::Refund);
    assert!(matches!(
        store.apply(&alice, delete).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        PostStore::get(&store, &alice, post.id)
            .await
            .unwrap()
            .status,
        PostStatus::Publishing
    );
    assert_eq!(remaining(&store, &alice).await, 9, "the unit stays taken");
}

#[tokio::test]
async fn a_post_scheduled_as_it_is_created_reads_back_as_returned() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let mut post = draft(&alice, "p", vec![Target::primary(Provider::X)]);
    // The post's own clock, a minute behind the database's.
    post.created_at = now() - Duration::minutes(1);
    post.updated_at = post.created_at;
    let at = now() + Duration::hours(1);
    let quota = post.schedule(at, now()).unwrap();
    assert_eq!(quota, QuotaEffect::Consume);
    let change = PostChange {
        quota,
        enqueue: jobs_for(&post, at),
        ..PostChange::write(PostWrite::Insert(post.clone()))
    };
    let created = store.apply(&alice, change).await.unwrap().unwrap();
    assert!(created.quota_consumed);
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap(),
        created
    );
    let listed = PostStore::list(&store, &alice, &first_page())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![created]);
    assert_eq!(remaining(&store, &alice).await, 9);
}

async fn pending_jobs(db: &multivio_postgres::testing::TestDb, post: Uuid) -> i64 {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(
        "SELECT count(*) AS n FROM publish_jobs WHERE post_id = $1 AND status = 'pending'",
    )
    .bind::<diesel::sql_types::Uuid, _>(post)
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n
}

/// The lease written on job `id`.
async fn lease_of(
    db: &multivio_postgres::testing::TestDb,
    id: Uuid,
) -> chrono::DateTime<chrono::Utc> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Lease {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        leased_until: chrono::DateTime<chrono::Utc>,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("SELECT leased_until FROM publish_jobs WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result::<Lease>(&mut conn)
        .await
        .unwrap()
        .leased_until
}

#[tokio::test]
async fn with_one_unit_left_the_second_schedule_is_refused_and_leaves_no_job() {
    let (db, store) = setup().await;
    let alice = tenant_with_quota(&store, "alice", 1).await;
    let a = insert(
        &store,
        &alice,
        &draft(&alice, "a", vec![Target::primary(Provider::X)]),
    )
    .await;
    let b = insert(
        &store,
        &alice,
        &draft(&alice, "b", vec![Target::primary(Provider::X)]),
    )
    .await;
    schedule(&store, &alice, &a).await.unwrap();
    assert_eq!(
        schedule(&store, &alice, &b).await.unwrap_err(),
        StoreError::QuotaExceeded
    );
    assert_eq!(
        PostStore::get(&store, &alice, b.id).await.unwrap().status,
        PostStatus::Draft,
        "rolled back"
    );
    assert_eq!(pending_jobs(&db, b.id.0).await, 0);
    assert_eq!(remaining(&store, &alice).await, 0);
}

#[tokio::test]
async fn fifty_concurrent_schedules_with_one_unit_left_let_exactly_one_through() {
    let (_db, store) = setup().await;
    let alice = tenant_with_quota(&store, "alice", 1).await;
    let mut posts = Vec::new();
    for i in 0..50 {
        posts.push(
            insert(
                &store,
                &alice,
                &draft(&alice, &format!("p{i}"), vec![Target::primary(Provider::X)]),
            )
            .await,
        );
    }
    let tasks: Vec<_> = posts
        .into_iter()
        .map(|p| {
            let store = store.clone();
            let alice = alice.clone();
            tokio::spawn(async move { schedule(&store, &alice, &p).await })
        })
        .collect();
    let (mut ok, mut exceeded) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded) => exceeded += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, exceeded), (1, 49));
    assert_eq!(remaining(&store, &alice).await, 0);
}

#[tokio::test]
async fn listing_is_newest_first_keyset_paginated_and_filtered() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    insert(
        &store,
        &bob,
        &draft(&bob, "bob's", vec![Target::primary(Provider::X)]),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let mut p = draft(
            &alice,
            &format!("p{i}"),
            vec![Target::primary(if i % 2 == 0 {
                Provider::X
            } else {
                Provider::Threads
            })],
        );
        p.created_at = now() - Duration::minutes(100 - i);
        p.updated_at = p.created_at;
        ids.push(insert(&store, &alice, &p).await.id);
    }
    ids.reverse();
    let query = |cursor| PostQuery {
        status: None,
        platform: None,
        from: None,
        to: None,
        limit: multivio_domain::page::PageSize::new(Some(10)),
        cursor,
    };
    let first = PostStore::list(&store, &alice, &query(None)).await.unwrap();
    assert_eq!(
        first.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        ids[..10]
    );
    // A post created meanwhile does not shift the next page.
    insert(&store, &alice, &draft(&alice, "newest", vec![])).await;
    let second = PostStore::list(&store, &alice, &query(first.next_cursor.clone()))
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        ids[10..20]
    );
    let third = PostStore::list(&store, &alice, &query(second.next_cursor.clone()))
        .await
        .unwrap();
    assert_eq!(
        third.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        ids[20..]
    );
    assert_eq!(third.next_cursor, None);

    let threads = PostStore::list(
        &store,
        &alice,
        &PostQuery {
            platform: Some(Provider::Threads),
            limit: multivio_domain::page::PageSize::new(Some(100)),
            ..query(None)
        },
    )
    .await
    .unwrap();
    assert_eq!(threads.items.len(), 12);
    let scheduled = PostStore::list(
        &store,
        &alice,
        &PostQuery {
            status: Some(PostStatus::Scheduled),
            ..query(None)
        },
    )
    .await
    .unwrap();
    assert!(scheduled.items.is_empty());
    assert!(
        PostStore::list(&store, &alice, &query(Some("garbage".into())))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn jobs_are_claimed_with_a_lease_and_completed_only_with_the_current_token() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    let scheduled = schedule(&store, &alice, &post).await.unwrap();
    let t0 = now();
    assert!(
        store
            .claim_due("w1", t0, 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );

    let due = t0 + Duration::hours(2);
    let claimed = store
        .claim_due("w1", due, 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(
        (job.tenant.clone(), job.post_id, job.attempt),
        (alice.clone(), post.id, 1)
    );
    assert!(
        store
            .claim_due("w2", due, 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    // The lease expires; another worker rescues the job with a newer token.
    let rescued = store
        .claim_due("w2", due + Duration::seconds(31), 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].attempt, 2);
    assert!(rescued[0].fencing_token > job.fencing_token);
    // The first worker wakes up late: its writes change nothing.
    assert_eq!(
        store
            .complete(job.job_id, job.fencing_token, &JobOutcome::Completed)
            .await
            .unwrap_err(),
        StoreError::LeaseLost
    );
    let stale = PostChange {
        job: Some(JobStep {
            job_id: job.job_id,
            fencing_token: job.fencing_token,
            outcome: Some(JobOutcome::Completed),
            renew_until: None,
        }),
        ..PostChange::write(PostWrite::Update {
            post: scheduled.clone(),
            expected_revision: scheduled.revision,
        })
    };
    assert_eq!(
        store.apply(&alice, stale).await.unwrap_err(),
        StoreError::LeaseLost
    );
    // The current holder records the result and completes the job in one change.
    let current = PostChange {
        job: Some(JobStep {
            job_id: rescued[0].job_id,
            fencing_token: rescued[0].fencing_token,
            outcome: Some(JobOutcome::Completed),
            renew_until: None,
        }),
        ..PostChange::write(PostWrite::Update {
            post: scheduled.clone(),
            expected_revision: scheduled.revision,
        })
    };
    store.apply(&alice, current).await.unwrap();
    assert_eq!(
        store
            .complete(
                rescued[0].job_id,
                rescued[0].fencing_token,
                &JobOutcome::Completed
            )
            .await
            .unwrap_err(),
        StoreError::LeaseLost,
        "already completed"
    );
    assert!(
        store
            .claim_due("w3", due + Duration::days(1), 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_step_that_keeps_its_job_running_renews_the_lease_and_returns_the_post_as_stored() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    let scheduled = schedule(&store, &alice, &post).await.unwrap();
    let due = now() + Duration::hours(2);
    let job = store
        .claim_due("w1", due, 10, Duration::seconds(30))
        .await
        .unwrap()
        .remove(0);
    // A write of `post` from its own revision, guarded by the claimed job (kept running).
    let (job_id, fencing_token) = (job.job_id, job.fencing_token);
    let guarded = move |post: Post, renew_until| PostChange {
        job: Some(JobStep {
            job_id,
            fencing_token,
            outcome: None,
            renew_until,
        }),
        ..PostChange::write(PostWrite::Update {
            expected_revision: post.revision,
            post,
        })
    };
    // A timestamp finer than the database keeps: the returned post has it as stored.
    let mut changed = scheduled.clone();
    changed.schedule_date = Some(due + Duration::nanoseconds(1_234_567));
    let stored = store
        .apply(&alice, guarded(changed, Some(due + Duration::minutes(10))))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revision, scheduled.revision + 1);
    assert!(stored.updated_at >= scheduled.updated_at);
    assert_eq!(
        stored,
        PostStore::get(&store, &alice, post.id).await.unwrap()
    );

    // A later step asking for less never shortens the lease.
    store
        .apply(
            &alice,
            guarded(stored.clone(), Some(due + Duration::seconds(1))),
        )
        .await
        .unwrap();
    let claim = |at| store.claim_due("w2", at, 10, Duration::seconds(30));
    assert!(
        claim(due + Duration::seconds(31)).await.unwrap().is_empty(),
        "renewed past the claim's own lease"
    );
    assert!(claim(due + Duration::minutes(9)).await.unwrap().is_empty());
    let rescued = claim(due + Duration::minutes(11)).await.unwrap();
    assert_eq!(
        rescued.len(),
        1,
        "taken over once the renewed lease ran out"
    );

    // The old holder's running step is refused and changes nothing.
    let current = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(
        store
            .apply(
                &alice,
                guarded(current.clone(), Some(due + Duration::hours(1))),
            )
            .await
            .unwrap_err(),
        StoreError::LeaseLost
    );
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap(),
        current
    );
    // The same through a decision over the locked post: refused, nothing written.
    let refused = store
        .modify(
            &alice,
            post.id,
            Box::new(move |read: &Post| {
                let mut changed = read.clone();
                changed.universal_content = Some("late".into());
                Decision::Write(Box::new(guarded(changed, Some(due + Duration::hours(1)))))
            }),
        )
        .await;
    assert_eq!(refused.unwrap_err(), StoreError::LeaseLost);
    assert_eq!(
        PostStore::get(&store, &alice, post.id).await.unwrap(),
        current
    );
}

#[tokio::test]
async fn a_step_that_only_checks_its_job_keeps_the_claims_lease_and_is_refused_once_the_job_is_not_its()
 {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    schedule(&store, &alice, &post).await.unwrap();
    let due = now() + Duration::hours(2);
    let lease = Duration::seconds(30);
    let job = store
        .claim_due("w1", due, 10, lease)
        .await
        .unwrap()
        .remove(0);
    // A decision over the locked post whose write is guarded by `job`, checked, not renewed.
    let step = |job: multivio_domain::job::ClaimedJob, text: &'static str| {
        let store = store.clone();
        let alice = alice.clone();
        async move {
            store
                .modify(
                    &alice,
                    post.id,
                    Box::new(move |read: &Post| {
                        let mut changed = read.clone();
                        changed.universal_content = Some(text.into());
                        Decision::Write(Box::new(PostChange {
                            job: Some(JobStep {
                                job_id: job.job_id,
                                fencing_token: job.fencing_token,
                                outcome: None,
                                renew_until: None,
                            }),
                            ..PostChange::write(PostWrite::Update {
                                expected_revision: read.revision,
                                post: changed,
                            })
                        }))
                    }),
                )
                .await
        }
    };
    let content = |p: Post| p.universal_content;

    // The holder's step is written; the lease stays the one the claim took.
    let written = step(job.clone(), "checked").await.unwrap();
    assert_eq!(content(written).as_deref(), Some("checked"));
    assert_eq!(lease_of(&db, job.job_id.0).await, due + lease);

    // The lease ran out and another worker took the job: the old holder's step is refused,
    // nothing written.
    let rescued = store
        .claim_due("w2", due + lease + Duration::seconds(1), 10, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(rescued.job_id, job.job_id);
    let refused = step(job.clone(), "late").await;
    assert_eq!(refused.unwrap_err(), StoreError::LeaseLost);
    let stored = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(content(stored).as_deref(), Some("checked"));

    // A job no longer running (cancelled with its post) refuses even its current holder.
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE publish_jobs SET status = 'cancelled' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(rescued.job_id.0)
        .execute(&mut conn)
        .await
        .unwrap();
    let refused = step(rescued, "cancelled").await;
    assert_eq!(refused.unwrap_err(), StoreError::LeaseLost);
    let stored = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(content(stored).as_deref(), Some("checked"));
}

#[tokio::test]
async fn a_retried_job_comes_back_at_its_time() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::Mastodon)]),
    )
    .await;
    schedule(&store, &alice, &post).await.unwrap();
    let due = now() + Duration::hours(2);
    let job = store
        .claim_due("w", due, 1, Duration::seconds(30))
        .await
        .unwrap()
        .remove(0);
    let later = due + Duration::minutes(5);
    store
        .complete(
            job.job_id,
            job.fencing_token,
            &JobOutcome::RetryAt {
                run_at: later,
                reason: "429".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due("w", due + Duration::minutes(1), 1, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_due("w", later, 1, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(again[0].attempt, 2);
    store
        .complete(
            again[0].job_id,
            again[0].fencing_token,
            &JobOutcome::Discarded {
                reason: "gave up".into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn eight_workers_claim_a_thousand_due_jobs_each_exactly_once() {
    let (_db, store) = setup().await;
    let alice = tenant_with_quota(&store, "alice", 1000).await;
    let providers = [
        Provider::X,
        Provider::Facebook,
        Provider::Linkedin,
        Provider::Bluesky,
    ];
    let mut expected = HashSet::new();
    for i in 0..250 {
        let post = insert(
            &store,
            &alice,
            &draft(
                &alice,
                &format!("p{i}"),
                providers.iter().map(|p| Target::primary(*p)).collect(),
            ),
        )
        .await;
        let jobs = jobs_for(&post, now() - Duration::minutes(1));
        expected.extend(jobs.iter().map(|j| j.id));
        let change = PostChange {
            enqueue: jobs,
            ..PostChange::write(PostWrite::Update {
                post: post.clone(),
                expected_revision: post.revision,
            })
        };
        store.apply(&alice, change).await.unwrap();
    }
    assert_eq!(expected.len(), 1000);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .claim_due(&format!("w{w}"), now(), 25, Duration::minutes(5))
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for job in batch {
                        store
                            .complete(job.job_id, job.fencing_token, &JobOutcome::Completed)
                            .await
                            .unwrap();
                        mine.push(job.job_id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut seen = Vec::new();
    for w in workers {
        seen.extend(w.await.unwrap());
    }
    assert_eq!(seen.len(), 1000, "every job claimed once, none twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
    let _ = FencingToken(0);
}

#[tokio::test]
async fn rescheduling_takes_a_claimed_job_away_from_its_worker() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let post = insert(
        &store,
        &alice,
        &draft(&alice, "p", vec![Target::primary(Provider::X)]),
    )
    .await;
    let scheduled = schedule(&store, &alice, &post).await.unwrap();
    let job = store
        .claim_due("w1", now() + Duration::hours(2), 1, Duration::minutes(5))
        .await
        .unwrap()
        .remove(0);

    // The user moves the post to another day while the worker holds the old job.
    let mut moved = scheduled.clone();
    let at = now() + Duration::days(3);
    moved.schedule(at, now()).unwrap();
    let change = PostChange {
        write: PostWrite::Update {
            post: moved.clone(),
            expected_revision: scheduled.revision,
        },
        quota: QuotaEffect::None,
        enqueue: jobs_for(&moved, at),
        cancel_pending_jobs: true,
        job: None,
        idempotency: None,
    };
    store.apply(&alice, change).await.unwrap();

    // The old job's worker can no longer record anything; only the new job remains due later.
    let stale = PostChange {
        job: Some(JobStep {
            job_id: job.job_id,
            fencing_token: job.fencing_token,
            outcome: Some(JobOutcome::Completed),
            renew_until: None,
        }),
        ..PostChange::write(PostWrite::Update {
            post: moved.clone(),
            expected_revision: moved.revision + 1,
        })
    };
    assert_eq!(
        store.apply(&alice, stale).await.unwrap_err(),
        StoreError::LeaseLost
    );
    assert!(
        store
            .claim_due("w2", now() + Duration::days(1), 10, Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due("w2", at, 10, Duration::minutes(5))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_unit_consumed_before_the_monthly_reset_is_not_refunded_after_it() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let old = insert(
        &store,
        &alice,
        &draft(&alice, "old", vec![Target::primary(Provider::X)]),
    )
    .await;
    let old = schedule(&store, &alice, &old).await.unwrap();
    assert_eq!(remaining(&store, &alice).await, 9);

    // A new period starts: the reset gives every unit back.
    let q = QuotaStore::get(&store, &alice).await.unwrap();
    let fresh = multivio_domain::quota::Quota {
        remaining_posts: 10,
        last_quota_reset: now(),
        ..q
    };
    assert!(
        store
            .reset_period(&alice, q.last_quota_reset, &fresh)
            .await
            .unwrap()
    );
    let new = insert(
        &store,
        &alice,
        &draft(&alice, "new", vec![Target::primary(Provider::X)]),
    )
    .await;
    schedule(&store, &alice, &new).await.unwrap();
    assert_eq!(remaining(&store, &alice).await, 9);

    // Cancelling the post scheduled last period must not create a unit in this one.
    let mut cancelled = old.clone();
    let quota = cancelled.cancel(now()).unwrap();
    let change = PostChange {
        write: PostWrite::Update {
            post: cancelled,
            expected_revision: old.revision,
        },
        quota,
        enqueue: vec![],
        cancel_pending_jobs: true,
        job: None,
        idempotency: None,
    };
    store.apply(&alice, change).await.unwrap();
    assert_eq!(remaining(&store, &alice).await, 9);
}

//! Media storage quota and the rule that keeps files attached to scheduled posts, on a real
//! database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{draft, now, setup, tenant};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_domain::media::MediaFile;
use multivio_domain::post::{
    ContentMode, PlatformContent, Post, PostContent, PostInput, ThreadPart,
};
use multivio_domain::{MediaId, PostId, Provider, Tenant};
use multivio_ports::StoreError;
use multivio_ports::media::{MediaDeletion, MediaRepository, QuotaInsert};
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use multivio_postgres::PgStore;
use uuid::Uuid;

fn file(t: &Tenant, size: u64) -> MediaFile {
    let id = MediaId(Uuid::new_v4());
    MediaFile {
        id,
        user_id: t.user_id,
        filename: format!("{}/{}.png", t.user_id.0, id.0),
        original_filename: None,
        file_type: "image/png".into(),
        file_size: size,
        cdn_url: None,
        thumbnail_url: None,
        platform_compatibility: vec![Provider::X],
        alt_text: None,
        width: Some(10),
        height: Some(10),
        duration_secs: None,
        upload_date: now(),
        created_at: now(),
        updated_at: now(),
    }
}

fn inserted(outcome: QuotaInsert) -> MediaFile {
    match outcome {
        QuotaInsert::Inserted(f) => *f,
        other => panic!("not inserted: {other:?}"),
    }
}

#[tokio::test]
async fn inserts_stay_within_the_allowance_and_usage_is_per_tenant() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    assert_eq!(store.storage_used(&alice).await.unwrap(), 0);
    let a = file(&alice, 600);
    assert_eq!(
        inserted(store.insert_within_quota(&alice, &a, 1000).await.unwrap()),
        a
    );
    // 600 + 400 = 1000: exactly the allowance.
    inserted(
        store
            .insert_within_quota(&alice, &file(&alice, 400), 1000)
            .await
            .unwrap(),
    );
    assert_eq!(store.storage_used(&alice).await.unwrap(), 1000);
    let over = store
        .insert_within_quota(&alice, &file(&alice, 1), 1000)
        .await
        .unwrap();
    assert_eq!(over, QuotaInsert::OverQuota { used_bytes: 1000 });
    assert_eq!(
        store.storage_used(&alice).await.unwrap(),
        1000,
        "nothing written"
    );
    // Bob's files are his own count.
    assert_eq!(store.storage_used(&bob).await.unwrap(), 0);
    inserted(
        store
            .insert_within_quota(&bob, &file(&bob, 900), 1000)
            .await
            .unwrap(),
    );
    assert_eq!(store.storage_used(&alice).await.unwrap(), 1000);
    // Deleting frees the space.
    store.delete(&alice, a.id).await.unwrap();
    assert_eq!(store.storage_used(&alice).await.unwrap(), 400);
}

#[tokio::test]
async fn concurrent_uploads_never_overshoot_the_allowance() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            let alice = alice.clone();
            tokio::spawn(async move {
                store
                    .insert_within_quota(&alice, &file(&alice, 100), 350)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            QuotaInsert::Inserted(_) => stored += 1,
            QuotaInsert::OverQuota { used_bytes } => assert_eq!(used_bytes, 300),
        }
    }
    assert_eq!(stored, 3);
    assert_eq!(store.storage_used(&alice).await.unwrap(), 300);
}

/// A draft of `t` carrying `media` in its own media, a thread part's or a platform's thread,
/// as `place` says.
fn post_with(t: &Tenant, media: MediaId, place: &str) -> Post {
    let base = draft(t, place, vec![]);
    let mut input = PostInput {
        name: place.to_owned(),
        content_mode: ContentMode::Universal,
        universal_content: Some("hello".to_owned()),
        universal_metadata: None,
        platform_content: Default::default(),
        platforms: vec![],
        media_files: vec![],
        thread: vec![],
    };
    let part = ThreadPart {
        text: "more".to_owned(),
        media_files: vec![media],
    };
    match place {
        "media" => input.media_files = vec![media],
        "thread" => input.thread = vec![part],
        _ => {
            input.content_mode = ContentMode::Specific;
            input.universal_content = None;
            input.platform_content = [(
                Provider::Mastodon,
                PlatformContent {
                    content: "first".to_owned(),
                    thread: vec![part],
                    extra: Default::default(),
                },
            )]
            .into();
        }
    }
    let content = PostContent::parse(input).unwrap();
    Post::new_draft(base.id, t.user_id, content, now())
}

async fn insert(store: &PgStore, t: &Tenant, post: &Post) -> Post {
    store
        .apply(t, PostChange::write(PostWrite::Insert(post.clone())))
        .await
        .unwrap()
        .unwrap()
}

async fn set_status(db_url: &str, id: PostId, status: &str) {
    let mut owner = AsyncPgConnection::establish(db_url).await.unwrap();
    diesel::sql_query("UPDATE posts SET status = $1, schedule_date = $2 WHERE id = $3")
        .bind::<diesel::sql_types::Text, _>(status)
        .bind::<diesel::sql_types::Timestamptz, _>(now() + Duration::hours(1))
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .execute(&mut owner)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_file_carried_by_a_scheduled_or_publishing_post_is_kept() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    for place in ["media", "thread", "platform thread"] {
        let f = inserted(
            store
                .insert_within_quota(&alice, &file(&alice, 10), u64::MAX)
                .await
                .unwrap(),
        );
        let post = insert(&store, &alice, &post_with(&alice, f.id, place)).await;
        let other = insert(&store, &alice, &post_with(&alice, f.id, "media")).await;
        // Drafts do not hold it… but scheduled and publishing posts do, and are named.
        set_status(db.url(), post.id, "scheduled").await;
        set_status(db.url(), other.id, "publishing").await;
        match store.delete_unattached(&alice, f.id).await.unwrap() {
            MediaDeletion::Attached(posts) => {
                let mut expected = vec![post.id, other.id];
                let mut got = posts.clone();
                expected.sort_by_key(|p| p.0);
                got.sort_by_key(|p| p.0);
                assert_eq!(got, expected, "{place}");
            }
            other => panic!("{place}: deleted: {other:?}"),
        }
        assert_eq!(MediaRepository::get(&store, &alice, f.id).await.unwrap(), f);
        // Once they are published (or failed, or drafts again), it can go.
        set_status(db.url(), post.id, "published").await;
        set_status(db.url(), other.id, "failed").await;
        assert_eq!(
            store.delete_unattached(&alice, f.id).await.unwrap(),
            MediaDeletion::Deleted(Box::new(f.clone())),
            "{place}"
        );
        assert_eq!(
            MediaRepository::get(&store, &alice, f.id)
                .await
                .unwrap_err(),
            StoreError::NotFound
        );
        assert_eq!(
            store.delete_unattached(&alice, f.id).await.unwrap_err(),
            StoreError::NotFound
        );
    }
    // A deleted post holds nothing either.
    let f = inserted(
        store
            .insert_within_quota(&alice, &file(&alice, 10), u64::MAX)
            .await
            .unwrap(),
    );
    let post = insert(&store, &alice, &post_with(&alice, f.id, "media")).await;
    set_status(db.url(), post.id, "scheduled").await;
    assert!(matches!(
        store.delete_unattached(&alice, f.id).await.unwrap(),
        MediaDeletion::Attached(_)
    ));
    let stored = PostStore::get(&store, &alice, post.id).await.unwrap();
    store
        .apply(
            &alice,
            PostChange::write(PostWrite::Delete {
                id: post.id,
                expected_revision: stored.revision,
            }),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.delete_unattached(&alice, f.id).await.unwrap(),
        MediaDeletion::Deleted(_)
    ));
}

#[tokio::test]
async fn another_tenant_can_neither_delete_nor_count_someone_elses_media() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let f = inserted(
        store
            .insert_within_quota(&alice, &file(&alice, 500), u64::MAX)
            .await
            .unwrap(),
    );
    assert_eq!(
        store.delete_unattached(&bob, f.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(store.storage_used(&bob).await.unwrap(), 0);
    // Bob's scheduled post naming Alice's file does not keep it from her.
    let planted = insert(&store, &bob, &post_with(&bob, f.id, "media")).await;
    set_status(db.url(), planted.id, "scheduled").await;
    assert!(matches!(
        store.delete_unattached(&alice, f.id).await.unwrap(),
        MediaDeletion::Deleted(_)
    ));
}

/// Schedules `post` (given a target first) the way the use case does, in one unit of work.
async fn schedule_with_x(store: &PgStore, t: &Tenant, post: &Post) -> Result<Post, StoreError> {
    use multivio_domain::post::Target;
    let mut next = post.clone();
    next.platforms =
        multivio_domain::post::Targets::new(vec![Target::primary(Provider::X)]).unwrap();
    let quota = next.schedule(now() + Duration::hours(1), now()).unwrap();
    let change = PostChange {
        quota,
        ..PostChange::write(PostWrite::Update {
            post: next,
            expected_revision: post.revision,
        })
    };
    store.apply(t, change).await.map(|p| p.unwrap())
}

#[tokio::test]
async fn a_file_and_the_schedule_of_a_post_carrying_it_never_both_go_through() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let add = || async {
        inserted(
            store
                .insert_within_quota(&alice, &file(&alice, 10), u64::MAX)
                .await
                .unwrap(),
        )
    };
    // The file's delete goes first (its row locked, as `delete_unattached` does): the schedule
    // waits for it, then finds the file gone and writes nothing.
    let f = add().await;
    let post = insert(&store, &alice, &post_with(&alice, f.id, "thread")).await;
    let mut deleter = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut deleter)
        .await
        .unwrap();
    diesel::sql_query("SELECT id FROM media_files WHERE id = $1 FOR UPDATE")
        .bind::<diesel::sql_types::Uuid, _>(f.id.0)
        .execute(&mut deleter)
        .await
        .unwrap();
    let scheduling = tokio::spawn({
        let (store, alice, post) = (store.clone(), alice.clone(), post.clone());
        async move { schedule_with_x(&store, &alice, &post).await }
    });
    // (Whether the schedule reaches the lock before the commit or after, it finds the same.)
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    diesel::sql_query("DELETE FROM media_files WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(f.id.0)
        .execute(&mut deleter)
        .await
        .unwrap();
    diesel::sql_query("COMMIT")
        .execute(&mut deleter)
        .await
        .unwrap();
    let refused = scheduling.await.unwrap().unwrap_err();
    assert!(
        matches!(&refused, StoreError::Conflict(why) if why.contains("deleted")),
        "{refused:?}"
    );
    let stored = PostStore::get(&store, &alice, post.id).await.unwrap();
    assert_eq!(stored.status, multivio_domain::post::PostStatus::Draft);
    assert_eq!(stored.revision, post.revision, "nothing written");

    // The schedule goes first: the delete then finds the post scheduled and keeps the file.
    let g = add().await;
    let post = insert(&store, &alice, &post_with(&alice, g.id, "media")).await;
    schedule_with_x(&store, &alice, &post).await.unwrap();
    assert!(matches!(
        store.delete_unattached(&alice, g.id).await.unwrap(),
        MediaDeletion::Attached(ids) if ids == vec![post.id]
    ));
}

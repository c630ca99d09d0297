use super::*;
use crate::testing::*;
use chrono::Duration;
use multivio_domain::UserId;
use multivio_domain::page::PageSize;
use multivio_domain::post::{PostAction, TargetError, TargetOutcome, TransitionError};
use multivio_ports::connections::MockConnectionStore;
use multivio_ports::media::MockMediaRepository;
use multivio_ports::posts::MockPostStore;
use multivio_ports::users::MockQuotaStore;
use std::sync::Mutex;
use uuid::Uuid;

fn pid(n: u128) -> PostId {
    PostId(Uuid::from_u128(n))
}

fn input(platforms: Vec<Target>) -> PostInput {
    PostInput {
        name: "Launch".into(),
        universal_content: Some("Hello from Multivio".into()),
        platforms,
        ..Default::default()
    }
}

fn post(n: u128, platforms: Vec<Target>) -> Post {
    let content = PostContent::parse(input(platforms)).unwrap();
    let mut p = Post::new_draft(pid(n), UserId(1), content, now() - Duration::hours(1));
    p.revision = 3;
    p
}

fn x_and_bluesky() -> Vec<Target> {
    vec![
        Target::primary(Provider::X),
        Target::primary(Provider::Bluesky),
    ]
}

fn quota(remaining: u32) -> Quota {
    Quota {
        monthly_post_quota: 10,
        remaining_posts: remaining,
        last_quota_reset: now() - Duration::days(3),
        anchor: now() - Duration::days(3),
    }
}

struct Deps {
    posts: MockPostStore,
    connections: MockConnectionStore,
    media: MockMediaRepository,
    quotas: MockQuotaStore,
}

impl Deps {
    fn new() -> Self {
        let mut connections = MockConnectionStore::new();
        connections.expect_list().returning(|_| {
            Ok(vec![
                connection(1, Provider::X, true, 10),
                connection(2, Provider::Bluesky, true, 10),
            ])
        });
        let mut quotas = MockQuotaStore::new();
        quotas.expect_get().returning(|_| Ok(quota(5)));
        Self {
            posts: MockPostStore::new(),
            connections,
            media: MockMediaRepository::new(),
            quotas,
        }
    }

    fn with_post(mut self, p: Post) -> Self {
        self.posts.expect_get().returning(move |_, id| {
            if id == p.id {
                Ok(p.clone())
            } else {
                Err(StoreError::NotFound)
            }
        });
        self
    }

    fn build(self) -> PostService {
        PostService::new(PostPorts {
            posts: Arc::new(self.posts),
            connections: Arc::new(self.connections),
            media: Arc::new(self.media),
            quotas: Arc::new(self.quotas),
            ids: ids(),
            clock: clock(),
        })
    }
}

fn updated(change: &PostChange) -> &Post {
    match &change.write {
        PostWrite::Update { post, .. } | PostWrite::Insert(post) => post,
        PostWrite::Delete { .. } => panic!("not a write"),
    }
}

fn echo(change: PostChange) -> Result<Option<Post>, StoreError> {
    Ok(match change.write {
        PostWrite::Insert(p) => Some(p),
        PostWrite::Update {
            mut post,
            expected_revision,
        } => {
            post.revision = expected_revision + 1;
            Some(post)
        }
        PostWrite::Delete { .. } => None,
    })
}

// ---- create ----

#[tokio::test]
async fn create_stores_a_draft_without_touching_the_quota() {
    let mut d = Deps::new();
    d.posts
        .expect_apply()
        .withf(|t, c| {
            *t == tenant()
                && matches!(&c.write, PostWrite::Insert(p) if p.status == PostStatus::Draft && p.user_id == UserId(1))
                && c.quota == QuotaEffect::None
                && c.enqueue.is_empty()
        })
        .times(1)
        .returning(|_, c| echo(c));
    let p = d
        .build()
        .create(&tenant(), input(x_and_bluesky()), None, None)
        .await
        .unwrap();
    assert_eq!(p.status, PostStatus::Draft);
}

#[tokio::test]
async fn a_draft_reads_the_accounts_only_to_check_those_it_names() {
    // Provider targets only: nothing is validated against the accounts, so none are read.
    let mut d = Deps::new();
    d.connections.checkpoint();
    d.connections.expect_list().never();
    d.posts.expect_apply().times(1).returning(|_, c| echo(c));
    let p = d
        .build()
        .create(&tenant(), input(x_and_bluesky()), None, None)
        .await
        .unwrap();
    assert_eq!(p.status, PostStatus::Draft);

    // A named account is read, and one that is not the tenant's is refused.
    for (id, stored) in [(1, true), (9, false)] {
        let mut d = Deps::new();
        d.connections.checkpoint();
        d.connections
            .expect_list()
            .times(1)
            .returning(|_| Ok(vec![connection(1, Provider::X, true, 10)]));
        d.posts
            .expect_apply()
            .times(usize::from(stored))
            .returning(|_, c| echo(c));
        let named = vec![Target {
            connection_id: Some(cid(id)),
            ..Target::primary(Provider::X)
        }];
        let created = d.build().create(&tenant(), input(named), None, None).await;
        match created {
            Ok(p) => assert!(stored, "stored a draft naming account {id}: {p:?}"),
            Err(AppError::Invalid(errors)) => {
                assert!(!stored, "refused account {id}");
                assert_eq!(errors[0].field, "platforms.0");
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

#[tokio::test]
async fn create_with_a_date_schedules_consumes_and_enqueues_one_job_per_target() {
    let at = now() + Duration::days(1);
    let mut d = Deps::new();
    d.posts
        .expect_apply()
        .withf(move |_, c| {
            let p = updated(c);
            p.status == PostStatus::Scheduled
                && p.quota_consumed
                && c.quota == QuotaEffect::Consume
                && c.enqueue.len() == 2
                && c.enqueue
                    .iter()
                    .all(|j| j.run_at == at && j.post_id == p.id)
        })
        .times(1)
        .returning(|_, c| echo(c));
    let p = d
        .build()
        .create(&tenant(), input(x_and_bluesky()), Some(at), None)
        .await
        .unwrap();
    assert_eq!(p.schedule_date, Some(at));
}

#[tokio::test]
async fn create_rejects_bad_structure_unknown_media_and_foreign_accounts() {
    let d = Deps::new();
    let bad = PostInput {
        name: " ".into(),
        ..input(vec![])
    };
    assert!(
        matches!(d.build().create(&tenant(), bad, None, None).await, Err(AppError::Invalid(e)) if e[0].field == "name")
    );

    let mut d = Deps::new();
    d.media.expect_get_many().returning(|_, _| Ok(vec![]));
    d.posts.expect_apply().never();
    let with_media = PostInput {
        media_files: vec![MediaId(Uuid::from_u128(9))],
        ..input(x_and_bluesky())
    };
    assert!(matches!(
        d.build().create(&tenant(), with_media, None, None).await,
        Err(AppError::Invalid(e)) if e[0].field == "media_files.0"
    ));

    let mut d = Deps::new();
    d.posts.expect_apply().never();
    let foreign = input(vec![Target::account(Provider::Mastodon, cid(77))]);
    assert!(matches!(
        d.build().create(&tenant(), foreign, None, None).await,
        Err(AppError::Invalid(e)) if e[0].field == "platforms.0"
    ));
}

#[tokio::test]
async fn create_scheduled_with_content_too_long_for_x_is_invalid() {
    let mut d = Deps::new();
    d.posts.expect_apply().never();
    let long = PostInput {
        universal_content: Some("a".repeat(281)),
        ..input(x_and_bluesky())
    };
    let r = d
        .build()
        .create(&tenant(), long, Some(now() + Duration::hours(1)), None)
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e.iter().any(|e| e.field == "platforms.0")));
}

// ---- read ----

#[tokio::test]
async fn get_hides_other_tenants_posts() {
    let mut foreign = post(1, x_and_bluesky());
    foreign.user_id = UserId(2);
    let d = Deps::new().with_post(foreign);
    let svc = d.build();
    assert_eq!(
        svc.get(&tenant(), pid(1)).await,
        Err(AppError::NotFound("post"))
    );
    assert_eq!(
        svc.get(&tenant(), pid(2)).await,
        Err(AppError::NotFound("post"))
    );
}

#[tokio::test]
async fn list_passes_the_page_size_and_refuses_a_reversed_range() {
    let mut d = Deps::new();
    d.posts
        .expect_list()
        .withf(|_, q| q.limit.get() == 100)
        .times(1)
        .returning(|_, _| {
            Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        });
    let svc = d.build();
    let q = |from, to| PostQuery {
        status: None,
        platform: None,
        from,
        to,
        limit: PageSize::new(Some(500)),
        cursor: None,
    };
    assert!(svc.list(&tenant(), q(None, None)).await.is_ok());
    assert!(matches!(
        svc.list(&tenant(), q(Some(now()), Some(now() - Duration::days(1)))).await,
        Err(AppError::Invalid(e)) if e[0].field == "from"
    ));
}

// ---- edit / delete ----

#[tokio::test]
async fn edit_merges_the_patch_into_a_draft() {
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .withf(|_, c| {
            matches!(&c.write, PostWrite::Update { post, expected_revision: 3 }
                if post.name.as_str() == "Renamed" && post.universal_content.as_deref() == Some("Hello from Multivio"))
                && !c.cancel_pending_jobs
        })
        .times(1)
        .returning(|_, c| echo(c));
    let patch = PostPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    let p = d.build().edit(&tenant(), pid(1), patch).await.unwrap();
    assert_eq!(p.revision, 4);
}

#[tokio::test]
async fn editing_a_scheduled_post_replaces_its_jobs() {
    let mut p = post(1, x_and_bluesky());
    let at = now() + Duration::hours(5);
    p.schedule(at, now() - Duration::hours(1)).unwrap();
    let mut d = Deps::new().with_post(p);
    d.posts
        .expect_apply()
        .withf(move |_, c| {
            c.cancel_pending_jobs
                && c.enqueue.len() == 1
                && c.enqueue[0].target == Target::primary(Provider::Bluesky)
                && c.enqueue[0].run_at == at
                && c.quota == QuotaEffect::None
        })
        .times(1)
        .returning(|_, c| echo(c));
    let patch = PostPatch {
        platforms: Some(vec![Target::primary(Provider::Bluesky)]),
        ..Default::default()
    };
    d.build().edit(&tenant(), pid(1), patch).await.unwrap();
}

#[tokio::test]
async fn edit_failures() {
    let mut publishing = post(1, x_and_bluesky());
    publishing.start_publishing(now()).unwrap();
    let mut d = Deps::new().with_post(publishing);
    d.posts.expect_apply().never();
    assert_eq!(
        d.build()
            .edit(&tenant(), pid(1), PostPatch::default())
            .await,
        Err(AppError::IllegalTransition(TransitionError {
            from: PostStatus::Publishing,
            action: PostAction::Edit
        }))
    );

    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .returning(|_, _| Err(StoreError::Conflict("revision".into())));
    assert!(matches!(
        d.build()
            .edit(&tenant(), pid(1), PostPatch::default())
            .await,
        Err(AppError::Conflict(_))
    ));

    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    assert_eq!(
        d.build()
            .edit(&tenant(), pid(9), PostPatch::default())
            .await,
        Err(AppError::NotFound("post"))
    );
}

#[tokio::test]
async fn deleting_a_scheduled_post_cancels_jobs_and_refunds() {
    let mut p = post(1, x_and_bluesky());
    p.schedule(now() + Duration::hours(1), now()).unwrap();
    let mut d = Deps::new().with_post(p);
    d.posts
        .expect_apply()
        .withf(|_, c| {
            matches!(
                c.write,
                PostWrite::Delete {
                    expected_revision: 3,
                    ..
                }
            ) && c.quota == QuotaEffect::Refund
                && c.cancel_pending_jobs
        })
        .times(1)
        .returning(|_, c| echo(c));
    d.build().delete(&tenant(), pid(1)).await.unwrap();
}

#[tokio::test]
async fn delete_failures() {
    let mut p = post(1, x_and_bluesky());
    p.start_publishing(now()).unwrap();
    let mut d = Deps::new().with_post(p);
    d.posts.expect_apply().never();
    let svc = d.build();
    assert!(matches!(
        svc.delete(&tenant(), pid(1)).await,
        Err(AppError::IllegalTransition(_))
    ));
    assert_eq!(
        svc.delete(&tenant(), pid(2)).await,
        Err(AppError::NotFound("post"))
    );
}

// ---- validate ----

#[tokio::test]
async fn validate_reports_per_platform_with_account_settings() {
    let mut d = Deps::new();
    d.connections.checkpoint();
    d.connections.expect_list().returning(|_| {
        let mut x = connection(1, Provider::X, true, 1);
        x.metadata = serde_json::json!({"verified": true});
        Ok(vec![x, connection(2, Provider::Bluesky, true, 1)])
    });
    let text = PostInput {
        name: "".into(),
        universal_content: Some("a".repeat(400)),
        ..input(x_and_bluesky())
    };
    let report = d.build().validate(&tenant(), text, None).await.unwrap();
    assert!(
        report.platforms[&Provider::X].valid,
        "verified X allows 4000"
    );
    assert!(
        !report.platforms[&Provider::Bluesky].valid,
        "400 > 300 graphemes"
    );
    assert!(!report.valid);
}

// ---- schedule ----

#[tokio::test]
async fn schedule_consumes_one_unit_and_enqueues_jobs() {
    let at = now() + Duration::hours(2);
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .withf(move |_, c| {
            let p = updated(c);
            p.status == PostStatus::Scheduled
                && c.quota == QuotaEffect::Consume
                && c.enqueue.len() == 2
                && c.enqueue.iter().all(|j| j.run_at == at)
                && matches!(
                    c.write,
                    PostWrite::Update {
                        expected_revision: 3,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_, c| echo(c));
    let p = d
        .build()
        .schedule(&tenant(), pid(1), at, None)
        .await
        .unwrap();
    assert_eq!(p.status, PostStatus::Scheduled);
}

#[tokio::test]
async fn a_platform_may_be_scheduled_before_its_account_is_connected() {
    // No LinkedIn account yet: the schedule is accepted (the account is resolved when the
    // job runs), while publishing now needs the account.
    let at = now() + Duration::hours(2);
    let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::Linkedin)]));
    d.posts
        .expect_apply()
        .withf(|_, c| updated(c).status == PostStatus::Scheduled && c.enqueue.len() == 1)
        .times(1)
        .returning(|_, c| echo(c));
    let p = d
        .build()
        .schedule(&tenant(), pid(1), at, None)
        .await
        .unwrap();
    assert_eq!(p.status, PostStatus::Scheduled);

    let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::Linkedin)]));
    d.posts.expect_apply().never();
    let r = d.build().publish_now(&tenant(), pid(1), None).await;
    assert!(
        matches!(r, Err(AppError::Invalid(e)) if e[0].field == "platforms.0" && e[0].reason.contains("connect"))
    );
}

#[tokio::test]
async fn schedule_failures() {
    // Date in the past.
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts.expect_apply().never();
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() - Duration::minutes(1), None)
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "schedule_date"));

    // A named account that is not connected.
    let ghost = multivio_domain::ConnectionId(uuid::Uuid::from_u128(404));
    let mut d = Deps::new().with_post(post(1, vec![Target::account(Provider::Linkedin, ghost)]));
    d.posts.expect_apply().never();
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "platforms.0"));

    // Account needs reauth.
    let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::X)]));
    d.connections.checkpoint();
    d.connections.expect_list().returning(|_| {
        let mut c = connection(1, Provider::X, true, 1);
        c.status = ConnectionStatus::NeedsReauth;
        Ok(vec![c])
    });
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].reason.contains("reconnect")));

    // Already published.
    let mut p = post(1, x_and_bluesky());
    p.status = PostStatus::Published;
    let d = Deps::new().with_post(p);
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await;
    assert!(matches!(
        r,
        Err(AppError::IllegalTransition(TransitionError {
            from: PostStatus::Published,
            ..
        }))
    ));

    // Wrong tenant.
    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    let r = d
        .build()
        .schedule(&other_tenant(), pid(2), now() + Duration::hours(1), None)
        .await;
    assert_eq!(r, Err(AppError::NotFound("post")));
}

#[tokio::test]
async fn schedule_reports_quota_exceeded_with_the_reset_date() {
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .returning(|_, _| Err(StoreError::QuotaExceeded));
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await;
    assert_eq!(
        r,
        Err(AppError::QuotaExceeded {
            monthly_post_quota: Some(10),
            resets_at: quota(0).resets_at()
        })
    );
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.quotas.checkpoint();
    d.quotas.expect_get().returning(|_| Ok(quota(0)));
    d.posts.expect_apply().never();
    let r = d
        .build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await;
    assert!(matches!(r, Err(AppError::QuotaExceeded { .. })));
}

/// The store below behaves like the PostgreSQL adapter's conditional `UPDATE … WHERE
/// remaining_posts > 0`: two posts race for the last unit.
#[tokio::test]
async fn quota_at_one_with_two_posts_scheduled_serves_exactly_one() {
    let remaining = Arc::new(Mutex::new(quota(1)));
    let mut d = Deps::new();
    d.quotas.checkpoint();
    let r = remaining.clone();
    d.quotas
        .expect_get()
        .returning(move |_| Ok(*r.lock().unwrap()));
    let (p1, p2) = (post(1, x_and_bluesky()), post(2, x_and_bluesky()));
    d.posts
        .expect_get()
        .returning(move |_, id| Ok(if id == p1.id { p1.clone() } else { p2.clone() }));
    let r = remaining.clone();
    d.posts.expect_apply().returning(move |_, c| {
        let mut q = r.lock().unwrap();
        if c.quota == QuotaEffect::Consume {
            *q = q.consume().map_err(|_| StoreError::QuotaExceeded)?;
        }
        echo(c)
    });
    let svc = d.build();
    let at = now() + Duration::hours(1);
    let t = tenant();
    let (a, b) = tokio::join!(
        svc.schedule(&t, pid(1), at, None),
        svc.schedule(&t, pid(2), at, None)
    );
    let results = [a, b];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(AppError::QuotaExceeded { .. })))
            .count(),
        1
    );
    assert_eq!(remaining.lock().unwrap().remaining_posts, 0);
}

#[tokio::test]
async fn an_ended_period_is_reset_before_consuming() {
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.quotas.checkpoint();
    d.quotas.expect_get().returning(|_| {
        Ok(Quota {
            monthly_post_quota: 10,
            remaining_posts: 0,
            last_quota_reset: now() - Duration::days(45),
            anchor: now() - Duration::days(45),
        })
    });
    d.quotas
        .expect_reset_period()
        .times(1)
        .returning(|_, _, _| Ok(true));
    d.posts.expect_apply().times(1).returning(|_, c| echo(c));
    d.build()
        .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
        .await
        .unwrap();
}

// ---- publish now / cancel / retry ----

#[tokio::test]
async fn publish_now_consumes_and_enqueues_due_jobs() {
    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .withf(|_, c| {
            let p = updated(c);
            p.status == PostStatus::Publishing
                && p.publish_results.len() == 2
                && c.quota == QuotaEffect::Consume
                && c.enqueue.iter().all(|j| j.run_at == now())
                && c.enqueue.len() == 2
                && p.publish_job_id == Some(c.enqueue[0].id.to_string())
        })
        .times(1)
        .returning(|_, c| echo(c));
    d.build()
        .publish_now(&tenant(), pid(1), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn publishing_a_scheduled_post_now_replaces_its_jobs_without_consuming_again() {
    let mut p = post(1, x_and_bluesky());
    p.schedule(now() + Duration::hours(3), now()).unwrap();
    let mut d = Deps::new().with_post(p);
    d.posts
        .expect_apply()
        .withf(|_, c| c.quota == QuotaEffect::None && c.cancel_pending_jobs && c.enqueue.len() == 2)
        .times(1)
        .returning(|_, c| echo(c));
    d.build()
        .publish_now(&tenant(), pid(1), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn publish_now_failures() {
    let mut p = post(1, x_and_bluesky());
    p.start_publishing(now()).unwrap();
    let d = Deps::new().with_post(p);
    assert!(matches!(
        d.build().publish_now(&tenant(), pid(1), None).await,
        Err(AppError::IllegalTransition(_))
    ));

    let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
    d.posts
        .expect_apply()
        .returning(|_, _| Err(StoreError::QuotaExceeded));
    assert!(matches!(
        d.build().publish_now(&tenant(), pid(1), None).await,
        Err(AppError::QuotaExceeded { .. })
    ));

    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    assert_eq!(
        d.build().publish_now(&tenant(), pid(5), None).await,
        Err(AppError::NotFound("post"))
    );
}

#[tokio::test]
async fn cancel_refunds_and_cancels_jobs() {
    let mut p = post(1, x_and_bluesky());
    p.schedule(now() + Duration::hours(3), now()).unwrap();
    let mut d = Deps::new().with_post(p);
    d.posts
        .expect_apply()
        .withf(|_, c| {
            updated(c).status == PostStatus::Draft
                && c.quota == QuotaEffect::Refund
                && c.cancel_pending_jobs
        })
        .times(1)
        .returning(|_, c| echo(c));
    let p = d.build().cancel(&tenant(), pid(1)).await.unwrap();
    assert_eq!((p.status, p.quota_consumed), (PostStatus::Draft, false));
}

#[tokio::test]
async fn cancel_failures() {
    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    let svc = d.build();
    assert_eq!(
        svc.cancel(&tenant(), pid(1)).await,
        Err(AppError::IllegalTransition(TransitionError {
            from: PostStatus::Draft,
            action: PostAction::Cancel
        }))
    );
    assert_eq!(
        svc.cancel(&tenant(), pid(3)).await,
        Err(AppError::NotFound("post"))
    );
}

fn settled(outcomes: [TargetOutcome; 2]) -> Post {
    let mut p = post(1, x_and_bluesky());
    p.start_publishing(now()).unwrap();
    let [a, b] = outcomes;
    p.record_outcome("twitter", a, now()).unwrap();
    p.record_outcome("bluesky", b, now()).unwrap();
    p
}

fn ok() -> TargetOutcome {
    TargetOutcome::Published {
        platform_post_id: Some("1".into()),
        url: None,
    }
}

fn failed() -> TargetOutcome {
    TargetOutcome::Failed(TargetError::new("rejected", "no"))
}

#[tokio::test]
async fn retry_requeues_only_failed_targets() {
    let mut d = Deps::new().with_post(settled([ok(), failed()]));
    d.posts
        .expect_apply()
        .withf(|_, c| {
            c.enqueue.len() == 1
                && c.enqueue[0].target == Target::primary(Provider::Bluesky)
                && c.quota == QuotaEffect::None
                && updated(c).status == PostStatus::Publishing
        })
        .times(1)
        .returning(|_, c| echo(c));
    d.build().retry(&tenant(), pid(1)).await.unwrap();
}

#[tokio::test]
async fn retry_after_a_total_failure_consumes_again() {
    let mut d = Deps::new().with_post(settled([failed(), failed()]));
    d.posts
        .expect_apply()
        .withf(|_, c| c.quota == QuotaEffect::Consume && c.enqueue.len() == 2)
        .times(1)
        .returning(|_, c| echo(c));
    d.build().retry(&tenant(), pid(1)).await.unwrap();

    let mut d = Deps::new().with_post(settled([failed(), failed()]));
    d.posts
        .expect_apply()
        .returning(|_, _| Err(StoreError::QuotaExceeded));
    assert!(matches!(
        d.build().retry(&tenant(), pid(1)).await,
        Err(AppError::QuotaExceeded { .. })
    ));
}

#[tokio::test]
async fn retry_failures() {
    let unknown = TargetOutcome::NeedsReview(TargetError::new("timeout", "?"));
    let d = Deps::new().with_post(settled([ok(), unknown]));
    assert!(matches!(
        d.build().retry(&tenant(), pid(1)).await,
        Err(AppError::Conflict(_))
    ));

    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    assert!(matches!(
        d.build().retry(&tenant(), pid(1)).await,
        Err(AppError::IllegalTransition(_))
    ));
    let d = Deps::new().with_post(post(1, x_and_bluesky()));
    assert_eq!(
        d.build().retry(&tenant(), pid(4)).await,
        Err(AppError::NotFound("post"))
    );
}

#[test]
fn validation_options_follow_the_accounts_used() {
    let mut x = connection(1, Provider::X, true, 1);
    x.metadata = serde_json::json!({"verified": true});
    let mut m1 = connection(2, Provider::Mastodon, true, 1);
    m1.metadata = serde_json::json!({
        "max_characters": 1000, "characters_reserved_per_url": 23,
        "max_media_attachments": 6, "image_size_limit": 20_000_000, "video_size_limit": 200_000_000
    });
    let mut m2 = connection(3, Provider::Mastodon, false, 1);
    m2.metadata = serde_json::json!({
        "max_characters": 700, "max_media_attachments": 2, "image_size_limit": 8_000_000
    });
    let all = [x.clone(), m1, m2];
    let targets = Targets::new(vec![
        Target::primary(Provider::X),
        Target::account(Provider::Mastodon, cid(2)),
        Target::account(Provider::Mastodon, cid(3)),
    ])
    .unwrap();
    let opts = validation_options(&targets, &all);
    assert!(opts.x_verified);
    assert_eq!(opts.mastodon_max_characters, 700);
    // Media: the strictest instance's, each limit on its own (one silent on videos).
    assert_eq!(opts.mastodon_max_media, 2);
    assert_eq!(opts.mastodon_image_bytes, 8_000_000);
    assert_eq!(opts.mastodon_video_bytes, 200_000_000);
    let only_primary = Targets::new(vec![Target::primary(Provider::Mastodon)]).unwrap();
    let primary = validation_options(&only_primary, &all);
    assert_eq!(primary.mastodon_max_characters, 1000);
    assert_eq!(primary.mastodon_max_media, 6);
    // An account whose instance said nothing of media: the defaults.
    let silent = Targets::new(vec![Target::account(Provider::Mastodon, cid(3))]).unwrap();
    let mut quiet = connection(3, Provider::Mastodon, false, 1);
    quiet.metadata = serde_json::json!({"max_characters": 700});
    let defaults = multivio_domain::content::ValidationOptions::default();
    let opts = validation_options(&silent, &[quiet]);
    assert_eq!(
        (
            opts.mastodon_max_media,
            opts.mastodon_image_bytes,
            opts.mastodon_video_bytes
        ),
        (
            defaults.mastodon_max_media,
            defaults.mastodon_image_bytes,
            defaults.mastodon_video_bytes
        )
    );
    assert!(!validation_options(&only_primary, &all).x_verified);
    let unverified = [connection(1, Provider::X, true, 1)];
    let x_only = Targets::new(vec![Target::primary(Provider::X)]).unwrap();
    assert!(!validation_options(&x_only, &unverified).x_verified);
}

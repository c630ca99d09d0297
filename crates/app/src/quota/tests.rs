use super::*;
use crate::testing::*;
use multivio_ports::users::MockQuotaStore;

fn quota(remaining: u32, last: chrono::DateTime<chrono::Utc>) -> Quota {
    Quota {
        monthly_post_quota: 10,
        remaining_posts: remaining,
        last_quota_reset: last,
        anchor: last,
    }
}

#[tokio::test]
async fn current_returns_the_quota_within_its_period() {
    let mut store = MockQuotaStore::new();
    store
        .expect_get()
        .returning(|_| Ok(quota(3, now() - chrono::Duration::days(3))));
    store.expect_reset_period().never();
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(svc.current(&tenant()).await.unwrap().remaining_posts, 3);
}

#[tokio::test]
async fn current_resets_an_ended_period_once() {
    let last = now() - chrono::Duration::days(40);
    let start = quota(0, last).reset(now()).last_quota_reset;
    assert!(start > last);
    let mut seq = mockall::Sequence::new();
    let mut store = MockQuotaStore::new();
    store
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(quota(0, last)));
    store
        .expect_reset_period()
        .withf(move |_, expected, next| {
            *expected == last && next.remaining_posts == 10 && next.last_quota_reset == start
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(true));
    // What the store wrote: a downgrade to 5 posts waited for this period.
    store
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| {
            Ok(Quota {
                monthly_post_quota: 5,
                remaining_posts: 5,
                last_quota_reset: start,
                anchor: start,
            })
        });
    let svc = QuotaService::new(Arc::new(store), clock());
    let q = svc.current(&tenant()).await.unwrap();
    assert_eq!((q.monthly_post_quota, q.remaining_posts), (5, 5));
    assert_eq!(q.last_quota_reset, start);
}

#[tokio::test]
async fn current_never_answers_a_period_older_than_the_one_it_started() {
    let last = now() - chrono::Duration::days(40);
    let mut store = MockQuotaStore::new();
    // A store whose read does not show the reset yet.
    store.expect_get().returning(move |_| Ok(quota(0, last)));
    store
        .expect_reset_period()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let svc = QuotaService::new(Arc::new(store), clock());
    let q = svc.current(&tenant()).await.unwrap();
    assert_eq!(q.remaining_posts, 10);
    assert!(q.last_quota_reset > last);
}

#[tokio::test]
async fn current_rereads_when_another_reset_won() {
    let last = now() - chrono::Duration::days(40);
    let mut seq = mockall::Sequence::new();
    let mut store = MockQuotaStore::new();
    store
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(quota(0, last)));
    store
        .expect_reset_period()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(false));
    store
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(quota(10, now() - chrono::Duration::days(1))));
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(svc.current(&tenant()).await.unwrap().remaining_posts, 10);
}

#[tokio::test]
async fn current_of_unknown_tenant_is_not_found() {
    let mut store = MockQuotaStore::new();
    store
        .expect_get()
        .returning(|_| Err(multivio_ports::StoreError::NotFound));
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(
        svc.current(&tenant()).await,
        Err(AppError::NotFound("quota"))
    );
}

#[tokio::test]
async fn reset_due_counts_the_resets_it_won() {
    let last = now() - chrono::Duration::days(35);
    let mut store = MockQuotaStore::new();
    store.expect_due_for_reset().returning(move |_, _| {
        Ok(vec![
            (tenant(), quota(0, last)),
            (other_tenant(), quota(2, last)),
        ])
    });
    store
        .expect_reset_period()
        .times(2)
        .returning(|t, _, _| Ok(t.user_id == tenant().user_id));
    store
        .expect_purge_expired_carryovers()
        .withf(|at| *at == now())
        .times(1)
        .returning(|_| Ok(2));
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(svc.reset_due(100).await.unwrap(), 1);
}

#[tokio::test]
async fn reset_due_resets_even_when_the_carryover_purge_fails() {
    let last = now() - chrono::Duration::days(35);
    let mut store = MockQuotaStore::new();
    store
        .expect_due_for_reset()
        .returning(move |_, _| Ok(vec![(tenant(), quota(0, last))]));
    store
        .expect_reset_period()
        .times(1)
        .returning(|_, _, _| Ok(true));
    store
        .expect_purge_expired_carryovers()
        .times(1)
        .returning(|_| Err(multivio_ports::StoreError::Unavailable("db down".into())));
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(svc.reset_due(100).await.unwrap(), 1);
}

#[tokio::test]
async fn reset_due_writes_back_a_period_found_by_a_stale_end_without_counting_it() {
    let current = quota(4, now() - chrono::Duration::days(3));
    let mut store = MockQuotaStore::new();
    store
        .expect_due_for_reset()
        .returning(move |_, _| Ok(vec![(tenant(), current)]));
    store
        .expect_reset_period()
        .withf(move |_, expected, next| *expected == current.last_quota_reset && *next == current)
        .times(1)
        .returning(|_, _, _| Ok(true));
    store.expect_purge_expired_carryovers().returning(|_| Ok(0));
    let svc = QuotaService::new(Arc::new(store), clock());
    assert_eq!(svc.reset_due(100).await.unwrap(), 0);
}

//! UserStore, QuotaStore and BillingStore on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{new_user, now, setup, tenant};
use multivio_domain::contact::Email;
use multivio_domain::quota::{PlanName, Quota};
use multivio_domain::subscription::{
    BillingOutcome, Subscription, SubscriptionHistoryEntry, SubscriptionStatus,
};
use multivio_domain::user::{Profile, Username};
use multivio_domain::{FirebaseUid, Secret, Tenant, UserId};
use multivio_ports::StoreError;
use multivio_ports::users::{BillingStore, EventApplied, QuotaStore, UserStore};

#[tokio::test]
async fn first_login_creates_the_user_with_its_quota_and_later_ones_refresh_it() {
    let (_db, store) = setup().await;
    let first = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.user.email.as_str(), "alice@example.com");
    assert!(!first.user.email_verified);
    let tenant = first.user.tenant();
    assert_eq!(
        QuotaStore::get(&store, &tenant)
            .await
            .unwrap()
            .remaining_posts,
        10
    );

    let mut verified = new_user("alice");
    verified.email_verified = true;
    verified.email = Email::new("alice@new.example.com").unwrap();
    let second = store
        .upsert_from_identity(&verified, &Quota::full(99, now()))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.id, first.user.id);
    assert!(second.user.email_verified);
    assert_eq!(second.user.email.as_str(), "alice@new.example.com");
    // The quota given for a known user is ignored.
    assert_eq!(
        QuotaStore::get(&store, &tenant)
            .await
            .unwrap()
            .monthly_post_quota,
        10
    );

    // A verified address stays verified, even if a later token does not say so...
    let mut same = new_user("alice");
    same.email = Email::new("alice@new.example.com").unwrap();
    let third = store
        .upsert_from_identity(&same, &Quota::full(10, now()))
        .await
        .unwrap();
    assert!(third.user.email_verified);
    // ...but a different address is only as verified as the identity provider says.
    let fourth = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert_eq!(fourth.user.email.as_str(), "alice@example.com");
    assert!(!fourth.user.email_verified);

    let found = store
        .find_by_firebase_uid(&FirebaseUid::new("alice").unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(first.user.id));
    assert!(
        store
            .find_by_firebase_uid(&FirebaseUid::new("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_make_one_user() {
    let (_db, store) = setup().await;
    // Several users, each signing in from many requests at once: the races meet on either
    // unique index (firebase_uid or email), and every request must still succeed.
    for round in 0..8 {
        let uid = format!("racer{round}");
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                let uid = uid.clone();
                tokio::spawn(async move {
                    store
                        .upsert_from_identity(&new_user(&uid), &Quota::full(10, now()))
                        .await
                })
            })
            .collect();
        let mut ids = Vec::new();
        let mut created = 0;
        for t in tasks {
            let up = t.await.unwrap().unwrap();
            created += usize::from(up.created);
            ids.push(up.user.id);
        }
        assert_eq!(created, 1, "{uid}");
        ids.dedup();
        assert_eq!(ids.len(), 1, "{uid}");
    }
}

#[tokio::test]
async fn an_email_taken_by_another_user_is_a_duplicate() {
    let (_db, store) = setup().await;
    tenant(&store, "alice").await;
    let mut bob = new_user("bob");
    bob.email = Email::new("alice@example.com").unwrap();
    let err = store
        .upsert_from_identity(&bob, &Quota::full(10, now()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Duplicate {
            field: "email".into()
        }
    );
}

#[tokio::test]
async fn profile_updates_and_taken_usernames() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let profile = Profile {
        username: Some(Username::new("alice_w").unwrap()),
        full_name: Some("Alice W".into()),
        bio: Some("hello".into()),
        ..Profile::default()
    };
    let updated = store.update_profile(&alice, &profile).await.unwrap();
    assert_eq!(updated.profile, profile);
    assert_eq!(
        UserStore::get(&store, &alice).await.unwrap().profile,
        profile
    );
    let err = store.update_profile(&bob, &profile).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Duplicate {
            field: "username".into()
        }
    );
}

#[tokio::test]
async fn a_tenant_cannot_reach_another_users_row() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    // Bob's claim with Alice's id: RLS hides the row even though the id is right.
    let forged = Tenant::new(alice.user_id, bob.firebase_uid.clone());
    assert_eq!(
        UserStore::get(&store, &forged).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store
            .update_profile(&forged, &Profile::default())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        UserStore::delete(&store, &forged).await.unwrap_err(),
        StoreError::NotFound
    );
    assert!(UserStore::get(&store, &alice).await.is_ok());
}

#[tokio::test]
async fn deleting_a_user_removes_what_it_owns() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    UserStore::delete(&store, &alice).await.unwrap();
    assert!(
        store
            .find_by_firebase_uid(&alice.firebase_uid)
            .await
            .unwrap()
            .is_none()
    );
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: N = diesel::sql_query("SELECT count(*) AS n FROM user_info")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.n, 0);
}

#[tokio::test]
async fn email_verification_tokens_are_single_use_and_expire() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let t0 = now();
    let token = Secret::new("tok-123");
    store
        .set_email_verification(&alice, &token, t0 + Duration::hours(1), t0)
        .await
        .unwrap();
    assert_eq!(
        UserStore::get(&store, &alice)
            .await
            .unwrap()
            .email_verification_sent_at,
        Some(t0)
    );
    assert_eq!(
        store
            .confirm_email(&Secret::new("wrong"), t0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.confirm_email(&token, t0).await.unwrap(),
        Some(alice.clone())
    );
    assert!(UserStore::get(&store, &alice).await.unwrap().email_verified);
    assert_eq!(
        store.confirm_email(&token, t0).await.unwrap(),
        None,
        "replayed"
    );

    let bob = tenant(&store, "bob").await;
    let late = Secret::new("late");
    store
        .set_email_verification(&bob, &late, t0 + Duration::minutes(5), t0)
        .await
        .unwrap();
    assert_eq!(
        store
            .confirm_email(&late, t0 + Duration::minutes(6))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn quota_resets_are_compare_and_set_and_due_ones_are_found() {
    let (_db, store) = setup().await;
    let t0 = now() - Duration::days(40);
    let alice = store
        .upsert_from_identity(
            &new_user("alice"),
            &Quota {
                monthly_post_quota: 10,
                remaining_posts: 3,
                last_quota_reset: t0,
            },
        )
        .await
        .unwrap()
        .user
        .tenant();
    let _bob = tenant(&store, "bob").await;

    let due = store.due_for_reset(now(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, alice);
    assert_eq!(due[0].1.remaining_posts, 3);

    let next = due[0].1.reset(now());
    assert!(store.reset_period(&alice, t0, &next).await.unwrap());
    assert!(
        !store.reset_period(&alice, t0, &next).await.unwrap(),
        "second reset lost the race"
    );
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), next);
    assert!(store.due_for_reset(now(), 10).await.unwrap().is_empty());
}

fn outcome(
    status: SubscriptionStatus,
    plan: &str,
    at: chrono::DateTime<chrono::Utc>,
    quota: Option<u32>,
) -> BillingOutcome {
    BillingOutcome {
        subscription: Some(Subscription {
            plan_name: PlanName::new(plan).unwrap(),
            status,
            stripe_customer_id: Some("cus_1".into()),
            subscription_id: Some("sub_1".into()),
            end_date: Some(at + Duration::days(30)),
            last_event_at: Some(at),
        }),
        monthly_post_quota: quota,
        history: Some(SubscriptionHistoryEntry {
            user_email: Email::new("alice@example.com").unwrap(),
            stripe_subscription_id: Some("sub_1".into()),
            plan_name: Some(PlanName::new(plan).unwrap()),
            status: status.as_str().into(),
            amount_paid: Some(1900),
            currency: Some("usd".into()),
            period_start: Some(at),
            period_end: Some(at + Duration::days(30)),
            stripe_customer_id: Some("cus_1".into()),
            created_at: at,
        }),
    }
}

#[tokio::test]
async fn billing_events_apply_once_in_order_and_keep_used_posts() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    // Alice used 4 of her 10 free posts.
    let q = QuotaStore::get(&store, &alice).await.unwrap();
    let used = Quota {
        remaining_posts: 6,
        ..q
    };
    assert!(
        store
            .reset_period(&alice, q.last_quota_reset, &used)
            .await
            .unwrap()
    );

    let t1 = now();
    let pro = outcome(SubscriptionStatus::Active, "pro", t1, Some(100));
    assert_eq!(
        store
            .apply_event(&alice, "evt_1", None, &pro)
            .await
            .unwrap(),
        EventApplied::Applied
    );
    assert_eq!(
        store
            .apply_event(&alice, "evt_1", None, &pro)
            .await
            .unwrap(),
        EventApplied::AlreadyProcessed
    );

    let user = UserStore::get(&store, &alice).await.unwrap();
    assert_eq!(user.subscription.plan_name.as_str(), "pro");
    assert_eq!(user.subscription.status, SubscriptionStatus::Active);
    assert_eq!(user.subscription.last_event_at, Some(t1));
    assert_eq!(
        store
            .find_by_stripe_customer("cus_1")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.user_id)
    );
    let quota = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!((quota.monthly_post_quota, quota.remaining_posts), (100, 96));

    // An event computed from a stale view loses, and writes nothing (not even its id).
    let stale = outcome(
        SubscriptionStatus::Canceled,
        "free",
        t1 - Duration::hours(1),
        Some(10),
    );
    let err = store
        .apply_event(&alice, "evt_0", None, &stale)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let later = outcome(
        SubscriptionStatus::Canceled,
        "free",
        t1 + Duration::hours(1),
        Some(10),
    );
    assert_eq!(
        store
            .apply_event(&alice, "evt_0", Some(t1), &later)
            .await
            .unwrap(),
        EventApplied::Applied
    );
    let quota = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!((quota.monthly_post_quota, quota.remaining_posts), (10, 6));

    let history = store.history(&alice).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].status, "canceled", "newest first");
    let bob = tenant(&store, "bob").await;
    assert!(store.history(&bob).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_by_id(UserId(alice.user_id.0))
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.user_id
    );
}

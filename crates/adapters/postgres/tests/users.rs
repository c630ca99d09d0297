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
use multivio_domain::user::{NewUser, Profile, Username};
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
    let sent = |t| multivio_domain::user::VerificationSends::new(vec![t]);
    let none = multivio_domain::user::VerificationSends::default();
    let address = |uid: &str| Email::new(format!("{uid}@example.com")).unwrap();
    assert!(
        store
            .record_verification_send(
                &alice,
                &address("alice"),
                &token,
                t0 + Duration::hours(1),
                t0,
                &none,
                &sent(t0)
            )
            .await
            .unwrap()
    );
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
    assert!(
        store
            .record_verification_send(
                &bob,
                &address("bob"),
                &late,
                t0 + Duration::minutes(5),
                t0,
                &none,
                &sent(t0)
            )
            .await
            .unwrap()
    );
    // A token is stored only for the address it is mailed to: bob's address changed meanwhile.
    let carol = tenant(&store, "carol").await;
    assert!(
        !store
            .record_verification_send(
                &carol,
                &address("someone-else"),
                &Secret::new("elsewhere"),
                t0 + Duration::hours(1),
                t0,
                &none,
                &sent(t0)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .confirm_email(&Secret::new("elsewhere"), t0)
            .await
            .unwrap(),
        None
    );
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
                anchor: t0,
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

#[tokio::test]
async fn a_period_a_short_month_clamped_is_due_on_the_billing_day() {
    let (db, store) = setup().await;
    // Billed on the 31st: February's period started on the 28th.
    let feb = Quota {
        monthly_post_quota: 10,
        remaining_posts: 2,
        last_quota_reset: day(2, 28),
        anchor: day(1, 31),
    };
    let alice = store
        .upsert_from_identity(&new_user("alice"), &feb)
        .await
        .unwrap()
        .user
        .tenant();
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), feb);
    // Not a month after its start, but on the 31st.
    assert!(
        store
            .due_for_reset(day(3, 30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.due_for_reset(day(3, 31), 10).await.unwrap();
    assert_eq!(due, [(alice.clone(), feb)]);

    let mar = feb.reset(day(3, 31));
    assert!(store.reset_period(&alice, day(2, 28), &mar).await.unwrap());
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), mar);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM user_info WHERE quota_anchor = '2025-03-31 09:30Z'
                AND quota_resets_at = '2025-04-30 09:30Z'"
        )
        .await,
        1
    );
    // A row written without its end (by hand), or with its start alone (by hand, or by an
    // older build): the sweep finds it, and writing the period back as it is stores its end.
    let hand = |sql: &'static str| {
        let url = db.url().to_owned();
        async move {
            diesel_async::SimpleAsyncConnection::batch_execute(
                &mut <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                    &url,
                )
                .await
                .unwrap(),
                sql,
            )
            .await
            .unwrap();
        }
    };
    for sql in [
        "UPDATE user_info SET quota_resets_at = NULL",
        "UPDATE user_info SET quota_resets_at = last_quota_reset",
    ] {
        hand(sql).await;
        assert_eq!(
            store.due_for_reset(day(4, 1), 10).await.unwrap(),
            [(alice.clone(), mar)]
        );
        assert!(!mar.needs_reset(day(4, 1)));
        assert!(store.reset_period(&alice, day(3, 31), &mar).await.unwrap());
        assert!(
            store
                .due_for_reset(day(4, 29), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.due_for_reset(day(4, 30), 10).await.unwrap().len(), 1);
    }
    // A seed row without a start counts from its creation, and its reset applies.
    hand(
        "UPDATE user_info SET last_quota_reset = NULL, quota_anchor = NULL,
                              created_at = '2025-03-31 09:30Z'",
    )
    .await;
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), mar);
    let may = mar.reset(day(5, 1));
    assert!(store.reset_period(&alice, day(3, 31), &may).await.unwrap());
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), may);
}

/// 09:30 UTC on a day of 2025.
fn day(month: u32, day: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, month, day, 9, 30, 0).unwrap()
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
        quota_change_now: false,
        ended_at: None,
        ran_to_end: false,
        quota_period_start: None,
        paid_monthly_post_quota: None,
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
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    // Alice used 4 of her 10 free posts.
    set_remaining_posts(&db, &alice, 6).await;

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
    // A downgrade: the period keeps what was paid for as it began (see the deferred-downgrade
    // test) — here the free plan's, no invoice having paid for pro: taken back at once, the
    // posts used still used.
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

// ---- Quota carry-over across account deletion (migration 015) ----

/// Runs one `SELECT … AS n` (a BIGINT) as the database's owner.
/// Sets the posts `tenant` has left this period, as posts consumed would.
async fn set_remaining_posts(db: &multivio_postgres::testing::TestDb, tenant: &Tenant, n: u32) {
    let mut conn =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(db.url())
            .await
            .unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        &format!(
            "UPDATE user_info SET remaining_posts = {n} WHERE user_id = {}",
            tenant.user_id.0
        ),
    )
    .await
    .unwrap();
}

async fn count(db: &multivio_postgres::testing::TestDb, sql: &str) -> i64 {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let row: N = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    row.n
}

fn verified(uid: &str, email: &str) -> multivio_domain::user::NewUser {
    let mut new = new_user(uid);
    new.email = Email::new(email).unwrap();
    new.email_verified = true;
    new
}

/// Creates `new` with a period that started `days_ago` with `remaining` of 10 posts left,
/// anchored a month before its start (so an anchor carried as the start would show).
async fn with_used_quota(
    store: &multivio_postgres::PgStore,
    new: &multivio_domain::user::NewUser,
    days_ago: i64,
    remaining: u32,
) -> (Tenant, Quota) {
    let start = now() - Duration::days(days_ago);
    let quota = Quota {
        monthly_post_quota: 10,
        remaining_posts: remaining,
        last_quota_reset: start,
        anchor: start.checked_sub_months(chrono::Months::new(1)).unwrap(),
    };
    let up = store.upsert_from_identity(new, &quota).await.unwrap();
    assert!(up.created);
    (up.user.tenant(), quota)
}

#[tokio::test]
async fn deleting_and_signing_in_again_in_the_same_period_keeps_the_used_quota() {
    let (db, store) = setup().await;
    let (alice, used) = with_used_quota(&store, &new_user("alice"), 5, 3).await;
    UserStore::delete(&store, &alice).await.unwrap();

    // The same Firebase token signs in again: a new user, but not a new month.
    let again = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert!(again.created);
    assert_ne!(again.user.id, alice.user_id);
    assert_eq!(
        QuotaStore::get(&store, &again.user.tenant()).await.unwrap(),
        used
    );

    // Only hashes are kept: neither the uid nor the address (it was not verified: no row).
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM quota_carryovers").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM quota_carryovers
              WHERE key_hash = encode(sha256(convert_to('multivio-quota-uid:alice', 'UTF8')), 'hex')"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM quota_carryovers
              WHERE key_hash LIKE '%alice%' OR key_hash !~ '^[0-9a-f]{64}$'"
        )
        .await,
        0
    );

    // Deleted again after one more post: the kept row never frees a post.
    let again = again.user.tenant();
    set_remaining_posts(&db, &again, 2).await;
    UserStore::delete(&store, &again).await.unwrap();
    let third = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &third.user.tenant())
            .await
            .unwrap()
            .remaining_posts,
        2
    );
}

#[tokio::test]
async fn a_verified_address_carries_the_quota_to_a_new_uid() {
    let (_db, store) = setup().await;
    let (alice, used) = with_used_quota(&store, &verified("alice", "ada@example.com"), 3, 1).await;
    UserStore::delete(&store, &alice).await.unwrap();

    // Another Firebase account, same verified address.
    let bob = store
        .upsert_from_identity(&verified("bob", "Ada@Example.com"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert!(bob.created);
    assert_eq!(
        QuotaStore::get(&store, &bob.user.tenant()).await.unwrap(),
        used
    );
    // Someone else entirely starts a full month.
    let carol = tenant(&store, "carol").await;
    assert_eq!(
        QuotaStore::get(&store, &carol)
            .await
            .unwrap()
            .remaining_posts,
        10
    );
}

#[tokio::test]
async fn an_unverified_address_neither_reserves_nor_matches() {
    let (db, store) = setup().await;
    // A verified owner leaves: a new uid signing in with the address unverified does not
    // inherit (it could be anyone's typing), and gets a full month.
    let (alice, _) = with_used_quota(&store, &verified("alice", "ada@example.com"), 3, 0).await;
    UserStore::delete(&store, &alice).await.unwrap();
    let mut unverified = new_user("mallory");
    unverified.email = Email::new("ada@example.com").unwrap();
    let mallory = store
        .upsert_from_identity(&unverified, &Quota::full(10, now()))
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &mallory.user.tenant())
            .await
            .unwrap()
            .remaining_posts,
        10
    );
    UserStore::delete(&store, &mallory.user.tenant())
        .await
        .unwrap();

    // Someone who typed an address they do not own leaves: it reserves nothing, and its real
    // owner, signing in with it verified, starts a full month.
    let before = count(&db, "SELECT count(*) AS n FROM quota_carryovers").await;
    let mut typo = new_user("eve");
    typo.email = Email::new("grace@example.com").unwrap();
    let (eve, _) = with_used_quota(&store, &typo, 2, 0).await;
    UserStore::delete(&store, &eve).await.unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM quota_carryovers").await,
        before + 1,
        "the uid's row only"
    );
    let grace = store
        .upsert_from_identity(
            &verified("grace", "grace@example.com"),
            &Quota::full(10, now()),
        )
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &grace.user.tenant())
            .await
            .unwrap()
            .remaining_posts,
        10
    );
}

#[tokio::test]
async fn an_ended_period_is_neither_kept_nor_continued_and_is_purged() {
    let (db, store) = setup().await;
    // Deleted after its period ended (no reset ran since): nothing to keep.
    let (old, _) = with_used_quota(&store, &new_user("old"), 40, 0).await;
    UserStore::delete(&store, &old).await.unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM quota_carryovers").await,
        0
    );
    let back = store
        .upsert_from_identity(&new_user("old"), &Quota::full(10, now()))
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &back.user.tenant())
            .await
            .unwrap()
            .remaining_posts,
        10
    );

    // Kept while current, then ignored once its period ended, and deleted by the next write.
    let (alice, _) = with_used_quota(&store, &new_user("alice"), 20, 0).await;
    UserStore::delete(&store, &alice).await.unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM quota_carryovers").await,
        1
    );
    let later = now() + Duration::days(15);
    let back = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, later))
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &back.user.tenant()).await.unwrap(),
        Quota::full(10, later)
    );
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM quota_carryovers").await,
        0
    );

    // The sweep deletes ended rows too, and only those.
    let (bob, _) = with_used_quota(&store, &new_user("bob"), 20, 4).await;
    UserStore::delete(&store, &bob).await.unwrap();
    assert_eq!(store.purge_expired_carryovers(now()).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_expired_carryovers(now() + Duration::days(15))
            .await
            .unwrap(),
        1
    );
}

// ---- Billing: plan changes, paid periods, concurrency ----

async fn pending_quota(db: &multivio_postgres::testing::TestDb, tenant: &Tenant) -> Option<i64> {
    let n = count(
        db,
        &format!(
            "SELECT coalesce(pending_monthly_post_quota, -1)::bigint AS n FROM user_info
              WHERE user_id = {}",
            tenant.user_id.0
        ),
    )
    .await;
    (n >= 0).then_some(n)
}

fn invoice_outcome(
    period_start: chrono::DateTime<chrono::Utc>,
    created: chrono::DateTime<chrono::Utc>,
) -> BillingOutcome {
    BillingOutcome {
        quota_period_start: Some(period_start),
        history: Some(SubscriptionHistoryEntry {
            user_email: Email::new("alice@example.com").unwrap(),
            stripe_subscription_id: Some("sub_1".into()),
            plan_name: Some(PlanName::new("pro").unwrap()),
            status: "paid".into(),
            amount_paid: Some(1900),
            currency: Some("usd".into()),
            period_start: Some(period_start),
            period_end: Some(period_start + Duration::days(30)),
            stripe_customer_id: Some("cus_1".into()),
            created_at: created,
        }),
        ..BillingOutcome::default()
    }
}

#[tokio::test]
async fn a_downgrade_waits_for_the_next_period() {
    let (db, store) = setup().await;
    let (alice, _) = with_used_quota(&store, &new_user("alice"), 10, 6).await;
    let t1 = now();
    let pro = outcome(SubscriptionStatus::Active, "pro", t1, Some(100));
    store
        .apply_event(&alice, "evt_up", None, &pro)
        .await
        .unwrap();
    let q = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!(
        (q.monthly_post_quota, q.remaining_posts),
        (100, 96),
        "at once"
    );
    // Its first invoice: the period paid for at pro's quota.
    store
        .apply_event(&alice, "evt_paid", Some(t1), &invoice_outcome(t1, t1))
        .await
        .unwrap();
    let q = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!(q, Quota::full(100, t1));

    let t2 = t1 + Duration::hours(1);
    let cancel = outcome(SubscriptionStatus::Canceled, "free", t2, Some(10));
    store
        .apply_event(&alice, "evt_down", Some(t1), &cancel)
        .await
        .unwrap();
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), q, "not yet");
    assert_eq!(pending_quota(&db, &alice).await, Some(10));
    let user = UserStore::get(&store, &alice).await.unwrap();
    assert!(
        user.subscription.plan_name.is_free(),
        "the plan changes at once"
    );

    // The period ends: the sweep finds it, and the reset starts the lower quota.
    let month_later = q.resets_at().unwrap() + Duration::minutes(1);
    let due = store.due_for_reset(month_later, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let next = due[0].1.reset(month_later);
    assert!(
        store
            .reset_period(&alice, q.last_quota_reset, &next)
            .await
            .unwrap()
    );
    let reset = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!(
        reset,
        Quota::full(10, next.last_quota_reset),
        "the downgrade's quota, full"
    );
    assert_eq!(pending_quota(&db, &alice).await, None);
}

#[tokio::test]
async fn a_renewal_paid_in_a_short_month_keeps_the_billing_day() {
    let (_db, store) = setup().await;
    let alice = store
        .upsert_from_identity(&new_user("alice"), &Quota::full(10, day(1, 31)))
        .await
        .unwrap()
        .user
        .tenant();
    // Stripe's renewal on the 28th, before the sweep started the period.
    let feb = invoice_outcome(day(2, 28), day(2, 28));
    assert_eq!(
        store
            .apply_event(&alice, "evt_inv_feb", None, &feb)
            .await
            .unwrap(),
        EventApplied::Applied
    );
    let quota = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!(
        (quota.last_quota_reset, quota.anchor, quota.resets_at()),
        (day(2, 28), day(1, 31), Some(day(3, 31)))
    );
    assert!(
        store
            .due_for_reset(day(3, 30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.due_for_reset(day(3, 31), 10).await.unwrap(),
        [(alice, quota)]
    );
}

#[tokio::test]
async fn a_paid_invoice_starts_a_newer_period_and_a_late_old_one_changes_nothing() {
    let (db, store) = setup().await;
    let (alice, used) = with_used_quota(&store, &new_user("alice"), 10, 2).await;
    let t1 = now();
    store
        .apply_event(
            &alice,
            "evt_up",
            None,
            &outcome(SubscriptionStatus::Active, "pro", t1, Some(100)),
        )
        .await
        .unwrap();
    let start = now() - Duration::days(1);
    assert_eq!(
        store
            .apply_event(&alice, "evt_inv_new", Some(t1), &invoice_outcome(start, t1))
            .await
            .unwrap(),
        EventApplied::Applied
    );
    let renewed = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!(renewed, Quota::full(100, start));

    // Last month's invoice, delivered now: its history is kept, the quota is not touched.
    let old_start = used.last_quota_reset - Duration::days(30);
    assert_eq!(
        store
            .apply_event(
                &alice,
                "evt_inv_old",
                Some(t1),
                &invoice_outcome(old_start, t1)
            )
            .await
            .unwrap(),
        EventApplied::Applied
    );
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), renewed);
    assert_eq!(store.history(&alice).await.unwrap().len(), 3);

    // A waiting downgrade applies to the next paid period.
    let t2 = t1 + Duration::hours(1);
    store
        .apply_event(
            &alice,
            "evt_down",
            Some(t1),
            &outcome(SubscriptionStatus::Active, "basic", t2, Some(20)),
        )
        .await
        .unwrap();
    assert_eq!(QuotaStore::get(&store, &alice).await.unwrap(), renewed);
    let next_start = now();
    store
        .apply_event(
            &alice,
            "evt_inv_next",
            Some(t2),
            &invoice_outcome(next_start, t2),
        )
        .await
        .unwrap();
    assert_eq!(
        QuotaStore::get(&store, &alice).await.unwrap(),
        Quota::full(20, next_start)
    );
    assert_eq!(pending_quota(&db, &alice).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_event_delivered_twice_at_once_changes_state_once() {
    let (_db, store) = setup().await;
    let (alice, _) = with_used_quota(&store, &new_user("alice"), 10, 4).await;
    let t1 = now();
    let pro = outcome(SubscriptionStatus::Active, "pro", t1, Some(100));
    let invoice = invoice_outcome(now() - Duration::hours(1), t1);
    for (id, expected, out) in [("evt_sub", None, pro), ("evt_inv", Some(t1), invoice)] {
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                let alice = alice.clone();
                let out = out.clone();
                tokio::spawn(async move { store.apply_event(&alice, id, expected, &out).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        results.sort_by_key(|r| *r == EventApplied::AlreadyProcessed);
        assert_eq!(
            results,
            [EventApplied::Applied, EventApplied::AlreadyProcessed],
            "{id}"
        );
    }
    // Upgraded once (4 posts used: 96 left), then renewed once; one history row each.
    let q = QuotaStore::get(&store, &alice).await.unwrap();
    assert_eq!((q.monthly_post_quota, q.remaining_posts), (100, 100));
    assert_eq!(store.history(&alice).await.unwrap().len(), 2);
}

#[tokio::test]
async fn subscription_updates_out_of_order_keep_the_newest_state() {
    use multivio_domain::quota::PlanCatalog;
    use multivio_domain::subscription::{
        BillingEvent, BillingEventKind, SubscriptionSnapshot, apply_billing_event,
    };
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let catalog = PlanCatalog::parse("pro=100,business=1000").unwrap();
    let t0 = now();
    let updated = |id: &str, secs: i64, plan: &str| BillingEvent {
        id: id.into(),
        created: t0 + Duration::seconds(secs),
        kind: BillingEventKind::SubscriptionChanged(SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status: SubscriptionStatus::Active,
            plan: Some(PlanName::new(plan).unwrap()),
            current_period_start: Some(t0),
            current_period_end: Some(t0 + Duration::days(30)),
        }),
    };
    // As the billing use case does: compute from the stored state, write compare-and-set,
    // and on a conflict reload and compute again.
    let deliver = async |event: &BillingEvent| loop {
        let user = UserStore::get(&store, &alice).await.unwrap();
        let out = apply_billing_event(&user.subscription, event, &catalog, &user.email);
        match store
            .apply_event(&alice, &event.id, user.subscription.last_event_at, &out)
            .await
        {
            Err(StoreError::Conflict(_)) => continue,
            other => break other.unwrap(),
        }
    };
    // Stripe sent business (t0+20) after pro (t0+10); they arrive newest first.
    deliver(&updated("evt_business", 20, "business")).await;
    deliver(&updated("evt_pro", 10, "pro")).await;
    let user = UserStore::get(&store, &alice).await.unwrap();
    assert_eq!(user.subscription.plan_name.as_str(), "business");
    assert_eq!(
        user.subscription.last_event_at,
        Some(t0 + Duration::seconds(20))
    );
    assert_eq!(
        QuotaStore::get(&store, &alice)
            .await
            .unwrap()
            .monthly_post_quota,
        1000
    );
    // The stale one is recorded as processed: delivered again, it is not applied again.
    assert_eq!(
        deliver(&updated("evt_pro", 10, "pro")).await,
        EventApplied::AlreadyProcessed
    );

    // An older state computed before the newest was applied loses the compare-and-set.
    let stale = outcome(
        SubscriptionStatus::Active,
        "pro",
        t0 + Duration::seconds(15),
        Some(100),
    );
    assert!(matches!(
        store
            .apply_event(
                &alice,
                "evt_stale",
                Some(t0 + Duration::seconds(10)),
                &stale
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        UserStore::get(&store, &alice)
            .await
            .unwrap()
            .subscription
            .plan_name
            .as_str(),
        "business"
    );
}

// ---- Verification mail: the daily limit's record ----

#[tokio::test]
async fn verification_sends_are_recorded_compare_and_set_with_only_a_token_hash() {
    use multivio_domain::user::VerificationSends;
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    assert_eq!(
        store.verification_sends(&alice).await.unwrap(),
        VerificationSends::default()
    );
    let t0 = now();
    let first = VerificationSends::new(vec![t0]);
    let token = Secret::new("raw-token-1");
    assert!(
        store
            .record_verification_send(
                &alice,
                &Email::new("alice@example.com").unwrap(),
                &token,
                t0 + Duration::hours(24),
                t0,
                &VerificationSends::default(),
                &first
            )
            .await
            .unwrap()
    );
    // A second request that read the same (empty) sends lost the race: nothing written.
    let t1 = t0 + Duration::seconds(1);
    assert!(
        !store
            .record_verification_send(
                &alice,
                &Email::new("alice@example.com").unwrap(),
                &Secret::new("raw-token-2"),
                t1 + Duration::hours(24),
                t1,
                &VerificationSends::default(),
                &VerificationSends::new(vec![t1])
            )
            .await
            .unwrap()
    );
    assert_eq!(store.verification_sends(&alice).await.unwrap(), first);
    assert_eq!(
        UserStore::get(&store, &alice)
            .await
            .unwrap()
            .email_verification_sent_at,
        Some(t0)
    );
    // The raw token is nowhere; its hash is, and confirms the address.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE email_verification_token = 'raw-token-1'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE email_verification_token =
               encode(sha256(convert_to('raw-token-1', 'UTF8')), 'hex')"
        )
        .await,
        1
    );
    assert_eq!(
        store.confirm_email(&token, t1).await.unwrap(),
        Some(alice.clone())
    );

    // Another tenant's claim cannot read them.
    let bob = tenant(&store, "bob").await;
    let forged = Tenant::new(alice.user_id, bob.firebase_uid.clone());
    assert_eq!(
        store.verification_sends(&forged).await.unwrap_err(),
        StoreError::NotFound
    );
}

#[tokio::test]
async fn a_verified_owner_takes_an_address_back_from_an_unverified_account() {
    let (_db, store) = setup().await;
    let quota = Quota::full(10, now());
    // mallory signs up first with alice's address, unverified.
    let squatter = NewUser {
        email: Email::new("alice@example.com").unwrap(),
        ..new_user("mallory")
    };
    let mallory = store
        .upsert_from_identity(&squatter, &quota)
        .await
        .unwrap()
        .user;
    // Another unverified sign-up with it is refused, as before.
    let other = NewUser {
        email: Email::new("alice@example.com").unwrap(),
        ..new_user("trudy")
    };
    assert!(matches!(
        store.upsert_from_identity(&other, &quota).await,
        Err(StoreError::Duplicate { field }) if field == "email"
    ));
    // The owner, verified, signs in: the address is hers.
    let owner = NewUser {
        email: Email::new("alice@example.com").unwrap(),
        email_verified: true,
        ..new_user("alice")
    };
    let alice = store.upsert_from_identity(&owner, &quota).await.unwrap();
    assert!(alice.created);
    assert_eq!(alice.user.email.as_str(), "alice@example.com");
    let released = store
        .find_by_id(mallory.id)
        .await
        .unwrap()
        .expect("mallory's account is still there");
    assert_eq!(
        released.email.as_str(),
        format!("released-{}@released.invalid", mallory.id.0)
    );
    assert!(!released.email_verified);
    // mallory's next sign-in with the address is the refused one.
    assert!(matches!(
        store.upsert_from_identity(&squatter, &quota).await,
        Err(StoreError::Duplicate { field }) if field == "email"
    ));
    // A verified address is never taken.
    let thief = NewUser {
        email: Email::new("alice@example.com").unwrap(),
        email_verified: true,
        ..new_user("eve")
    };
    assert!(matches!(
        store.upsert_from_identity(&thief, &quota).await,
        Err(StoreError::Duplicate { field }) if field == "email"
    ));
}

#[tokio::test]
async fn a_billing_customer_is_linked_once_and_never_replaced() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    assert!(store.link_customer(&alice, "cus_a").await.unwrap());
    assert!(
        store.link_customer(&alice, "cus_a").await.unwrap(),
        "the same again"
    );
    assert!(!store.link_customer(&alice, "cus_b").await.unwrap());
    let user = UserStore::get(&store, &alice).await.unwrap();
    assert_eq!(
        user.subscription.stripe_customer_id.as_deref(),
        Some("cus_a")
    );
    assert_eq!(
        store
            .find_by_stripe_customer("cus_a")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.user_id)
    );
}

#[tokio::test]
async fn a_uid_with_quotes_and_backslashes_is_entered_as_itself() {
    // The session's settings are sent as literals in the batch that opens each transaction.
    let (_db, store) = setup().await;
    let tricky = "o'brien\\'; SET ROLE postgres; --";
    let mut user = new_user("tricky");
    user.firebase_uid = FirebaseUid::new(tricky).unwrap();
    let created = store
        .upsert_from_identity(&user, &Quota::full(7, now()))
        .await
        .unwrap()
        .user;
    let plain = store
        .upsert_from_identity(&new_user("plain"), &Quota::full(10, now()))
        .await
        .unwrap()
        .user;
    let me = UserStore::get(&store, &created.tenant()).await.unwrap();
    assert_eq!(me.firebase_uid.as_str(), tricky);
    assert_eq!(
        QuotaStore::get(&store, &created.tenant())
            .await
            .unwrap()
            .monthly_post_quota,
        7
    );
    // Another tenant's claim does not reach the row.
    let crossed = Tenant::new(created.id, plain.firebase_uid.clone());
    assert!(matches!(
        UserStore::get(&store, &crossed).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn webhook_events_are_forgotten_after_a_month_and_a_customer_is_one_accounts() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let t1 = now();
    let pro = outcome(SubscriptionStatus::Active, "pro", t1, Some(100));
    assert_eq!(
        store
            .apply_event(&alice, "evt_old", None, &pro)
            .await
            .unwrap(),
        EventApplied::Applied
    );
    // The event was processed long ago (as the database's clock counts).
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(format!(
        "UPDATE processed_webhook_events SET processed_at = now() - interval '{} days' \
          WHERE event_id = 'evt_old'",
        multivio_postgres::WEBHOOK_EVENT_DAYS + 1
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
    }
    let later = outcome(
        SubscriptionStatus::Active,
        "pro",
        t1 + chrono::Duration::seconds(1),
        None,
    );
    store
        .apply_event(&alice, "evt_new", Some(t1), &later)
        .await
        .unwrap();
    let kept: Vec<Id> = diesel::sql_query(
        "SELECT event_id::text AS event_id FROM processed_webhook_events ORDER BY event_id",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let kept: Vec<String> = kept.into_iter().map(|r| r.event_id).collect();
    assert_eq!(kept, ["evt_new"], "the month-old event is forgotten");

    // Alice's customer (cus_1) cannot become Bob's too.
    assert_eq!(
        store.link_customer(&bob, "cus_1").await.unwrap_err(),
        StoreError::Duplicate {
            field: "stripe_customer_id".to_owned()
        }
    );
    assert!(store.link_customer(&bob, "cus_2").await.unwrap());
    assert_eq!(
        store
            .find_by_stripe_customer("cus_1")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.user_id)
    );
}

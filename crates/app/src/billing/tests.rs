use super::*;
use crate::testing::*;
use chrono::Duration;
use multivio_domain::contact::Email;
use multivio_domain::subscription::{SubscriptionSnapshot, SubscriptionStatus};
use multivio_domain::user::{AuthProvider, Profile};
use multivio_domain::{FirebaseUid, UserId};
use multivio_ports::billing::{
    BillingError, CheckoutLink, MockBillingGateway, MockBillingWebhooks,
};
use multivio_ports::users::{MockBillingStore, MockQuotaStore, MockUserStore};

fn user(sub: Subscription) -> User {
    User {
        id: UserId(1),
        firebase_uid: FirebaseUid::new("uid-1").unwrap(),
        email: Email::new("ada@example.com").unwrap(),
        email_verified: true,
        auth_provider: AuthProvider::email(),
        profile: Profile::default(),
        is_active: true,
        is_verified: false,
        subscription: sub,
        email_verification_sent_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn linked() -> Subscription {
    Subscription {
        stripe_customer_id: Some("cus_1".into()),
        ..Subscription::free()
    }
}

fn event(id: &str, secs: i64, status: SubscriptionStatus) -> BillingEvent {
    BillingEvent {
        id: id.into(),
        created: now() + Duration::seconds(secs),
        kind: BillingEventKind::SubscriptionChanged(SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status,
            plan: Some(PlanName::new("pro").unwrap()),
            current_period_start: Some(now()),
            current_period_end: Some(now() + Duration::days(30)),
        }),
    }
}

/// User 1's completed checkout, giving it the customer `customer`.
fn checkout_of_user_1(customer: &str) -> BillingEvent {
    BillingEvent {
        id: "evt_c".into(),
        created: now(),
        kind: BillingEventKind::CheckoutCompleted {
            user_id: Some(UserId(1)),
            customer_id: customer.into(),
            subscription_id: None,
        },
    }
}

struct Deps {
    users: MockUserStore,
    billing: MockBillingStore,
    quotas: MockQuotaStore,
    gateway: MockBillingGateway,
    webhooks: MockBillingWebhooks,
}

impl Deps {
    fn new() -> Self {
        Self {
            users: MockUserStore::new(),
            billing: MockBillingStore::new(),
            quotas: MockQuotaStore::new(),
            gateway: MockBillingGateway::new(),
            webhooks: MockBillingWebhooks::new(),
        }
    }

    fn build(self) -> BillingService {
        BillingService::new(
            BillingPorts {
                users: Arc::new(self.users),
                billing: Arc::new(self.billing),
                quotas: Arc::new(self.quotas),
                gateway: Arc::new(self.gateway),
                webhooks: Arc::new(self.webhooks),
                clock: clock(),
            },
            PlanCatalog::parse("pro=100").unwrap(),
        )
    }
}

#[tokio::test]
async fn an_activation_moves_the_user_to_the_plan_once() {
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(Some(user(linked()))));
    d.billing
        .expect_apply_event()
        .withf(|t, id, expected, out| {
            *t == tenant()
                && id == "evt_1"
                && expected.is_none()
                && out.monthly_post_quota == Some(100)
                && out
                    .subscription
                    .as_ref()
                    .is_some_and(|s| s.plan_name.as_str() == "pro")
                && out.history.is_some()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(EventApplied::Applied));
    d.billing
        .expect_apply_event()
        .returning(|_, _, _, _| Ok(EventApplied::AlreadyProcessed));
    let svc = d.build();
    let e = event("evt_1", 0, SubscriptionStatus::Active);
    assert_eq!(svc.apply_event(&e).await, Ok(BillingReport::Applied));
    assert_eq!(
        svc.apply_event(&e).await,
        Ok(BillingReport::AlreadyProcessed)
    );
}

#[tokio::test]
async fn an_out_of_order_event_changes_nothing_but_is_recorded() {
    let newer = Subscription {
        status: SubscriptionStatus::Canceled,
        last_event_at: Some(now() + Duration::seconds(100)),
        ..linked()
    };
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(move |_| Ok(Some(user(newer.clone()))));
    d.billing
        .expect_apply_event()
        .withf(|_, _, _, out| out.subscription.is_none() && out.monthly_post_quota.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(EventApplied::Applied));
    let svc = d.build();
    assert_eq!(
        svc.apply_event(&event("evt_old", 10, SubscriptionStatus::Active))
            .await,
        Ok(BillingReport::Applied)
    );
}

#[tokio::test]
async fn a_concurrent_billing_change_is_recomputed() {
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(Some(user(linked()))));
    d.users.expect_get().returning(|_| {
        Ok(user(Subscription {
            last_event_at: Some(now() + Duration::seconds(50)),
            ..linked()
        }))
    });
    let mut seq = mockall::Sequence::new();
    d.billing
        .expect_apply_event()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Err(StoreError::Conflict("last_event_at".into())));
    d.billing
        .expect_apply_event()
        .withf(|_, _, expected, out| expected.is_some() && out.subscription.is_none())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Ok(EventApplied::Applied));
    let r = d
        .build()
        .apply_event(&event("evt_2", 10, SubscriptionStatus::Active))
        .await;
    assert_eq!(r, Ok(BillingReport::Applied));
}

#[tokio::test]
async fn checkout_completion_finds_the_user_by_id_and_unknown_customers_are_ignored() {
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(None));
    d.users
        .expect_find_by_id()
        .withf(|id| *id == UserId(1))
        .returning(|_| Ok(Some(user(Subscription::free()))));
    d.billing
        .expect_apply_event()
        .withf(|_, _, _, out| {
            out.subscription
                .as_ref()
                .is_some_and(|s| s.stripe_customer_id.as_deref() == Some("cus_new"))
        })
        .times(1)
        .returning(|_, _, _, _| Ok(EventApplied::Applied));
    let svc = d.build();
    let checkout = checkout_of_user_1("cus_new");
    assert_eq!(svc.apply_event(&checkout).await, Ok(BillingReport::Applied));
    let stray = event("evt_x", 0, SubscriptionStatus::Active);
    assert!(matches!(
        svc.apply_event(&stray).await,
        Ok(BillingReport::Ignored(_))
    ));
}

#[tokio::test]
async fn an_event_that_can_never_apply_is_acknowledged_not_retried() {
    // A checkout giving this account a customer another account holds.
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(None));
    d.users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(Subscription::free()))));
    d.billing
        .expect_apply_event()
        .times(1)
        .returning(|_, _, _, _| {
            Err(StoreError::Duplicate {
                field: "stripe_customer_id".into(),
            })
        });
    let checkout = checkout_of_user_1("cus_other");
    assert_eq!(
        d.build().apply_event(&checkout).await,
        Ok(BillingReport::Ignored(
            "customer held by another account".into()
        ))
    );

    // The account deleted between finding it and applying the event.
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(Some(user(linked()))));
    d.billing
        .expect_apply_event()
        .times(1)
        .returning(|_, _, _, _| Err(StoreError::Conflict("a newer billing event".into())));
    d.users
        .expect_get()
        .returning(|_| Err(StoreError::NotFound));
    assert_eq!(
        d.build()
            .apply_event(&event("evt_d", 0, SubscriptionStatus::Active))
            .await,
        Ok(BillingReport::Ignored("account deleted".into()))
    );

    // Reading the account again failing is still the store's failure (retried).
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(Some(user(linked()))));
    d.billing
        .expect_apply_event()
        .returning(|_, _, _, _| Err(StoreError::Conflict("a newer billing event".into())));
    d.users
        .expect_get()
        .returning(|_| Err(StoreError::Unavailable("db down".into())));
    assert!(matches!(
        d.build()
            .apply_event(&event("evt_e", 0, SubscriptionStatus::Active))
            .await,
        Err(AppError::Unavailable(_))
    ));
}

#[tokio::test]
async fn apply_event_store_failure_is_unavailable() {
    let mut d = Deps::new();
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Err(StoreError::Unavailable("db down".into())));
    let r = d
        .build()
        .apply_event(&event("evt", 0, SubscriptionStatus::Active))
        .await;
    assert!(matches!(r, Err(AppError::Unavailable(_))));
}

#[tokio::test]
async fn checkout_only_for_paid_plans_of_the_catalog() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(linked())));
    d.gateway
        .expect_checkout_url()
        .withf(|r| {
            r.plan.as_str() == "pro"
                && r.customer_id.as_deref() == Some("cus_1")
                && r.user_id == UserId(1)
        })
        .times(1)
        .returning(|_| {
            Ok(CheckoutLink {
                url: "https://checkout.stripe.com/c/pay/cs_1".into(),
                customer_id: "cus_1".into(),
            })
        });
    // Already linked to that customer: nothing to record.
    d.billing.expect_link_customer().never();
    let svc = d.build();
    assert!(
        svc.checkout(&tenant(), "pro")
            .await
            .unwrap()
            .starts_with("https://checkout")
    );
    assert!(matches!(
        svc.checkout(&tenant(), "free").await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        svc.checkout(&tenant(), "platinum").await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        svc.checkout(&tenant(), "pro plan").await,
        Err(AppError::Invalid(_))
    ));
}

#[tokio::test]
async fn checkout_and_portal_failures() {
    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Ok(user(Subscription::free())));
    d.gateway
        .expect_checkout_url()
        .returning(|_| Err(BillingError::NotConfigured));
    let svc = d.build();
    assert!(matches!(
        svc.checkout(&tenant(), "pro").await,
        Err(AppError::NotConfigured(_))
    ));
    assert!(matches!(
        svc.portal(&tenant()).await,
        Err(AppError::Conflict(_))
    ));

    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Err(StoreError::NotFound));
    assert_eq!(
        d.build().portal(&tenant()).await,
        Err(AppError::NotFound("user"))
    );
}

#[tokio::test]
async fn portal_and_subscription_view() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(linked())));
    d.gateway
        .expect_portal_url()
        .withf(|c| c == "cus_1")
        .returning(|_| Ok("https://billing.stripe.com/p/1".into()));
    d.quotas.expect_get().returning(|_| {
        Ok(Quota {
            monthly_post_quota: 10,
            remaining_posts: 4,
            last_quota_reset: now(),
            anchor: now(),
        })
    });
    d.billing.expect_history().returning(|_| Ok(vec![]));
    let svc = d.build();
    assert!(svc.portal(&tenant()).await.is_ok());
    let view = svc.subscription(&tenant()).await.unwrap();
    assert_eq!(view.quota.remaining_posts, 4);
    assert_eq!(
        view.subscription.stripe_customer_id.as_deref(),
        Some("cus_1")
    );
}

#[tokio::test]
async fn a_webhook_that_is_not_verified_is_refused_and_applies_nothing() {
    let mut d = Deps::new();
    d.webhooks
        .expect_read()
        .withf(|payload, signature, at| {
            payload == b"{}" && *signature == Some("t=1,v1=00") && *at == now()
        })
        .times(1)
        .returning(|_, _, _| {
            Err(WebhookRejection::Unverified(
                "no v1 signature matches".into(),
            ))
        });
    d.billing.expect_apply_event().never();
    d.users.expect_find_by_stripe_customer().never();
    let err = d
        .build()
        .receive_webhook(b"{}", Some("t=1,v1=00"))
        .await
        .unwrap_err();
    assert_eq!(err, AppError::Unverified("no v1 signature matches".into()));
}

#[tokio::test]
async fn webhooks_not_configured_say_so() {
    let mut d = Deps::new();
    d.webhooks
        .expect_read()
        .returning(|_, _, _| Err(WebhookRejection::NotConfigured));
    assert!(matches!(
        d.build().receive_webhook(b"{}", None).await,
        Err(AppError::NotConfigured(_))
    ));
}

#[tokio::test]
async fn a_genuine_event_with_nothing_to_apply_is_acknowledged() {
    let mut d = Deps::new();
    d.webhooks.expect_read().returning(|_, _, _| {
        Ok(WebhookDelivery::Ignore {
            id: "evt_9".into(),
            kind: "invoice.payment_failed".into(),
        })
    });
    d.billing.expect_apply_event().never();
    assert_eq!(
        d.build().receive_webhook(b"{}", Some("sig")).await.unwrap(),
        BillingReport::Ignored("invoice.payment_failed".into())
    );
}

#[tokio::test]
async fn a_verified_event_is_applied() {
    let mut d = Deps::new();
    d.webhooks.expect_read().returning(|_, _, _| {
        Ok(WebhookDelivery::Apply(event(
            "evt_1",
            0,
            SubscriptionStatus::Active,
        )))
    });
    d.users
        .expect_find_by_stripe_customer()
        .returning(|_| Ok(Some(user(linked()))));
    d.billing
        .expect_apply_event()
        .withf(|_, id, _, _| id == "evt_1")
        .times(1)
        .returning(|_, _, _, _| Ok(EventApplied::Applied));
    assert_eq!(
        d.build().receive_webhook(b"{}", Some("sig")).await.unwrap(),
        BillingReport::Applied
    );
}

#[tokio::test]
async fn a_first_checkout_records_its_new_customer_at_once() {
    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Ok(user(Subscription::free())));
    d.gateway.expect_checkout_url().returning(|_| {
        Ok(CheckoutLink {
            url: "https://checkout.stripe.com/c/pay/cs_2".into(),
            customer_id: "cus_new".into(),
        })
    });
    d.billing
        .expect_link_customer()
        .withf(|t, c| *t == tenant() && c == "cus_new")
        .times(1)
        .returning(|_, _| Ok(true));
    assert_eq!(
        d.build().checkout(&tenant(), "pro").await.unwrap(),
        "https://checkout.stripe.com/c/pay/cs_2"
    );
    // Another customer got linked meanwhile: no page for this one.
    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Ok(user(Subscription::free())));
    d.gateway.expect_checkout_url().returning(|_| {
        Ok(CheckoutLink {
            url: "https://checkout.stripe.com/c/pay/cs_3".into(),
            customer_id: "cus_other".into(),
        })
    });
    d.billing.expect_link_customer().returning(|_, _| Ok(false));
    assert!(matches!(
        d.build().checkout(&tenant(), "pro").await,
        Err(AppError::Conflict(_))
    ));
}

#[tokio::test]
async fn no_second_checkout_while_a_paid_plan_is_in_force() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| {
        Ok(user(Subscription {
            plan_name: PlanName::new("pro").unwrap(),
            status: SubscriptionStatus::Active,
            subscription_id: Some("sub_1".into()),
            ..linked()
        }))
    });
    d.gateway.expect_checkout_url().never();
    assert!(matches!(
        d.build().checkout(&tenant(), "pro").await,
        Err(AppError::Conflict(m)) if m.contains("billing portal")
    ));
}

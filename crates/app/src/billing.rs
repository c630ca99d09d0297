//! Billing: Stripe events, checkout and portal links, the subscription view.

use std::sync::Arc;

use multivio_domain::Tenant;
use multivio_domain::quota::{PlanCatalog, PlanName, Quota};
use multivio_domain::subscription::{
    BillingEvent, BillingEventKind, Subscription, SubscriptionHistoryEntry, apply_billing_event,
};
use multivio_domain::user::User;
use multivio_ports::StoreError;
use multivio_ports::billing::{BillingGateway, CheckoutRequest};
use multivio_ports::system::Clock;
use multivio_ports::users::{BillingStore, EventApplied, QuotaStore, UserStore};

use crate::error::{AppError, AppResult};
use crate::quota::QuotaService;

/// What became of a billing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingReport {
    /// Its effects were written.
    Applied,
    /// Already processed before: nothing changed.
    AlreadyProcessed,
    /// Not about one of our users (nothing recorded, so a later delivery can still apply).
    Ignored(String),
}

/// `GET /v1/subscription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// Plan, status, end date.
    pub subscription: Subscription,
    /// Current quota.
    pub quota: Quota,
    /// History, newest first.
    pub history: Vec<SubscriptionHistoryEntry>,
}

/// The ports [`BillingService`] uses.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct BillingPorts {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Billing state.
    pub billing: Arc<dyn BillingStore>,
    /// Quota.
    pub quotas: Arc<dyn QuotaStore>,
    /// Stripe.
    pub gateway: Arc<dyn BillingGateway>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Billing use cases.
#[derive(Clone)]
pub struct BillingService {
    users: Arc<dyn UserStore>,
    billing: Arc<dyn BillingStore>,
    gateway: Arc<dyn BillingGateway>,
    quota: QuotaService,
    catalog: PlanCatalog,
}

impl std::fmt::Debug for BillingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingService")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

impl BillingService {
    /// The service.
    pub fn new(ports: BillingPorts, catalog: PlanCatalog) -> Self {
        Self {
            quota: QuotaService::new(ports.quotas, ports.clock),
            users: ports.users,
            billing: ports.billing,
            gateway: ports.gateway,
            catalog,
        }
    }

    async fn owner(&self, event: &BillingEvent) -> AppResult<Option<User>> {
        if let Some(user) = self
            .users
            .find_by_stripe_customer(event.customer_id())
            .await?
        {
            return Ok(Some(user));
        }
        match &event.kind {
            BillingEventKind::CheckoutCompleted {
                user_id: Some(id), ..
            } => Ok(self.users.find_by_id(*id).await?),
            _ => Ok(None),
        }
    }

    /// Use case *apply a billing event* (already signature-checked and parsed): finds the user
    /// by Stripe customer (or, for a checkout, by the user id it carries), computes the new
    /// subscription, quota and history entry, and writes them with the event id in one
    /// transaction — once per event id, newest state winning over out-of-order events.
    pub async fn apply_event(&self, event: &BillingEvent) -> AppResult<BillingReport> {
        let Some(mut user) = self.owner(event).await? else {
            tracing::info!(event = %event.id, "billing event for an unknown customer ignored");
            return Ok(BillingReport::Ignored("unknown customer".to_owned()));
        };
        let tenant = user.tenant();
        for _ in 0..3 {
            let outcome =
                apply_billing_event(&user.subscription, event, &self.catalog, &user.email);
            match self
                .billing
                .apply_event(
                    &tenant,
                    &event.id,
                    user.subscription.last_event_at,
                    &outcome,
                )
                .await
            {
                Ok(EventApplied::Applied) => {
                    tracing::info!(event = %event.id, user = %user.id, "billing event applied");
                    return Ok(BillingReport::Applied);
                }
                Ok(EventApplied::AlreadyProcessed) => return Ok(BillingReport::AlreadyProcessed),
                Err(StoreError::Conflict(_)) => {
                    user = self
                        .users
                        .get(&tenant)
                        .await
                        .map_err(|e| AppError::from_store("user", e))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict("billing state kept changing".to_owned()))
    }

    /// A checkout link for a paid plan of the catalog.
    pub async fn checkout(&self, tenant: &Tenant, plan: &str) -> AppResult<String> {
        let name = PlanName::new(plan).map_err(|e| AppError::Invalid(vec![e]))?;
        if name.is_free() || self.catalog.get(&name).is_none() {
            return Err(AppError::invalid(
                "plan",
                format!("no paid plan named {name}"),
            ));
        }
        let user = self
            .users
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))?;
        let request = CheckoutRequest {
            user_id: user.id,
            email: user.email.clone(),
            customer_id: user.subscription.stripe_customer_id.clone(),
            plan: name,
        };
        Ok(self.gateway.checkout_url(&request).await?)
    }

    /// A customer-portal link (only once the user has a Stripe customer).
    pub async fn portal(&self, tenant: &Tenant) -> AppResult<String> {
        let user = self
            .users
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))?;
        let customer = user.subscription.stripe_customer_id.ok_or_else(|| {
            AppError::Conflict("no billing account yet; subscribe first".to_owned())
        })?;
        Ok(self.gateway.portal_url(&customer).await?)
    }

    /// Plan, status, quota and history.
    pub async fn subscription(&self, tenant: &Tenant) -> AppResult<SubscriptionView> {
        let user = self
            .users
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))?;
        let quota = self.quota.current(tenant).await?;
        let history = self.billing.history(tenant).await?;
        Ok(SubscriptionView {
            subscription: user.subscription,
            quota,
            history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use chrono::Duration;
    use multivio_domain::contact::Email;
    use multivio_domain::subscription::{SubscriptionSnapshot, SubscriptionStatus};
    use multivio_domain::user::{AuthProvider, Profile};
    use multivio_domain::{FirebaseUid, UserId};
    use multivio_ports::billing::{BillingError, MockBillingGateway};
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

    struct Deps {
        users: MockUserStore,
        billing: MockBillingStore,
        quotas: MockQuotaStore,
        gateway: MockBillingGateway,
    }

    impl Deps {
        fn new() -> Self {
            Self {
                users: MockUserStore::new(),
                billing: MockBillingStore::new(),
                quotas: MockQuotaStore::new(),
                gateway: MockBillingGateway::new(),
            }
        }

        fn build(self) -> BillingService {
            BillingService::new(
                BillingPorts {
                    users: Arc::new(self.users),
                    billing: Arc::new(self.billing),
                    quotas: Arc::new(self.quotas),
                    gateway: Arc::new(self.gateway),
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
        let checkout = BillingEvent {
            id: "evt_c".into(),
            created: now(),
            kind: BillingEventKind::CheckoutCompleted {
                user_id: Some(UserId(1)),
                customer_id: "cus_new".into(),
                subscription_id: None,
            },
        };
        assert_eq!(svc.apply_event(&checkout).await, Ok(BillingReport::Applied));
        let stray = event("evt_x", 0, SubscriptionStatus::Active);
        assert!(matches!(
            svc.apply_event(&stray).await,
            Ok(BillingReport::Ignored(_))
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
            .returning(|_| Ok("https://checkout.stripe.com/c/pay/cs_1".into()));
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
}

//! Billing: Stripe events, checkout and portal links, the subscription view.

use std::sync::Arc;

use multivio_domain::Tenant;
use multivio_domain::quota::{PlanCatalog, PlanName, Quota};
use multivio_domain::subscription::{
    BillingEvent, BillingEventKind, Subscription, SubscriptionHistoryEntry, apply_billing_event,
};
use multivio_domain::user::User;
use multivio_ports::StoreError;
use multivio_ports::billing::{
    BillingGateway, BillingWebhooks, CheckoutRequest, WebhookDelivery, WebhookRejection,
};
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
    /// Stripe's webhook deliveries.
    pub webhooks: Arc<dyn BillingWebhooks>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Billing use cases.
#[derive(Clone)]
pub struct BillingService {
    users: Arc<dyn UserStore>,
    billing: Arc<dyn BillingStore>,
    gateway: Arc<dyn BillingGateway>,
    webhooks: Arc<dyn BillingWebhooks>,
    clock: Arc<dyn Clock>,
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
            quota: QuotaService::new(ports.quotas, ports.clock.clone()),
            users: ports.users,
            billing: ports.billing,
            gateway: ports.gateway,
            webhooks: ports.webhooks,
            clock: ports.clock,
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
                Err(StoreError::Conflict(_)) => match self.users.get(&tenant).await {
                    Ok(current) => user = current,
                    // Deleted meanwhile: nothing left to apply it to, however often delivered.
                    Err(StoreError::NotFound) => {
                        tracing::info!(event = %event.id, user = %user.id, "billing event for an account deleted meanwhile ignored");
                        return Ok(BillingReport::Ignored("account deleted".to_owned()));
                    }
                    Err(e) => return Err(AppError::from_store("user", e)),
                },
                // The event gives this account a customer another account holds: no delivery
                // will ever apply, so it is acknowledged (the provider would retry it for days)
                // and left to an operator.
                Err(StoreError::Duplicate { field }) if field == "stripe_customer_id" => {
                    tracing::error!(event = %event.id, user = %user.id, %field, "billing event names a customer another account holds; not applied");
                    return Ok(BillingReport::Ignored(
                        "customer held by another account".to_owned(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict("billing state kept changing".to_owned()))
    }

    /// Use case *receive a billing webhook*: verifies the delivery (`payload` as received,
    /// `signature` from its header) and applies the event it carries. A delivery that cannot be
    /// verified or read is refused and changes nothing (the provider delivers it again); a
    /// genuine event with nothing to apply is acknowledged. A store failure is an error, so
    /// the provider retries.
    pub async fn receive_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> AppResult<BillingReport> {
        let delivery = self
            .webhooks
            .read(payload, signature, self.clock.now())
            .map_err(|e| match e {
                WebhookRejection::NotConfigured => {
                    AppError::NotConfigured("billing webhooks".to_owned())
                }
                WebhookRejection::Unverified(reason) => {
                    tracing::warn!(%reason, "billing webhook refused");
                    AppError::Unverified(reason)
                }
                WebhookRejection::Unreadable(reason) => {
                    tracing::error!(%reason, "genuine billing webhook that cannot be read");
                    AppError::Unverified(reason)
                }
            })?;
        match delivery {
            WebhookDelivery::Apply(event) => self.apply_event(&event).await,
            WebhookDelivery::Ignore { id, kind } => {
                tracing::debug!(event = %id, %kind, "billing webhook with nothing to apply");
                Ok(BillingReport::Ignored(kind))
            }
        }
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
        // One subscription at a time: a second would bill twice, and its events would fight
        // the first's. Plan changes go through the portal. This is the check on what we know;
        // the gateway makes the provider's own (`BillingError::AlreadySubscribed`: a
        // subscription there that has not ended, its events not here yet, or one unpaid or
        // paused) and takes back the customer's older checkout links.
        if user.subscription.status.grants_plan() && !user.subscription.plan_name.is_free() {
            return Err(AppError::Conflict(format!(
                "already subscribed to {}: change or cancel the plan in the billing portal",
                user.subscription.plan_name
            )));
        }
        let request = CheckoutRequest {
            user_id: user.id,
            email: user.email.clone(),
            customer_id: user.subscription.stripe_customer_id.clone(),
            plan: name,
        };
        let link = self.gateway.checkout_url(&request).await?;
        // The customer is ours from now on, so the subscription's events find this user in
        // whatever order Stripe delivers them.
        if user.subscription.stripe_customer_id.as_deref() != Some(link.customer_id.as_str())
            && !self
                .billing
                .link_customer(tenant, &link.customer_id)
                .await?
        {
            return Err(AppError::Conflict(
                "another billing account is linked to this user".to_owned(),
            ));
        }
        Ok(link.url)
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
mod tests;

//! The payment provider (Stripe) as seen from the core.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::UserId;
use multivio_domain::contact::Email;
use multivio_domain::quota::PlanName;
use multivio_domain::subscription::BillingEvent;

/// Why a billing call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// Billing is not configured in this deployment.
    #[error("billing is not configured")]
    NotConfigured,
    /// The plan has no price configured.
    #[error("plan {0} is not for sale")]
    UnknownPlan(String),
    /// The provider refused or failed.
    #[error("billing provider unavailable: {0}")]
    Unavailable(String),
    /// The customer already holds a subscription at the provider (one that has not ended):
    /// a second checkout would bill twice.
    #[error("already subscribed")]
    AlreadySubscribed,
}

/// What a checkout session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our user (sent as `client_reference_id`).
    pub user_id: UserId,
    /// The customer's email.
    pub email: Email,
    /// Existing Stripe customer, if any.
    pub customer_id: Option<String>,
    /// The plan to buy.
    pub plan: PlanName,
}

/// A hosted checkout page, and the provider's customer it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLink {
    /// Where to send the customer.
    pub url: String,
    /// The provider's customer (created for this checkout when the user had none): recorded
    /// at once, so the subscription's events find the user whatever order they arrive in.
    pub customer_id: String,
}

/// Checkout and self-service portal links.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait BillingGateway: Send + Sync {
    /// A hosted checkout page: the only one of the customer's that can still be paid; refused
    /// with [`BillingError::AlreadySubscribed`] while the provider holds a subscription of the
    /// customer that has not ended.
    async fn checkout_url(&self, request: &CheckoutRequest) -> Result<CheckoutLink, BillingError>;
    /// A customer portal URL.
    async fn portal_url(&self, customer_id: &str) -> Result<String, BillingError>;
}

/// Why a webhook delivery is refused (nothing is applied; the provider delivers it again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    /// Billing webhooks are not configured in this deployment.
    #[error("billing webhooks are not configured")]
    NotConfigured,
    /// The signature is missing, malformed, expired or does not match: not provably from the
    /// provider. The reason is safe to show.
    #[error("signature not accepted: {0}")]
    Unverified(String),
    /// Genuine, but not an event that can be read (the reason is safe to show).
    #[error("unreadable event: {0}")]
    Unreadable(String),
}

/// A verified webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookDelivery {
    /// An event the core applies.
    Apply(BillingEvent),
    /// A genuine event with nothing to apply (another type, or one whose effect arrives with
    /// another event).
    Ignore {
        /// The provider's event id.
        id: String,
        /// Its type.
        kind: String,
    },
}

/// Verifies and reads the payment provider's webhook deliveries. The payload is the body's
/// bytes exactly as received: the signature is over them.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait BillingWebhooks: Send + Sync {
    /// Reads a delivery signed with `signature` (the signature header's value, if any),
    /// checking the signature's time against `now`.
    // The named lifetime is for mockall, which cannot mock an elided one inside an `Option`.
    #[allow(clippy::needless_lifetimes)]
    fn read<'a>(
        &self,
        payload: &[u8],
        signature: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, WebhookRejection>;
}

//! The payment provider (Stripe) as seen from the core.

use async_trait::async_trait;
use multivio_domain::UserId;
use multivio_domain::contact::Email;
use multivio_domain::quota::PlanName;

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

/// Checkout and self-service portal links.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait BillingGateway: Send + Sync {
    /// A hosted checkout URL.
    async fn checkout_url(&self, request: &CheckoutRequest) -> Result<String, BillingError>;
    /// A customer portal URL.
    async fn portal_url(&self, customer_id: &str) -> Result<String, BillingError>;
}

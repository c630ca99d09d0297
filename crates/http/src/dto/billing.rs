//! `/v1/subscription` and `/v1/billing`: the plan, its history and checkout.

use chrono::{DateTime, Utc};
use multivio_app::billing::SubscriptionView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::QuotaDto;

/// Plan, status, quota and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    /// Plan name.
    pub plan: String,
    /// Status.
    pub status: String,
    /// End of the paid period.
    pub end_date: Option<DateTime<Utc>>,
    /// The quota.
    pub quota: QuotaDto,
    /// Payments and changes, newest first.
    pub history: Vec<HistoryDto>,
}

/// A billing history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryDto {
    /// Plan.
    pub plan_name: Option<String>,
    /// Status, or `paid`.
    pub status: String,
    /// Amount in the currency's minor unit.
    pub amount_paid: Option<i64>,
    /// Currency.
    pub currency: Option<String>,
    /// Period start.
    pub period_start: Option<DateTime<Utc>>,
    /// Period end.
    pub period_end: Option<DateTime<Utc>>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&SubscriptionView> for SubscriptionDto {
    fn from(v: &SubscriptionView) -> Self {
        Self {
            plan: v.subscription.plan_name.as_str().to_owned(),
            status: v.subscription.status.as_str().to_owned(),
            end_date: v.subscription.end_date,
            quota: (&v.quota).into(),
            history: v
                .history
                .iter()
                .map(|h| HistoryDto {
                    plan_name: h.plan_name.as_ref().map(|p| p.as_str().to_owned()),
                    status: h.status.clone(),
                    amount_paid: h.amount_paid,
                    currency: h.currency.clone(),
                    period_start: h.period_start,
                    period_end: h.period_end,
                    created_at: h.created_at,
                })
                .collect(),
        }
    }
}

/// A plan to buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// A paid plan this deployment sells (`MULTIVIO_STRIPE_PRICES`), e.g. `pro`.
    pub plan: String,
}

/// A webhook delivery's acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// Always `true`.
    pub received: bool,
    /// `applied`, `already_processed` (a repeated delivery) or `ignored` (nothing to apply).
    pub outcome: String,
}

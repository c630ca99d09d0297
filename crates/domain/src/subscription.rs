//! Subscriptions mirrored from Stripe, and how billing events change them.
//!
//! Stripe delivers events at least once and in any order. [`apply_billing_event`] is the pure
//! rule: it keeps the newest state (comparing the events' `created`), maps the plan to its
//! monthly quota, says when a paid invoice starts a new quota period, and produces the
//! `subscription_history` entry to write. [`BillingOutcome::quota_after`] is what it does to
//! the quota (an upgrade at once, a downgrade at the period's end). Processing each event id
//! once is the store's job (see the ports crate).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::Email;
use crate::error::FieldError;
use crate::quota::{PlanCatalog, PlanName, QuotaState};

/// Subscription status (`users.subscription_status`): `free` (the seed's default, no
/// subscription) or one of Stripe's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// No paid subscription.
    Free,
    /// Paid and current.
    Active,
    /// In a trial.
    Trialing,
    /// A payment failed; Stripe is retrying.
    PastDue,
    /// Ended.
    Canceled,
    /// Payment retries exhausted.
    Unpaid,
    /// First payment pending.
    Incomplete,
    /// First payment never completed.
    IncompleteExpired,
    /// Paused (trial ended without a payment method).
    Paused,
}

impl SubscriptionStatus {
    /// Whether the subscription's plan applies (active, trialing, or past due while Stripe
    /// retries the payment).
    pub fn grants_plan(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue)
    }

    /// How far along a subscription's life the status is, for ordering two states of the same
    /// second: created incomplete or trialing, then active, then failing payments, then
    /// ended.
    pub fn life_stage(self) -> u8 {
        match self {
            Self::Free | Self::Incomplete => 0,
            Self::Trialing => 1,
            Self::Active => 2,
            Self::PastDue | Self::Paused => 3,
            Self::Unpaid => 4,
            Self::Canceled | Self::IncompleteExpired => 5,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubscriptionStatus {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "free" => Self::Free,
            "active" => Self::Active,
            "trialing" => Self::Trialing,
            "past_due" => Self::PastDue,
            "canceled" | "cancelled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "paused" => Self::Paused,
            other => {
                return Err(FieldError::new(
                    "subscription_status",
                    format!("unknown status `{other}`"),
                ));
            }
        })
    }
}

/// A user's billing state (`users.stripe_customer_id`, `subscription_status`, `subscription_id`,
/// `plan_name`, `subscription_end_date`, mirrored in `user_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The plan in force.
    pub plan_name: PlanName,
    /// Status.
    pub status: SubscriptionStatus,
    /// Stripe customer (`cus_…`).
    pub stripe_customer_id: Option<String>,
    /// Stripe subscription (`sub_…`).
    pub subscription_id: Option<String>,
    /// End of the paid period (or when it ended).
    pub end_date: Option<DateTime<Utc>>,
    /// `created` of the newest subscription event applied; older events are ignored.
    pub last_event_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// The state of a user without a subscription.
    pub fn free() -> Self {
        Self {
            plan_name: PlanName::free(),
            status: SubscriptionStatus::Free,
            stripe_customer_id: None,
            subscription_id: None,
            end_date: None,
            last_event_at: None,
        }
    }

    /// Whether a subscription exists that has not ended: one that bills, or may yet (unpaid,
    /// paused or incomplete ones can come back to life when paid). An account with one is not
    /// deleted.
    pub fn is_open(&self) -> bool {
        self.subscription_id.is_some()
            && !matches!(
                self.status,
                SubscriptionStatus::Free
                    | SubscriptionStatus::Canceled
                    | SubscriptionStatus::IncompleteExpired
            )
    }
}

/// A `subscription_history` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionHistoryEntry {
    /// Whose (the seed keys history by email).
    pub user_email: Email,
    /// Stripe subscription.
    pub stripe_subscription_id: Option<String>,
    /// Plan.
    pub plan_name: Option<PlanName>,
    /// Status, or `paid` for an invoice.
    pub status: String,
    /// Amount paid in the currency's minor unit (cents).
    pub amount_paid: Option<i64>,
    /// ISO currency code, lower case.
    pub currency: Option<String>,
    /// Period start.
    pub period_start: Option<DateTime<Utc>>,
    /// Period end.
    pub period_end: Option<DateTime<Utc>>,
    /// Stripe customer.
    pub stripe_customer_id: Option<String>,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

/// The state of a Stripe subscription as an event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSnapshot {
    /// Stripe subscription (`sub_…`).
    pub subscription_id: String,
    /// Stripe customer (`cus_…`).
    pub customer_id: String,
    /// Status.
    pub status: SubscriptionStatus,
    /// The plan its price maps to (the adapter reads it from the price's lookup key or
    /// metadata); `None` when the price is not one of ours.
    pub plan: Option<PlanName>,
    /// Current period start.
    pub current_period_start: Option<DateTime<Utc>>,
    /// Current period end (or when it ended).
    pub current_period_end: Option<DateTime<Utc>>,
}

/// A billing event, already verified and parsed by the billing adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEventKind {
    /// `checkout.session.completed`: links the Stripe customer to the user.
    CheckoutCompleted {
        /// Our user, from the session's `client_reference_id` (set when the checkout was
        /// created), used when the customer is not linked yet.
        user_id: Option<crate::ids::UserId>,
        /// Stripe customer.
        customer_id: String,
        /// Subscription created by the checkout, if any.
        subscription_id: Option<String>,
    },
    /// `customer.subscription.created` / `.updated`.
    SubscriptionChanged(SubscriptionSnapshot),
    /// `customer.subscription.deleted`.
    SubscriptionDeleted(SubscriptionSnapshot),
    /// `invoice.paid`.
    InvoicePaid {
        /// Stripe customer.
        customer_id: String,
        /// Subscription billed.
        subscription_id: Option<String>,
        /// Amount in minor units.
        amount_paid: i64,
        /// Currency, lower case.
        currency: String,
        /// Billed period start.
        period_start: Option<DateTime<Utc>>,
        /// Billed period end.
        period_end: Option<DateTime<Utc>>,
        /// Plan billed, when known.
        plan: Option<PlanName>,
        /// Why it was billed (Stripe's `billing_reason`): only a subscription's first invoice
        /// (`subscription_create`) and its renewals (`subscription_cycle`) start a quota
        /// period; a proration, a plan change billed at once or a one-off invoice does not.
        billing_reason: Option<String>,
    },
}

/// The invoices that start a new quota period (see [`BillingEventKind::InvoicePaid`]).
pub const PERIOD_INVOICES: [&str; 2] = ["subscription_create", "subscription_cycle"];

/// A billing event: Stripe's event id (each processed once), when Stripe created it, and what
/// it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    /// `evt_…`.
    pub id: String,
    /// The event's `created`.
    pub created: DateTime<Utc>,
    /// Payload.
    pub kind: BillingEventKind,
}

impl BillingEvent {
    /// The Stripe customer the event is about.
    pub fn customer_id(&self) -> &str {
        match &self.kind {
            BillingEventKind::CheckoutCompleted { customer_id, .. }
            | BillingEventKind::InvoicePaid { customer_id, .. } => customer_id,
            BillingEventKind::SubscriptionChanged(s) | BillingEventKind::SubscriptionDeleted(s) => {
                &s.customer_id
            }
        }
    }
}

/// What applying a billing event changes. Everything in it is written in one transaction,
/// together with the event id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingOutcome {
    /// The new subscription state, or `None` when the event changes nothing (stale or
    /// informational).
    pub subscription: Option<Subscription>,
    /// The new plan's monthly quota when the plan changed: an upgrade takes effect at once
    /// (keeping the posts already used: see [`crate::quota::Quota::change_plan`]), a downgrade
    /// when the current period ends, unless the period was not paid for at that quota (see
    /// [`QuotaState::change_plan_quota`]).
    pub monthly_post_quota: Option<u32>,
    /// The plan change applies at once, a downgrade too: the subscription ended unpaid
    /// (payment retries exhausted, a trial or first payment never paid), so nothing paid for
    /// the rest of the period ([`QuotaState::change_plan_now`]).
    pub quota_change_now: bool,
    /// When the subscription ended (a deletion): a plan change it causes applies at once when
    /// that was at or before the current quota period's start — the reset started the period
    /// first, and nothing paid for it — or, for one that ran to its period's end
    /// ([`Self::ran_to_end`]), up to [`crate::quota::PERIOD_DRIFT`] after it.
    pub ended_at: Option<DateTime<Utc>>,
    /// The deletion came at the end of the period last known (cancelled at the period's end),
    /// not in its middle.
    pub ran_to_end: bool,
    /// `invoice.paid`: a new quota period starting then (the invoice's period start, else the
    /// event's time), with the full quota of the invoice's plan or of the plan in force, the
    /// higher — if later than the current period's start; an invoice of the current period's
    /// start sets that period to its plan instead (see [`QuotaState::start_paid_period`]).
    pub quota_period_start: Option<DateTime<Utc>>,
    /// The monthly quota of the plan the invoice starting [`Self::quota_period_start`] paid
    /// for, when its plan is known.
    pub paid_monthly_post_quota: Option<u32>,
    /// The history row to add.
    pub history: Option<SubscriptionHistoryEntry>,
}

impl BillingOutcome {
    /// Whether the outcome touches the quota at all.
    pub fn changes_quota(&self) -> bool {
        self.monthly_post_quota.is_some() || self.quota_period_start.is_some()
    }

    /// The quota once this outcome is applied to `state`: the plan change first, then the paid
    /// period. The store applies it to the row it holds locked.
    pub fn quota_after(&self, state: &QuotaState) -> QuotaState {
        let mut next = *state;
        if let Some(monthly) = self.monthly_post_quota {
            let begun = state.quota.last_quota_reset;
            let ended_before = self.ended_at.is_some_and(|end| {
                end <= begun || (self.ran_to_end && end <= begun + crate::quota::PERIOD_DRIFT)
            });
            next = if self.quota_change_now || ended_before {
                next.change_plan_now(monthly)
            } else {
                next.change_plan_quota(monthly)
            };
        }
        if let Some(start) = self.quota_period_start {
            next = next.start_paid_period(start, self.paid_monthly_post_quota);
        }
        next
    }
}

/// Applies a billing event to a user's subscription.
///
/// - Subscription events older than the newest one applied (`created` before
///   `last_event_at`) change nothing; so does a same-second event after the subscription was
///   deleted. Equal timestamps otherwise apply in arrival order.
/// - A plan applies only while the status grants it (active, trialing, past due); otherwise the
///   user is on `free`. A price that maps to no plan of the catalog keeps the plan in force of
///   the same subscription, and gives a new one none.
/// - A plan change carries the new plan's monthly quota (an upgrade applies at once; a
///   downgrade keeps what the period was paid for, or applies at once when the subscription
///   ended unpaid or before the period began: [`BillingOutcome::quota_after`]).
/// - Checkout links the Stripe customer; a paid invoice adds a history row and starts a new
///   quota period at its period start (or the event's time) with its plan's quota, sets the
///   current period to that plan when it is that period's start, and changes nothing when it
///   is earlier (an old invoice delivered late).
pub fn apply_billing_event(
    current: &Subscription,
    event: &BillingEvent,
    catalog: &PlanCatalog,
    user_email: &Email,
) -> BillingOutcome {
    let history =
        |status: String, sub: Option<String>, plan: Option<PlanName>| SubscriptionHistoryEntry {
            user_email: user_email.clone(),
            stripe_subscription_id: sub,
            plan_name: plan,
            status,
            amount_paid: None,
            currency: None,
            period_start: None,
            period_end: None,
            stripe_customer_id: Some(event.customer_id().to_owned()),
            created_at: event.created,
        };
    match &event.kind {
        BillingEventKind::CheckoutCompleted {
            customer_id,
            subscription_id,
            ..
        } => {
            // A customer once linked is never replaced: a checkout naming this user but paid
            // by another customer (a payment link with a forged reference) changes nothing.
            if current
                .stripe_customer_id
                .as_deref()
                .is_some_and(|linked| linked != customer_id)
            {
                return BillingOutcome::default();
            }
            let mut next = current.clone();
            next.stripe_customer_id = Some(customer_id.clone());
            if next.subscription_id.is_none() {
                next.subscription_id.clone_from(subscription_id);
            }
            BillingOutcome {
                subscription: (next != *current).then_some(next),
                ..BillingOutcome::default()
            }
        }
        BillingEventKind::InvoicePaid {
            subscription_id,
            amount_paid,
            currency,
            period_start,
            period_end,
            plan,
            billing_reason,
            ..
        } => BillingOutcome {
            quota_period_start: billing_reason
                .as_deref()
                .is_some_and(|r| PERIOD_INVOICES.contains(&r))
                .then(|| period_start.unwrap_or(event.created)),
            paid_monthly_post_quota: plan
                .as_ref()
                .and_then(|p| catalog.get(p))
                .map(|p| p.monthly_post_quota),
            history: Some(SubscriptionHistoryEntry {
                amount_paid: Some(*amount_paid),
                currency: Some(currency.to_ascii_lowercase()),
                period_start: *period_start,
                period_end: *period_end,
                ..history(
                    "paid".to_owned(),
                    subscription_id.clone(),
                    plan.clone().or_else(|| Some(current.plan_name.clone())),
                )
            }),
            ..BillingOutcome::default()
        },
        BillingEventKind::SubscriptionChanged(snap)
        | BillingEventKind::SubscriptionDeleted(snap) => {
            let deleted = matches!(event.kind, BillingEventKind::SubscriptionDeleted(_));
            let same_subscription =
                current.subscription_id.as_deref() == Some(snap.subscription_id.as_str());
            // While the user's subscription grants its plan, another subscription's events
            // (an old one ending, a second one) do not replace it.
            let another = current.subscription_id.is_some()
                && !same_subscription
                && current.status.grants_plan();
            let stale = another
                || match current.last_event_at {
                    Some(last) if event.created < last => true,
                    // Stripe's times are whole seconds: of two states of one subscription in
                    // the same second, the later in its life wins, whatever the arrival order.
                    Some(last) if event.created == last => {
                        let next = if deleted {
                            SubscriptionStatus::Canceled
                        } else {
                            snap.status
                        };
                        same_subscription && next.life_stage() < current.status.life_stage()
                    }
                    _ => false,
                };
            if stale {
                return BillingOutcome::default();
            }
            let status = if deleted {
                SubscriptionStatus::Canceled
            } else {
                snap.status
            };
            let plan = match snap.plan.as_ref().and_then(|p| catalog.get(p)) {
                _ if !status.grants_plan() => catalog.free(),
                Some(plan) => plan.clone(),
                // Sold at a price this server does not know (a former price, not configured
                // as one): the plan in force stays, rather than a paying subscriber's plan
                // taken away. A new subscription at an unknown price gets none.
                None if same_subscription && current.status.grants_plan() => {
                    catalog.get_or_free(&current.plan_name)
                }
                None => catalog.free(),
            };
            let next = Subscription {
                plan_name: plan.name.clone(),
                status,
                stripe_customer_id: Some(snap.customer_id.clone()),
                subscription_id: Some(snap.subscription_id.clone()),
                end_date: snap.current_period_end,
                last_event_at: Some(event.created),
            };
            let quota_changes = next.plan_name != current.plan_name;
            // Ended without being paid: nothing paid for the rest of the period.
            let unpaid = match status {
                SubscriptionStatus::Unpaid
                | SubscriptionStatus::IncompleteExpired
                | SubscriptionStatus::Paused => true,
                // Ended while failing to pay, or in a trial (nothing paid).
                SubscriptionStatus::Canceled => matches!(
                    current.status,
                    SubscriptionStatus::PastDue
                        | SubscriptionStatus::Unpaid
                        | SubscriptionStatus::Trialing
                ),
                _ => false,
            };
            BillingOutcome {
                subscription: Some(next),
                monthly_post_quota: quota_changes.then_some(plan.monthly_post_quota),
                quota_change_now: quota_changes && unpaid,
                ended_at: if deleted {
                    snap.current_period_end
                } else {
                    None
                },
                ran_to_end: deleted
                    && snap
                        .current_period_end
                        .zip(current.end_date)
                        .is_some_and(|(ended, end)| ended >= end),
                quota_period_start: None,
                paid_monthly_post_quota: None,
                history: Some(SubscriptionHistoryEntry {
                    period_start: snap.current_period_start,
                    period_end: snap.current_period_end,
                    ..history(
                        status.as_str().to_owned(),
                        Some(snap.subscription_id.clone()),
                        Some(plan.name),
                    )
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests;

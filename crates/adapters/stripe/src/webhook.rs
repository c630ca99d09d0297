//! Stripe's webhooks: the `Stripe-Signature` check, then the event read into the domain's
//! [`BillingEvent`].
//!
//! # The signature
//!
//! Stripe signs each delivery with the endpoint's secret (`whsec_…`) and sends
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. A `v1` is
//! HMAC-SHA256, keyed by the whole secret string, over `"<t>.<raw body>"`. A delivery is
//! genuine when any `v1` matches (there are several while a secret is being rolled), checked
//! with *ring*'s constant-time [`ring::hmac::verify`], and when `t` is within the tolerance
//! ([`DEFAULT_TOLERANCE_SECONDS`], either way) of now. `v0` and other schemes are ignored.
//!
//! The body must be verified as the bytes received: a body parsed and serialized again (keys
//! reordered, spaces changed) no longer matches. Each failure is its own [`WebhookError`]; no
//! input panics.
//!
//! The header is split by hand (a few lines of `split`), and the cryptography is *ring*'s: no
//! maintained crate does only this check (Stripe's Rust SDKs bring a whole API client), and the
//! split is tested against malformed, repeated and oversized values and the fixed vector of
//! docs/security.md.
//!
//! # The events
//!
//! | Stripe event | [`StripeEvent`] | domain [`BillingEventKind`] |
//! |---|---|---|
//! | `checkout.session.completed` (subscription mode) | `Billing` | `CheckoutCompleted` |
//! | `customer.subscription.created`, `.updated` | `Billing` | `SubscriptionChanged` |
//! | `customer.subscription.deleted` | `Billing` | `SubscriptionDeleted` |
//! | `invoice.paid` | `Billing` | `InvoicePaid` |
//! | `invoice.payment_failed` | `PaymentFailed` | none (see below) |
//! | anything else | `Ignored` | — |
//!
//! The domain has no kind for a failed payment. [`verify_and_parse`] answers `None` for it:
//! what it changes reaches the domain through the `customer.subscription.updated` Stripe sends
//! with it (status `past_due`, or `unpaid`/`canceled` once retries are exhausted).
//! [`StripeWebhooks::verify`] returns it as [`StripeEvent::PaymentFailed`] for a caller that
//! wants to tell the user.
//!
//! Plans come from the subscription's (or invoice line's) price id through the same
//! [`PriceMap`] checkouts are created with; a price not in it is `plan: None`.
//!
//! Both shapes of Stripe's objects are read: API versions from 2025-03-31 ("basil") put
//! `current_period_start/end` on the subscription's items and an invoice's subscription under
//! `parent.subscription_details`, its lines' price under `pricing.price_details`; older
//! versions have them on the subscription, as `invoice.subscription` and `lines.data[].price`.

use std::fmt;

use chrono::{DateTime, Utc};
use multivio_domain::quota::PlanName;
use multivio_domain::subscription::{
    BillingEvent, BillingEventKind, SubscriptionSnapshot, SubscriptionStatus,
};
use multivio_domain::{Secret, UserId};
use serde::Deserialize;

use multivio_ports::billing::{WebhookDelivery, WebhookRejection};

use crate::config::{ConfigError, PriceMap};

/// The header Stripe signs deliveries in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// How far (seconds, either way) a signature's time may be from now.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// The largest body read. Stripe's events are a few kilobytes; the HTTP layer should cap the
/// body before it gets here, this is the parser's own bound.
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024;

/// The longest `Stripe-Signature` header read.
const MAX_HEADER_BYTES: usize = 4096;

/// The most `v1` signatures tried (each costs an HMAC over the body; Stripe sends one, or two
/// while a secret is rolled).
const MAX_SIGNATURES: usize = 8;

/// The longest id kept (customers, subscriptions, events are short; the columns are 255).
const MAX_ID_LEN: usize = 255;

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No (or an empty) `Stripe-Signature` header.
    #[error("no Stripe-Signature header")]
    MissingHeader,
    /// The header cannot be read (no `t=`, a `t` that is not a number, not `key=value`, too
    /// long).
    #[error("malformed Stripe-Signature header: {0}")]
    MalformedHeader(String),
    /// The header has no `v1` signature (only `v0`, say).
    #[error("the Stripe-Signature header has no v1 signature, the only scheme accepted")]
    NoV1Signature,
    /// No `v1` matches: the endpoint secret is not the one Stripe signed with, or the body is
    /// not the bytes Stripe sent (parsed and serialized again, re-encoded, trimmed). The two
    /// cannot be told apart.
    #[error(
        "no v1 signature matches: the webhook secret is wrong, or the body was changed \
         (re-serialized, re-encoded) before it was verified"
    )]
    SignatureMismatch,
    /// The signature is older than the tolerance (a replay, or a delivery held too long).
    #[error("the signature is {age_seconds} s old; at most {tolerance_seconds} s is accepted")]
    Expired {
        /// How old.
        age_seconds: i64,
        /// The tolerance.
        tolerance_seconds: i64,
    },
    /// The signature is dated further in the future than the tolerance (a clock is wrong).
    #[error(
        "the signature is dated {ahead_seconds} s in the future; at most {tolerance_seconds} s \
         is accepted (is this server's clock right?)"
    )]
    FromTheFuture {
        /// How far ahead.
        ahead_seconds: i64,
        /// The tolerance.
        tolerance_seconds: i64,
    },
    /// The body is larger than [`MAX_PAYLOAD_BYTES`].
    #[error("the body is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// No webhook secret to check against (an empty one would let anyone sign).
    #[error("no webhook secret is configured")]
    NoSecret,
    /// Genuine, but not a Stripe event that can be read (not JSON, a field missing or of the
    /// wrong type, an unknown subscription status…).
    #[error("not a readable Stripe event: {0}")]
    Payload(String),
}

/// A verified event, as far as Multivio reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeEvent {
    /// An event the domain applies.
    Billing(BillingEvent),
    /// `invoice.payment_failed` (no domain kind: see the module docs).
    PaymentFailed(PaymentFailed),
    /// Any other type: nothing to do.
    Ignored {
        /// `evt_…`.
        id: String,
        /// Its `type`.
        event_type: String,
    },
}

impl StripeEvent {
    /// The event's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Billing(e) => &e.id,
            Self::PaymentFailed(p) => &p.id,
            Self::Ignored { id, .. } => id,
        }
    }

    /// The domain's event, when there is one.
    pub fn into_billing_event(self) -> Option<BillingEvent> {
        match self {
            Self::Billing(e) => Some(e),
            Self::PaymentFailed(_) | Self::Ignored { .. } => None,
        }
    }
}

/// `invoice.payment_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFailed {
    /// `evt_…`.
    pub id: String,
    /// The event's `created`.
    pub created: DateTime<Utc>,
    /// `in_…`.
    pub invoice_id: String,
    /// Stripe customer.
    pub customer_id: String,
    /// The subscription billed, if any.
    pub subscription_id: Option<String>,
    /// Amount due, in minor units.
    pub amount_due: i64,
    /// Currency, lower case.
    pub currency: String,
    /// How many payment attempts were made.
    pub attempt_count: Option<i64>,
    /// When Stripe tries again (`None`: it will not).
    pub next_payment_attempt: Option<DateTime<Utc>>,
    /// The plan billed, when its price is one of ours.
    pub plan: Option<PlanName>,
}

/// Signs a payload as Stripe does: the header value `t=<timestamp>,v1=<hex>`. For tests and
/// fakes; Multivio itself only verifies.
pub fn sign(payload: &[u8], secret: &Secret, timestamp: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(payload);
    format!("t={timestamp},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// The parts of a `Stripe-Signature` header that are read.
struct SignatureHeader {
    timestamp: i64,
    /// Well-formed `v1` signatures (32 bytes).
    v1: Vec<Vec<u8>>,
    /// How many `v1` entries there were, well-formed or not.
    v1_entries: usize,
}

fn parse_header(header: &str) -> Result<SignatureHeader, WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingHeader);
    }
    if header.len() > MAX_HEADER_BYTES {
        return Err(WebhookError::MalformedHeader(format!(
            "longer than {MAX_HEADER_BYTES} bytes"
        )));
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    let mut v1_entries = 0;
    for item in header.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(WebhookError::MalformedHeader(format!(
                "`{}` is not key=value",
                excerpt(item, 40)
            )));
        };
        match key.trim() {
            "t" => {
                let value = value.trim();
                if timestamp.is_some() {
                    return Err(WebhookError::MalformedHeader(
                        "more than one timestamp (t=)".to_owned(),
                    ));
                }
                if value.is_empty()
                    || value.len() > 18
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(WebhookError::MalformedHeader(format!(
                        "the timestamp `{}` is not a number of seconds",
                        excerpt(value, 20)
                    )));
                }
                timestamp = value.parse::<i64>().ok();
            }
            "v1" => {
                v1_entries += 1;
                if v1_entries > MAX_SIGNATURES {
                    return Err(WebhookError::MalformedHeader(format!(
                        "more than {MAX_SIGNATURES} v1 signatures"
                    )));
                }
                // A garbled signature cannot match; it is tried no further.
                if let Ok(bytes) = hex::decode(value.trim())
                    && bytes.len() == 32
                {
                    v1.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp =
        timestamp.ok_or_else(|| WebhookError::MalformedHeader("no timestamp (t=)".to_owned()))?;
    Ok(SignatureHeader {
        timestamp,
        v1,
        v1_entries,
    })
}

/// Checks a delivery's `Stripe-Signature` against its raw body: a `v1` made with `secret`
/// over `"<t>.<payload>"`, and `t` within `tolerance` of `now` (either way). The signature is
/// checked before the time, as Stripe's libraries do.
pub fn verify_signature(
    payload: &[u8],
    signature_header: &str,
    secret: &Secret,
    now: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> Result<(), WebhookError> {
    if secret.expose().is_empty() {
        return Err(WebhookError::NoSecret);
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(WebhookError::TooLarge {
            max: MAX_PAYLOAD_BYTES,
        });
    }
    let header = parse_header(signature_header)?;
    if header.v1_entries == 0 {
        return Err(WebhookError::NoV1Signature);
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut signed = Vec::with_capacity(payload.len() + 21);
    signed.extend_from_slice(header.timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(payload);
    let matched = header
        .v1
        .iter()
        .any(|tag| ring::hmac::verify(&key, &signed, tag).is_ok());
    if !matched {
        return Err(WebhookError::SignatureMismatch);
    }
    let tolerance_seconds = tolerance.num_seconds().max(0);
    let age = i128::from(now.timestamp()) - i128::from(header.timestamp);
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    if age > i128::from(tolerance_seconds) {
        return Err(WebhookError::Expired {
            age_seconds: clamp(age),
            tolerance_seconds,
        });
    }
    if -age > i128::from(tolerance_seconds) {
        return Err(WebhookError::FromTheFuture {
            ahead_seconds: clamp(-age),
            tolerance_seconds,
        });
    }
    Ok(())
}

/// Verifies a delivery ([`verify_signature`], [`DEFAULT_TOLERANCE_SECONDS`]) and reads it into
/// the domain's event: `None` for the types the domain does not act on (including
/// `invoice.payment_failed`: see the module docs).
pub fn verify_and_parse(
    payload: &[u8],
    signature_header: &str,
    secret: &Secret,
    prices: &PriceMap,
    now: DateTime<Utc>,
) -> Result<Option<BillingEvent>, WebhookError> {
    verify_signature(
        payload,
        signature_header,
        secret,
        now,
        chrono::Duration::seconds(DEFAULT_TOLERANCE_SECONDS),
    )?;
    Ok(parse_event(payload, prices)?.into_billing_event())
}

/// The webhook endpoint's verifier: its secret, the prices and the tolerance.
#[derive(Clone)]
pub struct StripeWebhooks {
    secret: Secret,
    prices: PriceMap,
    tolerance: chrono::Duration,
}

impl fmt::Debug for StripeWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeWebhooks")
            .field("secret", &"[redacted]")
            .field("prices", &self.prices)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl StripeWebhooks {
    /// A verifier for an endpoint's signing secret (`whsec_…`, shown with the endpoint in
    /// Stripe's dashboard, or printed by `stripe listen`).
    pub fn new(secret: Secret, prices: PriceMap) -> Result<Self, ConfigError> {
        let value = secret.expose();
        if !value.starts_with("whsec_") || value.len() <= "whsec_".len() {
            return Err(ConfigError::SecretKey(
                "the webhook signing secret starts with whsec_".to_owned(),
            ));
        }
        Ok(Self {
            secret,
            prices,
            tolerance: chrono::Duration::seconds(DEFAULT_TOLERANCE_SECONDS),
        })
    }

    /// The same, with another tolerance.
    pub fn with_tolerance(mut self, tolerance: chrono::Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies and reads a delivery, keeping what the domain has no kind for.
    pub fn verify(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: DateTime<Utc>,
    ) -> Result<StripeEvent, WebhookError> {
        verify_signature(payload, signature_header, &self.secret, now, self.tolerance)?;
        parse_event(payload, &self.prices)
    }

    /// Verifies and reads a delivery into the domain's event (`None`: nothing to apply).
    pub fn verify_and_parse(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<BillingEvent>, WebhookError> {
        Ok(self
            .verify(payload, signature_header, now)?
            .into_billing_event())
    }
}

impl multivio_ports::billing::BillingWebhooks for StripeWebhooks {
    fn read(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, WebhookRejection> {
        let signature = signature
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| WebhookRejection::Unverified(WebhookError::MissingHeader.to_string()))?;
        match self.verify(payload, signature, now) {
            Ok(StripeEvent::Billing(event)) => Ok(WebhookDelivery::Apply(event)),
            Ok(StripeEvent::PaymentFailed(failed)) => {
                // What a failed payment changes arrives with the `customer.subscription.updated`
                // Stripe sends with it; this one is only logged.
                tracing::info!(
                    event = %failed.id,
                    customer = %failed.customer_id,
                    attempts = ?failed.attempt_count,
                    next_attempt = ?failed.next_payment_attempt,
                    "Stripe: an invoice's payment failed"
                );
                Ok(WebhookDelivery::Ignore {
                    id: failed.id,
                    kind: "invoice.payment_failed".to_owned(),
                })
            }
            Ok(StripeEvent::Ignored { id, event_type }) => Ok(WebhookDelivery::Ignore {
                id,
                kind: event_type,
            }),
            Err(e @ WebhookError::Payload(_)) => Err(WebhookRejection::Unreadable(e.to_string())),
            Err(e) => Err(WebhookRejection::Unverified(e.to_string())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stripe's objects, as far as they are read (unknown fields are ignored; both API shapes).

#[derive(Debug, Deserialize)]
struct RawEvent {
    id: String,
    object: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: RawData,
}

#[derive(Debug, Deserialize)]
struct RawData {
    object: serde_json::Value,
}

/// An id, or the object it names when expanded.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct RawCheckoutSession {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct RawSubscription {
    id: String,
    customer: Expandable,
    status: String,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    ended_at: Option<i64>,
    #[serde(default)]
    items: Option<List<RawItem>>,
    #[serde(default)]
    plan: Option<Expandable>,
}

#[derive(Debug, Deserialize)]
struct RawItem {
    #[serde(default)]
    price: Option<Expandable>,
    #[serde(default)]
    plan: Option<Expandable>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RawInvoice {
    id: String,
    customer: Option<Expandable>,
    #[serde(default)]
    amount_paid: i64,
    #[serde(default)]
    amount_due: i64,
    currency: String,
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    parent: Option<RawInvoiceParent>,
    #[serde(default)]
    lines: Option<List<RawLine>>,
    #[serde(default)]
    period_start: Option<i64>,
    #[serde(default)]
    period_end: Option<i64>,
    #[serde(default)]
    attempt_count: Option<i64>,
    #[serde(default)]
    next_payment_attempt: Option<i64>,
    #[serde(default)]
    billing_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawInvoiceParent {
    #[serde(default)]
    subscription_details: Option<RawSubscriptionDetails>,
}

#[derive(Debug, Deserialize)]
struct RawSubscriptionDetails {
    #[serde(default)]
    subscription: Option<Expandable>,
}

#[derive(Debug, Deserialize)]
struct RawLine {
    #[serde(default)]
    period: Option<RawPeriod>,
    #[serde(default)]
    price: Option<Expandable>,
    #[serde(default)]
    plan: Option<Expandable>,
    #[serde(default)]
    pricing: Option<RawPricing>,
    /// Whether the line is a proration (before basil).
    #[serde(default)]
    proration: Option<bool>,
    /// What made the line, with its `proration` (basil).
    #[serde(default)]
    parent: Option<RawLineParent>,
}

#[derive(Debug, Deserialize)]
struct RawLineParent {
    #[serde(default)]
    subscription_item_details: Option<RawProrated>,
    #[serde(default)]
    invoice_item_details: Option<RawProrated>,
}

#[derive(Debug, Deserialize)]
struct RawProrated {
    #[serde(default)]
    proration: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RawPeriod {
    #[serde(default)]
    start: Option<i64>,
    #[serde(default)]
    end: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RawPricing {
    #[serde(default)]
    price_details: Option<RawPriceDetails>,
}

#[derive(Debug, Deserialize)]
struct RawPriceDetails {
    #[serde(default)]
    price: Option<Expandable>,
}

impl RawItem {
    /// The item's price id (`price`, else the legacy `plan`).
    fn price_id(&self) -> Option<&str> {
        self.price
            .as_ref()
            .or(self.plan.as_ref())
            .map(Expandable::id)
    }
}

impl RawLine {
    /// The line's price id: `pricing.price_details.price` (basil), else `price`, else the
    /// legacy `plan`.
    fn price_id(&self) -> Option<&str> {
        self.pricing
            .as_ref()
            .and_then(|p| p.price_details.as_ref())
            .and_then(|d| d.price.as_ref())
            .or(self.price.as_ref())
            .or(self.plan.as_ref())
            .map(Expandable::id)
    }

    /// Whether the line prorates a plan change (its period and price are not the period
    /// billed).
    fn is_proration(&self) -> bool {
        let parent = self.parent.as_ref();
        [
            self.proration,
            parent
                .and_then(|p| p.subscription_item_details.as_ref())
                .and_then(|d| d.proration),
            parent
                .and_then(|p| p.invoice_item_details.as_ref())
                .and_then(|d| d.proration),
        ]
        .contains(&Some(true))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

fn payload_error(what: impl fmt::Display) -> WebhookError {
    WebhookError::Payload(excerpt(&what.to_string(), 300))
}

/// A time from Unix seconds: Stripe's are after 1970, and one after the times kept
/// ([`multivio_domain::time`]) makes the payload unreadable rather than fail where it is
/// stored.
fn time(field: &str, seconds: i64) -> Result<DateTime<Utc>, WebhookError> {
    (0..=multivio_domain::time::LAST_UNIX_SECOND)
        .contains(&seconds)
        .then(|| DateTime::from_timestamp(seconds, 0))
        .flatten()
        .ok_or_else(|| payload_error(format!("`{field}` is not a usable time: {seconds}")))
}

fn time_opt(field: &str, seconds: Option<i64>) -> Result<Option<DateTime<Utc>>, WebhookError> {
    seconds.map(|s| time(field, s)).transpose()
}

/// An id, checked: non-empty, at most [`MAX_ID_LEN`] printable ASCII characters.
fn id(field: &str, value: &str) -> Result<String, WebhookError> {
    if value.is_empty() || value.len() > MAX_ID_LEN || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(payload_error(format!(
            "`{field}` is not an id: `{}`",
            excerpt(value, 40)
        )));
    }
    Ok(value.to_owned())
}

fn object<T: serde::de::DeserializeOwned>(
    event_type: &str,
    expected: &str,
    value: serde_json::Value,
) -> Result<T, WebhookError> {
    let found = value
        .get("object")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if found != expected {
        return Err(payload_error(format!(
            "a {event_type} event carries a `{}` instead of a `{expected}`",
            excerpt(found, 40)
        )));
    }
    serde_json::from_value(value).map_err(|e| payload_error(format!("{expected}: {e}")))
}

/// Reads a (verified) event's body. Types the domain does not act on are
/// [`StripeEvent::Ignored`].
pub fn parse_event(payload: &[u8], prices: &PriceMap) -> Result<StripeEvent, WebhookError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(WebhookError::TooLarge {
            max: MAX_PAYLOAD_BYTES,
        });
    }
    let raw: RawEvent = serde_json::from_slice(payload).map_err(payload_error)?;
    if raw.object != "event" {
        return Err(payload_error(format!(
            "a `{}` instead of an event",
            excerpt(&raw.object, 40)
        )));
    }
    let event_id = id("id", &raw.id)?;
    let created = time("created", raw.created)?;
    let event = |kind: BillingEventKind| -> Result<StripeEvent, WebhookError> {
        Ok(StripeEvent::Billing(BillingEvent {
            id: event_id.clone(),
            created,
            kind,
        }))
    };
    let ignored = || -> Result<StripeEvent, WebhookError> {
        Ok(StripeEvent::Ignored {
            id: event_id.clone(),
            event_type: raw.event_type.clone(),
        })
    };
    match raw.event_type.as_str() {
        "checkout.session.completed" => {
            let session: RawCheckoutSession =
                object(&raw.event_type, "checkout.session", raw.data.object)?;
            if session.mode.as_deref().is_some_and(|m| m != "subscription") {
                return ignored();
            }
            let Some(customer) = &session.customer else {
                tracing::info!(event = %event_id, "a checkout without a customer: nothing to link");
                return ignored();
            };
            let user_id = session
                .client_reference_id
                .as_deref()
                .or_else(|| {
                    session
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("user_id"))
                        .and_then(serde_json::Value::as_str)
                })
                .and_then(|v| v.trim().parse::<i32>().ok())
                .filter(|v| *v > 0)
                .map(UserId);
            event(BillingEventKind::CheckoutCompleted {
                user_id,
                customer_id: id("customer", customer.id())?,
                subscription_id: session
                    .subscription
                    .as_ref()
                    .map(|s| id("subscription", s.id()))
                    .transpose()?,
            })
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let deleted = raw.event_type == "customer.subscription.deleted";
            let sub: RawSubscription = object(&raw.event_type, "subscription", raw.data.object)?;
            let snapshot = snapshot(&sub, prices, deleted)?;
            if deleted {
                event(BillingEventKind::SubscriptionDeleted(snapshot))
            } else {
                event(BillingEventKind::SubscriptionChanged(snapshot))
            }
        }
        "invoice.paid" => {
            let invoice: RawInvoice = object(&raw.event_type, "invoice", raw.data.object)?;
            let read = read_invoice(&invoice, prices)?;
            event(BillingEventKind::InvoicePaid {
                customer_id: read.customer_id,
                subscription_id: read.subscription_id,
                amount_paid: invoice.amount_paid,
                currency: read.currency,
                period_start: read.period_start,
                period_end: read.period_end,
                plan: read.plan,
                billing_reason: invoice
                    .billing_reason
                    .filter(|r| !r.is_empty() && r.len() <= MAX_ID_LEN),
            })
        }
        "invoice.payment_failed" => {
            let invoice: RawInvoice = object(&raw.event_type, "invoice", raw.data.object)?;
            let read = read_invoice(&invoice, prices)?;
            Ok(StripeEvent::PaymentFailed(PaymentFailed {
                id: event_id.clone(),
                created,
                invoice_id: id("invoice", &invoice.id)?,
                customer_id: read.customer_id,
                subscription_id: read.subscription_id,
                amount_due: invoice.amount_due,
                currency: read.currency,
                attempt_count: invoice.attempt_count,
                next_payment_attempt: time_opt(
                    "next_payment_attempt",
                    invoice.next_payment_attempt,
                )?,
                plan: read.plan,
            }))
        }
        _ => ignored(),
    }
}

/// A subscription as the domain sees it.
fn snapshot(
    sub: &RawSubscription,
    prices: &PriceMap,
    deleted: bool,
) -> Result<SubscriptionSnapshot, WebhookError> {
    let status = match sub.status.as_str() {
        // Multivio's own "no subscription" state, never one of Stripe's.
        "free" => None,
        other => other.parse::<SubscriptionStatus>().ok(),
    }
    .ok_or_else(|| {
        payload_error(format!(
            "unknown subscription status `{}`",
            excerpt(&sub.status, 40)
        ))
    })?;
    let items: &[RawItem] = sub.items.as_ref().map_or(&[], |l| l.data.as_slice());

    // The item sold at one of our prices; else the first item.
    let ours = items
        .iter()
        .find_map(|item| Some((item, prices.plan_of(item.price_id()?)?)));
    let plan = ours.map(|(_, plan)| plan.clone()).or_else(|| {
        sub.plan
            .as_ref()
            .and_then(|p| prices.plan_of(p.id()))
            .cloned()
    });
    let item = ours.map(|(item, _)| item).or(items.first());
    // Subscription-level periods (before 2025-03-31), else the item's.
    let start = sub
        .current_period_start
        .or_else(|| item.and_then(|i| i.current_period_start));
    let mut end = sub
        .current_period_end
        .or_else(|| item.and_then(|i| i.current_period_end));
    if deleted && sub.ended_at.is_some() {
        end = sub.ended_at;
    }
    Ok(SubscriptionSnapshot {
        subscription_id: id("subscription", &sub.id)?,
        customer_id: id("customer", sub.customer.id())?,
        status,
        plan,
        current_period_start: time_opt("current_period_start", start)?,
        current_period_end: time_opt("current_period_end", end)?,
    })
}

struct InvoiceRead {
    customer_id: String,
    subscription_id: Option<String>,
    currency: String,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    plan: Option<PlanName>,
}

fn read_invoice(invoice: &RawInvoice, prices: &PriceMap) -> Result<InvoiceRead, WebhookError> {
    let customer = invoice
        .customer
        .as_ref()
        .ok_or_else(|| payload_error("the invoice has no customer"))?;
    let subscription = invoice
        .parent
        .as_ref()
        .and_then(|p| p.subscription_details.as_ref())
        .and_then(|d| d.subscription.as_ref())
        .or(invoice.subscription.as_ref())
        .map(|s| id("subscription", s.id()))
        .transpose()?;
    let currency = invoice.currency.trim().to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(payload_error(format!(
            "`{}` is not a currency",
            excerpt(&invoice.currency, 10)
        )));
    }
    let lines: &[RawLine] = invoice.lines.as_ref().map_or(&[], |l| l.data.as_slice());
    // The line sold at one of our prices; else the first line with a period. Never a
    // proration's (listed first, it is for part of an earlier period, at a plan left or taken
    // then): the period billed is the subscription's own line's.
    let billed = || lines.iter().filter(|l| !l.is_proration());
    let ours = billed().find_map(|line| Some((line, prices.plan_of(line.price_id()?)?)));
    let line = ours
        .map(|(line, _)| line)
        .or_else(|| billed().find(|l| l.period.is_some()));
    // A subscription invoice's own period_start/end is the period of its pending items, not
    // the period billed: the line's period comes first.
    let (start, end) = match line.and_then(|l| l.period.as_ref()) {
        Some(p) => (p.start, p.end),
        None => (invoice.period_start, invoice.period_end),
    };
    Ok(InvoiceRead {
        customer_id: id("customer", customer.id())?,
        subscription_id: subscription,
        currency,
        period_start: time_opt("period.start", start)?,
        period_end: time_opt("period.end", end)?,
        plan: ours.map(|(_, plan)| plan.clone()),
    })
}

/// The first `max` characters of a text.
fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;

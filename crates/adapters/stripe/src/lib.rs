//! # multivio-stripe
//!
//! Multivio's billing adapter for Stripe.
//!
//! - [`StripeGateway`] is the core's [`BillingGateway`](multivio_ports::billing::BillingGateway):
//!   hosted Checkout (subscription mode, the plan's price from a [`PriceMap`], a customer
//!   created for a user who has none) and customer-portal links. Requests are form-encoded as
//!   Stripe expects, authenticated with the secret key, sent with an `Idempotency-Key` derived
//!   from what they create (see [`gateway`]), over a client with timeouts, no redirects, no
//!   proxy, and capped reads. Stripe's refusals become
//!   [`BillingError::Unavailable`](multivio_ports::billing::BillingError::Unavailable) with
//!   Stripe's message; the key is never in an error, a log or `Debug`.
//! - [`webhook`] verifies a delivery's `Stripe-Signature` (HMAC-SHA256, any `v1`, 300 s
//!   tolerance, constant-time) and reads the event into the domain's
//!   [`BillingEvent`](multivio_domain::subscription::BillingEvent).
//!
//! Local runs and tests point the API URL at the sandbox's fake of Stripe
//! (`multivio_sandbox::Sandbox::stripe_url`).

pub mod config;
mod form;
pub mod gateway;
mod http;
pub mod webhook;

pub use config::{ConfigError, DEFAULT_API_URL, PriceMap, StripeConfig};
pub use gateway::{CheckoutSession, PortalSession, StripeGateway};
pub use http::{MAX_ANSWER_BYTES, MAX_ERROR_BYTES};
pub use webhook::{
    PaymentFailed, SIGNATURE_HEADER, StripeEvent, StripeWebhooks, WebhookError, verify_and_parse,
    verify_signature,
};

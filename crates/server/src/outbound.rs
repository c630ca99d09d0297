//! Billing (Stripe) and mail of this deployment, from its configuration: with real settings,
//! Stripe and an SMTP relay; locally without them, the sandbox's fake of Stripe and the log;
//! in production without them, billing answers "not configured" and mail fails clearly.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_domain::quota::{PlanCatalog, PlanName};
use multivio_mail::{LogMailer, SmtpMailer};
use multivio_ports::billing::{
    BillingError, BillingGateway, BillingWebhooks, CheckoutLink, CheckoutRequest, WebhookDelivery,
    WebhookRejection,
};
use multivio_ports::mail::{MailError, Mailer};
use multivio_sandbox::credentials as sandbox;
use multivio_stripe::{PriceMap, StripeConfig, StripeGateway, StripeWebhooks};

use crate::Config;

/// The billing adapters of a deployment.
#[allow(missing_debug_implementations)]
pub struct Billing {
    /// Checkout and portal links.
    pub gateway: Arc<dyn BillingGateway>,
    /// Webhook deliveries.
    pub webhooks: Arc<dyn BillingWebhooks>,
    /// The sandbox's Stripe base URL, when billing goes to the sandbox (local runs).
    pub sandbox_stripe: Option<String>,
}

/// Billing for `config`: Stripe when its secret key is set (then the webhook secret and the
/// prices are required, and every plan sold must be in `catalog`); locally without it, the
/// sandbox's fake at `sandbox` selling the catalog's `pro` and `business`; otherwise none.
pub fn billing(
    config: &Config,
    catalog: &PlanCatalog,
    sandbox: Option<&str>,
) -> anyhow::Result<Billing> {
    let return_url = return_url(config);
    let Some(key) = set(&config.stripe_secret_key) else {
        for (name, value) in [
            (
                "MULTIVIO_STRIPE_WEBHOOK_SECRET",
                &config.stripe_webhook_secret,
            ),
            ("MULTIVIO_STRIPE_PRICES", &config.stripe_prices),
            ("MULTIVIO_STRIPE_API_URL", &config.stripe_api_url),
        ] {
            if set(value).is_some() {
                anyhow::bail!("{name} is set but MULTIVIO_STRIPE_SECRET_KEY is not");
            }
        }
        return Ok(match sandbox {
            // The sandbox's webhook secret is public: anyone who reaches a server that trusts
            // it can forge plan changes. Only a server on this machine's loopback does.
            Some(_) if !config.listen.ip().is_loopback() => {
                tracing::warn!(
                    "billing is off: the sandbox's Stripe is used only by a server listening on \
                     a loopback address"
                );
                Billing {
                    gateway: Arc::new(NoBilling),
                    webhooks: Arc::new(NoBilling),
                    sandbox_stripe: None,
                }
            }
            Some(base) => sandboxed(base, catalog, &return_url)?,
            None => Billing {
                gateway: Arc::new(NoBilling),
                webhooks: Arc::new(NoBilling),
                sandbox_stripe: None,
            },
        });
    };
    let webhook_secret = set(&config.stripe_webhook_secret)
        .context("MULTIVIO_STRIPE_WEBHOOK_SECRET is required with MULTIVIO_STRIPE_SECRET_KEY")?;
    let prices = set(&config.stripe_prices)
        .context("MULTIVIO_STRIPE_PRICES is required with MULTIVIO_STRIPE_SECRET_KEY")?;
    let prices = PriceMap::parse(prices).context("MULTIVIO_STRIPE_PRICES")?;
    check_sold(&prices, catalog)?;
    let mut stripe = stripe_config(Secret::new(key), prices.clone(), &return_url);
    if let Some(url) = set(&config.stripe_api_url) {
        if config.production && !url.starts_with("https://") {
            anyhow::bail!("MULTIVIO_STRIPE_API_URL must be https in production");
        }
        stripe = stripe.with_api_url(url);
    }
    let gateway = StripeGateway::new(stripe).context("Stripe")?;
    if config.production && gateway.is_test_mode() {
        tracing::warn!("MULTIVIO_STRIPE_SECRET_KEY is a test-mode key: no payment is real");
    }
    let webhooks = StripeWebhooks::new(Secret::new(webhook_secret), prices)
        .context("MULTIVIO_STRIPE_WEBHOOK_SECRET")?;
    Ok(Billing {
        gateway: Arc::new(gateway),
        webhooks: Arc::new(webhooks),
        sandbox_stripe: None,
    })
}

/// A setting's value, when it is set to something.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The sandbox's Stripe, selling the catalog's `pro` and `business` at the sandbox's prices.
fn sandboxed(base: &str, catalog: &PlanCatalog, return_url: &str) -> anyhow::Result<Billing> {
    let url = format!("{}/stripe", base.trim_end_matches('/'));
    let prices = PriceMap::new(
        [
            ("pro", sandbox::STRIPE_PRICE_PRO),
            ("business", sandbox::STRIPE_PRICE_BUSINESS),
        ]
        .into_iter()
        .filter_map(|(plan, price)| {
            let plan = PlanName::new(plan).ok()?;
            catalog.get(&plan).map(|_| (plan, price.to_owned()))
        }),
    )
    .context("the sandbox's Stripe prices")?;
    let gateway = StripeGateway::new(
        stripe_config(
            Secret::new(sandbox::STRIPE_SECRET_KEY),
            prices.clone(),
            return_url,
        )
        .with_api_url(&url),
    )
    .context("the sandbox's Stripe")?;
    let webhooks = StripeWebhooks::new(Secret::new(sandbox::STRIPE_WEBHOOK_SECRET), prices)
        .context("the sandbox's Stripe webhook secret")?;
    Ok(Billing {
        gateway: Arc::new(gateway),
        webhooks: Arc::new(webhooks),
        sandbox_stripe: Some(url),
    })
}

fn stripe_config(key: Secret, prices: PriceMap, return_url: &str) -> StripeConfig {
    let sep = if return_url.contains('?') { '&' } else { '?' };
    StripeConfig::new(
        key,
        prices,
        format!("{return_url}{sep}checkout=success&session_id={{CHECKOUT_SESSION_ID}}"),
        format!("{return_url}{sep}checkout=cancelled"),
        return_url,
    )
}

/// Where Checkout and the portal send the customer back: `MULTIVIO_BILLING_RETURN_URL`, else
/// the web client (the first allowed origin), else this server.
fn return_url(config: &Config) -> String {
    config
        .billing_return_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            config
                .cors_origins
                .as_deref()
                .and_then(|o| o.split(',').map(str::trim).find(|o| !o.is_empty()))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| config.public_url())
}

/// Every plan sold must be a paid plan of the catalog: a price whose plan has no quota would
/// take a customer's money for nothing.
fn check_sold(prices: &PriceMap, catalog: &PlanCatalog) -> anyhow::Result<()> {
    for plan in prices.plans() {
        if plan.is_free() {
            anyhow::bail!("MULTIVIO_STRIPE_PRICES: the free plan is not sold");
        }
        if catalog.get(plan).is_none() {
            anyhow::bail!(
                "MULTIVIO_STRIPE_PRICES sells `{plan}`, which MULTIVIO_PLANS does not define"
            );
        }
    }
    Ok(())
}

// The mail says how long its link works; the token's expiry is the core's.
const _: () = assert!(
    multivio_mail::LINK_VALID_HOURS as i64 == multivio_app::users::VERIFICATION_TTL_HOURS,
    "the verification mail must state the token's real lifetime"
);

/// Mail for `config`: the SMTP relay of `MULTIVIO_SMTP_URL` (from `MULTIVIO_MAIL_FROM`);
/// without one, the log locally, and in production a mailer that fails (verification links
/// in a log would let whoever reads it verify any address).
pub fn mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let public_url = config.public_url();
    match config.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            let from = config
                .mail_from
                .as_deref()
                .filter(|f| !f.trim().is_empty())
                .context("MULTIVIO_MAIL_FROM is required with MULTIVIO_SMTP_URL")?;
            let mailer = SmtpMailer::from_settings(url, from, &public_url)
                .context("MULTIVIO_SMTP_URL / MULTIVIO_MAIL_FROM")?;
            // Verification links are secrets: in production they travel encrypted, or not
            // beyond this machine.
            if config.production
                && !multivio_mail::SmtpUrl::parse(url).is_ok_and(|u| u.keeps_mail_private())
            {
                anyhow::bail!(
                    "MULTIVIO_SMTP_URL: in production mail travels encrypted — use smtps:// or \
                     `?tls=required` (clear text or opportunistic STARTTLS only to a loopback \
                     relay)"
                );
            }
            tracing::info!(mailer = ?mailer, "mail goes through SMTP");
            Ok(Arc::new(mailer))
        }
        None if config.production => {
            tracing::warn!(
                "MULTIVIO_SMTP_URL is not set: verification mail cannot be sent (requests for \
                 one answer 503)"
            );
            Ok(Arc::new(NoMail))
        }
        None => Ok(Arc::new(
            LogMailer::new(&public_url).context("the public URL (verification links)")?,
        )),
    }
}

/// Mail in production without a relay: nothing is sent, and nothing secret is logged.
#[derive(Debug)]
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    /// As a relay's mailer would: an address no mail can hold is the account's problem, not
    /// a missing relay's.
    fn can_address(&self, to: &Email) -> bool {
        multivio_mail::can_write_address(to)
    }

    async fn send_verification(&self, _to: &Email, _token: &Secret) -> Result<(), MailError> {
        Err(MailError::Failed("no mail relay is configured".to_owned()))
    }
}

/// Billing when no Stripe account is configured.
#[derive(Debug)]
struct NoBilling;

#[async_trait]
impl BillingGateway for NoBilling {
    async fn checkout_url(&self, _request: &CheckoutRequest) -> Result<CheckoutLink, BillingError> {
        Err(BillingError::NotConfigured)
    }

    async fn portal_url(&self, _customer_id: &str) -> Result<String, BillingError> {
        Err(BillingError::NotConfigured)
    }
}

impl BillingWebhooks for NoBilling {
    fn read(
        &self,
        _payload: &[u8],
        _signature: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, WebhookRejection> {
        Err(WebhookRejection::NotConfigured)
    }
}

/// Locally, points the sandbox's Stripe deliveries at this server's webhook route, so a
/// checkout completed on the fake's page reaches the API as Stripe's would. A failure is only
/// logged: billing still works, its events just do not arrive.
pub async fn register_sandbox_webhook(stripe_url: &str, api_base: &str) {
    let endpoint = format!("{api_base}/v1/webhooks/stripe");
    let result = reqwest::Client::new()
        .post(format!("{stripe_url}/_sandbox/webhook"))
        .json(&serde_json::json!({ "url": endpoint }))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    match result {
        Ok(_) => tracing::info!(%endpoint, "the sandbox's Stripe delivers its events here"),
        Err(e) => tracing::warn!(
            error = %e,
            "could not point the sandbox's Stripe webhooks at this server"
        ),
    }
}

#[cfg(test)]
mod tests;

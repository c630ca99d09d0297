//! What the adapter is configured with: the API's URL, the secret key, the plans' prices and
//! the pages Stripe sends customers back to.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use multivio_domain::Secret;
use multivio_domain::quota::PlanName;

/// Stripe's API.
pub const DEFAULT_API_URL: &str = "https://api.stripe.com";

/// How long one call to Stripe may take (connecting included). A checkout or portal link is
/// asked for while a person waits.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a failed call is sent again (with the same idempotency key) when Stripe says
/// it may be, or when no answer came.
pub const DEFAULT_MAX_RETRIES: u32 = 1;

/// Why the configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The API URL is not usable.
    #[error("Stripe API URL: {0}")]
    ApiUrl(String),
    /// The secret key is not a secret or restricted API key.
    #[error("Stripe secret key: {0}")]
    SecretKey(String),
    /// The plan → price map is not usable.
    #[error("Stripe prices: {0}")]
    Prices(String),
    /// A URL customers are sent back to is not usable.
    #[error("{name}: {reason}")]
    ReturnUrl {
        /// Which one (`success_url`, `cancel_url`, `portal_return_url`).
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Which Stripe price each paid plan is sold at, and back: a webhook's price id names the plan.
///
/// One price per plan is sold; a plan may also name prices it was sold at before (Stripe's
/// prices cannot change: a new price replaces one, and its subscribers stay on the old), which
/// its events are still recognised by. A price belongs to one plan only (else an event's price
/// would be ambiguous). `free` is never for sale.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PriceMap {
    by_plan: BTreeMap<PlanName, String>,
    by_price: HashMap<String, PlanName>,
}

impl fmt::Debug for PriceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.by_plan.iter().map(|(k, v)| (k.as_str(), v)))
            .finish()
    }
}

impl PriceMap {
    /// A map from plan to price id (`price_…`; older accounts' plan ids are accepted too).
    pub fn new(prices: impl IntoIterator<Item = (PlanName, String)>) -> Result<Self, ConfigError> {
        let mut map = Self::default();
        for (plan, price) in prices {
            let price = map.recognise(&plan, &price)?;
            if map.by_plan.contains_key(&plan) {
                return Err(ConfigError::Prices(format!("plan {plan} is given twice")));
            }
            map.by_plan.insert(plan, price);
        }
        Ok(map)
    }

    /// Adds a price `plan` was sold at before: its subscribers' events still name the plan.
    pub fn with_former(mut self, plan: &PlanName, price: &str) -> Result<Self, ConfigError> {
        if !self.by_plan.contains_key(plan) {
            return Err(ConfigError::Prices(format!(
                "plan {plan} has former prices but no price"
            )));
        }
        self.recognise(plan, price)?;
        Ok(self)
    }

    /// Checks `price` and makes it name `plan` in events; the price, trimmed.
    fn recognise(&mut self, plan: &PlanName, price: &str) -> Result<String, ConfigError> {
        let price = price.trim().to_owned();
        if plan.is_free() {
            return Err(ConfigError::Prices(
                "the free plan has no price: it is not sold".to_owned(),
            ));
        }
        if price.is_empty()
            || price.len() > 255
            || !price
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ConfigError::Prices(format!(
                "`{price}` (plan {plan}) is not a Stripe price id"
            )));
        }
        if let Some(other) = self.by_price.get(&price) {
            return Err(ConfigError::Prices(format!(
                "price {price} is given to both {other} and {plan}"
            )));
        }
        self.by_price.insert(price.clone(), plan.clone());
        Ok(price)
    }

    /// Parses `pro=price_123,business=price_456` (the form of `MULTIVIO_STRIPE_PRICES`); a
    /// plan's former prices follow its price after `|`: `pro=price_new|price_old`.
    pub fn parse(config: &str) -> Result<Self, ConfigError> {
        let mut pairs = Vec::new();
        let mut former = Vec::new();
        for item in config.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (plan, prices) = item
                .split_once('=')
                .ok_or_else(|| ConfigError::Prices(format!("`{item}` is not plan=price_id")))?;
            let plan = PlanName::new(plan)
                .map_err(|e| ConfigError::Prices(format!("`{item}`: {}", e.reason)))?;
            let mut prices = prices.split('|');
            let sold = prices.next().unwrap_or_default();
            former.extend(prices.map(|p| (plan.clone(), p.to_owned())));
            pairs.push((plan, sold.to_owned()));
        }
        former
            .into_iter()
            .try_fold(Self::new(pairs)?, |map, (plan, price)| {
                map.with_former(&plan, &price)
            })
    }

    /// The price a plan is sold at.
    pub fn price_of(&self, plan: &PlanName) -> Option<&str> {
        self.by_plan.get(plan).map(String::as_str)
    }

    /// The plan a price belongs to.
    pub fn plan_of(&self, price: &str) -> Option<&PlanName> {
        self.by_price.get(price)
    }

    /// Every plan for sale (to check against the plan catalog at startup).
    pub fn plans(&self) -> impl Iterator<Item = &PlanName> {
        self.by_plan.keys()
    }

    /// Whether no plan is for sale.
    pub fn is_empty(&self) -> bool {
        self.by_plan.is_empty()
    }
}

/// What [`crate::StripeGateway`] needs.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The API's base URL, without `/v1` ([`DEFAULT_API_URL`]; the sandbox's
    /// `<sandbox>/stripe` in local runs). `https`, or `http` to this machine only.
    pub api_url: String,
    /// The secret (`sk_…`) or restricted (`rk_…`) API key. Sent only in the `Authorization`
    /// header; never logged, never shown by `Debug`, never part of an error.
    pub secret_key: Secret,
    /// Plan → price.
    pub prices: PriceMap,
    /// Where Checkout sends the customer after paying (may carry Stripe's
    /// `{CHECKOUT_SESSION_ID}` placeholder).
    pub success_url: String,
    /// Where Checkout sends the customer who gives up.
    pub cancel_url: String,
    /// Where the customer portal's "return" link leads.
    pub portal_return_url: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// How many times a call is retried (same idempotency key) when Stripe allows it.
    pub max_retries: u32,
    /// A `Stripe-Version` to send, pinning the shapes of the API's answers; `None` uses the
    /// account's default. (Webhook payloads follow the endpoint's version, not this: the
    /// parser reads both the current and the pre-2025-03-31 shapes.)
    pub api_version: Option<String>,
}

impl StripeConfig {
    /// A configuration with the defaults: Stripe's API, [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_MAX_RETRIES`], the account's API version.
    pub fn new(
        secret_key: Secret,
        prices: PriceMap,
        success_url: impl Into<String>,
        cancel_url: impl Into<String>,
        portal_return_url: impl Into<String>,
    ) -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_owned(),
            secret_key,
            prices,
            success_url: success_url.into(),
            cancel_url: cancel_url.into(),
            portal_return_url: portal_return_url.into(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            api_version: None,
        }
    }

    /// The same, against another API URL (the sandbox, a staging proxy).
    pub fn with_api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = api_url.into();
        self
    }
}

/// Whether a host is this machine.
fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The API URL, checked: `https` (or `http` to a loopback address), no credentials, query or
/// fragment; without a trailing slash.
pub(crate) fn api_url(input: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(input.trim())
        .map_err(|e| ConfigError::ApiUrl(format!("`{input}` is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| ConfigError::ApiUrl(format!("`{input}` has no host")))?;
    match url.scheme() {
        "https" => {}
        "http" if loopback(host) => {}
        "http" => {
            return Err(ConfigError::ApiUrl(
                "plain http only to this machine (the sandbox); use https".to_owned(),
            ));
        }
        other => return Err(ConfigError::ApiUrl(format!("unsupported scheme `{other}`"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::ApiUrl(
            "the URL carries no credentials (the key goes in the secret key)".to_owned(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::ApiUrl(
            "the URL has no query or fragment".to_owned(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A URL customers are sent to: absolute `http(s)`.
pub(crate) fn return_url(name: &'static str, input: &str) -> Result<String, ConfigError> {
    let refuse = |reason: String| ConfigError::ReturnUrl { name, reason };
    // Stripe's placeholder is not valid in a URL's syntax everywhere; check the rest.
    let probe = input.replace("{CHECKOUT_SESSION_ID}", "cs");
    let url = url::Url::parse(probe.trim())
        .map_err(|e| refuse(format!("`{input}` is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(refuse(format!("`{input}` is not an http(s) URL")));
    }
    Ok(input.trim().to_owned())
}

/// The secret key, checked: a secret (`sk_test_…`, `sk_live_…`) or restricted (`rk_…`) key.
/// A publishable key (`pk_…`) is a common mistake and refused by name.
pub(crate) fn secret_key(key: &Secret) -> Result<(), ConfigError> {
    let value = key.expose();
    if value.starts_with("pk_") {
        return Err(ConfigError::SecretKey(
            "a publishable key (pk_…) was given; use the secret key (sk_…)".to_owned(),
        ));
    }
    if !(value.starts_with("sk_") || value.starts_with("rk_"))
        || value.len() < 8
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ConfigError::SecretKey(
            "expected a secret (sk_…) or restricted (rk_…) key".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

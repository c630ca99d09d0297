//! Checkout and customer-portal sessions: [`StripeGateway`], the [`BillingGateway`] on Stripe.
//!
//! # Idempotency keys
//!
//! Every create carries an `Idempotency-Key`. Stripe keeps a key's first answer for at least
//! 24 hours and answers a repeat with it; a key reused with other parameters is refused
//! (`idempotency_error`). So a key is derived from what is created, and ends in a fingerprint
//! of the request's exact parameters (and of this deployment's success URL, so two deployments
//! sharing one Stripe account never share a key) — a changed setting makes a new key instead
//! of a day of refusals:
//!
//! - customer: `multivio-customer-<user id>-<fingerprint>`. No time in it: while Stripe
//!   remembers the key, asking again for the same user and email gives back the same customer,
//!   never a second one.
//! - Checkout Session: `multivio-checkout-<user id>-<plan>-<window>-<fingerprint>`, the window
//!   being the [`CHECKOUT_KEY_WINDOW_SECONDS`]-long slice of time the request is made in. A
//!   double click, a retried request or a second tab within the window gets the same session
//!   (so one checkout, one subscription) while it is still open; later, a fresh session. The window stays short
//!   because Stripe also replays a stored failure (a 500) to every repeat of its key.
//! - portal session: `multivio-portal-<random>`, new for every link asked for (the key covers
//!   this call's own retries). A portal session creates nothing billable, and its URL is
//!   short-lived: handing out an earlier one would hand out a dead link.
//! - a Checkout Session replacing one found expired: the checkout's key and
//!   `-after-<expired session id>`.
//! - expiring a Checkout Session: `multivio-expire-<random>` (expiring is idempotent by
//!   itself; a fixed key would replay a stored failure for a day).
//!
//! # One subscription per customer
//!
//! Stripe lets a customer hold several subscriptions, and a Checkout Session stays payable for
//! a day: two checkout links asked for more than a window apart could both be paid. So once a
//! checkout's session exists, every other open session of the customer is expired (only the
//! newest link can be paid; an older one found paid meanwhile takes the new one back), then
//! the customer's subscriptions are looked at — after the other links are dead, so one made
//! through any of them is seen — and while one has not ended (any status but `canceled` and
//! `incomplete_expired`) the new session is expired too and the checkout refused
//! ([`BillingError::AlreadySubscribed`]). A session answered from a replayed key
//! (`Idempotent-Replayed: true`) is looked at first: expired since (a checkout for another
//! plan replaced it within the window) or paid (and perhaps cancelled since), it is replaced
//! by a new session under a key naming it — a few times at most, then the request fails. Two
//! checkouts asked for at the same moment may each expire the other's session: one link is
//! then dead, never two payable. The customers are Multivio's own (created for its users), so
//! their sessions and subscriptions are all Multivio's. This rests on Stripe's lists showing
//! what was just created or expired, as they do.
//!
//! # Retries
//!
//! A call is sent again (same key: it never creates twice) at most
//! [`StripeConfig::max_retries`] times when no answer came, or when Stripe says it may
//! (`Stripe-Should-Retry: true`; without that header: 409, 429 and 5xx), as Stripe's own
//! libraries do; `Stripe-Should-Retry: false` is never retried.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::contact::Email;
use multivio_domain::{Secret, UserId};
use multivio_ports::billing::{BillingError, BillingGateway, CheckoutLink, CheckoutRequest};
use serde::Deserialize;

use crate::config::{self, ConfigError, PriceMap, StripeConfig};
use crate::form::Form;
use crate::http::{self, MAX_ANSWER_BYTES, MAX_ERROR_BYTES};

/// How long a checkout's idempotency key lasts (see the module docs): 10 minutes.
pub const CHECKOUT_KEY_WINDOW_SECONDS: i64 = 600;

/// The longest Stripe message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// A Checkout Session Stripe created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// The hosted page to send the customer to.
    pub url: String,
    /// The Stripe customer it is for (`cus_…`): the one given, or the one created for it.
    pub customer_id: String,
    /// Whether the customer was created for this checkout (the user had none): the caller
    /// should store it on the user, so the next checkout and the webhooks find it.
    pub created_customer: bool,
    /// The idempotency key the session was created with.
    pub idempotency_key: String,
}

/// A customer-portal session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// `bps_…`.
    pub id: String,
    /// The portal's (short-lived) URL.
    pub url: String,
}

/// The billing gateway on Stripe's API.
#[derive(Clone)]
pub struct StripeGateway {
    client: reqwest::Client,
    api_url: String,
    secret_key: Secret,
    prices: PriceMap,
    success_url: String,
    cancel_url: String,
    portal_return_url: String,
    max_retries: u32,
    api_version: Option<String>,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_url", &self.api_url)
            .field("secret_key", &"[redacted]")
            .field("test_mode", &self.is_test_mode())
            .field("prices", &self.prices)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("portal_return_url", &self.portal_return_url)
            .field("max_retries", &self.max_retries)
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// What Stripe answers to a create (the fields read).
#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    object: String,
    #[serde(default)]
    url: Option<String>,
    /// Whether Stripe answered from the idempotency key's first answer
    /// (`Idempotent-Replayed: true`): the object may have changed since.
    #[serde(skip)]
    replayed: bool,
}

/// A successful answer.
struct Answer {
    body: Vec<u8>,
    /// `Idempotent-Replayed: true`.
    replayed: bool,
}

/// An object of a list (the fields read).
#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    status: Option<String>,
}

/// A page of a Stripe list.
#[derive(Debug, Deserialize)]
struct ListPage {
    data: Vec<Listed>,
    #[serde(default)]
    has_more: bool,
}

/// The subscription statuses that hold nothing any more.
const ENDED: [&str; 2] = ["canceled", "incomplete_expired"];

/// Objects asked for per page of a list (each answer stays well under the answer cap).
const LIST_PAGE: usize = 20;
/// Pages read of a list at most.
const LIST_PAGES: usize = 10;

/// Checkout Sessions asked for in one request at most (see `create_checkout_session`): a
/// replayed one found no longer open costs an attempt.
const MAX_CHECKOUT_ATTEMPTS: usize = 8;

/// Stripe's error answer.
#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
}

impl StripeGateway {
    /// The gateway: checks the configuration (API URL, key, return URLs) and builds its
    /// client.
    pub fn new(config: StripeConfig) -> Result<Self, ConfigError> {
        config::secret_key(&config.secret_key)?;
        if let Some(version) = &config.api_version
            && (version.is_empty() || !version.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::ApiUrl(format!(
                "`{version}` is not a Stripe API version"
            )));
        }
        Ok(Self {
            client: http::client(config.timeout)?,
            api_url: config::api_url(&config.api_url)?,
            success_url: config::return_url("success_url", &config.success_url)?,
            cancel_url: config::return_url("cancel_url", &config.cancel_url)?,
            portal_return_url: config::return_url("portal_return_url", &config.portal_return_url)?,
            secret_key: config.secret_key,
            prices: config.prices,
            max_retries: config.max_retries.min(5),
            api_version: config.api_version,
        })
    }

    /// The plan → price map.
    pub fn prices(&self) -> &PriceMap {
        &self.prices
    }

    /// Whether the key is a test-mode key (`sk_test_…`, `rk_test_…`).
    pub fn is_test_mode(&self) -> bool {
        let key = self.secret_key.expose();
        key.starts_with("sk_test_") || key.starts_with("rk_test_")
    }

    /// Creates a Stripe customer for a user (`email`, `metadata[user_id]`): its id (`cus_…`).
    /// Asking again for the same user and email gives the same customer while Stripe
    /// remembers the idempotency key (24 hours at least).
    pub async fn create_customer(
        &self,
        user_id: UserId,
        email: &Email,
    ) -> Result<String, BillingError> {
        let form = Form::new()
            .push("email", email.as_str())
            .push("metadata[user_id]", user_id.to_string());
        let key = format!("multivio-customer-{user_id}-{}", self.fingerprint(&form));
        let created = self
            .create("/v1/customers", &form, &key, "customer")
            .await?;
        Ok(created.id)
    }

    /// Creates a Checkout Session in subscription mode for the plan's price, creating the
    /// customer first when the user has none. `now` picks the idempotency key's window (see
    /// the module docs).
    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
        now: DateTime<Utc>,
    ) -> Result<CheckoutSession, BillingError> {
        let price = self
            .prices
            .price_of(&request.plan)
            .ok_or_else(|| BillingError::UnknownPlan(request.plan.to_string()))?;
        let (customer_id, created_customer) = match request
            .customer_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(existing) => (existing.to_owned(), false),
            None => (
                self.create_customer(request.user_id, &request.email)
                    .await?,
                true,
            ),
        };
        let user = request.user_id.to_string();
        let plan = request.plan.as_str();
        let form = Form::new()
            .push("mode", "subscription")
            .push("customer", customer_id.as_str())
            .push("client_reference_id", user.as_str())
            .push("line_items[0][price]", price)
            .push("line_items[0][quantity]", "1")
            .push("success_url", self.success_url.as_str())
            .push("cancel_url", self.cancel_url.as_str())
            .push("metadata[user_id]", user.as_str())
            .push("metadata[plan]", plan)
            .push("subscription_data[metadata][user_id]", user.as_str())
            .push("subscription_data[metadata][plan]", plan);
        let window = now.timestamp().div_euclid(CHECKOUT_KEY_WINDOW_SECONDS);
        let key = format!(
            "multivio-checkout-{user}-{plan}-{window}-{}",
            self.fingerprint(&form)
        );
        // A replayed answer (the key's first, within its window) may be a session that is no
        // longer open: expired since (a checkout for another plan replaced it) or paid (and
        // perhaps cancelled since). Then a new session, under a key naming that one.
        let mut attempt_key = key.clone();
        for _ in 0..MAX_CHECKOUT_ATTEMPTS {
            let created = self
                .create(
                    "/v1/checkout/sessions",
                    &form,
                    &attempt_key,
                    "checkout.session",
                )
                .await?;
            if created.replayed {
                match self.checkout_status(&created.id).await?.as_str() {
                    "open" => {}
                    "expired" | "complete" => {
                        attempt_key = format!("{key}-after-{}", created.id);
                        continue;
                    }
                    other => {
                        return Err(self.unavailable(format!(
                            "unexpected answer from Stripe: a Checkout Session `{other}`"
                        )));
                    }
                }
            }
            self.expire_other_checkouts(&customer_id, &created.id)
                .await?;
            // Looked at once the other links are dead: a subscription made through one of
            // them before is seen here, and the new link is taken back.
            if self.holds_subscription(&customer_id).await? {
                self.take_back(&created.id).await?;
                return Err(BillingError::AlreadySubscribed);
            }
            return Ok(CheckoutSession {
                url: link(created.url, "Checkout Session")?,
                id: created.id,
                customer_id,
                created_customer,
                idempotency_key: attempt_key,
            });
        }
        Err(self.unavailable(
            "this customer's checkouts replaced each other too often; try again".to_owned(),
        ))
    }

    /// Creates a customer-portal session for a customer, returning to the configured page.
    pub async fn create_portal_session(
        &self,
        customer_id: &str,
    ) -> Result<PortalSession, BillingError> {
        let customer = customer_id.trim();
        if customer.is_empty() {
            return Err(BillingError::Unavailable(
                "no Stripe customer to open the portal for".to_owned(),
            ));
        }
        let form = Form::new()
            .push("customer", customer)
            .push("return_url", self.portal_return_url.as_str());
        let key = format!("multivio-portal-{}", random_hex());
        let created = self
            .create(
                "/v1/billing_portal/sessions",
                &form,
                &key,
                "billing_portal.session",
            )
            .await?;
        Ok(PortalSession {
            url: link(created.url, "portal session")?,
            id: created.id,
        })
    }

    /// Whether the customer holds a subscription that has not ended.
    async fn holds_subscription(&self, customer_id: &str) -> Result<bool, BillingError> {
        // Stripe's default list: every status but `canceled`. One without a status counts.
        let listed = self
            .list("/v1/subscriptions", customer_id, None, true, |sub| {
                sub.status
                    .as_deref()
                    .is_none_or(|status| !ENDED.contains(&status))
            })
            .await?;
        Ok(!listed.is_empty())
    }

    /// Expires the customer's open Checkout Sessions but `keep` (see the module docs).
    async fn expire_other_checkouts(
        &self,
        customer_id: &str,
        keep: &str,
    ) -> Result<(), BillingError> {
        let open = self
            .list(
                "/v1/checkout/sessions",
                customer_id,
                Some("open"),
                false,
                |session| session.id != keep,
            )
            .await?;
        for session in open {
            if let Err(e) = self.expire_checkout(&session.id).await {
                // No longer open: paid meanwhile (or expired by itself, or by another
                // checkout) — which, Stripe says.
                let status = self.checkout_status(&session.id).await?;
                if status == "complete" {
                    self.take_back(keep).await?;
                    return Err(BillingError::AlreadySubscribed);
                }
                if status != "expired" {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Makes sure session `id` can no longer be paid: expired now, or no longer open anyway
    /// (paid — a replayed key's session may be the one the subscription came from — or
    /// expired).
    async fn take_back(&self, id: &str) -> Result<(), BillingError> {
        match self.expire_checkout(id).await {
            Ok(()) => Ok(()),
            Err(e) => match self.checkout_status(id).await?.as_str() {
                "open" => Err(e),
                _ => Ok(()),
            },
        }
    }

    async fn expire_checkout(&self, id: &str) -> Result<(), BillingError> {
        let path = format!("/v1/checkout/sessions/{}/expire", path_segment(id)?);
        // A fresh key each time: expiring is idempotent by nature, and a key's stored failure
        // would be replayed for a day.
        let key = format!("multivio-expire-{}", random_hex());
        self.create(&path, &Form::new(), &key, "checkout.session")
            .await
            .map(drop)
    }

    async fn checkout_status(&self, id: &str) -> Result<String, BillingError> {
        let path = format!("/v1/checkout/sessions/{}", path_segment(id)?);
        let answer = self
            .send(reqwest::Method::GET, &path, &Form::new(), None)
            .await?;
        let session: Listed = serde_json::from_slice(&answer.body)
            .map_err(|e| self.unavailable(format!("unexpected answer from Stripe: {e}")))?;
        Ok(session.status.unwrap_or_default())
    }

    /// The objects of a customer's list at `path` (with `status`, if given) that `wanted`
    /// keeps, page by page ([`LIST_PAGE`] a page, at most [`LIST_PAGES`] pages) — only the
    /// first one with `first`.
    async fn list(
        &self,
        path: &str,
        customer_id: &str,
        status: Option<&str>,
        first: bool,
        wanted: impl Fn(&Listed) -> bool,
    ) -> Result<Vec<Listed>, BillingError> {
        let mut kept = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..LIST_PAGES {
            let mut query = Form::new().push("customer", customer_id);
            if let Some(status) = status {
                query = query.push("status", status);
            }
            query = query.push("limit", LIST_PAGE.to_string());
            if let Some(after) = &after {
                query = query.push("starting_after", after.as_str());
            }
            let answer = self.send(reqwest::Method::GET, path, &query, None).await?;
            let page: ListPage = serde_json::from_slice(&answer.body)
                .map_err(|e| self.unavailable(format!("unexpected answer from Stripe: {e}")))?;
            after = page.data.last().map(|listed| listed.id.clone());
            let more = page.has_more && after.is_some();
            kept.extend(page.data.into_iter().filter(|listed| wanted(listed)));
            if !more || (first && !kept.is_empty()) {
                return Ok(kept);
            }
        }
        Err(self.unavailable(format!(
            "more than {} objects in the customer's list {path}",
            LIST_PAGE * LIST_PAGES
        )))
    }

    /// The first 16 hex digits of SHA-256 over the request's encoded parameters and this
    /// deployment's success URL.
    fn fingerprint(&self, form: &Form) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(self.success_url.as_bytes());
        ctx.update(b"\n");
        ctx.update(form.encode().as_bytes());
        let digest = ctx.finish();
        hex::encode(&digest.as_ref()[..8])
    }

    /// POSTs a create, retrying as the module docs say; the created object's id and URL.
    async fn create(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
        object: &str,
    ) -> Result<Created, BillingError> {
        let answer = self
            .send(reqwest::Method::POST, path, form, Some(idempotency_key))
            .await?;
        let mut created: Created = serde_json::from_slice(&answer.body)
            .map_err(|e| self.unavailable(format!("unexpected answer from Stripe: {e}")))?;
        created.replayed = answer.replayed;
        if created.object != object {
            return Err(self.unavailable(format!(
                "unexpected answer from Stripe: a {} instead of a {object}",
                created.object
            )));
        }
        Ok(created)
    }

    /// Sends a call (a POST's form as its body, a GET's as its query), retrying as the module
    /// docs say (a GET changes nothing, a POST carries its idempotency key); the answer's
    /// body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &Form,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, BillingError> {
        let mut url = format!("{}{path}", self.api_url);
        let body = form.encode();
        let get = method == reqwest::Method::GET;
        if get && !body.is_empty() {
            url.push('?');
            url.push_str(&body);
        }
        let mut attempt = 0u32;
        loop {
            let mut request = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(self.secret_key.expose());
            if !get {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone());
            }
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(version) = &self.api_version {
                request = request.header("Stripe-Version", version);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    if attempt < self.max_retries && !e.is_builder() {
                        tracing::info!(path, attempt, "no answer from Stripe; sending again");
                        backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(self.unavailable(format!("Stripe did not answer: {e}")));
                }
            };
            let status = response.status();
            if status.is_success() {
                let replayed = response
                    .headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                let body = http::read_capped(response, MAX_ANSWER_BYTES)
                    .await
                    .map_err(|e| self.unavailable(format!("Stripe's answer: {e}")))?;
                return Ok(Answer { body, replayed });
            }
            let should_retry = match response
                .headers()
                .get("stripe-should-retry")
                .and_then(|v| v.to_str().ok())
            {
                Some("true") => true,
                Some("false") => false,
                _ => status.as_u16() == 409 || status.as_u16() == 429 || status.is_server_error(),
            };
            let text = match http::read_capped(response, MAX_ERROR_BYTES).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("({e})"),
            };
            if should_retry && attempt < self.max_retries {
                tracing::info!(
                    path,
                    attempt,
                    status = status.as_u16(),
                    "Stripe asks for a retry"
                );
                backoff(attempt).await;
                attempt += 1;
                continue;
            }
            return Err(self.refused(status.as_u16(), &text));
        }
    }

    /// Stripe's refusal as an error: its status, type, code and message (never the key).
    fn refused(&self, status: u16, text: &str) -> BillingError {
        let detail = match serde_json::from_str::<ErrorAnswer>(text) {
            Ok(ErrorAnswer { error }) => {
                let mut kind: Vec<&str> = Vec::new();
                kind.extend(error.kind.as_deref());
                kind.extend(error.code.as_deref());
                let mut out = error.message.unwrap_or_else(|| "no message".to_owned());
                if let Some(param) = error.param {
                    out.push_str(&format!(" (param {param})"));
                }
                if !kind.is_empty() {
                    out = format!("{}: {out}", kind.join("/"));
                }
                out
            }
            Err(_) if text.trim().is_empty() => "no message".to_owned(),
            Err(_) => format!("unexpected error answer: {}", text.trim()),
        };
        self.unavailable(format!("Stripe answered {status}: {detail}"))
    }

    /// An unavailable error with a bounded message, the key scrubbed from it.
    fn unavailable(&self, message: String) -> BillingError {
        // Scrubbed before it is cut: a key cut in two would no longer be found.
        let key = self.secret_key.expose();
        let message = if !key.is_empty() && message.contains(key) {
            message.replace(key, "[redacted]")
        } else {
            message
        };
        BillingError::Unavailable(excerpt(&message, MAX_MESSAGE_CHARS))
    }
}

#[async_trait]
impl BillingGateway for StripeGateway {
    async fn checkout_url(&self, request: &CheckoutRequest) -> Result<CheckoutLink, BillingError> {
        let session = self.create_checkout_session(request, Utc::now()).await?;
        if session.created_customer {
            tracing::info!(
                user = %request.user_id,
                customer = %session.customer_id,
                "Stripe customer created for a checkout"
            );
        }
        Ok(CheckoutLink {
            url: session.url,
            customer_id: session.customer_id,
        })
    }

    async fn portal_url(&self, customer_id: &str) -> Result<String, BillingError> {
        Ok(self.create_portal_session(customer_id).await?.url)
    }
}

/// The URL a session answered with: absolute `http(s)`.
fn link(url: Option<String>, what: &str) -> Result<String, BillingError> {
    let url =
        url.ok_or_else(|| BillingError::Unavailable(format!("Stripe's {what} has no URL")))?;
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => Ok(url),
        _ => Err(BillingError::Unavailable(format!(
            "Stripe's {what} has an unusable URL"
        ))),
    }
}

/// An id Stripe gave, as a URL path segment: ids are `[A-Za-z0-9_]`, anything else is refused
/// rather than sent.
fn path_segment(id: &str) -> Result<&str, BillingError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(BillingError::Unavailable(format!(
            "Stripe answered an unusable id `{}`",
            excerpt(id, 40)
        )))
    }
}

/// Waits before a retry: 0.5 s, then 1 s, 2 s at most.
async fn backoff(attempt: u32) {
    let millis = 500u64.saturating_mul(1 << attempt.min(2));
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// 128 random bits, hex (the time in nanoseconds should the system's randomness fail: a key
/// must never repeat, or an old portal session would be replayed).
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes) {
        Ok(()) => hex::encode(bytes),
        Err(_) => format!("t{}", Utc::now().timestamp_nanos_opt().unwrap_or_default()),
    }
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

//! The fake of Stripe, mounted at `/stripe` (the API's base URL is `<sandbox>/stripe`, so
//! calls go to `<sandbox>/stripe/v1/…`).
//!
//! It is as strict as Stripe about what Multivio sends, with Stripe's status codes and error
//! bodies (`{"error": {"type", "code", "message", "param"}}`), and a little stricter where
//! Multivio promises more:
//!
//! - Every `/v1` call needs `Authorization: Bearer <key>` with the sandbox's key,
//!   [`credentials::STRIPE_SECRET_KEY`]: none is a 401 ("You did not provide an API key…"),
//!   another key a 401 naming the key masked as Stripe does. (Stripe also takes HTTP Basic;
//!   the fake wants what Multivio sends.)
//! - Bodies are `application/x-www-form-urlencoded`, nested parameters as
//!   `line_items[0][price]`. A JSON (or any other) body is Stripe's 400 "Invalid request
//!   (check that your POST content type is application/x-www-form-urlencoded)…"; an unknown
//!   parameter is a 400 `parameter_unknown`, a missing one `parameter_missing`; a parameter
//!   given twice is a 400 too (Multivio never sends one twice).
//! - Creates need an `Idempotency-Key` (at most 255 characters) — Stripe makes it optional,
//!   the sandbox does not, since Multivio promises one on every create. The same key with the
//!   same parameters (any order) on the same endpoint answers the first answer again, with
//!   `Idempotent-Replayed: true`, and creates nothing; with other parameters or on another
//!   endpoint it is Stripe's 400 `idempotency_error` ("Keys for idempotent requests can only
//!   be used with the same parameters they were first used with…"). Refused requests are not
//!   remembered (Stripe keeps a key's answer only once the request was accepted). Keys are
//!   kept for the sandbox's life (Stripe: at least 24 hours).
//!
//! The API:
//!
//! - `POST /v1/customers`: `email` (checked as an address: 400 `email_invalid`), `name`,
//!   `description`, `metadata[…]` (at most 50 keys of 40 characters, values of 500). Answers
//!   the Customer (`cus_…`).
//! - `POST /v1/checkout/sessions`: `mode` (only `subscription` is faked), `line_items[i][price]`
//!   (a price the fake knows, else 400 `resource_missing` "No such price") and
//!   `line_items[i][quantity]` (required, positive), `success_url` (required here; it may
//!   carry `{CHECKOUT_SESSION_ID}`), `cancel_url`, `customer` (must exist) or
//!   `customer_email` (not both), `client_reference_id` (at most 200 characters),
//!   `metadata[…]`, `subscription_data[metadata][…]`, `allow_promotion_codes`. Answers the
//!   Checkout Session (`cs_test_…`, `status: open`) whose `url` is the fake's checkout page,
//!   `<sandbox>/stripe/c/pay/<id>`.
//! - `POST /v1/billing_portal/sessions`: `customer` (required, must exist), `return_url`.
//!   Answers the portal session (`bps_…`) whose `url` is the fake's portal page,
//!   `<sandbox>/stripe/p/session/<id>`.
//! - `GET /v1/customers/{id}`, `GET /v1/checkout/sessions/{id}`, `GET /v1/subscriptions/{id}`:
//!   the object, or 404 `resource_missing`.
//! - `POST /v1/checkout/sessions/{id}/expire` (no parameters): an open session becomes
//!   `expired` (its `url` null; its page says so and cannot be paid); any other is a 400.
//! - `GET /v1/checkout/sessions` (`customer`, `status`: `open`, `complete` or `expired`) and
//!   `GET /v1/subscriptions` (`customer`, `status`: Stripe's, `all`, `ended`; none: all but
//!   `canceled`), with `limit` (1–100, default 10) and `starting_after`: Stripe's list
//!   (`object: list`, `data` newest first, `has_more`); another parameter is a 400
//!   `parameter_unknown`.
//!
//! Objects are shown as API version [`API_VERSION`] (2025-03-31.basil: billing periods on the
//! subscription's items, an invoice's subscription under `parent.subscription_details`, its
//! lines' price under `pricing.price_details`). A request's `Stripe-Version` header, or the
//! webhook's `api_version`, older than 2025-03-31 shows them as before (periods on the
//! subscription, `invoice.subscription`, the lines' `price`).
//!
//! Known prices: [`credentials::STRIPE_PRICE_PRO`] ($19.00 a month) and
//! [`credentials::STRIPE_PRICE_BUSINESS`] ($49.00 a month) unless a test sets others.
//!
//! Pages, for a person trying it out:
//!
//! - `GET /c/pay/{session}`: the checkout page (price, amount, a "Subscribe" button, a cancel
//!   link). `POST /c/pay/{session}` completes the checkout as `complete_checkout` does and
//!   answers 303 to the session's `success_url` (with `{CHECKOUT_SESSION_ID}` replaced).
//! - `GET /p/session/{portal session}`: the portal: the customer's subscriptions, each with a
//!   "Cancel" button (`POST /p/session/{id}/cancel`, form `subscription=sub_…`: cancelled at
//!   once, as `cancel_subscription` does, then 303 back), and a link to the `return_url`.
//!
//! Control endpoints, for tests (JSON bodies; unknown fields are a 400; an unknown session,
//! subscription, price or event a 404 `{"error": "…"}`):
//!
//! - `POST /_sandbox/webhook {"url": "http://…", "secret"?: "whsec_…", "api_version"?: "…"}`:
//!   where events are delivered (`secret` defaults to
//!   [`credentials::STRIPE_WEBHOOK_SECRET`]; `api_version` to [`API_VERSION`]). Answers the
//!   endpoint. `GET` shows it (`null` when none), `DELETE` removes it (events are then still
//!   made and listed, and delivered to nobody).
//! - `POST /_sandbox/prices {"prices": [{"id": "price_…", "unit_amount": 1900, "currency"?:
//!   "usd"}]}`: replaces the known prices; `GET` lists them.
//! - `POST /_sandbox/complete_checkout {"session": "cs_…", "deliver"?: true, "signed_at"?:
//!   unix}`: completes an open checkout as the customer would: the customer is created if the
//!   session had only an email, the subscription (`sub_…`, `active`, a month's period, the
//!   session's `subscription_data[metadata]`) and its paid invoice (`in_…`) are created, the
//!   session becomes `complete`, and three events are made and delivered in this order:
//!   `checkout.session.completed`, `customer.subscription.created`, `invoice.paid`. Answers
//!   `{"session", "subscription", "invoice", "events": ["evt_…"], "deliveries": [delivery]}`.
//!   A session already completed is a 409, an expired one a 410.
//! - `POST /_sandbox/cancel_subscription {"subscription": "sub_…", "at_period_end"?: false}`:
//!   cancels at once (`status: canceled`, `ended_at`; event `customer.subscription.deleted`) or
//!   at the period's end (`cancel_at_period_end: true`; event `customer.subscription.updated`
//!   with `previous_attributes`). A subscription already canceled is a 409.
//! - `POST /_sandbox/update_subscription {"subscription": "sub_…", "price"?: "price_…",
//!   "status"?: "past_due"}`: moves the subscription to another known price and/or to one of
//!   Stripe's statuses (no proration, no invoice); event `customer.subscription.updated` with
//!   `previous_attributes`.
//! - `POST /_sandbox/fail_payment {"subscription": "sub_…"}`: a renewal's payment fails: an
//!   open invoice (`attempt_count: 1`, a retry in 3 days), the subscription `past_due`; events
//!   `invoice.payment_failed`, then `customer.subscription.updated`.
//! - `POST /_sandbox/send_event {"type": "…", "object": {…}, "previous_attributes"?: {…},
//!   "id"?: "evt_…", "created"?: unix, "signed_at"?: unix, "deliver"?: true}`: makes an
//!   arbitrary event around `object` (Stripe's envelope: `id`, `object: event`, `api_version`,
//!   `created`, `data`, `livemode`, `pending_webhooks`, `request`, `type`) and delivers it.
//!   Answers `{"event": {…}, "deliveries": [delivery]}`. An `id` already used is a 409.
//! - `POST /_sandbox/resend {"event": "evt_…", "signed_at"?: unix}`: delivers a made event
//!   again, the same bytes with a fresh signature, as Stripe's retries do (duplicates).
//!   Answers `{"deliveries": [delivery]}`.
//! - `GET /_sandbox/events`: every event made, oldest first: `[{"id", "type", "created",
//!   "event": {…}, "deliveries": [delivery]}]`.
//!
//! A delivery is a `POST` to the webhook URL with the event's JSON, `Content-Type:
//! application/json; charset=utf-8`, `User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)`
//! and `Stripe-Signature: t=<signed_at or now>,v1=<HMAC-SHA256 of "<t>.<body>" keyed by the
//! secret>`, exactly as Stripe signs. The fake waits for each answer (10 s at most) before the
//! next, does not retry, and reports each as `{"event", "type", "url", "signature", "status":
//! 200 | null, "body": "…" (the first 4 KiB) | null, "error": "…" | null, "at"}`.
//!
//! All the paths above are under `/stripe` (`/stripe/_sandbox/…`). Every request is recorded in
//! the sandbox's request log under the platform `stripe`.

// A refused control answers with the refusal itself; a response is its error.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::common;
use crate::credentials;
use crate::{SandboxState, lock};

const PLATFORM: &str = "stripe";
/// The API version objects and events are shown as, unless asked for another.
pub const API_VERSION: &str = "2025-03-31.basil";
/// Versions before this show the older shapes.
const BASIL: &str = "2025-03-31";
const JSON_REFUSED: &str = "Invalid request (check that your POST content type is \
     application/x-www-form-urlencoded). If you have any questions, we can help at \
     https://support.stripe.com/.";
const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the \
     Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). \
     See https://stripe.com/docs/api#authentication for details, or we can help at \
     https://support.stripe.com/.";
const STATUSES: &[&str] = &[
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
];
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_DELIVERY_ANSWER: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Price {
    id: String,
    unit_amount: i64,
    #[serde(default = "usd")]
    currency: String,
}

fn usd() -> String {
    "usd".to_owned()
}

#[derive(Debug, Clone)]
struct Customer {
    id: String,
    email: Option<String>,
    name: Option<String>,
    description: Option<String>,
    metadata: BTreeMap<String, String>,
    created: i64,
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    customer: Option<String>,
    customer_email: Option<String>,
    client_reference_id: Option<String>,
    /// (price, quantity).
    line_items: Vec<(String, i64)>,
    success_url: String,
    cancel_url: Option<String>,
    metadata: BTreeMap<String, String>,
    subscription_metadata: BTreeMap<String, String>,
    complete: bool,
    /// Expired through the API: it can no longer be completed.
    expired: bool,
    subscription: Option<String>,
    invoice: Option<String>,
    created: i64,
}

#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    item_id: String,
    customer: String,
    price: String,
    quantity: i64,
    status: String,
    metadata: BTreeMap<String, String>,
    created: i64,
    current_period_start: i64,
    current_period_end: i64,
    cancel_at_period_end: bool,
    cancel_at: Option<i64>,
    canceled_at: Option<i64>,
    ended_at: Option<i64>,
    latest_invoice: Option<String>,
}

#[derive(Debug, Clone)]
struct Invoice {
    id: String,
    customer: String,
    subscription: String,
    subscription_item: String,
    price: String,
    quantity: i64,
    amount: i64,
    currency: String,
    paid: bool,
    billing_reason: &'static str,
    line_start: i64,
    line_end: i64,
    metadata: BTreeMap<String, String>,
    created: i64,
}

#[derive(Debug, Clone)]
struct PortalSession {
    id: String,
    customer: String,
    return_url: Option<String>,
    created: i64,
}

/// A create's first answer, by idempotency key.
#[derive(Debug, Clone)]
struct Remembered {
    endpoint: String,
    params: Vec<(String, String)>,
    body: Value,
}

/// Where events go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Webhook {
    url: String,
    #[serde(default = "default_secret")]
    secret: String,
    #[serde(default = "default_version")]
    api_version: String,
}

fn default_secret() -> String {
    credentials::STRIPE_WEBHOOK_SECRET.to_owned()
}

fn default_version() -> String {
    API_VERSION.to_owned()
}

/// One delivery of an event.
#[derive(Debug, Clone, Serialize)]
struct Delivery {
    event: String,
    #[serde(rename = "type")]
    event_type: String,
    url: String,
    signature: String,
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct StoredEvent {
    id: String,
    event_type: String,
    created: i64,
    /// The exact bytes delivered (and signed).
    body: Vec<u8>,
    deliveries: Vec<Delivery>,
}

/// What the fake holds.
#[derive(Debug)]
pub struct State {
    prices: BTreeMap<String, Price>,
    customers: HashMap<String, Customer>,
    sessions: HashMap<String, Session>,
    subscriptions: HashMap<String, Subscription>,
    invoices: HashMap<String, Invoice>,
    portal_sessions: HashMap<String, PortalSession>,
    idempotency: HashMap<String, Remembered>,
    webhook: Option<Webhook>,
    events: Vec<StoredEvent>,
    event_index: HashMap<String, usize>,
}

impl Default for State {
    fn default() -> Self {
        let prices = [
            (credentials::STRIPE_PRICE_PRO, 1900),
            (credentials::STRIPE_PRICE_BUSINESS, 4900),
        ]
        .into_iter()
        .map(|(id, unit_amount)| {
            (
                id.to_owned(),
                Price {
                    id: id.to_owned(),
                    unit_amount,
                    currency: usd(),
                },
            )
        })
        .collect();
        Self {
            prices,
            customers: HashMap::new(),
            sessions: HashMap::new(),
            subscriptions: HashMap::new(),
            invoices: HashMap::new(),
            portal_sessions: HashMap::new(),
            idempotency: HashMap::new(),
            webhook: None,
            events: Vec::new(),
            event_index: HashMap::new(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/customers", web::post().to(create_customer))
        .route("/v1/customers/{id}", web::get().to(get_customer))
        .route("/v1/checkout/sessions", web::post().to(create_checkout))
        .route("/v1/checkout/sessions", web::get().to(list_checkouts))
        .route("/v1/checkout/sessions/{id}", web::get().to(get_checkout))
        .route(
            "/v1/checkout/sessions/{id}/expire",
            web::post().to(expire_checkout),
        )
        .route("/v1/subscriptions", web::get().to(list_subscriptions))
        .route("/v1/billing_portal/sessions", web::post().to(create_portal))
        .route("/v1/subscriptions/{id}", web::get().to(get_subscription))
        .route("/c/pay/{id}", web::get().to(checkout_page))
        .route("/c/pay/{id}", web::post().to(checkout_pay))
        .route("/p/session/{id}", web::get().to(portal_page))
        .route("/p/session/{id}/cancel", web::post().to(portal_cancel))
        .route("/_sandbox/webhook", web::post().to(set_webhook))
        .route("/_sandbox/webhook", web::get().to(get_webhook))
        .route("/_sandbox/webhook", web::delete().to(clear_webhook))
        .route("/_sandbox/prices", web::post().to(set_prices))
        .route("/_sandbox/prices", web::get().to(get_prices))
        .route(
            "/_sandbox/complete_checkout",
            web::post().to(complete_checkout),
        )
        .route(
            "/_sandbox/cancel_subscription",
            web::post().to(cancel_subscription),
        )
        .route(
            "/_sandbox/update_subscription",
            web::post().to(update_subscription),
        )
        .route("/_sandbox/fail_payment", web::post().to(fail_payment))
        .route("/_sandbox/send_event", web::post().to(send_event))
        .route("/_sandbox/resend", web::post().to(resend))
        .route("/_sandbox/events", web::get().to(list_events));
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// An error answer, boxed to keep `Result`s small.
type Refused = Box<HttpResponse>;

/// Stripe's error body.
fn stripe_error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> Refused {
    let mut error = Map::new();
    error.insert("type".to_owned(), json!(kind));
    if let Some(code) = code {
        error.insert("code".to_owned(), json!(code));
        error.insert(
            "doc_url".to_owned(),
            json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            )),
        );
    }
    error.insert("message".to_owned(), json!(message));
    if let Some(param) = param {
        error.insert("param".to_owned(), json!(param));
    }
    Box::new(
        HttpResponse::build(status)
            .insert_header(("Request-Id", common::token("req_")))
            .json(json!({ "error": error })),
    )
}

fn invalid(code: Option<&str>, message: &str, param: Option<&str>) -> Refused {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        code,
        message,
        param,
    )
}

fn missing(param: &str) -> Refused {
    invalid(
        Some("parameter_missing"),
        &format!("Missing required param: {param}."),
        Some(param),
    )
}

fn no_such(what: &str, id: &str, param: &str, status: StatusCode) -> Refused {
    stripe_error(
        status,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such {what}: '{id}'"),
        Some(param),
    )
}

/// A control's refusal.
fn control_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// The fake's URL as the request reached it.
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/{PLATFORM}", info.scheme(), info.host())
}

/// Whether objects are shown in the shapes from before 2025-03-31.
fn legacy(version: &str) -> bool {
    version < BASIL
}

/// The version a request asks for (`Stripe-Version`), else [`API_VERSION`].
fn request_version(req: &HttpRequest) -> String {
    req.headers()
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map_or_else(default_version, str::to_owned)
}

/// The sandbox key, or Stripe's 401.
fn authenticate(req: &HttpRequest) -> Result<(), Refused> {
    let Some(header) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            NO_KEY,
            None,
        ));
    };
    let key = header.strip_prefix("Bearer ").unwrap_or("").trim();
    if key == credentials::STRIPE_SECRET_KEY {
        return Ok(());
    }
    let masked = if key.len() > 12 {
        format!(
            "{}{}{}",
            &key[..8],
            "*".repeat(key.len() - 12),
            &key[key.len() - 4..]
        )
    } else {
        "*".repeat(key.len())
    };
    Err(stripe_error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        None,
        &format!("Invalid API Key provided: {masked}"),
        None,
    ))
}

/// A form key's path: `line_items[0][price]` → `["line_items", "0", "price"]`.
fn key_path(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    if head.is_empty() || head.contains(']') {
        return None;
    }
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return None;
        }
        path.push(segment);
        rest = &inner[close + 1..];
    }
    Some(path)
}

/// A request's form parameters (in order), or Stripe's refusal of the body.
fn form(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, Refused> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    if common::content_type(req) != "application/x-www-form-urlencoded" {
        return Err(invalid(None, JSON_REFUSED, None));
    }
    let mut seen = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body).into_owned() {
        if key_path(&key).is_none() {
            return Err(invalid(
                None,
                &format!("Invalid parameter name: {key}"),
                Some(&key),
            ));
        }
        if !seen.insert(key.clone()) {
            return Err(invalid(
                None,
                &format!(
                    "The sandbox refuses `{key}` given twice (Stripe would keep one of them \
                     silently)."
                ),
                Some(&key),
            ));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// The `Idempotency-Key` the sandbox requires on creates.
fn idempotency_key(req: &HttpRequest) -> Result<String, Refused> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(invalid(
            None,
            "The sandbox requires an Idempotency-Key header on every create: Multivio promises \
             one (Stripe itself would accept the request without).",
            None,
        ));
    }
    if key.len() > 255 {
        return Err(invalid(
            None,
            "Invalid Idempotency-Key: keys must be at most 255 characters long.",
            None,
        ));
    }
    Ok(key.to_owned())
}

/// A replay of the key's first answer, an `idempotency_error`, or `None` (a new key).
fn replay(
    s: &State,
    key: &str,
    endpoint: &str,
    params: &[(String, String)],
) -> Option<HttpResponse> {
    let remembered = s.idempotency.get(key)?;
    let mut sorted = params.to_vec();
    sorted.sort();
    if remembered.endpoint != endpoint || remembered.params != sorted {
        return Some(*stripe_error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            None,
            &format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            ),
            None,
        ));
    }
    Some(
        HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .insert_header(("Idempotency-Key", key))
            .insert_header(("Request-Id", common::token("req_")))
            .json(&remembered.body),
    )
}

fn remember(s: &mut State, key: String, endpoint: &str, params: &[(String, String)], body: &Value) {
    let mut sorted = params.to_vec();
    sorted.sort();
    s.idempotency.insert(
        key,
        Remembered {
            endpoint: endpoint.to_owned(),
            params: sorted,
            body: body.clone(),
        },
    );
}

/// The parameters of a create, split into top-level values, `metadata[…]`, and what is left,
/// checking each key against what the endpoint takes.
struct Params {
    top: HashMap<String, String>,
    metadata: BTreeMap<String, String>,
    subscription_metadata: BTreeMap<String, String>,
    /// `line_items[i][field]` → value, by index.
    line_items: BTreeMap<String, HashMap<String, String>>,
}

fn split_params(pairs: &[(String, String)], allowed: &[&str]) -> Result<Params, Refused> {
    let mut p = Params {
        top: HashMap::new(),
        metadata: BTreeMap::new(),
        subscription_metadata: BTreeMap::new(),
        line_items: BTreeMap::new(),
    };
    for (key, value) in pairs {
        let unknown = || {
            invalid(
                Some("parameter_unknown"),
                &format!("Received unknown parameter: {key}"),
                Some(key),
            )
        };
        let path = key_path(key).ok_or_else(unknown)?;
        match path.as_slice() {
            [name] if allowed.contains(name) => {
                p.top.insert((*name).to_owned(), value.clone());
            }
            ["metadata", k] if allowed.contains(&"metadata") => {
                p.metadata.insert((*k).to_owned(), value.clone());
            }
            ["subscription_data", "metadata", k] if allowed.contains(&"subscription_data") => {
                p.subscription_metadata
                    .insert((*k).to_owned(), value.clone());
            }
            ["line_items", i, field @ ("price" | "quantity")]
                if allowed.contains(&"line_items") =>
            {
                p.line_items
                    .entry((*i).to_owned())
                    .or_default()
                    .insert((*field).to_owned(), value.clone());
            }
            _ => return Err(unknown()),
        }
    }
    check_metadata(&p.metadata, "metadata")?;
    check_metadata(&p.subscription_metadata, "subscription_data[metadata]")?;
    Ok(p)
}

fn check_metadata(metadata: &BTreeMap<String, String>, param: &str) -> Result<(), Refused> {
    if metadata.len() > 50 {
        return Err(invalid(
            None,
            "Invalid metadata: metadata can have up to 50 keys.",
            Some(param),
        ));
    }
    for (k, v) in metadata {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(invalid(
                None,
                &format!("Invalid metadata key `{k}`: keys are 1 to 40 characters."),
                Some(&format!("{param}[{k}]")),
            ));
        }
        if v.chars().count() > 500 {
            return Err(invalid(
                None,
                "Invalid metadata: values can be up to 500 characters long.",
                Some(&format!("{param}[{k}]")),
            ));
        }
    }
    Ok(())
}

fn valid_url(text: &str) -> bool {
    let probe = text.replace("{CHECKOUT_SESSION_ID}", "cs");
    url::Url::parse(&probe)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn url_param(p: &Params, name: &str) -> Result<Option<String>, Refused> {
    match p.top.get(name) {
        Some(v) if !valid_url(v) => {
            Err(invalid(Some("url_invalid"), "Not a valid URL", Some(name)))
        }
        other => Ok(other.cloned()),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Signs a body as Stripe does: `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t},v1={}", hex::encode(ctx.sign().as_ref()))
}

fn month_after(t: i64) -> i64 {
    DateTime::from_timestamp(t, 0)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .map_or(t + 30 * 86_400, |d| d.timestamp())
}

// ---------------------------------------------------------------------------------------------
// Objects as JSON

fn customer_json(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": c.created,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": c.description,
        "discount": null,
        "email": c.email,
        "invoice_prefix": c.id.trim_start_matches("cus_").chars().take(8).collect::<String>().to_uppercase(),
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null
        },
        "livemode": false,
        "metadata": c.metadata,
        "name": c.name,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null
    })
}

fn session_json(s: &State, session: &Session, base: &str) -> Value {
    let amount: i64 = session
        .line_items
        .iter()
        .map(|(price, qty)| s.prices.get(price).map_or(0, |p| p.unit_amount) * qty)
        .sum();
    let currency = session
        .line_items
        .first()
        .and_then(|(price, _)| s.prices.get(price))
        .map(|p| p.currency.clone());
    json!({
        "id": session.id,
        "object": "checkout.session",
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "billing_address_collection": null,
        "cancel_url": session.cancel_url,
        "client_reference_id": session.client_reference_id,
        "created": session.created,
        "currency": currency,
        "customer": session.customer,
        "customer_creation": if session.customer.is_some() && session.customer_email.is_none() { Value::Null } else { json!("always") },
        "customer_email": session.customer_email,
        "expires_at": session.created + 86_400,
        "invoice": session.invoice,
        "livemode": false,
        "locale": null,
        "metadata": session.metadata,
        "mode": "subscription",
        "payment_intent": null,
        "payment_method_types": ["card"],
        "payment_status": if session.complete { "paid" } else { "unpaid" },
        "status": session_status(session),
        "submit_type": null,
        "subscription": session.subscription,
        "success_url": session.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": if session_status(session) == "open" { json!(format!("{base}/c/pay/{}", session.id)) } else { Value::Null }
    })
}

/// `open`, `complete` or `expired`.
fn session_status(session: &Session) -> &'static str {
    if session.complete {
        "complete"
    } else if session.expired {
        "expired"
    } else {
        "open"
    }
}

fn portal_json(p: &PortalSession, base: &str) -> Value {
    json!({
        "id": p.id,
        "object": "billing_portal.session",
        "configuration": "bpc_sandbox",
        "created": p.created,
        "customer": p.customer,
        "flow": null,
        "livemode": false,
        "locale": null,
        "on_behalf_of": null,
        "return_url": p.return_url,
        "url": format!("{base}/p/session/{}", p.id)
    })
}

fn price_json(price: &Price) -> Value {
    json!({
        "id": price.id,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": 1_700_000_000,
        "currency": price.currency,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": format!("prod_{}", price.id.trim_start_matches("price_")),
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "tax_behavior": "unspecified",
        "type": "recurring",
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": price.unit_amount.to_string()
    })
}

fn price_of(s: &State, id: &str) -> Price {
    s.prices.get(id).cloned().unwrap_or(Price {
        id: id.to_owned(),
        unit_amount: 0,
        currency: usd(),
    })
}

fn subscription_json(s: &State, sub: &Subscription, version: &str) -> Value {
    let price = price_of(s, &sub.price);
    let mut item = json!({
        "id": sub.item_id,
        "object": "subscription_item",
        "created": sub.created,
        "discounts": [],
        "metadata": {},
        "price": price_json(&price),
        "quantity": sub.quantity,
        "subscription": sub.id,
        "tax_rates": []
    });
    let mut value = json!({
        "id": sub.id,
        "object": "subscription",
        "application": null,
        "automatic_tax": {"enabled": false, "liability": null},
        "billing_cycle_anchor": sub.current_period_start,
        "cancel_at": sub.cancel_at,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": sub.canceled_at,
        "collection_method": "charge_automatically",
        "created": sub.created,
        "currency": price.currency,
        "customer": sub.customer,
        "default_payment_method": "pm_card_visa",
        "discounts": [],
        "ended_at": sub.ended_at,
        "items": Value::Null,
        "latest_invoice": sub.latest_invoice,
        "livemode": false,
        "metadata": sub.metadata,
        "start_date": sub.created,
        "status": sub.status,
        "test_clock": null,
        "trial_end": null,
        "trial_start": null
    });
    if legacy(version) {
        value["current_period_start"] = json!(sub.current_period_start);
        value["current_period_end"] = json!(sub.current_period_end);
        let plan = json!({"id": price.id, "object": "plan", "amount": price.unit_amount,
            "currency": price.currency, "interval": "month", "interval_count": 1});
        value["plan"] = plan.clone();
        value["quantity"] = json!(sub.quantity);
        item["plan"] = plan;
    } else {
        item["current_period_start"] = json!(sub.current_period_start);
        item["current_period_end"] = json!(sub.current_period_end);
    }
    value["items"] = json!({
        "object": "list",
        "data": [item],
        "has_more": false,
        "total_count": 1,
        "url": format!("/v1/subscription_items?subscription={}", sub.id)
    });
    value
}

fn invoice_json(s: &State, inv: &Invoice, version: &str) -> Value {
    let price = price_of(s, &inv.price);
    let mut line = json!({
        "id": format!("il_{}", inv.id.trim_start_matches("in_")),
        "object": "line_item",
        "amount": inv.amount,
        "currency": inv.currency,
        "description": format!("{} × {} (at {} / month)", inv.quantity, price.id, price.unit_amount),
        "discounts": [],
        "invoice": inv.id,
        "livemode": false,
        "metadata": inv.metadata,
        "period": {"start": inv.line_start, "end": inv.line_end},
        "quantity": inv.quantity
    });
    let mut value = json!({
        "id": inv.id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": inv.amount,
        "amount_paid": if inv.paid { inv.amount } else { 0 },
        "amount_remaining": if inv.paid { 0 } else { inv.amount },
        "attempt_count": 1,
        "attempted": true,
        "auto_advance": !inv.paid,
        "billing_reason": inv.billing_reason,
        "collection_method": "charge_automatically",
        "created": inv.created,
        "currency": inv.currency,
        "customer": inv.customer,
        "customer_email": s.customers.get(&inv.customer).and_then(|c| c.email.clone()),
        "hosted_invoice_url": null,
        "lines": Value::Null,
        "livemode": false,
        "next_payment_attempt": if inv.paid { Value::Null } else { json!(inv.created + 3 * 86_400) },
        "number": format!("SANDBOX-{}", inv.id.trim_start_matches("in_").chars().take(6).collect::<String>().to_uppercase()),
        "period_end": inv.created,
        "period_start": inv.created,
        "status": if inv.paid { "paid" } else { "open" },
        "subtotal": inv.amount,
        "total": inv.amount
    });
    if legacy(version) {
        value["subscription"] = json!(inv.subscription);
        value["paid"] = json!(inv.paid);
        line["price"] = price_json(&price);
        line["plan"] = json!({"id": price.id, "object": "plan"});
        line["subscription"] = json!(inv.subscription);
        line["subscription_item"] = json!(inv.subscription_item);
        line["type"] = json!("subscription");
        line["proration"] = json!(false);
    } else {
        value["parent"] = json!({
            "quote_details": null,
            "subscription_details": {"metadata": inv.metadata, "subscription": inv.subscription},
            "type": "subscription_details"
        });
        line["parent"] = json!({
            "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": null,
                "proration": false,
                "proration_details": {"credited_items": null},
                "subscription": inv.subscription,
                "subscription_item": inv.subscription_item
            },
            "type": "subscription_item_details"
        });
        line["pricing"] = json!({
            "price_details": {"price": price.id, "product": format!("prod_{}", price.id.trim_start_matches("price_"))},
            "type": "price_details",
            "unit_amount_decimal": price.unit_amount.to_string()
        });
    }
    value["lines"] = json!({
        "object": "list",
        "data": [line],
        "has_more": false,
        "total_count": 1,
        "url": format!("/v1/invoices/{}/lines", inv.id)
    });
    value
}

// ---------------------------------------------------------------------------------------------
// Events

impl State {
    /// The version events are shown as.
    fn event_version(&self) -> String {
        self.webhook
            .as_ref()
            .map_or_else(default_version, |w| w.api_version.clone())
    }

    /// Makes an event around `object` and keeps it: its id.
    fn make_event(
        &mut self,
        event_type: &str,
        object: Value,
        previous: Option<Value>,
        id: Option<String>,
        created: Option<i64>,
    ) -> String {
        let id = id.unwrap_or_else(|| common::token("evt_"));
        let created = created.unwrap_or_else(now);
        let mut data = json!({ "object": object });
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": self.event_version(),
            "created": created,
            "data": data,
            "livemode": false,
            "pending_webhooks": u8::from(self.webhook.is_some()),
            "request": {"id": null, "idempotency_key": null},
            "type": event_type
        });
        let body = serde_json::to_vec(&event).unwrap_or_default();
        self.event_index.insert(id.clone(), self.events.len());
        self.events.push(StoredEvent {
            id: id.clone(),
            event_type: event_type.to_owned(),
            created,
            body,
            deliveries: Vec::new(),
        });
        id
    }

    fn subscription_event(
        &mut self,
        event_type: &str,
        id: &str,
        previous: Option<Value>,
    ) -> Option<String> {
        let version = self.event_version();
        let object = subscription_json(self, self.subscriptions.get(id)?, &version);
        Some(self.make_event(event_type, object, previous, None, None))
    }

    fn invoice_event(&mut self, event_type: &str, id: &str) -> Option<String> {
        let version = self.event_version();
        let object = invoice_json(self, self.invoices.get(id)?, &version);
        Some(self.make_event(event_type, object, None, None, None))
    }

    fn new_invoice(&mut self, sub_id: &str, paid: bool, reason: &'static str) -> Option<String> {
        let sub = self.subscriptions.get(sub_id)?.clone();
        let price = price_of(self, &sub.price);
        let id = common::token("in_");
        self.invoices.insert(
            id.clone(),
            Invoice {
                id: id.clone(),
                customer: sub.customer.clone(),
                subscription: sub.id.clone(),
                subscription_item: sub.item_id.clone(),
                price: price.id.clone(),
                quantity: sub.quantity,
                amount: price.unit_amount * sub.quantity,
                currency: price.currency,
                paid,
                billing_reason: reason,
                line_start: sub.current_period_start,
                line_end: sub.current_period_end,
                metadata: sub.metadata.clone(),
                created: now(),
            },
        );
        if let Some(sub) = self.subscriptions.get_mut(sub_id) {
            sub.latest_invoice = Some(id.clone());
        }
        Some(id)
    }
}

/// Delivers events (in order) to the webhook, outside any lock; each outcome is kept with its
/// event and returned.
async fn deliver(state: &SandboxState, ids: &[String], signed_at: Option<i64>) -> Vec<Delivery> {
    let (hook, events) = {
        let s = lock(&state.stripe);
        let Some(hook) = s.webhook.clone() else {
            return Vec::new();
        };
        let events: Vec<(String, String, Vec<u8>)> = ids
            .iter()
            .filter_map(|id| s.event_index.get(id).map(|&at| &s.events[at]))
            .map(|e| (e.id.clone(), e.event_type.clone(), e.body.clone()))
            .collect();
        (hook, events)
    };
    let client = multivio_social::http::client(DELIVERY_TIMEOUT);
    let mut out = Vec::new();
    for (id, event_type, body) in events {
        let signature = sign(&body, &hook.secret, signed_at.unwrap_or_else(now));
        let mut delivery = Delivery {
            event: id.clone(),
            event_type,
            url: hook.url.clone(),
            signature: signature.clone(),
            status: None,
            body: None,
            error: None,
            at: Utc::now(),
        };
        match &client {
            Err(e) => delivery.error = Some(e.to_string()),
            Ok(client) => {
                let sent = client
                    .post(&hook.url)
                    .header("content-type", "application/json; charset=utf-8")
                    .header(
                        "user-agent",
                        "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    )
                    .header("stripe-signature", signature)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        delivery.status = Some(response.status().as_u16());
                        delivery.body = Some(
                            match multivio_social::http::read_capped(response, MAX_DELIVERY_ANSWER)
                                .await
                            {
                                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                                Err(e) => format!("({e})"),
                            },
                        );
                    }
                    Err(e) => delivery.error = Some(e.to_string()),
                }
            }
        }
        let mut s = lock(&state.stripe);
        if let Some(&at) = s.event_index.get(&id) {
            s.events[at].deliveries.push(delivery.clone());
        }
        drop(s);
        out.push(delivery);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The API

/// What every create does first: authentication, the body, the idempotency key.
fn create_prelude(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Vec<(String, String)>, String), Refused> {
    authenticate(req)?;
    let pairs = form(req, body)?;
    let key = idempotency_key(req)?;
    Ok((pairs, key))
}

async fn create_customer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let (pairs, key) = match create_prelude(&req, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let mut s = lock(&state.stripe);
    const ENDPOINT: &str = "POST /v1/customers";
    if let Some(answer) = replay(&s, &key, ENDPOINT, &pairs) {
        return answer;
    }
    let p = match split_params(&pairs, &["email", "name", "description", "metadata"]) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    if let Some(email) = p.top.get("email")
        && !plausible_email(email)
    {
        return *invalid(
            Some("email_invalid"),
            &format!("Invalid email address: {email}"),
            Some("email"),
        );
    }
    let customer = Customer {
        id: common::token("cus_"),
        email: p.top.get("email").cloned(),
        name: p.top.get("name").cloned(),
        description: p.top.get("description").cloned(),
        metadata: p.metadata,
        created: now(),
    };
    let answer = customer_json(&customer);
    s.customers.insert(customer.id.clone(), customer);
    remember(&mut s, key, ENDPOINT, &pairs, &answer);
    HttpResponse::Ok().json(answer)
}

fn plausible_email(email: &str) -> bool {
    email.len() <= 512
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

async fn create_checkout(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let (pairs, key) = match create_prelude(&req, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let base = base_url(&req);
    let mut s = lock(&state.stripe);
    const ENDPOINT: &str = "POST /v1/checkout/sessions";
    if let Some(answer) = replay(&s, &key, ENDPOINT, &pairs) {
        return answer;
    }
    let session = match new_session(&s, &pairs) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let answer = session_json(&s, &session, &base);
    s.sessions.insert(session.id.clone(), session);
    remember(&mut s, key, ENDPOINT, &pairs, &answer);
    HttpResponse::Ok().json(answer)
}

/// A Checkout Session from a create's parameters, checked as Stripe checks them.
fn new_session(s: &State, pairs: &[(String, String)]) -> Result<Session, Refused> {
    let p = split_params(
        pairs,
        &[
            "mode",
            "line_items",
            "success_url",
            "cancel_url",
            "customer",
            "customer_email",
            "client_reference_id",
            "metadata",
            "subscription_data",
            "allow_promotion_codes",
        ],
    )?;
    match p.top.get("mode").map(String::as_str) {
        None => return Err(missing("mode")),
        Some("subscription") => {}
        Some("payment" | "setup") => {
            return Err(invalid(
                None,
                "The sandbox fakes Checkout in subscription mode only.",
                Some("mode"),
            ));
        }
        Some(_) => {
            return Err(invalid(
                None,
                "Invalid mode: must be one of payment, setup, or subscription",
                Some("mode"),
            ));
        }
    }
    if p.line_items.is_empty() {
        return Err(invalid(
            None,
            "You must provide at least one recurring price in `subscription` mode when using \
             prices.",
            Some("line_items"),
        ));
    }
    let mut line_items = Vec::new();
    for (i, (index, item)) in p.line_items.iter().enumerate() {
        if *index != i.to_string() {
            return Err(invalid(
                None,
                "Invalid array: line_items must be indexed from 0 without gaps.",
                Some("line_items"),
            ));
        }
        let param = |field: &str| format!("line_items[{i}][{field}]");
        let price = item.get("price").ok_or_else(|| missing(&param("price")))?;
        if !s.prices.contains_key(price) {
            return Err(no_such(
                "price",
                price,
                &param("price"),
                StatusCode::BAD_REQUEST,
            ));
        }
        let quantity = item.get("quantity").ok_or_else(|| {
            invalid(
                None,
                &format!("Quantity is required. Add `quantity` to `line_items[{i}]`"),
                Some(&param("quantity")),
            )
        })?;
        let quantity = quantity
            .parse::<i64>()
            .ok()
            .filter(|q| (1..=999_999).contains(q))
            .ok_or_else(|| {
                invalid(
                    None,
                    &format!("Invalid integer: {quantity}"),
                    Some(&param("quantity")),
                )
            })?;
        line_items.push((price.clone(), quantity));
    }
    let success_url = url_param(&p, "success_url")?.ok_or_else(|| missing("success_url"))?;
    let cancel_url = url_param(&p, "cancel_url")?;
    let customer = p.top.get("customer").cloned();
    let customer_email = p.top.get("customer_email").cloned();
    if customer.is_some() && customer_email.is_some() {
        return Err(invalid(
            None,
            "You may only specify one of these parameters: customer, customer_email.",
            Some("customer"),
        ));
    }
    if let Some(c) = &customer
        && !s.customers.contains_key(c)
    {
        return Err(no_such("customer", c, "customer", StatusCode::BAD_REQUEST));
    }
    if let Some(email) = &customer_email
        && !plausible_email(email)
    {
        return Err(invalid(
            Some("email_invalid"),
            &format!("Invalid email address: {email}"),
            Some("customer_email"),
        ));
    }
    let client_reference_id = p.top.get("client_reference_id").cloned();
    if client_reference_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 200)
    {
        return Err(invalid(
            None,
            "Invalid client_reference_id: must be 1 to 200 characters.",
            Some("client_reference_id"),
        ));
    }
    if let Some(flag) = p.top.get("allow_promotion_codes")
        && flag != "true"
        && flag != "false"
    {
        return Err(invalid(
            None,
            &format!("Invalid boolean: {flag}"),
            Some("allow_promotion_codes"),
        ));
    }
    Ok(Session {
        id: common::token("cs_test_"),
        customer,
        customer_email,
        client_reference_id,
        line_items,
        success_url,
        cancel_url,
        metadata: p.metadata,
        subscription_metadata: p.subscription_metadata,
        complete: false,
        expired: false,
        subscription: None,
        invoice: None,
        created: now(),
    })
}

async fn create_portal(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let (pairs, key) = match create_prelude(&req, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let base = base_url(&req);
    let mut s = lock(&state.stripe);
    const ENDPOINT: &str = "POST /v1/billing_portal/sessions";
    if let Some(answer) = replay(&s, &key, ENDPOINT, &pairs) {
        return answer;
    }
    let result = (|| {
        let p = split_params(&pairs, &["customer", "return_url"])?;
        let customer = p.top.get("customer").ok_or_else(|| missing("customer"))?;
        if !s.customers.contains_key(customer) {
            return Err(no_such(
                "customer",
                customer,
                "customer",
                StatusCode::BAD_REQUEST,
            ));
        }
        Ok(PortalSession {
            id: common::token("bps_"),
            customer: customer.clone(),
            return_url: url_param(&p, "return_url")?,
            created: now(),
        })
    })();
    let portal = match result {
        Ok(portal) => portal,
        Err(refused) => return *refused,
    };
    let answer = portal_json(&portal, &base);
    s.portal_sessions.insert(portal.id.clone(), portal);
    remember(&mut s, key, ENDPOINT, &pairs, &answer);
    HttpResponse::Ok().json(answer)
}

async fn get_customer(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    let s = lock(&state.stripe);
    match s.customers.get(path.as_str()) {
        Some(c) => HttpResponse::Ok().json(customer_json(c)),
        None => *no_such("customer", &path, "id", StatusCode::NOT_FOUND),
    }
}

async fn get_checkout(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    let base = base_url(&req);
    let s = lock(&state.stripe);
    match s.sessions.get(path.as_str()) {
        Some(session) => HttpResponse::Ok().json(session_json(&s, session, &base)),
        None => *no_such("checkout.session", &path, "session", StatusCode::NOT_FOUND),
    }
}

async fn get_subscription(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    let version = request_version(&req);
    let s = lock(&state.stripe);
    match s.subscriptions.get(path.as_str()) {
        Some(sub) => HttpResponse::Ok().json(subscription_json(&s, sub, &version)),
        None => *no_such("subscription", &path, "id", StatusCode::NOT_FOUND),
    }
}

/// A list request's query, checked as Stripe checks it: only `allowed` parameters (Stripe
/// refuses an unknown one), each once; `limit` within 1–100.
fn list_query(req: &HttpRequest, allowed: &[&str]) -> Result<HashMap<String, String>, Refused> {
    let mut query = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned() {
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(
                Some("parameter_unknown"),
                &format!("Received unknown parameter: {key}"),
                Some(&key),
            ));
        }
        if query.insert(key.clone(), value).is_some() {
            return Err(invalid(
                None,
                &format!("The sandbox refuses `{key}` given twice."),
                Some(&key),
            ));
        }
    }
    if let Some(limit) = query.get("limit")
        && !limit.parse::<u8>().is_ok_and(|n| (1..=100).contains(&n))
    {
        return Err(invalid(
            None,
            "Invalid integer: limit must be between 1 and 100",
            Some("limit"),
        ));
    }
    Ok(query)
}

/// One page of `items` (newest first, as Stripe lists), after `starting_after` when given:
/// any object of the kind (`created` finds its creation time), listed or not.
fn list_page(
    query: &HashMap<String, String>,
    mut items: Vec<(i64, String, Value)>,
    created: impl Fn(&str) -> Option<i64>,
    url: &str,
) -> Result<Value, Refused> {
    // Newest first; ties in the order of ids, so that pages are stable.
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let start = match query.get("starting_after") {
        Some(after) => match created(after) {
            Some(at) => items
                .iter()
                .position(|(t, id, _)| (*t, id.as_str()) < (at, after.as_str()))
                .unwrap_or(items.len()),
            None => {
                return Err(invalid(
                    Some("resource_missing"),
                    &format!("No such object: '{after}'"),
                    Some("starting_after"),
                ));
            }
        },
        None => 0,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10);
    let rest: Vec<Value> = items.into_iter().skip(start).map(|(_, _, v)| v).collect();
    let has_more = rest.len() > limit;
    Ok(json!({
        "object": "list",
        "data": rest.into_iter().take(limit).collect::<Vec<_>>(),
        "has_more": has_more,
        "url": url,
    }))
}

async fn list_checkouts(req: HttpRequest, state: web::Data<SandboxState>) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    let query = match list_query(&req, &["customer", "status", "limit", "starting_after"]) {
        Ok(q) => q,
        Err(refused) => return *refused,
    };
    if let Some(status) = query.get("status")
        && !matches!(status.as_str(), "open" | "complete" | "expired")
    {
        return *invalid(
            None,
            &format!("Invalid status: must be one of open, complete, or expired (got {status})"),
            Some("status"),
        );
    }
    let base = base_url(&req);
    let s = lock(&state.stripe);
    let items = s
        .sessions
        .values()
        .filter(|x| {
            query
                .get("customer")
                .is_none_or(|c| x.customer.as_ref() == Some(c))
        })
        .filter(|x| query.get("status").is_none_or(|st| session_status(x) == st))
        .map(|x| (x.created, x.id.clone(), session_json(&s, x, &base)))
        .collect();
    let created = |id: &str| s.sessions.get(id).map(|x| x.created);
    match list_page(&query, items, created, "/v1/checkout/sessions") {
        Ok(page) => HttpResponse::Ok().json(page),
        Err(refused) => *refused,
    }
}

async fn expire_checkout(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    match form(&req, &body) {
        Ok(pairs) if pairs.is_empty() => {}
        Ok(pairs) => {
            let key = &pairs[0].0;
            return *invalid(
                Some("parameter_unknown"),
                &format!("Received unknown parameter: {key}"),
                Some(key),
            );
        }
        Err(refused) => return *refused,
    }
    let base = base_url(&req);
    let mut s = lock(&state.stripe);
    let Some(session) = s.sessions.get_mut(path.as_str()) else {
        return *no_such("checkout.session", &path, "session", StatusCode::NOT_FOUND);
    };
    if session_status(session) != "open" {
        return *invalid(
            None,
            &format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired; this one is \
                 {}.",
                session_status(session)
            ),
            None,
        );
    }
    session.expired = true;
    let session = session.clone();
    HttpResponse::Ok().json(session_json(&s, &session, &base))
}

async fn list_subscriptions(req: HttpRequest, state: web::Data<SandboxState>) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    if let Err(refused) = authenticate(&req) {
        return *refused;
    }
    let query = match list_query(&req, &["customer", "status", "limit", "starting_after"]) {
        Ok(q) => q,
        Err(refused) => return *refused,
    };
    const STATUSES: [&str; 10] = [
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
        "all",
        "ended",
    ];
    let status = query.get("status").map(String::as_str);
    if let Some(status) = status
        && !STATUSES.contains(&status)
    {
        return *invalid(
            None,
            &format!(
                "Invalid status: must be one of {} (got {status})",
                STATUSES.join(", ")
            ),
            Some("status"),
        );
    }
    let version = request_version(&req);
    let s = lock(&state.stripe);
    let items = s
        .subscriptions
        .values()
        .filter(|x| query.get("customer").is_none_or(|c| &x.customer == c))
        .filter(|x| match status {
            // Stripe's default: every status but canceled.
            None => x.status != "canceled",
            Some("all") => true,
            Some("ended") => matches!(x.status.as_str(), "canceled" | "incomplete_expired"),
            Some(st) => x.status == st,
        })
        .map(|x| (x.created, x.id.clone(), subscription_json(&s, x, &version)))
        .collect();
    let created = |id: &str| s.subscriptions.get(id).map(|x| x.created);
    match list_page(&query, items, created, "/v1/subscriptions") {
        Ok(page) => HttpResponse::Ok().json(page),
        Err(refused) => *refused,
    }
}

// ---------------------------------------------------------------------------------------------
// What customers do (the controls and the pages share these)

/// What completing a checkout made.
struct Completed {
    session: Value,
    subscription: Value,
    invoice: Value,
    success_url: String,
    events: Vec<String>,
}

/// Completes an open checkout (see the module docs): customer, subscription, paid invoice,
/// three events.
fn complete(s: &mut State, session_id: &str, base: &str) -> Result<Completed, HttpResponse> {
    let Some(session) = s.sessions.get(session_id).cloned() else {
        return Err(control_error(
            StatusCode::NOT_FOUND,
            &format!("no checkout session `{session_id}`"),
        ));
    };
    if session.complete {
        return Err(control_error(
            StatusCode::CONFLICT,
            &format!("checkout session `{session_id}` is already complete"),
        ));
    }
    if session.expired {
        return Err(control_error(
            StatusCode::GONE,
            &format!("checkout session `{session_id}` has expired"),
        ));
    }
    let t = now();
    let customer = match &session.customer {
        Some(c) => c.clone(),
        None => {
            let c = Customer {
                id: common::token("cus_"),
                email: session.customer_email.clone(),
                name: None,
                description: None,
                metadata: BTreeMap::new(),
                created: t,
            };
            let id = c.id.clone();
            s.customers.insert(id.clone(), c);
            id
        }
    };
    let (price, quantity) = session.line_items.first().cloned().unwrap_or_default();
    let sub = Subscription {
        id: common::token("sub_"),
        item_id: common::token("si_"),
        customer: customer.clone(),
        price,
        quantity,
        status: "active".to_owned(),
        metadata: session.subscription_metadata.clone(),
        created: t,
        current_period_start: t,
        current_period_end: month_after(t),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        latest_invoice: None,
    };
    let sub_id = sub.id.clone();
    s.subscriptions.insert(sub_id.clone(), sub);
    let invoice_id = s
        .new_invoice(&sub_id, true, "subscription_create")
        .unwrap_or_default();
    if let Some(stored) = s.sessions.get_mut(session_id) {
        stored.complete = true;
        stored.customer = Some(customer);
        stored.subscription = Some(sub_id.clone());
        stored.invoice = Some(invoice_id.clone());
    }
    let version = s.event_version();
    let session_value = s
        .sessions
        .get(session_id)
        .map(|stored| session_json(s, stored, base))
        .unwrap_or_default();
    let mut events = vec![s.make_event(
        "checkout.session.completed",
        session_value.clone(),
        None,
        None,
        None,
    )];
    events.extend(s.subscription_event("customer.subscription.created", &sub_id, None));
    events.extend(s.invoice_event("invoice.paid", &invoice_id));
    let subscription = s
        .subscriptions
        .get(&sub_id)
        .map(|sub| subscription_json(s, sub, &version))
        .unwrap_or_default();
    let invoice = s
        .invoices
        .get(&invoice_id)
        .map(|inv| invoice_json(s, inv, &version))
        .unwrap_or_default();
    Ok(Completed {
        session: session_value,
        subscription,
        invoice,
        success_url: session
            .success_url
            .replace("{CHECKOUT_SESSION_ID}", session_id),
        events,
    })
}

/// Cancels a subscription, at once or at the period's end: the event made.
fn cancel(s: &mut State, sub_id: &str, at_period_end: bool) -> Result<String, HttpResponse> {
    let t = now();
    let Some(sub) = s.subscriptions.get_mut(sub_id) else {
        return Err(control_error(
            StatusCode::NOT_FOUND,
            &format!("no subscription `{sub_id}`"),
        ));
    };
    if sub.status == "canceled" {
        return Err(control_error(
            StatusCode::CONFLICT,
            &format!("subscription `{sub_id}` is already canceled"),
        ));
    }
    if at_period_end {
        let previous = json!({
            "cancel_at": sub.cancel_at,
            "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": sub.canceled_at
        });
        sub.cancel_at_period_end = true;
        sub.cancel_at = Some(sub.current_period_end);
        sub.canceled_at = Some(t);
        Ok(
            s.subscription_event("customer.subscription.updated", sub_id, Some(previous))
                .unwrap_or_default(),
        )
    } else {
        sub.status = "canceled".to_owned();
        sub.canceled_at = Some(t);
        sub.ended_at = Some(t);
        Ok(
            s.subscription_event("customer.subscription.deleted", sub_id, None)
                .unwrap_or_default(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Pages

async fn checkout_page(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    let s = lock(&state.stripe);
    let Some(session) = s.sessions.get(path.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><p>This checkout session does not exist.</p>");
    };
    let (price, quantity) = session.line_items.first().cloned().unwrap_or_default();
    let p = price_of(&s, &price);
    let email = session
        .customer
        .as_ref()
        .and_then(|c| s.customers.get(c))
        .and_then(|c| c.email.clone())
        .or_else(|| session.customer_email.clone())
        .unwrap_or_default();
    let action = if session.expired {
        "<p>This checkout session has expired.</p>".to_owned()
    } else if session.complete {
        format!(
            "<p>Paid. <a href=\"{}\">Back to Multivio</a></p>",
            escape(
                &session
                    .success_url
                    .replace("{CHECKOUT_SESSION_ID}", &session.id)
            )
        )
    } else {
        format!(
            "<form method=post><button>Subscribe</button></form>{}",
            session
                .cancel_url
                .as_ref()
                .map_or_else(String::new, |u| format!(
                    "<p><a href=\"{}\">Cancel</a></p>",
                    escape(u)
                ))
        )
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=utf-8><title>Sandbox checkout</title>\
             </head><body style=\"font-family:sans-serif;margin:2em\"><h1>Sandbox checkout</h1>\
             <p>Nothing is charged: this is the Multivio sandbox's fake of Stripe.</p>\
             <p>{} × {} — {} {} a month</p><p>{}</p>{action}</body></html>",
            quantity,
            escape(&price),
            p.unit_amount as f64 / 100.0,
            escape(&p.currency.to_uppercase()),
            escape(&email),
        ))
}

async fn checkout_pay(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let base = base_url(&req);
    let completed = {
        let mut s = lock(&state.stripe);
        complete(&mut s, &path, &base)
    };
    match completed {
        Ok(done) => {
            deliver(&state, &done.events, None).await;
            HttpResponse::SeeOther()
                .insert_header(("Location", done.success_url))
                .finish()
        }
        Err(refused) => refused,
    }
}

async fn portal_page(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &[]);
    let s = lock(&state.stripe);
    let Some(portal) = s.portal_sessions.get(path.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><p>This portal session does not exist.</p>");
    };
    let mut subs: Vec<&Subscription> = s
        .subscriptions
        .values()
        .filter(|sub| sub.customer == portal.customer)
        .collect();
    subs.sort_by_key(|sub| sub.created);
    let mut rows = String::new();
    for sub in subs {
        let cancel = if sub.status == "canceled" {
            String::new()
        } else {
            format!(
                "<form method=post action=\"{}/cancel\"><input type=hidden name=subscription \
                 value=\"{}\"><button>Cancel</button></form>",
                escape(&portal.id),
                escape(&sub.id)
            )
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{cancel}</td></tr>",
            escape(&sub.id),
            escape(&sub.price),
            escape(&sub.status)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=4>No subscription.</td></tr>");
    }
    let back = portal.return_url.as_ref().map_or_else(String::new, |u| {
        format!("<p><a href=\"{}\">Return to Multivio</a></p>", escape(u))
    });
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=utf-8><title>Sandbox billing portal\
             </title></head><body style=\"font-family:sans-serif;margin:2em\"><h1>Sandbox \
             billing portal</h1><p>Customer {}</p><table><tr><th>subscription</th><th>price\
             </th><th>status</th><th></th></tr>{rows}</table>{back}</body></html>",
            escape(&portal.customer)
        ))
}

async fn portal_cancel(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let sub_id = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "subscription")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let event = {
        let mut s = lock(&state.stripe);
        let Some(portal) = s.portal_sessions.get(path.as_str()) else {
            return control_error(StatusCode::NOT_FOUND, "no such portal session");
        };
        if s.subscriptions
            .get(&sub_id)
            .is_none_or(|sub| sub.customer != portal.customer)
        {
            return control_error(StatusCode::NOT_FOUND, "no such subscription here");
        }
        cancel(&mut s, &sub_id, false)
    };
    match event {
        Ok(event) => {
            deliver(&state, &[event], None).await;
            HttpResponse::SeeOther()
                .insert_header(("Location", format!("{}/p/session/{}", base_url(&req), path)))
                .finish()
        }
        Err(refused) => refused,
    }
}

// ---------------------------------------------------------------------------------------------
// Controls

/// A control's JSON body, or its 400.
fn control<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, HttpResponse> {
    serde_json::from_slice(body).map_err(|e| {
        control_error(
            StatusCode::BAD_REQUEST,
            &format!("expected {expected}: {e}"),
        )
    })
}

async fn set_webhook(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let hook: Webhook = match control(
        &body,
        "{\"url\": \"http://…\", \"secret\"?: \"whsec_…\", \"api_version\"?: \"…\"}",
    ) {
        Ok(hook) => hook,
        Err(refused) => return refused,
    };
    if !url::Url::parse(&hook.url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    {
        return control_error(StatusCode::BAD_REQUEST, "url must be an http(s) URL");
    }
    if !hook.secret.starts_with("whsec_") || hook.secret.len() <= "whsec_".len() {
        return control_error(StatusCode::BAD_REQUEST, "secret must start with whsec_");
    }
    if hook.api_version.is_empty() {
        return control_error(StatusCode::BAD_REQUEST, "api_version must not be empty");
    }
    lock(&state.stripe).webhook = Some(hook.clone());
    HttpResponse::Ok().json(hook)
}

async fn get_webhook(state: web::Data<SandboxState>) -> HttpResponse {
    let hook = lock(&state.stripe).webhook.clone();
    HttpResponse::Ok().json(hook)
}

async fn clear_webhook(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    lock(&state.stripe).webhook = None;
    HttpResponse::Ok().json(Value::Null)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPrices {
    prices: Vec<Price>,
}

async fn set_prices(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: SetPrices = match control(
        &body,
        "{\"prices\": [{\"id\": \"price_…\", \"unit_amount\": 1900, \"currency\"?: \"usd\"}]}",
    ) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    if let Some(bad) = given
        .prices
        .iter()
        .find(|p| p.id.is_empty() || p.unit_amount < 0 || p.currency.len() != 3)
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "`{}`: an id, a non-negative unit_amount, a 3-letter currency",
                bad.id
            ),
        );
    }
    let mut s = lock(&state.stripe);
    s.prices = given
        .prices
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    HttpResponse::Ok().json(s.prices.values().collect::<Vec<_>>())
}

async fn get_prices(state: web::Data<SandboxState>) -> HttpResponse {
    let s = lock(&state.stripe);
    HttpResponse::Ok().json(s.prices.values().collect::<Vec<_>>())
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteCheckout {
    session: String,
    #[serde(default = "default_true")]
    deliver: bool,
    #[serde(default)]
    signed_at: Option<i64>,
}

async fn complete_checkout(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: CompleteCheckout = match control(
        &body,
        "{\"session\": \"cs_…\", \"deliver\"?: bool, \"signed_at\"?: unix seconds}",
    ) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let base = base_url(&req);
    let completed = {
        let mut s = lock(&state.stripe);
        complete(&mut s, &given.session, &base)
    };
    let done = match completed {
        Ok(done) => done,
        Err(refused) => return refused,
    };
    let deliveries = if given.deliver {
        deliver(&state, &done.events, given.signed_at).await
    } else {
        Vec::new()
    };
    HttpResponse::Ok().json(json!({
        "session": done.session,
        "subscription": done.subscription,
        "invoice": done.invoice,
        "events": done.events,
        "deliveries": deliveries,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelSubscription {
    subscription: String,
    #[serde(default)]
    at_period_end: bool,
}

async fn cancel_subscription(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: CancelSubscription = match control(
        &body,
        "{\"subscription\": \"sub_…\", \"at_period_end\"?: bool}",
    ) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let result = {
        let mut s = lock(&state.stripe);
        cancel(&mut s, &given.subscription, given.at_period_end).map(|event| {
            let version = s.event_version();
            let sub = s
                .subscriptions
                .get(&given.subscription)
                .map(|sub| subscription_json(&s, sub, &version));
            (event, sub)
        })
    };
    match result {
        Ok((event, subscription)) => {
            let deliveries = deliver(&state, std::slice::from_ref(&event), None).await;
            HttpResponse::Ok().json(json!({
                "subscription": subscription,
                "events": [event],
                "deliveries": deliveries,
            }))
        }
        Err(refused) => refused,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateSubscription {
    subscription: String,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

async fn update_subscription(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: UpdateSubscription = match control(
        &body,
        "{\"subscription\": \"sub_…\", \"price\"?: \"price_…\", \"status\"?: \"…\"}",
    ) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if given.price.is_none() && given.status.is_none() {
        return control_error(StatusCode::BAD_REQUEST, "give a price, a status or both");
    }
    if let Some(status) = &given.status
        && !STATUSES.contains(&status.as_str())
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "`{status}` is not one of Stripe's statuses: {}",
                STATUSES.join(", ")
            ),
        );
    }
    let result = {
        let mut s = lock(&state.stripe);
        if let Some(price) = &given.price
            && !s.prices.contains_key(price)
        {
            return control_error(StatusCode::NOT_FOUND, &format!("no price `{price}`"));
        }
        let version = s.event_version();
        let previous_items = s
            .subscriptions
            .get(&given.subscription)
            .map(|sub| subscription_json(&s, sub, &version)["items"].clone());
        match s.subscriptions.get_mut(&given.subscription) {
            None => Err(control_error(
                StatusCode::NOT_FOUND,
                &format!("no subscription `{}`", given.subscription),
            )),
            Some(sub) => {
                let mut previous = Map::new();
                if let Some(price) = &given.price {
                    previous.insert("items".to_owned(), previous_items.unwrap_or_default());
                    sub.price = price.clone();
                }
                if let Some(status) = &given.status {
                    previous.insert("status".to_owned(), json!(sub.status));
                    sub.status = status.clone();
                    if status == "canceled" {
                        sub.ended_at = Some(now());
                    }
                }
                let event = s
                    .subscription_event(
                        "customer.subscription.updated",
                        &given.subscription,
                        Some(Value::Object(previous)),
                    )
                    .unwrap_or_default();
                let sub = s
                    .subscriptions
                    .get(&given.subscription)
                    .map(|sub| subscription_json(&s, sub, &version));
                Ok((event, sub))
            }
        }
    };
    match result {
        Ok((event, subscription)) => {
            let deliveries = deliver(&state, std::slice::from_ref(&event), None).await;
            HttpResponse::Ok().json(json!({
                "subscription": subscription,
                "events": [event],
                "deliveries": deliveries,
            }))
        }
        Err(refused) => refused,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailPayment {
    subscription: String,
}

async fn fail_payment(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: FailPayment = match control(&body, "{\"subscription\": \"sub_…\"}") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let result = {
        let mut s = lock(&state.stripe);
        match s
            .subscriptions
            .get(&given.subscription)
            .map(|sub| sub.status.clone())
        {
            None => Err(control_error(
                StatusCode::NOT_FOUND,
                &format!("no subscription `{}`", given.subscription),
            )),
            Some(status) if status == "canceled" => Err(control_error(
                StatusCode::CONFLICT,
                &format!("subscription `{}` is canceled", given.subscription),
            )),
            Some(status) => {
                let invoice = s
                    .new_invoice(&given.subscription, false, "subscription_cycle")
                    .unwrap_or_default();
                let mut events: Vec<String> = Vec::new();
                events.extend(s.invoice_event("invoice.payment_failed", &invoice));
                if let Some(sub) = s.subscriptions.get_mut(&given.subscription) {
                    sub.status = "past_due".to_owned();
                }
                events.extend(s.subscription_event(
                    "customer.subscription.updated",
                    &given.subscription,
                    Some(json!({ "status": status })),
                ));
                let version = s.event_version();
                let invoice = s
                    .invoices
                    .get(&invoice)
                    .map(|inv| invoice_json(&s, inv, &version));
                Ok((events, invoice))
            }
        }
    };
    match result {
        Ok((events, invoice)) => {
            let deliveries = deliver(&state, &events, None).await;
            HttpResponse::Ok().json(json!({
                "invoice": invoice,
                "events": events,
                "deliveries": deliveries,
            }))
        }
        Err(refused) => refused,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendEvent {
    #[serde(rename = "type")]
    event_type: String,
    object: Value,
    #[serde(default)]
    previous_attributes: Option<Value>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    signed_at: Option<i64>,
    #[serde(default = "default_true")]
    deliver: bool,
}

async fn send_event(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: SendEvent = match control(
        &body,
        "{\"type\": \"…\", \"object\": {…}, \"previous_attributes\"?, \"id\"?, \"created\"?, \
         \"signed_at\"?, \"deliver\"?}",
    ) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if given.event_type.is_empty() || !given.object.is_object() {
        return control_error(
            StatusCode::BAD_REQUEST,
            "an event has a type and an object (a JSON object)",
        );
    }
    let (id, event) = {
        let mut s = lock(&state.stripe);
        if let Some(id) = &given.id
            && (id.is_empty() || s.event_index.contains_key(id))
        {
            return control_error(
                StatusCode::CONFLICT,
                &format!("event `{id}` exists already: use /_sandbox/resend to deliver it again"),
            );
        }
        let id = s.make_event(
            &given.event_type,
            given.object,
            given.previous_attributes,
            given.id,
            given.created,
        );
        let event = s
            .event_index
            .get(&id)
            .and_then(|&at| serde_json::from_slice::<Value>(&s.events[at].body).ok());
        (id, event)
    };
    let deliveries = if given.deliver {
        deliver(&state, std::slice::from_ref(&id), given.signed_at).await
    } else {
        Vec::new()
    };
    HttpResponse::Ok().json(json!({ "event": event, "deliveries": deliveries }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resend {
    event: String,
    #[serde(default)]
    signed_at: Option<i64>,
}

async fn resend(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: Resend = match control(&body, "{\"event\": \"evt_…\", \"signed_at\"?: unix}") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !lock(&state.stripe).event_index.contains_key(&given.event) {
        return control_error(
            StatusCode::NOT_FOUND,
            &format!("no event `{}`", given.event),
        );
    }
    let deliveries = deliver(&state, std::slice::from_ref(&given.event), given.signed_at).await;
    HttpResponse::Ok().json(json!({ "deliveries": deliveries }))
}

async fn list_events(state: web::Data<SandboxState>) -> HttpResponse {
    let s = lock(&state.stripe);
    let list: Vec<Value> = s
        .events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.event_type,
                "created": e.created,
                "event": serde_json::from_slice::<Value>(&e.body).unwrap_or_default(),
                "deliveries": e.deliveries,
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

#[cfg(test)]
mod tests;

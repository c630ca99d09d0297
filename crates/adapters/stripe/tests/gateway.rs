//! The Stripe gateway against the sandbox's fake of Stripe, in process: what is sent (form
//! bodies, the key, idempotency keys — all checked by the fake), what comes back, and how
//! refusals surface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use multivio_domain::contact::Email;
use multivio_domain::quota::PlanName;
use multivio_domain::{Secret, UserId};
use multivio_ports::billing::{BillingError, BillingGateway, CheckoutRequest};
use multivio_sandbox::{Recorded, Sandbox, credentials};
use multivio_stripe::gateway::CHECKOUT_KEY_WINDOW_SECONDS;
use multivio_stripe::{PriceMap, StripeConfig, StripeGateway};
use serde_json::Value;

const SUCCESS: &str = "https://app.multivio.example/billing?session={CHECKOUT_SESSION_ID}";
const CANCEL: &str = "https://app.multivio.example/billing?canceled=1";
const RETURN: &str = "https://app.multivio.example/billing";

fn prices() -> PriceMap {
    PriceMap::parse(&format!(
        "pro={},business={}",
        credentials::STRIPE_PRICE_PRO,
        credentials::STRIPE_PRICE_BUSINESS
    ))
    .unwrap()
}

fn config(sandbox: &Sandbox) -> StripeConfig {
    StripeConfig::new(
        Secret::new(credentials::STRIPE_SECRET_KEY),
        prices(),
        SUCCESS,
        CANCEL,
        RETURN,
    )
    .with_api_url(sandbox.stripe_url())
}

async fn world() -> (Sandbox, StripeGateway) {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gateway = StripeGateway::new(config(&sandbox)).unwrap();
    (sandbox, gateway)
}

fn request(user: i32, plan: &str, customer: Option<&str>) -> CheckoutRequest {
    CheckoutRequest {
        user_id: UserId(user),
        email: Email::new(format!("user{user}@example.com")).unwrap(),
        customer_id: customer.map(str::to_owned),
        plan: PlanName::new(plan).unwrap(),
    }
}

fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).unwrap()
}

/// The requests the fake of Stripe received.
fn stripe_requests(sandbox: &Sandbox) -> Vec<Recorded> {
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "stripe")
        .collect()
}

/// A client for the fake's API and controls.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A Stripe object, read through the fake's API.
async fn get(sandbox: &Sandbox, path: &str) -> Value {
    client()
        .get(format!("{}{path}", sandbox.stripe_url()))
        .bearer_auth(credentials::STRIPE_SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_first_checkout_creates_the_customer_then_a_subscription_session() {
    let (sandbox, gateway) = world().await;
    let now = at(1_767_225_600);
    let session = gateway
        .create_checkout_session(&request(42, "pro", None), now)
        .await
        .unwrap();
    assert!(session.created_customer);
    assert!(session.customer_id.starts_with("cus_"));
    assert!(session.id.starts_with("cs_test_"));
    assert_eq!(
        session.url,
        format!("{}/c/pay/{}", sandbox.stripe_url(), session.id)
    );

    let sent = stripe_requests(&sandbox);
    let calls: Vec<_> = sent
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // The customer and the session; then the customer's other open sessions (to expire) and
    // its subscriptions (see `a_later_checkout_expires_the_earlier_link_…`).
    let c = &session.customer_id;
    assert_eq!(
        calls,
        [
            "POST /v1/customers".to_owned(),
            "POST /v1/checkout/sessions".to_owned(),
            format!("GET /v1/checkout/sessions?customer={c}&status=open&limit=20"),
            format!("GET /v1/subscriptions?customer={c}&limit=20"),
        ]
    );
    for r in &sent {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {}", credentials::STRIPE_SECRET_KEY).as_str())
        );
    }
    let (customer, checkout) = (&sent[0], &sent[1]);
    for r in [customer, checkout] {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {}", credentials::STRIPE_SECRET_KEY).as_str())
        );
    }
    assert_eq!(customer.path, "/v1/customers");
    assert_eq!(
        customer.body,
        "email=user42%40example.com&metadata[user_id]=42"
    );
    let customer_key = customer.idempotency_key.as_deref().unwrap();
    assert!(
        customer_key.starts_with("multivio-customer-42-"),
        "{customer_key}"
    );

    assert_eq!(checkout.path, "/v1/checkout/sessions");
    assert_eq!(
        checkout.body,
        format!(
            "mode=subscription&customer={}&client_reference_id=42\
             &line_items[0][price]={}&line_items[0][quantity]=1\
             &success_url=https%3A%2F%2Fapp.multivio.example%2Fbilling%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D\
             &cancel_url=https%3A%2F%2Fapp.multivio.example%2Fbilling%3Fcanceled%3D1\
             &metadata[user_id]=42&metadata[plan]=pro\
             &subscription_data[metadata][user_id]=42&subscription_data[metadata][plan]=pro",
            session.customer_id,
            credentials::STRIPE_PRICE_PRO
        )
    );
    let window = 1_767_225_600 / CHECKOUT_KEY_WINDOW_SECONDS;
    assert!(
        checkout
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with(&format!("multivio-checkout-42-pro-{window}-")),
        "{:?}",
        checkout.idempotency_key
    );
    assert_eq!(
        checkout.idempotency_key.as_deref(),
        Some(session.idempotency_key.as_str())
    );

    let stored = get(&sandbox, &format!("/v1/checkout/sessions/{}", session.id)).await;
    assert_eq!(stored["mode"], "subscription");
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["client_reference_id"], "42");
    assert_eq!(stored["customer"], session.customer_id.as_str());
    assert_eq!(stored["amount_total"], 1900);
    let customer = get(&sandbox, &format!("/v1/customers/{}", session.customer_id)).await;
    assert_eq!(customer["email"], "user42@example.com");
    assert_eq!(customer["metadata"]["user_id"], "42");
}

#[tokio::test]
async fn a_repeated_checkout_in_the_same_window_is_the_same_session_and_customer() {
    let (sandbox, gateway) = world().await;
    let now = at(1_767_225_600);
    let first = gateway
        .create_checkout_session(&request(7, "business", None), now)
        .await
        .unwrap();
    let again = gateway
        .create_checkout_session(
            &request(7, "business", None),
            now + chrono::Duration::seconds(30),
        )
        .await
        .unwrap();
    assert_eq!(first, again);
    // Four creates, two objects: the fake answered the repeats from their keys.
    let creates = stripe_requests(&sandbox)
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(creates, 4);
    let later = gateway
        .create_checkout_session(
            &request(7, "business", None),
            now + chrono::Duration::seconds(CHECKOUT_KEY_WINDOW_SECONDS),
        )
        .await
        .unwrap();
    assert_ne!(later.id, first.id);
    assert_eq!(
        later.customer_id, first.customer_id,
        "the customer's key has no window: still the same customer"
    );
}

#[tokio::test]
async fn an_existing_customer_is_used_as_is() {
    let (sandbox, gateway) = world().await;
    let customer = gateway
        .create_customer(UserId(3), &Email::new("c@example.com").unwrap())
        .await
        .unwrap();
    let link = gateway
        .checkout_url(&request(3, "pro", Some(&customer)))
        .await
        .unwrap();
    assert_eq!(link.customer_id, customer);
    let url = link.url;
    let sent = stripe_requests(&sandbox);
    let calls: Vec<_> = sent
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /v1/customers".to_owned(),
            "POST /v1/checkout/sessions".to_owned(),
            format!("GET /v1/checkout/sessions?customer={customer}&status=open&limit=20"),
            format!("GET /v1/subscriptions?customer={customer}&limit=20"),
        ]
    );
    assert!(sent[1].body.contains(&format!("customer={customer}&")));
    let id = url.rsplit('/').next().unwrap();
    let stored = get(&sandbox, &format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(stored["customer"], customer.as_str());
}

#[tokio::test]
async fn a_changed_setting_is_a_new_key_never_an_idempotency_error() {
    let (sandbox, gateway) = world().await;
    let now = at(1_767_225_600);
    let customer = gateway
        .create_customer(UserId(5), &Email::new("e@example.com").unwrap())
        .await
        .unwrap();
    let first = gateway
        .create_checkout_session(&request(5, "pro", Some(&customer)), now)
        .await
        .unwrap();
    let changed = StripeGateway::new(StripeConfig {
        cancel_url: "https://app.multivio.example/pricing".to_owned(),
        ..config(&sandbox)
    })
    .unwrap();
    let second = changed
        .create_checkout_session(&request(5, "pro", Some(&customer)), now)
        .await
        .unwrap();
    assert_ne!(first.idempotency_key, second.idempotency_key);
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn each_portal_link_is_a_new_session_returning_to_the_configured_page() {
    let (sandbox, gateway) = world().await;
    let customer = gateway
        .create_customer(UserId(9), &Email::new("p@example.com").unwrap())
        .await
        .unwrap();
    let one = gateway.portal_url(&customer).await.unwrap();
    let two = gateway.portal_url(&customer).await.unwrap();
    assert_ne!(one, two);
    assert!(one.starts_with(&format!("{}/p/session/bps_", sandbox.stripe_url())));
    let portals: Vec<Recorded> = stripe_requests(&sandbox)
        .into_iter()
        .filter(|r| r.path == "/v1/billing_portal/sessions")
        .collect();
    assert_eq!(portals.len(), 2);
    assert_eq!(
        portals[0].body,
        format!("customer={customer}&return_url=https%3A%2F%2Fapp.multivio.example%2Fbilling")
    );
    let keys: Vec<&str> = portals
        .iter()
        .map(|r| r.idempotency_key.as_deref().unwrap())
        .collect();
    assert!(keys.iter().all(|k| k.starts_with("multivio-portal-")));
    assert_ne!(keys[0], keys[1]);
}

#[tokio::test]
async fn stripe_refusals_are_unavailable_with_stripes_message() {
    let (_sandbox, gateway) = world().await;
    let error = gateway.portal_url("cus_DoesNotExist").await.unwrap_err();
    assert_eq!(
        error,
        BillingError::Unavailable(
            "Stripe answered 400: invalid_request_error/resource_missing: No such customer: \
             'cus_DoesNotExist' (param customer)"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn a_price_stripe_does_not_know_is_unavailable_and_an_unsold_plan_unknown() {
    let (sandbox, _) = world().await;
    let gateway = StripeGateway::new(StripeConfig {
        prices: PriceMap::parse("pro=price_Gone").unwrap(),
        ..config(&sandbox)
    })
    .unwrap();
    let error = gateway
        .checkout_url(&request(11, "pro", None))
        .await
        .unwrap_err();
    let BillingError::Unavailable(message) = error else {
        panic!("{error:?}");
    };
    assert!(message.contains("No such price: 'price_Gone'"), "{message}");
    assert_eq!(
        gateway.checkout_url(&request(11, "business", None)).await,
        Err(BillingError::UnknownPlan("business".to_owned()))
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_never_repeated_in_full() {
    let (sandbox, _) = world().await;
    let key = "sk_test_wrongwrongwrong1234";
    let gateway = StripeGateway::new(StripeConfig {
        secret_key: Secret::new(key),
        ..config(&sandbox)
    })
    .unwrap();
    let error = gateway.portal_url("cus_1").await.unwrap_err();
    let BillingError::Unavailable(message) = error else {
        panic!("{error:?}");
    };
    assert!(message.starts_with("Stripe answered 401"), "{message}");
    assert!(message.contains("Invalid API Key provided"), "{message}");
    assert!(!message.contains(key), "{message}");
    assert!(!format!("{gateway:?}").contains(key));
}

/// A Checkout Session's status, read through the fake's API.
async fn status(sandbox: &Sandbox, id: &str) -> Value {
    get(sandbox, &format!("/v1/checkout/sessions/{id}")).await["status"].clone()
}

/// Completes a checkout as the customer would, through the fake's control: the status it
/// answered.
async fn pay(sandbox: &Sandbox, session: &str) -> u16 {
    client()
        .post(format!(
            "{}/_sandbox/complete_checkout",
            sandbox.stripe_url()
        ))
        .json(&serde_json::json!({ "session": session, "deliver": false }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_later_checkout_expires_the_earlier_link_and_a_subscribed_customer_is_refused() {
    let (sandbox, gateway) = world().await;
    let customer = gateway
        .create_customer(UserId(5), &Email::new("e@example.com").unwrap())
        .await
        .unwrap();
    let asked = request(5, "pro", Some(&customer));
    let now = at(1_767_225_600);
    let first = gateway.create_checkout_session(&asked, now).await.unwrap();
    // A double click within the window: the same session, still payable.
    let again = gateway
        .create_checkout_session(&asked, now + chrono::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(status(&sandbox, &first.id).await, "open");

    // Asked again a window later: a new session, and the first link can no longer be paid.
    let later = gateway
        .create_checkout_session(
            &asked,
            now + chrono::Duration::seconds(CHECKOUT_KEY_WINDOW_SECONDS),
        )
        .await
        .unwrap();
    assert_ne!(later.id, first.id);
    assert_eq!(status(&sandbox, &first.id).await, "expired");
    assert_eq!(status(&sandbox, &later.id).await, "open");
    assert_eq!(pay(&sandbox, &first.id).await, 410);
    assert_eq!(pay(&sandbox, &later.id).await, 200);

    // Subscribed (whether or not our side has heard yet): a further checkout is refused, and
    // leaves no link that can be paid.
    let refused = gateway
        .create_checkout_session(
            &asked,
            now + chrono::Duration::seconds(2 * CHECKOUT_KEY_WINDOW_SECONDS),
        )
        .await;
    assert_eq!(refused.unwrap_err(), BillingError::AlreadySubscribed);
    let open = get(
        &sandbox,
        &format!("/v1/checkout/sessions?customer={customer}&status=open"),
    )
    .await;
    assert_eq!(open["data"], serde_json::json!([]), "{open}");
}

#[tokio::test]
async fn going_back_to_a_plan_within_the_window_gives_a_payable_link() {
    let (sandbox, gateway) = world().await;
    let customer = gateway
        .create_customer(UserId(8), &Email::new("h@example.com").unwrap())
        .await
        .unwrap();
    let now = at(1_767_225_600);
    // pro, business, pro, business: each replaces the one before, and the repeats' keys
    // answer sessions expired since — each answer is still a link that can be paid.
    let mut links = Vec::new();
    for (n, plan) in ["pro", "business", "pro", "business"]
        .into_iter()
        .enumerate()
    {
        let session = gateway
            .create_checkout_session(
                &request(8, plan, Some(&customer)),
                now + chrono::Duration::seconds(n as i64),
            )
            .await
            .unwrap();
        assert_eq!(status(&sandbox, &session.id).await, "open", "{plan} #{n}");
        links.push(session.id);
    }
    for earlier in &links[..3] {
        assert_eq!(status(&sandbox, earlier).await, "expired");
    }
    let ids: std::collections::HashSet<_> = links.iter().collect();
    assert_eq!(ids.len(), 4, "four sessions: {links:?}");
}

#[tokio::test]
async fn after_a_cancellation_a_checkout_in_the_same_window_gives_a_payable_link() {
    let (sandbox, gateway) = world().await;
    let customer = gateway
        .create_customer(UserId(9), &Email::new("i@example.com").unwrap())
        .await
        .unwrap();
    let asked = request(9, "pro", Some(&customer));
    let now = at(1_767_225_600);
    let paid = gateway.create_checkout_session(&asked, now).await.unwrap();
    assert_eq!(pay(&sandbox, &paid.id).await, 200);
    // Subscribed: refused, even with the paid session's key replayed.
    let refused = gateway
        .create_checkout_session(&asked, now + chrono::Duration::seconds(60))
        .await;
    assert_eq!(refused.unwrap_err(), BillingError::AlreadySubscribed);
    // Cancelled at once (in the portal), then asked again within the same window: the key
    // still answers the paid session, and a new one is made instead.
    let subscriptions = get(&sandbox, &format!("/v1/subscriptions?customer={customer}")).await;
    let sub = subscriptions["data"][0]["id"].as_str().unwrap().to_owned();
    let cancelled = client()
        .post(format!(
            "{}/_sandbox/cancel_subscription",
            sandbox.stripe_url()
        ))
        .json(&serde_json::json!({ "subscription": sub }))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let again = gateway
        .create_checkout_session(&asked, now + chrono::Duration::seconds(120))
        .await
        .unwrap();
    assert_ne!(again.id, paid.id);
    let stored = get(&sandbox, &format!("/v1/checkout/sessions/{}", again.id)).await;
    assert_eq!(stored["status"], "open", "{stored}");
    assert!(
        again.idempotency_key.contains("-after-"),
        "{}",
        again.idempotency_key
    );
    assert_eq!(pay(&sandbox, &again.id).await, 200);
}

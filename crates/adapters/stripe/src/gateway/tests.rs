#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_domain::quota::PlanName;

use super::*;

const KEY: &str = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWxYz";

fn config() -> StripeConfig {
    StripeConfig::new(
        Secret::new(KEY),
        PriceMap::parse("pro=price_1PRO,business=price_1BUSINESS").unwrap(),
        "https://app.multivio.example/billing?session={CHECKOUT_SESSION_ID}",
        "https://app.multivio.example/billing?canceled=1",
        "https://app.multivio.example/billing",
    )
}

fn gateway() -> StripeGateway {
    // Nothing listens there: the tests below never reach the network.
    StripeGateway::new(config().with_api_url("http://127.0.0.1:9")).unwrap()
}

#[test]
fn debug_never_shows_the_key() {
    let gateway = gateway();
    let shown = format!("{gateway:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("[redacted]"));
    assert!(shown.contains("price_1PRO"));
    assert!(gateway.is_test_mode());
    assert!(!format!("{:?}", config()).contains(KEY));
}

#[test]
fn the_configuration_is_checked() {
    let bad = [
        config().with_api_url("http://api.stripe.com"),
        StripeConfig {
            secret_key: Secret::new("pk_test_123456"),
            ..config()
        },
        StripeConfig {
            success_url: "/billing".to_owned(),
            ..config()
        },
        StripeConfig {
            api_version: Some("2025 03 31".to_owned()),
            ..config()
        },
    ];
    for config in bad {
        let error = StripeGateway::new(config).unwrap_err();
        assert!(!error.to_string().contains(KEY), "{error}");
    }
}

#[tokio::test]
async fn an_unknown_plan_is_refused_before_any_call() {
    let request = CheckoutRequest {
        user_id: UserId(7),
        email: Email::new("ann@example.com").unwrap(),
        customer_id: None,
        plan: PlanName::new("enterprise").unwrap(),
    };
    assert_eq!(
        gateway().checkout_url(&request).await,
        Err(BillingError::UnknownPlan("enterprise".to_owned()))
    );
    let free = CheckoutRequest {
        plan: PlanName::free(),
        ..request
    };
    assert_eq!(
        gateway().checkout_url(&free).await,
        Err(BillingError::UnknownPlan("free".to_owned()))
    );
}

#[tokio::test]
async fn no_answer_is_unavailable_without_the_key() {
    let config = StripeConfig {
        max_retries: 0,
        ..config().with_api_url("http://127.0.0.1:9")
    };
    let error = StripeGateway::new(config)
        .unwrap()
        .portal_url("cus_123")
        .await
        .unwrap_err();
    let BillingError::Unavailable(message) = error else {
        panic!("{error:?}");
    };
    assert!(message.starts_with("Stripe did not answer"), "{message}");
    assert!(!message.contains(KEY));
}

#[test]
fn stripe_refusals_keep_its_message_and_never_the_key() {
    let gateway = gateway();
    let error = gateway.refused(
        400,
        r#"{"error": {"code": "resource_missing", "doc_url": "https://stripe.com/docs/error-codes/resource-missing", "message": "No such price: 'price_1PRO'", "param": "line_items[0][price]", "request_log_url": "https://dashboard.stripe.com/test/logs/req_1", "type": "invalid_request_error"}}"#,
    );
    assert_eq!(
        error,
        BillingError::Unavailable(
            "Stripe answered 400: invalid_request_error/resource_missing: No such price: \
             'price_1PRO' (param line_items[0][price])"
                .to_owned()
        )
    );
    let echoed = gateway.refused(
        401,
        &format!(r#"{{"error": {{"message": "Invalid API Key provided: {KEY}", "type": "invalid_request_error"}}}}"#),
    );
    let BillingError::Unavailable(message) = echoed else {
        panic!("{echoed:?}");
    };
    assert!(!message.contains(KEY), "{message}");
    assert!(message.contains("[redacted]"));
    let html = gateway.refused(502, &format!("<html>{}</html>", "x".repeat(10_000)));
    let BillingError::Unavailable(message) = html else {
        panic!("{html:?}");
    };
    assert!(message.starts_with("Stripe answered 502: unexpected error answer: <html>"));
    assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        gateway.refused(500, ""),
        BillingError::Unavailable("Stripe answered 500: no message".to_owned())
    );
}

#[test]
fn fingerprints_follow_the_parameters_and_the_deployment() {
    let a = gateway();
    let form = Form::new().push("email", "ann@example.com");
    assert_eq!(a.fingerprint(&form), a.fingerprint(&form.clone()));
    assert_eq!(a.fingerprint(&form).len(), 16);
    let other_email = Form::new().push("email", "bob@example.com");
    assert_ne!(a.fingerprint(&form), a.fingerprint(&other_email));
    let b = StripeGateway::new(StripeConfig {
        success_url: "https://staging.multivio.example/billing".to_owned(),
        ..config().with_api_url("http://127.0.0.1:9")
    })
    .unwrap();
    assert_ne!(a.fingerprint(&form), b.fingerprint(&form));
}

#[test]
fn returned_links_must_be_web_urls() {
    assert!(
        link(
            Some("https://checkout.stripe.com/c/pay/cs_test_1".to_owned()),
            "x"
        )
        .is_ok()
    );
    assert!(link(None, "x").is_err());
    assert!(link(Some("javascript:alert(1)".to_owned()), "x").is_err());
    assert!(link(Some("/relative".to_owned()), "x").is_err());
}

#[test]
fn portal_keys_never_repeat() {
    assert_ne!(random_hex(), random_hex());
    assert_eq!(random_hex().len(), 32);
}

use multivio_domain::UserId;

use super::*;

fn config(flags: &[&str]) -> Config {
    let mut all = vec!["--listen=127.0.0.1:8080", "--sandbox=false"];
    all.extend_from_slice(flags);
    Config::from_flags(all).unwrap()
}

fn catalog() -> PlanCatalog {
    PlanCatalog::parse("pro=100,business=1000").unwrap()
}

fn request() -> CheckoutRequest {
    CheckoutRequest {
        user_id: UserId(1),
        email: Email::new("ada@example.com").unwrap(),
        customer_id: None,
        plan: PlanName::new("pro").unwrap(),
    }
}

const STRIPE: [&str; 3] = [
    "--stripe-secret-key=sk_test_abc123",
    "--stripe-webhook-secret=whsec_abc123",
    "--stripe-prices=pro=price_pro1",
];

#[tokio::test]
async fn without_stripe_or_sandbox_billing_is_not_configured() {
    let billing = billing(&config(&[]), &catalog(), None).unwrap();
    assert_eq!(
        billing.gateway.checkout_url(&request()).await,
        Err(BillingError::NotConfigured)
    );
    assert_eq!(
        billing.gateway.portal_url("cus_1").await,
        Err(BillingError::NotConfigured)
    );
    assert_eq!(
        billing.webhooks.read(b"{}", Some("t=1,v1=00"), Utc::now()),
        Err(WebhookRejection::NotConfigured)
    );
}

#[test]
fn stripe_settings_without_the_key_are_refused() {
    for flag in [
        "--stripe-webhook-secret=whsec_abc",
        "--stripe-prices=pro=price_1",
        "--stripe-api-url=https://stripe.example",
    ] {
        let err = billing(&config(&[flag]), &catalog(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("MULTIVIO_STRIPE_SECRET_KEY is not"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn the_key_needs_the_webhook_secret_and_the_prices() {
    let err = billing(&config(&[STRIPE[0], STRIPE[2]]), &catalog(), None)
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("MULTIVIO_STRIPE_WEBHOOK_SECRET"));
    let err = billing(&config(&[STRIPE[0], STRIPE[1]]), &catalog(), None)
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("MULTIVIO_STRIPE_PRICES"));
    assert!(billing(&config(&STRIPE), &catalog(), None).is_ok());
}

#[test]
fn only_paid_plans_of_the_catalog_are_sold() {
    let unknown = [STRIPE[0], STRIPE[1], "--stripe-prices=gold=price_gold"];
    let err = billing(&config(&unknown), &catalog(), None).err().unwrap();
    assert!(
        format!("{err:#}").contains("`gold`, which MULTIVIO_PLANS does not define"),
        "{err:#}"
    );
    let free = [STRIPE[0], STRIPE[1], "--stripe-prices=free=price_free"];
    assert!(billing(&config(&free), &catalog(), None).is_err());
}

#[test]
fn a_webhook_secret_that_is_not_one_is_refused() {
    let flags = [STRIPE[0], "--stripe-webhook-secret=abc", STRIPE[2]];
    let err = billing(&config(&flags), &catalog(), None).err().unwrap();
    assert!(format!("{err:#}").contains("whsec_"), "{err:#}");
}

#[test]
fn production_wants_stripe_over_https() {
    let flags = [
        STRIPE[0],
        STRIPE[1],
        STRIPE[2],
        "--stripe-api-url=http://127.0.0.1:9",
        "--production",
    ];
    let err = billing(&config(&flags), &catalog(), None).err().unwrap();
    assert!(err.to_string().contains("https"), "{err}");
}

#[test]
fn locally_billing_goes_to_the_sandbox_selling_the_catalogs_plans() {
    let billing = billing(&config(&[]), &catalog(), Some("http://127.0.0.1:8090/")).unwrap();
    assert_eq!(
        billing.sandbox_stripe.as_deref(),
        Some("http://127.0.0.1:8090/stripe")
    );
    // A delivery signed with the sandbox's secret is accepted.
    let payload =
        br#"{"id":"evt_1","object":"event","type":"ping","created":1,"data":{"object":{}}}"#;
    let now = Utc::now();
    let signature = multivio_stripe::webhook::sign(
        payload,
        &Secret::new(sandbox::STRIPE_WEBHOOK_SECRET),
        now.timestamp(),
    );
    assert_eq!(
        billing.webhooks.read(payload, Some(&signature), now),
        Ok(WebhookDelivery::Ignore {
            id: "evt_1".into(),
            kind: "ping".into()
        })
    );
    assert!(matches!(
        billing.webhooks.read(payload, None, now),
        Err(WebhookRejection::Unverified(_))
    ));
}

#[test]
fn customers_return_to_the_configured_page_then_the_web_client_then_this_server() {
    assert_eq!(
        return_url(&config(&[
            "--billing-return-url=https://app.example/billing",
            "--cors-origins=https://web.example"
        ])),
        "https://app.example/billing"
    );
    assert_eq!(
        return_url(&config(&[
            "--cors-origins= https://web.example ,https://b.example"
        ])),
        "https://web.example"
    );
    assert_eq!(return_url(&config(&[])), "http://127.0.0.1:8080");
}

#[test]
fn checkout_returns_carry_the_outcome_after_any_query_of_the_page() {
    let c = stripe_config(
        Secret::new("sk_test_1"),
        PriceMap::default(),
        "https://app.example/billing?tab=plan",
    );
    assert_eq!(
        c.success_url,
        "https://app.example/billing?tab=plan&checkout=success&session_id={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(
        c.cancel_url,
        "https://app.example/billing?tab=plan&checkout=cancelled"
    );
    assert_eq!(c.portal_return_url, "https://app.example/billing?tab=plan");
}

#[tokio::test]
async fn production_without_a_relay_fails_to_send_and_logs_nothing_secret() {
    let mailer = mailer(&config(&["--production"])).unwrap();
    let err = mailer
        .send_verification(&Email::new("ada@example.com").unwrap(), &Secret::new("tok"))
        .await
        .unwrap_err();
    assert!(matches!(&err, MailError::Failed(why) if why.contains("no mail relay")));
}

#[tokio::test]
async fn locally_without_a_relay_mail_goes_to_the_log() {
    let mailer = mailer(&config(&[])).unwrap();
    assert!(
        mailer
            .send_verification(&Email::new("ada@example.com").unwrap(), &Secret::new("tok"))
            .await
            .is_ok()
    );
}

#[test]
fn a_relay_needs_a_sender_and_a_usable_url() {
    let err = mailer(&config(&["--smtp-url=smtp://127.0.0.1:2525"]))
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("MULTIVIO_MAIL_FROM"), "{err:#}");
    assert!(
        mailer(&config(&[
            "--smtp-url=ftp://127.0.0.1",
            "--mail-from=no-reply@example.com"
        ]))
        .is_err()
    );
    assert!(
        mailer(&config(&[
            "--smtp-url=smtp://127.0.0.1:2525",
            "--mail-from=Multivio <no-reply@example.com>"
        ]))
        .is_ok()
    );
}

#[test]
fn production_sends_mail_encrypted_or_to_this_machine_only() {
    let with = |url: &str, production: bool| {
        let relay = format!("--smtp-url={url}");
        let mut flags = vec![relay.as_str(), "--mail-from=no-reply@example.com"];
        if production {
            flags.extend(["--production", "--public-url=https://api.example.com"]);
        }
        mailer(&config(&flags))
    };
    for url in [
        "smtp://smtp.example.com",
        "smtp://smtp.example.com?tls=opportunistic",
    ] {
        let err = with(url, true).err().expect(url);
        assert!(format!("{err:#}").contains("encrypted"), "{err:#}");
        assert!(with(url, false).is_ok(), "{url} locally");
    }
    for url in [
        "smtps://smtp.example.com",
        "smtp://smtp.example.com?tls=required",
        "smtp://127.0.0.1:2525",
    ] {
        assert!(with(url, true).is_ok(), "{url}");
    }
}

#[test]
fn the_configurations_debug_shows_no_billing_or_mail_secret() {
    let c = config(&[
        STRIPE[0],
        STRIPE[1],
        "--smtp-url=smtps://user:hunter2@smtp.example.com",
    ]);
    let shown = format!("{c:?}");
    for secret in ["sk_test_abc123", "whsec_abc123", "hunter2"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

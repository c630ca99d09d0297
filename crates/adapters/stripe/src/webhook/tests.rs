#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

/// The fixed vector of `docs/security.md`.
const VECTOR_SECRET: &str = "whsec_test_secret";
const VECTOR_T: i64 = 1_700_000_000;
const VECTOR_BODY: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
const VECTOR_V1: &str = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

const SECRET: &str = "whsec_multivio_unit_tests";

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).unwrap()
}

fn tolerance() -> chrono::Duration {
    chrono::Duration::seconds(DEFAULT_TOLERANCE_SECONDS)
}

fn plan(name: &str) -> PlanName {
    PlanName::new(name).unwrap()
}

fn prices() -> PriceMap {
    PriceMap::parse("pro=price_1PRO,business=price_1BUSINESS").unwrap()
}

/// A body signed now (`NOW`) with `SECRET`: (body, header).
fn signed(event: &Value) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(event).unwrap();
    let header = sign(&body, &secret(SECRET), NOW);
    (body, header)
}

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn parse(event: &Value) -> Result<Option<BillingEvent>, WebhookError> {
    let (body, header) = signed(event);
    verify_and_parse(&body, &header, &secret(SECRET), &prices(), at(NOW))
}

fn envelope(event_type: &str, object: Value) -> Value {
    json!({
        "id": "evt_1QxYzAbCdEfGhIjK",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": NOW - 5,
        "data": { "object": object, "previous_attributes": {} },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    })
}

// ---------------------------------------------------------------------------------------------
// The fixed vector

#[test]
fn the_security_docs_vector_signs_to_its_v1() {
    let header = sign(VECTOR_BODY.as_bytes(), &secret(VECTOR_SECRET), VECTOR_T);
    assert_eq!(header, format!("t={VECTOR_T},v1={VECTOR_V1}"));
}

#[test]
fn the_security_docs_vector_verifies_within_tolerance() {
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    for now in [VECTOR_T, VECTOR_T + 300, VECTOR_T - 300] {
        assert_eq!(
            verify_signature(
                VECTOR_BODY.as_bytes(),
                &header,
                &secret(VECTOR_SECRET),
                at(now),
                tolerance()
            ),
            Ok(()),
            "now = t {:+}",
            now - VECTOR_T
        );
    }
}

#[test]
fn the_vector_is_found_among_several_v1_and_a_v0() {
    let other = "a".repeat(64);
    let header = format!(
        "t={VECTOR_T}, v1={other}, v1={VECTOR_V1} ,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    );
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T + 10),
            tolerance()
        ),
        Ok(())
    );
}

#[test]
fn the_vector_expires_after_300_seconds() {
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T + 301),
            tolerance()
        ),
        Err(WebhookError::Expired {
            age_seconds: 301,
            tolerance_seconds: 300
        })
    );
}

#[test]
fn the_vector_from_beyond_300_seconds_in_the_future_is_refused() {
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T - 301),
            tolerance()
        ),
        Err(WebhookError::FromTheFuture {
            ahead_seconds: 301,
            tolerance_seconds: 300
        })
    );
}

#[test]
fn the_vector_with_another_secret_does_not_match() {
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret("whsec_test_secreT"),
            at(VECTOR_T),
            tolerance()
        ),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn the_vector_body_reserialized_with_whitespace_does_not_match() {
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_str::<Value>(VECTOR_BODY).unwrap()).unwrap();
    let newline = format!("{VECTOR_BODY}\n");
    for body in [
        pretty.as_slice(),
        br#"{"id": "evt_test_webhook", "object": "event"}"#.as_slice(),
        br#"{"object":"event","id":"evt_test_webhook"}"#.as_slice(),
        newline.as_bytes(),
    ] {
        assert_eq!(
            verify_signature(
                body,
                &header,
                &secret(VECTOR_SECRET),
                at(VECTOR_T),
                tolerance()
            ),
            Err(WebhookError::SignatureMismatch),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn the_signature_is_checked_before_the_time() {
    // Forged and old: a mismatch, not "expired" (nothing about the forgery is confirmed).
    let header = format!("t={VECTOR_T},v1={}", "0".repeat(64));
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T + 10_000),
            tolerance()
        ),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn the_vector_is_verified_then_read_and_refused_as_an_event_without_a_type() {
    // The vector's body is a bare `{id, object}`: genuine, but not an event that can be read.
    let header = format!("t={VECTOR_T},v1={VECTOR_V1}");
    let result = verify_and_parse(
        VECTOR_BODY.as_bytes(),
        &header,
        &secret(VECTOR_SECRET),
        &prices(),
        at(VECTOR_T),
    );
    assert!(
        matches!(result, Err(WebhookError::Payload(_))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Headers

#[test]
fn a_missing_header_is_its_own_error() {
    for header in ["", "   "] {
        assert_eq!(
            verify_signature(
                VECTOR_BODY.as_bytes(),
                header,
                &secret(VECTOR_SECRET),
                at(VECTOR_T),
                tolerance()
            ),
            Err(WebhookError::MissingHeader)
        );
    }
}

#[test]
fn garbled_headers_are_malformed_never_a_panic() {
    let long = format!("t={VECTOR_T},v1={}", "a".repeat(5000));
    let many = format!("t={VECTOR_T}{}", format!(",v1={VECTOR_V1}").repeat(9));
    let cases = [
        "garbage",
        "t=,v1=abc",
        "v1=abc",
        &format!("v1={VECTOR_V1}"),
        "t=abc,v1=00",
        "t=-5,v1=00",
        "t=+5,v1=00",
        "t=1.5,v1=00",
        "t=99999999999999999999999,v1=00",
        "t=1,t=2,v1=00",
        "t=1;v1=00",
        ",,,=,",
        "t=1,v1",
        "\u{0}\u{ffff}é,t=é",
        &long,
        &many,
    ];
    for header in cases {
        let result = verify_signature(
            VECTOR_BODY.as_bytes(),
            header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T),
            tolerance(),
        );
        assert!(
            matches!(result, Err(WebhookError::MalformedHeader(_))),
            "{header:?}: {result:?}"
        );
    }
}

#[test]
fn a_header_without_v1_is_its_own_error() {
    for header in [
        format!("t={VECTOR_T}"),
        format!("t={VECTOR_T},v0={VECTOR_V1}"),
        format!("t={VECTOR_T},v2={VECTOR_V1},foo=bar"),
    ] {
        assert_eq!(
            verify_signature(
                VECTOR_BODY.as_bytes(),
                &header,
                &secret(VECTOR_SECRET),
                at(VECTOR_T),
                tolerance()
            ),
            Err(WebhookError::NoV1Signature),
            "{header}"
        );
    }
}

#[test]
fn garbled_v1_values_never_match() {
    for v1 in ["zz", "", "abc", &VECTOR_V1[..62], &format!("{VECTOR_V1}00")] {
        let header = format!("t={VECTOR_T},v1={v1}");
        assert_eq!(
            verify_signature(
                VECTOR_BODY.as_bytes(),
                &header,
                &secret(VECTOR_SECRET),
                at(VECTOR_T),
                tolerance()
            ),
            Err(WebhookError::SignatureMismatch),
            "{header}"
        );
    }
}

#[test]
fn an_uppercase_hex_signature_matches_too() {
    let header = format!("t={VECTOR_T},v1={}", VECTOR_V1.to_ascii_uppercase());
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(VECTOR_SECRET),
            at(VECTOR_T),
            tolerance()
        ),
        Ok(())
    );
}

#[test]
fn extreme_timestamps_and_clocks_do_not_overflow() {
    let body = VECTOR_BODY.as_bytes();
    let s = secret(VECTOR_SECRET);
    let old = sign(body, &s, 0);
    assert!(matches!(
        verify_signature(body, &old, &s, at(VECTOR_T), tolerance()),
        Err(WebhookError::Expired { .. })
    ));
    let far = sign(body, &s, 999_999_999_999_999_999);
    assert!(matches!(
        verify_signature(body, &far, &s, at(VECTOR_T), tolerance()),
        Err(WebhookError::FromTheFuture { .. })
    ));
    assert!(matches!(
        verify_signature(body, &old, &s, DateTime::<Utc>::MAX_UTC, tolerance()),
        Err(WebhookError::Expired { .. })
    ));
}

#[test]
fn an_empty_secret_verifies_nothing() {
    let header = sign(VECTOR_BODY.as_bytes(), &secret(""), VECTOR_T);
    assert_eq!(
        verify_signature(
            VECTOR_BODY.as_bytes(),
            &header,
            &secret(""),
            at(VECTOR_T),
            tolerance()
        ),
        Err(WebhookError::NoSecret)
    );
    assert!(StripeWebhooks::new(secret(""), prices()).is_err());
    assert!(StripeWebhooks::new(secret("whsec_"), prices()).is_err());
    assert!(StripeWebhooks::new(secret("sk_test_123"), prices()).is_err());
}

#[test]
fn an_oversized_body_is_refused_before_any_hmac() {
    let body = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    let header = sign(&body, &secret(SECRET), NOW);
    assert_eq!(
        verify_signature(&body, &header, &secret(SECRET), at(NOW), tolerance()),
        Err(WebhookError::TooLarge {
            max: MAX_PAYLOAD_BYTES
        })
    );
}

#[test]
fn errors_say_what_is_wrong_without_the_secret() {
    let errors = [
        WebhookError::MissingHeader,
        WebhookError::MalformedHeader("no timestamp (t=)".to_owned()),
        WebhookError::NoV1Signature,
        WebhookError::SignatureMismatch,
        WebhookError::Expired {
            age_seconds: 301,
            tolerance_seconds: 300,
        },
        WebhookError::FromTheFuture {
            ahead_seconds: 301,
            tolerance_seconds: 300,
        },
    ];
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for (i, m) in messages.iter().enumerate() {
        assert!(!m.contains(SECRET) && !m.is_empty());
        assert!(messages.iter().skip(i + 1).all(|other| other != m));
    }
    let webhooks = StripeWebhooks::new(secret(SECRET), prices()).unwrap();
    assert!(!format!("{webhooks:?}").contains(SECRET));
}

#[test]
fn the_verifier_uses_its_own_tolerance() {
    let (body, header) = signed(&envelope("ping", json!({"object": "account"})));
    let webhooks = StripeWebhooks::new(secret(SECRET), prices())
        .unwrap()
        .with_tolerance(chrono::Duration::seconds(10));
    assert!(webhooks.verify(&body, &header, at(NOW + 10)).is_ok());
    assert!(matches!(
        webhooks.verify(&body, &header, at(NOW + 11)),
        Err(WebhookError::Expired { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Events (real shapes: API 2025-03-31.basil unless said otherwise)

fn checkout_session() -> Value {
    json!({
        "id": "cs_test_a1B2c3D4e5F6g7H8i9J0",
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": 1900,
        "amount_total": 1900,
        "billing_address_collection": null,
        "cancel_url": "https://app.multivio.example/billing?canceled=1",
        "client_reference_id": "42",
        "created": NOW - 120,
        "currency": "usd",
        "customer": "cus_QxYz123AbC",
        "customer_creation": null,
        "customer_details": {
            "address": null,
            "email": "ann@example.com",
            "name": "Ann",
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": []
        },
        "customer_email": null,
        "expires_at": NOW + 86_000,
        "invoice": "in_1QxYzInv",
        "livemode": false,
        "locale": null,
        "metadata": { "plan": "pro", "user_id": "42" },
        "mode": "subscription",
        "payment_intent": null,
        "payment_link": null,
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "submit_type": null,
        "subscription": "sub_1QxYzSub",
        "success_url": "https://app.multivio.example/billing?session={CHECKOUT_SESSION_ID}",
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": null
    })
}

fn subscription(status: &str, price: &str) -> Value {
    json!({
        "id": "sub_1QxYzSub",
        "object": "subscription",
        "application": null,
        "billing_cycle_anchor": NOW - 60,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "collection_method": "charge_automatically",
        "created": NOW - 60,
        "currency": "usd",
        "customer": "cus_QxYz123AbC",
        "default_payment_method": "pm_1QxYzPm",
        "ended_at": null,
        "items": {
            "object": "list",
            "data": [{
                "id": "si_QxYzItem",
                "object": "subscription_item",
                "created": NOW - 60,
                "current_period_end": 1_769_904_000,
                "current_period_start": 1_767_225_540,
                "discounts": [],
                "metadata": {},
                "price": {
                    "id": price,
                    "object": "price",
                    "active": true,
                    "billing_scheme": "per_unit",
                    "currency": "usd",
                    "lookup_key": null,
                    "metadata": {},
                    "nickname": null,
                    "product": "prod_QxYzProd",
                    "recurring": { "interval": "month", "interval_count": 1, "usage_type": "licensed" },
                    "type": "recurring",
                    "unit_amount": 1900
                },
                "quantity": 1,
                "subscription": "sub_1QxYzSub",
                "tax_rates": []
            }],
            "has_more": false,
            "total_count": 1,
            "url": "/v1/subscription_items?subscription=sub_1QxYzSub"
        },
        "latest_invoice": "in_1QxYzInv",
        "livemode": false,
        "metadata": { "plan": "pro", "user_id": "42" },
        "start_date": NOW - 60,
        "status": status,
        "trial_end": null,
        "trial_start": null
    })
}

/// The same subscription as an API version before 2025-03-31 shows it: periods on the
/// subscription, and the legacy `plan`.
fn legacy_subscription(status: &str, price: &str) -> Value {
    let mut sub = subscription(status, price);
    let item = &mut sub["items"]["data"][0];
    let obj = item.as_object_mut().unwrap();
    obj.remove("current_period_start");
    obj.remove("current_period_end");
    obj.insert("plan".to_owned(), json!({"id": price, "object": "plan"}));
    let obj = sub.as_object_mut().unwrap();
    obj.insert("current_period_start".to_owned(), json!(1_700_000_000));
    obj.insert("current_period_end".to_owned(), json!(1_702_592_000));
    obj.insert("plan".to_owned(), json!({"id": price, "object": "plan"}));
    sub
}

fn invoice(status: &str) -> Value {
    json!({
        "id": "in_1QxYzInv",
        "object": "invoice",
        "account_country": "US",
        "amount_due": 1900,
        "amount_paid": if status == "paid" { 1900 } else { 0 },
        "amount_remaining": if status == "paid" { 0 } else { 1900 },
        "attempt_count": 1,
        "attempted": true,
        "billing_reason": "subscription_create",
        "collection_method": "charge_automatically",
        "created": NOW - 60,
        "currency": "usd",
        "customer": "cus_QxYz123AbC",
        "customer_email": "ann@example.com",
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1",
        "lines": {
            "object": "list",
            "data": [{
                "id": "il_1QxYzLine",
                "object": "line_item",
                "amount": 1900,
                "currency": "usd",
                "description": "1 × Multivio Pro (at $19.00 / month)",
                "discounts": [],
                "invoice": "in_1QxYzInv",
                "livemode": false,
                "metadata": { "plan": "pro", "user_id": "42" },
                "parent": {
                    "invoice_item_details": null,
                    "subscription_item_details": {
                        "invoice_item": null,
                        "proration": false,
                        "proration_details": { "credited_items": null },
                        "subscription": "sub_1QxYzSub",
                        "subscription_item": "si_QxYzItem"
                    },
                    "type": "subscription_item_details"
                },
                "period": { "end": 1_769_904_000, "start": 1_767_225_540 },
                "pricing": {
                    "price_details": { "price": "price_1PRO", "product": "prod_QxYzProd" },
                    "type": "price_details",
                    "unit_amount_decimal": "1900"
                },
                "quantity": 1
            }],
            "has_more": false,
            "total_count": 1,
            "url": "/v1/invoices/in_1QxYzInv/lines"
        },
        "livemode": false,
        "next_payment_attempt": if status == "paid" { Value::Null } else { json!(NOW + 259_200) },
        "number": "ABCD-0001",
        "parent": {
            "quote_details": null,
            "subscription_details": {
                "metadata": { "plan": "pro", "user_id": "42" },
                "subscription": "sub_1QxYzSub"
            },
            "type": "subscription_details"
        },
        // For a subscription's first invoice, the invoice's own period is a point in time.
        "period_end": NOW - 60,
        "period_start": NOW - 60,
        "status": status,
        "subtotal": 1900,
        "total": 1900
    })
}

/// An invoice as API versions before 2025-03-31 show it: `subscription` at the top, the
/// lines' `price` and `plan` objects.
fn legacy_invoice() -> Value {
    let mut inv = invoice("paid");
    let obj = inv.as_object_mut().unwrap();
    obj.remove("parent");
    obj.insert("subscription".to_owned(), json!("sub_1QxYzSub"));
    let line = inv["lines"]["data"][0].as_object_mut().unwrap();
    line.remove("pricing");
    line.remove("parent");
    line.insert(
        "price".to_owned(),
        json!({"id": "price_1BUSINESS", "object": "price", "unit_amount": 4900}),
    );
    line.insert(
        "plan".to_owned(),
        json!({"id": "price_1BUSINESS", "object": "plan"}),
    );
    line.insert("subscription".to_owned(), json!("sub_1QxYzSub"));
    line.insert("type".to_owned(), json!("subscription"));
    inv
}

#[test]
fn checkout_session_completed_links_the_customer_to_the_user() {
    let event = parse(&envelope("checkout.session.completed", checkout_session()))
        .unwrap()
        .unwrap();
    assert_eq!(event.id, "evt_1QxYzAbCdEfGhIjK");
    assert_eq!(event.created, at(NOW - 5));
    assert_eq!(
        event.kind,
        BillingEventKind::CheckoutCompleted {
            user_id: Some(UserId(42)),
            customer_id: "cus_QxYz123AbC".to_owned(),
            subscription_id: Some("sub_1QxYzSub".to_owned()),
        }
    );
}

#[test]
fn a_checkout_reads_expanded_objects_and_falls_back_to_metadata() {
    let mut session = checkout_session();
    session["customer"] = json!({"id": "cus_Expanded", "object": "customer"});
    session["subscription"] = json!({"id": "sub_Expanded", "object": "subscription"});
    session["client_reference_id"] = Value::Null;
    let event = parse(&envelope("checkout.session.completed", session))
        .unwrap()
        .unwrap();
    assert_eq!(
        event.kind,
        BillingEventKind::CheckoutCompleted {
            user_id: Some(UserId(42)),
            customer_id: "cus_Expanded".to_owned(),
            subscription_id: Some("sub_Expanded".to_owned()),
        }
    );
}

#[test]
fn a_checkout_for_someone_else_carries_no_user() {
    let mut session = checkout_session();
    session["client_reference_id"] = json!("order-981");
    session["metadata"] = json!({});
    let event = parse(&envelope("checkout.session.completed", session))
        .unwrap()
        .unwrap();
    assert!(matches!(
        event.kind,
        BillingEventKind::CheckoutCompleted { user_id: None, .. }
    ));
}

#[test]
fn a_payment_mode_checkout_or_one_without_customer_is_not_for_billing() {
    let mut payment = checkout_session();
    payment["mode"] = json!("payment");
    assert_eq!(
        parse(&envelope("checkout.session.completed", payment)),
        Ok(None)
    );
    let mut guest = checkout_session();
    guest["customer"] = Value::Null;
    assert_eq!(
        parse(&envelope("checkout.session.completed", guest)),
        Ok(None)
    );
}

#[test]
fn subscription_created_and_updated_read_the_items_period_and_plan() {
    for (event_type, status, expected) in [
        (
            "customer.subscription.created",
            "active",
            SubscriptionStatus::Active,
        ),
        (
            "customer.subscription.updated",
            "past_due",
            SubscriptionStatus::PastDue,
        ),
        (
            "customer.subscription.updated",
            "trialing",
            SubscriptionStatus::Trialing,
        ),
        (
            "customer.subscription.updated",
            "incomplete_expired",
            SubscriptionStatus::IncompleteExpired,
        ),
    ] {
        let event = parse(&envelope(event_type, subscription(status, "price_1PRO")))
            .unwrap()
            .unwrap();
        assert_eq!(
            event.kind,
            BillingEventKind::SubscriptionChanged(SubscriptionSnapshot {
                subscription_id: "sub_1QxYzSub".to_owned(),
                customer_id: "cus_QxYz123AbC".to_owned(),
                status: expected,
                plan: Some(plan("pro")),
                current_period_start: Some(at(1_767_225_540)),
                current_period_end: Some(at(1_769_904_000)),
            }),
            "{event_type} {status}"
        );
    }
}

#[test]
fn a_legacy_subscription_reads_its_own_period() {
    let event = parse(&envelope(
        "customer.subscription.updated",
        legacy_subscription("active", "price_1BUSINESS"),
    ))
    .unwrap()
    .unwrap();
    let BillingEventKind::SubscriptionChanged(snap) = event.kind else {
        panic!("{event:?}");
    };
    assert_eq!(snap.plan, Some(plan("business")));
    assert_eq!(snap.current_period_start, Some(at(1_700_000_000)));
    assert_eq!(snap.current_period_end, Some(at(1_702_592_000)));
}

#[test]
fn a_price_not_ours_is_no_plan() {
    let event = parse(&envelope(
        "customer.subscription.updated",
        subscription("active", "price_SomethingElse"),
    ))
    .unwrap()
    .unwrap();
    let BillingEventKind::SubscriptionChanged(snap) = event.kind else {
        panic!("{event:?}");
    };
    assert_eq!(snap.plan, None);
    assert_eq!(snap.current_period_end, Some(at(1_769_904_000)));
}

#[test]
fn the_item_at_our_price_is_the_one_read_among_several() {
    let mut sub = subscription("active", "price_1BUSINESS");
    let mut addon = sub["items"]["data"][0].clone();
    addon["id"] = json!("si_Addon");
    addon["price"]["id"] = json!("price_AddOnSeats");
    addon["current_period_end"] = json!(1_800_000_000);
    let items = sub["items"]["data"].as_array_mut().unwrap();
    items.insert(0, addon);
    let event = parse(&envelope("customer.subscription.updated", sub))
        .unwrap()
        .unwrap();
    let BillingEventKind::SubscriptionChanged(snap) = event.kind else {
        panic!("{event:?}");
    };
    assert_eq!(snap.plan, Some(plan("business")));
    assert_eq!(snap.current_period_end, Some(at(1_769_904_000)));
}

#[test]
fn subscription_deleted_ends_when_it_ended() {
    let mut sub = subscription("canceled", "price_1PRO");
    sub["ended_at"] = json!(NOW - 10);
    sub["canceled_at"] = json!(NOW - 10);
    let event = parse(&envelope("customer.subscription.deleted", sub))
        .unwrap()
        .unwrap();
    assert_eq!(
        event.kind,
        BillingEventKind::SubscriptionDeleted(SubscriptionSnapshot {
            subscription_id: "sub_1QxYzSub".to_owned(),
            customer_id: "cus_QxYz123AbC".to_owned(),
            status: SubscriptionStatus::Canceled,
            plan: Some(plan("pro")),
            current_period_start: Some(at(1_767_225_540)),
            current_period_end: Some(at(NOW - 10)),
        })
    );
}

#[test]
fn an_unknown_subscription_status_is_refused_not_guessed() {
    for status in ["free", "on_vacation", ""] {
        let result = parse(&envelope(
            "customer.subscription.updated",
            subscription(status, "price_1PRO"),
        ));
        assert!(
            matches!(result, Err(WebhookError::Payload(ref m)) if m.contains("status")),
            "{status}: {result:?}"
        );
    }
}

#[test]
fn invoice_paid_reads_the_billed_lines_period_and_plan() {
    let event = parse(&envelope("invoice.paid", invoice("paid")))
        .unwrap()
        .unwrap();
    assert_eq!(
        event.kind,
        BillingEventKind::InvoicePaid {
            customer_id: "cus_QxYz123AbC".to_owned(),
            subscription_id: Some("sub_1QxYzSub".to_owned()),
            amount_paid: 1900,
            currency: "usd".to_owned(),
            period_start: Some(at(1_767_225_540)),
            period_end: Some(at(1_769_904_000)),
            plan: Some(plan("pro")),
            billing_reason: Some("subscription_create".to_owned()),
        }
    );
}

#[test]
fn an_invoice_s_prorations_are_not_the_period_billed() {
    // A renewal after business → pro mid-period: Stripe lists the prorations first.
    let mut inv = invoice("paid");
    inv["billing_reason"] = json!("subscription_cycle");
    let billed = inv["lines"]["data"][0].clone();
    let mut unused = billed.clone();
    unused["parent"]["subscription_item_details"]["proration"] = json!(true);
    unused["pricing"]["price_details"]["price"] = json!("price_1BUSINESS");
    unused["period"] = json!({ "start": 1_768_500_000, "end": 1_769_904_000 });
    // The same, as an older API version writes it.
    let mut older = unused.clone();
    older["parent"] = Value::Null;
    older["proration"] = json!(true);
    inv["lines"]["data"] = json!([unused, older, billed]);
    let event = parse(&envelope("invoice.paid", inv)).unwrap().unwrap();
    let BillingEventKind::InvoicePaid {
        period_start,
        plan: billed,
        ..
    } = event.kind
    else {
        panic!("{event:?}");
    };
    assert_eq!(billed, Some(plan("pro")));
    assert_eq!(period_start, Some(at(1_767_225_540)));
}

#[test]
fn a_legacy_invoice_reads_its_subscription_and_line_price() {
    let event = parse(&envelope("invoice.paid", legacy_invoice()))
        .unwrap()
        .unwrap();
    let BillingEventKind::InvoicePaid {
        subscription_id,
        plan: billed,
        ..
    } = event.kind
    else {
        panic!("{event:?}");
    };
    assert_eq!(subscription_id.as_deref(), Some("sub_1QxYzSub"));
    assert_eq!(billed, Some(plan("business")));
}

#[test]
fn an_invoice_without_lines_uses_its_own_period() {
    let mut inv = invoice("paid");
    inv["lines"] = json!({"object": "list", "data": [], "has_more": false});
    inv["currency"] = json!("EUR");
    let event = parse(&envelope("invoice.paid", inv)).unwrap().unwrap();
    let BillingEventKind::InvoicePaid {
        period_start,
        currency,
        plan,
        ..
    } = event.kind
    else {
        panic!("{event:?}");
    };
    assert_eq!(period_start, Some(at(NOW - 60)));
    assert_eq!(currency, "eur");
    assert_eq!(plan, None);

    // One before 1970 makes the event unreadable.
    let mut early = invoice("paid");
    early["lines"] = json!({"object": "list", "data": [], "has_more": false});
    early["period_start"] = json!(-1);
    let result = parse(&envelope("invoice.paid", early));
    assert!(
        matches!(result, Err(WebhookError::Payload(_))),
        "{result:?}"
    );
}

#[test]
fn invoice_payment_failed_has_no_domain_kind_but_is_kept_for_the_caller() {
    let failed = envelope("invoice.payment_failed", invoice("open"));
    assert_eq!(parse(&failed), Ok(None));
    let (body, header) = signed(&failed);
    let webhooks = StripeWebhooks::new(secret(SECRET), prices()).unwrap();
    let StripeEvent::PaymentFailed(p) = webhooks.verify(&body, &header, at(NOW)).unwrap() else {
        panic!("not a payment failure");
    };
    assert_eq!(
        p,
        PaymentFailed {
            id: "evt_1QxYzAbCdEfGhIjK".to_owned(),
            created: at(NOW - 5),
            invoice_id: "in_1QxYzInv".to_owned(),
            customer_id: "cus_QxYz123AbC".to_owned(),
            subscription_id: Some("sub_1QxYzSub".to_owned()),
            amount_due: 1900,
            currency: "usd".to_owned(),
            attempt_count: Some(1),
            next_payment_attempt: Some(at(NOW + 259_200)),
            plan: Some(plan("pro")),
        }
    );
}

#[test]
fn other_event_types_are_ignored() {
    for event_type in [
        "invoice.payment_succeeded",
        "customer.created",
        "payment_intent.succeeded",
        "customer.subscription.trial_will_end",
        "a.type.from.the.future",
    ] {
        assert_eq!(
            parse(&envelope(
                event_type,
                json!({"id": "x", "object": "whatever"})
            )),
            Ok(None),
            "{event_type}"
        );
    }
    let (body, header) = signed(&envelope("customer.created", json!({"object": "customer"})));
    let webhooks = StripeWebhooks::new(secret(SECRET), prices()).unwrap();
    assert_eq!(
        webhooks.verify(&body, &header, at(NOW)),
        Ok(StripeEvent::Ignored {
            id: "evt_1QxYzAbCdEfGhIjK".to_owned(),
            event_type: "customer.created".to_owned()
        })
    );
}

#[test]
fn signed_bodies_that_are_not_readable_events_are_payload_errors() {
    let cases = [
        json!("a string"),
        json!([1, 2]),
        json!({"id": "evt_1", "object": "event", "type": "invoice.paid", "created": NOW}),
        json!({"id": "evt_1", "object": "charge", "type": "invoice.paid", "created": NOW, "data": {"object": {}}}),
        json!({"id": "", "object": "event", "type": "ping", "created": NOW, "data": {"object": {}}}),
        json!({"id": "evt_1", "object": "event", "type": "ping", "created": i64::MAX, "data": {"object": {}}}),
        // Before 1970 (7537 BC, which a store could not keep) and after 9999.
        json!({"id": "evt_1", "object": "event", "type": "ping", "created": -300_000_000_000i64, "data": {"object": {}}}),
        json!({"id": "evt_1", "object": "event", "type": "ping", "created": 253_402_300_800i64, "data": {"object": {}}}),
        json!({"id": "evt_1", "object": "event", "type": "ping", "created": "yesterday", "data": {"object": {}}}),
        envelope(
            "invoice.paid",
            json!({"id": "in_1", "object": "subscription"}),
        ),
        envelope(
            "invoice.paid",
            json!({"id": "in_1", "object": "invoice", "currency": "usd", "customer": null}),
        ),
        envelope(
            "invoice.paid",
            json!({"id": "in_1", "object": "invoice", "currency": "dollars", "customer": "cus_1"}),
        ),
        envelope(
            "customer.subscription.updated",
            json!({"object": "subscription", "id": "sub_1"}),
        ),
        envelope(
            "customer.subscription.updated",
            json!({"object": "subscription", "id": "sub_1", "customer": "cus_1", "status": "active", "items": {"data": [{"current_period_end": -99_999_999_999_999i64}]}}),
        ),
        envelope(
            "checkout.session.completed",
            json!({"object": "checkout.session", "customer": "x".repeat(300)}),
        ),
        envelope(
            "customer.subscription.deleted",
            json!({"object": "subscription", "id": 7, "customer": "cus_1", "status": "canceled"}),
        ),
    ];
    for case in cases {
        let result = parse(&case);
        assert!(
            matches!(result, Err(WebhookError::Payload(_))),
            "{case}: {result:?}"
        );
    }
    for body in [&b"not json"[..], b"", b"{", b"\xff\xfe", b"null"] {
        let header = sign(body, &secret(SECRET), NOW);
        let result = verify_and_parse(body, &header, &secret(SECRET), &prices(), at(NOW));
        assert!(
            matches!(result, Err(WebhookError::Payload(_))),
            "{result:?}"
        );
    }
}

#[test]
fn deeply_nested_json_is_refused_without_a_stack_overflow() {
    let deep = format!(
        r#"{{"id":"evt_1","object":"event","type":"ping","created":1,"data":{{"object":{}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let result = parse_event(deep.as_bytes(), &prices());
    assert!(
        matches!(result, Err(WebhookError::Payload(_))),
        "{result:?}"
    );
}

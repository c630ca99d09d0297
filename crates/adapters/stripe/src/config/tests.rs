#![allow(clippy::unwrap_used)]

use super::*;

fn plan(name: &str) -> PlanName {
    PlanName::new(name).unwrap()
}

#[test]
fn prices_map_both_ways() {
    let map = PriceMap::parse(" pro=price_123 , business=price_456,").unwrap();
    assert_eq!(map.price_of(&plan("pro")), Some("price_123"));
    assert_eq!(map.plan_of("price_456"), Some(&plan("business")));
    assert_eq!(map.plan_of("price_789"), None);
    assert_eq!(map.plans().count(), 2);
    assert!(PriceMap::parse("").unwrap().is_empty());
}

#[test]
fn former_prices_still_name_their_plan_but_are_not_sold() {
    let map = PriceMap::parse("pro=price_new|price_old|price_older,business=price_b").unwrap();
    assert_eq!(map.price_of(&plan("pro")), Some("price_new"));
    for price in ["price_new", "price_old", "price_older"] {
        assert_eq!(map.plan_of(price), Some(&plan("pro")), "{price}");
    }
    assert_eq!(map.plans().count(), 2);
}

#[test]
fn ambiguous_or_odd_prices_are_refused() {
    for bad in [
        "pro=price_1,business=price_1",
        "pro=price_1,pro=price_2",
        "pro=price_1|price_1",
        "pro=price_1,business=price_2|price_1",
        "pro=price_1|",
        "pro=|price_1",
        "free=price_1",
        "pro",
        "pro=",
        "pro=price 1",
        "Pro Plan=price_1",
    ] {
        assert!(
            matches!(PriceMap::parse(bad), Err(ConfigError::Prices(_))),
            "{bad}"
        );
    }
}

#[test]
fn api_urls_are_https_or_loopback() {
    assert_eq!(
        api_url("https://api.stripe.com/").unwrap(),
        "https://api.stripe.com"
    );
    assert_eq!(
        api_url("http://127.0.0.1:4000/stripe").unwrap(),
        "http://127.0.0.1:4000/stripe"
    );
    assert!(api_url("http://localhost:4000").is_ok());
    assert!(api_url("http://api.stripe.com").is_err());
    assert!(api_url("https://user:pw@api.stripe.com").is_err());
    assert!(api_url("https://api.stripe.com/?x=1").is_err());
    assert!(api_url("ftp://api.stripe.com").is_err());
    assert!(api_url("api.stripe.com").is_err());
}

#[test]
fn keys_are_secret_keys() {
    assert!(secret_key(&Secret::new("sk_test_abcdef")).is_ok());
    assert!(secret_key(&Secret::new("rk_live_abcdef")).is_ok());
    let publishable = secret_key(&Secret::new("pk_test_abcdef")).unwrap_err();
    assert!(publishable.to_string().contains("publishable"));
    assert!(!publishable.to_string().contains("abcdef"));
    assert!(secret_key(&Secret::new("whsec_abcdef")).is_err());
    assert!(secret_key(&Secret::new("sk_test_ab cd")).is_err());
}

#[test]
fn return_urls_may_carry_the_session_placeholder() {
    assert!(
        return_url(
            "success_url",
            "https://app.example/billing?session={CHECKOUT_SESSION_ID}"
        )
        .is_ok()
    );
    assert!(return_url("cancel_url", "/billing").is_err());
    assert!(return_url("cancel_url", "javascript:alert(1)").is_err());
}

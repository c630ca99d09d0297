use chrono::TimeZone;
use reqwest::header::{HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn waits_are_read_from_every_usual_header_and_capped() {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let secs = |h: &[(&str, &str)]| retry_after(&headers(h), now).map(|d| d.num_seconds());
    assert_eq!(secs(&[("retry-after", "30")]), Some(30));
    assert_eq!(
        secs(&[("retry-after", "99999999999")]),
        Some(3600),
        "capped"
    );
    assert_eq!(secs(&[("retry-after", "-5")]), Some(0));
    assert_eq!(
        secs(&[("retry-after", "Mon, 30 Nov 2026 12:02:00 GMT")]),
        Some(120)
    );
    let reset = (now + chrono::Duration::seconds(90))
        .timestamp()
        .to_string();
    assert_eq!(secs(&[("x-rate-limit-reset", &reset)]), Some(90));
    assert_eq!(secs(&[("ratelimit-reset", &reset)]), Some(90));
    assert_eq!(
        secs(&[("x-ratelimit-reset", "2026-11-30T12:05:00.000000Z")]),
        Some(300),
        "Mastodon's reset is a time"
    );
    assert_eq!(
        secs(&[("x-rate-limit-reset", "9223372036854775807")]),
        Some(3600)
    );
    assert_eq!(secs(&[("x-rate-limit-reset", "garbage")]), None);
    assert_eq!(secs(&[]), None);
}

#[test]
fn server_urls_are_https_and_public_unless_local_development() {
    use ServerPolicy::*;
    assert_eq!(
        server_url("mastodon.social", PublicHttpsOnly).unwrap(),
        "https://mastodon.social"
    );
    assert_eq!(
        server_url("https://Example.COM/", PublicHttpsOnly).unwrap(),
        "https://example.com"
    );
    assert_eq!(
        server_url("http://127.0.0.1:8090/mastodon/", AllowLoopback).unwrap(),
        "http://127.0.0.1:8090/mastodon"
    );
    for bad in [
        "http://mastodon.social",
        "http://127.0.0.1:8090",
        "https://127.0.0.1",
        "https://10.0.0.8",
        "https://[::1]/",
        "https://user:pw@mastodon.social",
        "https://mastodon.social/?q=1",
        "ftp://mastodon.social",
        "https://",
    ] {
        assert!(server_url(bad, PublicHttpsOnly).is_err(), "{bad}");
    }
    assert!(server_url("http://mastodon.social", AllowLoopback).is_err());
    assert!(server_url("http://10.0.0.8", AllowLoopback).is_err());
}

#[test]
fn private_and_special_addresses_are_refused() {
    use ServerPolicy::*;
    for ip in [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert!(!address_allowed(ip, PublicHttpsOnly), "{ip}");
        assert!(!address_allowed(ip, AllowLoopback), "{ip}");
    }
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert!(!address_allowed(lo, PublicHttpsOnly));
    assert!(address_allowed(lo, AllowLoopback));
    assert!(address_allowed(
        "93.184.216.34".parse().unwrap(),
        PublicHttpsOnly
    ));
    assert!(address_allowed(
        "2606:2800:220:1::1".parse().unwrap(),
        PublicHttpsOnly
    ));
}

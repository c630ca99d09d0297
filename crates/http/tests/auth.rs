//! Firebase ID token verification against a fake certificate endpoint, and the `Authenticated`
//! extractor.
//!
//! Keys and certificates are test-only fixtures made once with `openssl` (see
//! `tests/fixtures/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::test as actix_test;
use actix_web::{App, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use multivio_http::auth::{
    AuthError, Authenticated, ConfigError, FirebaseConfig, FirebaseVerifier, Profile,
    mint_emulator_token,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY1: &str = include_str!("fixtures/firebase_test_key1.pem");
const KEY2: &str = include_str!("fixtures/firebase_test_key2.pem");
const CERT1: &str = include_str!("fixtures/firebase_test_cert1.pem");
const CERT2: &str = include_str!("fixtures/firebase_test_cert2.pem");
const PUB1: &str = include_str!("fixtures/firebase_test_pub1.pem");

const PROJECT: &str = "multivio-test";
const ISSUER: &str = "https://securetoken.google.com/multivio-test";
const KID1: &str = "3f2a8c0e5b1d4a7c9e6f0b2d4c8a1e3f5b7d9c0a";
const KID2: &str = "7c9e6f0b2d4c8a1e3f5b7d9c0a3f2a8c0e5b1d4a";
const CERTS_PATH: &str = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

// ---------------------------------------------------------------------------------------------
// Helpers

fn cert_set(kids: &[(&str, &str)]) -> Value {
    Value::Object(
        kids.iter()
            .map(|(kid, pem)| ((*kid).to_owned(), Value::from(*pem)))
            .collect(),
    )
}

fn certs_response(set: &Value, max_age: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header(
            "Cache-Control",
            format!("public, max-age={max_age}").as_str(),
        )
        .set_body_json(set)
}

/// A fake Google certificate endpoint serving `kid1 → cert1` with `max-age=3600`.
async fn cert_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(&cert_set(&[(KID1, CERT1)]), 3600))
        .mount(&server)
        .await;
    server
}

/// Drops a mock server safely after a long run of verifications.
///
/// `MockServer`'s `Drop` blocks on a tokio lock with `futures::executor::block_on`. Each
/// verification spends some of the task's tokio co-op budget (the certificate cache's lock); if
/// the budget happens to be used up when the server is dropped, that lock defers its wake-up to
/// the tokio scheduler, which never runs again, and the test hangs. Yielding first gives the
/// task a fresh budget.
async fn shut_down(server: MockServer) {
    tokio::task::yield_now().await;
    drop(server);
}

fn config(server: &MockServer) -> FirebaseConfig {
    FirebaseConfig::new(PROJECT).with_certs_url(format!("{}{CERTS_PATH}", server.uri()))
}

fn verifier(server: &MockServer) -> FirebaseVerifier {
    FirebaseVerifier::new(config(server)).unwrap()
}

/// A verifier whose certificate URL is never reached (nothing listens on port 9).
fn offline_verifier(emulator: bool) -> FirebaseVerifier {
    FirebaseVerifier::new(
        FirebaseConfig::new(PROJECT)
            .with_certs_url("http://127.0.0.1:9/certs")
            .with_emulator(emulator)
            .with_http_timeout(Duration::from_millis(500)),
    )
    .unwrap()
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// The claims of a good token, with `patch` applied (`null` removes a claim).
fn claims(patch: Value) -> Value {
    let t = now();
    let mut claims = json!({
        "iss": ISSUER,
        "aud": PROJECT,
        "auth_time": t - 60,
        "user_id": "uid-alice",
        "sub": "uid-alice",
        "iat": t - 30,
        "exp": t + 3600,
        "email": "alice@example.com",
        "email_verified": true,
        "name": "Alice",
        "picture": "https://example.com/alice.png",
        "firebase": {
            "identities": { "email": ["alice@example.com"] },
            "sign_in_provider": "password"
        }
    });
    let map = claims.as_object_mut().unwrap();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    claims
}

fn sign_with(claims: &Value, kid: Option<&str>, key_pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// A token signed by key 1 under KID1.
fn sign(claims: &Value) -> String {
    sign_with(claims, Some(KID1), KEY1)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

// ---------------------------------------------------------------------------------------------
// Production tokens

#[tokio::test]
async fn valid_token_yields_its_claims() {
    let server = cert_server().await;
    let v = verifier(&server);
    let c = claims(json!({}));
    let t = v.verify(&sign(&c)).await.unwrap();
    assert_eq!(t.uid, "uid-alice");
    assert_eq!(t.email.as_deref(), Some("alice@example.com"));
    assert!(t.email_verified);
    assert_eq!(t.sign_in_provider.as_deref(), Some("password"));
    assert_eq!(t.name.as_deref(), Some("Alice"));
    assert_eq!(t.picture.as_deref(), Some("https://example.com/alice.png"));
    assert_eq!(t.auth_time.timestamp(), c["auth_time"].as_i64().unwrap());
    assert_eq!(t.issued_at.timestamp(), c["iat"].as_i64().unwrap());
    assert_eq!(t.expires_at.timestamp(), c["exp"].as_i64().unwrap());

    // Optional profile claims may be absent.
    let bare = claims(json!({
        "email": null, "email_verified": null, "name": null, "picture": null, "firebase": null
    }));
    let t = v.verify(&sign(&bare)).await.unwrap();
    assert_eq!(t.email, None);
    assert!(!t.email_verified);
    assert_eq!(t.sign_in_provider, None);
}

#[tokio::test]
async fn alg_none_is_refused_without_emulator_mode() {
    let server = cert_server().await;
    let v = verifier(&server);
    let token = mint_emulator_token(
        PROJECT,
        "uid-alice",
        Some("alice@example.com"),
        true,
        Duration::from_secs(3600),
        Utc::now(),
    );
    assert_eq!(v.verify(&token).await, Err(AuthError::UnsupportedAlgorithm));
    // Also with a kid, and with a signature part copied from a real token.
    let real = sign(&claims(json!({})));
    let real_sig = real.rsplit('.').next().unwrap();
    let header = json!({ "alg": "none", "typ": "JWT", "kid": KID1 });
    let forged = format!("{}.{}.{real_sig}", b64(&header), b64(&claims(json!({}))));
    assert_eq!(
        v.verify(&forged).await,
        Err(AuthError::UnsupportedAlgorithm)
    );
    for alg in ["None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT" });
        let t = format!("{}.{}.", b64(&header), b64(&claims(json!({}))));
        assert_eq!(v.verify(&t).await, Err(AuthError::UnsupportedAlgorithm));
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    for secret in [PUB1, CERT1] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID1.to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &claims(json!({})),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert_eq!(v.verify(&token).await, Err(AuthError::UnsupportedAlgorithm));
    }
}

#[tokio::test]
async fn other_rsa_algorithms_are_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let mut header = Header::new(alg);
        header.kid = Some(KID1.to_owned());
        let key = EncodingKey::from_rsa_pem(KEY1.as_bytes()).unwrap();
        let token = jsonwebtoken::encode(&header, &claims(json!({})), &key).unwrap();
        assert_eq!(v.verify(&token).await, Err(AuthError::UnsupportedAlgorithm));
    }
}

#[tokio::test]
async fn missing_kid_is_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let token = sign_with(&claims(json!({})), None, KEY1);
    assert_eq!(v.verify(&token).await, Err(AuthError::MissingKeyId));
    let token = sign_with(&claims(json!({})), Some(""), KEY1);
    assert_eq!(v.verify(&token).await, Err(AuthError::MissingKeyId));
}

#[tokio::test]
async fn unknown_kid_is_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let token = sign_with(&claims(json!({})), Some("no-such-kid"), KEY1);
    assert_eq!(v.verify(&token).await, Err(AuthError::UnknownKey));
    let token = sign_with(&claims(json!({})), Some(&"k".repeat(300)), KEY1);
    assert_eq!(v.verify(&token).await, Err(AuthError::UnknownKey));
}

#[tokio::test]
async fn wrong_audience_and_issuer_are_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let cases = [
        (
            json!({ "aud": "another-project" }),
            AuthError::WrongAudience,
        ),
        (json!({ "aud": [PROJECT] }), AuthError::WrongAudience),
        (json!({ "aud": null }), AuthError::WrongAudience),
        (
            json!({ "iss": "https://securetoken.google.com/another-project" }),
            AuthError::WrongIssuer,
        ),
        (
            json!({ "iss": "https://accounts.google.com" }),
            AuthError::WrongIssuer,
        ),
        (json!({ "iss": null }), AuthError::WrongIssuer),
    ];
    for (patch, error) in cases {
        let token = sign(&claims(patch.clone()));
        assert_eq!(v.verify(&token).await, Err(error), "{patch}");
    }
}

#[tokio::test]
async fn times_are_checked_with_the_skew() {
    let server = cert_server().await;
    let v = verifier(&server);
    let t = now();
    let cases = [
        (
            json!({ "exp": t - 400, "iat": t - 4000 }),
            Err(AuthError::Expired),
        ),
        // exp must be > now − 300 s: expired 100 s ago is within the skew.
        (json!({ "exp": t - 100, "iat": t - 3700 }), Ok(())),
        (json!({ "iat": t + 400 }), Err(AuthError::IssuedInFuture)),
        (json!({ "iat": t + 100 }), Ok(())),
        (
            json!({ "auth_time": t + 400 }),
            Err(AuthError::AuthTimeInFuture),
        ),
        (json!({ "auth_time": t + 100 }), Ok(())),
        (json!({ "exp": null }), Err(AuthError::MissingClaim("exp"))),
        (json!({ "iat": null }), Err(AuthError::MissingClaim("iat"))),
        (
            json!({ "auth_time": null }),
            Err(AuthError::MissingClaim("auth_time")),
        ),
        (json!({ "exp": "tomorrow" }), Err(AuthError::Malformed)),
    ];
    for (patch, expected) in cases {
        let token = sign(&claims(patch.clone()));
        assert_eq!(v.verify(&token).await.map(|_| ()), expected, "{patch}");
    }
}

#[tokio::test]
async fn skew_setting_is_honoured_and_capped() {
    let server = cert_server().await;
    let t = now();
    let late = sign(&claims(json!({ "exp": t - 100 })));
    let strict =
        FirebaseVerifier::new(config(&server).with_clock_skew(Duration::from_secs(0))).unwrap();
    assert_eq!(strict.verify(&late).await, Err(AuthError::Expired));
    // A skew above 300 s is capped at 300 s.
    let lax =
        FirebaseVerifier::new(config(&server).with_clock_skew(Duration::from_secs(3600))).unwrap();
    assert!(lax.verify(&late).await.is_ok());
    let very_late = sign(&claims(json!({ "exp": t - 600 })));
    assert_eq!(lax.verify(&very_late).await, Err(AuthError::Expired));
    // verify_at uses the given time.
    let good = sign(&claims(json!({})));
    let later = Utc::now() + chrono::Duration::hours(2);
    assert_eq!(lax.verify_at(&good, later).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn bad_subjects_are_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    for sub in [json!(""), json!("x".repeat(129)), json!(42), json!(null)] {
        let token = sign(&claims(json!({ "sub": sub })));
        assert_eq!(
            v.verify(&token).await,
            Err(AuthError::InvalidSubject),
            "{sub}"
        );
    }
    let token = sign(&claims(json!({ "sub": "x".repeat(128) })));
    assert_eq!(v.verify(&token).await.unwrap().uid, "x".repeat(128));
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let token = sign(&claims(json!({})));
    let parts: Vec<&str> = token.split('.').collect();

    // Another payload under the original signature.
    let evil = b64(&claims(json!({ "sub": "uid-mallory" })));
    let tampered = format!("{}.{evil}.{}", parts[0], parts[2]);
    assert_eq!(v.verify(&tampered).await, Err(AuthError::InvalidSignature));

    // The header changed (kid swapped) under the original signature.
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KID1, "x": 1 });
    let tampered = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    assert_eq!(v.verify(&tampered).await, Err(AuthError::InvalidSignature));

    // A signature with one character changed.
    let mut sig = parts[2].to_owned();
    let first = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, first);
    let tampered = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert_eq!(v.verify(&tampered).await, Err(AuthError::InvalidSignature));

    // No signature at all.
    let tampered = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(v.verify(&tampered).await, Err(AuthError::InvalidSignature));

    // A truncated signature.
    let tampered = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    assert_eq!(v.verify(&tampered).await, Err(AuthError::InvalidSignature));
}

/// `jsonwebtoken` ignores `crit`; a critical extension is one we don't understand, so a token
/// that names one is refused even when its signature is good.
#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let key = EncodingKey::from_rsa_pem(KEY1.as_bytes()).unwrap();
    for crit in [json!(["exp"]), json!([]), json!("b64")] {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KID1, "crit": crit, "exp": 1 });
        let message = format!("{}.{}", b64(&header), b64(&claims(json!({}))));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
        let token = format!("{message}.{signature}");
        assert_eq!(v.verify(&token).await, Err(AuthError::Malformed), "{crit}");
    }
    // The same token without `crit` is fine.
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KID1 });
    let message = format!("{}.{}", b64(&header), b64(&claims(json!({}))));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    v.verify(&format!("{message}.{signature}")).await.unwrap();
}

#[tokio::test]
async fn signature_by_another_key_is_refused() {
    let server = cert_server().await;
    let v = verifier(&server);
    let token = sign_with(&claims(json!({})), Some(KID1), KEY2);
    assert_eq!(v.verify(&token).await, Err(AuthError::InvalidSignature));
}

#[tokio::test]
async fn garbage_never_panics() {
    let server = cert_server().await;
    let v = verifier(&server);
    let good = sign(&claims(json!({})));
    let rs256 = json!({ "alg": "RS256", "kid": KID1 });
    let mut inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a".into(),
        "a.b".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        "Bearer x".into(),
        "%%%.%%%.%%%".into(),
        "\u{0}\u{1}\u{2}".into(),
        "é.ü.ß".into(),
        "🦀.🦀.🦀".into(),
        "e30.e30.e30".into(),
        "e30=.e30=.".into(),
        "null.null.null".into(),
        format!("{}.e30.", b64(&json!([1, 2, 3]))),
        format!("{}.e30.", b64(&json!("RS256"))),
        format!("{}.e30.", b64(&json!(null))),
        format!("{}.e30.", b64(&json!({ "alg": 256 }))),
        format!("{}.e30.", b64(&json!({ "alg": "RS256", "kid": 7 }))),
        format!("{}.{}.AAAA", b64(&rs256), b64(&json!([]))),
        format!(
            "{}.{}.AAAA",
            b64(&rs256),
            URL_SAFE_NO_PAD.encode("not json")
        ),
        format!(
            "{}.{}.AAAA",
            b64(&rs256),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00])
        ),
        format!("{}..AAAA", b64(&rs256)),
        format!("{}.e30.!!!!", b64(&rs256)),
        format!("{}.e30.{}", b64(&rs256), "A".repeat(100_000)),
        format!("{good}.extra"),
        format!(" {good} x"),
        good.replace('.', ""),
        good.chars().rev().collect(),
        "a".repeat(1 << 20),
        ".".repeat(1 << 16),
        format!("{}.{}.", "e".repeat(20_000), "e".repeat(20_000)),
    ];
    // Every prefix of a good token, and a pseudo-random mutation of each byte position.
    for len in (0..good.len()).step_by(7) {
        inputs.push(good[..len].to_owned());
    }
    let alphabet = b"ABCabc012-_.=+/ \"{}";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..good.len() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut bytes = good.clone().into_bytes();
        bytes[i] = alphabet[(seed >> 33) as usize % alphabet.len()];
        inputs.push(String::from_utf8(bytes).unwrap());
    }
    for input in &inputs {
        if input != &good {
            // base64url here is canonical (no padding, no stray trailing bits), so every
            // mutation is a different token, and none is validly signed.
            assert!(v.verify(input).await.is_err(), "accepted {input:?}");
        }
    }
    assert_eq!(v.verify("").await, Err(AuthError::MissingToken));
    assert_eq!(v.verify("a.b").await, Err(AuthError::Malformed));
    assert_eq!(
        v.verify(&"a".repeat(1 << 20)).await,
        Err(AuthError::Malformed)
    );
    shut_down(server).await;
}

// ---------------------------------------------------------------------------------------------
// The certificate cache

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_share_one_fetch() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(
            certs_response(&cert_set(&[(KID1, CERT1)]), 3600).set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let v = verifier(&server);
    let token = sign(&claims(json!({})));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let v = v.clone();
        let token = token.clone();
        tasks.spawn(async move { v.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().uid, "uid-alice");
    }
    // And the cached set serves later verifications without a fetch.
    v.verify(&token).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn unknown_kids_cannot_hammer_the_certificate_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(&cert_set(&[(KID1, CERT1)]), 3600))
        .expect(2)
        .mount(&server)
        .await;
    let interval = Duration::from_millis(400);
    let v = FirebaseVerifier::new(config(&server).with_min_refresh_interval(interval)).unwrap();
    let made_up = |i: usize| sign_with(&claims(json!({})), Some(&format!("made-up-{i}")), KEY1);

    // Fetch 1 (cold cache). Unknown kids right after it don't fetch again: the set was
    // fetched less than the interval ago.
    v.verify(&sign(&claims(json!({})))).await.unwrap();
    for i in 0..10 {
        assert_eq!(v.verify(&made_up(i)).await, Err(AuthError::UnknownKey));
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // Once the interval has passed, the first unknown kid refreshes (fetch 2); the next ones
    // don't, and known kids keep verifying from the cache.
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    for i in 10..30 {
        assert_eq!(v.verify(&made_up(i)).await, Err(AuthError::UnknownKey));
    }
    v.verify(&sign(&claims(json!({})))).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_set() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(&cert_set(&[(KID1, CERT1)]), 3600))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(
            &cert_set(&[(KID1, CERT1), (KID2, CERT2)]),
            3600,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let v =
        FirebaseVerifier::new(config(&server).with_min_refresh_interval(Duration::ZERO)).unwrap();
    v.verify(&sign(&claims(json!({})))).await.unwrap();
    // Google rotated in a new key: the unknown kid triggers a refresh that finds it.
    let rotated = sign_with(&claims(json!({})), Some(KID2), KEY2);
    assert_eq!(v.verify(&rotated).await.unwrap().uid, "uid-alice");
    server.verify().await;
}

#[tokio::test]
async fn failed_refresh_keeps_the_old_keys() {
    let server = MockServer::start().await;
    // max-age=0: the set is stale at once, so every verification tries a refresh.
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(&cert_set(&[(KID1, CERT1)]), 0))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .expect(2)
        .mount(&server)
        .await;
    let v =
        FirebaseVerifier::new(config(&server).with_min_refresh_interval(Duration::ZERO)).unwrap();
    let token = sign(&claims(json!({})));
    v.verify(&token).await.unwrap();
    assert_eq!(v.verify(&token).await.unwrap().uid, "uid-alice");
    assert_eq!(v.verify(&token).await.unwrap().uid, "uid-alice");
    server.verify().await;
}

#[tokio::test]
async fn garbage_certificate_set_keeps_the_old_keys() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(certs_response(&cert_set(&[(KID1, CERT1)]), 0))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let v =
        FirebaseVerifier::new(config(&server).with_min_refresh_interval(Duration::ZERO)).unwrap();
    let token = sign(&claims(json!({})));
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    assert!(server.received_requests().await.unwrap().len() >= 2);
}

#[tokio::test]
async fn no_certificates_at_all_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let v = verifier(&server);
    let token = sign(&claims(json!({})));
    assert_eq!(
        v.verify(&token).await,
        Err(AuthError::CertificatesUnavailable)
    );
    // Nothing listening at all.
    assert_eq!(
        offline_verifier(false).verify(&token).await,
        Err(AuthError::CertificatesUnavailable)
    );
}

// ---------------------------------------------------------------------------------------------
// Emulator mode and configuration

fn emulator_token(project: &str, ttl: Duration, now: chrono::DateTime<Utc>) -> String {
    mint_emulator_token(project, "uid-emu", Some("emu@example.com"), false, ttl, now)
}

#[tokio::test]
async fn emulator_tokens_need_emulator_mode() {
    let token = emulator_token(PROJECT, Duration::from_secs(3600), Utc::now());
    let t = offline_verifier(true).verify(&token).await.unwrap();
    assert_eq!(t.uid, "uid-emu");
    assert_eq!(t.email.as_deref(), Some("emu@example.com"));
    assert!(!t.email_verified);
    assert_eq!(t.sign_in_provider.as_deref(), Some("password"));
    assert_eq!(
        offline_verifier(false).verify(&token).await,
        Err(AuthError::UnsupportedAlgorithm)
    );
}

#[tokio::test]
async fn emulator_tokens_still_have_their_claims_checked() {
    let v = offline_verifier(true);
    let other = emulator_token("another-project", Duration::from_secs(3600), Utc::now());
    assert_eq!(v.verify(&other).await, Err(AuthError::WrongAudience));
    let old = emulator_token(
        PROJECT,
        Duration::from_secs(60),
        Utc::now() - chrono::Duration::hours(2),
    );
    assert_eq!(v.verify(&old).await, Err(AuthError::Expired));
    let future = emulator_token(
        PROJECT,
        Duration::from_secs(3600),
        Utc::now() + chrono::Duration::hours(1),
    );
    assert_eq!(v.verify(&future).await, Err(AuthError::IssuedInFuture));
    let header = json!({ "alg": "none", "typ": "JWT" });
    let wrong_iss = format!(
        "{}.{}.",
        b64(&header),
        b64(&claims(json!({ "iss": "https://evil.example" })))
    );
    assert_eq!(v.verify(&wrong_iss).await, Err(AuthError::WrongIssuer));
    let empty_sub = format!("{}.{}.", b64(&header), b64(&claims(json!({ "sub": "" }))));
    assert_eq!(v.verify(&empty_sub).await, Err(AuthError::InvalidSubject));
    // An unsigned token must have an empty signature part.
    let good = emulator_token(PROJECT, Duration::from_secs(3600), Utc::now());
    assert_eq!(
        v.verify(&format!("{good}AAAA")).await,
        Err(AuthError::InvalidSignature)
    );
}

#[tokio::test]
async fn emulator_mode_still_verifies_real_tokens() {
    let server = cert_server().await;
    let v = FirebaseVerifier::new(config(&server).with_emulator(true)).unwrap();
    assert!(v.emulator());
    v.verify(&sign(&claims(json!({})))).await.unwrap();
    let forged = sign_with(&claims(json!({})), Some(KID1), KEY2);
    assert_eq!(v.verify(&forged).await, Err(AuthError::InvalidSignature));
}

#[test]
fn production_refuses_emulator_mode() {
    let config = FirebaseConfig::new(PROJECT)
        .with_profile(Profile::Production)
        .with_emulator(true);
    assert_eq!(
        FirebaseVerifier::new(config).unwrap_err(),
        ConfigError::EmulatorInProduction
    );
    let config = FirebaseConfig::new(PROJECT).with_profile(Profile::Production);
    let v = FirebaseVerifier::new(config).unwrap();
    assert!(!v.emulator());
    assert_eq!(v.project_id(), PROJECT);
}

// ---------------------------------------------------------------------------------------------
// The extractor

async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "uid": auth.uid(), "email": auth.email }))
}

/// Extracting twice in one request verifies once and yields the same caller.
async fn twice(a: Authenticated, b: Authenticated) -> HttpResponse {
    assert_eq!(a, b);
    HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn extractor_accepts_a_good_token_and_refuses_the_rest() {
    let server = cert_server().await;
    let app = actix_test::init_service(
        App::new()
            .app_data(web::Data::new(verifier(&server)))
            .route("/v1/me", web::get().to(me))
            .route("/twice", web::get().to(twice)),
    )
    .await;

    let good = sign(&claims(json!({})));
    let req = actix_test::TestRequest::get()
        .uri("/v1/me")
        .insert_header((header::AUTHORIZATION, format!("Bearer {good}")))
        .to_request();
    let resp = actix_test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = actix_test::read_body_json(resp).await;
    assert_eq!(body["uid"], "uid-alice");
    assert_eq!(body["email"], "alice@example.com");

    let req = actix_test::TestRequest::get()
        .uri("/twice")
        .insert_header((header::AUTHORIZATION, format!("bearer {good}")))
        .to_request();
    assert_eq!(
        actix_test::call_service(&app, req).await.status(),
        StatusCode::OK
    );

    let none = mint_emulator_token(
        PROJECT,
        "uid-alice",
        None,
        false,
        Duration::from_secs(3600),
        Utc::now(),
    );
    let t = now();
    let expired = sign(&claims(json!({ "exp": t - 3600, "iat": t - 7200 })));
    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (None, "missing-token", "Bearer <token>"),
        (
            Some("Basic dXNlcjpwYXNz".into()),
            "missing-token",
            "Bearer <token>",
        ),
        (Some("Bearer ".into()), "missing-token", "Bearer <token>"),
        (Some(format!("Bearer {none}")), "invalid-token", "algorithm"),
        (
            Some("Bearer not-a-jwt-at-all".into()),
            "invalid-token",
            "well-formed",
        ),
        (
            Some(format!("Bearer {expired}")),
            "invalid-token",
            "expired",
        ),
    ];
    for (authorization, kind, detail) in cases {
        let mut req = actix_test::TestRequest::get().uri("/v1/me");
        if let Some(value) = &authorization {
            req = req.insert_header((header::AUTHORIZATION, value.as_str()));
        }
        let resp = actix_test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let body = actix_test::read_body(resp).await;
        let text = std::str::from_utf8(&body).unwrap();
        if let Some(token) = authorization.as_deref().and_then(|a| a.split(' ').nth(1))
            && !token.is_empty()
        {
            assert!(!text.contains(token), "the token is echoed: {text}");
        }
        let problem: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            problem["type"],
            format!("https://multivio.dev/problems/{kind}")
        );
        assert!(problem["title"].is_string());
        assert_eq!(problem["status"], 401);
        let got = problem["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{got}");
    }
}

#[actix_web::test]
async fn extractor_answers_503_when_certificates_are_unavailable() {
    let app = actix_test::init_service(
        App::new()
            .app_data(web::Data::new(offline_verifier(false)))
            .route("/v1/me", web::get().to(me)),
    )
    .await;
    let token = sign(&claims(json!({})));
    let req = actix_test::TestRequest::get()
        .uri("/v1/me")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .to_request();
    let resp = actix_test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
}

#[actix_web::test]
async fn extractor_without_a_verifier_is_a_500() {
    let app = actix_test::init_service(App::new().route("/v1/me", web::get().to(me))).await;
    let req = actix_test::TestRequest::get()
        .uri("/v1/me")
        .insert_header((header::AUTHORIZATION, "Bearer x.y.z"))
        .to_request();
    let resp = actix_test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

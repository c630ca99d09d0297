use super::*;
use chrono::TimeZone;

const PROJECT: &str = "demo-multivio";
const ISSUER: &str = "https://securetoken.google.com/demo-multivio";

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000, 0).unwrap()
}

fn expected() -> Expected<'static> {
    Expected {
        audience: PROJECT,
        issuer: ISSUER,
        skew: 300,
    }
}

fn claims(patch: Value) -> Vec<u8> {
    let t = now().timestamp();
    let mut base = json!({
        "aud": PROJECT, "iss": ISSUER, "sub": "uid-1",
        "iat": t - 10, "exp": t + 3600, "auth_time": t - 20,
    });
    if let (Some(base), Some(patch)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if v.is_null() {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    base.to_string().into_bytes()
}

fn check(patch: Value) -> Result<Claims, AuthError> {
    check_claims(&claims(patch), &expected(), now())
}

#[test]
fn good_claims() {
    let c = check(json!({
        "email": "a@example.com", "email_verified": true, "name": "A", "picture": "https://p",
        "firebase": { "sign_in_provider": "google.com", "identities": {} }
    }))
    .unwrap();
    assert_eq!(c.uid, "uid-1");
    assert_eq!(c.email.as_deref(), Some("a@example.com"));
    assert!(c.email_verified);
    assert_eq!(c.sign_in_provider.as_deref(), Some("google.com"));
    assert_eq!(c.expires_at.timestamp(), now().timestamp() + 3600);
}

#[test]
fn audience_issuer_subject() {
    assert_eq!(
        check(json!({"aud": "other"})),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        check(json!({"aud": [PROJECT]})),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(check(json!({"aud": null})), Err(AuthError::WrongAudience));
    assert_eq!(
        check(json!({"iss": "https://evil"})),
        Err(AuthError::WrongIssuer)
    );
    assert_eq!(check(json!({"iss": null})), Err(AuthError::WrongIssuer));
    assert_eq!(check(json!({"sub": ""})), Err(AuthError::InvalidSubject));
    assert_eq!(check(json!({"sub": 5})), Err(AuthError::InvalidSubject));
    assert_eq!(check(json!({"sub": null})), Err(AuthError::InvalidSubject));
    assert_eq!(
        check(json!({"sub": "x".repeat(129)})),
        Err(AuthError::InvalidSubject)
    );
    assert!(check(json!({"sub": "x".repeat(128)})).is_ok());
    // 128 characters that take more than 128 bytes are fine.
    assert!(check(json!({"sub": "é".repeat(128)})).is_ok());
}

#[test]
fn skew_boundaries() {
    let t = now().timestamp();
    // exp must be > now − 300.
    assert!(check(json!({"exp": t - 100})).is_ok());
    assert!(check(json!({"exp": t - 299})).is_ok());
    assert_eq!(check(json!({"exp": t - 300})), Err(AuthError::Expired));
    // iat and auth_time must be ≤ now + 300.
    assert!(check(json!({"iat": t + 300})).is_ok());
    assert_eq!(
        check(json!({"iat": t + 301})),
        Err(AuthError::IssuedInFuture)
    );
    assert!(check(json!({"auth_time": t + 300})).is_ok());
    assert_eq!(
        check(json!({"auth_time": t + 301})),
        Err(AuthError::AuthTimeInFuture)
    );
    // With no skew, exactly-now is already expired.
    let strict = Expected {
        skew: 0,
        ..expected()
    };
    assert_eq!(
        check_claims(&claims(json!({"exp": t})), &strict, now()),
        Err(AuthError::Expired)
    );
}

#[test]
fn times_must_be_numbers() {
    assert_eq!(
        check(json!({"exp": null})),
        Err(AuthError::MissingClaim("exp"))
    );
    assert_eq!(
        check(json!({"iat": null})),
        Err(AuthError::MissingClaim("iat"))
    );
    assert_eq!(
        check(json!({"auth_time": null})),
        Err(AuthError::MissingClaim("auth_time"))
    );
    assert_eq!(check(json!({"exp": "soon"})), Err(AuthError::Malformed));
    assert_eq!(check(json!({"exp": 1e300})), Err(AuthError::Malformed));
    assert_eq!(check(json!({"exp": u64::MAX})), Err(AuthError::Malformed));
    let t = now().timestamp() as f64;
    assert!(check(json!({"exp": t + 60.5})).is_ok());
}

#[test]
fn profile_claims_must_have_their_types() {
    assert_eq!(check(json!({"email": 5})), Err(AuthError::Malformed));
    assert_eq!(
        check(json!({"email_verified": "yes"})),
        Err(AuthError::Malformed)
    );
}

#[test]
fn payload_must_be_one_json_object() {
    for bad in [
        &b"[]"[..],
        b"null",
        b"\"x\"",
        b"42",
        b"",
        b"{",
        b"{\"sub\":\"a\",\"sub\":\"b\"}",
        b"\xff\xfe",
    ] {
        assert_eq!(
            check_claims(bad, &expected(), now()),
            Err(AuthError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn split_rejects_garbage() {
    for bad in [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "!!!.e30.",
        "e30.!!!.",
        "e30.e30.!!!",
        "W10.e30.", // header is []
        "bnVsbA.e30.",
        "eyJhbGciOjV9.e30.",                         // alg is a number
        "eyJ0eXAiOiJKV1QifQ.e30.",                   // no alg
        "eyJhbGciOiJub25lIiw.e30.",                  // truncated JSON
        "eyJhbGciOiJub25lIn0=.e30.",                 // padding
        "eyJhbGciOiJub25lIn0.e30=.",                 // padding
        "eyJhbGciOiJub25lIn0..",                     // empty payload
        "eyJhbGciOiJub25lIiwiY3JpdCI6WyJ4Il19.e30.", // crit
    ] {
        assert!(split_unsigned(bad).is_err(), "{bad:?}");
    }
    assert!(split_unsigned(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    let ok = split_unsigned("eyJhbGciOiJub25lIn0.e30.").unwrap();
    assert_eq!(ok.header.alg, "none");
    assert_eq!(ok.payload, b"{}");
    assert_eq!(ok.signature, "");
    // The header alone, as read before any token is verified.
    assert_eq!(read_header("eyJhbGciOiJub25lIn0.e30.").unwrap().alg, "none");
    for bad in [
        "",
        "eyJhbGciOiJub25lIn0.e30",
        "eyJhbGciOiJub25lIn0.e30..",
        "eyJhbGciOiJub25lIiwiY3JpdCI6WyJ4Il19.e30.", // crit
        "W10.e30.",                                  // header is []
    ] {
        assert_eq!(
            read_header(bad).unwrap_err(),
            AuthError::Malformed,
            "{bad:?}"
        );
    }
    let huge = format!("eyJhbGciOiJub25lIn0.{}.", "e".repeat(MAX_TOKEN_LEN));
    assert_eq!(read_header(&huge).unwrap_err(), AuthError::Malformed);
}

/// Production tokens through jsonwebtoken: the reason for a refused claim is the one
/// `check_claims` gives, whatever order jsonwebtoken checks the claims in.
#[test]
fn signed_claims_are_refused_in_a_fixed_order() {
    const KEY1: &str = include_str!("../../../tests/fixtures/firebase_test_key1.pem");
    const CERT1: &str = include_str!("../../../tests/fixtures/firebase_test_cert1.pem");
    let now = Utc::now();
    let t = now.timestamp();
    let key = DecodingKey::from_rsa_pem(CERT1.as_bytes()).unwrap();
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(KEY1.as_bytes()).unwrap();
    let verify_at = |patch: Value, at: DateTime<Utc>| {
        let mut claims: Value = serde_json::from_slice(&claims(json!({}))).unwrap();
        let map = claims.as_object_mut().unwrap();
        map.insert("iat".into(), json!(t - 10));
        map.insert("exp".into(), json!(t + 3600));
        map.insert("auth_time".into(), json!(t - 20));
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
        // A new validation each time: a new order for jsonwebtoken's required-claims set.
        verify_signed(&token, &key, &validation(&expected()), &expected(), at)
    };
    let verify = |patch: Value| verify_at(patch, now);
    assert_eq!(verify(json!({})).unwrap().uid, "uid-1");
    for _ in 0..20 {
        assert_eq!(
            verify(json!({"aud": null, "iss": null, "sub": null, "exp": null})),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            verify(json!({"iss": null, "sub": null, "exp": null})),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            verify(json!({"sub": 5, "exp": null})),
            Err(AuthError::InvalidSubject)
        );
    }
    assert_eq!(
        verify(json!({"aud": [PROJECT]})),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        verify(json!({"iss": [ISSUER]})),
        Err(AuthError::WrongIssuer)
    );
    assert_eq!(verify(json!({"exp": "soon"})), Err(AuthError::Malformed));
    assert_eq!(verify(json!({"exp": -1})), Err(AuthError::Expired));
    assert_eq!(verify(json!({"exp": t - 300})), Err(AuthError::Expired));
    assert!(verify(json!({"exp": t - 290})).is_ok());
    assert_eq!(verify(json!({"email": 5})), Err(AuthError::Malformed));
    // A `now` in the past does not revive a token expired on the system clock.
    let old = json!({"exp": t - 400, "iat": t - 2000, "auth_time": t - 2000});
    let past = now - chrono::Duration::seconds(1000);
    assert_eq!(verify_at(old, past), Err(AuthError::Expired));
}

#[test]
fn minted_emulator_token_shape() {
    let token = mint_emulator_token(
        PROJECT,
        "uid-7",
        Some("u@example.com"),
        true,
        std::time::Duration::from_secs(3600),
        now(),
    );
    assert!(token.ends_with('.'));
    let parts = split_unsigned(&token).unwrap();
    assert_eq!(parts.header.alg, "none");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(header.get("kid").is_none());
    let c = check_claims(&parts.payload, &expected(), now()).unwrap();
    assert_eq!(check_unsigned(&token, &expected(), now()).unwrap(), c);
    assert_eq!(c.uid, "uid-7");
    assert_eq!(c.email.as_deref(), Some("u@example.com"));
    assert!(c.email_verified);
    assert_eq!(c.sign_in_provider.as_deref(), Some("password"));
    assert_eq!(c.issued_at, now());
    assert_eq!(c.auth_time, now());
    assert_eq!(c.expires_at.timestamp(), now().timestamp() + 3600);

    let anon = mint_emulator_token(
        PROJECT,
        "uid-8",
        None,
        false,
        std::time::Duration::from_secs(60),
        now(),
    );
    let parts = split_unsigned(&anon).unwrap();
    let c = check_claims(&parts.payload, &expected(), now()).unwrap();
    assert_eq!(c.email, None);
    assert_eq!(c.sign_in_provider.as_deref(), Some("custom"));
}

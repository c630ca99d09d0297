//! The JWT wire format: splitting a compact token, its header, its claims and their checks, and
//! minting Firebase Auth Emulator tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AuthError;

/// Longest token we look at. Firebase ID tokens are 1–2 KiB (custom claims are capped at 1000
/// bytes); anything much bigger is not one, and we don't spend work on it.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Longest uid Firebase allows.
const MAX_SUBJECT_CHARS: usize = 128;

/// The protected header, as far as we read it.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    /// Any critical extension is one we don't understand (RFC 7515 §4.1.11): refuse.
    #[serde(default)]
    crit: Option<Value>,
}

/// A compact JWT split into its parts; nothing about it is trusted yet.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    pub(crate) header: Header,
    /// `base64url(header) "." base64url(payload)`: the signed bytes.
    pub(crate) signing_input: &'a str,
    /// The decoded payload bytes (not parsed: claims are read only after the signature check).
    pub(crate) payload: Vec<u8>,
    /// The signature part as it came (base64url), maybe empty.
    pub(crate) signature: &'a str,
}

/// Splits a compact JWT, decodes its header (a JSON object with a string `alg`) and payload
/// bytes, and checks the signature part is base64url.
pub(crate) fn split(token: &str) -> Result<Parts<'_>, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let mut pieces = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(AuthError::Malformed);
    };
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(AuthError::Malformed)?;
    let header_bytes = decode_part(header_b64)?;
    let header: Header = json_object(&header_bytes)?;
    if header.crit.is_some() {
        return Err(AuthError::Malformed);
    }
    let payload = decode_part(payload_b64)?;
    if !signature.is_empty() {
        decode_part(signature)?;
    }
    Ok(Parts {
        header,
        signing_input,
        payload,
        signature,
    })
}

fn decode_part(part: &str) -> Result<Vec<u8>, AuthError> {
    if part.is_empty() {
        return Err(AuthError::Malformed);
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)
}

/// Parses a JSON object into `T`. A JSON array, string, number or `null` is refused up front
/// (serde would happily read a struct from an array), and duplicate members fail to parse.
fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AuthError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(AuthError::Malformed);
    }
    serde_json::from_slice(bytes).map_err(|_| AuthError::Malformed)
}

/// Checks an RS256 signature over the signing input with `key`.
pub(crate) fn verify_rs256(parts: &Parts<'_>, key: &DecodingKey) -> Result<(), AuthError> {
    if parts.signature.is_empty() {
        return Err(AuthError::InvalidSignature);
    }
    match jsonwebtoken::crypto::verify(
        parts.signature,
        parts.signing_input.as_bytes(),
        key,
        Algorithm::RS256,
    ) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(AuthError::InvalidSignature),
    }
}

/// The claims we read. `aud`, `iss`, `sub` and the times are read loosely (any JSON) so that a
/// wrong type is reported as what it is (wrong audience, invalid subject…); the optional profile
/// claims must have their documented types.
#[derive(Debug, Deserialize)]
struct RawClaims {
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    auth_time: Option<Value>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
    #[serde(default)]
    firebase: Option<FirebaseClaim>,
}

#[derive(Debug, Deserialize)]
struct FirebaseClaim {
    #[serde(default)]
    sign_in_provider: Option<String>,
}

/// What the claims must say.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) audience: &'a str,
    pub(crate) issuer: &'a str,
    /// Allowed clock skew, seconds.
    pub(crate) skew: i64,
}

/// The checked claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) uid: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) sign_in_provider: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) picture: Option<String>,
    pub(crate) auth_time: DateTime<Utc>,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Parses and checks the claims: `aud`, `iss`, `sub`, then the times with the allowed skew
/// (`exp > now − skew`, `iat ≤ now + skew`, `auth_time ≤ now + skew`).
pub(crate) fn check_claims(
    payload: &[u8],
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    let raw: RawClaims = json_object(payload)?;

    if raw.aud.as_ref().and_then(Value::as_str) != Some(expected.audience) {
        return Err(AuthError::WrongAudience);
    }
    if raw.iss.as_ref().and_then(Value::as_str) != Some(expected.issuer) {
        return Err(AuthError::WrongIssuer);
    }
    let uid = match raw.sub.as_ref().and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.chars().count() <= MAX_SUBJECT_CHARS => sub.to_owned(),
        _ => return Err(AuthError::InvalidSubject),
    };

    let exp = numeric_date(raw.exp.as_ref(), "exp")?;
    let iat = numeric_date(raw.iat.as_ref(), "iat")?;
    let auth_time = numeric_date(raw.auth_time.as_ref(), "auth_time")?;

    let now_secs = now.timestamp();
    let skew = expected.skew.max(0);
    if exp.timestamp() <= now_secs.saturating_sub(skew) {
        return Err(AuthError::Expired);
    }
    if iat.timestamp() > now_secs.saturating_add(skew) {
        return Err(AuthError::IssuedInFuture);
    }
    if auth_time.timestamp() > now_secs.saturating_add(skew) {
        return Err(AuthError::AuthTimeInFuture);
    }

    Ok(Claims {
        uid,
        email: raw.email,
        email_verified: raw.email_verified.unwrap_or(false),
        sign_in_provider: raw.firebase.and_then(|f| f.sign_in_provider),
        name: raw.name,
        picture: raw.picture,
        auth_time,
        issued_at: iat,
        expires_at: exp,
    })
}

/// A JWT NumericDate: seconds since the epoch, an integer or a finite number (truncated down).
fn numeric_date(value: Option<&Value>, claim: &'static str) -> Result<DateTime<Utc>, AuthError> {
    let value = value.ok_or(AuthError::MissingClaim(claim))?;
    let secs = match value.as_i64() {
        Some(secs) => secs,
        None => {
            let secs = value
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or(AuthError::Malformed)?;
            // Saturating float → int; out-of-range values fail just below.
            secs.floor() as i64
        }
    };
    DateTime::from_timestamp(secs, 0).ok_or(AuthError::Malformed)
}

/// Mints a Firebase Auth Emulator ID token: header `{"alg":"none","typ":"JWT"}`, the claims a
/// real Firebase ID token has (`iss`, `aud`, `sub`/`user_id`, `auth_time`, `iat`, `exp`,
/// `email`, `email_verified`, `firebase.sign_in_provider`), and an empty signature part.
///
/// Such a token is accepted only by a verifier in emulator mode. `auth_time` and `iat` are
/// `now`, `exp` is `now + ttl`; the sign-in provider is `password` when an email is given and
/// `custom` otherwise.
pub fn mint_emulator_token(
    project_id: &str,
    uid: &str,
    email: Option<&str>,
    email_verified: bool,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> String {
    let iat = now.timestamp();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let exp = iat.saturating_add(ttl);
    let (provider, identities) = match email {
        Some(email) => ("password", json!({ "email": [email] })),
        None => ("custom", json!({})),
    };
    let mut claims = json!({
        "iss": format!("https://securetoken.google.com/{project_id}"),
        "aud": project_id,
        "auth_time": iat,
        "user_id": uid,
        "sub": uid,
        "iat": iat,
        "exp": exp,
        "email_verified": email_verified,
        "firebase": { "identities": identities, "sign_in_provider": provider },
    });
    if let (Some(email), Some(map)) = (email, claims.as_object_mut()) {
        map.insert("email".to_owned(), Value::from(email));
    }
    let header = json!({ "alg": "none", "typ": "JWT" });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[cfg(test)]
mod tests {
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
            assert!(split(bad).is_err(), "{bad:?}");
        }
        assert!(split(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
        let ok = split("eyJhbGciOiJub25lIn0.e30.").unwrap();
        assert_eq!(ok.header.alg, "none");
        assert_eq!(ok.signing_input, "eyJhbGciOiJub25lIn0.e30");
        assert_eq!(ok.payload, b"{}");
        assert_eq!(ok.signature, "");
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
        let parts = split(&token).unwrap();
        assert_eq!(parts.header.alg, "none");
        assert!(parts.header.kid.is_none());
        let c = check_claims(&parts.payload, &expected(), now()).unwrap();
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
        let parts = split(&anon).unwrap();
        let c = check_claims(&parts.payload, &expected(), now()).unwrap();
        assert_eq!(c.email, None);
        assert_eq!(c.sign_in_provider.as_deref(), Some("custom"));
    }
}

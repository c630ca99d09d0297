//! The JWT side of Firebase ID tokens.
//!
//! Production (RS256) tokens are split, decoded and verified by `jsonwebtoken`
//! ([`verify_signed`]); this module adds what it does not check: the `crit` header, the exact
//! shape of `aud` and `iss`, the subject, and `exp`/`iat`/`auth_time` against the verifier's
//! clock ([`check_claims`]). Firebase Auth Emulator tokens (`alg: none`), which `jsonwebtoken`
//! does not decode, are read here ([`check_unsigned`]) and minted by [`mint_emulator_token`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AuthError;

/// Longest token we look at. Firebase ID tokens are 1–2 KiB (custom claims are capped at 1000
/// bytes); anything much bigger is not one, and we don't spend work on it.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Longest uid Firebase allows.
const MAX_SUBJECT_CHARS: usize = 128;

/// What we read of the protected header before choosing how to verify a token.
///
/// `jsonwebtoken`'s own header type holds `alg` as one of the algorithms it implements, so it
/// cannot hold `none` or an unknown name (we answer those [`AuthError::UnsupportedAlgorithm`],
/// not [`AuthError::Malformed`]), and it ignores `crit`.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    /// Any critical extension is one we don't understand (RFC 7515 §4.1.11): refuse.
    #[serde(default)]
    crit: Option<Value>,
}

/// The three parts of a compact JWT (header, payload, signature), as they came.
fn parts(token: &str) -> Result<(&str, &str, &str), AuthError> {
    let mut pieces = token.split('.');
    match (pieces.next(), pieces.next(), pieces.next(), pieces.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(AuthError::Malformed),
    }
}

/// Reads the header of a compact JWT that is not verified yet: the token is at most
/// [`MAX_TOKEN_LEN`] bytes and has three parts, the first being base64url of a JSON object with
/// a string `alg` and no `crit`.
pub(crate) fn read_header(token: &str) -> Result<Header, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let (header, _, _) = parts(token)?;
    let header: Header = json_object(&decode_part(header)?)?;
    if header.crit.is_some() {
        return Err(AuthError::Malformed);
    }
    Ok(header)
}

/// An unsigned (emulator) token split into its parts; nothing about it is trusted yet.
#[derive(Debug)]
pub(crate) struct Unsigned<'a> {
    pub(crate) header: Header,
    /// The decoded payload bytes.
    pub(crate) payload: Vec<u8>,
    /// The signature part as it came (base64url), maybe empty.
    pub(crate) signature: &'a str,
}

/// Emulator only: splits a token whose header `jsonwebtoken` cannot read (`alg: none`). Its
/// header is read as by [`read_header`], its payload must be base64url and its signature part
/// empty or base64url.
pub(crate) fn split_unsigned(token: &str) -> Result<Unsigned<'_>, AuthError> {
    let header = read_header(token)?;
    let (_, payload, signature) = parts(token)?;
    let payload = decode_part(payload)?;
    if !signature.is_empty() {
        decode_part(signature)?;
    }
    Ok(Unsigned {
        header,
        payload,
        signature,
    })
}

/// Emulator only: checks a Firebase Auth Emulator token (`alg: none`, which `jsonwebtoken` does
/// not decode). It must have an empty signature part and pass [`check_claims`]. The caller
/// accepts `alg: none` only in emulator mode.
pub(crate) fn check_unsigned(
    token: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    let unsigned = split_unsigned(token)?;
    if unsigned.header.alg != "none" {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    if !unsigned.signature.is_empty() {
        return Err(AuthError::InvalidSignature);
    }
    check_claims(&unsigned.payload, expected, now)
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

/// What `jsonwebtoken` checks of a production token: an RS256 signature only, `aud` the project,
/// `iss` its issuer, `exp` (with the skew as leeway) and the presence of the registered claims.
pub(crate) fn validation(expected: &Expected<'_>) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[expected.audience]);
    validation.set_issuer(&[expected.issuer]);
    validation.leeway = u64::try_from(expected.skew).unwrap_or(0);
    // jsonwebtoken 9 enforces `exp`, `aud`, `iss` and `sub` from this list and skips `iat`;
    // [`check_claims`] requires `iat` (and `auth_time`).
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
    validation
}

/// Verifies a production token with `jsonwebtoken` — the RS256 signature by `key` and the
/// [`validation`] — then makes the checks it does not make ([`check_claims`]).
///
/// `jsonwebtoken` checks `exp` against the system clock, [`check_claims`] against `now`: a token
/// must pass both.
pub(crate) fn verify_signed(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    match jsonwebtoken::decode::<RawClaims>(token, key, validation) {
        Ok(data) => check_raw_claims(data.claims, expected, now),
        Err(error) => Err(refusal(error.kind(), token, expected, now)),
    }
}

/// The [`AuthError`] for a token `jsonwebtoken` refused.
fn refusal(
    kind: &ErrorKind,
    token: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::InvalidSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => AuthError::UnsupportedAlgorithm,
        // Not three parts, a part that is not base64url, a header or payload that does not
        // parse, or a claim of the wrong type.
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::Malformed,
        // The claims are checked only once the signature is good. `jsonwebtoken` checks the
        // required claims in no fixed order (a hash set), so the reason is taken from
        // `check_claims`, which has one (and which emulator tokens get too). `jsonwebtoken`'s
        // own reason stands when `check_claims` finds nothing: its `exp` check runs on the
        // system clock, `check_claims` on `now`.
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::ExpiredSignature
        | ErrorKind::InvalidAudience
        | ErrorKind::InvalidIssuer
        | ErrorKind::InvalidSubject
        | ErrorKind::ImmatureSignature => parts(token)
            .and_then(|(_, payload, _)| decode_part(payload))
            .and_then(|payload| check_claims(&payload, expected, now))
            .err()
            .unwrap_or_else(|| claim_refusal(kind)),
        // A key that does not fit the algorithm or cannot be used: the token is not verified.
        _ => AuthError::InvalidSignature,
    }
}

/// The [`AuthError`] for a claim `jsonwebtoken` refused.
fn claim_refusal(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidSubject => AuthError::InvalidSubject,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => AuthError::WrongAudience,
            "iss" => AuthError::WrongIssuer,
            "sub" => AuthError::InvalidSubject,
            "exp" => AuthError::MissingClaim("exp"),
            "iat" => AuthError::MissingClaim("iat"),
            _ => AuthError::Malformed,
        },
        _ => AuthError::Malformed,
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

/// Parses and checks the claims, in this order: `aud` and `iss` (single strings), `sub`, then
/// the times with the allowed skew (`exp > now − skew`, `iat ≤ now + skew`,
/// `auth_time ≤ now + skew`).
pub(crate) fn check_claims(
    payload: &[u8],
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    check_raw_claims(json_object(payload)?, expected, now)
}

/// [`check_claims`] on claims that are already parsed.
fn check_raw_claims(
    raw: RawClaims,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    // `jsonwebtoken` also takes an `aud` or `iss` array that holds the value; Firebase sets
    // single strings.
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
mod tests;

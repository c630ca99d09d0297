//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), for X's media uploads and three-legged
//! flow.
//!
//! Written here rather than taken from a crate: the signature base string must include exactly
//! the query string and the `oauth_*` parameters (and form-encoded bodies), and never a
//! multipart or JSON body — the rule X checks uploads against — and the whole of it is a few
//! dozen lines over ring's HMAC, pinned by the RFC's own example below.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded, with
/// uppercase hex (RFC 5849 §3.6): a space is `%20`, never `+`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 percent-encoding.
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, ENCODE).to_string()
}

/// The consumer (the app) and, once there is one, the token that signs.
#[derive(Clone)]
pub struct Signer<'a> {
    /// `oauth_consumer_key`.
    pub consumer_key: &'a str,
    /// The consumer secret.
    pub consumer_secret: &'a str,
    /// `oauth_token`, if any.
    pub token: Option<&'a str>,
    /// The token's secret (empty without a token).
    pub token_secret: &'a str,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("consumer_key", &self.consumer_key)
            .finish_non_exhaustive()
    }
}

/// One signing: the protocol parameters that vary per request.
#[derive(Debug, Clone)]
pub struct Nonce<'a> {
    /// `oauth_nonce`.
    pub nonce: &'a str,
    /// `oauth_timestamp` (Unix seconds).
    pub timestamp: u64,
    /// Whether to send `oauth_version="1.0"` (optional in the protocol).
    pub with_version: bool,
}

impl Signer<'_> {
    /// The `Authorization: OAuth …` header for `method` on `url` (its query is signed), with
    /// `extra` protocol parameters (`oauth_callback`, `oauth_verifier`) and `form` body
    /// parameters (only for `application/x-www-form-urlencoded` bodies; never multipart or
    /// JSON).
    pub fn authorization(
        &self,
        method: &str,
        url: &url::Url,
        extra: &[(&str, &str)],
        form: &[(&str, &str)],
        nonce: &Nonce<'_>,
    ) -> String {
        let timestamp = nonce.timestamp.to_string();
        let mut protocol: Vec<(&str, &str)> = vec![
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", nonce.nonce),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", &timestamp),
        ];
        if let Some(token) = self.token {
            protocol.push(("oauth_token", token));
        }
        if nonce.with_version {
            protocol.push(("oauth_version", "1.0"));
        }
        protocol.extend_from_slice(extra);
        let signature = self.signature(method, url, &protocol, form);
        let mut header = String::from("OAuth ");
        let mut fields: Vec<(&str, String)> =
            protocol.iter().map(|(k, v)| (*k, encode(v))).collect();
        fields.push(("oauth_signature", encode(&signature)));
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let joined: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}=\"{v}\"", encode(k)))
            .collect();
        header.push_str(&joined.join(", "));
        header
    }

    /// The base64 HMAC-SHA1 signature (RFC 5849 §3.4).
    pub fn signature(
        &self,
        method: &str,
        url: &url::Url,
        protocol: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> String {
        let base = base_string(method, url, protocol, form);
        let key = format!(
            "{}&{}",
            encode(self.consumer_secret),
            encode(self.token_secret)
        );
        // SHA-1 is what the protocol specifies; nothing else depends on it here.
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
        STANDARD.encode(ring::hmac::sign(&key, base.as_bytes()).as_ref())
    }
}

/// The signature base string (RFC 5849 §3.4.1): method, base URI, and the normalised
/// parameters from the query, the protocol parameters and a form body.
pub fn base_string(
    method: &str,
    url: &url::Url,
    protocol: &[(&str, &str)],
    form: &[(&str, &str)],
) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (encode(&k), encode(&v)))
        .chain(protocol.iter().map(|(k, v)| (encode(k), encode(v))))
        .chain(form.iter().map(|(k, v)| (encode(k), encode(v))))
        .collect();
    params.sort();
    let normalised: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut base_uri = format!(
        "{}://{}",
        url.scheme().to_ascii_lowercase(),
        url.host_str().unwrap_or_default().to_ascii_lowercase()
    );
    if let Some(port) = url.port() {
        base_uri.push_str(&format!(":{port}"));
    }
    base_uri.push_str(url.path());
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_uri),
        encode(&normalised.join("&"))
    )
}

/// Parses an `Authorization: OAuth …` header into its parameters (decoded), for the sandbox
/// and tests. `None` when it is not one.
pub fn parse_authorization(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.strip_prefix("OAuth ")?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.strip_prefix('"')?.strip_suffix('"')?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        out.push((decode(k)?, decode(v)?));
    }
    Some(out)
}

#[cfg(test)]
mod tests;

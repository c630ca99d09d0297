//! What every platform client shares: the HTTP client (rustls on *ring*, timeouts, no
//! redirects), the guard on user-given server URLs (federated platforms), reading rate-limit
//! headers, and turning transport failures into the errors the core acts on.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use multivio_ports::platform::{OAuthError, PublishError};
use reqwest::header::HeaderMap;

/// Longest a platform may make us wait: a `Retry-After` of a day or a reset in a year is read
/// as this (never an overflow, never a job parked for ever).
pub const MAX_RETRY_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// How long one platform call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a client could not be built or a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// A configured or user-given URL is not acceptable.
    #[error("{0}")]
    Url(String),
}

/// Which server URLs a user may name (a Mastodon instance, a Bluesky PDS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPolicy {
    /// Production: `https` only, to public addresses only (checked again after DNS
    /// resolution, so a name pointing at an internal address is refused too).
    PublicHttpsOnly,
    /// Development: also `http` to a loopback address (the local sandbox).
    AllowLoopback,
}

/// Builds a client: rustls with *ring*, a connect and a total timeout, no redirects (a
/// platform API never needs one, and a redirect could lead a user-given URL inside).
pub fn client(timeout: Duration) -> Result<reqwest::Client, SetupError> {
    // Err only means a provider is installed already, which is what we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Multivio/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// A client for user-given servers: like [`client`], and every name it resolves must lead to
/// an address `policy` allows (no SSRF into private networks, even through DNS).
pub fn guarded_client(
    timeout: Duration,
    policy: ServerPolicy,
) -> Result<reqwest::Client, SetupError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Multivio/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// Whether an address may be reached under `policy`.
pub fn address_allowed(ip: IpAddr, policy: ServerPolicy) -> bool {
    let loopback = ip.is_loopback();
    if loopback {
        return policy == ServerPolicy::AllowLoopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_allowed(IpAddr::V4(v4), policy);
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link local.
                || (first & 0xFE00) == 0xFC00
                || (first & 0xFFC0) == 0xFE80)
        }
    }
}

/// Resolves with the system resolver, then keeps only the addresses the policy allows.
#[derive(Debug)]
struct GuardedResolver {
    policy: ServerPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| address_allowed(a.ip(), policy))
                .collect();
            if found.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} does not resolve to an address Multivio may reach").into();
                return Err(refused);
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// A user-given server URL (`https://mastodon.social`), checked against `policy` and made
/// canonical: scheme and host only (a path prefix is kept for servers mounted below one),
/// no credentials, query or fragment, no trailing slash.
pub fn server_url(input: &str, policy: ServerPolicy) -> Result<String, SetupError> {
    let trimmed = input.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|e| SetupError::Url(format!("`{input}` is not a server URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| SetupError::Url(format!("`{input}` has no host")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SetupError::Url(
            "a server URL carries no credentials".to_owned(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SetupError::Url(
            "a server URL has no query or fragment".to_owned(),
        ));
    }
    let loopback_host = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match (url.scheme(), policy) {
        ("https", ServerPolicy::PublicHttpsOnly) if loopback_host => {
            return Err(SetupError::Url(format!("{host} is not a public server")));
        }
        ("https", _) => {}
        ("http", ServerPolicy::AllowLoopback) if loopback_host => {}
        ("http", ServerPolicy::AllowLoopback) => {
            return Err(SetupError::Url(
                "plain http is only for a server on this machine; use https".to_owned(),
            ));
        }
        _ => return Err(SetupError::Url("use an https:// server URL".to_owned())),
    }
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        && !address_allowed(ip, policy)
    {
        return Err(SetupError::Url(format!("{host} is not a public server")));
    }
    let mut canonical = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(host));
    if let Some(port) = url.port() {
        canonical.push_str(&format!(":{port}"));
    }
    canonical.push_str(url.path().trim_end_matches('/'));
    Ok(canonical.to_ascii_lowercase())
}

/// How long a platform asks us to wait, from whichever of the usual headers it sent:
/// `Retry-After` (seconds or an HTTP date), `x-rate-limit-reset` / `RateLimit-Reset` (epoch
/// seconds, X and Bluesky), `X-RateLimit-Reset` as an RFC 3339 time (Mastodon). Capped at
/// [`MAX_RETRY_AFTER`]; `None` when none is usable.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<chrono::Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let wait = if let Some(v) = header("retry-after") {
        match v.parse::<i64>() {
            Ok(secs) => Some(chrono::Duration::seconds(
                secs.clamp(0, MAX_RETRY_AFTER.num_seconds()),
            )),
            Err(_) => DateTime::parse_from_rfc2822(v)
                .ok()
                .map(|at| at.with_timezone(&Utc) - now),
        }
    } else if let Some(v) = header("x-rate-limit-reset")
        .or_else(|| header("ratelimit-reset"))
        .or_else(|| header("x-ratelimit-reset"))
    {
        match v.parse::<i64>() {
            Ok(epoch) => DateTime::<Utc>::from_timestamp(epoch.clamp(0, 253_402_300_799), 0)
                .map(|at| at - now),
            Err(_) => DateTime::parse_from_rfc3339(v)
                .ok()
                .map(|at| at.with_timezone(&Utc) - now),
        }
    } else {
        None
    }?;
    Some(wait.clamp(chrono::Duration::zero(), MAX_RETRY_AFTER))
}

/// A failed call whose request may or may not have reached the platform: a timeout after the
/// connection was made is an unknown outcome (never re-sent blindly), a failure to connect
/// is transient.
pub fn publish_transport_error(e: &reqwest::Error) -> PublishError {
    if e.is_connect() || e.is_builder() {
        PublishError::Transient {
            reason: e.to_string(),
        }
    } else {
        PublishError::Unknown {
            reason: format!("no answer: {e}"),
        }
    }
}

/// A failed call that creates nothing (reads, uploads before the post, token calls):
/// retrying is safe.
pub fn transient(e: &reqwest::Error) -> PublishError {
    PublishError::Transient {
        reason: e.to_string(),
    }
}

/// An authorisation call that failed in transport.
pub fn oauth_transport_error(e: &reqwest::Error) -> OAuthError {
    OAuthError::Transient {
        reason: e.to_string(),
    }
}

/// Reads a response body as JSON of `T`, mapping a malformed answer to a transient error (the
/// platform answered something we cannot read; nothing was decided).
pub async fn json_body<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, String> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("{what}: reading the answer: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{what}: unexpected answer: {e}"))
}

/// The first `max` characters of a platform's error text, for logs and stored reasons.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;

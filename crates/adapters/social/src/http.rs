//! What every platform client shares: the HTTP client (rustls on *ring*, timeouts, no
//! redirects, no proxy), the guard on user-given server URLs (federated platforms), reading
//! answers with a size cap, reading rate-limit headers, and turning transport failures into
//! the errors the core acts on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// The largest answer read from a platform (JSON, or X's form-encoded OAuth 1.0a answers): an
/// account, a token, a status or an instance's description is a few kilobytes. Servers may be
/// user-chosen (Mastodon instances, Bluesky servers and PDSes), so nothing is read unbounded.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The largest error answer read from a platform (only a short reason is kept from it).
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

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
/// platform API never needs one, and a redirect could lead a user-given URL inside), and no
/// proxy: `HTTP(S)_PROXY` and `ALL_PROXY` in the environment are ignored, so the platforms'
/// traffic never goes to a proxy nobody configured in Multivio (and, for [`guarded_client`],
/// names are never resolved anywhere but in the guarded resolver).
pub fn client(timeout: Duration) -> Result<reqwest::Client, SetupError> {
    builder(timeout)
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// A client for user-given servers: like [`client`], and every name it resolves must lead to
/// an address `policy` allows (no SSRF into private networks, even through DNS). A proxy would
/// resolve names itself, past the guard: there is none (see [`client`]).
pub fn guarded_client(
    timeout: Duration,
    policy: ServerPolicy,
) -> Result<reqwest::Client, SetupError> {
    builder(timeout)
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// What every client is built from.
fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    // Err only means a provider is installed already, which is what we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Multivio/", env!("CARGO_PKG_VERSION")))
}

/// IPv4 networks a user-given server is never reached on (loopback, 127.0.0.0/8, is left to the
/// policy): the entries of IANA's special-purpose registry, where no public server lives.
///
/// Kept here rather than taken from `std`'s address predicates (`is_global` is unstable, and
/// the stable ones miss carrier-grade NAT, benchmarking, 6to4 and NAT64) or an SSRF crate (none
/// maintained that guards reqwest's resolver): the tables are the registry's, entry by entry,
/// and the tests walk each.
const BLOCKED_V4: [(Ipv4Addr, u8); 14] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link local (cloud metadata services)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relays (deprecated)
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and the broadcast address
];

/// IPv6 networks inside global unicast (2000::/3, the only IPv6 space allowed) that are
/// never reached.
const BLOCKED_V6: [(Ipv6Addr, u8); 4] = [
    // IETF protocol assignments, Teredo (2001::/32, an IPv4 address inside) among them.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    // Documentation.
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    // 6to4 (deprecated, RFC 7526): an IPv4 address inside, reached through whichever relay or
    // local tunnel; no server a user names lives there.
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
    // Documentation (RFC 9637).
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// The NAT64 well-known prefix (64:ff9b::/96): the address of an IPv4 host, translated.
const NAT64: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Whether an address may be reached under `policy`.
///
/// - IPv4: anything but the special-purpose networks (this network 0.0.0.0/8, private,
///   carrier-grade NAT, link local, 192.0.0.0/24, documentation, 6to4 relays, benchmarking
///   198.18.0.0/15, multicast, reserved 240.0.0.0/4 and broadcast); loopback only under
///   [`ServerPolicy::AllowLoopback`].
/// - IPv6: an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address is judged
///   as its IPv4 address (a NAT64 one never reaches loopback). Otherwise only global unicast
///   (2000::/3), which leaves out unique local, link local, multicast, IPv4-compatible and the
///   other reserved spaces — and within it, not 2001::/23 (IETF assignments, Teredo), the
///   documentation prefixes, or 6to4 (2002::/16, deprecated: an IPv4 address reached through
///   whichever relay or tunnel). `::1` only under [`ServerPolicy::AllowLoopback`].
pub fn address_allowed(ip: IpAddr, policy: ServerPolicy) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                return policy == ServerPolicy::AllowLoopback;
            }
            !BLOCKED_V4.iter().any(|&net| in_v4(v4, net))
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return policy == ServerPolicy::AllowLoopback;
            }
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_allowed(IpAddr::V4(v4), policy);
            }
            if in_v6(v6, (NAT64, 96)) {
                let [.., a, b, c, d] = v6.octets();
                let embedded = Ipv4Addr::new(a, b, c, d);
                // A translated loopback address reaches nothing on this machine: refused.
                return !embedded.is_loopback() && address_allowed(IpAddr::V4(embedded), policy);
            }
            let global_unicast = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
            in_v6(v6, global_unicast) && !BLOCKED_V6.iter().any(|&net| in_v6(v6, net))
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
            Ok(epoch) => DateTime::<Utc>::from_timestamp(
                epoch.clamp(0, multivio_domain::time::LAST_UNIX_SECOND),
                0,
            )
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

/// A media file whose bytes could not be read from storage (before anything is sent with
/// them): retrying is safe.
pub fn media_unreadable(e: &multivio_ports::media::MediaStoreError) -> PublishError {
    PublishError::Transient {
        reason: format!("a media file could not be read from storage: {e}"),
    }
}

/// A request body streamed from media storage, `len` bytes long (sent with that
/// `Content-Length`, in the store's chunks).
pub async fn media_body(
    bytes: &multivio_ports::media::MediaBytes,
) -> Result<reqwest::Body, PublishError> {
    let stream = bytes.stream().await.map_err(|e| media_unreadable(&e))?;
    Ok(reqwest::Body::wrap_stream(stream))
}

/// An authorisation call that failed in transport.
pub fn oauth_transport_error(e: &reqwest::Error) -> OAuthError {
    OAuthError::Transient {
        reason: e.to_string(),
    }
}

/// A request to a server the person named (a Mastodon instance, a Bluesky server) that found
/// no server there — the name does not resolve, nothing answers at the address: their input
/// to check, not an outage of ours to wait out. Any other failure is transient.
pub fn named_server_transport_error(e: &reqwest::Error, server: &str) -> OAuthError {
    if e.is_connect() {
        OAuthError::Rejected {
            code: "server_unreachable".to_owned(),
            reason: format!("no server answers at {server}; check its address"),
        }
    } else {
        oauth_transport_error(e)
    }
}

/// Why an answer's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is (or was announced as) larger than the cap; it was not read to the end.
    #[error("the answer is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// The connection failed while reading.
    #[error("reading the answer: {0}")]
    Read(#[source] reqwest::Error),
}

/// Reads at most `max` bytes of a response body: a larger body (announced or sent) is refused
/// without being read to the end, so a server cannot make us allocate without limit. Every
/// body this crate reads goes through here, with [`MAX_JSON_BYTES`] or [`MAX_ERROR_BYTES`].
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge { max });
    }
    let mut body = Vec::new();
    // Without the URL: an upload URL carries its session or token (TikTok's `upload_token`,
    // YouTube's session), and this error may become a stored reason or a log line.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads an error answer's body as text (at most [`MAX_ERROR_BYTES`], invalid UTF-8 replaced):
/// what could not be read is told in its place, as a reason.
pub async fn error_text(response: reqwest::Response) -> String {
    match read_capped(response, MAX_ERROR_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("({e})"),
    }
}

/// Reads a response body (at most [`MAX_JSON_BYTES`]) as JSON of `T`; the error says what was
/// wrong, for a transient error (the platform answered something we cannot read; nothing was
/// decided).
pub async fn json_body<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, String> {
    let bytes = read_capped(response, MAX_JSON_BYTES)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
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

//! CORS: which web clients (the origins named in `MULTIVIO_CORS_ORIGINS`) may call the API
//! from a browser, and the parsing and validation of that list.

use actix_cors::Cors;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};

use crate::observe::REQUEST_ID_HEADER;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 3600;

/// A `MULTIVIO_CORS_ORIGINS` value this module refuses (at startup, never by panicking).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `*` in `MULTIVIO_CORS_ORIGINS`: refused so that only the deployment's own web clients can
    /// call the API from a browser; a typo'd wildcard must not silently open it to every site.
    #[error(
        "MULTIVIO_CORS_ORIGINS: `*` is not accepted; list each web client origin instead, \
         e.g. `https://app.example.com,https://staging.example.com`"
    )]
    WildcardOrigin,
    /// An entry of `MULTIVIO_CORS_ORIGINS` that is not `http(s)://host[:port]`.
    #[error(
        "MULTIVIO_CORS_ORIGINS: `{origin}` is not an origin: {reason} \
         (expected `http(s)://host[:port]`, e.g. `https://app.example.com`)"
    )]
    InvalidOrigin {
        /// The entry as given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The CORS middleware: exactly `allowed_origins` (none → no cross-origin access at all), methods
/// GET/POST/PATCH/DELETE/OPTIONS, request headers `Authorization`, `Content-Type`,
/// `Idempotency-Key`, `X-Request-Id`, exposing `X-Request-Id`, preflights cached for an hour.
///
/// Requests from other origins are still served (the browser withholds the answer because
/// `Access-Control-Allow-Origin` is missing); blocking them server-side would break same-origin
/// clients, whose browsers send `Origin` on POSTs too. Credentials mode is off: the API uses
/// bearer tokens, not cookies.
///
/// Entries that are not origins are skipped with an error log rather than passed on, because
/// actix-cors would make the whole app fail to start; validate with [`parse_origins`] first.
pub fn cors(allowed_origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(REQUEST_ID_HEADER),
        ])
        .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER)])
        .max_age(PREFLIGHT_MAX_AGE);
    for origin in allowed_origins {
        match parse_origin(origin) {
            Ok(origin) => cors = cors.allowed_origin(&origin),
            Err(err) => tracing::error!(error = %err, "CORS origin skipped"),
        }
    }
    cors
}

/// Parses `MULTIVIO_CORS_ORIGINS`: comma-separated `http(s)://host[:port]` entries, blanks
/// ignored (so an empty value means no origin). `*` is refused.
///
/// Entries are normalised the way browsers write the `Origin` header (lower-case scheme and host,
/// no default port, no trailing `/`) because actix-cors compares them byte for byte. Duplicates
/// are dropped.
pub fn parse_origins(s: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins: Vec<String> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let origin = parse_origin(entry)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// One origin, normalised; see [`parse_origins`].
fn parse_origin(entry: &str) -> Result<String, ConfigError> {
    let entry = entry.trim();
    if entry == "*" {
        return Err(ConfigError::WildcardOrigin);
    }
    let invalid = |reason| ConfigError::InvalidOrigin {
        origin: entry.to_owned(),
        reason,
    };

    let (scheme, rest) = entry
        .split_once("://")
        .ok_or_else(|| invalid("it has no `http://` or `https://` scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(invalid("the scheme must be http or https")),
    };
    // A lone trailing slash is what copying a URL from the address bar gives; it is not a path.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('*') {
        return Err(invalid("wildcards are not supported; list each origin"));
    }
    if authority.contains(['/', '?', '#']) {
        return Err(invalid("an origin has no path, query or fragment"));
    }
    if authority.contains('@') {
        return Err(invalid("an origin has no user name or password"));
    }

    let (host, port) = split_host_port(authority).ok_or_else(|| invalid("the host is missing"))?;
    if !valid_host(host) {
        return Err(invalid("the host is not a valid name or IP address"));
    }
    let host = host.to_ascii_lowercase();
    match port {
        None => Ok(format!("{scheme}://{host}")),
        Some(port) => {
            let valid_port = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !valid_port {
                Err(invalid("the port must be a number from 1 to 65535"))
            } else if port.trim_start_matches('0') == default_port {
                Ok(format!("{scheme}://{host}"))
            } else {
                Ok(format!(
                    "{scheme}://{host}:{}",
                    port.trim_start_matches('0')
                ))
            }
        }
    }
}

/// `host[:port]` or `[v6]:port` → (host, port); `None` when the host is empty.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(after_bracket) = authority.strip_prefix('[') {
        let end = after_bracket.find(']')?;
        let host = authority.get(..end + 2)?;
        match authority.get(end + 2..)? {
            "" => (host, None),
            tail => (host, Some(tail.strip_prefix(':').unwrap_or("x"))),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    (!host.is_empty()).then_some((host, port))
}

/// A DNS name (letters, digits, `-`, dot-separated non-empty labels) or a bracketed IPv6 literal.
fn valid_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests;

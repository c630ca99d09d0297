//! Google's x509 certificate set: the RSA keys of its PEM certificates, and the cache that
//! fetches the set (one fetch at a time, rate-limited, keeping old keys on failure).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use reqwest::header::CACHE_CONTROL;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

/// How long a certificate set is kept when the response has no `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// The longest we keep a certificate set, whatever `max-age` says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The largest certificate-set response we read (Google's is a few KiB).
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most keys we keep from one response.
const MAX_KEYS: usize = 64;
/// While no key was ever fetched, the least time between two fetch attempts.
const COLD_RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// The longest `kid` we look up (Google's are 40 hex digits).
pub(crate) const MAX_KID_LEN: usize = 256;

/// The RSA public key of a PEM `CERTIFICATE` (what Google serves) or `PUBLIC KEY`, as a
/// verification key; `None` for anything else.
///
/// `jsonwebtoken`'s [`DecodingKey::from_rsa_pem`] reads both. It parses the DER, requires the
/// first key-algorithm identifier in it to be rsaEncryption, and takes the key from the first
/// BIT STRING (or OCTET STRING) in the nested SEQUENCEs, which in an X.509 certificate is the
/// subjectPublicKey of its SubjectPublicKeyInfo: the fields before it have none outside SETs
/// and explicitly tagged fields, which it does not enter. It also takes private keys and PKCS#1
/// `RSA PUBLIC KEY`s, so the PEM label is checked first. The key bytes themselves are parsed by
/// ring when a signature is checked: bytes that are not an RSA public key verify nothing.
pub(crate) fn rsa_key_from_pem(text: &str) -> Option<DecodingKey> {
    let block = pem::parse(text).ok()?;
    if !matches!(block.tag(), "CERTIFICATE" | "PUBLIC KEY") {
        return None;
    }
    DecodingKey::from_rsa_pem(text.as_bytes()).ok()
}

/// Parses a certificate set (a JSON object `kid` → PEM certificate). Entries that are not RSA
/// certificates are skipped; a set with no usable key is an error.
pub(crate) fn parse_certificate_set(
    body: &[u8],
) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let set: HashMap<String, String> = serde_json::from_slice(body)
        .map_err(|e| format!("the certificate set is not a JSON object of strings: {e}"))?;
    let mut keys = HashMap::new();
    for (kid, pem) in set {
        if keys.len() >= MAX_KEYS {
            tracing::warn!(
                max = MAX_KEYS,
                "Firebase certificate set has too many keys; ignoring the rest"
            );
            break;
        }
        match rsa_key_from_pem(&pem) {
            Some(key) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => {
                keys.insert(kid, Arc::new(key));
            }
            _ => tracing::warn!(kid = %kid, "skipping an unusable Firebase certificate"),
        }
    }
    if keys.is_empty() {
        return Err("the certificate set has no usable RSA certificate".to_owned());
    }
    Ok(keys)
}

/// How long to keep a response, from its `Cache-Control` header: `max-age=N` (capped at 24 h),
/// else 1 h. `no-cache`/`no-store` count as `max-age=0`.
pub(crate) fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(header) = cache_control else {
        return DEFAULT_MAX_AGE;
    };
    let mut lifetime = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = directive
            .split_once('=')
            .map_or((directive, None), |(n, v)| (n.trim(), Some(v.trim())));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Duration::ZERO;
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(secs) = value
                .map(|v| v.trim_matches('"'))
                .and_then(|v| v.parse::<u64>().ok())
        {
            lifetime = Some(Duration::from_secs(secs));
        }
    }
    lifetime.unwrap_or(DEFAULT_MAX_AGE).min(MAX_MAX_AGE)
}

#[derive(Default)]
struct CacheState {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the keys go stale (`None`: never fetched).
    fresh_until: Option<Instant>,
    /// When the last fetch started, whether it worked or not.
    last_attempt: Option<Instant>,
}

impl CacheState {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_some_and(|until| now < until)
    }
}

/// The cached certificate set and what fetches it.
pub(crate) struct CertCache {
    client: reqwest::Client,
    url: String,
    min_refresh_interval: Duration,
    state: RwLock<CacheState>,
    /// Held for the whole of a fetch, so only one runs at a time.
    fetch_lock: Mutex<()>,
}

impl std::fmt::Debug for CertCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertCache")
            .field("url", &self.url)
            .field("min_refresh_interval", &self.min_refresh_interval)
            .finish_non_exhaustive()
    }
}

impl CertCache {
    pub(crate) fn new(
        client: reqwest::Client,
        url: String,
        min_refresh_interval: Duration,
    ) -> Self {
        Self {
            client,
            url,
            min_refresh_interval,
            state: RwLock::new(CacheState::default()),
            fetch_lock: Mutex::new(()),
        }
    }

    /// The key named `kid`, fetching the set when it is stale or lacks `kid` (within the
    /// refresh rate limit). Stale keys are used when a refresh fails or is not yet allowed.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(answer) = self.cached(kid).await {
            return answer;
        }
        let _fetching = self.fetch_lock.lock().await;
        // Whoever held the lock before us may have fetched what we need.
        if let Some(answer) = self.cached(kid).await {
            return answer;
        }
        self.refresh().await;
        let state = self.state.read().await;
        Self::lookup(&state, kid)
    }

    /// The answer from the cache as it is, unless a fetch is both needed (the set is stale or
    /// lacks `kid`) and allowed (the rate limit).
    async fn cached(&self, kid: &str) -> Option<Result<Arc<DecodingKey>, AuthError>> {
        let state = self.state.read().await;
        let now = Instant::now();
        let needs_fetch = !state.is_fresh(now) || !state.keys.contains_key(kid);
        if needs_fetch && self.may_fetch(&state, now) {
            return None;
        }
        Some(Self::lookup(&state, kid))
    }

    /// Whether the rate limit lets a fetch start now: always before the first one; then once
    /// per `min_refresh_interval` (once per [`COLD_RETRY_INTERVAL`] at most while we have no key
    /// at all, so a failed first fetch is retried soon).
    fn may_fetch(&self, state: &CacheState, now: Instant) -> bool {
        let interval = if state.keys.is_empty() {
            self.min_refresh_interval.min(COLD_RETRY_INTERVAL)
        } else {
            self.min_refresh_interval
        };
        state
            .last_attempt
            .is_none_or(|at| now.saturating_duration_since(at) >= interval)
    }

    fn lookup(state: &CacheState, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        match state.keys.get(kid) {
            Some(key) => Ok(Arc::clone(key)),
            None if state.keys.is_empty() => Err(AuthError::CertificatesUnavailable),
            None => Err(AuthError::UnknownKey),
        }
    }

    /// Fetches the set once; on success replaces the keys, on failure keeps them.
    async fn refresh(&self) {
        let started = Instant::now();
        let result = self.fetch().await;
        let mut state = self.state.write().await;
        state.last_attempt = Some(started);
        match result {
            Ok((keys, lifetime)) => {
                tracing::debug!(
                    keys = keys.len(),
                    max_age_secs = lifetime.as_secs(),
                    "fetched the Firebase certificate set"
                );
                state.keys = keys;
                state.fresh_until = Some(started + lifetime);
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    cached_keys = state.keys.len(),
                    "fetching the Firebase certificate set failed; keeping the keys we have"
                );
            }
        }
    }

    async fn fetch(&self) -> Result<(HashMap<String, Arc<DecodingKey>>, Duration), String> {
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let lifetime = cache_lifetime(
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err("the certificate set is too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        let keys = parse_certificate_set(&body)?;
        Ok((keys, lifetime))
    }
}

#[cfg(test)]
mod tests;

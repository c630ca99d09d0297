//! What a [`FirebaseVerifier`](super::FirebaseVerifier) is built from.

use std::time::Duration;

use super::ConfigError;

/// Google's x509 certificate set for Firebase ID tokens (a JSON object `kid` → PEM certificate).
pub const GOOGLE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// The default allowed clock skew.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The largest allowed clock skew; larger settings are capped to it.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Environment variable naming the Firebase project (the tokens' audience).
pub const ENV_PROJECT_ID: &str = "MULTIVIO_FIREBASE_PROJECT_ID";

/// Environment variable that, when set and non-empty, turns emulator mode on.
pub const ENV_EMULATOR_HOST: &str = "FIREBASE_AUTH_EMULATOR_HOST";

/// Environment variable overriding [`GOOGLE_CERTS_URL`].
pub const ENV_CERTS_URL: &str = "MULTIVIO_FIREBASE_CERTS_URL";

const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_PROJECT_ID_LEN: usize = 128;

/// The deployment profile the server runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Local development and tests: emulator mode and plain-http certificate URLs are allowed.
    #[default]
    Development,
    /// Production: emulator mode and plain-http certificate URLs are refused.
    Production,
}

/// How to verify Firebase ID tokens.
///
/// Build it with [`FirebaseConfig::new`] (or [`FirebaseConfig::from_lookup`] for the
/// environment) and the `with_*` methods; [`FirebaseVerifier::new`](super::FirebaseVerifier::new)
/// validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseConfig {
    /// The Firebase project id: the tokens' `aud`, and the end of their `iss`.
    pub project_id: String,
    /// Where Google's x509 certificate set is fetched from.
    pub certs_url: String,
    /// Accept Firebase Auth Emulator tokens (unsigned). Never in production.
    pub emulator: bool,
    /// The allowed clock skew for `exp`, `iat` and `auth_time` (capped at [`MAX_CLOCK_SKEW`]).
    pub clock_skew: Duration,
    /// The deployment profile.
    pub profile: Profile,
    /// The timeout of one request to the certificate URL.
    pub http_timeout: Duration,
    /// The least time between two fetches of the certificate set (the first fetch excepted).
    pub min_refresh_interval: Duration,
}

impl FirebaseConfig {
    /// A development-profile configuration for `project_id` with the defaults: Google's
    /// certificate URL, emulator mode off, 300 s skew, 5 s HTTP timeout, 30 s between fetches.
    pub fn new(project_id: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            certs_url: GOOGLE_CERTS_URL.to_owned(),
            emulator: false,
            clock_skew: DEFAULT_CLOCK_SKEW,
            profile: Profile::Development,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
        }
    }

    /// Reads [`ENV_PROJECT_ID`], [`ENV_EMULATOR_HOST`] (set and non-empty → emulator mode on)
    /// and [`ENV_CERTS_URL`] through `lookup` (e.g. `|name| std::env::var(name).ok()`), and
    /// validates the result for `profile`.
    pub fn from_lookup(
        profile: Profile,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let project_id = non_empty(ENV_PROJECT_ID).ok_or(ConfigError::MissingProjectId)?;
        let mut config = Self::new(project_id.trim())
            .with_profile(profile)
            .with_emulator(non_empty(ENV_EMULATOR_HOST).is_some());
        if let Some(url) = non_empty(ENV_CERTS_URL) {
            config = config.with_certs_url(url.trim());
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets the certificate URL.
    pub fn with_certs_url(mut self, url: impl Into<String>) -> Self {
        self.certs_url = url.into();
        self
    }

    /// Turns emulator mode on or off.
    pub fn with_emulator(mut self, emulator: bool) -> Self {
        self.emulator = emulator;
        self
    }

    /// Sets the allowed clock skew (capped at [`MAX_CLOCK_SKEW`] when used).
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Sets the deployment profile.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Sets the timeout of one request to the certificate URL.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets the least time between two fetches of the certificate set.
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// The clock skew actually allowed: [`FirebaseConfig::clock_skew`] capped at
    /// [`MAX_CLOCK_SKEW`].
    pub fn effective_clock_skew(&self) -> Duration {
        self.clock_skew.min(MAX_CLOCK_SKEW)
    }

    /// The issuer the tokens must carry: `https://securetoken.google.com/<project>`.
    pub fn issuer(&self) -> String {
        format!("https://securetoken.google.com/{}", self.project_id)
    }

    /// Checks the configuration: a plausible project id, an http(s) certificate URL, and in the
    /// production profile neither emulator mode nor a plain-http certificate URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.project_id.is_empty() {
            return Err(ConfigError::MissingProjectId);
        }
        let plausible = self.project_id.len() <= MAX_PROJECT_ID_LEN
            && self
                .project_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !plausible {
            return Err(ConfigError::InvalidProjectId);
        }
        let https = self.certs_url.starts_with("https://");
        if !https && !self.certs_url.starts_with("http://") {
            return Err(ConfigError::InvalidCertificateUrl);
        }
        if self.profile == Profile::Production {
            if self.emulator {
                return Err(ConfigError::EmulatorInProduction);
            }
            if !https {
                return Err(ConfigError::InsecureCertificateUrl);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

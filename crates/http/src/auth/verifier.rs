//! [`FirebaseVerifier`]: checks Firebase ID tokens.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::Validation;

use super::certs::{CertCache, MAX_KID_LEN};
use super::jwt::{self, Expected};
use super::{AuthError, ConfigError, FirebaseConfig};

/// What a verified Firebase ID token says about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The Firebase uid (the token's `sub`): non-empty, at most 128 characters.
    pub uid: String,
    /// The user's email, if the token has one.
    pub email: Option<String>,
    /// Whether Firebase says the email is verified (`false` when absent).
    pub email_verified: bool,
    /// How the user signed in (`firebase.sign_in_provider`: `password`, `google.com`…).
    pub sign_in_provider: Option<String>,
    /// The user's display name, if any.
    pub name: Option<String>,
    /// The user's photo URL, if any.
    pub picture: Option<String>,
    /// When the user authenticated (`auth_time`).
    pub auth_time: DateTime<Utc>,
    /// When the token was issued (`iat`).
    pub issued_at: DateTime<Utc>,
    /// When the token expires (`exp`).
    pub expires_at: DateTime<Utc>,
}

/// Verifies Firebase ID tokens (see the [module docs](super) for the rules).
///
/// Cheap to clone: clones share the configuration, the HTTP client and the certificate cache.
/// Register one with `web::Data::new(verifier)` for the [`Authenticated`](super::Authenticated)
/// extractor.
#[derive(Clone)]
pub struct FirebaseVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    project_id: String,
    issuer: String,
    emulator: bool,
    skew_secs: i64,
    /// What `jsonwebtoken` checks of production tokens.
    validation: Validation,
    certs: CertCache,
}

impl std::fmt::Debug for FirebaseVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirebaseVerifier")
            .field("project_id", &self.inner.project_id)
            .field("emulator", &self.inner.emulator)
            .field("skew_secs", &self.inner.skew_secs)
            .field("certs", &self.inner.certs)
            .finish()
    }
}

impl FirebaseVerifier {
    /// Validates `config` ([`FirebaseConfig::validate`]) and builds a verifier. No request is
    /// made yet: the certificate set is fetched by the first verification that needs it.
    ///
    /// The certificate fetches go through reqwest on rustls; this installs rustls' *ring*
    /// crypto provider as the process default unless one is installed already.
    pub fn new(config: FirebaseConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        if config.emulator {
            tracing::warn!(
                project_id = %config.project_id,
                "Firebase Auth Emulator mode is on: unsigned tokens are accepted"
            );
        }
        // Err only means a provider is installed already, which is what we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        let skew_secs = i64::try_from(config.effective_clock_skew().as_secs()).unwrap_or(0);
        let issuer = config.issuer();
        let validation = jwt::validation(&Expected {
            audience: &config.project_id,
            issuer: &issuer,
            skew: skew_secs,
        });
        Ok(Self {
            inner: Arc::new(Inner {
                validation,
                issuer,
                emulator: config.emulator,
                skew_secs,
                certs: CertCache::new(client, config.certs_url, config.min_refresh_interval),
                project_id: config.project_id,
            }),
        })
    }

    /// The Firebase project whose tokens are accepted.
    pub fn project_id(&self) -> &str {
        &self.inner.project_id
    }

    /// Whether emulator (unsigned) tokens are accepted.
    pub fn emulator(&self) -> bool {
        self.inner.emulator
    }

    /// Verifies a Firebase ID token against the system clock.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        self.verify_at(token, Utc::now()).await
    }

    /// Verifies a Firebase ID token as if the time were `now` (the certificate cache still
    /// runs on the real clock, and so does `jsonwebtoken`'s own `exp` check of production
    /// tokens: a `now` in the past does not revive a token that has expired).
    pub async fn verify_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        // The header is read before anything is verified: `alg` picks the path (RS256, or
        // `none` in emulator mode), `crit` is refused, and an RS256 token names its key.
        let header = jwt::read_header(token)?;
        let expected = Expected {
            audience: &self.inner.project_id,
            issuer: &self.inner.issuer,
            skew: self.inner.skew_secs,
        };
        let claims = match header.alg.as_str() {
            "RS256" => {
                let kid = jsonwebtoken::decode_header(token)
                    .map_err(|_| AuthError::Malformed)?
                    .kid
                    .filter(|kid| !kid.is_empty())
                    .ok_or(AuthError::MissingKeyId)?;
                if kid.len() > MAX_KID_LEN {
                    return Err(AuthError::UnknownKey);
                }
                let key = self.inner.certs.key(&kid).await?;
                jwt::verify_signed(token, &key, &self.inner.validation, &expected, now)?
            }
            // Firebase Auth Emulator tokens: unsigned, accepted only in emulator mode.
            "none" if self.inner.emulator => jwt::check_unsigned(token, &expected, now)?,
            _ => return Err(AuthError::UnsupportedAlgorithm),
        };
        Ok(VerifiedToken {
            uid: claims.uid,
            email: claims.email,
            email_verified: claims.email_verified,
            sign_in_provider: claims.sign_in_provider,
            name: claims.name,
            picture: claims.picture,
            auth_time: claims.auth_time,
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        })
    }
}

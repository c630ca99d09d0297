//! Firebase authentication: verifying Firebase ID tokens and the [`Authenticated`] extractor.
//!
//! Every `/v1` route (except the Stripe webhook and the OAuth callback) takes
//! `Authorization: Bearer <Firebase ID token>`. [`FirebaseVerifier`] checks such a token the way
//! Firebase documents it:
//!
//! - **Production tokens** are accepted only when signed with **RS256** by a key whose `kid` is in
//!   Google's x509 certificate set (fetched from [`GOOGLE_CERTS_URL`] or a configured URL). Any
//!   other algorithm — `none`, `HS256` (the algorithm-confusion attack that uses the public key
//!   as an HMAC secret), `RS512`… — is refused before any key is looked at.
//! - **Claims**: `aud` is the project id, `iss` is `https://securetoken.google.com/<project>`,
//!   `sub` (the uid) is non-empty and at most 128 characters, and `exp`, `iat` and `auth_time`
//!   are checked against the clock with a bounded skew (see below).
//! - **Emulator tokens** (Firebase Auth Emulator: `alg: none`, empty signature, same claims) are
//!   accepted only when emulator mode is on, which a production profile refuses
//!   ([`FirebaseConfig::validate`]). [`mint_emulator_token`] makes such tokens for
//!   `multivio dev-token` and tests.
//!
//! Production tokens are decoded and verified by the `jsonwebtoken` crate (RS256 only, `aud`,
//! `iss`, `exp` with the skew as leeway, the registered claims present), whose
//! `DecodingKey::from_rsa_pem` also reads the keys out of Google's certificates. What it does
//! not check is checked after it: the `crit` header (refused), `aud` and `iss` being single
//! strings, the subject, `iat` and `auth_time`, and the times against the verifier's clock.
//! Emulator tokens, which it does not decode, go through a small parser of their own.
//!
//! # Clock skew
//!
//! The allowed skew `s` defaults to 300 s and is capped at 300 s. With `now` the verifier's
//! clock (whole seconds), a token is accepted only if `exp > now − s`, `iat ≤ now + s` and
//! `auth_time ≤ now + s`. So with the default skew a token that expired 100 s ago is still
//! accepted, one that expired 300 s ago or more is [`AuthError::Expired`].
//!
//! # Certificate cache
//!
//! The certificate set is cached for the response's `Cache-Control: max-age` (1 hour when
//! absent, at most 24 hours). It is fetched again when it has expired, or when a token names a
//! `kid` that is not in it — but never more than once per
//! [`FirebaseConfig::min_refresh_interval`] (30 s by default) after the first fetch, so tokens
//! with made-up `kid`s cannot make us hammer Google (while no key was ever fetched, a failed
//! fetch is retried after at most 5 s). Only one fetch runs at a time: concurrent
//! verifications that need a fetch wait for the same one. If a refresh fails, the previous keys
//! stay in use. Requests to the certificate URL time out after
//! [`FirebaseConfig::http_timeout`] (5 s by default).
//!
//! Tokens are never logged, and errors never echo them.

mod certs;
mod config;
mod error;
mod extractor;
mod jwt;
mod verifier;

pub use config::{
    DEFAULT_CLOCK_SKEW, ENV_CERTS_URL, ENV_EMULATOR_HOST, ENV_PROJECT_ID, FirebaseConfig,
    GOOGLE_CERTS_URL, MAX_CLOCK_SKEW, Profile,
};
pub use error::{AuthError, ConfigError};
pub use extractor::{AuthRejection, Authenticated};
pub use jwt::mint_emulator_token;
pub use verifier::{FirebaseVerifier, VerifiedToken};

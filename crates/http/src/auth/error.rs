//! Why a token was refused, and why a verifier could not be built.

/// Why a bearer token was refused.
///
/// The [`Display`](std::fmt::Display) text says what kind of failure it was and is safe to show
/// to the caller: it never contains the token or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token was given (no `Authorization` header, another scheme, or an empty token).
    #[error("no bearer token was given")]
    MissingToken,
    /// The token is not a well-formed JWT: not three base64url parts, a header or payload that
    /// is not a JSON object, a claim of the wrong type, a time out of range, too long…
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The token's `alg` is not accepted (only RS256, and `none` in emulator mode).
    #[error("the token's signing algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// An RS256 token without a `kid` header.
    #[error("the token does not name its signing key")]
    MissingKeyId,
    /// The token's `kid` is not in Google's certificate set, even after a refresh.
    #[error("the token's signing key is not known")]
    UnknownKey,
    /// The signature does not match the header and payload (tampered, or signed by another key).
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// `aud` is missing or is not this Firebase project.
    #[error("the token was issued for another audience")]
    WrongAudience,
    /// `iss` is missing or is not `https://securetoken.google.com/<project>`.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `exp` is past (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `auth_time` is in the future (beyond the allowed clock skew).
    #[error("the token's authentication time is in the future")]
    AuthTimeInFuture,
    /// `sub` (the uid) is missing, not a string, empty, or longer than 128 characters.
    #[error("the token's subject is missing, empty or too long")]
    InvalidSubject,
    /// A required claim (`exp`, `iat` or `auth_time`) is missing.
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// Google's certificate set could not be fetched and no earlier copy is at hand. This is our
    /// problem, not the caller's: the extractor answers 503.
    #[error("the token signing certificates are unavailable")]
    CertificatesUnavailable,
}

impl AuthError {
    /// A short stable code for the failure (`"expired"`, `"wrong-audience"`…), for metrics and
    /// logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing-token",
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported-algorithm",
            Self::MissingKeyId => "missing-key-id",
            Self::UnknownKey => "unknown-key",
            Self::InvalidSignature => "invalid-signature",
            Self::WrongAudience => "wrong-audience",
            Self::WrongIssuer => "wrong-issuer",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued-in-future",
            Self::AuthTimeInFuture => "auth-time-in-future",
            Self::InvalidSubject => "invalid-subject",
            Self::MissingClaim(_) => "missing-claim",
            Self::CertificatesUnavailable => "certificates-unavailable",
        }
    }
}

/// Why a [`FirebaseConfig`](super::FirebaseConfig) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No Firebase project id was configured.
    #[error("the Firebase project id is not set ({})", super::ENV_PROJECT_ID)]
    MissingProjectId,
    /// The project id contains characters a Firebase project id never has.
    #[error("the Firebase project id is not valid")]
    InvalidProjectId,
    /// Emulator mode (unsigned tokens) was asked for in the production profile.
    #[error(
        "Firebase Auth Emulator mode ({}) accepts unsigned tokens and is refused in production",
        super::ENV_EMULATOR_HOST
    )]
    EmulatorInProduction,
    /// The certificate URL is not an `http(s)://` URL.
    #[error("the Firebase certificate URL is not an http(s) URL")]
    InvalidCertificateUrl,
    /// The certificate URL is plain `http://` in the production profile.
    #[error("the Firebase certificate URL must use https in production")]
    InsecureCertificateUrl,
    /// The HTTP client for the certificate URL could not be built.
    #[error("the HTTP client for the Firebase certificates could not be built: {0}")]
    HttpClient(String),
}

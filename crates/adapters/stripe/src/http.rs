//! The HTTP client (built as Multivio's platform clients are: rustls on *ring*, timeouts, no
//! redirects, no proxy) and reading Stripe's answers with a size cap.

use std::time::Duration;

use crate::config::ConfigError;

/// The largest successful answer read: a customer, a Checkout Session or a portal session is a
/// few kilobytes.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The largest error answer read (only Stripe's message is kept from it).
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// A client: a total and a connect timeout, no redirects (Stripe's API never answers one, and
/// one would carry the key elsewhere), no proxy from the environment (`HTTP(S)_PROXY`,
/// `ALL_PROXY` are ignored: the key never goes through a proxy nobody configured in Multivio).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    // Err only means a provider is installed already, which is what we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Multivio/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::Client(e.to_string()))
}

/// Why an answer's body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Larger (announced or sent) than the cap; not read to the end.
    #[error("the answer is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// The connection failed while reading.
    #[error("reading the answer: {0}")]
    Read(#[source] reqwest::Error),
}

/// Reads at most `max` bytes of a body: a larger one is refused without being read to the end.
pub(crate) async fn read_capped(
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
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

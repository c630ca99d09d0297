//! PKCE (RFC 7636): the S256 challenge of a verifier.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use multivio_domain::Secret;

/// `BASE64URL(SHA256(verifier))`, the `code_challenge` for `code_challenge_method=S256`.
pub fn s256_challenge(verifier: &Secret) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.expose().as_bytes(),
    ))
}

#[cfg(test)]
mod tests;

//! Unguessable tokens from the operating system's CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use multivio_domain::Secret;
use multivio_ports::system::TokenGenerator;
use ring::rand::{SecureRandom, SystemRandom};

/// 256-bit random tokens, base64url without padding (43 characters: also a valid PKCE
/// verifier).
#[derive(Debug, Clone)]
pub struct RandomTokens {
    rng: SystemRandom,
}

impl Default for RandomTokens {
    fn default() -> Self {
        Self {
            rng: SystemRandom::new(),
        }
    }
}

impl TokenGenerator for RandomTokens {
    fn random_token(&self) -> Secret {
        let mut bytes = [0u8; 32];
        // The OS generator does not fail on a running Linux system. If it ever did, any token
        // we could still make would be guessable, and OAuth state or verification links built
        // on it would be forgeable: stopping the process is the only safe answer.
        if self.rng.fill(&mut bytes).is_err() {
            eprintln!("fatal: the operating system's random number generator failed");
            std::process::abort();
        }
        Secret::new(URL_SAFE_NO_PAD.encode(bytes))
    }
}

#[cfg(test)]
mod tests;

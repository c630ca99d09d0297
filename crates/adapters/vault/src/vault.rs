//! The AES-256-GCM [`TokenVault`].

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use multivio_domain::Secret;
use multivio_ports::vault::{SealedToken, TokenVault, VaultError};
use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};

use crate::keyring::{Key, Keyring};

/// The version field of the stored form this crate writes.
pub const FORMAT_VERSION: &str = "v1";

/// The length of a GCM tag, in bytes.
const TAG_LEN: usize = 16;

/// A [`TokenVault`] sealing with AES-256-GCM under the primary key of a [`Keyring`].
///
/// See the [crate documentation](crate) for the stored form. Sealing and opening are a few
/// microseconds of CPU, so they run inline on the caller's task.
///
/// `Debug` prints the key ids only.
#[derive(Debug, Clone)]
pub struct AesGcmVault {
    keyring: Keyring,
    rng: SystemRandom,
}

impl AesGcmVault {
    /// A vault sealing with `keyring`'s primary key and opening with any of its keys.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            rng: SystemRandom::new(),
        }
    }

    /// The keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn seal_now(
        &self,
        plaintext: &Secret,
        associated_data: &str,
    ) -> Result<SealedToken, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| {
            VaultError::Unavailable("the system random number generator failed".to_owned())
        })?;
        seal_with_nonce(
            self.keyring.primary_key(),
            nonce,
            plaintext.expose().as_bytes(),
            associated_data,
        )
    }

    fn open_now(&self, sealed: &SealedToken, associated_data: &str) -> Result<Secret, VaultError> {
        let mut fields = sealed.0.splitn(3, '.');
        let (Some(version), Some(kid), Some(payload)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(VaultError::Corrupt);
        };
        if version != FORMAT_VERSION {
            return Err(VaultError::Corrupt);
        }
        let key = self.keyring.get(kid).ok_or(VaultError::Corrupt)?;
        // Strict decoding: no padding, no whitespace, no non-canonical trailing bits.
        let mut buf = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VaultError::Corrupt)?;
        if buf.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Corrupt);
        }
        let nonce = buf
            .get(..NONCE_LEN)
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
            .ok_or(VaultError::Corrupt)?;
        let aad = gcm_aad(key, associated_data);
        // Decrypts in place and moves the plaintext to the front of `buf`.
        let len = key
            .aead
            .open_within(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
                NONCE_LEN..,
            )
            .map_err(|_| VaultError::Corrupt)?
            .len();
        buf.truncate(len);
        String::from_utf8(buf)
            .map(Secret::from)
            .map_err(|_| VaultError::Corrupt)
    }
}

#[async_trait]
impl TokenVault for AesGcmVault {
    async fn seal(
        &self,
        plaintext: &Secret,
        associated_data: &str,
    ) -> Result<SealedToken, VaultError> {
        self.seal_now(plaintext, associated_data)
    }

    async fn open(
        &self,
        sealed: &SealedToken,
        associated_data: &str,
    ) -> Result<Secret, VaultError> {
        self.open_now(sealed, associated_data)
    }
}

/// The associated data given to GCM: `v1.<kid>.<associated data>`. Unambiguous, since a key id
/// never contains `.`.
fn gcm_aad(key: &Key, associated_data: &str) -> String {
    format!("{FORMAT_VERSION}.{}.{associated_data}", key.kid)
}

/// Seals `plaintext` with `key` and `nonce` into the stored form. The nonce must never have been
/// used with this key: outside tests it comes fresh from the system random number generator.
fn seal_with_nonce(
    key: &Key,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    associated_data: &str,
) -> Result<SealedToken, VaultError> {
    let aad = gcm_aad(key, associated_data);
    let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    buf.extend_from_slice(&nonce);
    buf.extend_from_slice(plaintext);
    let Some(in_out) = buf.get_mut(NONCE_LEN..) else {
        return Err(VaultError::Unavailable("encryption failed".to_owned()));
    };
    let tag = key
        .aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            in_out,
        )
        .map_err(|_| VaultError::Unavailable("encryption failed".to_owned()))?;
    buf.extend_from_slice(tag.as_ref());
    Ok(SealedToken(format!(
        "{FORMAT_VERSION}.{}.{}",
        key.kid,
        URL_SAFE_NO_PAD.encode(&buf)
    )))
}

#[cfg(test)]
mod tests;

//! # multivio-vault
//!
//! Seals OAuth tokens and other secrets at rest: [`AesGcmVault`] implements
//! [`TokenVault`](multivio_ports::vault::TokenVault) with AES-256-GCM (ring), under the keys of a
//! [`Keyring`].
//!
//! ## Stored form
//!
//! A sealed value ([`SealedToken`](multivio_ports::vault::SealedToken), a `TEXT` column) is
//! ASCII:
//!
//! ```text
//! v1.<kid>.<base64url(nonce || ciphertext || tag)>
//! ```
//!
//! - `v1`: the format version ([`FORMAT_VERSION`]). Any other version does not open.
//! - `<kid>`: the id of the key that sealed it, 1–32 characters of `A-Z a-z 0-9 _ -` (see
//!   [`KeyId`]).
//! - the payload, in URL-safe base64 without padding (RFC 4648 §5), decoded strictly: the
//!   12-byte nonce, then the ciphertext (as long as the UTF-8 plaintext), then the 16-byte GCM
//!   tag.
//!
//! Each seal draws a fresh random 96-bit nonce from the system random number generator, so two
//! seals of one plaintext differ. With random nonces a key should seal fewer than 2³² values
//! (NIST SP 800-38D); rotate long before that.
//!
//! The associated data given to GCM is `v1.<kid>.<associated data>`, where the caller's
//! associated data names the row and column the value is stored in
//! ([`credential_aad`](multivio_ports::vault::credential_aad), e.g.
//! `social_connections:<uuid>:access_token`). A value copied to another row or column, relabelled
//! with another key id or version, truncated or altered in any byte fails to open with
//! [`VaultError::Corrupt`](multivio_ports::vault::VaultError::Corrupt), as does a value whose key
//! id is not in the keyring.
//!
//! ## Keys
//!
//! A [`Keyring`] holds 32-byte keys by id; the first is the primary, which new seals use; the
//! others keep opening what they sealed before a rotation. It comes from the
//! `MULTIVIO_TOKEN_KEYS` configuration ([`Keyring::from_config`]:
//! `kid:base64key[,kid2:base64key2…]`) or, for local runs, from a key file generated on first
//! use ([`Keyring::load_or_generate`]). `Debug` output and errors never show key material or
//! plaintexts.

#![warn(missing_docs)]

mod keyring;
mod tokens;
mod vault;

pub use keyring::{
    InvalidKeyId, KEY_ID_MAX_LEN, KEY_LEN, KEYS_ENV_VAR, KeyId, Keyring, KeyringError,
};
pub use tokens::RandomTokens;
pub use vault::{AesGcmVault, FORMAT_VERSION};

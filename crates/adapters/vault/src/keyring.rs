//! The keys the vault seals and opens with, their ids, and where they come from.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The length of a key, in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// The longest key id, in characters.
pub const KEY_ID_MAX_LEN: usize = 32;

/// The environment variable holding the keys, in the format [`Keyring::from_config`] reads.
pub const KEYS_ENV_VAR: &str = "MULTIVIO_TOKEN_KEYS";

/// The id of a key, written in every sealed value so the right key opens it after rotation.
///
/// 1 to [`KEY_ID_MAX_LEN`] characters of `A`–`Z`, `a`–`z`, `0`–`9`, `_` and `-` (so never `.`,
/// `:` or `,`, which separate fields in the stored form and in the configuration). Not secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

/// A string that is not a valid [`KeyId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key id must be 1 to 32 characters of A-Z, a-z, 0-9, `_` or `-`")]
pub struct InvalidKeyId;

impl KeyId {
    /// Checks and wraps a key id.
    pub fn new(kid: &str) -> Result<Self, InvalidKeyId> {
        if Self::is_valid(kid) {
            Ok(Self(kid.to_owned()))
        } else {
            Err(InvalidKeyId)
        }
    }

    /// The key id as written in the stored form and the configuration.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `kid` is a valid key id.
    pub fn is_valid(kid: &str) -> bool {
        (1..=KEY_ID_MAX_LEN).contains(&kid.len())
            && kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

impl FromStr for KeyId {
    type Err = InvalidKeyId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Why a keyring could not be built or loaded.
///
/// No variant carries or prints key material: a bad entry is named by its key id when that id is
/// valid, otherwise by its position (1-based) in the configuration.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No key at all.
    #[error("no token key configured (expected `kid:base64key[,kid2:base64key2…]`)")]
    Empty,
    /// An entry is not `kid:base64key`.
    #[error("token key entry {entry}: expected `kid:base64key`")]
    MalformedEntry {
        /// The entry's position, from 1.
        entry: usize,
    },
    /// An entry's key id is not a valid [`KeyId`].
    #[error(
        "token key entry {entry}: the key id must be 1 to 32 characters of A-Z, a-z, 0-9, `_` or `-`"
    )]
    InvalidKeyId {
        /// The entry's position, from 1.
        entry: usize,
    },
    /// A key is not valid standard base64 (with padding).
    #[error("token key `{kid}`: the key is not valid standard base64")]
    InvalidBase64 {
        /// The key's id.
        kid: KeyId,
    },
    /// A key does not decode to [`KEY_LEN`] bytes.
    #[error("token key `{kid}`: the key must be 32 bytes, got {len}")]
    WrongKeyLength {
        /// The key's id.
        kid: KeyId,
        /// How many bytes it decoded to.
        len: usize,
    },
    /// Two keys share an id.
    #[error("token key id `{kid}` appears more than once")]
    DuplicateKeyId {
        /// The repeated id.
        kid: KeyId,
    },
    /// The cryptographic library refused a key.
    #[error("token key `{kid}`: rejected by AES-256-GCM")]
    Rejected {
        /// The key's id.
        kid: KeyId,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// Reading or writing a key file failed.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// A key file's contents are not a valid keyring.
    #[error("key file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: Box<KeyringError>,
    },
}

/// One key of a keyring.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: KeyId,
    pub(crate) aead: LessSafeKey,
    /// For secrets derived from this key for other purposes ([`Keyring::derive`]), so the
    /// sealing key itself is only ever used to seal.
    derive: ring::hkdf::Prk,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The AES-256-GCM keys of the vault, by key id.
///
/// Never empty, and no id appears twice. The first key is the primary: new seals use it. The
/// others only open values sealed before a rotation. To rotate, put a new key first and keep the
/// old ones after it until every value sealed with them has been re-sealed.
///
/// `Debug` prints the key ids only.
#[derive(Clone)]
pub struct Keyring {
    /// Seals and opens.
    primary: Key,
    /// Only open. No id appears twice among `primary` and these.
    older: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary.kid)
            .field("kids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring of these keys, the first being the primary.
    ///
    /// Fails with [`KeyringError::Empty`] without keys and [`KeyringError::DuplicateKeyId`] when
    /// an id appears twice.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (KeyId, [u8; KEY_LEN])>,
    ) -> Result<Self, KeyringError> {
        let mut ring: Vec<Key> = Vec::new();
        for (kid, bytes) in keys {
            if ring.iter().any(|k| k.kid == kid) {
                return Err(KeyringError::DuplicateKeyId { kid });
            }
            let unbound = match UnboundKey::new(&AES_256_GCM, &bytes) {
                Ok(unbound) => unbound,
                Err(_) => return Err(KeyringError::Rejected { kid }),
            };
            ring.push(Key {
                derive: ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, DERIVE_SALT).extract(&bytes),
                kid,
                aead: LessSafeKey::new(unbound),
            });
        }
        let mut ring = ring.into_iter();
        let Some(primary) = ring.next() else {
            return Err(KeyringError::Empty);
        };
        Ok(Self {
            primary,
            older: ring.collect(),
        })
    }

    /// Parses the keys from configuration (the value of [`KEYS_ENV_VAR`]):
    /// `kid:base64key[,kid2:base64key2…]`.
    ///
    /// Each key is 32 bytes in standard base64 with padding (44 characters, e.g. the output of
    /// `openssl rand -base64 32`); the first key is the primary. Whitespace around entries, ids
    /// and keys is ignored. Errors never include key material.
    pub fn from_config(config: &str) -> Result<Self, KeyringError> {
        let config = config.trim();
        if config.is_empty() {
            return Err(KeyringError::Empty);
        }
        let mut keys = Vec::new();
        for (i, entry) in config.split(',').enumerate() {
            let entry_no = i + 1;
            let Some((kid, key)) = entry.trim().split_once(':') else {
                return Err(KeyringError::MalformedEntry { entry: entry_no });
            };
            let kid = KeyId::new(kid.trim())
                .map_err(|_| KeyringError::InvalidKeyId { entry: entry_no })?;
            let Ok(bytes) = STANDARD.decode(key.trim()) else {
                return Err(KeyringError::InvalidBase64 { kid });
            };
            let Ok(bytes) = <[u8; KEY_LEN]>::try_from(bytes.as_slice()) else {
                return Err(KeyringError::WrongKeyLength {
                    kid,
                    len: bytes.len(),
                });
            };
            keys.push((kid, bytes));
        }
        Self::from_keys(keys)
    }

    /// For local runs: reads the keyring from the file at `path`, or creates that file with a
    /// fresh random key if there is none.
    ///
    /// The file holds one line in the [`from_config`](Self::from_config) format. A new file gets
    /// one 32-byte key from the system random number generator, with key id `k<unix seconds>`;
    /// it is created with mode `0600` (its missing parent directories with `0700`) and appears
    /// complete at once, so processes starting together agree on one key. An existing file is
    /// read as is, whatever its mode.
    ///
    /// Blocking: uses `std::fs`. Call it at start-up, not on an async executor's hot path.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyringError> {
        match fs::read_to_string(path) {
            Ok(contents) => return Self::from_file_contents(path, &contents),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_error(path, source)),
        }

        let mut key = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| KeyringError::Rng)?;
        let kid = KeyId(format!("k{}", unix_seconds()));
        let line = format!("{kid}:{}\n", STANDARD.encode(key));

        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dirs(parent).map_err(|source| io_error(parent, source))?;
        }
        match publish_new_file(path, line.as_bytes()) {
            Ok(Published::Created) => Self::from_keys([(kid, key)]),
            // Another process created it first: use its key.
            Ok(Published::AlreadyExisted) => {
                let contents = fs::read_to_string(path).map_err(|source| io_error(path, source))?;
                Self::from_file_contents(path, &contents)
            }
            Err(source) => Err(io_error(path, source)),
        }
    }

    /// The primary key's id: new seals carry it.
    pub fn primary(&self) -> &KeyId {
        &self.primary.kid
    }

    /// Every key id, the primary first.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys().map(|k| &k.kid)
    }

    /// A 32-byte secret for `purpose` from each key (HKDF-SHA256, RFC 5869), the primary's
    /// first: other secrets of the deployment (database logins, claim keys) that rotate with
    /// the sealing keys without ever exposing them.
    pub fn derive(&self, purpose: &str) -> Vec<(KeyId, [u8; 32])> {
        self.keys()
            .filter_map(|k| {
                let info = [purpose.as_bytes()];
                let okm = k.derive.expand(&info, DerivedLen).ok()?;
                let mut out = [0u8; 32];
                okm.fill(&mut out).ok()?;
                Some((k.kid.clone(), out))
            })
            .collect()
    }

    /// The primary key.
    pub(crate) fn primary_key(&self) -> &Key {
        &self.primary
    }

    /// The key with this id, if any.
    pub(crate) fn get(&self, kid: &str) -> Option<&Key> {
        self.keys().find(|k| k.kid.as_str() == kid)
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.primary).chain(&self.older)
    }

    fn from_file_contents(path: &Path, contents: &str) -> Result<Self, KeyringError> {
        Self::from_config(contents).map_err(|e| KeyringError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }
}

/// The HKDF salt of derived secrets (fixed: the keys themselves are the secret input).
const DERIVE_SALT: &[u8] = b"multivio derived secrets v1";

/// HKDF output length for [`Keyring::derive`].
struct DerivedLen;

impl ring::hkdf::KeyType for DerivedLen {
    fn len(&self) -> usize {
        32
    }
}

fn io_error(path: &Path, source: io::Error) -> KeyringError {
    KeyringError::Io {
        path: path.to_owned(),
        source,
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Whether [`publish_new_file`] created the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Published {
    /// The file now holds the contents given.
    Created,
    /// The file existed already (another process won the race); it was left alone.
    AlreadyExisted,
}

/// Writes `contents` to a private temporary file next to `path`, then hard-links it to `path`,
/// which fails rather than replace an existing file. Readers never see a partial file.
fn publish_new_file(path: &Path, contents: &[u8]) -> io::Result<Published> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the key file path has no file name",
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".{}.{}.{}.tmp",
        std::process::id(),
        unix_seconds(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Only a file this call created is removed below.
    let mut file = options.open(&tmp)?;
    let published = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(Published::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Published::AlreadyExisted),
            Err(e) => Err(e),
        });
    drop(file);
    // The temporary name goes either way (it holds the key too); best effort.
    let _ = fs::remove_file(&tmp);
    published
}

#[cfg(test)]
mod tests;

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
mod tests {
    use super::*;

    /// Distinctive key bytes, so their Debug or base64 forms are easy to look for.
    const KEY_A: [u8; KEY_LEN] = [
        0x9c, 0x1f, 0x5e, 0xa7, 0x33, 0x08, 0xd2, 0x61, 0x4b, 0xee, 0x17, 0x90, 0x2a, 0xc5, 0x7d,
        0x03, 0xb8, 0x46, 0xf1, 0x6a, 0x0d, 0x99, 0x54, 0xe3, 0x27, 0x8f, 0xbc, 0x12, 0x6e, 0xd7,
        0x38, 0xa1,
    ];
    const KEY_B: [u8; KEY_LEN] = [0xb7; KEY_LEN];

    fn b64(key: &[u8]) -> String {
        STANDARD.encode(key)
    }

    fn kid(s: &str) -> KeyId {
        KeyId::new(s).unwrap()
    }

    /// Strings that would betray `key` in some output.
    fn leaks(key: &[u8; KEY_LEN]) -> Vec<String> {
        let encoded = b64(key);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
        let hex: String = hex::encode(key);
        vec![
            // Any 8 consecutive characters of the base64 forms, or the start of the hex form.
            encoded[..8].to_owned(),
            encoded[12..20].to_owned(),
            encoded[30..38].to_owned(),
            url[..8].to_owned(),
            hex[..8].to_owned(),
            format!("{:?}", &key[..4]).trim_end_matches(']').to_owned(),
            format!("{}, {}, {}", key[0], key[1], key[2]),
        ]
    }

    fn assert_no_leak(output: &str, key: &[u8; KEY_LEN]) {
        for needle in leaks(key) {
            assert!(!output.contains(&needle), "{output:?} contains {needle:?}");
        }
    }

    #[test]
    fn key_ids_are_checked() {
        for good in ["a", "k1767225600", "prod-2026_01", &"x".repeat(32), "Z9"] {
            assert_eq!(KeyId::new(good).unwrap().as_str(), good);
            assert_eq!(good.parse::<KeyId>().unwrap().to_string(), good);
        }
        for bad in [
            "",
            &"x".repeat(33),
            "a.b",
            "a:b",
            "a,b",
            "a b",
            "ké",
            "a/b",
            "a+b",
            "a=",
        ] {
            assert_eq!(KeyId::new(bad), Err(InvalidKeyId), "{bad:?}");
        }
    }

    #[test]
    fn config_with_two_keys_makes_the_first_primary() {
        let config = format!("new:{}, old:{}", b64(&KEY_B), b64(&KEY_A));
        let ring = Keyring::from_config(&config).unwrap();
        assert_eq!(ring.primary().as_str(), "new");
        let kids: Vec<&str> = ring.key_ids().map(KeyId::as_str).collect();
        assert_eq!(kids, ["new", "old"]);
        assert!(ring.get("old").is_some());
        assert!(ring.get("other").is_none());
    }

    #[test]
    fn config_tolerates_surrounding_whitespace() {
        let config = format!("  a : {} \n", b64(&KEY_A));
        let ring = Keyring::from_config(&config).unwrap();
        assert_eq!(ring.primary().as_str(), "a");
    }

    #[test]
    fn config_errors_are_clear_and_never_show_the_key() {
        let a = b64(&KEY_A);
        let short = b64(&KEY_A[..16]);
        let long = b64(&[KEY_A.as_slice(), &[1]].concat());
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "Empty"),
            ("   \n".to_owned(), "Empty"),
            (a.clone(), "MalformedEntry { entry: 1 }"),
            (format!("a:{a},"), "MalformedEntry { entry: 2 }"),
            (format!("a:{a},,b:{a}"), "MalformedEntry { entry: 2 }"),
            (format!("a.b:{a}"), "InvalidKeyId { entry: 1 }"),
            (format!(":{a}"), "InvalidKeyId { entry: 1 }"),
            (
                format!("{}:{a}", "k".repeat(33)),
                "InvalidKeyId { entry: 1 }",
            ),
            // Key and id swapped: the "id" is the key, and must not be echoed.
            (format!("{a}:a"), "InvalidKeyId { entry: 1 }"),
            (format!("a:{a},b c:{a}"), "InvalidKeyId { entry: 2 }"),
            (format!("a:{}!", &a[..43]), "InvalidBase64 { kid: \"a\" }"),
            // Unpadded and URL-safe forms are refused: the format is standard base64.
            (
                format!("a:{}", a.trim_end_matches('=')),
                "InvalidBase64 { kid: \"a\" }",
            ),
            (
                format!("a:{}", a.replace('+', "-").replace('/', "_")),
                "InvalidBase64",
            ),
            (
                format!("a:{short}"),
                "WrongKeyLength { kid: \"a\", len: 16 }",
            ),
            (
                format!("a:{long}"),
                "WrongKeyLength { kid: \"a\", len: 33 }",
            ),
            ("a:".to_owned(), "WrongKeyLength { kid: \"a\", len: 0 }"),
            (
                format!("a:{a},a:{}", b64(&KEY_B)),
                "DuplicateKeyId { kid: \"a\" }",
            ),
        ];
        for (config, expected) in cases {
            let err = Keyring::from_config(&config).unwrap_err();
            let debug = format!("{err:?}");
            let display = err.to_string();
            assert!(debug.starts_with(expected), "{config:?}: {debug}");
            assert!(!display.is_empty());
            assert_no_leak(&debug, &KEY_A);
            assert_no_leak(&display, &KEY_A);
            assert_no_leak(&debug, &KEY_B);
            assert_no_leak(&display, &KEY_B);
        }
    }

    #[test]
    fn error_messages_read_well() {
        let err = Keyring::from_config(&format!("a:{}", b64(&KEY_A[..16]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token key `a`: the key must be 32 bytes, got 16"
        );
        let err = Keyring::from_config(&format!("a:{},zz", b64(&KEY_A))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token key entry 2: expected `kid:base64key`"
        );
    }

    #[test]
    fn from_keys_refuses_empty_and_duplicates() {
        assert!(matches!(Keyring::from_keys([]), Err(KeyringError::Empty)));
        assert!(matches!(
            Keyring::from_keys([(kid("a"), KEY_A), (kid("a"), KEY_B)]),
            Err(KeyringError::DuplicateKeyId { kid }) if kid.as_str() == "a"
        ));
    }

    #[test]
    fn debug_prints_key_ids_only() {
        let ring = Keyring::from_keys([(kid("current"), KEY_A), (kid("previous"), KEY_B)]).unwrap();
        for output in [format!("{ring:?}"), format!("{ring:#?}")] {
            assert!(output.contains("current"), "{output}");
            assert!(output.contains("previous"), "{output}");
            assert_no_leak(&output, &KEY_A);
            assert_no_leak(&output, &KEY_B);
        }
        assert_eq!(
            format!("{ring:?}"),
            r#"Keyring { primary: "current", kids: ["current", "previous"] }"#
        );
        let key = ring.primary_key();
        assert_eq!(format!("{key:?}"), r#"Key { kid: "current", .. }"#);
    }

    /// A fresh directory under the system temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir().join(format!(
                "multivio-vault-{name}-{}-{nanos}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_or_generate_creates_a_private_file_then_reads_it_back() {
        let tmp = TempDir::new("generate");
        let path = tmp.0.join("nested").join("dirs").join("token-keys");

        let first = Keyring::load_or_generate(&path).unwrap();
        let kid = first.primary().as_str().to_owned();
        assert!(kid.starts_with('k') && kid[1..].parse::<u64>().unwrap() > 1_600_000_000);
        assert_eq!(first.key_ids().count(), 1);

        let contents = fs::read_to_string(&path).unwrap();
        let (file_kid, key) = contents
            .strip_suffix('\n')
            .unwrap()
            .split_once(':')
            .unwrap();
        assert_eq!(file_kid, kid);
        assert_eq!(STANDARD.decode(key).unwrap().len(), KEY_LEN);
        assert!(!contents.trim_end().contains('\n'), "one line");
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left behind"
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }

        let second = Keyring::load_or_generate(&path).unwrap();
        assert_eq!(second.primary().as_str(), kid);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            contents,
            "not rewritten"
        );
        let debug = format!("{first:?}");
        assert!(!debug.contains(key.trim_end_matches('=')), "{debug}");
    }

    #[test]
    fn load_or_generate_reads_an_existing_configuration() {
        let tmp = TempDir::new("existing");
        let path = tmp.0.join("keys");
        fs::write(&path, format!("b:{},a:{}\n", b64(&KEY_B), b64(&KEY_A))).unwrap();
        let ring = Keyring::load_or_generate(&path).unwrap();
        let kids: Vec<&str> = ring.key_ids().map(KeyId::as_str).collect();
        assert_eq!(kids, ["b", "a"]);
    }

    #[test]
    fn load_or_generate_reports_a_bad_file_without_its_contents() {
        let tmp = TempDir::new("bad");
        let path = tmp.0.join("keys");
        fs::write(&path, format!("a:{}", b64(&KEY_A[..31]))).unwrap();
        let err = Keyring::load_or_generate(&path).unwrap_err();
        assert!(
            matches!(&err, KeyringError::File { source, .. }
                if matches!(**source, KeyringError::WrongKeyLength { len: 31, .. })),
            "{err:?}"
        );
        let display = err.to_string();
        assert!(display.contains(&path.display().to_string()), "{display}");
        assert!(display.ends_with("token key `a`: the key must be 32 bytes, got 31"));
        assert_no_leak(&display, &KEY_A);
        assert_no_leak(&format!("{err:?}"), &KEY_A);

        fs::write(&path, "").unwrap();
        let err = Keyring::load_or_generate(&path).unwrap_err();
        assert!(
            matches!(&err, KeyringError::File { source, .. } if matches!(**source, KeyringError::Empty)),
            "{err:?}"
        );
    }

    #[test]
    fn load_or_generate_reports_io_errors() {
        let tmp = TempDir::new("io");
        // A directory where the file should be.
        let path = tmp.0.join("keys");
        fs::create_dir(&path).unwrap();
        let err = Keyring::load_or_generate(&path).unwrap_err();
        assert!(matches!(err, KeyringError::Io { .. }), "{err:?}");
    }

    #[test]
    fn derived_secrets_are_stable_per_key_and_purpose_and_never_the_key() {
        let keys = Keyring::from_config(&format!(
            "new:{},old:{}",
            STANDARD.encode([1u8; 32]),
            STANDARD.encode([2u8; 32])
        ))
        .unwrap();
        let a = keys.derive("database login");
        assert_eq!(
            a.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["new", "old"]
        );
        assert_eq!(a, keys.derive("database login"), "stable");
        assert_ne!(a[0].1, a[1].1, "per key");
        assert_ne!(a[0].1, keys.derive("tenant claims")[0].1, "per purpose");
        assert_ne!(a[0].1, [1u8; 32], "not the key itself");
    }
}

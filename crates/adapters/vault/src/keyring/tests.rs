use super::*;

/// Distinctive key bytes, so their Debug or base64 forms are easy to look for.
const KEY_A: [u8; KEY_LEN] = [
    0x9c, 0x1f, 0x5e, 0xa7, 0x33, 0x08, 0xd2, 0x61, 0x4b, 0xee, 0x17, 0x90, 0x2a, 0xc5, 0x7d, 0x03,
    0xb8, 0x46, 0xf1, 0x6a, 0x0d, 0x99, 0x54, 0xe3, 0x27, 0x8f, 0xbc, 0x12, 0x6e, 0xd7, 0x38, 0xa1,
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

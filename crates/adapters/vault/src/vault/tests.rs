use multivio_domain::ConnectionId;
use multivio_ports::vault::credential_aad;

use super::*;
use crate::keyring::{KEY_LEN, KeyId};

const KEY_A: [u8; KEY_LEN] = [0xa1; KEY_LEN];
const KEY_B: [u8; KEY_LEN] = [
    0x5d, 0x02, 0xe9, 0x77, 0x1c, 0xb4, 0x3f, 0x88, 0x60, 0xd5, 0x0a, 0x93, 0x2e, 0xf7, 0x41, 0xcc,
    0x16, 0x7b, 0xa8, 0x35, 0xe0, 0x59, 0x8d, 0x04, 0xbf, 0x62, 0x1a, 0xc3, 0x97, 0x4e, 0xf0, 0x2b,
];

const ROW_1: &str = "3f2b6c1e-8a4d-4f0e-9b7a-1c2d3e4f5a6b";
const ROW_2: &str = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4";
const TOKEN: &str = "ya29.a0AfH6SMB-secret-access-token";

fn ring(keys: &[(&str, [u8; KEY_LEN])]) -> Keyring {
    Keyring::from_keys(
        keys.iter()
            .map(|(kid, key)| (KeyId::new(kid).unwrap(), *key)),
    )
    .unwrap()
}

fn vault(keys: &[(&str, [u8; KEY_LEN])]) -> AesGcmVault {
    AesGcmVault::new(ring(keys))
}

fn aad(row: &str, column: &str) -> String {
    credential_aad(row.parse::<ConnectionId>().unwrap(), column)
}

fn secret() -> Secret {
    Secret::new(TOKEN)
}

/// The payload of a stored form, decoded.
fn payload(sealed: &SealedToken) -> (String, Vec<u8>) {
    let (prefix, payload) = sealed.0.rsplit_once('.').unwrap();
    (prefix.to_owned(), URL_SAFE_NO_PAD.decode(payload).unwrap())
}

fn with_payload(prefix: &str, bytes: &[u8]) -> SealedToken {
    SealedToken(format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(bytes)))
}

#[tokio::test]
async fn round_trip() {
    let v = vault(&[("a", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    for plaintext in [TOKEN, "", "é∑ unicode 🔑", &"x".repeat(10_000)] {
        let sealed = v.seal(&Secret::new(plaintext), &ad).await.unwrap();
        assert!(sealed.0.starts_with("v1.a."), "{}", sealed.0);
        assert!(!sealed.0.contains(plaintext) || plaintext.is_empty());
        let (_, bytes) = payload(&sealed);
        assert_eq!(bytes.len(), NONCE_LEN + plaintext.len() + TAG_LEN);
        let opened = v.open(&sealed, &ad).await.unwrap();
        assert_eq!(opened.expose(), plaintext);
    }
}

#[tokio::test]
async fn works_as_a_trait_object() {
    let v: std::sync::Arc<dyn TokenVault> = std::sync::Arc::new(vault(&[("a", KEY_A)]));
    let ad = aad(ROW_1, "refresh_token");
    let sealed = v.seal(&secret(), &ad).await.unwrap();
    assert_eq!(v.open(&sealed, &ad).await.unwrap(), secret());
}

#[tokio::test]
async fn two_seals_of_the_same_plaintext_differ() {
    let v = vault(&[("a", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    let first = v.seal(&secret(), &ad).await.unwrap();
    let second = v.seal(&secret(), &ad).await.unwrap();
    assert_ne!(first, second);
    let (_, first_bytes) = payload(&first);
    let (_, second_bytes) = payload(&second);
    assert_ne!(
        first_bytes[..NONCE_LEN],
        second_bytes[..NONCE_LEN],
        "fresh nonces"
    );
    assert_eq!(v.open(&first, &ad).await.unwrap(), secret());
    assert_eq!(v.open(&second, &ad).await.unwrap(), secret());
}

#[tokio::test]
async fn wrong_associated_data_fails() {
    let v = vault(&[("a", KEY_A)]);
    let sealed = v
        .seal(&secret(), &aad(ROW_1, "access_token"))
        .await
        .unwrap();
    for wrong in [
        String::new(),
        "social_connections".to_owned(),
        aad(ROW_1, "access_token") + " ",
        aad(ROW_1, "access_token").to_uppercase(),
        format!("users:{ROW_1}:access_token"),
    ] {
        assert_eq!(
            v.open(&sealed, &wrong).await,
            Err(VaultError::Corrupt),
            "{wrong:?}"
        );
    }
}

#[tokio::test]
async fn a_ciphertext_pasted_into_another_row_fails() {
    let v = vault(&[("a", KEY_A)]);
    let sealed_for_1 = v
        .seal(&secret(), &aad(ROW_1, "access_token"))
        .await
        .unwrap();
    let sealed_for_2 = v
        .seal(&secret(), &aad(ROW_2, "access_token"))
        .await
        .unwrap();
    // Row 2's column now holds row 1's ciphertext.
    assert_eq!(
        v.open(&sealed_for_1, &aad(ROW_2, "access_token")).await,
        Err(VaultError::Corrupt)
    );
    assert_eq!(
        v.open(&sealed_for_2, &aad(ROW_1, "access_token")).await,
        Err(VaultError::Corrupt)
    );
    assert_eq!(
        v.open(&sealed_for_2, &aad(ROW_2, "access_token"))
            .await
            .unwrap(),
        secret()
    );
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_column_fails() {
    let v = vault(&[("a", KEY_A)]);
    let access = v
        .seal(&Secret::new("access"), &aad(ROW_1, "access_token"))
        .await
        .unwrap();
    let refresh = v
        .seal(&Secret::new("refresh"), &aad(ROW_1, "refresh_token"))
        .await
        .unwrap();
    // The two columns swapped.
    assert_eq!(
        v.open(&refresh, &aad(ROW_1, "access_token")).await,
        Err(VaultError::Corrupt)
    );
    assert_eq!(
        v.open(&access, &aad(ROW_1, "refresh_token")).await,
        Err(VaultError::Corrupt)
    );
    let secret_column = v
        .seal(&secret(), &aad(ROW_1, "oauth1_access_token_secret"))
        .await
        .unwrap();
    assert_eq!(
        v.open(&secret_column, &aad(ROW_1, "oauth1_access_token"))
            .await,
        Err(VaultError::Corrupt)
    );
}

#[tokio::test]
async fn flipping_any_byte_of_the_payload_fails() {
    let v = vault(&[("a", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    let sealed = v.seal(&secret(), &ad).await.unwrap();
    let (prefix, bytes) = payload(&sealed);
    assert_eq!(bytes.len(), NONCE_LEN + TOKEN.len() + TAG_LEN);
    for position in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut tampered = bytes.clone();
            tampered[position] ^= mask;
            let tampered = with_payload(&prefix, &tampered);
            assert_eq!(
                v.open(&tampered, &ad).await,
                Err(VaultError::Corrupt),
                "byte {position} ^ {mask:#x}"
            );
        }
    }
    assert_eq!(
        v.open(&with_payload(&prefix, &bytes), &ad).await.unwrap(),
        secret()
    );
}

#[tokio::test]
async fn changing_any_character_of_the_stored_form_fails() {
    let v = vault(&[("a", KEY_A), ("b", KEY_B)]);
    let ad = aad(ROW_1, "access_token");
    let sealed = v.seal(&secret(), &ad).await.unwrap();
    let chars: Vec<char> = sealed.0.chars().collect();
    for position in 0..chars.len() {
        for replacement in ['A', 'b', '1', '-', '.', '='] {
            if chars[position] == replacement {
                continue;
            }
            let mut tampered = chars.clone();
            tampered[position] = replacement;
            let tampered = SealedToken(tampered.into_iter().collect());
            assert_eq!(
                v.open(&tampered, &ad).await,
                Err(VaultError::Corrupt),
                "{position} -> {replacement}: {}",
                tampered.0
            );
        }
    }
}

#[tokio::test]
async fn malformed_values_are_corrupt() {
    let v = vault(&[("a", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    let sealed = v.seal(&secret(), &ad).await.unwrap();
    let (prefix, bytes) = payload(&sealed);
    let encoded = URL_SAFE_NO_PAD.encode(&bytes);

    let mut cases: Vec<String> = vec![
        String::new(),
        ".".to_owned(),
        "..".to_owned(),
        "v1".to_owned(),
        "v1.a".to_owned(),
        "v1.a.".to_owned(),
        "v1..".to_owned(),
        format!("v1..{encoded}"),
        format!("v1.{encoded}"),
        encoded.clone(),
        TOKEN.to_owned(),
        "garbage".to_owned(),
        "v1.a.!!!!".to_owned(),
        "v1.a.é".to_owned(),
        "\0\0\0".to_owned(),
        // Wrong or missing version.
        format!("v2.a.{encoded}"),
        format!("V1.a.{encoded}"),
        format!("v0.a.{encoded}"),
        format!("a.{encoded}"),
        // Unknown kid.
        format!("v1.zz.{encoded}"),
        format!("v1.A.{encoded}"),
        format!("v1.a.b.{encoded}"),
        // Not the strict base64url-without-padding encoding.
        format!("{}=", sealed.0),
        format!("{} ", sealed.0),
        format!(" {}", sealed.0),
        format!("{}\n", sealed.0),
        format!(
            "v1.a.{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        ),
        format!("{}.", sealed.0),
        // Too short to hold a nonce and a tag.
        with_payload(&prefix, &[]).0,
        with_payload(&prefix, &bytes[..NONCE_LEN]).0,
        with_payload(&prefix, &bytes[..NONCE_LEN + TAG_LEN - 1]).0,
        // Only a nonce and a tag: the tag does not match.
        with_payload(
            &prefix,
            &[&bytes[..NONCE_LEN], &bytes[bytes.len() - TAG_LEN..]].concat(),
        )
        .0,
        // Extra bytes appended.
        with_payload(&prefix, &[bytes.as_slice(), &[0]].concat()).0,
    ];
    // Every truncation of the stored form.
    cases.extend((0..sealed.0.len()).map(|len| sealed.0[..len].to_owned()));
    // Every truncation of the decoded payload.
    cases.extend((0..bytes.len()).map(|len| with_payload(&prefix, &bytes[..len]).0));

    for case in cases {
        assert_eq!(
            v.open(&SealedToken(case.clone()), &ad).await,
            Err(VaultError::Corrupt),
            "{case:?}"
        );
    }
    assert_eq!(v.open(&sealed, &ad).await.unwrap(), secret());
}

#[tokio::test]
async fn non_utf8_plaintext_is_corrupt() {
    // Only this crate can produce an authentic non-UTF-8 plaintext; opening must not panic.
    let v = vault(&[("a", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    let sealed = seal_with_nonce(
        v.keyring().primary_key(),
        [7; NONCE_LEN],
        &[0xff, 0xfe],
        &ad,
    )
    .unwrap();
    assert_eq!(v.open(&sealed, &ad).await, Err(VaultError::Corrupt));
}

#[tokio::test]
async fn version_and_key_id_are_authenticated() {
    // Two ids for the same key bytes: only the key id in the associated data tells them apart.
    let v = vault(&[("a", KEY_A), ("b", KEY_A)]);
    let ad = aad(ROW_1, "access_token");
    let sealed = v.seal(&secret(), &ad).await.unwrap();
    assert!(sealed.0.starts_with("v1.a."));
    let relabelled = SealedToken(sealed.0.replacen("v1.a.", "v1.b.", 1));
    assert_eq!(v.open(&relabelled, &ad).await, Err(VaultError::Corrupt));

    // The version is part of the GCM associated data too: the same bytes sealed under
    // another version string would not verify as v1.
    let key = v.keyring().primary_key();
    let (_, bytes) = payload(&sealed);
    let nonce: [u8; NONCE_LEN] = bytes[..NONCE_LEN].try_into().unwrap();
    let without_version = {
        let mut buf = bytes.clone();
        key.aead
            .open_within(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(format!("a.{ad}").as_bytes()),
                &mut buf,
                NONCE_LEN..,
            )
            .map(|_| ())
    };
    assert!(without_version.is_err());
}

#[tokio::test]
async fn rotation_keeps_old_key_ids_opening() {
    let ad = aad(ROW_1, "access_token");
    let before = vault(&[("a", KEY_A)]);
    let old = before.seal(&secret(), &ad).await.unwrap();
    assert!(old.0.starts_with("v1.a."));

    let rotated = vault(&[("b", KEY_B), ("a", KEY_A)]);
    assert_eq!(rotated.keyring().primary().as_str(), "b");
    assert_eq!(rotated.open(&old, &ad).await.unwrap(), secret());
    let new = rotated.seal(&secret(), &ad).await.unwrap();
    assert!(new.0.starts_with("v1.b."), "{}", new.0);
    assert_eq!(rotated.open(&new, &ad).await.unwrap(), secret());

    // Once `a` is retired, its values no longer open; `b`'s still do.
    let retired = vault(&[("b", KEY_B)]);
    assert_eq!(retired.open(&old, &ad).await, Err(VaultError::Corrupt));
    assert_eq!(retired.open(&new, &ad).await.unwrap(), secret());

    // And the old keyring cannot open what the new key sealed.
    assert_eq!(before.open(&new, &ad).await, Err(VaultError::Corrupt));
}

#[tokio::test]
async fn a_different_key_under_the_same_id_fails() {
    let ad = aad(ROW_1, "access_token");
    let sealed = vault(&[("a", KEY_A)]).seal(&secret(), &ad).await.unwrap();
    let other = vault(&[("a", KEY_B)]);
    assert_eq!(other.open(&sealed, &ad).await, Err(VaultError::Corrupt));
}

#[tokio::test]
async fn processes_generating_a_key_file_together_agree_on_one_key() {
    let dir = std::env::temp_dir().join(format!(
        "multivio-vault-race-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    ));
    let path = dir.join("keys");
    let rings: Vec<Keyring> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| Keyring::load_or_generate(&path)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "one file, no leftovers"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let ad = aad(ROW_1, "access_token");
    let sealed = AesGcmVault::new(rings[0].clone())
        .seal(&secret(), &ad)
        .await
        .unwrap();
    for ring in rings {
        assert_eq!(
            AesGcmVault::new(ring).open(&sealed, &ad).await.unwrap(),
            secret()
        );
    }
}

#[test]
fn fixed_vector_pins_the_format() {
    let v = vault(&[("k2026", KEY_B)]);
    let nonce: [u8; NONCE_LEN] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    let ad = aad(ROW_1, "access_token");
    let sealed = seal_with_nonce(v.keyring().primary_key(), nonce, TOKEN.as_bytes(), &ad).unwrap();
    // Cross-checked with an independent AES-GCM implementation (Python `cryptography`):
    // AESGCM(KEY_B).encrypt(nonce, TOKEN, b"v1.k2026." + ad), prefixed with the nonce.
    assert_eq!(
        sealed.0,
        "v1.k2026.AAECAwQFBgcICQoLCCCID_jSmp2GiI6KnkKGTsvJ3NTq-2kv8848-RShy96XzNY5fnIAgcNYE-KV9DFbjvE"
    );
    let opened = v.open_now(&sealed, &ad).unwrap();
    assert_eq!(opened.expose(), TOKEN);
}

#[test]
fn debug_and_errors_show_no_key_or_plaintext() {
    let v = vault(&[("current", KEY_B), ("old", KEY_A)]);
    let debug = format!("{v:?} {v:#?}");
    assert!(
        debug.contains("current") && debug.contains("old"),
        "{debug}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(KEY_B);
    let hex: String = hex::encode(KEY_B);
    for needle in [
        &b64[..8],
        &b64[20..28],
        &hex[..8],
        &format!("{}, {}", KEY_B[0], KEY_B[1]),
        &format!("{}, {}", KEY_A[0], KEY_A[1]),
    ] {
        assert!(!debug.contains(needle), "{debug} contains {needle}");
    }

    let ad = aad(ROW_1, "access_token");
    let sealed = v.seal_now(&secret(), &ad).unwrap();
    let err = v
        .open_now(&sealed, &aad(ROW_2, "access_token"))
        .unwrap_err();
    for output in [format!("{err:?}"), err.to_string()] {
        assert!(
            !output.contains(TOKEN) && !output.contains(&b64[..8]),
            "{output}"
        );
    }
}

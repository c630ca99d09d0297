use super::*;

#[test]
fn base32_and_tids_encode_like_the_network() {
    assert_eq!(base32(b""), "");
    assert_eq!(base32(b"f"), "my");
    assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    assert_eq!(tid(0, 0), "2222222222222");
    assert!(is_tid(&tid(1_767_225_600_000_000, 7)));
    let hash = ring::digest::digest(&ring::digest::SHA256, b"x");
    assert_eq!(base32(hash.as_ref()).len(), 52);
}

#[test]
fn app_passwords_and_handles_have_their_shapes() {
    assert!(is_app_password("abcd-1234-efgh-5678"));
    assert!(!is_app_password("wrong-wrong-wrong-wrong"));
    assert!(!is_app_password("ABCD-1234-efgh-5678"));
    assert!(!is_app_password("hunter2"));
    assert!(is_handle("alice.bsky.sandbox"));
    assert!(!is_handle("alice"));
    assert!(!is_handle("alice.123"));
    assert_eq!(did_for("alice.bsky.sandbox"), did_for("alice.bsky.sandbox"));
    assert_ne!(did_for("alice.bsky.sandbox"), did_for("bob.bsky.sandbox"));
    assert_eq!(did_for("alice.bsky.sandbox").len(), "did:plc:".len() + 24);
}

#[test]
fn uploads_are_sniffed_by_their_bytes() {
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
    assert_eq!(sniff(b"hello"), None);
}

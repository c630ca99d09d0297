use super::*;

#[test]
fn a_token_answer_never_shows_its_tokens_in_debug() {
    let answer: TokenAnswer = serde_json::from_str(
        r#"{"token_type":"bearer","access_token":"at-SECRET-1","refresh_token":"rt-SECRET-2","expires_in":7200}"#,
    )
    .unwrap();
    let debug = format!("{answer:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(debug.contains("7200"), "{debug}");
    let pretty = format!("{answer:#?}");
    assert!(!pretty.contains("SECRET"), "{pretty}");
    // The tokens are still there for the grant.
    let grant = X::grant(answer);
    assert_eq!(grant.access_token.expose(), "at-SECRET-1");
    assert_eq!(
        grant.refresh_token.as_ref().map(Secret::expose),
        Some("rt-SECRET-2")
    );
}

#[test]
fn nonces_are_random_hex() {
    let (a, b) = (nonce().unwrap(), nonce().unwrap());
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
    assert_ne!(a, "0".repeat(32));
}

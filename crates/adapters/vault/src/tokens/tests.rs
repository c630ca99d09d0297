use super::*;

#[test]
fn tokens_are_43_url_safe_characters_and_differ() {
    let tokens = RandomTokens::default();
    let a = tokens.random_token();
    let b = tokens.random_token();
    assert_eq!(a.expose().len(), 43);
    assert!(
        a.expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_ne!(a.expose(), b.expose());
}

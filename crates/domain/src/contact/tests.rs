use super::*;

#[test]
fn email_is_normalised_and_checked() {
    assert_eq!(
        Email::new("  Ada@Example.COM ").unwrap().as_str(),
        "ada@example.com"
    );
    for bad in [
        "",
        "ada",
        "@example.com",
        "ada@",
        "ada@example",
        "a b@example.com",
        "ada@@example.com",
        "ada@example..com",
        "ada@.example.com",
    ] {
        assert!(Email::new(bad).is_err(), "{bad:?} accepted");
    }
    let long = format!("{}@example.com", "a".repeat(250));
    assert!(Email::new(long).is_err());
}

use super::*;

#[test]
fn alt_text_rules() {
    assert_eq!(
        AltText::new(" A cat\non a mat ").unwrap().as_str(),
        "A cat\non a mat"
    );
    assert!(AltText::new("").is_err());
    assert!(AltText::new("a".repeat(1501)).is_err());
    assert!(AltText::new("a".repeat(1500)).is_ok());
}

use super::*;

#[test]
fn debug_and_display_are_redacted() {
    let s = Secret::new("ya29.token");
    assert_eq!(format!("{s:?}"), "[redacted]");
    assert_eq!(format!("{s}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(s.clone())), "Some([redacted])");
    assert_eq!(s.expose(), "ya29.token");
}

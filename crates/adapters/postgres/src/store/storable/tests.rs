#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

#[test]
fn nul_is_replaced_in_text_and_at_any_depth_of_json() {
    assert_eq!(text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
    assert!(matches!(text("plain"), Cow::Borrowed("plain")));
    assert_eq!(varchar("é\0é", 2), "é\u{FFFD}");
    let value = json!({"na\u{0}me": ["x", {"deep": "y\u{0}"}], "n": 1, "ok": null});
    assert_eq!(
        json(&value).into_owned(),
        json!({"na\u{FFFD}me": ["x", {"deep": "y\u{FFFD}"}], "n": 1, "ok": null})
    );
    let clean = json!({"a": ["b", {"c": 1.5}]});
    assert!(matches!(json(&clean), Cow::Borrowed(_)));
}

use std::collections::HashSet;

use super::*;

#[test]
fn every_type_has_its_own_slug_and_a_title() {
    let slugs: HashSet<String> = ProblemType::ALL.iter().map(|t| t.slug()).collect();
    assert_eq!(slugs.len(), ProblemType::ALL.len(), "slugs are unique");
    for t in ProblemType::ALL {
        let slug = t.slug();
        assert!(
            slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{slug}"
        );
        assert!(!t.title().is_empty());
    }
}

#[test]
fn statuses_answered_by_the_framework_are_named_after_their_reason() {
    assert_eq!(
        ProblemType::Status(StatusCode::PAYLOAD_TOO_LARGE).slug(),
        ProblemType::PayloadTooLarge.slug()
    );
    assert_eq!(
        ProblemType::Status(StatusCode::METHOD_NOT_ALLOWED).slug(),
        "method-not-allowed"
    );
}

#[test]
fn a_problem_renders_its_type_uri_and_extensions() {
    let p = Problem::of(ProblemType::Conflict, StatusCode::CONFLICT, "taken").with("field", "x");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["type"], "https://multivio.dev/problems/conflict");
    assert_eq!(json["title"], "Conflict");
    assert_eq!(json["status"], 409);
    assert_eq!(json["field"], "x");
}

use serde_json::{Value, json};

use super::*;
use crate::dto::rules::{self, PlatformName, PostStatusName};

fn contract() -> &'static Contract {
    Contract::get()
}

fn schema_of(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn fields(violations: &[Violation]) -> Vec<&str> {
    violations.iter().map(|v| v.field.as_str()).collect()
}

/// Every schema object reachable from `value` (a schema, or any part of the document).
fn walk_schemas<'a>(value: &'a Value, in_schema: bool, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if in_schema {
                out.push(value);
            }
            for (k, v) in map {
                match k.as_str() {
                    "schema" | "items" | "additionalProperties" | "propertyNames" => {
                        walk_schemas(v, true, out);
                    }
                    "properties" | "schemas" => {
                        if let Value::Object(props) = v {
                            for p in props.values() {
                                walk_schemas(p, true, out);
                            }
                        }
                    }
                    "allOf" | "anyOf" | "oneOf" => {
                        if let Value::Array(subs) = v {
                            for s in subs {
                                walk_schemas(s, true, out);
                            }
                        }
                    }
                    "example" | "examples" | "default" | "enum" | "const" => {}
                    _ if !in_schema => walk_schemas(v, false, out),
                    _ => {}
                }
            }
        }
        Value::Array(items) if !in_schema => {
            for v in items {
                walk_schemas(v, false, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_uses_only_what_the_checker_enforces() {
    let mut schemas = Vec::new();
    walk_schemas(contract().document(), false, &mut schemas);
    assert!(schemas.len() > 50, "the walk found the schemas");
    for schema in schemas {
        let Value::Object(map) = schema else { continue };
        for key in map.keys() {
            assert!(
                KNOWN_KEYWORDS.contains(&key.as_str()),
                "the checker does not know `{key}` (in {schema})"
            );
        }
        if let Some(format) = map.get("format").and_then(Value::as_str) {
            assert!(
                KNOWN_FORMATS.contains(&format),
                "the checker does not know the format `{format}`"
            );
        }
    }
    assert_eq!(contract().broken_patterns(), Vec::<String>::new());
}

#[test]
fn types_required_fields_and_unknown_fields() {
    let c = contract();
    let s = schema_of("ScheduleRequest");
    assert!(
        c.check(&s, &json!({ "schedule_date": "2030-01-01T00:00:00Z" }), "")
            .is_empty()
    );
    assert_eq!(fields(&c.check(&s, &json!({}), "")), ["schedule_date"]);
    assert_eq!(
        fields(&c.check(
            &s,
            &json!({ "schedule_date": "2030-01-01T00:00:00Z", "user_id": 1 }),
            ""
        )),
        ["user_id"]
    );
    let bad = c.check(&s, &json!({ "schedule_date": "soon" }), "");
    assert_eq!(fields(&bad), ["schedule_date"]);
    assert!(bad[0].reason.contains("RFC 3339"), "{bad:?}");
    assert_eq!(fields(&c.check(&s, &json!([1]), "")), [""]);
}

#[test]
fn lengths_count_characters_and_patterns_apply() {
    let c = contract();
    let post = schema_of("PostCreate");
    let ok = |name: &str| c.check(&post, &json!({ "name": name }), "").is_empty();
    assert!(ok("Launch"));
    assert!(ok(&"é".repeat(multivio_domain::post::PostName::MAX_LEN)));
    assert!(!ok(
        &"é".repeat(multivio_domain::post::PostName::MAX_LEN + 1)
    ));
    assert!(!ok(""));
    assert!(!ok("   "), "blank");
    assert!(!ok("two\nlines"));
    assert!(!ok("nul\u{0}"));
    let v = c.check(&post, &json!({ "name": "p", "platforms": ["myspace"] }), "");
    assert_eq!(fields(&v), ["platforms.0"]);
    let v = c.check(
        &post,
        &json!({ "name": "p", "platforms": [{ "platform": "x", "connection_id": "nope" }] }),
        "",
    );
    assert_eq!(fields(&v), ["platforms.0.connection_id"]);
    let v = c.check(
        &post,
        &json!({ "name": "p", "platform_content": { "myspace": { "content": "x" } } }),
        "",
    );
    assert_eq!(fields(&v), ["platform_content.myspace"]);
    let v = c.check(
        &post,
        &json!({ "name": "p", "thread": [{ "text": "a", "media": [] }] }),
        "",
    );
    assert_eq!(fields(&v), ["thread.0.media"]);
    let too_many: Vec<Value> = (0..multivio_domain::post::MAX_THREAD_PARTS)
        .map(|_| json!({ "text": "a" }))
        .collect();
    let v = c.check(&post, &json!({ "name": "p", "thread": too_many }), "");
    assert_eq!(fields(&v), ["thread"]);
}

#[test]
fn uuids_are_hyphenated_only() {
    let c = contract();
    let s = json!({ "type": "string", "format": "uuid" });
    assert!(
        c.check(&s, &json!("67e55044-10b1-426f-9247-bb680e5fe0c8"), "")
            .is_empty()
    );
    for bad in [
        "67e5504410b1426f9247bb680e5fe0c8",
        "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
        "67e55044-10b1-426f-9247-bb680e5fe0cg",
    ] {
        assert!(!c.check(&s, &json!(bad), "").is_empty(), "{bad}");
    }
}

#[test]
fn one_of_takes_exactly_one_form() {
    let c = contract();
    let s = schema_of("ReviewRequest");
    assert!(
        c.check(&s, &json!({ "resolution": "resend" }), "")
            .is_empty()
    );
    assert!(
        c.check(
            &s,
            &json!({ "resolution": "published", "url": "https://x.com/a/status/1" }),
            ""
        )
        .is_empty()
    );
    assert!(
        !c.check(
            &s,
            &json!({ "resolution": "resend", "url": "https://x.com" }),
            ""
        )
        .is_empty()
    );
    assert!(
        !c.check(&s, &json!({ "resolution": "maybe" }), "")
            .is_empty()
    );
    assert!(
        !c.check(
            &s,
            &json!({ "resolution": "published", "url": "http://x.com" }),
            ""
        )
        .is_empty()
    );
}

#[test]
fn integers_and_bounds() {
    let c = contract();
    let s = json!({ "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64 });
    assert!(c.check(&s, &json!(0), "").is_empty());
    assert!(c.check(&s, &json!(4_294_967_295_u64), "").is_empty());
    assert!(!c.check(&s, &json!(-1), "").is_empty());
    assert!(!c.check(&s, &json!(4_294_967_296_u64), "").is_empty());
    assert!(!c.check(&s, &json!(1.5), "").is_empty());
    assert!(!c.check(&s, &json!("1"), "").is_empty());
}

#[test]
fn the_methods_of_a_path_are_those_of_the_templates_it_fits() {
    let c = contract();
    let names = |path: &str| {
        let mut m: Vec<String> = c
            .methods_for(path)
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        m.sort();
        m
    };
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    assert_eq!(names(&format!("/v1/connections/{id}")), ["DELETE", "PATCH"]);
    assert_eq!(names("/v1/connections/bluesky"), ["POST"]);
    // Fits neither template's parameter: every method of both.
    assert_eq!(names("/v1/connections/nope"), ["DELETE", "PATCH", "POST"]);
    assert_eq!(names("/v1/posts/validate"), ["POST"]);
    assert_eq!(
        names(&format!("/v1/posts/{id}")),
        ["DELETE", "GET", "PATCH"]
    );
    assert!(names("/v1/nothing").is_empty());
    assert!(
        names("/healthz").is_empty(),
        "undocumented routes are not listed"
    );
}

/// Samples around each rule: whatever the schema accepts, the core accepts too.
#[test]
fn what_the_profile_schema_accepts_the_core_accepts() {
    let c = contract();
    let s = schema_of("ProfilePatch");
    let samples = [
        "",
        " ",
        "\t",
        "a",
        "ab",
        "abc",
        "Abc",
        "a.b",
        "_ab",
        "ab_",
        "a b",
        " abc",
        "abc ",
        "K\u{212a}x",
        "a\u{0}b",
        "a\nb",
        "é",
        "http://x",
        "https://x.y/z?q#f",
        "https://",
        "http:// x",
        "ftp://x",
        "https://a b",
        "line\r\nline",
        "\u{85}",
        "\u{a0}x",
    ];
    for field in [
        "username",
        "full_name",
        "display_name",
        "work_description",
        "bio",
        "avatar_url",
    ] {
        for sample in samples {
            let body = json!({ field: sample });
            if !c.check(&s, &body, "").is_empty() {
                continue;
            }
            let mut input = multivio_domain::user::ProfileInput::default();
            let value = Some(Some(sample.to_owned()));
            match field {
                "username" => input.username = value,
                "full_name" => input.full_name = value,
                "display_name" => input.display_name = value,
                "work_description" => input.work_description = value,
                "bio" => input.bio = value,
                _ => input.avatar_url = value,
            }
            assert!(
                multivio_domain::user::ProfileUpdate::parse(input).is_ok(),
                "{field} = {sample:?}: the schema accepts it, the core does not"
            );
        }
    }
}

#[test]
fn what_the_post_schema_accepts_the_core_accepts() {
    let c = contract();
    let s = schema_of("PostCreate");
    for name in [
        "a",
        " a",
        "a ",
        "é",
        "\u{a0}x",
        "x\u{a0}",
        "🙂",
        "a\u{200b}",
    ] {
        let body = json!({ "name": name });
        assert!(c.check(&s, &body, "").is_empty(), "{name:?}");
        assert!(
            multivio_domain::post::PostName::new(name).is_ok(),
            "{name:?}: the schema accepts it, the core does not"
        );
    }
    for name in ["", " ", "\u{a0}", "\u{3000}", "\u{2028}", "a\u{1f}"] {
        assert!(
            !c.check(&s, &json!({ "name": name }), "").is_empty(),
            "{name:?}"
        );
    }
}

#[test]
fn review_urls_the_schema_accepts_the_core_accepts() {
    let c = contract();
    let s = schema_of("ReviewRequest");
    for url in [
        "",
        "https://x.com",
        "https://x.com/a/status/1?s=20#top",
        "https://a:443/",
        "https://a@b/",
        "https:///a",
        "https://a b",
        "https://é.com",
        "http://x.com",
    ] {
        let body = json!({ "resolution": "published", "url": url });
        if c.check(&s, &body, "").is_empty() {
            assert!(
                multivio_domain::post::Resolution::published(Some(url)).is_ok(),
                "{url:?}: the schema accepts it, the core does not"
            );
        }
    }
}

#[test]
fn idempotency_keys_the_schema_accepts_the_core_accepts() {
    let c = contract();
    let s = serde_json::to_value(rules::idempotency_key()).unwrap_or_default();
    for key in [
        "a",
        "launch-1",
        "~!",
        " a",
        "a b",
        "",
        "é",
        &"k".repeat(255),
        &"k".repeat(256),
    ] {
        let schema_ok = c.check(&s, &json!(key), "").is_empty();
        let core_ok = multivio_domain::idempotency::IdempotencyKey::new(key).is_ok();
        if schema_ok {
            assert!(core_ok, "{key:?}: the schema accepts it, the core does not");
        }
    }
}

#[test]
fn platform_names_are_the_cores() {
    let names = PlatformName::names();
    for p in multivio_domain::Provider::ALL {
        assert!(names.contains(&p.as_str()));
        assert_eq!(PlatformName::parse(p.as_str()), Some(p));
        assert_eq!(
            p.as_str().parse::<multivio_domain::Provider>().ok(),
            Some(p)
        );
    }
    assert_eq!(PlatformName::parse("x"), Some(multivio_domain::Provider::X));
    assert_eq!(names.len(), multivio_domain::Provider::ALL.len() + 1);
    for loose in ["X", " twitter", "TWITTER", "myspace", ""] {
        assert_eq!(PlatformName::parse(loose), None, "{loose:?}");
    }
}

#[test]
fn post_status_names_are_the_cores() {
    use multivio_domain::post::PostStatus;
    for name in PostStatusName::NAMES {
        let status: PostStatus = name.parse().unwrap_or(PostStatus::Draft);
        assert_eq!(status.as_str(), name);
    }
    // Every status is listed: a new one fails to compile here until it is.
    let listed = |s: PostStatus| match s {
        PostStatus::Draft
        | PostStatus::Scheduled
        | PostStatus::Publishing
        | PostStatus::Published
        | PostStatus::PartiallyPublished
        | PostStatus::Failed => PostStatusName::NAMES.contains(&s.as_str()),
    };
    assert!(listed(PostStatus::PartiallyPublished));
}

//! The OpenAPI document is snapshot-tested, so every change to the API's shape is deliberate:
//! `just openapi` regenerates `crates/http/openapi.json` after an intended change. The other
//! tests hold the document to its rules: every error answer a problem document, the answers of
//! each operation's shape listed, request bodies closed to unknown fields, handlers reading
//! their input only through the extractors that enforce the document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use utoipa::OpenApi;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let mut rendered = multivio_http::ApiDoc::openapi().to_pretty_json().unwrap();
    rendered.push('\n');
    if std::env::var_os("MULTIVIO_BLESS").is_some() {
        std::fs::write(SNAPSHOT, &rendered).unwrap();
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        snapshot == rendered,
        "the API changed: review it, then run `just openapi` and commit crates/http/openapi.json\n{}",
        line_diff(&snapshot, &rendered)
    );
}

/// The changes from the snapshot to the rendered document, as a unified diff.
fn line_diff(snapshot: &str, rendered: &str) -> String {
    similar::TextDiff::from_lines(snapshot, rendered)
        .unified_diff()
        .context_radius(3)
        .header("crates/http/openapi.json", "rendered")
        .to_string()
}

#[test]
fn every_route_the_api_serves_is_documented() {
    let doc = serde_json::to_value(multivio_http::ApiDoc::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // The routes as `multivio_http::configure` mounts them under `/v1` (actix keeps no table
    // of its routes to ask), read from its source: a route added there without its operation
    // in the document fails here.
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let v1 = source
        .split_once("web::scope(\"/v1\")")
        .expect("the /v1 scope")
        .1;
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*web::(\w+)\(\)"#).unwrap();
    let served: Vec<(String, String)> = route
        .captures_iter(v1)
        .map(|c| (format!("/v1{}", &c[1]), c[2].to_owned()))
        .collect();
    assert!(served.len() >= 35, "the routes were not found: {served:?}");
    for (path, method) in &served {
        assert!(
            doc["paths"][path.as_str()][method.as_str()].is_object(),
            "{method} {path} is served but not documented"
        );
    }
    // And the other way: nothing documented that is not served.
    let documented = doc["paths"].as_object().unwrap();
    for (path, item) in documented {
        let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| methods.contains(&k.as_str()))
        {
            assert!(
                served.iter().any(|(p, m)| p == path && m == method),
                "{method} {path} is documented but not served"
            );
        }
    }
}

fn document() -> serde_json::Value {
    serde_json::to_value(multivio_http::ApiDoc::openapi()).unwrap()
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn every_error_answer_is_a_problem_document() {
    let doc = document();
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(
            problem["required"]
                .as_array()
                .unwrap()
                .contains(&field.into())
        );
    }
    assert_eq!(
        problem["properties"]["errors"]["items"]["$ref"],
        "#/components/schemas/FieldErrorDoc"
    );
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            assert!(
                !response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{method} {path} {status} has no description"
            );
            if code >= 400 {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
            if code == 429 || code == 503 {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} {status} without Retry-After"
                );
            }
        }
    }
}

#[test]
fn every_operation_documents_the_answers_of_its_shape() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let has = |status: &str| op["responses"][status].is_object();
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            for status in ["401", "403", "503"] {
                assert!(has(status), "{method} {path} lacks {status}");
            }
        }
        if op["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string() {
            for status in ["400", "413", "415", "422"] {
                assert!(has(status), "{method} {path} lacks {status}");
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query") {
            assert!(has("400") && has("422"), "{method} {path}");
        }
        if params
            .iter()
            .any(|p| p["in"] == "path" && p["schema"]["format"] == "uuid")
        {
            assert!(has("400") && has("404"), "{method} {path}");
        }
        if let Some(key) = params.iter().find(|p| p["name"] == "Idempotency-Key") {
            assert_eq!(key["in"], "header");
            assert_eq!(key["schema"]["pattern"], "^[!-~]{1,255}$");
            for status in ["400", "409", "422"] {
                assert!(has(status), "{method} {path} lacks {status}");
            }
        }
    }
}

#[test]
fn request_bodies_refuse_unknown_fields() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for (method, path, op) in operations(&doc) {
        let Some(content) = op["requestBody"]["content"].as_object() else {
            continue;
        };
        for media in content.values() {
            let schema = &media["schema"];
            let mut refs = vec![schema["$ref"].as_str()];
            for alt in schema["oneOf"].as_array().into_iter().flatten() {
                refs.push(alt["$ref"].as_str());
            }
            for name in refs.into_iter().flatten() {
                let name = name.trim_start_matches("#/components/schemas/");
                let body = &schemas[name];
                if body["oneOf"].is_array() {
                    for form in body["oneOf"].as_array().unwrap() {
                        assert_eq!(form["additionalProperties"], false, "{name}");
                    }
                } else {
                    assert_eq!(
                        body["additionalProperties"], false,
                        "{method} {path}: {name} takes unknown fields"
                    );
                }
            }
        }
    }
}

/// The handlers take their input only through the extractors that check it against this
/// document (`multivio_http::input`).
#[test]
fn handlers_take_input_only_through_the_checked_extractors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for unchecked in ["web::Json<", "web::Query<", "web::Form<"] {
            assert!(
                !source.contains(unchecked),
                "{}: takes `{unchecked}…>`; use crate::input's extractors",
                path.display()
            );
        }
        // `/media/{key}` (the bytes, outside the API document) is the one raw path.
        let raw_paths = source.matches("web::Path<").count();
        let allowed = usize::from(path.ends_with("files.rs"));
        assert_eq!(
            raw_paths,
            allowed,
            "{}: takes `web::Path<…>`",
            path.display()
        );
    }
}

#[test]
fn links_lead_from_a_create_to_operations_that_take_the_created_id() {
    let doc = document();
    let ops = operations(&doc);
    let by_id = |id: &str| {
        ops.iter()
            .find(|(_, _, op)| op["operationId"] == id)
            .map(|(_, path, op)| (path.clone(), op.clone()))
    };
    let mut links = 0;
    for (method, path, op) in &ops {
        for (status, answer) in op["responses"].as_object().unwrap() {
            let Some(found) = answer.get("links").and_then(|l| l.as_object()) else {
                continue;
            };
            assert!(
                status.starts_with('2'),
                "{method} {path}: links on a {status}"
            );
            for (name, link) in found {
                let target = link["operationId"].as_str().unwrap();
                let (target_path, target_op) =
                    by_id(target).unwrap_or_else(|| panic!("{method} {path}: no `{target}`"));
                for (param, expression) in link["parameters"].as_object().unwrap() {
                    assert!(
                        target_path.contains(&format!("{{{param}}}"))
                            && target_op["parameters"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|p| p["name"] == param.as_str() && p["in"] == "path"),
                        "{method} {path} → {name}: `{target}` takes no path parameter `{param}`"
                    );
                    let expression = expression.as_str().unwrap();
                    assert!(
                        ["$response.body#/id", "$response.body#/items/0/id"].contains(&expression),
                        "{expression}"
                    );
                }
                links += 1;
            }
        }
    }
    // Posts (5), media (3), the connections of a sign-in with a password (3) and of an
    // authorization (4: X's OAuth 1.0a approval too).
    assert_eq!(links, 15);
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = std::collections::BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        assert!(seen.insert(id.clone()), "{method} {path}: `{id}` is taken");
    }
}

#[test]
fn platform_settings_are_refused_by_the_document_exactly_when_the_core_refuses_them() {
    use multivio_domain::Provider;
    use multivio_domain::post::options::check;
    use serde_json::{Value, json};

    let contract = multivio_http::contract::Contract::get();
    let doc = contract.document();
    let long = |n: usize| "t".repeat(n);
    let cases: Vec<(Provider, &str, Value)> = vec![
        (Provider::Linkedin, "visibility", json!("CONNECTIONS")),
        (Provider::Linkedin, "visibility", json!("connections")),
        (Provider::Linkedin, "visibility", json!(null)),
        (Provider::Linkedin, "visibility", json!(true)),
        (Provider::Pinterest, "board_id", json!("549755885175")),
        (Provider::Pinterest, "board_id", json!(" 5497 ")),
        (Provider::Pinterest, "board_id", json!("")),
        (Provider::Pinterest, "board_id", json!("1".repeat(32))),
        (Provider::Pinterest, "board_id", json!("1".repeat(33))),
        (Provider::Pinterest, "board_id", json!(12)),
        (Provider::Pinterest, "title", json!(" Spring ")),
        (Provider::Pinterest, "title", json!("   ")),
        (Provider::Pinterest, "title", json!(long(100))),
        (
            Provider::Pinterest,
            "title",
            json!(format!(" {}", long(100))),
        ),
        (Provider::Pinterest, "title", json!("two\nlines")),
        (
            Provider::Pinterest,
            "link",
            json!("https://shop.example/spring?a=1#b"),
        ),
        (Provider::Pinterest, "link", json!("http://x")),
        (Provider::Pinterest, "link", json!("")),
        (Provider::Pinterest, "link", json!("  ")),
        (Provider::Pinterest, "link", json!(" https://x")),
        (Provider::Pinterest, "link", json!("https://a b")),
        (Provider::Pinterest, "link", json!("https://a\u{3000}b")),
        (Provider::Pinterest, "link", json!("https://a\u{feff}b")),
        (Provider::Pinterest, "link", json!("https:///path")),
        (Provider::Pinterest, "link", json!("ftp://x")),
        (Provider::Pinterest, "link", json!("HTTPS://x")),
        (
            Provider::Pinterest,
            "link",
            json!(format!("https://{}", long(2040))),
        ),
        (
            Provider::Pinterest,
            "link",
            json!(format!("https://{}", long(2041))),
        ),
        (Provider::Tiktok, "privacy_level", json!("SELF_ONLY")),
        (Provider::Tiktok, "privacy_level", json!("PUBLIC")),
        (Provider::Tiktok, "disable_duet", json!(true)),
        (Provider::Tiktok, "disable_duet", json!(null)),
        (Provider::Tiktok, "disable_duet", json!("yes")),
        (Provider::Youtube, "title", json!("Our launch")),
        (Provider::Youtube, "title", json!("a <b>")),
        (Provider::Youtube, "title", json!("\tLaunch")),
        (Provider::Youtube, "title", json!("caf\u{e9} \u{1F680}")),
        (Provider::Youtube, "title", json!(long(101))),
        (Provider::Youtube, "privacy_status", json!("unlisted")),
        (Provider::Youtube, "privacy_status", json!("Public")),
        (Provider::Youtube, "made_for_kids", json!(1)),
        // Keys a platform does not read are kept as given.
        (Provider::X, "visibility", json!(3)),
        (Provider::Youtube, "hashtags", json!(["a", "b"])),
    ];
    // Every character class the rules tell apart, in each place it could go.
    let mut cases = cases;
    let chars = [
        '\u{0}', '\t', '\n', '\r', '\u{1f}', ' ', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}',
        '\u{1680}', '\u{180e}', '\u{2000}', '\u{200a}', '\u{200b}', '\u{2028}', '\u{2029}',
        '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}', 'é', '<', '>', '#', '/', '?', '@',
    ];
    for c in chars {
        for (provider, key, value) in [
            (Provider::Pinterest, "link", format!("https://a{c}b")),
            (Provider::Pinterest, "link", format!("https://{c}b")),
            (Provider::Pinterest, "link", format!("https://ab{c}")),
            (Provider::Pinterest, "title", format!("t{c}t")),
            (Provider::Pinterest, "title", format!("{c}t")),
            (Provider::Pinterest, "board_id", format!("1{c}")),
            (Provider::Youtube, "title", format!("t{c}t")),
            (Provider::Youtube, "title", format!("t{c}")),
        ] {
            cases.push((provider, key, json!(value)));
        }
    }
    let body = doc
        .pointer("/components/schemas/PostCreate")
        .expect("PostCreate");
    for (provider, key, value) in cases {
        let mut content = serde_json::Map::new();
        content.insert(key.to_owned(), value.clone());
        let core_refuses = !check(provider, &content).is_empty();
        let request = json!({
            "name": "p",
            "platform_content": { provider.as_str(): Value::Object(content) },
        });
        let document_refuses = !contract.check(body, &request, "").is_empty();
        assert_eq!(
            document_refuses,
            core_refuses,
            "{provider:?} {key} = {value}: the document {} it, the core {} it",
            if document_refuses {
                "refuses"
            } else {
                "accepts"
            },
            if core_refuses { "refuses" } else { "accepts" },
        );
    }
}

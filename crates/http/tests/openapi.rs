//! The OpenAPI document is snapshot-tested, so every change to the API's shape is deliberate:
//! `just openapi` regenerates `crates/http/openapi.json` after an intended change.
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
fn every_route_of_the_contract_is_documented() {
    let doc = serde_json::to_value(multivio_http::ApiDoc::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/me", "get"),
        ("/v1/me", "patch"),
        ("/v1/me", "delete"),
        ("/v1/me/email-verification", "post"),
        ("/v1/email-verification/confirm", "post"),
        ("/v1/providers", "get"),
        ("/v1/connections", "get"),
        ("/v1/connections/{id}", "patch"),
        ("/v1/connections/{id}", "delete"),
        ("/v1/connections/{id}/primary", "post"),
        ("/v1/connections/{provider}/authorize", "post"),
        ("/v1/connections/{provider}/callback", "get"),
        ("/v1/connections/{provider}/complete", "post"),
        ("/v1/connections/{provider}", "post"),
        ("/v1/posts", "get"),
        ("/v1/posts", "post"),
        ("/v1/posts/validate", "post"),
        ("/v1/posts/{id}", "get"),
        ("/v1/posts/{id}", "patch"),
        ("/v1/posts/{id}", "delete"),
        ("/v1/posts/{id}/schedule", "post"),
        ("/v1/posts/{id}/publish", "post"),
        ("/v1/posts/{id}/cancel", "post"),
        ("/v1/posts/{id}/retry", "post"),
        ("/v1/media", "get"),
        ("/v1/media/{id}", "get"),
        ("/v1/media/{id}", "patch"),
        ("/v1/media/{id}", "delete"),
        ("/v1/subscription", "get"),
        ("/v1/billing/checkout", "post"),
        ("/v1/billing/portal", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
}

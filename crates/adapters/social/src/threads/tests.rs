use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn config() -> ThreadsConfig {
    ThreadsConfig {
        client_id: "th-app".into(),
        client_secret: Secret::new("th-secret"),
        auth_url: "https://threads.example/".into(),
        api_url: "https://graph.threads.example".into(),
    }
}

#[tokio::test]
async fn the_authorisation_page_asks_for_the_publishing_scopes() {
    let url = Threads::new(config())
        .unwrap()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("st"),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: "https://app.example/v1/connections/threads/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("threads.example"));
    assert_eq!(parsed.path(), "/oauth/authorize");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "th-app");
    assert_eq!(q["scope"], SCOPES);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], "st");
    assert_eq!(
        q["redirect_uri"],
        "https://app.example/v1/connections/threads/callback"
    );
}

#[test]
fn configuration_needs_urls_and_credentials_and_hides_its_secret() {
    let mut bad = config();
    bad.api_url = "nope".into();
    assert!(Threads::new(bad).is_err());
    let mut bad = config();
    bad.client_id = String::new();
    assert!(Threads::new(bad).is_err());
    let threads = Threads::new(config()).unwrap();
    assert_eq!(threads.config.auth_url, "https://threads.example");
    assert_eq!(threads.version, "v1.0");
    let debug = format!("{threads:?}");
    assert!(!debug.contains("th-secret"), "{debug}");
}

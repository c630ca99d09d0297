use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn app() -> FacebookApp {
    FacebookApp {
        app_id: "app-1".into(),
        app_secret: Secret::new("secret-1"),
        auth_url: "https://www.facebook.example/".into(),
        api_url: "https://graph.facebook.example".into(),
        video_url: "https://graph-video.facebook.example".into(),
    }
}

#[tokio::test]
async fn the_dialog_names_the_version_the_app_and_the_page_permissions() {
    let url = Facebook::new(app(), "v25.0")
        .unwrap()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("state-123"),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: "https://app.example/v1/connections/facebook/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("www.facebook.example"));
    assert_eq!(parsed.path(), "/v25.0/dialog/oauth");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "app-1");
    assert_eq!(q["state"], "state-123");
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["redirect_uri"],
        "https://app.example/v1/connections/facebook/callback"
    );
    assert_eq!(q["scope"], SCOPES);
    assert!(!q.contains_key("code_challenge"));
}

#[test]
fn configuration_needs_urls_a_version_and_credentials_and_hides_its_secret() {
    assert!(Facebook::new(app(), "25").is_err());
    let mut bad = app();
    bad.api_url = "not a url".into();
    assert!(Facebook::new(bad, "v25.0").is_err());
    let mut bad = app();
    bad.app_secret = Secret::new("");
    assert!(Facebook::new(bad, "v25.0").is_err());
    let facebook = Facebook::new(app(), "v25.0").unwrap();
    assert_eq!(facebook.app.auth_url, "https://www.facebook.example");
    let debug = format!("{facebook:?}");
    assert!(!debug.contains("secret-1"), "{debug}");
    assert!(debug.contains("app-1"), "{debug}");
}

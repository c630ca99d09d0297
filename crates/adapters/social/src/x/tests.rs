use multivio_domain::Secret;
use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn x() -> X {
    X::new(XConfig {
        client_id: "client-1".into(),
        client_secret: Secret::new("secret-1"),
        consumer: None,
        auth_url: "https://x.example/".into(),
        api_url: "https://api.x.example".into(),
        upload_url: "https://api.x.example".into(),
    })
    .unwrap()
}

#[tokio::test]
async fn the_authorization_url_asks_for_the_scopes_with_pkce_and_state() {
    let url = x()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("state-123"),
            pkce_verifier: Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            redirect_uri: "https://app.example/v1/connections/twitter/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("x.example"));
    assert_eq!(parsed.path(), "/i/oauth2/authorize");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "client-1");
    assert_eq!(
        q["redirect_uri"],
        "https://app.example/v1/connections/twitter/callback"
    );
    assert_eq!(q["scope"], SCOPES);
    assert_eq!(q["state"], "state-123");
    assert_eq!(
        q["code_challenge"],
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(url.contains("scope=tweet.read%20tweet.write"), "{url}");
}

#[test]
fn configuration_needs_urls_and_hides_its_secret() {
    let mut config = x().config;
    config.api_url = "not a url".into();
    assert!(X::new(config.clone()).is_err());
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret-1"), "{debug}");
}

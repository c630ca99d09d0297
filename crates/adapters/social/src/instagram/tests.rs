use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn instagram_app() -> InstagramApp {
    InstagramApp {
        client_id: "ig-app".into(),
        client_secret: Secret::new("ig-secret"),
        auth_url: "https://www.instagram.example".into(),
        token_url: "https://api.instagram.example".into(),
        api_url: "https://graph.instagram.example/".into(),
    }
}

fn facebook_app() -> FacebookApp {
    FacebookApp {
        app_id: "fb-app".into(),
        app_secret: Secret::new("fb-secret"),
        auth_url: "https://www.facebook.example".into(),
        api_url: "https://graph.facebook.example".into(),
        video_url: "https://graph-video.facebook.example".into(),
    }
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        state: Secret::new("st"),
        pkce_verifier: Secret::new("unused"),
        redirect_uri: "https://app.example/v1/connections/instagram/callback".into(),
        server_url: None,
    }
}

fn query(url: &str) -> (String, std::collections::HashMap<String, String>) {
    let parsed = url::Url::parse(url).unwrap();
    (
        format!("{}{}", parsed.host_str().unwrap(), parsed.path()),
        parsed.query_pairs().into_owned().collect(),
    )
}

#[tokio::test]
async fn with_an_instagram_app_accounts_connect_with_instagram_login() {
    let instagram = Instagram::new(InstagramConfig {
        instagram: Some(instagram_app()),
        facebook: Some(facebook_app()),
        version: "v25.0".into(),
    })
    .unwrap();
    assert_eq!(instagram.login(), Login::Instagram);
    let (at, q) = query(&instagram.authorization_url(&request()).await.unwrap());
    assert_eq!(at, "www.instagram.example/oauth/authorize");
    assert_eq!(q["client_id"], "ig-app");
    assert_eq!(q["scope"], INSTAGRAM_SCOPES);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], "st");
}

#[tokio::test]
async fn without_one_they_connect_through_their_facebook_page() {
    let instagram = Instagram::new(InstagramConfig {
        instagram: None,
        facebook: Some(facebook_app()),
        version: "v25.0".into(),
    })
    .unwrap();
    assert_eq!(instagram.login(), Login::Facebook);
    let (at, q) = query(&instagram.authorization_url(&request()).await.unwrap());
    assert_eq!(at, "www.facebook.example/v25.0/dialog/oauth");
    assert_eq!(q["client_id"], "fb-app");
    assert_eq!(q["scope"], FACEBOOK_SCOPES);
}

#[test]
fn configuration_needs_an_app_and_hides_the_secrets() {
    assert!(
        Instagram::new(InstagramConfig {
            instagram: None,
            facebook: None,
            version: "v25.0".into(),
        })
        .is_err()
    );
    let instagram = Instagram::new(InstagramConfig {
        instagram: Some(instagram_app()),
        facebook: Some(facebook_app()),
        version: "v25.0".into(),
    })
    .unwrap();
    let debug = format!("{instagram:?}");
    assert!(
        !debug.contains("ig-secret") && !debug.contains("fb-secret"),
        "{debug}"
    );
    assert_eq!(
        instagram.instagram.as_ref().unwrap().api_url,
        "https://graph.instagram.example"
    );
}

use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn config() -> PinterestConfig {
    PinterestConfig {
        client_id: "pin-app".into(),
        client_secret: Secret::new("pin-secret-value"),
        auth_url: "https://www.pinterest.example/".into(),
        api_url: "https://api.pinterest.example".into(),
    }
}

#[tokio::test]
async fn the_authorisation_page_asks_for_boards_and_pins() {
    let url = Pinterest::new(config())
        .unwrap()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("st"),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: "https://app.example/v1/connections/pinterest/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("www.pinterest.example"));
    assert_eq!(parsed.path(), "/oauth/");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "pin-app");
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["scope"],
        "user_accounts:read,boards:read,pins:read,pins:write"
    );
    assert_eq!(q["state"], "st");
}

#[test]
fn videos_go_only_to_pinterests_storage_and_the_secret_is_hidden() {
    let pin = Pinterest::new(config()).unwrap();
    assert!(pin.upload_allowed("https://pinterest-media-upload.s3-accelerate.amazonaws.com/"));
    assert!(pin.upload_allowed("https://api.pinterest.example/media-uploads/"));
    for refused in [
        "http://pinterest-media-upload.s3.amazonaws.com/",
        "https://amazonaws.com.evil.example/",
        "https://10.1.2.3/",
    ] {
        assert!(!pin.upload_allowed(refused), "{refused}");
    }
    let shown = format!("{pin:?}");
    assert!(!shown.contains("pin-secret-value"), "{shown}");
}

use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn config() -> YoutubeConfig {
    YoutubeConfig {
        client_id: "yt-app.apps.example".into(),
        client_secret: Secret::new("yt-secret-value"),
        auth_url: "https://accounts.google.example/".into(),
        token_url: "https://oauth2.google.example".into(),
        api_url: "https://www.googleapis.example".into(),
    }
}

#[tokio::test]
async fn the_consent_page_asks_for_offline_access_every_time_with_pkce() {
    let url = Youtube::new(config())
        .unwrap()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("st"),
            pkce_verifier: Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            redirect_uri: "https://app.example/v1/connections/youtube/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    assert!(!url.contains('+'), "{url}");
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("accounts.google.example"));
    assert_eq!(parsed.path(), "/o/oauth2/v2/auth");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], SCOPES);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn chunks_are_multiples_of_256_kib_and_the_secret_is_hidden() {
    let yt = Youtube::new(config()).unwrap();
    assert_eq!(yt.chunk % CHUNK_GRANULARITY, 0);
    assert_eq!(yt.clone().with_chunk(300 * 1024).chunk, CHUNK_GRANULARITY);
    assert_eq!(yt.clone().with_chunk(1).chunk, CHUNK_GRANULARITY);
    let shown = format!("{yt:?}");
    assert!(!shown.contains("yt-secret-value"), "{shown}");
}

#[test]
fn the_video_goes_only_to_googles_apis_or_the_configured_api() {
    let yt = Youtube::new(config()).unwrap();
    assert!(yt.session_allowed(
        "https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&upload_id=x"
    ));
    assert!(yt.session_allowed("https://www.googleapis.example/upload/youtube/v3/videos?x"));
    for refused in [
        "http://www.googleapis.com/upload",
        "https://googleapis.com.evil.example/upload",
        "https://10.0.0.1/upload",
        "/relative",
    ] {
        assert!(!yt.session_allowed(refused), "{refused}");
    }
}

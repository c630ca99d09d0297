use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn tiktok() -> Tiktok {
    Tiktok::new(TiktokConfig {
        client_key: "tt-key".into(),
        client_secret: Secret::new("tt-secret-value"),
        auth_url: "https://www.tiktok.example/".into(),
        api_url: "https://open.tiktokapis.example".into(),
    })
    .unwrap()
}

#[tokio::test]
async fn the_authorisation_page_names_the_client_key_and_the_posting_scopes() {
    let url = tiktok()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("st"),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: "https://app.example/v1/connections/tiktok/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/v2/auth/authorize/");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["client_key"], "tt-key");
    assert_eq!(q["scope"], "user.info.basic,video.publish,video.upload");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], "st");
    assert!(!format!("{:?}", tiktok()).contains("tt-secret-value"));
}

#[test]
fn chunking_follows_tiktoks_rules() {
    let tt = tiktok();
    // Under 5 MB, or within one chunk: the whole video.
    assert_eq!(tt.chunking(1_000), (1_000, 1));
    assert_eq!(tt.chunking(9_000_000), (9_000_000, 1));
    // Larger: chunks of 10 MB, the last taking the rest (rounded down count).
    assert_eq!(tt.chunking(25_000_000), (10_000_000, 2));
    assert_eq!(tt.chunking(30_000_000), (10_000_000, 3));
    let small = tt.clone().with_chunk(1);
    assert_eq!(small.chunking(11_000_000), (WHOLE_BELOW, 2));
}

#[test]
fn videos_go_only_to_tiktoks_upload_hosts() {
    let tt = tiktok();
    assert!(tt.upload_allowed("https://open-upload.tiktokapis.com/upload/?upload_id=1"));
    assert!(tt.upload_allowed("https://open.tiktokapis.example/upload/?upload_id=1"));
    for refused in [
        "http://open-upload.tiktokapis.com/upload/",
        "https://tiktokapis.com.evil.example/",
        "https://192.168.1.1/upload",
    ] {
        assert!(!tt.upload_allowed(refused), "{refused}");
    }
}

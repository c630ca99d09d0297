use multivio_ports::platform::{AuthorizationRequest, OAuthClient};

use super::*;

fn config() -> LinkedinConfig {
    LinkedinConfig {
        client_id: "li-app".into(),
        client_secret: Secret::new("li-secret-value"),
        auth_url: "https://www.linkedin.example/".into(),
        api_url: "https://api.linkedin.example".into(),
        version: VERSION.into(),
        organizations: true,
    }
}

async fn authorization(config: LinkedinConfig) -> url::Url {
    let url = Linkedin::new(config)
        .unwrap()
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("st"),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: "https://app.example/v1/connections/linkedin/callback".into(),
            server_url: None,
        })
        .await
        .unwrap();
    assert!(!url.contains('+'), "scopes are %20-separated: {url}");
    url::Url::parse(&url).unwrap()
}

#[tokio::test]
async fn the_authorisation_page_asks_for_openid_and_posting_and_organizations_when_on() {
    let url = authorization(config()).await;
    assert_eq!(url.host_str(), Some("www.linkedin.example"));
    assert_eq!(url.path(), "/oauth/v2/authorization");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "li-app");
    assert_eq!(q["state"], "st");
    assert_eq!(
        q["scope"],
        "openid profile email w_member_social r_organization_admin w_organization_social"
    );
    let members_only = authorization(LinkedinConfig {
        organizations: false,
        ..config()
    })
    .await;
    let q: std::collections::HashMap<String, String> =
        members_only.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], MEMBER_SCOPES);
}

#[test]
fn versions_are_months() {
    assert!(valid_version(VERSION));
    assert!(valid_version("202312"));
    for bad in [
        "2026-05", "20260", "202613", "202600", "199901", "v202605", "",
    ] {
        assert!(!valid_version(bad), "{bad}");
    }
    assert!(
        Linkedin::new(LinkedinConfig {
            version: "2026-05".into(),
            ..config()
        })
        .is_err()
    );
}

#[test]
fn configuration_hides_its_secret() {
    let shown = format!("{:?}", Linkedin::new(config()).unwrap());
    assert!(!shown.contains("li-secret-value"), "{shown}");
    assert!(shown.contains("li-app"), "{shown}");
}

#[test]
fn image_bytes_go_only_to_linkedin_or_the_configured_api() {
    let li = Linkedin::new(config()).unwrap();
    assert!(li.upload_allowed("https://www.linkedin.com/dms-uploads/abc?ca=x"));
    assert!(li.upload_allowed("https://api.linkedin.example/dms-uploads/abc"));
    for refused in [
        "http://www.linkedin.com/dms-uploads/abc",
        "https://linkedin.com.evil.example/x",
        "https://api.linkedin.example:8443/x",
        "https://169.254.169.254/latest",
        "not a url",
    ] {
        assert!(!li.upload_allowed(refused), "{refused}");
    }
}

use super::*;
use crate::mastodon::InstanceLimits;

#[test]
fn the_authorize_url_carries_every_parameter_encoded() {
    let url = authorize_url(
        "https://mastodon.social",
        "client id/1",
        "https://app.example/v1/connections/mastodon/callback?x=1&y=2",
        &Secret::new("st+ate"),
        &Secret::new("verifier"),
    )
    .unwrap();
    assert!(url.starts_with("https://mastodon.social/oauth/authorize?response_type=code&"));
    assert!(url.contains("&scope=read+write&"), "{url}");
    assert!(url.contains("client_id=client+id%2F1"), "{url}");
    assert!(url.contains(
        "redirect_uri=https%3A%2F%2Fapp.example%2Fv1%2Fconnections%2Fmastodon%2Fcallback%3Fx%3D1%26y%3D2"
    ));
    assert!(url.contains("state=st%2Bate"));
    assert!(url.ends_with("&code_challenge_method=S256"));
    let parsed = url::Url::parse(&url).unwrap();
    let challenge = parsed
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(challenge, pkce::s256_challenge(&Secret::new("verifier")));
}

#[test]
fn an_instance_below_a_path_keeps_it() {
    let url = authorize_url(
        "http://127.0.0.1:8080/mastodon",
        "c",
        "http://localhost/cb",
        &Secret::new("s"),
        &Secret::new("v"),
    )
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:8080/mastodon/oauth/authorize?"));
    assert_eq!(
        instance_host("http://127.0.0.1:8080/mastodon").as_deref(),
        Some("127.0.0.1:8080")
    );
    assert_eq!(
        instance_host("https://mastodon.social").as_deref(),
        Some("mastodon.social")
    );
}

fn account(id: &str, username: &str) -> Account {
    Account {
        id: id.into(),
        username: username.into(),
        acct: Some(username.into()),
        display_name: Some("  Alice  ".into()),
        url: Some("https://mastodon.social/@alice".into()),
    }
}

#[test]
fn the_profile_is_unique_across_instances_and_keeps_what_revoking_needs() {
    let p = profile(
        "https://mastodon.social",
        "https://app.example/cb",
        &account("14715", "alice"),
        &InstanceLimits::default(),
    )
    .unwrap();
    assert_eq!(p.provider_account_id.as_str(), "alice@mastodon.social");
    assert_eq!(p.label.unwrap().as_str(), "@alice@mastodon.social");
    assert_eq!(p.account_type, AccountType::Personal);
    assert_eq!(p.metadata["server_url"], "https://mastodon.social");
    assert_eq!(p.metadata["redirect_uri"], "https://app.example/cb");
    assert_eq!(p.metadata["account_id"], "14715");
    assert_eq!(p.metadata["acct"], "alice");
    assert_eq!(p.metadata["display_name"], "Alice");
    assert_eq!(p.metadata["max_characters"], 500);
}

#[test]
fn an_unusable_account_is_refused() {
    let limits = InstanceLimits::default();
    for (id, username) in [
        ("", "alice"),
        ("1/2", "alice"),
        ("1", ""),
        ("1", "a b"),
        ("1", "al@ice"),
    ] {
        assert!(
            matches!(
                profile(
                    "https://m.example",
                    "https://app/cb",
                    &account(id, username),
                    &limits
                ),
                Err(OAuthError::Rejected { .. })
            ),
            "{id:?} {username:?}"
        );
    }
}

#[test]
fn oauth_errors_map_to_what_the_core_does() {
    let said = |error: &str, description: &str| InstanceError {
        error: Some(error.into()),
        description: Some(description.into()),
    };
    assert!(matches!(
        oauth_error(400, &said("invalid_grant", "The provided authorization grant is invalid"), None),
        OAuthError::InvalidGrant { reason } if reason.contains("grant is invalid")
    ));
    assert!(matches!(
        oauth_error(401, &said("invalid_client", "Client authentication failed"), None),
        OAuthError::Rejected { code, .. } if code == "invalid_client"
    ));
    assert!(matches!(
        oauth_error(429, &InstanceError::default(), Some(chrono::Duration::seconds(5))),
        OAuthError::RateLimited { retry_after: Some(d) } if d.num_seconds() == 5
    ));
    assert!(matches!(
        oauth_error(503, &InstanceError::default(), None),
        OAuthError::Transient { .. }
    ));
    assert!(matches!(
        oauth_error(400, &said("a long sentence as code", "x"), None),
        OAuthError::Rejected { code, .. } if code == "mastodon_http_400"
    ));
    assert!(matches!(
        api_error(401, &InstanceError::default(), None),
        OAuthError::InvalidGrant { .. }
    ));
}

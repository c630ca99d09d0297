//! LinkedIn through the API against the sandbox's fake — which checks every request as
//! LinkedIn documents it (OAuth form bodies, `LinkedIn-Version` and
//! `X-Restli-Protocol-Version`, the Posts API's fields, the little text format, the Images
//! API's sequence) — with the publishing worker running.

use std::collections::HashMap;

use multivio_sandbox::credentials::LINKEDIN_CLIENT_ID;
use serde_json::{Value, json};

use crate::Api;
use crate::platform_kit::{
    authorization_url, calls, connect, control, provider_entry, sealed_tokens,
};
use crate::platforms::{png, publish, upload};

#[tokio::test]
async fn linkedin_connects_the_member_and_its_organizations_and_posts_escaped_text_and_images() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let entry = provider_entry(&api, "linkedin").await;
    assert_eq!(entry["configured"], true, "{entry}");
    assert_eq!(entry["connect_with"], "oauth");
    assert_eq!(entry["sandbox"], true);
    assert_eq!(
        entry["sandbox_server_url"],
        format!("{}/linkedin", sandbox.url()).as_str()
    );

    let chosen = control(
        format!("{}/_sandbox/next_member", sandbox.linkedin_url()),
        json!({ "name": "Dana Li", "organizations": [
            { "name": "Bakery" },
            { "name": "Book club", "role": "ANALYST" },
            { "name": "Bike shop" },
        ]}),
    )
    .await;

    // LinkedIn's authorisation page, OpenID Connect and the organization scopes.
    let url = authorization_url(&api, "alice", "linkedin").await;
    assert_eq!(url.path(), "/linkedin/oauth/v2/authorization");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], LINKEDIN_CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["redirect_uri"],
        "http://localhost/v1/connections/linkedin/callback"
    );
    assert_eq!(
        q["scope"],
        "openid profile email w_member_social r_organization_admin w_organization_social"
    );

    // One approval: the member and the two organizations it administers.
    let connections = connect(&api, "alice", "linkedin").await;
    let orgs = chosen["organizations"].as_array().unwrap();
    let ids: Vec<&str> = connections
        .iter()
        .map(|c| c["provider_account_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            chosen["urn"].as_str().unwrap(),
            orgs[0]["urn"].as_str().unwrap(),
            orgs[2]["urn"].as_str().unwrap(),
        ]
    );
    let shape: Vec<(&str, &str, bool)> = connections
        .iter()
        .map(|c| {
            (
                c["account_label"].as_str().unwrap(),
                c["account_type"].as_str().unwrap(),
                c["is_primary"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("Dana Li", "personal", true),
            ("Bakery", "page", false),
            ("Bike shop", "page", false),
        ]
    );
    assert_eq!(connections[1]["metadata"]["kind"], "organization");
    let sealed = sealed_tokens(&api, "linkedin").await;
    assert_eq!(sealed.len(), 3);
    assert!(
        sealed
            .iter()
            .all(|t| t.starts_with("v1.") && !t.contains("AQV-li-"))
    );

    // A text with every reserved character, as the member (the primary account).
    let text = r"Launch \ | { } @ [ ] ( ) < > # * _ ~ day (really) #1 @home";
    let post = publish(
        &api,
        "alice",
        json!({ "name": "Launch", "universal_content": text, "platforms": ["linkedin"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["linkedin"];
    let urn = result["platform_post_id"].as_str().unwrap();
    assert!(urn.starts_with("urn:li:share:"), "{result}");
    assert_eq!(
        result["url"],
        format!("https://www.linkedin.com/feed/update/{urn}/").as_str()
    );
    let sent = &calls(&api, "linkedin", "POST", "/rest/posts")[0];
    let body: Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(
        body["commentary"],
        r"Launch \\ \| \{ \} \@ \[ \] \( \) \< \> \# \* \_ \~ day \(really\) \#1 \@home"
    );
    assert_eq!(body["author"], chosen["urn"]);
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.headers["linkedin-version"],
        multivio_social::linkedin::VERSION
    );
    assert_eq!(sent.headers["x-restli-protocol-version"], "2.0.0");
    let shown = sandbox.state().posts_of("linkedin").unwrap();
    assert_eq!(
        shown[0].text, text,
        "LinkedIn shows the whole text, as written"
    );

    // An image as the Bakery: initialize → PUT → the image URN in the post.
    let bakery = connections[1]["id"].as_str().unwrap();
    let image = upload(&api, "alice", png(64, 64), "A loaf").await;
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Bread", "universal_content": "Fresh bread", "media_files": [image],
            "platforms": [{ "platform": "linkedin", "connection_id": bakery }],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let init: Value =
        serde_json::from_str(&calls(&api, "linkedin", "POST", "/rest/images")[0].body).unwrap();
    assert_eq!(init["initializeUploadRequest"]["owner"], orgs[0]["urn"]);
    let put = &calls(&api, "linkedin", "PUT", "/dms-uploads/")[0];
    assert_eq!(put.body, format!("<{} bytes>", png(64, 64).len()));
    let body: Value =
        serde_json::from_str(&calls(&api, "linkedin", "POST", "/rest/posts")[1].body).unwrap();
    assert_eq!(body["author"], orgs[0]["urn"]);
    assert_eq!(body["content"]["media"]["altText"], "A loaf");
    let shown = sandbox.state().posts_of("linkedin").unwrap();
    assert_eq!(shown[1].account, "Bakery");
    assert_eq!(shown[1].media.len(), 1);
}

#[tokio::test]
async fn an_expired_linkedin_token_is_refreshed_and_the_post_goes_out() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    connect(&api, "alice", "linkedin").await;
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.linkedin_url()),
        json!({}),
    )
    .await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "Hello", "universal_content": "Hello again", "platforms": ["linkedin"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let refreshes: Vec<_> = calls(&api, "linkedin", "POST", "/oauth/v2/accessToken")
        .into_iter()
        .filter(|r| r.body.contains("grant_type=refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh");
    assert_eq!(calls(&api, "linkedin", "POST", "/rest/posts").len(), 2);
}

#[tokio::test]
async fn linkedin_settings_are_checked_when_the_post_is_written() {
    let api = Api::start_with_sandbox().await;
    let (status, refused) = api
        .post(
            "alice",
            "/v1/posts",
            json!({
                "name": "Friends",
                "content_mode": "specific",
                "platform_content": { "linkedin": { "content": "Hi", "visibility": "FRIENDS" } },
                "platforms": ["linkedin"],
            }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("platform_content.linkedin.visibility"),
        "{refused}"
    );
}

//! The LinkedIn adapter against the sandbox's fake, in process: the fake refuses what LinkedIn
//! refuses (versions, protocol header, fields, permissions, duplicates), and the adapter turns
//! each answer into what the core acts on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::control;
use multivio_domain::connection::{AccountType, Connection, Credentials};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{
    Attachment, OAuthClient, OAuthError, PublishError, PublishRequest, Publisher, Unguarded,
};
use multivio_sandbox::credentials::{LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::linkedin::{Linkedin, LinkedinConfig, VERSION};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/linkedin/callback";

fn config(sandbox: &Sandbox) -> LinkedinConfig {
    LinkedinConfig {
        client_id: LINKEDIN_CLIENT_ID.into(),
        client_secret: Secret::new(LINKEDIN_CLIENT_SECRET),
        auth_url: sandbox.linkedin_url(),
        api_url: sandbox.linkedin_url(),
        version: VERSION.into(),
        organizations: true,
    }
}

fn linkedin(sandbox: &Sandbox) -> Linkedin {
    Linkedin::new(config(sandbox)).unwrap()
}

/// Runs an authorisation through the fake (approved at once) and exchanges its code.
async fn authorize(client: &dyn OAuthClient) -> Result<Vec<(Connection, Credentials)>, OAuthError> {
    let (back, accounts) =
        common::authorize(client, Provider::Linkedin, REDIRECT, "unused-verifier").await?;
    assert_eq!(back["state"], "state-1");
    Ok(accounts)
}

fn request(connection: &Connection, credentials: &Credentials, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::primary(Provider::Linkedin),
        connection: connection.clone(),
        credentials: credentials.clone(),
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: "k".into(),
        name: "Post".into(),
        options: Default::default(),
    }
}

/// A 1×1 PNG (the fake reads the signature).
fn png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}

fn attachment(mime: &str, bytes: Vec<u8>, alt: Option<&str>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "f".into(),
            original_filename: None,
            file_type: mime.into(),
            file_size: bytes.len() as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: alt.map(|a| AltText::new(a).unwrap()),
            width: Some(1),
            height: Some(1),
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::in_memory(bytes),
    }
}

fn requests(sandbox: &Sandbox, method: &str, path: &str) -> Vec<Recorded> {
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "linkedin" && r.method == method && r.path.starts_with(path))
        .collect()
}

#[tokio::test]
async fn the_member_and_the_organizations_it_administers_are_separate_accounts() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let chosen = control(
        format!("{}/_sandbox/next_member", sandbox.linkedin_url()),
        json!({ "name": "Dana Li", "organizations": [
            { "name": "Bakery" },
            { "name": "Book club", "role": "ANALYST" },
            { "name": "Bike shop" },
        ]}),
    )
    .await;
    let accounts = authorize(&linkedin(&sandbox)).await.unwrap();
    let ids: Vec<&str> = accounts
        .iter()
        .map(|(c, _)| c.provider_account_id.as_str())
        .collect();
    let orgs = chosen["organizations"].as_array().unwrap();
    assert_eq!(
        ids,
        [
            chosen["urn"].as_str().unwrap(),
            orgs[0]["urn"].as_str().unwrap(),
            orgs[2]["urn"].as_str().unwrap(),
        ],
        "the member, then the organizations it administers (not the one it only analyses)"
    );
    let (member, _) = &accounts[0];
    assert_eq!(member.account_type, AccountType::Personal);
    assert_eq!(member.account_label.as_ref().unwrap().as_str(), "Dana Li");
    assert_eq!(member.metadata["kind"], "person");
    let (bakery, credentials) = &accounts[1];
    assert_eq!(bakery.account_type, AccountType::Page);
    assert_eq!(bakery.account_label.as_ref().unwrap().as_str(), "Bakery");
    assert_eq!(bakery.metadata["kind"], "organization");
    assert_eq!(bakery.metadata["member_urn"], chosen["urn"]);
    assert!(credentials.refresh_token.is_some() && credentials.expires_at.is_some());

    // The token call is form-encoded with the app's credentials; the versioned calls carry
    // both of LinkedIn's headers.
    let token = &requests(&sandbox, "POST", "/oauth/v2/accessToken")[0];
    assert_eq!(
        token.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        token
            .body
            .contains("client_secret=sandbox-linkedin-client-secret")
    );
    for call in requests(&sandbox, "GET", "/rest/") {
        assert_eq!(call.headers["linkedin-version"], VERSION, "{call:?}");
        assert_eq!(call.headers["x-restli-protocol-version"], "2.0.0");
    }
    let acls = &requests(&sandbox, "GET", "/rest/organizationAcls")[0];
    assert!(
        acls.path
            .contains("q=roleAssignee&role=ADMINISTRATOR&state=APPROVED")
    );

    // Without the organization scopes, the member alone.
    control(
        format!("{}/_sandbox/next_member", sandbox.linkedin_url()),
        json!({ "name": "Dana Li", "organizations": [{ "name": "Bakery" }] }),
    )
    .await;
    let members_only = Linkedin::new(LinkedinConfig {
        organizations: false,
        ..config(&sandbox)
    })
    .unwrap();
    let accounts = authorize(&members_only).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].0.metadata["kind"], "person");
}

#[tokio::test]
async fn a_commentary_with_every_reserved_character_arrives_escaped_exactly() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let li = linkedin(&sandbox);
    let accounts = authorize(&li).await.unwrap();
    let (member, credentials) = &accounts[0];
    let text = r"Launch \ | { } @ [ ] ( ) < > # * _ ~ day (really) #1 @home";
    let published = li
        .publish(&request(member, credentials, text), &Unguarded)
        .await
        .unwrap();
    assert!(published.platform_post_id.starts_with("urn:li:share:"));
    assert_eq!(
        published.url.as_deref(),
        Some(
            format!(
                "https://www.linkedin.com/feed/update/{}/",
                published.platform_post_id
            )
            .as_str()
        )
    );
    let sent: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/rest/posts")[0].body).unwrap();
    assert_eq!(
        sent["commentary"],
        r"Launch \\ \| \{ \} \@ \[ \] \( \) \< \> \# \* \_ \~ day \(really\) \#1 \@home"
    );
    assert_eq!(sent["author"], member.provider_account_id.as_str());
    assert_eq!(sent["visibility"], "PUBLIC");
    assert_eq!(sent["lifecycleState"], "PUBLISHED");
    assert_eq!(sent["distribution"]["feedDistribution"], "MAIN_FEED");
    // LinkedIn shows it as written, whole.
    let posts = sandbox.state().posts_of("linkedin").unwrap();
    assert_eq!(posts[0].text, text);
    assert_eq!(posts[0].account, "Sandbox Member");

    // The same text again is LinkedIn's duplicate.
    let again = li
        .publish(&request(member, credentials, text), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, PublishError::Rejected { code, .. } if code == "duplicate"),
        "{again:?}"
    );
}

#[tokio::test]
async fn images_go_through_the_images_api_as_the_organization() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/next_member", sandbox.linkedin_url()),
        json!({ "name": "Ola", "organizations": [{ "name": "Bakery" }] }),
    )
    .await;
    let li = linkedin(&sandbox);
    let accounts = authorize(&li).await.unwrap();
    let (org, credentials) = &accounts[1];
    let mut one = request(org, credentials, "Fresh bread");
    one.media = vec![attachment("image/png", png(), Some("A loaf"))];
    li.publish(&one, &Unguarded).await.unwrap();
    let init: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/rest/images")[0].body).unwrap();
    assert_eq!(
        init["initializeUploadRequest"]["owner"],
        org.provider_account_id.as_str()
    );
    assert!(
        requests(&sandbox, "POST", "/rest/images")[0]
            .path
            .ends_with("?action=initializeUpload")
    );
    assert_eq!(requests(&sandbox, "PUT", "/dms-uploads/").len(), 1);
    let post: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/rest/posts")[0].body).unwrap();
    assert!(
        post["content"]["media"]["id"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:image:")
    );
    assert_eq!(post["content"]["media"]["altText"], "A loaf");

    let mut three = request(org, credentials, "Three loaves");
    three.media = (0..3)
        .map(|_| attachment("image/png", png(), None))
        .collect();
    li.publish(&three, &Unguarded).await.unwrap();
    let post: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/rest/posts")[1].body).unwrap();
    assert_eq!(
        post["content"]["multiImage"]["images"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let posts = sandbox.state().posts_of("linkedin").unwrap();
    assert_eq!(posts[1].account, "Bakery");
    assert_eq!(posts[1].media.len(), 3);

    // A Page posts publicly; a video is said not to be supported.
    let mut connections_only = request(org, credentials, "Members only");
    connections_only
        .options
        .insert("visibility".into(), json!("CONNECTIONS"));
    assert!(matches!(
        li.publish(&connections_only, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "linkedin_visibility"
    ));
    let mut video = request(org, credentials, "A clip");
    video.media = vec![attachment("video/mp4", vec![0; 16], None)];
    assert!(matches!(
        li.publish(&video, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "linkedin_video"
    ));
}

#[tokio::test]
async fn tokens_refresh_and_refusals_say_what_happened() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let li = linkedin(&sandbox);
    let accounts = authorize(&li).await.unwrap();
    let (member, credentials) = &accounts[0];

    // An expired token is refused; the refresh token gives a new one, kept as it was.
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.linkedin_url()),
        json!({}),
    )
    .await;
    let refused = li
        .publish(&request(member, credentials, "Hello"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PublishError::Unauthorized { .. }),
        "{refused:?}"
    );
    let refresh = credentials.refresh_token.clone().unwrap();
    let grant = li.refresh(member, &refresh).await.unwrap();
    assert_ne!(grant.access_token, credentials.access_token);
    let fresh = credentials.refreshed(grant);
    li.publish(&request(member, &fresh, "Hello"), &Unguarded)
        .await
        .unwrap();
    assert!(matches!(
        li.refresh(member, &Secret::new("not-a-refresh-token"))
            .await,
        Err(OAuthError::InvalidGrant { .. })
    ));

    // A version LinkedIn no longer serves.
    let old = Linkedin::new(LinkedinConfig {
        version: "202301".into(),
        ..config(&sandbox)
    })
    .unwrap();
    let refused = old
        .publish(&request(member, &fresh, "Old version"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, reason } if code == "linkedin_version" && reason.contains("MULTIVIO_LINKEDIN_VERSION")),
        "{refused:?}"
    );

    // A server error after the post was made: the outcome is unknown, never a failure.
    control(
        format!("{}/_sandbox/fail_next_post", sandbox.linkedin_url()),
        json!({ "status": 503, "after_create": true }),
    )
    .await;
    let unknown = li
        .publish(&request(member, &fresh, "Maybe"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, PublishError::Unknown { .. }),
        "{unknown:?}"
    );
    assert!(li.dedup_window().is_none());

    // Another member's URN is LinkedIn's permission refusal.
    let mut other = member.clone();
    other.metadata = json!({ "urn": "urn:li:person:someone-else" });
    let refused = li
        .publish(&request(&other, &fresh, "Not mine"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, .. } if code == "linkedin_permission"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_fake_refuses_calls_without_linkedins_headers_or_with_unknown_fields() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let li = linkedin(&sandbox);
    let accounts = authorize(&li).await.unwrap();
    let (member, credentials) = &accounts[0];
    let token = credentials.access_token.expose().to_owned();
    let body = json!({
        "author": member.provider_account_id.as_str(),
        "commentary": "Hi",
        "visibility": "PUBLIC",
        "distribution": { "feedDistribution": "MAIN_FEED" },
        "lifecycleState": "PUBLISHED",
    });
    let post = |version: Option<&str>, protocol: Option<&str>, body: Value| {
        let mut builder = reqwest::Client::new()
            .post(format!("{}/rest/posts", sandbox.linkedin_url()))
            .bearer_auth(&token)
            .json(&body);
        if let Some(v) = version {
            builder = builder.header("LinkedIn-Version", v);
        }
        if let Some(p) = protocol {
            builder = builder.header("X-Restli-Protocol-Version", p);
        }
        builder.send()
    };
    assert_eq!(
        post(None, Some("2.0.0"), body.clone())
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        post(Some("202001"), Some("2.0.0"), body.clone())
            .await
            .unwrap()
            .status(),
        426
    );
    assert_eq!(
        post(Some(VERSION), None, body.clone())
            .await
            .unwrap()
            .status(),
        400
    );
    let mut extra = body.clone();
    extra["text"] = json!("Hi");
    let refused = post(Some(VERSION), Some("2.0.0"), extra).await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("unrecognized field"));
    let created = post(Some(VERSION), Some("2.0.0"), body).await.unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["x-restli-id"]
            .to_str()
            .unwrap()
            .starts_with("urn:li:share:")
    );
}

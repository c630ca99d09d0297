//! Connecting and publishing through the API to X, Bluesky and Mastodon — the sandbox's fakes,
//! which check every request as the platforms do — with the publishing worker running.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_app::credentials::{CredentialKeeper, RefreshError};
use multivio_app::services::SystemClock;
use multivio_domain::connection::ConnectionStatus;
use multivio_domain::{ConnectionId, Provider, Secret};
use multivio_ports::connections::ConnectionStore;
use multivio_sandbox::credentials::{
    X_CLIENT_ID, X_CLIENT_SECRET, X_CONSUMER_KEY, X_CONSUMER_SECRET,
};
use multivio_social::Registry;
use multivio_social::x::{X, XConfig};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Api;

pub(crate) const RETURN_TO: &str = "http://localhost:3000/connected";

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The user's browser: follows the authorisation URL to the platform, which approves at once
/// and redirects to our callback; the callback hands the code to the web client's `return_to`.
/// Returns what the web client receives in its fragment.
pub(crate) async fn approve_in_browser(
    api: &Api,
    authorization_url: &str,
) -> HashMap<String, String> {
    let at_platform = no_redirects().get(authorization_url).send().await.unwrap();
    assert_eq!(at_platform.status().as_u16(), 302);
    let callback = at_platform.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    // The callback URL names the public URL (http://localhost); the test server is on a port.
    let callback = callback.replace("http://localhost", &api.base);
    let at_us = no_redirects().get(&callback).send().await.unwrap();
    assert_eq!(
        at_us.status().as_u16(),
        303,
        "{}",
        at_us.text().await.unwrap()
    );
    let to_client = at_us.headers()["location"].to_str().unwrap().to_owned();
    let (page, fragment) = to_client.split_once('#').unwrap();
    assert_eq!(page, RETURN_TO);
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

pub(crate) async fn connect_x(api: &Api, uid: &str) -> Value {
    let (status, started) = api
        .post(
            uid,
            "/v1/connections/twitter/authorize",
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    let handed = approve_in_browser(api, &url).await;
    let (status, done) = api
        .post(
            uid,
            "/v1/connections/twitter/complete",
            json!({ "code": handed["code"], "state": handed["state"] }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    done["items"][0].clone()
}

/// A small real PNG of `w` × `h`.
pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG of about 3 MB (noise does not compress).
fn big_png() -> Vec<u8> {
    let mut seed = 12345u32;
    let image = image::RgbImage::from_fn(1100, 950, |_, _| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let [a, b, c, _] = seed.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub(crate) async fn upload(api: &Api, uid: &str, bytes: Vec<u8>, alt: &str) -> String {
    let boundary = "multivio-platforms-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{alt}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, file, _) = api
        .send(
            api.req(Method::POST, uid, "/v1/media")
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await;
    assert_eq!(status, 201, "{file}");
    file["id"].as_str().unwrap().to_owned()
}

/// Creates a post and publishes it now; answers the settled post.
pub(crate) async fn publish(api: &Api, uid: &str, post: Value) -> Value {
    let (status, created) = api.post(uid, "/v1/posts", post).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, started) = api
        .post(uid, &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, 202, "{started}");
    api.settled(uid, &id).await
}

#[tokio::test]
async fn x_connects_with_pkce_and_publishes_text_images_and_a_thread() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();

    // The authorisation URL carries X's parameters.
    let (_, started) = api
        .post(
            "alice",
            "/v1/connections/twitter/authorize",
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    let q = query_of(started["authorization_url"].as_str().unwrap());
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], X_CLIENT_ID);
    assert_eq!(
        q["redirect_uri"],
        "http://localhost/v1/connections/twitter/callback"
    );
    assert_eq!(
        q["scope"],
        "tweet.read tweet.write users.read offline.access media.write"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 22);

    let first = connect_x(&api, "alice").await;
    assert_eq!(first["account_label"], "@sandbox_user");
    assert_eq!(first["is_primary"], true);
    assert_eq!(first["metadata"]["username"], "sandbox_user");
    assert!(
        first.get("access_token").is_none(),
        "tokens are never answered"
    );

    // The exact token request: a confidential client with HTTP Basic, the PKCE verifier, the
    // same redirect URI.
    let token_call = sandbox
        .state()
        .requests()
        .into_iter()
        .find(|r| r.path == "/2/oauth2/token")
        .unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(token_call.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(
        form["redirect_uri"],
        "http://localhost/v1/connections/twitter/callback"
    );
    assert!(form["code_verifier"].len() >= 43);
    assert!(!form.contains_key("client_secret"));
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{X_CLIENT_ID}:{X_CLIENT_SECRET}"));
    assert_eq!(token_call.authorization.unwrap(), format!("Basic {basic}"));

    // Tokens are sealed at rest: the column holds no token the fake handed out.
    #[derive(diesel::QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = Text)]
        access_token: String,
    }
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    let sealed: Sealed = diesel::sql_query(
        "SELECT access_token FROM social_connections WHERE provider = 'twitter' LIMIT 1",
    )
    .get_result(&mut owner)
    .await
    .unwrap();
    assert!(
        sealed.access_token.starts_with("v1."),
        "{}",
        sealed.access_token
    );
    assert!(!sealed.access_token.contains("xat-"));

    // A second account of X: not primary.
    reqwest::Client::new()
        .post(format!("{}/_sandbox/next_user", sandbox.x_url()))
        .json(&json!({ "username": "second_account" }))
        .send()
        .await
        .unwrap();
    let second = connect_x(&api, "alice").await;
    assert_eq!(second["account_label"], "@second_account");
    assert_eq!(second["is_primary"], false);

    // Text.
    let post = publish(
        &api,
        "alice",
        json!({ "name": "hello", "universal_content": "Hello from Multivio", "platforms": ["twitter"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["twitter"];
    let tweet_id = result["platform_post_id"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!("https://x.com/sandbox_user/status/{tweet_id}").as_str()
    );

    // Four images.
    let mut media = Vec::new();
    for i in 0..4 {
        media.push(upload(&api, "alice", png(64 + i, 48), &format!("picture {i}")).await);
    }
    let post = publish(
        &api,
        "alice",
        json!({ "name": "pictures", "universal_content": "four pictures", "platforms": ["twitter"], "media_files": media }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let id = post["publish_results"]["twitter"]["platform_post_id"]
        .as_str()
        .unwrap();
    let held = sandbox.state().posts();
    let tweet = held.iter().find(|p| p.id == id).unwrap();
    assert_eq!(tweet.media.len(), 4);
    assert!(tweet.media.iter().all(|m| m.starts_with("image/png")));

    // A three-part thread: each part a reply to the one before.
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "thread",
            "universal_content": "1/3 Threads work",
            "thread": [{ "text": "2/3 part two" }, { "text": "3/3 the end" }],
            "platforms": ["twitter"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let parts = post["publish_results"]["twitter"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 3);
    let ids: Vec<&str> = parts
        .iter()
        .map(|p| p["platform_post_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        post["publish_results"]["twitter"]["platform_post_id"],
        ids[0]
    );
    let held = sandbox.state().posts();
    let find = |id: &str| held.iter().find(|p| p.id == id).unwrap().clone();
    assert_eq!(find(ids[0]).reply_to, None);
    assert_eq!(find(ids[1]).reply_to.as_deref(), Some(ids[0]));
    assert_eq!(find(ids[2]).reply_to.as_deref(), Some(ids[1]));
    assert_eq!(find(ids[2]).text, "3/3 the end");
}

#[tokio::test]
async fn x_media_tokens_come_from_an_oauth_1a_approval_by_the_same_account() {
    let api = Api::start_with_sandbox().await;
    let connection = connect_x(&api, "alice").await;
    let id = connection["id"].as_str().unwrap();
    let (status, started) = api
        .post(
            "alice",
            &format!("/v1/connections/{id}/oauth1/authorize"),
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["authorization_url"].as_str().unwrap();
    assert!(url.contains("/oauth/authorize?oauth_token="), "{url}");
    // The browser goes to X and back through our OAuth 1.0a callback.
    let at_platform = no_redirects().get(url).send().await.unwrap();
    let callback = at_platform.headers()["location"]
        .to_str()
        .unwrap()
        .replace("http://localhost", &api.base);
    let at_us = no_redirects().get(&callback).send().await.unwrap();
    assert_eq!(at_us.status().as_u16(), 303);
    let fragment = at_us.headers()["location"]
        .to_str()
        .unwrap()
        .split_once('#')
        .unwrap()
        .1
        .to_owned();
    let handed: HashMap<String, String> = url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect();
    // Someone else cannot complete it, and does not use it up.
    let (status, _) = api
        .post(
            "mallory",
            "/v1/connections/twitter/oauth1/complete",
            json!({ "oauth_token": handed["oauth_token"], "oauth_verifier": handed["oauth_verifier"] }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, done) = api
        .post(
            "alice",
            "/v1/connections/twitter/oauth1/complete",
            json!({ "oauth_token": handed["oauth_token"], "oauth_verifier": handed["oauth_verifier"] }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    // Sealed in the seed's columns.
    #[derive(diesel::QueryableByName)]
    struct OAuth1Row {
        #[diesel(sql_type = Text)]
        token: String,
        #[diesel(sql_type = Text)]
        user_id: String,
    }
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    let row: OAuth1Row = diesel::sql_query(
        "SELECT oauth1_access_token AS token, oauth1_user_id AS user_id FROM social_connections",
    )
    .get_result(&mut owner)
    .await
    .unwrap();
    assert!(row.token.starts_with("v1."));
    assert_eq!(
        row.user_id,
        connection["provider_account_id"].as_str().unwrap()
    );

    // Media now go with OAuth 1.0a signatures.
    let media = upload(&api, "alice", png(32, 32), "a square").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "signed", "universal_content": "signed upload", "platforms": ["twitter"], "media_files": [media] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let uploads: Vec<_> = api
        .sandbox()
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/2/media/upload"))
        .collect();
    assert!(!uploads.is_empty());
    assert!(uploads.iter().all(|r| {
        r.authorization
            .as_deref()
            .unwrap_or("")
            .starts_with("OAuth ")
    }));
}

#[tokio::test]
async fn bluesky_connects_with_an_app_password_and_publishes_rich_text_images_and_a_thread() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let (status, refused) = api
        .post(
            "alice",
            "/v1/connections/bluesky",
            json!({ "identifier": "alice.bsky.sandbox", "password": "not an app password" }),
        )
        .await;
    assert_eq!(
        status, 409,
        "a wrong password asks to connect again: {refused}"
    );
    let (status, done) = api
        .post(
            "alice",
            "/v1/connections/bluesky",
            json!({ "identifier": "alice.bsky.sandbox", "password": "abcd-efgh-ijkl-mnop" }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    let connection = &done["items"][0];
    assert_eq!(connection["account_label"], "alice.bsky.sandbox");
    assert!(
        connection["provider_account_id"]
            .as_str()
            .unwrap()
            .starts_with("did:plc:")
    );
    assert_eq!(connection["is_primary"], true);

    // Someone to mention.
    api.post(
        "bob",
        "/v1/connections/bluesky",
        json!({ "identifier": "bob.bsky.sandbox", "password": "abcd-efgh-ijkl-mnop" }),
    )
    .await;

    let text = "Hi 👋 日本 see https://example.com/x and @bob.bsky.sandbox #multivio";
    let post = publish(
        &api,
        "alice",
        json!({ "name": "rich", "universal_content": text, "platforms": ["bluesky"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let create = sandbox
        .state()
        .requests()
        .into_iter()
        .rfind(|r| r.path.contains("createRecord"))
        .unwrap();
    let body: Value = serde_json::from_str(&create.body).unwrap();
    let record = &body["record"];
    assert_eq!(record["text"], text);
    let bytes = text.as_bytes();
    let cut = |f: &Value| {
        let start = f["index"]["byteStart"].as_u64().unwrap() as usize;
        let end = f["index"]["byteEnd"].as_u64().unwrap() as usize;
        std::str::from_utf8(&bytes[start..end]).unwrap().to_owned()
    };
    let facets = record["facets"].as_array().unwrap();
    let cuts: Vec<String> = facets.iter().map(cut).collect();
    assert!(
        cuts.contains(&"https://example.com/x".to_owned()),
        "{cuts:?}"
    );
    assert!(cuts.contains(&"@bob.bsky.sandbox".to_owned()), "{cuts:?}");

    // Four images, and one of 3 MB that goes out downscaled below the blob limit.
    let mut media = Vec::new();
    for i in 0..3 {
        media.push(upload(&api, "alice", png(40 + i, 30), &format!("small {i}")).await);
    }
    media.push(upload(&api, "alice", big_png(), "a big one").await);
    let post = publish(
        &api,
        "alice",
        json!({ "name": "pictures", "universal_content": "four", "platforms": ["bluesky"], "media_files": media }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let blobs: Vec<_> = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("uploadBlob"))
        .collect();
    assert_eq!(blobs.len(), 4);
    let sizes: Vec<usize> = blobs
        .iter()
        .map(|r| {
            r.body
                .trim_start_matches('<')
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap_or(r.body.len())
        })
        .collect();
    assert!(sizes.iter().all(|s| *s <= 1_000_000), "{sizes:?}");

    // A three-part thread with root and parent.
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "thread",
            "universal_content": "sky 1/3",
            "thread": [{ "text": "sky 2/3" }, { "text": "sky 3/3" }],
            "platforms": ["bluesky"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let parts = post["publish_results"]["bluesky"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 3);
    let last = sandbox
        .state()
        .requests()
        .into_iter()
        .rfind(|r| r.path.contains("createRecord"))
        .unwrap();
    let body: Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(
        body["record"]["reply"]["root"]["uri"],
        parts[0]["platform_post_id"]
    );
    assert_eq!(
        body["record"]["reply"]["parent"]["uri"],
        parts[1]["platform_post_id"]
    );
}

#[tokio::test]
async fn mastodon_registers_once_per_instance_and_publishes_a_thread() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let instance = sandbox.mastodon_url();
    let (status, providers) = api.get("alice", "/v1/providers").await;
    assert_eq!(status, 200);
    let mastodon = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "mastodon")
        .unwrap();
    assert_eq!(mastodon["sandbox"], true);
    assert_eq!(mastodon["sandbox_server_url"], instance.as_str());

    for uid in ["alice", "bob"] {
        let (status, started) = api
            .post(
                uid,
                "/v1/connections/mastodon/authorize",
                json!({ "return_to": RETURN_TO, "server_url": instance }),
            )
            .await;
        assert_eq!(status, 200, "{started}");
        let url = started["authorization_url"].as_str().unwrap().to_owned();
        let q = query_of(&url);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["scope"], "read write");
        let handed = approve_in_browser(&api, &url).await;
        let (status, done) = api
            .post(
                uid,
                "/v1/connections/mastodon/complete",
                json!({ "code": handed["code"], "state": handed["state"] }),
            )
            .await;
        assert_eq!(status, 201, "{done}");
        assert_eq!(done["items"][0]["metadata"]["max_characters"], 500);
    }
    let registrations = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/apps")
        .count();
    assert_eq!(
        registrations, 1,
        "one app per instance, shared by every tenant"
    );

    let post = publish(
        &api,
        "alice",
        json!({
            "name": "toot",
            "universal_content": "toot 1/3",
            "thread": [{ "text": "toot 2/3" }, { "text": "toot 3/3" }],
            "platforms": ["mastodon"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let statuses: Vec<_> = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/statuses")
        .collect();
    assert_eq!(statuses.len(), 3);
    let keys: std::collections::HashSet<_> = statuses
        .iter()
        .map(|r| r.idempotency_key.clone().unwrap())
        .collect();
    assert_eq!(keys.len(), 3, "every part has its own Idempotency-Key");
    let third: Value = serde_json::from_str(&statuses[2].body).unwrap();
    let parts = post["publish_results"]["mastodon"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(third["in_reply_to_id"], parts[1]["platform_post_id"]);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_make_one_token_call_and_a_dead_grant_needs_reauth() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let connection = connect_x(&api, "alice").await;
    let id = ConnectionId(connection["id"].as_str().unwrap().parse().unwrap());
    let tenant = api.tenant("alice").await;
    // The access token expires now.
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    diesel::sql_query("UPDATE social_connections SET expires_at = now() - interval '1 minute'")
        .execute(&mut owner)
        .await
        .unwrap();
    let x = Arc::new(
        X::new(XConfig {
            client_id: X_CLIENT_ID.into(),
            client_secret: Secret::new(X_CLIENT_SECRET),
            consumer: Some((X_CONSUMER_KEY.into(), Secret::new(X_CONSUMER_SECRET))),
            auth_url: sandbox.x_url(),
            api_url: sandbox.x_url(),
            upload_url: sandbox.x_url(),
        })
        .unwrap(),
    );
    let keeper = Arc::new(CredentialKeeper::new(
        Arc::new(api.store.clone()),
        api.vault.clone(),
        Arc::new(Registry::empty().with_oauth(Provider::X, x)),
        Arc::new(SystemClock),
    ));
    let current = api.store.get(&tenant, id).await.unwrap();
    let before = sandbox.state().requests().len();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let keeper = keeper.clone();
            let tenant = tenant.clone();
            let current = current.clone();
            tokio::spawn(async move { keeper.fresh(&tenant, &current).await })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => fresh += 1,
            Err(RefreshError::Busy) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(fresh >= 1);
    let refreshes = sandbox.state().requests()[before..]
        .iter()
        .filter(|r| r.path == "/2/oauth2/token" && r.body.contains("grant_type=refresh_token"))
        .count();
    assert_eq!(refreshes, 1, "one token call for twenty refreshes");

    // The platform revokes the grant: the next refresh marks the connection needs_reauth.
    let sealed = api.store.credentials(&tenant, id).await.unwrap();
    let refresh = multivio_app::credentials::open(api.vault.as_ref(), id, &sealed)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/2/oauth2/revoke", sandbox.x_url()))
        .basic_auth(X_CLIENT_ID, Some(X_CLIENT_SECRET))
        .form(&[("token", refresh.expose())])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    diesel::sql_query("UPDATE social_connections SET expires_at = now() - interval '1 minute'")
        .execute(&mut owner)
        .await
        .unwrap();
    let current = api.store.get(&tenant, id).await.unwrap();
    assert!(matches!(
        keeper.fresh(&tenant, &current).await,
        Err(RefreshError::NeedsReauth(_))
    ));
    assert_eq!(
        api.store.get(&tenant, id).await.unwrap().status,
        ConnectionStatus::NeedsReauth
    );
    let (_, list) = api.get("alice", "/v1/connections").await;
    assert_eq!(list["items"][0]["status"], "needs_reauth");
}

//! Facebook Pages, Instagram and Threads through the API against the sandbox's fakes of Meta's
//! platforms — which check every request as the platforms document them (paths with the
//! version, form bodies, `access_token` and `appsecret_proof`, container polling, publishing
//! caps) — with the publishing worker running.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_sandbox::Recorded;
use multivio_sandbox::credentials::{
    FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, INSTAGRAM_APP_ID, THREADS_APP_ID,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Api;
use crate::platforms::{RETURN_TO, approve_in_browser, png, publish};

/// The Graph API version Multivio names.
const V: &str = multivio_social::meta::GRAPH_VERSION;

fn form(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// A recorded request's query parameters.
fn query(r: &Recorded) -> HashMap<String, String> {
    form(r.path.split_once('?').map_or("", |(_, q)| q))
}

/// The requests one fake received, `method` on paths starting with `path`, oldest first.
fn calls(api: &Api, platform: &str, method: &str, path: &str) -> Vec<Recorded> {
    api.sandbox()
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == platform && r.method == method && r.path.starts_with(path))
        .collect()
}

/// The requests one fake received, `method` on exactly `path` (query aside), oldest first.
fn exact(api: &Api, platform: &str, method: &str, path: &str) -> Vec<Recorded> {
    calls(api, platform, method, path)
        .into_iter()
        .filter(|r| r.path.split('?').next() == Some(path))
        .collect()
}

/// A small real JPEG of `w` × `h`.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 140])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The start of an MP4 file (what the upload's type detection reads).
fn mp4() -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 2048));
    bytes
}

/// Uploads a file; answers the media row.
async fn upload(api: &Api, uid: &str, bytes: Vec<u8>, name: &str, alt: &str) -> Value {
    let boundary = "multivio-meta-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{alt}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
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
    file
}

/// Connects through OAuth (the fake approves at once): answers the connections made.
async fn connect(api: &Api, uid: &str, provider: &str) -> Vec<Value> {
    let (status, started) = api
        .post(
            uid,
            &format!("/v1/connections/{provider}/authorize"),
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    let handed = approve_in_browser(api, &url).await;
    let (status, done) = api
        .post(
            uid,
            &format!("/v1/connections/{provider}/complete"),
            json!({ "code": handed["code"], "state": handed["state"] }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    done["items"].as_array().unwrap().clone()
}

/// A control call to the sandbox.
async fn control(url: String, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// The sealed access token column of the provider's connections.
async fn sealed_tokens(api: &Api, provider: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = Text)]
        access_token: String,
    }
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    let rows: Vec<Sealed> = diesel::sql_query(format!(
        "SELECT access_token FROM social_connections WHERE provider = '{provider}'"
    ))
    .load(&mut owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.access_token).collect()
}

#[tokio::test]
async fn facebook_login_granting_three_pages_makes_three_page_connections_the_first_primary() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let granted = control(
        format!("{}/_sandbox/next_login", sandbox.facebook_url()),
        json!({ "name": "Dana", "pages": [
            { "name": "Bakery" }, { "name": "Book club" }, { "name": "Bike shop" },
        ]}),
    )
    .await;
    let page_ids: Vec<&str> = granted["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();

    // The dialog: versioned path, the app, the scopes, the redirect URI.
    let (_, started) = api
        .post(
            "alice",
            "/v1/connections/facebook/authorize",
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), format!("/facebook/{V}/dialog/oauth"));
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], FACEBOOK_APP_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["redirect_uri"],
        "http://localhost/v1/connections/facebook/callback"
    );
    assert_eq!(
        q["scope"],
        "pages_show_list,pages_read_engagement,pages_manage_posts,business_management"
    );

    let connections = connect(&api, "alice", "facebook").await;
    assert_eq!(connections.len(), 3, "{connections:?}");
    let names: Vec<&str> = connections
        .iter()
        .map(|c| c["account_label"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bakery", "Book club", "Bike shop"]);
    let primaries: Vec<bool> = connections
        .iter()
        .map(|c| c["is_primary"].as_bool().unwrap())
        .collect();
    assert_eq!(primaries, [true, false, false]);
    for (c, id) in connections.iter().zip(&page_ids) {
        assert_eq!(c["account_type"], "page");
        assert_eq!(c["provider_account_id"], *id);
        assert_eq!(c["metadata"]["page_id"], *id);
        assert_eq!(c["metadata"]["user_name"], "Dana");
        assert!(c["expires_at"].is_null(), "a Page token does not expire");
        assert!(c.get("access_token").is_none());
    }

    // The token calls: the code for a short-lived token, that for a long-lived one, then the
    // Pages with the long-lived token and its proof.
    let tokens = calls(&api, "facebook", "GET", &format!("/{V}/oauth/access_token"));
    assert_eq!(tokens.len(), 2);
    let first = query(&tokens[0]);
    assert_eq!(first["client_id"], FACEBOOK_APP_ID);
    assert_eq!(first["client_secret"], FACEBOOK_APP_SECRET);
    assert_eq!(
        first["redirect_uri"],
        "http://localhost/v1/connections/facebook/callback"
    );
    assert!(first.contains_key("code"));
    let second = query(&tokens[1]);
    assert_eq!(second["grant_type"], "fb_exchange_token");
    assert!(second["fb_exchange_token"].starts_with("EAAGshort"));
    let accounts = calls(&api, "facebook", "GET", &format!("/{V}/me/accounts"));
    assert_eq!(accounts.len(), 1);
    let listed = query(&accounts[0]);
    assert!(listed["access_token"].starts_with("EAAGlong"));
    assert_eq!(listed["appsecret_proof"].len(), 64);

    // Page tokens are sealed at rest.
    let sealed = sealed_tokens(&api, "facebook").await;
    assert_eq!(sealed.len(), 3);
    assert!(
        sealed
            .iter()
            .all(|t| t.starts_with("v1.") && !t.contains("EAAGpage"))
    );

    // Keeping two of them: the person disconnects the other; the first stays primary.
    let drop = connections[1]["id"].as_str().unwrap();
    let (status, _, _) = api
        .send(api.req(Method::DELETE, "alice", &format!("/v1/connections/{drop}")))
        .await;
    assert_eq!(status, 204);
    let (_, list) = api.get("alice", "/v1/connections").await;
    let left: Vec<(&str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["provider"] == "facebook")
        .map(|c| {
            (
                c["account_label"].as_str().unwrap(),
                c["is_primary"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(left.len(), 2, "{list}");
    assert!(left.contains(&("Bakery", true)));
    assert!(left.contains(&("Bike shop", false)));
}

#[tokio::test]
async fn facebook_publishes_text_a_link_photos_and_a_video_with_the_documented_calls() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let page = connect(&api, "alice", "facebook").await.remove(0);
    let page_id = page["provider_account_id"].as_str().unwrap().to_owned();
    let feed = format!("/{V}/{page_id}/feed");

    // Text: one feed post with the message, as the Page, with the proof.
    let post = publish(
        &api,
        "alice",
        json!({ "name": "t", "universal_content": "Open until 6 today", "platforms": ["facebook"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["facebook"];
    let id = result["platform_post_id"].as_str().unwrap();
    let (owner, number) = id.split_once('_').unwrap();
    assert_eq!(owner, page_id);
    assert_eq!(
        result["url"],
        format!("https://www.facebook.com/{page_id}/posts/{number}").as_str()
    );
    let sent = calls(&api, "facebook", "POST", &feed);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let body = form(&sent[0].body);
    assert_eq!(body["message"], "Open until 6 today");
    assert!(!body.contains_key("link"));
    assert!(body["access_token"].starts_with("EAAGpage"));
    assert_eq!(body["appsecret_proof"].len(), 64);

    // A link: the text's first link goes as `link`.
    let post = publish(
        &api,
        "alice",
        json!({ "name": "l", "universal_content": "Our menu: https://example.com/menu.", "platforms": ["facebook"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let body = form(&calls(&api, "facebook", "POST", &feed)[1].body);
    assert_eq!(body["link"], "https://example.com/menu");
    assert_eq!(body["message"], "Our menu: https://example.com/menu.");

    // Two photos: each uploaded unpublished from its public URL, then attached to one post.
    let first = upload(&api, "alice", png(60, 40), "a.png", "a cake").await;
    let second = upload(&api, "alice", jpeg(50, 50), "b.jpg", "bread").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "p", "universal_content": "Fresh today", "platforms": ["facebook"],
                "media_files": [first["id"], second["id"]] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let photos = calls(&api, "facebook", "POST", &format!("/{V}/{page_id}/photos"));
    assert_eq!(photos.len(), 2);
    for (call, file) in photos.iter().zip([&first, &second]) {
        let body = form(&call.body);
        assert_eq!(body["url"], file["cdn_url"].as_str().unwrap());
        assert_eq!(body["published"], "false");
    }
    let posted = calls(&api, "facebook", "POST", &feed);
    let body = form(&posted[2].body);
    assert_eq!(body["message"], "Fresh today");
    let attached: Vec<Value> = ["attached_media[0]", "attached_media[1]"]
        .iter()
        .map(|k| serde_json::from_str(&body[*k]).unwrap())
        .collect();
    assert!(attached.iter().all(|a| a["media_fbid"].is_string()));
    assert!(!body.contains_key("attached_media[2]") && !body.contains_key("link"));
    // The photo calls came before the post.
    assert!(photos[1].at <= posted[2].at);
    let id = post["publish_results"]["facebook"]["platform_post_id"]
        .as_str()
        .unwrap();
    let held = sandbox.state().posts();
    let held = held.iter().find(|p| p.id == id).unwrap();
    assert_eq!(held.media.len(), 2);
    assert!(
        held.media
            .iter()
            .all(|m| m.starts_with("photo http://localhost/media/"))
    );

    // A video: one call to the Page's videos on the Graph API's video host, from its public
    // URL, the text as description.
    let video = upload(&api, "alice", mp4(), "v.mp4", "").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "v", "universal_content": "Watch us bake", "platforms": ["facebook"],
                "media_files": [video["id"]] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let videos = calls(
        &api,
        "facebook",
        "POST",
        &format!("/facebook-video/{V}/{page_id}/videos"),
    );
    assert_eq!(videos.len(), 1);
    let body = form(&videos[0].body);
    assert_eq!(body["file_url"], video["cdn_url"].as_str().unwrap());
    assert_eq!(body["description"], "Watch us bake");
    let result = &post["publish_results"]["facebook"];
    let video_id = result["platform_post_id"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!("https://www.facebook.com/{page_id}/videos/{video_id}").as_str()
    );
    assert_eq!(
        calls(&api, "facebook", "POST", &feed).len(),
        3,
        "no feed post for a video"
    );

    // What the Page holds.
    let held = sandbox.state().posts_of("facebook").unwrap();
    assert_eq!(held.len(), 4);
}

#[tokio::test]
async fn instagram_publishes_a_carousel_of_three_images_as_one_container_with_three_children() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let account = connect(&api, "alice", "instagram").await.remove(0);
    assert_eq!(account["account_label"], "@sandbox_ig");
    assert_eq!(account["account_type"], "business");
    assert_eq!(account["metadata"]["login"], "instagram");
    let ig = account["provider_account_id"].as_str().unwrap().to_owned();
    // A 60-day token, refreshable.
    let expires: DateTime<Utc> = account["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now() + Duration::days(59));
    // Instagram Login's calls: the authorisation page, the code exchange, the long-lived token.
    let code = calls(&api, "instagram", "POST", "/oauth/access_token");
    assert_eq!(code.len(), 1);
    assert_eq!(form(&code[0].body)["client_id"], INSTAGRAM_APP_ID);
    let exchange = calls(&api, "instagram", "GET", "/access_token");
    assert_eq!(query(&exchange[0])["grant_type"], "ig_exchange_token");

    // Each container answers "in progress" twice before it is finished.
    control(
        format!("{}/_sandbox/container_polls", sandbox.instagram_url()),
        json!({ "polls": 2 }),
    )
    .await;
    let mut media = Vec::new();
    for i in 0..3 {
        media.push(upload(&api, "alice", jpeg(80 + i, 80), "p.jpg", "").await);
    }
    let post = publish(
        &api,
        "alice",
        json!({ "name": "c", "universal_content": "Three loaves #bakery", "platforms": ["instagram"],
                "media_files": media.iter().map(|m| m["id"].clone()).collect::<Vec<_>>() }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");

    // The cap is read first; then three items, the carousel naming them, and one publish.
    let limit = calls(
        &api,
        "instagram",
        "GET",
        &format!("/{V}/{ig}/content_publishing_limit"),
    );
    assert_eq!(limit.len(), 1);
    let created = exact(&api, "instagram", "POST", &format!("/{V}/{ig}/media"));
    assert_eq!(created.len(), 4, "three items and the carousel");
    for (call, file) in created[..3].iter().zip(&media) {
        let body = form(&call.body);
        assert_eq!(body["image_url"], file["cdn_url"].as_str().unwrap());
        assert_eq!(body["is_carousel_item"], "true");
        assert!(!body.contains_key("caption"));
    }
    let carousel = form(&created[3].body);
    assert_eq!(carousel["media_type"], "CAROUSEL");
    assert_eq!(carousel["caption"], "Three loaves #bakery");
    let children: Vec<&str> = carousel["children"].split(',').collect();
    assert_eq!(children.len(), 3);
    // Every container was read until finished: three reads each.
    let reads = calls(&api, "instagram", "GET", &format!("/{V}/"))
        .into_iter()
        .filter(|r| {
            query(r)
                .get("fields")
                .is_some_and(|f| f.contains("status_code"))
        })
        .count();
    assert_eq!(reads, 4 * 3);
    let published = calls(
        &api,
        "instagram",
        "POST",
        &format!("/{V}/{ig}/media_publish"),
    );
    assert_eq!(published.len(), 1);
    let creation = form(&published[0].body)["creation_id"].clone();
    assert!(!children.contains(&creation.as_str()));

    let result = &post["publish_results"]["instagram"];
    let id = result["platform_post_id"].as_str().unwrap();
    assert!(
        result["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.instagram.com/p/")
    );
    let held = sandbox.state().posts_of("instagram").unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, id);
    assert_eq!(held[0].media.len(), 3);
    assert_eq!(held[0].text, "Three loaves #bakery");
}

/// The target's result of the post, once it has the error `code` (the post still publishing).
async fn wait_for_error(api: &Api, uid: &str, id: &str, key: &str, code: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (_, post) = api.get(uid, &format!("/v1/posts/{id}")).await;
        let result = &post["publish_results"][key];
        if result["error"]["code"] == code {
            return post;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no {code} error: {post}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn instagram_at_the_daily_cap_defers_the_target_to_the_reset_instead_of_failing() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    connect(&api, "alice", "instagram").await;
    // Three posts a day, all used: the oldest of them leaves the window in an hour.
    let now = Utc::now();
    let oldest = now - Duration::hours(23);
    control(
        format!("{}/_sandbox/publishing_limit", sandbox.instagram_url()),
        json!({ "username": "sandbox_ig", "quota_total": 3,
                "published_at": [oldest, now - Duration::hours(5), now - Duration::hours(1)] }),
    )
    .await;
    let photo = upload(&api, "alice", jpeg(60, 60), "p.jpg", "").await;
    let (status, created) = api
        .post(
            "alice",
            "/v1/posts",
            json!({ "name": "cap", "universal_content": "Tomorrow's bake", "platforms": ["instagram"],
                    "media_files": [photo["id"]] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .post("alice", &format!("/v1/posts/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, 202);

    let post = wait_for_error(&api, "alice", &id, "instagram", "instagram_daily_limit").await;
    // Deferred, not failed: the post is still publishing and the target pending.
    assert_eq!(post["status"], "publishing", "{post}");
    let result = &post["publish_results"]["instagram"];
    assert_eq!(result["status"], "pending");
    // It goes out when the oldest post leaves the window (rounded up to the minute).
    let reset = oldest + Duration::hours(24);
    let at = DateTime::from_timestamp((reset.timestamp() + 59) / 60 * 60, 0).unwrap();
    let when = if at.date_naive() == Utc::now().date_naive() {
        format!("at {} UTC", at.format("%H:%M"))
    } else {
        format!("tomorrow at {} UTC", at.format("%H:%M"))
    };
    assert_eq!(
        result["error"]["message"],
        format!("Instagram allows 3 posts a day for this account; it will go out {when}").as_str()
    );
    #[derive(diesel::QueryableByName)]
    struct Job {
        #[diesel(sql_type = Timestamptz)]
        run_at: DateTime<Utc>,
    }
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    let job: Job = diesel::sql_query("SELECT run_at FROM publish_jobs")
        .get_result(&mut owner)
        .await
        .unwrap();
    assert_eq!(job.run_at, at);
    // Nothing was created on Instagram: the cap was read first.
    assert!(calls(&api, "instagram", "POST", &format!("/{V}/")).is_empty());

    // When the slot frees (here: a higher cap, and the job's time brought forward), it goes out.
    control(
        format!("{}/_sandbox/publishing_limit", sandbox.instagram_url()),
        json!({ "username": "sandbox_ig", "quota_total": 25 }),
    )
    .await;
    diesel::sql_query("UPDATE publish_jobs SET run_at = now()")
        .execute(&mut owner)
        .await
        .unwrap();
    let post = api
        .settled_within("alice", &id, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(post["status"], "published", "{post}");
    assert!(post["publish_results"]["instagram"]["error"].is_null());
}

#[tokio::test]
async fn instagram_accounts_connect_through_their_facebook_page_and_publish_with_its_token() {
    let sandbox_flags = |base: &str| {
        [
            format!("--facebook-client-id={FACEBOOK_APP_ID}"),
            format!("--facebook-client-secret={FACEBOOK_APP_SECRET}"),
            format!("--facebook-auth-url={base}/facebook"),
            format!("--facebook-api-url={base}/facebook"),
        ]
    };
    // Facebook has an app (here: the fake's, named as a real one is), Instagram none: its
    // accounts come through their Pages.
    let sandbox = multivio_sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let flags = sandbox_flags(sandbox.url());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let api = Api::start_sandboxed(true, &flags, true).await;
    // The server started a sandbox of its own; the flags point Facebook at ours.
    control(
        format!("{}/_sandbox/next_login", sandbox.facebook_url()),
        json!({ "pages": [
            { "name": "No Instagram" },
            { "name": "Bakery", "instagram": "bakery_ig" },
        ]}),
    )
    .await;
    let (_, started) = api
        .post(
            "alice",
            "/v1/connections/instagram/authorize",
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), format!("/facebook/{V}/dialog/oauth"));
    let scope: String = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert!(scope.contains("instagram_content_publish"), "{scope}");
    let handed = approve_in_browser(&api, url.as_str()).await;
    let (status, done) = api
        .post(
            "alice",
            "/v1/connections/instagram/complete",
            json!({ "code": handed["code"], "state": handed["state"] }),
        )
        .await;
    assert_eq!(status, 201, "{done}");
    let items = done["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "only the Page with an Instagram account: {done}"
    );
    assert_eq!(items[0]["account_label"], "@bakery_ig");
    assert_eq!(items[0]["metadata"]["login"], "facebook");
    assert_eq!(items[0]["metadata"]["page_name"], "Bakery");
    let ig = items[0]["provider_account_id"].as_str().unwrap().to_owned();

    let photo = upload(&api, "alice", jpeg(60, 60), "p.jpg", "").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "i", "universal_content": "Via the Page", "platforms": ["instagram"],
                "media_files": [photo["id"]] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let requests = sandbox.state().requests();
    let container = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == format!("/{V}/{ig}/media"))
        .unwrap();
    let body = form(&container.body);
    assert_eq!(body["image_url"], photo["cdn_url"].as_str().unwrap());
    assert_eq!(body["caption"], "Via the Page");
    assert!(body["access_token"].starts_with("EAAGpage"));
    assert_eq!(body["appsecret_proof"].len(), 64);
    assert!(
        requests
            .iter()
            .any(|r| r.path == format!("/{V}/{ig}/media_publish"))
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn threads_publishes_text_and_an_image_counts_as_threads_does_and_refreshes_its_token() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let account = connect(&api, "alice", "threads").await.remove(0);
    assert_eq!(account["account_label"], "@sandbox_threads");
    let user = account["provider_account_id"].as_str().unwrap().to_owned();
    let code = calls(&api, "threads", "POST", "/oauth/access_token");
    assert_eq!(form(&code[0].body)["client_id"], THREADS_APP_ID);
    assert_eq!(form(&code[0].body)["grant_type"], "authorization_code");
    let exchange = calls(&api, "threads", "GET", "/access_token");
    assert_eq!(query(&exchange[0])["grant_type"], "th_exchange_token");

    // Text.
    let post = publish(
        &api,
        "alice",
        json!({ "name": "t", "universal_content": "Hello Threads 👋", "platforms": ["threads"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let containers = exact(&api, "threads", "POST", &format!("/v1.0/{user}/threads"));
    let text = form(&containers[0].body);
    assert_eq!(text["media_type"], "TEXT");
    assert_eq!(text["text"], "Hello Threads 👋");
    let publishes = calls(
        &api,
        "threads",
        "POST",
        &format!("/v1.0/{user}/threads_publish"),
    );
    assert_eq!(publishes.len(), 1);
    let result = &post["publish_results"]["threads"];
    assert!(
        result["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.threads.net/@sandbox_threads/post/")
    );

    // An image, by its public URL, with its alt text.
    let photo = upload(&api, "alice", jpeg(64, 64), "p.jpg", "a sourdough loaf").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "i", "universal_content": "Fresh", "platforms": ["threads"],
                "media_files": [photo["id"]] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let containers = exact(&api, "threads", "POST", &format!("/v1.0/{user}/threads"));
    let image = form(&containers.last().unwrap().body);
    assert_eq!(image["media_type"], "IMAGE");
    assert_eq!(image["image_url"], photo["cdn_url"].as_str().unwrap());
    assert_eq!(image["alt_text"], "a sourdough loaf");
    assert_eq!(image["text"], "Fresh");
    let held = sandbox.state().posts_of("threads").unwrap();
    assert_eq!(held.len(), 2);

    // 500 characters as Threads counts them: an emoji weighs its UTF-8 bytes (👋 is 4).
    let caller = &api;
    let check = |text: String| async move {
        let (status, report) = caller
            .post(
                "alice",
                "/v1/posts/validate",
                json!({ "name": "v", "universal_content": text, "platforms": ["threads"] }),
            )
            .await;
        assert_eq!(status, 200, "{report}");
        report["platforms"]["threads"].clone()
    };
    let at_limit = check("👋".repeat(125)).await;
    assert_eq!(at_limit["valid"], true, "{at_limit}");
    assert_eq!(at_limit["length"], 500);
    let over = check(format!("{}a", "👋".repeat(125))).await;
    assert_eq!(over["valid"], false, "{over}");
    assert_eq!(over["length"], 501);
    let (status, refused) = api
        .post(
            "alice",
            "/v1/posts",
            json!({ "name": "long", "universal_content": "x".repeat(501), "platforms": ["threads"],
                    "schedule_date": (Utc::now() + Duration::hours(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");

    // Token refresh: a day later (the fake ages its tokens), the token expiring within minutes
    // is refreshed with itself before the next post, which goes with the new one.
    control(
        format!("{}/_sandbox/age_tokens", sandbox.threads_url()),
        json!({ "hours": 25 }),
    )
    .await;
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    diesel::sql_query(
        "UPDATE social_connections SET expires_at = now() + interval '2 minutes' \
         WHERE provider = 'threads'",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let old_token = form(&publishes[0].body)["access_token"].clone();
    let post = publish(
        &api,
        "alice",
        json!({ "name": "r", "universal_content": "After a refresh", "platforms": ["threads"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let refreshes = calls(&api, "threads", "GET", "/refresh_access_token");
    assert_eq!(refreshes.len(), 1);
    let asked = query(&refreshes[0]);
    assert_eq!(asked["grant_type"], "th_refresh_token");
    assert_eq!(asked["access_token"], old_token);
    let last = calls(
        &api,
        "threads",
        "POST",
        &format!("/v1.0/{user}/threads_publish"),
    );
    let new_token = form(&last.last().unwrap().body)["access_token"].clone();
    assert_ne!(new_token, old_token);
    assert!(new_token.starts_with("THlong"));
    let (_, list) = api.get("alice", "/v1/connections").await;
    let threads = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == "threads")
        .unwrap();
    let expires: DateTime<Utc> = threads["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now() + Duration::days(59), "{threads}");
}

#[tokio::test]
async fn a_threads_thread_is_a_chain_of_replies() {
    let api = Api::start_with_sandbox().await;
    let account = connect(&api, "alice", "threads").await.remove(0);
    let user = account["provider_account_id"].as_str().unwrap().to_owned();
    let post = publish(
        &api,
        "alice",
        json!({ "name": "th", "universal_content": "1/3 Baking day", "platforms": ["threads"],
                "thread": [{ "text": "2/3 Flour" }, { "text": "3/3 Water" }] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let parts = post["publish_results"]["threads"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 3);
    let containers = exact(&api, "threads", "POST", &format!("/v1.0/{user}/threads"));
    let bodies: Vec<HashMap<String, String>> = containers.iter().map(|c| form(&c.body)).collect();
    assert!(!bodies[0].contains_key("reply_to_id"));
    assert_eq!(
        bodies[1]["reply_to_id"],
        parts[0]["platform_post_id"].as_str().unwrap()
    );
    assert_eq!(
        bodies[2]["reply_to_id"],
        parts[1]["platform_post_id"].as_str().unwrap()
    );
    // Replies count against the replies' cap.
    let limits = calls(
        &api,
        "threads",
        "GET",
        &format!("/v1.0/{user}/threads_publishing_limit"),
    );
    assert_eq!(limits.len(), 3);
    assert!(query(&limits[0])["fields"].starts_with("quota_usage"));
    assert!(query(&limits[2])["fields"].starts_with("reply_quota_usage"));
}

#[tokio::test]
async fn providers_report_facebook_instagram_and_threads_configured_through_the_sandbox() {
    let api = Api::start_with_sandbox().await;
    let base = api.sandbox().url().to_owned();
    let (status, providers) = api.get("alice", "/v1/providers").await;
    assert_eq!(status, 200);
    for (name, path) in [
        ("facebook", "facebook"),
        ("instagram", "instagram"),
        ("threads", "threads"),
    ] {
        let p = providers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == name)
            .unwrap();
        assert_eq!(p["configured"], true, "{p}");
        assert_eq!(p["connect_with"], "oauth", "{p}");
        assert_eq!(p["sandbox"], true, "{p}");
        assert_eq!(p["sandbox_server_url"], format!("{base}/{path}").as_str());
    }
}

//! What the API tests of LinkedIn, YouTube, Pinterest and TikTok share: connecting through the
//! sandbox's fakes, their controls, uploads, the requests a fake received, the sealed tokens.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_sandbox::Recorded;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Api;
use crate::platforms::{RETURN_TO, approve_in_browser};

/// Connects through OAuth (the fake approves at once): answers the connections made.
pub(crate) async fn connect(api: &Api, uid: &str, provider: &str) -> Vec<Value> {
    let (status, started) = api
        .post(
            uid,
            &format!("/v1/connections/{provider}/authorize"),
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    // Google's and TikTok's redirects carry parameters of their own (`scope`, `scopes`):
    // the callback ignores them, as OAuth has a client do.
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

/// The authorisation URL the API hands out for `provider`, parsed.
pub(crate) async fn authorization_url(api: &Api, uid: &str, provider: &str) -> url::Url {
    let (status, started) = api
        .post(
            uid,
            &format!("/v1/connections/{provider}/authorize"),
            json!({ "return_to": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap()
}

/// A control call to the sandbox (POST, JSON): its answer.
pub(crate) async fn control(url: String, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// The requests one fake received, `method` on paths starting with `path`, oldest first.
pub(crate) fn calls(api: &Api, platform: &str, method: &str, path: &str) -> Vec<Recorded> {
    api.sandbox()
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == platform && r.method == method && r.path.starts_with(path))
        .collect()
}

/// Uploads a file named `name` (its type is read from the bytes); answers the media row.
pub(crate) async fn upload_file(api: &Api, uid: &str, bytes: Vec<u8>, name: &str) -> Value {
    let boundary = "multivio-kit-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
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

/// An MP4 of about `size` bytes: its `ftyp` box (what the upload's type detection reads),
/// then filler.
pub(crate) fn mp4(size: usize) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    let mut seed = 7u32;
    while bytes.len() < size {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push((seed >> 16) as u8);
    }
    bytes
}

/// The sealed access tokens of the provider's connections, as stored.
pub(crate) async fn sealed_tokens(api: &Api, provider: &str) -> Vec<String> {
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

/// The provider's entry of `GET /v1/providers`.
pub(crate) async fn provider_entry(api: &Api, name: &str) -> Value {
    let (status, providers) = api.get("alice", "/v1/providers").await;
    assert_eq!(status, 200, "{providers}");
    providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == name)
        .cloned()
        .unwrap()
}

/// Marks the provider's connections' access tokens as expired a minute ago (the worker then
/// refreshes them before publishing).
pub(crate) async fn expire_connections(api: &Api, provider: &str) {
    let mut owner = AsyncPgConnection::establish(api.db.url()).await.unwrap();
    diesel::sql_query(format!(
        "UPDATE social_connections SET expires_at = now() - interval '1 minute' \
         WHERE provider = '{provider}'"
    ))
    .execute(&mut owner)
    .await
    .unwrap();
}

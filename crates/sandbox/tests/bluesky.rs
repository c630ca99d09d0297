//! The fake of Bluesky refuses what the real PDS refuses, with the same statuses and error
//! names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_sandbox::Sandbox;
use serde_json::{Value, json};

struct Fake {
    sandbox: Sandbox,
    http: reqwest::Client,
}

impl Fake {
    async fn start() -> Fake {
        let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let http = multivio_social::http::client(std::time::Duration::from_secs(10)).unwrap();
        Fake { sandbox, http }
    }

    fn url(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.sandbox.bluesky_url())
    }

    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn post(&self, nsid: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(self.url(nsid)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::answer(request.send().await.unwrap()).await
    }

    async fn get(&self, nsid: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(nsid))
            .query(query)
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }

    async fn session(&self, identifier: &str) -> Value {
        let (status, session) = self
            .post(
                "com.atproto.server.createSession",
                None,
                json!({"identifier": identifier, "password": "abcd-efgh-ijkl-mnop"}),
            )
            .await;
        assert_eq!(status, 200, "{session}");
        session
    }

    async fn upload(&self, token: &str, content_type: &str, bytes: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("com.atproto.repo.uploadBlob"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }
}

fn error_of(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or(""))
}

fn post(text: &str) -> Value {
    json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-30T12:00:00.000Z"})
}

#[tokio::test]
async fn sessions_are_strict_about_passwords_and_tokens() {
    let fake = Fake::start().await;
    let wrong = fake
        .post(
            "com.atproto.server.createSession",
            None,
            json!({"identifier": "alice", "password": "wrong-wrong-wrong-wrong"}),
        )
        .await;
    assert_eq!(wrong.0, 401);
    assert_eq!(
        wrong.1,
        json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
    );
    let missing = fake
        .post(
            "com.atproto.server.createSession",
            None,
            json!({"identifier": "alice"}),
        )
        .await;
    assert_eq!(error_of(&missing), (400, "InvalidRequest"));
    let form = fake
        .http
        .post(fake.url("com.atproto.server.createSession"))
        .form(&[("identifier", "alice"), ("password", "abcd-efgh-ijkl-mnop")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&Fake::answer(form).await), (400, "InvalidRequest"));

    let session = fake.session("alice").await;
    let did = session["did"].as_str().unwrap();
    assert_eq!(session["handle"], "alice.bsky.sandbox");
    assert_eq!(
        session["didDoc"]["service"][0],
        json!({"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
               "serviceEndpoint": fake.sandbox.bluesky_url()})
    );
    assert_eq!(fake.session(did).await["did"], did, "a DID signs in too");

    let access = session["accessJwt"].as_str().unwrap();
    let refresh = session["refreshJwt"].as_str().unwrap();
    let no_auth = fake
        .post("com.atproto.repo.createRecord", None, json!({}))
        .await;
    assert_eq!(error_of(&no_auth), (401, "AuthMissing"));
    let garbage = fake
        .post("com.atproto.repo.createRecord", Some("garbage"), json!({}))
        .await;
    assert_eq!(error_of(&garbage), (400, "InvalidToken"));
    let wrong_scope = fake
        .post("com.atproto.server.refreshSession", Some(access), json!({}))
        .await;
    assert_eq!(error_of(&wrong_scope), (400, "InvalidToken"));

    let rotated = fake
        .post(
            "com.atproto.server.refreshSession",
            Some(refresh),
            json!({}),
        )
        .await;
    assert_eq!(rotated.0, 200);
    assert_ne!(rotated.1["refreshJwt"], session["refreshJwt"]);
    let reused = fake
        .post(
            "com.atproto.server.refreshSession",
            Some(refresh),
            json!({}),
        )
        .await;
    assert_eq!(reused.0, 400);
    assert_eq!(
        reused.1,
        json!({"error": "ExpiredToken", "message": "Token has been revoked"})
    );

    fake.http
        .post(format!(
            "{}/_sandbox/expire_access",
            fake.sandbox.bluesky_url()
        ))
        .send()
        .await
        .unwrap();
    let expired = fake
        .post("com.atproto.repo.createRecord", Some(access), json!({}))
        .await;
    assert_eq!(expired.0, 400);
    assert_eq!(
        expired.1,
        json!({"error": "ExpiredToken", "message": "Token has expired"})
    );
}

#[tokio::test]
async fn records_are_checked_against_the_post_lexicon_and_what_the_fake_holds() {
    let fake = Fake::start().await;
    let session = fake.session("alice").await;
    let token = session["accessJwt"].as_str().unwrap();
    let did = session["did"].as_str().unwrap();
    let create = |rkey: Option<&str>, record: Value| {
        let mut input = json!({"repo": did, "collection": "app.bsky.feed.post", "record": record});
        if let Some(rkey) = rkey {
            input["rkey"] = json!(rkey);
        }
        fake.post("com.atproto.repo.createRecord", Some(token), input)
    };

    let ok = create(Some("3jzfcijpj2z2a"), post("hello")).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert_eq!(
        ok.1["uri"],
        format!("at://{did}/app.bsky.feed.post/3jzfcijpj2z2a")
    );
    assert_eq!(ok.1["validationStatus"], "valid");
    let cid = ok.1["cid"].as_str().unwrap().to_owned();
    assert!(cid.starts_with("bafyrei"));

    // The same key again: the reference PDS's 500.
    let again = create(Some("3jzfcijpj2z2a"), post("hello")).await;
    assert_eq!(again.0, 500);
    assert_eq!(
        again.1,
        json!({"error": "InternalServerError", "message": "Internal Server Error"})
    );
    // Or, once asked, the 409 of other PDS implementations; anything else is refused.
    let key_in_use = |input: Value| {
        fake.http
            .post(format!(
                "{}/_sandbox/key_in_use",
                fake.sandbox.bluesky_url()
            ))
            .json(&input)
            .send()
    };
    assert_eq!(
        key_in_use(json!({"status": 404})).await.unwrap().status(),
        400
    );
    assert_eq!(
        key_in_use(json!({"status": 409})).await.unwrap().status(),
        204
    );
    let conflict = create(Some("3jzfcijpj2z2a"), post("hello")).await;
    assert_eq!(error_of(&conflict), (409, "RecordAlreadyExists"));
    assert_eq!(
        key_in_use(json!({"status": 500})).await.unwrap().status(),
        204
    );
    assert_eq!(create(Some("3jzfcijpj2z2a"), post("hello")).await.0, 500);
    let read = fake
        .get(
            "com.atproto.repo.getRecord",
            &[
                ("repo", did),
                ("collection", "app.bsky.feed.post"),
                ("rkey", "3jzfcijpj2z2a"),
            ],
        )
        .await;
    assert_eq!(read.0, 200);
    assert_eq!(read.1["cid"], cid.as_str());
    assert_eq!(read.1["value"]["text"], "hello");
    let absent = fake
        .get(
            "com.atproto.repo.getRecord",
            &[
                ("repo", did),
                ("collection", "app.bsky.feed.post"),
                ("rkey", "3jzfcijpj2z2b"),
            ],
        )
        .await;
    assert_eq!(error_of(&absent), (400, "RecordNotFound"));

    let refused = [
        (Some("not-a-tid"), post("x"), "InvalidRequest"),
        (None, post(&"a".repeat(301)), "InvalidRequest"),
        (None, post(&"👨‍👩‍👧‍👦".repeat(150)), "InvalidRequest"),
        (None, json!({"text": "x"}), "InvalidRequest"),
        (
            None,
            json!({"$type": "app.bsky.feed.like", "text": "x"}),
            "InvalidRequest",
        ),
        (
            None,
            json!({"text": "x", "createdAt": "yesterday"}),
            "InvalidRequest",
        ),
        // A facet that cuts "é" in half.
        (
            None,
            json!({"text": "é", "createdAt": "2026-11-30T12:00:00.000Z", "facets": [
                {"index": {"byteStart": 0, "byteEnd": 1},
                 "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}]}),
            "InvalidRequest",
        ),
        (
            None,
            json!({"text": "x", "createdAt": "2026-11-30T12:00:00.000Z", "reply": {
                "root": {"uri": format!("at://{did}/app.bsky.feed.post/3jzfcijpj2z2a"), "cid": cid},
                "parent": {"uri": format!("at://{did}/app.bsky.feed.post/3jzfcijpj2z2a"), "cid": "bafyreiwrong"}}}),
            "InvalidRequest",
        ),
    ];
    for (rkey, record, name) in refused {
        let answer = create(rkey, record.clone()).await;
        assert_eq!(error_of(&answer), (400, name), "{record}: {}", answer.1);
    }

    // Images: uploaded blobs only, with their own type and size, at most four.
    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let uploaded = fake.upload(token, "image/png", png.clone()).await;
    assert_eq!(uploaded.0, 200);
    let blob = uploaded.1["blob"].clone();
    assert_eq!(blob["$type"], "blob");
    assert_eq!(blob["mimeType"], "image/png");
    assert_eq!(blob["size"], png.len());
    assert!(
        blob["ref"]["$link"]
            .as_str()
            .unwrap()
            .starts_with("bafkrei")
    );
    let with_images = |images: Vec<Value>| {
        json!({"text": "", "createdAt": "2026-11-30T12:00:00.000Z",
               "embed": {"$type": "app.bsky.embed.images", "images": images}})
    };
    let image = |blob: &Value| json!({"alt": "", "image": blob});
    assert_eq!(create(None, with_images(vec![image(&blob)])).await.0, 200);
    let mut unknown = blob.clone();
    unknown["ref"]["$link"] = json!("bafkreiunknown");
    assert_eq!(
        error_of(&create(None, with_images(vec![image(&unknown)])).await),
        (400, "BlobNotFound")
    );
    let mut other_type = blob.clone();
    other_type["mimeType"] = json!("image/jpeg");
    assert_eq!(
        error_of(&create(None, with_images(vec![image(&other_type)])).await),
        (400, "InvalidMimeType")
    );
    let mut too_big = blob.clone();
    too_big["size"] = json!(2_000_001);
    assert_eq!(
        error_of(&create(None, with_images(vec![image(&too_big)])).await),
        (400, "InvalidRequest")
    );
    assert_eq!(
        error_of(&create(None, with_images(vec![image(&blob); 5])).await),
        (400, "InvalidRequest")
    );
    // Another account cannot use alice's blob, nor write to her repo.
    let bob = fake.session("bob").await;
    let bob_token = bob["accessJwt"].as_str().unwrap();
    let foreign = fake
        .post(
            "com.atproto.repo.createRecord",
            Some(bob_token),
            json!({"repo": bob["did"], "collection": "app.bsky.feed.post",
                   "record": with_images(vec![image(&blob)])}),
        )
        .await;
    assert_eq!(error_of(&foreign), (400, "BlobNotFound"));
    let not_his = fake
        .post(
            "com.atproto.repo.createRecord",
            Some(bob_token),
            json!({"repo": did, "collection": "app.bsky.feed.post", "record": post("x")}),
        )
        .await;
    assert_eq!(error_of(&not_his), (401, "AuthenticationRequired"));

    let huge = fake
        .upload(token, "image/jpeg", vec![0u8; 5 * 1024 * 1024 + 1])
        .await;
    assert_eq!(error_of(&huge), (413, "PayloadTooLarge"));
}

#[tokio::test]
async fn handles_resolve_when_the_fake_knows_them() {
    let fake = Fake::start().await;
    let session = fake.session("carol.example.com").await;
    let known = fake
        .get(
            "com.atproto.identity.resolveHandle",
            &[("handle", "carol.example.com")],
        )
        .await;
    assert_eq!(known, (200, json!({"did": session["did"]})));
    let own_domain = fake
        .get(
            "com.atproto.identity.resolveHandle",
            &[("handle", "dave.bsky.sandbox")],
        )
        .await;
    assert_eq!(own_domain.0, 200);
    let unknown = fake
        .get(
            "com.atproto.identity.resolveHandle",
            &[("handle", "nobody.example.com")],
        )
        .await;
    assert_eq!(
        unknown,
        (
            400,
            json!({"error": "InvalidRequest", "message": "Unable to resolve handle"})
        )
    );
}

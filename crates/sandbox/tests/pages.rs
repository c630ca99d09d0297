//! The sandbox's own endpoints: posts listed and filtered, duplicates found, requests
//! filtered — and every post kept when several clients post at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_sandbox::Sandbox;
use serde_json::{Value, json};

const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";

/// An HTTP client (Multivio's: rustls with its crypto provider installed).
fn http() -> reqwest::Client {
    multivio_social::http::client(std::time::Duration::from_secs(30)).unwrap()
}

/// Signs `who` in to the fake of Bluesky: (access token, DID).
async fn session(sandbox: &Sandbox, who: &str) -> (String, String) {
    let answer: Value = http()
        .post(format!(
            "{}/xrpc/com.atproto.server.createSession",
            sandbox.bluesky_url()
        ))
        .json(&json!({"identifier": who, "password": APP_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        answer["accessJwt"].as_str().unwrap().to_owned(),
        answer["did"].as_str().unwrap().to_owned(),
    )
}

/// Posts `text` as the account: its `at://` URI.
async fn post(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    (token, did): &(String, String),
    text: &str,
) -> String {
    let response = client
        .post(format!(
            "{}/xrpc/com.atproto.repo.createRecord",
            sandbox.bluesky_url()
        ))
        .bearer_auth(token)
        .json(&json!({
            "repo": did,
            "collection": "app.bsky.feed.post",
            "record": {"text": text, "createdAt": "2026-01-01T00:00:00.000Z"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["uri"].as_str().unwrap().to_owned()
}

async fn get(sandbox: &Sandbox, path: &str) -> (u16, Value) {
    let response = http()
        .get(format!("{}{path}", sandbox.url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn len(list: &Value) -> usize {
    list.as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_listed_filtered_and_checked_for_duplicates() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = http();
    let alice = session(&sandbox, "alice").await;
    let bob = session(&sandbox, "bob").await;
    let first = post(&client, &sandbox, &alice, "hello").await;
    let second = post(&client, &sandbox, &alice, "hello").await;
    post(&client, &sandbox, &alice, "bye").await;
    post(&client, &sandbox, &bob, "hello").await;

    let (status, all) = get(&sandbox, "/_sandbox/posts").await;
    assert_eq!((status, len(&all)), (200, 4));
    let one = &all[0];
    assert_eq!(one["platform"], "bluesky");
    assert_eq!(one["account"], "alice.bsky.sandbox");
    assert_eq!(one["id"], first.as_str());
    assert_eq!(one["text"], "hello");
    assert!(one["created_at"].is_string() && one["url"].is_string());
    assert_eq!(
        len(&get(&sandbox, "/_sandbox/posts?platform=bsky").await.1),
        4
    );
    assert_eq!(
        get(&sandbox, "/_sandbox/posts?platform=x").await.1,
        json!([])
    );
    assert_eq!(
        get(&sandbox, "/_sandbox/posts?platform=mastodon").await.1,
        json!([])
    );
    assert_eq!(
        len(&get(
            &sandbox,
            "/_sandbox/posts?platform=bluesky&account=alice.bsky.sandbox"
        )
        .await
        .1),
        3
    );
    assert_eq!(
        len(&get(
            &sandbox,
            "/_sandbox/posts?account=alice.bsky.sandbox&text=hello"
        )
        .await
        .1),
        2
    );
    for bad in [
        "/_sandbox/posts?platform=twitter",
        "/_sandbox/posts?colour=red",
        "/_sandbox/posts?text=a&text=b",
        "/_sandbox/duplicates?text=hello",
        "/_sandbox/requests?platform=myspace",
    ] {
        assert_eq!(get(&sandbox, bad).await.0, 400, "{bad}");
    }

    let (_, duplicates) = get(&sandbox, "/_sandbox/duplicates").await;
    assert_eq!(
        duplicates,
        json!([{
            "platform": "bluesky",
            "account": "alice.bsky.sandbox",
            "text": "hello",
            "count": 2,
            "ids": [first, second],
        }])
    );
    assert_eq!(
        get(&sandbox, "/_sandbox/duplicates?platform=x").await.1,
        json!([])
    );

    let (_, creates) = get(
        &sandbox,
        "/_sandbox/requests?platform=bluesky&method=POST&path=/xrpc/com.atproto.repo.createRecord",
    )
    .await;
    assert_eq!(len(&creates), 4);
    assert!(
        creates[0]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert_eq!(
        get(&sandbox, "/_sandbox/requests?platform=x").await.1,
        json!([])
    );
    assert_eq!(
        len(&get(&sandbox, "/_sandbox/requests?method=GET").await.1),
        0,
        "the sandbox's own pages are not recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_is_kept_when_several_clients_post_at_once() {
    const CLIENTS: usize = 4;
    const EACH: usize = 300;
    let sandbox = std::sync::Arc::new(
        Sandbox::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let sandbox = sandbox.clone();
        tasks.push(tokio::spawn(async move {
            let account = session(&sandbox, &format!("worker{c}")).await;
            let client = http();
            for i in 0..EACH {
                post(&client, &sandbox, &account, &format!("post {c}-{i}")).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, all) = get(&sandbox, "/_sandbox/posts?platform=bsky").await;
    assert_eq!(len(&all), CLIENTS * EACH);
    assert_eq!(get(&sandbox, "/_sandbox/duplicates").await.1, json!([]));
    let (_, one) = get(&sandbox, "/_sandbox/posts?text=post%202-299").await;
    assert_eq!(one[0]["account"], "worker2.bsky.sandbox");
}

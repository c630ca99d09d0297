//! The S3 adapter against a real S3-compatible server (moto), with the suite the disk adapter
//! passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Fixture;
use common::moto::{Moto, start_or_skip};
use futures_util::StreamExt;
use multivio_ports::media::{Delivery, MediaStore};
use multivio_storage::{S3Config, S3Store};
use object_store::ObjectStore;

const BUCKET: &str = "multivio-media";

fn config(endpoint: &str, public_url: Option<&str>, read_limit: u64) -> S3Config {
    S3Config {
        bucket: BUCKET.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        region: Some("us-east-1".to_owned()),
        access_key_id: Some("test".to_owned()),
        secret_access_key: Some("test-secret".to_owned()),
        session_token: None,
        public_url: public_url.map(str::to_owned),
        api_media_base: "http://127.0.0.1:8080/media".to_owned(),
        read_limit,
        read_timeout: S3Config::READ_TIMEOUT,
    }
}

async fn create_bucket(endpoint: &str) {
    let resp = reqwest::Client::new()
        .put(format!("{endpoint}/{BUCKET}"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// Every object in the bucket and every multipart upload still open.
async fn leftovers(endpoint: String) -> Vec<String> {
    let lister = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test-secret")
        .build()
        .unwrap();
    let mut found: Vec<String> = lister
        .list(None)
        .map(|m| m.unwrap().location.to_string())
        .collect()
        .await;
    let uploads = reqwest::Client::new()
        .get(format!("{endpoint}/{BUCKET}?uploads"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for part in uploads.split("<Key>").skip(1) {
        let key = part.split("</Key>").next().unwrap_or_default();
        found.push(format!("multipart upload of {key}"));
    }
    found
}

async fn fixture_with(public_url: Option<&str>, read_limit: u64) -> Option<(Fixture, Arc<Moto>)> {
    let moto = Arc::new(start_or_skip()?);
    // Before any HTTP client: it installs rustls' crypto provider.
    let store = S3Store::new(config(&moto.endpoint, public_url, read_limit)).unwrap();
    create_bucket(&moto.endpoint).await;
    let endpoint = moto.endpoint.clone();
    let fixture = Fixture {
        store: Arc::new(store),
        leftovers: Box::new(move || Box::pin(leftovers(endpoint.clone()))),
        read_limit,
        expected_delivery: if public_url.is_some() {
            Delivery::PublicUrl
        } else {
            Delivery::Api
        },
        public_base: public_url
            .unwrap_or("http://127.0.0.1:8080/media")
            .trim_end_matches('/')
            .to_owned(),
        _guard: Box::new(moto.clone()),
    };
    Some((fixture, moto))
}

/// The suite's fixture: a bucket behind a public (CDN) URL; `None` (said loudly) only with
/// `MULTIVIO_S3_TESTS=skip`.
async fn fixture() -> Option<Fixture> {
    fixture_with(Some("https://cdn.example.com/"), 4 << 20)
        .await
        .map(|(fixture, _)| fixture)
}

media_store_suite!(
    fixture,
    // Past two multipart parts: the refusal aborts a multipart upload.
    cap = 12 << 20,
    large = (11 << 20) + 12_345,
    abandon_after = 11 << 20
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_url_the_api_serves_the_bytes() {
    let Some((f, _moto)) = fixture_with(None, 1 << 20).await else {
        return;
    };
    assert_eq!(f.store.delivery(), Delivery::Api);
    let url = f
        .store
        .put("9/x.png", vec![1, 2, 3], "image/png")
        .await
        .unwrap();
    assert_eq!(url, "http://127.0.0.1:8080/media/9/x.png");
}

/// A TCP relay to `target` that counts the connections opened through it.
async fn counting_relay(target: &str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_owned();
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = opened.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{address}"), opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_may_last_far_longer_than_the_read_timeout() {
    // A client reading slowly, but never pausing as long as the read timeout, for many times
    // that timeout: every byte arrives over the one request (a limit on the request as a whole
    // would cut it, and object_store would resume it with a range on a new connection, a few
    // times before giving up).
    let Some((f, moto)) = fixture_with(None, 32 << 20).await else {
        return;
    };
    let bytes: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    f.store
        .put("9/slow.mp4", bytes.clone(), "video/mp4")
        .await
        .unwrap();
    let (relay, opened) = counting_relay(&moto.endpoint).await;
    // Long enough for a busy machine's moto to answer within it.
    let timeout = std::time::Duration::from_secs(2);
    let slow = S3Store::new(S3Config {
        read_timeout: timeout,
        ..config(&relay, None, 32 << 20)
    })
    .unwrap();
    let mut read = slow.open("9/slow.mp4", None).await.unwrap();
    let before_reading = opened.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let slow_for = timeout * 3;
    let mut got = Vec::with_capacity(bytes.len());
    while let Some(chunk) = read.body.next().await {
        got.extend_from_slice(&chunk.expect("every chunk arrives"));
        if started.elapsed() < slow_for {
            tokio::time::sleep(timeout / 3).await;
        }
    }
    assert!(got == bytes, "{} of {} bytes", got.len(), bytes.len());
    assert!(
        started.elapsed() >= slow_for,
        "the download ended before it outlasted the timeout"
    );
    assert_eq!(
        opened.load(Ordering::SeqCst),
        before_reading,
        "the download was cut and resumed over new connections"
    );
}

#[test]
fn the_configuration_never_shows_its_secrets() {
    let mut c = config("http://127.0.0.1:9", None, 1);
    c.session_token = Some("token-value".to_owned());
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("test-secret") && !shown.contains("token-value"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>") && shown.contains(BUCKET));
    assert!(
        S3Store::new(S3Config {
            bucket: " ".to_owned(),
            ..c
        })
        .is_err()
    );
}

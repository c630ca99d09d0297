//! Uploading media: the type comes from the bytes, the answer says which platforms accept the
//! file, and the bytes are served back (streamed, by range, revalidated); uploads stream to
//! storage within the size cap, the storage quota and each account's own upload slots.

use std::time::Duration;

use multivio_domain::Provider;
use multivio_http::rate_limit::{Action, RateLimits};
use multivio_social::Registry;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Api, assert_problem};

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 64]);
    b
}

/// A `multipart/form-data` body with a `file` part (declared as `declared_type`) and an
/// optional `alt_text` part.
fn multipart(file: &[u8], declared_type: &str, alt_text: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "multivio-test-boundary";
    let mut body = Vec::new();
    if let Some(alt) = alt_text {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{alt}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\nContent-Type: {declared_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_upload_is_typed_from_its_bytes_measured_and_served() {
    let api = Api::start().await;
    let (ct, body) = multipart(
        &png(1080, 1350),
        "application/octet-stream",
        Some("a red bicycle"),
    );
    let (status, file, _) = api
        .send(
            api.req(Method::POST, "alice", "/v1/media")
                .header("content-type", ct)
                .body(body),
        )
        .await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["file_type"], "image/png");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(1080), Some(1350))
    );
    assert_eq!(file["alt_text"], "a red bicycle");
    assert_eq!(file["original_filename"], "photo.png");
    let platforms: Vec<&str> = file["platform_compatibility"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        platforms.contains(&"twitter") && platforms.contains(&"instagram"),
        "{platforms:?}"
    );

    // The stored bytes are served at the key of the row.
    let key = file["filename"].as_str().unwrap();
    let resp = api
        .client
        .get(format!("{}/media/{key}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png(1080, 1350));
    assert_eq!(
        api.client
            .get(format!("{}/media/../etc/passwd", api.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // Listed, and usable in a post.
    let (_, list) = api.get("alice", "/v1/media").await;
    assert_eq!(list["items"][0]["id"], file["id"]);
    let (status, post) = api
        .post(
            "alice",
            "/v1/posts",
            serde_json::json!({ "name": "with media", "media_files": [file["id"]] }),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    // Deleting removes the bytes too.
    let id = file["id"].as_str().unwrap();
    assert_eq!(
        api.send(api.req(Method::DELETE, "alice", &format!("/v1/media/{id}")))
            .await
            .0,
        204
    );
    assert_eq!(
        api.client
            .get(format!("{}/media/{key}", api.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn uploads_that_are_not_media_or_too_large_are_refused() {
    let api = Api::start().await;
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        (
            "text claiming to be a PNG",
            multipart(b"hello, not an image", "image/png", None).0,
            multipart(b"hello, not an image", "image/png", None).1,
            415,
        ),
        (
            "svg",
            multipart(
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "image/svg+xml",
                None,
            )
            .0,
            multipart(b"<svg/>", "image/svg+xml", None).1,
            415,
        ),
        (
            "too large",
            multipart(&png_of(300 * 1024), "image/png", None).0,
            multipart(&png_of(300 * 1024), "image/png", None).1,
            413,
        ),
        (
            "no file part",
            "multipart/form-data; boundary=x".into(),
            b"--x\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\nhi\r\n--x--\r\n"
                .to_vec(),
            422,
        ),
        (
            "unknown part",
            "multipart/form-data; boundary=x".into(),
            b"--x\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\n2\r\n--x--\r\n"
                .to_vec(),
            400,
        ),
        (
            "not multipart",
            "application/json".into(),
            b"{}".to_vec(),
            400,
        ),
        (
            "broken multipart",
            "multipart/form-data; boundary=x".into(),
            b"--x\r\nnonsense".to_vec(),
            400,
        ),
    ];
    for (name, ct, body, expected) in cases {
        let (status, answer, content_type) = api
            .send(
                api.req(Method::POST, "alice", "/v1/media")
                    .header("content-type", ct)
                    .body(body),
            )
            .await;
        assert_eq!(status, expected, "{name}: {answer}");
        assert_problem(status, &answer, &content_type);
    }
    assert_eq!(
        api.get("alice", "/v1/media").await.1["items"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn deleting_the_account_deletes_the_files_bytes() {
    let api = Api::start().await;
    let (ct, body) = multipart(&png(10, 10), "image/png", None);
    let (status, file, _) = api
        .send(
            api.req(Method::POST, "carol", "/v1/media")
                .header("content-type", ct)
                .body(body),
        )
        .await;
    assert_eq!(status, 201, "{file}");
    let url = format!("{}/media/{}", api.base, file["filename"].as_str().unwrap());
    assert_eq!(
        api.client.get(&url).send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        api.send(api.req(Method::DELETE, "carol", "/v1/me")).await.0,
        204
    );
    assert_eq!(
        api.client.get(&url).send().await.unwrap().status().as_u16(),
        404
    );
}

/// A PNG of `size` bytes (a header, then padding).
fn png_of(size: usize) -> Vec<u8> {
    let mut bytes = png(10, 10);
    bytes.resize(size, 0);
    bytes
}

async fn upload(api: &Api, uid: &str, file: &[u8]) -> (u16, serde_json::Value) {
    let (ct, body) = multipart(file, "image/png", None);
    let (status, answer, content_type) = api
        .send(
            api.req(Method::POST, uid, "/v1/media")
                .header("content-type", ct)
                .body(body),
        )
        .await;
    if status >= 400 {
        assert_problem(status, &answer, &content_type);
    }
    (status, answer)
}

/// An upload on a connection of its own, written by hand: the test decides when each byte
/// goes, and reads the answer whenever it comes.
struct RawUpload {
    stream: TcpStream,
    received: Vec<u8>,
}

impl RawUpload {
    /// Sends the request's head (`Content-Length: length`, or chunked when `None`) and `first`.
    async fn open(api: &Api, uid: &str, length: Option<u64>, first: &[u8]) -> RawUpload {
        let addr = api.base.trim_start_matches("http://").to_owned();
        // A small send buffer: the bytes in flight stay few, whatever the host's defaults.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(32 * 1024).unwrap();
        let mut stream = socket.connect(addr.parse().unwrap()).await.unwrap();
        let framing = match length {
            Some(n) => format!("Content-Length: {n}"),
            None => "Transfer-Encoding: chunked".to_owned(),
        };
        let head = format!(
            "POST /v1/media HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: multipart/form-data; boundary=b\r\n{framing}\r\n\r\n",
            Api::token(uid)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = RawUpload {
            stream,
            received: Vec::new(),
        };
        if length.is_some() {
            raw.stream.write_all(first).await.unwrap();
        } else {
            raw.send_chunk(first).await.unwrap();
        }
        raw
    }

    /// Sends one chunk of a chunked body.
    async fn send_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream
            .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
            .await?;
        self.stream.write_all(bytes).await?;
        self.stream.write_all(b"\r\n").await
    }

    /// The answer's status, once its head has arrived; `None` if it has not within `max`.
    async fn status_within(&mut self, max: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + max;
        let mut buf = [0u8; 4096];
        while !self.received.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => self.received.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&self.received);
        head.split(' ').nth(1).and_then(|s| s.parse().ok())
    }
}

/// The start of a multipart body whose `file` part is `first` and never ends.
fn unfinished_file_part(first: &[u8]) -> Vec<u8> {
    let mut body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    body.extend_from_slice(first);
    body
}

/// Files the account has on local disk.
fn stored_files(api: &Api, user_id: i32) -> usize {
    std::fs::read_dir(api.data_dir.join("media").join(user_id.to_string()))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn downloads_answer_ranges_and_revalidation() {
    let api = Api::start().await;
    let bytes = png_of(1000);
    let (status, file) = upload(&api, "alice", &bytes).await;
    assert_eq!(status, 201, "{file}");
    let url = format!("{}/media/{}", api.base, file["filename"].as_str().unwrap());
    let get = |headers: &[(&str, &str)]| {
        let mut rb = api.client.get(&url);
        for (name, value) in headers {
            rb = rb.header(*name, *value);
        }
        rb.send()
    };

    let whole = get(&[]).await.unwrap();
    assert_eq!(whole.status().as_u16(), 200);
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    let modified = whole.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], "1000");
    assert_eq!(whole.headers()["x-content-type-options"], "nosniff");
    assert_eq!(whole.bytes().await.unwrap().to_vec(), bytes);

    // One range, from the start, to the end, or the last bytes.
    for (range, want, content_range) in [
        ("bytes=0-7", &bytes[..8], "bytes 0-7/1000"),
        ("bytes=990-", &bytes[990..], "bytes 990-999/1000"),
        ("bytes=-4", &bytes[996..], "bytes 996-999/1000"),
        ("bytes=995-5000", &bytes[995..], "bytes 995-999/1000"),
    ] {
        let part = get(&[("range", range)]).await.unwrap();
        assert_eq!(part.status().as_u16(), 206, "{range}");
        assert_eq!(part.headers()["content-range"], content_range, "{range}");
        assert_eq!(part.bytes().await.unwrap().to_vec(), want, "{range}");
    }
    // Several ranges, or another unit: the whole file, as RFC 9110 allows.
    for range in ["bytes=0-1,5-6", "items=0-1", "bytes=7-3"] {
        let all = get(&[("range", range)]).await.unwrap();
        assert_eq!(all.status().as_u16(), 200, "{range}");
        assert_eq!(all.bytes().await.unwrap().len(), 1000, "{range}");
    }
    // Past the end: 416, with the size.
    let past = get(&[("range", "bytes=1000-")]).await.unwrap();
    assert_eq!(past.status().as_u16(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */1000");
    assert!(
        past.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );

    // Revalidation: the current tag or date answers 304 without the bytes.
    let listed = format!("\"other\", {etag}");
    for headers in [
        vec![("if-none-match", etag.as_str())],
        vec![("if-none-match", listed.as_str())],
        vec![("if-none-match", "*")],
        vec![("if-modified-since", modified.as_str())],
    ] {
        let cached = get(&headers).await.unwrap();
        assert_eq!(cached.status().as_u16(), 304, "{headers:?}");
        assert_eq!(cached.headers()["etag"].to_str().unwrap(), etag);
        assert!(cached.bytes().await.unwrap().is_empty());
    }
    let stale = get(&[("if-none-match", "\"other\"")]).await.unwrap();
    assert_eq!(stale.status().as_u16(), 200);
    let old_date = "Sat, 01 Jan 2000 00:00:00 GMT";
    assert_eq!(
        get(&[("if-modified-since", old_date)])
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // If-Range: the range only while the bytes are the ones the client has.
    let resumed = get(&[("range", "bytes=0-7"), ("if-range", etag.as_str())])
        .await
        .unwrap();
    assert_eq!(resumed.status().as_u16(), 206);
    for validator in ["\"changed\"", old_date] {
        let restarted = get(&[("range", "bytes=0-7"), ("if-range", validator)])
            .await
            .unwrap();
        assert_eq!(restarted.status().as_u16(), 200, "{validator}");
        assert_eq!(restarted.bytes().await.unwrap().len(), 1000);
    }

    // HEAD: the headers of the GET, no body.
    let head = api.client.head(&url).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-length"], "1000");
    assert_eq!(head.headers()["content-type"], "image/png");
    assert!(head.bytes().await.unwrap().is_empty());
    // A range is for GET only: HEAD describes the whole file.
    let head = api
        .client
        .head(&url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-length"], "1000");
    // Keys that cannot name a file are not looked up.
    let odd = api
        .client
        .get(format!("{}/media/7/%0Aa.png", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status().as_u16(), 404);
}

#[tokio::test]
async fn downloads_are_rate_limited_per_client_address() {
    let limits = RateLimits::per_minute(&[(Action::Download, 2)]).unwrap();
    let api = Api::start_limited(limits, Registry::empty(), &[]).await;
    let url = format!(
        "{}/media/1/00000000-0000-0000-0000-000000000000.png",
        api.base
    );
    for _ in 0..2 {
        let answer = api.client.get(&url).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 404);
    }
    let limited = api.client.get(&url).send().await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn files_in_a_bucket_with_a_public_url_are_redirected_there() {
    // No request reaches the bucket: the API only redirects.
    let api = Api::start_configured(
        30,
        Registry::empty(),
        &[
            "--s3-bucket=media",
            "--s3-endpoint=http://127.0.0.1:9",
            "--aws-access-key-id=test",
            "--aws-secret-access-key=test",
            "--s3-public-url=https://media.example.com",
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client
        .get(format!("{}/media/7/abc.png", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    assert_eq!(
        answer.headers()["location"],
        "https://media.example.com/7/abc.png"
    );
}

#[tokio::test]
async fn the_storage_quota_refuses_a_file_that_does_not_fit_with_used_and_allowed() {
    let api = Api::start_configured(
        30,
        Registry::empty(),
        &["--max-upload-bytes=262144", "--plans=free=10:1KiB"],
    )
    .await;
    let (status, first) = upload(&api, "alice", &png_of(400)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(upload(&api, "alice", &png_of(400)).await.0, 201);
    let (status, refused) = upload(&api, "alice", &png_of(400)).await;
    assert_eq!(status, 413, "{refused}");
    assert!(
        refused["type"]
            .as_str()
            .unwrap()
            .ends_with("/storage-quota-exceeded"),
        "{refused}"
    );
    assert_eq!(refused["used_bytes"], 800);
    assert_eq!(refused["allowed_bytes"], 1024);
    // Nothing of the refused file is left; another account has its own room.
    assert_eq!(
        api.get("alice", "/v1/media").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(stored_files(&api, api.tenant("alice").await.user_id.0), 2);
    assert_eq!(upload(&api, "bob", &png_of(400)).await.0, 201);
    // Deleting a file makes room.
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        api.send(api.req(Method::DELETE, "alice", &format!("/v1/media/{id}")))
            .await
            .0,
        204
    );
    assert_eq!(upload(&api, "alice", &png_of(400)).await.0, 201);
}

#[tokio::test]
async fn a_file_on_a_scheduled_post_is_kept_until_the_post_is_gone() {
    let api = Api::start().await;
    api.connect("alice", Provider::X, "alice_x").await;
    let (_, file) = upload(&api, "alice", &png(1080, 1350)).await;
    let (status, post) = api
        .post(
            "alice",
            "/v1/posts",
            json!({
                "name": "with a photo",
                "universal_content": "a photo",
                "platforms": ["x"],
                "media_files": [file["id"]],
                "schedule_date": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
            }),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["status"], "scheduled");
    let media = format!("/v1/media/{}", file["id"].as_str().unwrap());
    let (status, refused, content_type) = api.send(api.req(Method::DELETE, "alice", &media)).await;
    assert_eq!(status, 409, "{refused}");
    assert_problem(status, &refused, &content_type);
    assert_eq!(refused["post_ids"], json!([post["id"]]));
    assert_eq!(api.get("alice", &media).await.0, 200, "still there");

    let post_path = format!("/v1/posts/{}", post["id"].as_str().unwrap());
    assert_eq!(
        api.send(api.req(Method::DELETE, "alice", &post_path))
            .await
            .0,
        204
    );
    assert_eq!(
        api.send(api.req(Method::DELETE, "alice", &media)).await.0,
        204
    );
}

#[tokio::test]
async fn each_account_has_its_own_upload_slots_and_a_silent_upload_is_broken_off() {
    let api = Api::start_configured(
        30,
        Registry::empty(),
        &[
            "--max-upload-bytes=262144",
            "--uploads-per-user=1",
            "--upload-read-timeout-secs=3",
        ],
    )
    .await;
    let alice = api.tenant("alice").await;
    api.tenant("bob").await;
    // More than the first 16 KiB that decide the type: the upload is being written to disk
    // when it stalls.
    let mut video = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\x08free".to_vec();
    video.resize(48 * 1024, 0);
    let start = unfinished_file_part(&video);
    // A probe that holds a slot only briefly: no file part, so 422 — or 429 while alice's
    // one slot is taken.
    let probe = || {
        api.req(Method::POST, "alice", "/v1/media")
            .header("content-type", "multipart/form-data; boundary=x")
            .body(
                &b"--x\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\nhi\r\n--x--\r\n"
                    [..],
            )
    };
    // Hold one of alice's uploads open: probe until one is refused as busy. Should the held
    // upload arrive while a probe has the slot, it is refused itself: open another.
    let mut held = 'hold: loop {
        let mut held = RawUpload::open(&api, "alice", Some(200_000), &start).await;
        loop {
            let (status, answer, _) = api.send(probe()).await;
            if status == 429 {
                assert!(
                    answer["type"].as_str().unwrap().ends_with("/busy"),
                    "{answer}"
                );
                break 'hold held;
            }
            assert_eq!(status, 422, "{answer}");
            if let Some(status) = held.status_within(Duration::from_millis(5)).await {
                // It lost the race to a probe (429), or the machine was slow enough for it
                // to time out already (408): hold another.
                assert!(matches!(status, 429 | 408), "{status}");
                continue 'hold;
            }
        }
    };
    // Bob is not held up by alice's upload.
    assert_eq!(upload(&api, "bob", &png_of(300)).await.0, 201);
    // The held upload sent nothing more: it is broken off, and leaves nothing.
    assert_eq!(held.status_within(Duration::from_secs(60)).await, Some(408));
    let (status, kept) = upload(&api, "alice", &png_of(300)).await;
    assert_eq!(status, 201, "{kept}");
    let items = api.get("alice", "/v1/media").await.1["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(stored_files(&api, alice.user_id.0), 1);
}

#[tokio::test]
async fn an_upload_over_the_cap_is_refused_without_reading_it_whole() {
    let api = Api::start().await; // uploads of at most 256 KiB
    let user = api.tenant("alice").await.user_id.0;

    // Announced larger than any file: refused before a byte of the body is read.
    let mut announced = RawUpload::open(&api, "alice", Some(2_000_000_000), b"").await;
    assert_eq!(
        announced.status_within(Duration::from_secs(60)).await,
        Some(413)
    );

    // Chunked, so of unknown length: refused once the file passes the cap, not at its end.
    let mut video = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\x08free".to_vec();
    video.resize(64 * 1024, 0);
    let mut raw = RawUpload::open(&api, "alice", None, &unfinished_file_part(&video)).await;
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = video.len();
    let status = loop {
        if let Some(status) = raw.status_within(Duration::from_millis(1)).await {
            break status;
        }
        assert!(sent < 16 * 1024 * 1024, "still reading after {sent} bytes");
        if raw.send_chunk(&chunk).await.is_err() {
            // The server stopped reading and closed: its answer is waiting.
            let status = raw.status_within(Duration::from_secs(60)).await;
            break status.expect("the answer before the connection closed");
        }
        sent += chunk.len();
    };
    assert_eq!(status, 413);
    assert!(api.get("alice", "/v1/media").await.1["items"] == json!([]));
    assert_eq!(stored_files(&api, user), 0, "nothing left on disk");
}

#[tokio::test]
async fn parts_after_the_file_apply_to_it_or_undo_it() {
    let api = Api::start().await;
    let user = api.tenant("alice").await.user_id.0;
    let with_after = |after: &str| {
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&png(20, 20));
        body.extend_from_slice(format!("\r\n{after}--b--\r\n").as_bytes());
        api.req(Method::POST, "alice", "/v1/media")
            .header("content-type", "multipart/form-data; boundary=b")
            .body(body)
    };
    let (status, file, _) = api
        .send(with_after(
            "--b\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\na kite\r\n",
        ))
        .await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["alt_text"], "a kite");

    // A refused part after the file refuses the upload as a whole: the file goes again.
    let too_long = "x".repeat(5000);
    for (after, expected) in [
        (
            "--b\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\n2\r\n".to_owned(),
            400,
        ),
        (
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\n{too_long}\r\n"
            ),
            422,
        ),
    ] {
        let (status, answer, content_type) = api.send(with_after(&after)).await;
        assert_eq!(status, expected, "{answer}");
        assert_problem(status, &answer, &content_type);
    }
    let items = api.get("alice", "/v1/media").await.1["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(stored_files(&api, user), 1);
}

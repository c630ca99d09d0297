//! Uploading media: the type comes from the bytes, the answer says which platforms accept the
//! file, and the bytes are served back.

use reqwest::Method;

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
            multipart(&[0u8; 300 * 1024], "image/png", None).0,
            multipart(&[0u8; 300 * 1024], "image/png", None).1,
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

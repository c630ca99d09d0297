use chrono::TimeZone;
use reqwest::header::{HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn waits_are_read_from_every_usual_header_and_capped() {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let secs = |h: &[(&str, &str)]| retry_after(&headers(h), now).map(|d| d.num_seconds());
    assert_eq!(secs(&[("retry-after", "30")]), Some(30));
    assert_eq!(
        secs(&[("retry-after", "99999999999")]),
        Some(3600),
        "capped"
    );
    assert_eq!(secs(&[("retry-after", "-5")]), Some(0));
    assert_eq!(
        secs(&[("retry-after", "Mon, 30 Nov 2026 12:02:00 GMT")]),
        Some(120)
    );
    let reset = (now + chrono::Duration::seconds(90))
        .timestamp()
        .to_string();
    assert_eq!(secs(&[("x-rate-limit-reset", &reset)]), Some(90));
    assert_eq!(secs(&[("ratelimit-reset", &reset)]), Some(90));
    assert_eq!(
        secs(&[("x-ratelimit-reset", "2026-11-30T12:05:00.000000Z")]),
        Some(300),
        "Mastodon's reset is a time"
    );
    assert_eq!(
        secs(&[("x-rate-limit-reset", "9223372036854775807")]),
        Some(3600)
    );
    assert_eq!(secs(&[("x-rate-limit-reset", "garbage")]), None);
    assert_eq!(secs(&[]), None);
}

#[test]
fn server_urls_are_https_and_public_unless_local_development() {
    use ServerPolicy::*;
    assert_eq!(
        server_url("mastodon.social", PublicHttpsOnly).unwrap(),
        "https://mastodon.social"
    );
    assert_eq!(
        server_url("https://Example.COM/", PublicHttpsOnly).unwrap(),
        "https://example.com"
    );
    assert_eq!(
        server_url("http://127.0.0.1:8090/mastodon/", AllowLoopback).unwrap(),
        "http://127.0.0.1:8090/mastodon"
    );
    for bad in [
        "http://mastodon.social",
        "http://127.0.0.1:8090",
        "https://127.0.0.1",
        "https://10.0.0.8",
        "https://[::1]/",
        "https://user:pw@mastodon.social",
        "https://mastodon.social/?q=1",
        "ftp://mastodon.social",
        "https://",
    ] {
        assert!(server_url(bad, PublicHttpsOnly).is_err(), "{bad}");
    }
    assert!(server_url("http://mastodon.social", AllowLoopback).is_err());
    assert!(server_url("http://10.0.0.8", AllowLoopback).is_err());
}

#[test]
fn private_and_special_addresses_are_refused() {
    use ServerPolicy::*;
    for ip in [
        // 0.0.0.0/8, "this network"
        "0.0.0.0",
        "0.1.2.3",
        "0.255.255.255",
        // private
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        // 100.64.0.0/10, carrier-grade NAT
        "100.64.0.1",
        "100.127.255.255",
        // link local, cloud metadata
        "169.254.169.254",
        // 192.0.0.0/24, IETF protocol assignments
        "192.0.0.1",
        "192.0.0.170",
        // documentation
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        // 6to4 relay anycast
        "192.88.99.1",
        // 198.18.0.0/15, benchmarking
        "198.18.0.1",
        "198.19.255.255",
        // multicast
        "224.0.0.1",
        "239.255.255.250",
        // 240.0.0.0/4, reserved, and broadcast
        "240.0.0.1",
        "250.1.2.3",
        "255.255.255.255",
        // IPv6: unspecified, unique local, link local, site local, multicast, discard
        "::",
        "fd00::1",
        "fc00::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "100::1",
        // IPv4-mapped (::ffff:0:0/96): judged as the IPv4 address
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:198.18.0.1",
        "::ffff:0.0.0.0",
        // IPv4-compatible (deprecated)
        "::10.0.0.1",
        "::8.8.8.8",
        // NAT64 (64:ff9b::/96): judged as the embedded IPv4 address
        "64:ff9b::10.0.0.1",
        "64:ff9b::169.254.169.254",
        "64:ff9b::127.0.0.1",
        "64:ff9b::198.18.0.1",
        "64:ff9b::100.64.0.1",
        // local-use NAT64 (64:ff9b:1::/48)
        "64:ff9b:1::8.8.8.8",
        // 6to4 (2002::/16), whatever IPv4 address is inside
        "2002:a00:1::1",
        "2002:a9fe:a9fe::1",
        "2002:808:808::1",
        // Teredo and the rest of 2001::/23
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "2001:1ff::1",
        // documentation
        "2001:db8::1",
        "3fff::1",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert!(!address_allowed(ip, PublicHttpsOnly), "{ip}");
        assert!(!address_allowed(ip, AllowLoopback), "{ip}");
    }
    for lo in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
        let lo: IpAddr = lo.parse().unwrap();
        assert!(!address_allowed(lo, PublicHttpsOnly), "{lo}");
        assert!(address_allowed(lo, AllowLoopback), "{lo}");
    }
    for public in [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.1",
        "172.32.0.1",
        "192.0.1.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.254",
        "2606:2800:220:1::1",
        "2a00:1450:4001:80b::200e",
        "2001:200::1",
        "::ffff:93.184.216.34",
        "64:ff9b::93.184.216.34",
    ] {
        let ip: IpAddr = public.parse().unwrap();
        assert!(address_allowed(ip, PublicHttpsOnly), "{ip}");
        assert!(address_allowed(ip, AllowLoopback), "{ip}");
    }
}

#[test]
fn literal_special_addresses_are_refused_as_server_urls() {
    use ServerPolicy::*;
    for bad in [
        "https://0.0.0.0",
        "https://198.18.0.1",
        "https://240.0.0.1",
        "https://[64:ff9b::a00:1]",
        "https://[2002:a00:1::1]",
        "https://[::ffff:a00:1]",
    ] {
        assert!(server_url(bad, PublicHttpsOnly).is_err(), "{bad}");
        assert!(server_url(bad, AllowLoopback).is_err(), "{bad}");
    }
}

// ---- capped reads, against a local server ---------------------------------------------------

/// What the local server sends after the headers.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// Zeros without end (chunked, no length announced), until the client hangs up.
    Endless,
    /// Exactly this many bytes, announced by `Content-Length`.
    Sized(usize),
}

/// Where an endless body stops anyway, so a client that reads everything still ends the test.
const FLOOD_LIMIT: usize = 256 * 1024 * 1024;

/// A server answering one request with `status` and `body`; its task gives how many body
/// bytes it managed to send before the client hung up.
async fn serve_once(status: u16, body: Body) -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let framing = match body {
            Body::Endless => "transfer-encoding: chunked".to_owned(),
            Body::Sized(len) => format!("content-length: {len}"),
        };
        let head = format!(
            "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
        );
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let piece = [b'0'; 16 * 1024];
        let mut sent = 0;
        loop {
            let written = match body {
                Body::Endless if sent < FLOOD_LIMIT => {
                    let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                    chunk.extend_from_slice(&piece);
                    chunk.extend_from_slice(b"\r\n");
                    socket.write_all(&chunk).await.map(|()| piece.len())
                }
                Body::Sized(len) if sent < len => {
                    let n = piece.len().min(len - sent);
                    socket.write_all(&piece[..n]).await.map(|()| n)
                }
                _ => break,
            };
            match written {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        let _ = socket.shutdown().await;
        sent
    });
    (url, task)
}

async fn get(url: &str) -> reqwest::Response {
    client(DEFAULT_TIMEOUT)
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
}

async fn sent(task: tokio::task::JoinHandle<usize>) -> usize {
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the server stops once the client hangs up")
        .unwrap()
}

#[tokio::test]
async fn an_endless_answer_is_refused_at_the_cap_without_being_read() {
    let (url, server) = serve_once(200, Body::Endless).await;
    let started = std::time::Instant::now();
    let read = read_capped(get(&url).await, MAX_JSON_BYTES).await;
    assert!(
        matches!(read, Err(BodyError::TooLarge { max }) if max == MAX_JSON_BYTES),
        "{read:?}"
    );
    assert_eq!(
        read.unwrap_err().to_string(),
        "the answer is larger than 1048576 bytes"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let sent = sent(server).await;
    assert!(
        sent < FLOOD_LIMIT,
        "the client hung up after {sent} bytes, not at the end"
    );

    // JSON answers go through the same cap, with a clear reason.
    let (url, _server) = serve_once(200, Body::Endless).await;
    let json = json_body::<serde_json::Value>(get(&url).await, "Platform account").await;
    assert_eq!(
        json.unwrap_err(),
        "Platform account: the answer is larger than 1048576 bytes"
    );
}

#[tokio::test]
async fn an_announced_length_over_the_cap_is_refused_before_reading() {
    let (url, _server) = serve_once(200, Body::Sized(MAX_JSON_BYTES + 1)).await;
    let read = read_capped(get(&url).await, MAX_JSON_BYTES).await;
    assert!(
        matches!(read, Err(BodyError::TooLarge { max }) if max == MAX_JSON_BYTES),
        "{read:?}"
    );
    // At the cap exactly, the body is read.
    let (url, _server) = serve_once(200, Body::Sized(MAX_JSON_BYTES)).await;
    let read = read_capped(get(&url).await, MAX_JSON_BYTES).await.unwrap();
    assert_eq!(read.len(), MAX_JSON_BYTES);
}

#[tokio::test]
async fn error_answers_are_capped_lower() {
    let (url, server) = serve_once(500, Body::Endless).await;
    let text = error_text(get(&url).await).await;
    assert_eq!(text, "(the answer is larger than 65536 bytes)");
    assert!(sent(server).await < FLOOD_LIMIT);

    let (url, _server) = serve_once(500, Body::Sized(MAX_ERROR_BYTES + 1)).await;
    let read = read_capped(get(&url).await, MAX_ERROR_BYTES).await;
    assert!(
        matches!(read, Err(BodyError::TooLarge { max }) if max == MAX_ERROR_BYTES),
        "{read:?}"
    );
    let (url, _server) = serve_once(500, Body::Sized(10)).await;
    assert_eq!(error_text(get(&url).await).await, "0000000000");
}

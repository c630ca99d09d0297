//! The middleware stack on an actix app assembled the way the server assembles it: request ids
//! and access logs and metrics (`observe`), CORS (`cors`), body limits and problem+json errors
//! (`rejection`), and per-user rate limits (`rate_limit`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, Once};

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::test::{self as actix_test, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, web};
use multivio_http::observe::{Gauge, Metrics, RequestId, RequestTracing};
use multivio_http::rate_limit::{Action, RateLimited, RateLimits};
use multivio_http::{cors, rejection};
use serde::Deserialize;
use uuid::Uuid;

const PROBLEM_JSON: &str = "application/problem+json";
const ALLOWED_ORIGIN: &str = "https://app.example.com";
const JSON_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateThing {
    name: String,
    count: u32,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct ListQuery {
    limit: Option<u32>,
}

async fn get_thing(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "id": id.into_inner() }))
}

async fn list_things(query: web::Query<ListQuery>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "limit": query.limit }))
}

async fn create_thing(body: web::Json<CreateThing>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({ "name": body.name }))
}

async fn raw(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} bytes", body.len()))
}

async fn get_post(id: web::Path<Uuid>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "id": id.into_inner() }))
}

async fn whoami(id: RequestId, req: HttpRequest) -> HttpResponse {
    tracing::info!("inside handler");
    let same = RequestId::of(&req).as_ref() == Some(&id);
    HttpResponse::Ok().json(serde_json::json!({ "request_id": id.as_str(), "same": same }))
}

async fn publish(
    req: HttpRequest,
    limits: web::Data<RateLimits>,
) -> Result<HttpResponse, RateLimited> {
    let user = req
        .headers()
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
    limits.check(Action::Publish, user)?;
    Ok(HttpResponse::Accepted().finish())
}

/// The full stack in the documented order, around the test handlers.
macro_rules! test_app {
    ($metrics:expr, $origins:expr) => {{
        install_log_capture();
        actix_test::init_service(
            App::new()
                .app_data(rejection::json_config(JSON_LIMIT))
                .app_data(rejection::payload_config(JSON_LIMIT))
                .app_data(rejection::query_config())
                .app_data(rejection::path_config())
                .app_data(web::Data::new(
                    RateLimits::per_minute(&[(Action::Publish, 3)]).unwrap(),
                ))
                .wrap(cors::cors($origins))
                .wrap(rejection::ProblemFallback)
                .wrap($metrics.middleware())
                .wrap(RequestTracing)
                .route("/whoami", web::get().to(whoami))
                .route("/v1/things", web::get().to(list_things))
                .route("/v1/things", web::post().to(create_thing))
                .route("/v1/things/{id}", web::get().to(get_thing))
                .route("/v1/raw", web::post().to(raw))
                .route("/v1/posts/{id}", web::get().to(get_post))
                .route("/v1/posts/{id}/publish", web::post().to(publish))
                .service(web::resource("/v1/bare-405").route(web::get().to(HttpResponse::Ok)))
                .service(
                    web::resource("/v1/explicit-405")
                        .route(web::get().to(HttpResponse::Ok))
                        .default_service(web::to(rejection::method_not_allowed)),
                )
                .default_service(web::to(rejection::not_found)),
        )
        .await
    }};
}

fn origins() -> Vec<String> {
    cors::parse_origins(ALLOWED_ORIGIN).unwrap()
}

fn header_str<B>(res: &ServiceResponse<B>, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Asserts a problem+json answer with `status`, returns its body.
async fn assert_problem<B: MessageBody>(
    res: ServiceResponse<B>,
    status: StatusCode,
) -> serde_json::Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        header_str(&res, "content-type").as_deref(),
        Some(PROBLEM_JSON),
        "content type of a {status} answer"
    );
    assert!(
        header_str(&res, "x-request-id").is_some(),
        "error answers carry X-Request-Id"
    );
    let body: serde_json::Value = actix_test::read_body_json(res).await;
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    assert!(body["title"].is_string());
    assert!(body["detail"].is_string());
    body
}

// ---------------------------------------------------------------- request ids and logs

#[actix_web::test]
async fn request_id_is_generated_and_echoed() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(&app, TestRequest::get().uri("/whoami").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let header = header_str(&res, "x-request-id").unwrap();
    assert_eq!(Uuid::parse_str(&header).unwrap().get_version_num(), 4);
    let body: serde_json::Value = actix_test::read_body_json(res).await;
    assert_eq!(body["request_id"], header.as_str());
    assert_eq!(body["same"], true);

    let again =
        actix_test::call_service(&app, TestRequest::get().uri("/whoami").to_request()).await;
    assert_ne!(header_str(&again, "x-request-id").unwrap(), header);
}

#[actix_web::test]
async fn valid_incoming_request_id_is_kept() {
    let app = test_app!(Metrics::new(), &[]);
    let incoming = "edge-01.abc_DEF-123";
    let req = TestRequest::get()
        .uri("/whoami")
        .insert_header(("X-Request-Id", incoming))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(header_str(&res, "x-request-id").as_deref(), Some(incoming));
    let body: serde_json::Value = actix_test::read_body_json(res).await;
    assert_eq!(body["request_id"], incoming);
}

#[actix_web::test]
async fn invalid_incoming_request_id_is_replaced() {
    let app = test_app!(Metrics::new(), &[]);
    let too_long = "a".repeat(129);
    for bad in [
        too_long.as_str(),
        "has space",
        "semi;colon",
        "quote\"d",
        "slash/y",
    ] {
        let req = TestRequest::get()
            .uri("/whoami")
            .insert_header(("X-Request-Id", HeaderValue::from_str(bad).unwrap()))
            .to_request();
        let res = actix_test::call_service(&app, req).await;
        let header = header_str(&res, "x-request-id").unwrap();
        assert_ne!(header, bad);
        assert!(Uuid::parse_str(&header).is_ok(), "{bad:?} → {header}");
    }
    // Exactly 128 is still fine.
    let max = "b".repeat(128);
    let req = TestRequest::get()
        .uri("/whoami")
        .insert_header(("X-Request-Id", max.as_str()))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(
        header_str(&res, "x-request-id").as_deref(),
        Some(max.as_str())
    );
}

#[actix_web::test]
async fn request_id_on_error_answers() {
    let app = test_app!(Metrics::new(), &[]);
    let req = TestRequest::get()
        .uri("/no/such/thing")
        .insert_header(("X-Request-Id", "err-1"))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(header_str(&res, "x-request-id").as_deref(), Some("err-1"));
    assert_problem(res, StatusCode::NOT_FOUND).await;

    let req = TestRequest::post()
        .uri("/v1/things")
        .insert_header(("X-Request-Id", "err-2"))
        .insert_header(("content-type", "application/json"))
        .set_payload("{")
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(header_str(&res, "x-request-id").as_deref(), Some("err-2"));
    assert_problem(res, StatusCode::BAD_REQUEST).await;
}

/// Log output of one test thread, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

thread_local! {
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Writes to the current thread's capture, if any (actix test runtimes run on the test's thread).
struct ThreadWriter;

impl io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(captured) = capture.borrow().as_ref() {
                captured.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One global subscriber for the whole test binary, installed before any request is served.
/// A per-test `set_default` would race with other test threads registering the middleware's
/// callsites first (tracing caches "nobody listens" per callsite), losing events at random.
fn install_log_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// Starts capturing this thread's log output.
fn capture_logs() -> Captured {
    install_log_capture();
    let captured = Captured::default();
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(captured.clone()));
    captured
}

#[actix_web::test]
async fn access_log_has_route_pattern_and_request_id_but_no_secrets() {
    let captured = capture_logs();
    let app = test_app!(Metrics::new(), &[]);
    let req = TestRequest::get()
        .uri("/v1/things/secret-thing-id?code=oauth-code-123")
        .insert_header(("X-Request-Id", "log-test-1"))
        .insert_header(("Authorization", "Bearer super-secret-token"))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let req = TestRequest::get()
        .uri("/whoami")
        .insert_header(("X-Request-Id", "log-test-2"))
        .to_request();
    actix_test::call_service(&app, req).await;

    let logs = captured.text();
    let access: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("route=") && l.contains("latency_ms="))
        .collect();
    assert_eq!(access.len(), 2, "one access line per request:\n{logs}");
    let first = access[0];
    for expected in [
        "method=\"GET\"",
        "route=\"/v1/things/{id}\"",
        "status=200",
        "request_id=\"log-test-1\"",
    ] {
        assert!(first.contains(expected), "{expected} missing in {first}");
    }
    for secret in [
        "super-secret-token",
        "secret-thing-id",
        "oauth-code-123",
        "Bearer",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
    }
    // A line logged inside the handler carries the request id through the span.
    let inside = logs.lines().find(|l| l.contains("inside handler")).unwrap();
    assert!(inside.contains("request_id=log-test-2"), "{inside}");
}

// ---------------------------------------------------------------- metrics

/// One parsed sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(l, _)| l == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("bad value {s:?}")),
    }
}

/// Parses `name{l="v",...} value`, undoing the label value escapes.
fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("sample has a value");
    let name = &line[..name_end];
    assert!(is_metric_name(name), "bad metric name in {line:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            if let Some((i, '}')) = chars.peek().copied() {
                rest = &after[i + 1..];
                break;
            }
            let mut label = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                label.push(c);
            }
            assert!(
                is_label_name(&label),
                "bad label name {label:?} in {line:?}"
            );
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some('"') => break,
                    Some('\n') | None => panic!("unterminated label value in {line:?}"),
                    Some(c) => value.push(c),
                }
            }
            labels.push((label, value));
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    rest = &after[i + 1..];
                    break;
                }
                other => panic!("expected , or }} got {other:?} in {line:?}"),
            }
        }
    }
    let value = rest.strip_prefix(' ').expect("one space before the value");
    assert!(!value.contains(' '), "no timestamp expected in {line:?}");
    Sample {
        name: name.to_owned(),
        labels,
        value: parse_value(value),
    }
}

/// Parses exposition text line by line, checking that each family has one HELP and one TYPE
/// before its samples and that families are not interleaved.
fn parse_exposition(text: &str) -> Vec<Sample> {
    // Nothing at all is valid too: families without samples are not announced.
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "text ends with a line feed"
    );
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no blank lines expected");
        if let Some(help) = line.strip_prefix("# HELP ") {
            let (name, _) = help.split_once(' ').expect("HELP has text");
            assert!(is_metric_name(name));
            assert!(helps.insert(name.to_owned()), "second HELP for {name}");
            assert!(!types.contains_key(name), "HELP after TYPE for {name}");
            continue;
        }
        if let Some(ty) = line.strip_prefix("# TYPE ") {
            let (name, kind) = ty.split_once(' ').expect("TYPE has a kind");
            assert!(is_metric_name(name));
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                helps.contains(name),
                "TYPE without HELP before it for {name}"
            );
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none());
            assert!(!finished.contains(name));
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let sample = parse_sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = sample.name.strip_suffix(suffix)?;
                (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_owned())
            })
            .unwrap_or_else(|| sample.name.clone());
        assert!(
            types.contains_key(&family),
            "sample before its TYPE: {line:?}"
        );
        if current.as_deref() != Some(family.as_str()) {
            assert!(!finished.contains(&family), "family {family} interleaved");
            if let Some(previous) = current.replace(family.clone()) {
                finished.insert(previous);
            }
        }
        samples.push(sample);
    }
    samples
}

#[actix_web::test]
async fn metrics_use_route_patterns_and_unmatched() {
    let metrics = Metrics::new();
    let app = test_app!(metrics, &[]);
    for uri in [
        "/v1/things/1",
        "/v1/things/2",
        "/random/3b1f",
        "/another/random",
    ] {
        actix_test::call_service(&app, TestRequest::get().uri(uri).to_request()).await;
    }
    let samples = parse_exposition(&metrics.render(&[]));
    let requests: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "multivio_http_requests_total")
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let things = requests
        .iter()
        .find(|s| s.label("route") == Some("/v1/things/{id}"))
        .unwrap();
    assert_eq!(things.label("method"), Some("GET"));
    assert_eq!(things.label("status"), Some("200"));
    assert_eq!(things.value, 2.0);
    let unmatched = requests
        .iter()
        .find(|s| s.label("route") == Some("unmatched"))
        .unwrap();
    assert_eq!(unmatched.label("status"), Some("404"));
    assert_eq!(unmatched.value, 2.0);
    assert!(!samples.iter().any(|s| {
        s.labels
            .iter()
            .any(|(_, v)| v.contains("random") || v.contains("/1"))
    }));

    // Histogram: buckets cumulative (never decreasing), +Inf == _count == requests.
    for route in ["/v1/things/{id}", "unmatched"] {
        let of_route = |name: &str| -> Vec<&Sample> {
            samples
                .iter()
                .filter(|s| s.name == name && s.label("route") == Some(route))
                .collect()
        };
        let buckets = of_route("multivio_http_request_duration_seconds_bucket");
        assert_eq!(buckets.len(), 12);
        let bounds: Vec<f64> = buckets
            .iter()
            .map(|s| parse_value(s.label("le").unwrap()))
            .collect();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        assert_eq!(bounds[0], 0.005);
        assert_eq!(bounds[10], 10.0);
        assert!(bounds[11].is_infinite());
        assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value));
        let count = of_route("multivio_http_request_duration_seconds_count");
        assert_eq!(count.len(), 1);
        assert_eq!(count[0].value, 2.0);
        assert_eq!(buckets[11].value, count[0].value);
        let sum = of_route("multivio_http_request_duration_seconds_sum");
        assert!(sum[0].value >= 0.0 && sum[0].value < 20.0);
    }
}

#[test]
fn render_is_valid_exposition_with_escaped_labels() {
    let metrics = Metrics::new();
    metrics.record(
        &Method::POST,
        "/v1/posts/{id}/publish",
        StatusCode::ACCEPTED,
        std::time::Duration::from_millis(12),
    );
    let tricky = "quote \" backslash \\ newline \n end";
    let gauges = [
        Gauge::new(
            "multivio_db_pool_connections",
            "Database pool connections by state.",
            4.0,
        )
        .label("state", "idle"),
        Gauge::new("multivio_job_queue_depth", "Jobs by status.", 17.0).label("status", "pending"),
        Gauge::new("multivio_db_pool_connections", "", 2.0).label("state", "busy"),
        Gauge::new("multivio_test_escaping", "Help with \\ and\nnewline.", 1.5)
            .label("value", tricky)
            .label("other", "plain"),
        Gauge::new("multivio_unlabelled", "No labels.", f64::INFINITY),
    ];
    let text = metrics.render(&gauges);
    let samples = parse_exposition(&text);

    let escaped = samples
        .iter()
        .find(|s| s.name == "multivio_test_escaping")
        .unwrap();
    assert_eq!(escaped.label("value"), Some(tricky));
    assert_eq!(escaped.label("other"), Some("plain"));
    assert_eq!(escaped.value, 1.5);
    assert!(text.contains("# HELP multivio_test_escaping Help with \\\\ and\\nnewline.\n"));
    assert!(text.contains("multivio_unlabelled +Inf\n"));

    let pool: Vec<(&str, f64)> = samples
        .iter()
        .filter(|s| s.name == "multivio_db_pool_connections")
        .map(|s| (s.label("state").unwrap(), s.value))
        .collect();
    assert_eq!(pool, [("idle", 4.0), ("busy", 2.0)]);
    assert!(samples.iter().any(|s| s.name == "multivio_job_queue_depth"
        && s.label("status") == Some("pending")
        && s.value == 17.0));
    assert!(
        samples
            .iter()
            .any(|s| s.name == "multivio_http_requests_total"
                && s.label("route") == Some("/v1/posts/{id}/publish")
                && s.label("method") == Some("POST")
                && s.label("status") == Some("202")
                && s.value == 1.0)
    );
}

#[test]
fn empty_registry_renders_valid_text() {
    let samples = parse_exposition(&Metrics::new().render(&[]));
    assert!(samples.is_empty());
}

#[test]
fn clones_share_counts() {
    let metrics = Metrics::new();
    let clone = metrics.clone();
    clone.record(
        &Method::GET,
        "/x",
        StatusCode::OK,
        std::time::Duration::ZERO,
    );
    assert!(
        metrics.render(&[]).contains(
            "multivio_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 1\n"
        )
    );
    // A registry of its own shares nothing.
    assert!(
        !Metrics::new()
            .render(&[])
            .contains("multivio_http_requests_total{")
    );
}

// ---------------------------------------------------------------- CORS

#[actix_web::test]
async fn cors_allows_listed_origin_only() {
    let app = test_app!(Metrics::new(), &origins());
    let req = TestRequest::get()
        .uri("/v1/things/1")
        .insert_header(("Origin", ALLOWED_ORIGIN))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header_str(&res, "access-control-allow-origin").as_deref(),
        Some(ALLOWED_ORIGIN)
    );
    let exposed = header_str(&res, "access-control-expose-headers").unwrap();
    assert!(
        exposed.to_ascii_lowercase().contains("x-request-id"),
        "{exposed}"
    );

    let req = TestRequest::get()
        .uri("/v1/things/1")
        .insert_header(("Origin", "https://evil.example.net"))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn cors_preflight() {
    let app = test_app!(Metrics::new(), &origins());
    let req = TestRequest::default()
        .method(Method::OPTIONS)
        .uri("/v1/posts/7c9e6679-7425-40de-944b-e07fc1f90ae7/publish")
        .insert_header(("Origin", ALLOWED_ORIGIN))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key,x-request-id",
        ))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        header_str(&res, "access-control-allow-origin").as_deref(),
        Some(ALLOWED_ORIGIN)
    );
    let methods = header_str(&res, "access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{m} in {methods}");
    }
    assert!(!methods.contains("PUT"), "{methods}");
    let headers = header_str(&res, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-request-id",
    ] {
        assert!(headers.contains(h), "{h} in {headers}");
    }
    assert_eq!(
        header_str(&res, "access-control-max-age").as_deref(),
        Some("3600")
    );

    // A preflight from elsewhere is refused, as a problem document.
    let req = TestRequest::default()
        .method(Method::OPTIONS)
        .uri("/v1/things")
        .insert_header(("Origin", "https://evil.example.net"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_problem(res, StatusCode::BAD_REQUEST).await;
}

#[actix_web::test]
async fn cors_without_origins_allows_none() {
    let app = test_app!(Metrics::new(), &[]);
    let req = TestRequest::get()
        .uri("/v1/things/1")
        .insert_header(("Origin", ALLOWED_ORIGIN))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn cors_origins_config() {
    assert_eq!(
        cors::parse_origins("https://a.example.com, http://localhost:5173").unwrap(),
        ["https://a.example.com", "http://localhost:5173"]
    );
    let err = cors::parse_origins("*").unwrap_err().to_string();
    assert!(
        err.contains("MULTIVIO_CORS_ORIGINS") && err.contains('*'),
        "{err}"
    );
    assert!(cors::parse_origins("https://a.example.com/app").is_err());
    assert!(cors::parse_origins("a.example.com").is_err());
}

// ---------------------------------------------------------------- body limits and errors

fn json_post(uri: &str, body: impl Into<web::Bytes>) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/json"))
        .set_payload(body.into())
}

#[actix_web::test]
async fn valid_json_passes() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(
        &app,
        json_post("/v1/things", r#"{"name":"a","count":1}"#).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn oversized_json_is_413() {
    let app = test_app!(Metrics::new(), &[]);
    let mut body = b"{\"name\":\"".to_vec();
    body.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    body.extend(b"\",\"count\":1}");
    let res = actix_test::call_service(&app, json_post("/v1/things", body).to_request()).await;
    let problem = assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1048576"),
        "{problem}"
    );
}

#[actix_web::test]
async fn oversized_raw_body_is_413_problem() {
    let app = test_app!(Metrics::new(), &[]);
    let req = TestRequest::post()
        .uri("/v1/raw")
        .set_payload(vec![b'x'; 2 * 1024 * 1024])
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE).await;

    let req = TestRequest::post()
        .uri("/v1/raw")
        .set_payload(vec![b'x'; 1000])
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn malformed_json_is_400_with_position() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(&app, json_post("/v1/things", "{").to_request()).await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/malformed-json")
    );
    assert_eq!(problem["title"], "Malformed JSON");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("line 1 column 1"), "{detail}");

    let res = actix_test::call_service(
        &app,
        json_post("/v1/things", "{\"name\": \"a\",\n \"count\": 1,,}").to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("line 2"),
        "{problem}"
    );
}

#[actix_web::test]
async fn unknown_field_is_400_naming_it() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(
        &app,
        json_post("/v1/things", r#"{"name":"a","count":1,"user_id":42}"#).to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("unknown field `user_id`"), "{detail}");
}

#[actix_web::test]
async fn wrong_type_and_missing_field_are_400() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(
        &app,
        json_post("/v1/things", r#"{"name":"a","count":"many"}"#).to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("invalid type"),
        "{problem}"
    );

    let res = actix_test::call_service(
        &app,
        json_post("/v1/things", r#"{"name":"a"}"#).to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("missing field `count`"),
        "{problem}"
    );
}

#[actix_web::test]
async fn wrong_content_type_is_415() {
    let app = test_app!(Metrics::new(), &[]);
    let req = TestRequest::post()
        .uri("/v1/things")
        .insert_header(("content-type", "text/plain"))
        .set_payload(r#"{"name":"a","count":1}"#)
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let req = TestRequest::post()
        .uri("/v1/things")
        .set_payload(r#"{"name":"a","count":1}"#)
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[actix_web::test]
async fn invalid_utf8_is_400() {
    let app = test_app!(Metrics::new(), &[]);
    for body in [
        b"{\"name\":\"\xff\xfe\",\"count\":1}".to_vec(),
        b"\xff\xfe".to_vec(),
    ] {
        let res = actix_test::call_service(&app, json_post("/v1/things", body).to_request()).await;
        assert_problem(res, StatusCode::BAD_REQUEST).await;
    }
}

#[actix_web::test]
async fn bad_path_and_query_are_400() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(
        &app,
        TestRequest::get().uri("/v1/posts/not-a-uuid").to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/invalid-path"));

    let ok = actix_test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/posts/7c9e6679-7425-40de-944b-e07fc1f90ae7")
            .to_request(),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    let res = actix_test::call_service(
        &app,
        TestRequest::get().uri("/v1/things?limit=abc").to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/invalid-query")
    );

    let res = actix_test::call_service(
        &app,
        TestRequest::get().uri("/v1/things?limit=5").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn not_found_and_method_not_allowed_are_problems() {
    let app = test_app!(Metrics::new(), &[]);
    let res = actix_test::call_service(
        &app,
        TestRequest::get().uri("/definitely/not/here").to_request(),
    )
    .await;
    assert_problem(res, StatusCode::NOT_FOUND).await;

    // A resource without its own default: actix's bare 405, rewritten by ProblemFallback.
    // (`App::route` would give 404 here: its method guard moves onto the resource.)
    let res =
        actix_test::call_service(&app, TestRequest::delete().uri("/v1/bare-405").to_request())
            .await;
    assert_problem(res, StatusCode::METHOD_NOT_ALLOWED).await;

    // A resource using the helper.
    let res = actix_test::call_service(
        &app,
        TestRequest::put().uri("/v1/explicit-405").to_request(),
    )
    .await;
    let problem = assert_problem(res, StatusCode::METHOD_NOT_ALLOWED).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/method-not-allowed")
    );
}

// ---------------------------------------------------------------- rate limits

#[actix_web::test]
async fn rate_limit_per_user() {
    let app = test_app!(Metrics::new(), &[]);
    let publish = |user: &str| {
        TestRequest::post()
            .uri("/v1/posts/7c9e6679-7425-40de-944b-e07fc1f90ae7/publish")
            .insert_header(("x-test-user", user.to_owned()))
            .to_request()
    };
    for _ in 0..3 {
        let res = actix_test::call_service(&app, publish("alice")).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = actix_test::call_service(&app, publish("alice")).await;
    let retry_after: u64 = header_str(&res, "retry-after").unwrap().parse().unwrap();
    // 3 per minute refills one every 20 s.
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(res, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("publish"),
        "{problem}"
    );

    let res = actix_test::call_service(&app, publish("bob")).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[test]
fn rate_limited_renders_problem_with_retry_after() {
    let limits = RateLimits::per_minute(&[(Action::Connect, 1)]).unwrap();
    assert!(limits.check(Action::Connect, "u").is_ok());
    let limited = limits.check(Action::Connect, "u").unwrap_err();
    assert!((1..=60).contains(&limited.retry_after_secs()));
    assert_eq!(limited.problem().status, 429);
    let res = actix_web::ResponseError::error_response(&limited);
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        PROBLEM_JSON
    );
    assert_eq!(
        res.headers().get(header::RETRY_AFTER).unwrap(),
        limited.retry_after_secs().to_string().as_str()
    );
    // Publishing is not limited by this configuration.
    assert!((0..100).all(|_| limits.check(Action::Publish, "u").is_ok()));
}

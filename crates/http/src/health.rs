//! Liveness and readiness probes, and the Prometheus scrape.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use multivio_ports::status::QueueDepth;
use serde_json::json;
use tokio::sync::Mutex;

use crate::problem::ProblemType;
use crate::{AppState, Problem};

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and every migration is applied; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let not_ready = |detail: &str| {
        Problem::of(
            ProblemType::NotReady,
            StatusCode::SERVICE_UNAVAILABLE,
            detail,
        )
    };
    match state.services.status.ready().await {
        Ok(true) => Ok(HttpResponse::Ok().json(json!({ "status": "ready" }))),
        Ok(false) => Err(not_ready("the database has migrations still to apply")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(not_ready("the database is unreachable"))
        }
    }
}

/// How long a queue depth reading serves scrapes before the database is asked again.
const QUEUE_DEPTH_TTL: Duration = Duration::from_secs(15);

/// The job queue's depth, read from the database at most once per [`QUEUE_DEPTH_TTL`] however
/// often `/metrics` is scraped (one scrape refreshes; concurrent ones serve the last reading).
#[derive(Debug, Default)]
pub struct QueueGauge {
    last: Mutex<Option<(Instant, QueueDepth)>>,
}

impl QueueGauge {
    async fn read(&self, state: &AppState) -> Option<QueueDepth> {
        let Ok(mut last) = self.last.try_lock() else {
            // Another scrape is refreshing: its previous reading is not reachable without
            // waiting, and a gauge missing once is better than a scrape waiting on a query.
            return None;
        };
        if let Some((at, depth)) = *last
            && at.elapsed() < QUEUE_DEPTH_TTL
        {
            return Some(depth);
        }
        match state.services.status.queue_depth().await {
            Ok(depth) => {
                *last = Some((Instant::now(), depth));
                Some(depth)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the job queue depth");
                last.map(|(_, depth)| depth)
            }
        }
    }
}

/// `GET /metrics`: Prometheus text (requests by route and status, latency, pool usage, job
/// queue depth). With a metrics token configured, only `Authorization: Bearer <token>`.
pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    if let Some(token) = &state.config.metrics_token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !token.matches(given) {
            return Err(Problem::of(
                ProblemType::Unauthenticated,
                StatusCode::UNAUTHORIZED,
                "the metrics token is missing or wrong",
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type(crate::observe::METRICS_CONTENT_TYPE)
        .body(render_metrics(&state).await))
}

/// The scrape body: request metrics and the gauges of pools and queue.
pub async fn render_metrics(state: &AppState) -> String {
    use crate::observe::Gauge;
    let pool = state.services.status.pool_usage();
    let conns = |state: &str, n: u64| {
        Gauge::new(
            "multivio_db_pool_connections",
            "Database connections by state",
            n as f64,
        )
        .label("state", state)
    };
    let mut gauges = vec![
        conns("open", pool.open),
        conns("idle", pool.idle),
        conns("max", pool.max),
        Gauge::new(
            "multivio_db_pool_waiting",
            "Requests waiting for a database connection",
            pool.waiting as f64,
        ),
    ];
    if let Some(depth) = state.queue_gauge.read(state).await {
        for (status, n) in [("pending", depth.pending), ("running", depth.running)] {
            gauges.push(
                Gauge::new(
                    "multivio_job_queue_depth",
                    "Publishing jobs by status",
                    n as f64,
                )
                .label("status", status),
            );
        }
    }
    state.metrics.render(&gauges)
}

/// The bearer token `/metrics` asks for. Compared through an HMAC under a random key, whose
/// verification (ring) takes the same time wherever a guess differs.
#[derive(Clone)]
pub struct MetricsToken {
    key: ring::hmac::Key,
    tag: ring::hmac::Tag,
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([redacted])")
    }
}

impl MetricsToken {
    /// The token `secret`; `None` when the system has no randomness to key the comparison.
    pub fn new(secret: &multivio_domain::Secret) -> Option<Self> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).ok()?;
        let tag = ring::hmac::sign(&key, secret.expose().as_bytes());
        Some(Self { key, tag })
    }

    /// Whether `given` is the token.
    pub fn matches(&self, given: &str) -> bool {
        ring::hmac::verify(&self.key, given.as_bytes(), self.tag.as_ref()).is_ok()
    }
}

//! Liveness and readiness probes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{AppState, Problem};

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and every migration is applied; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    match multivio_postgres::is_ready(&state.pool).await {
        Ok(true) => Ok(HttpResponse::Ok().json(json!({ "status": "ready" }))),
        Ok(false) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            "the database has migrations still to apply",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "the database is unreachable",
            ))
        }
    }
}

/// `GET /metrics`: Prometheus text (requests by route and status, latency, pool usage, job
/// queue depth).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    use crate::observe::Gauge;
    let status = state.pool.status();
    let mut gauges = vec![
        Gauge::new(
            "multivio_db_pool_connections",
            "Database connections by state",
            status.size as f64,
        )
        .label("state", "open"),
        Gauge::new(
            "multivio_db_pool_connections",
            "Database connections by state",
            status.available as f64,
        )
        .label("state", "idle"),
        Gauge::new(
            "multivio_db_pool_connections",
            "Database connections by state",
            status.max_size as f64,
        )
        .label("state", "max"),
        Gauge::new(
            "multivio_db_pool_waiting",
            "Requests waiting for a database connection",
            status.waiting as f64,
        ),
    ];
    match state.store.queue_depth().await {
        Ok(depth) => {
            for (job_status, n) in depth {
                gauges.push(
                    Gauge::new(
                        "multivio_job_queue_depth",
                        "Publishing jobs by status",
                        n as f64,
                    )
                    .label("status", job_status),
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the job queue depth"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges))
}

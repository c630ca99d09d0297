//! Request metrics in the Prometheus text exposition format 0.0.4, written by hand: two metric
//! families do not justify a metrics framework, and owning the registry (no global statics)
//! lets every test build its own.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, StatusCode};
use futures_util::future::LocalBoxFuture;

use super::{UNMATCHED_ROUTE, method_label, route_label};

/// Upper bounds (seconds) of the latency histogram buckets, from 5 ms to 10 s (Prometheus'
/// usual defaults; `+Inf` is implicit).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const REQUESTS_TOTAL: &str = "multivio_http_requests_total";
const REQUEST_DURATION: &str = "multivio_http_request_duration_seconds";

/// One caller-provided gauge sample, such as `multivio_db_pool_connections{state="idle"} 3`.
///
/// Samples sharing a `name` are rendered as one family; the first one's `help` is used.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; other characters are replaced by `_`).
    pub name: String,
    /// One-line description for the `# HELP` line.
    pub help: String,
    /// Label names and values; values may contain any text (they are escaped).
    pub labels: Vec<(String, String)>,
    /// The current value.
    pub value: f64,
}

impl Gauge {
    /// A gauge sample without labels.
    pub fn new(name: impl Into<String>, help: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            labels: Vec::new(),
            value,
        }
    }

    /// The same sample with one more label.
    #[must_use]
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }
}

/// The HTTP metrics registry. Cloning is cheap and clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Registry>>,
}

/// Counts and histograms under one lock, so a scrape never sees a request counted in one and
/// not yet in the other.
#[derive(Debug, Default)]
struct Registry {
    /// Keyed by (method, route, status).
    requests: BTreeMap<(&'static str, String, u16), u64>,
    /// Keyed by (method, route).
    durations: BTreeMap<(&'static str, String), Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket, not cumulative (cumulated when rendered); the last slot is `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = DURATION_BUCKETS
            .iter()
            .position(|&upper| seconds <= upper)
            .unwrap_or(DURATION_BUCKETS.len());
        if let Some(bucket) = self.buckets.get_mut(slot) {
            *bucket += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The middleware recording every request into this registry.
    pub fn middleware(&self) -> MetricsMiddleware {
        MetricsMiddleware {
            metrics: self.clone(),
        }
    }

    /// Records one answered request. `route` must be a route pattern or `unmatched`, never a
    /// raw path (each distinct value is a new time series).
    pub fn record(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let mut registry = self.lock();
        *registry
            .requests
            .entry((method, route.to_owned(), status.as_u16()))
            .or_default() += 1;
        registry
            .durations
            .entry((method, route.to_owned()))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text: request counters, latency histograms, then the given gauges.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the Result only exists for the fmt::Write signature.
        let _ = self.write_requests(&mut out);
        let _ = write_gauges(&mut out, gauges);
        out
    }

    fn write_requests(&self, out: &mut String) -> fmt::Result {
        let registry = self.lock();

        writeln!(
            out,
            "# HELP {REQUESTS_TOTAL} HTTP requests answered, by method, route pattern and status."
        )?;
        writeln!(out, "# TYPE {REQUESTS_TOTAL} counter")?;
        for ((method, route, status), count) in &registry.requests {
            let status = status.to_string();
            write_sample(
                out,
                REQUESTS_TOTAL,
                &[("method", method), ("route", route), ("status", &status)],
                &count.to_string(),
            )?;
        }

        writeln!(
            out,
            "# HELP {REQUEST_DURATION} Time to answer HTTP requests (until the response head), \
             by method and route pattern."
        )?;
        writeln!(out, "# TYPE {REQUEST_DURATION} histogram")?;
        let bucket_name = format!("{REQUEST_DURATION}_bucket");
        let sum_name = format!("{REQUEST_DURATION}_sum");
        let count_name = format!("{REQUEST_DURATION}_count");
        for ((method, route), histogram) in &registry.durations {
            let mut cumulative = 0;
            let bounds = DURATION_BUCKETS
                .iter()
                .map(|&upper| format_float(upper))
                .chain(std::iter::once("+Inf".to_owned()));
            for (le, in_bucket) in bounds.zip(histogram.buckets.iter()) {
                cumulative += in_bucket;
                write_sample(
                    out,
                    &bucket_name,
                    &[("method", method), ("route", route), ("le", &le)],
                    &cumulative.to_string(),
                )?;
            }
            let labels = [("method", *method), ("route", route.as_str())];
            write_sample(out, &sum_name, &labels, &format_float(histogram.sum))?;
            write_sample(out, &count_name, &labels, &histogram.count.to_string())?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves consistent-enough counts; keep serving them.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Caller gauges grouped by name (first-appearance order), each family announced once.
fn write_gauges(out: &mut String, gauges: &[Gauge]) -> fmt::Result {
    let mut families: Vec<(String, &str, Vec<&Gauge>)> = Vec::new();
    for gauge in gauges {
        let name = sanitize_name(&gauge.name, true);
        match families.iter_mut().find(|(family, _, _)| *family == name) {
            Some((_, _, samples)) => samples.push(gauge),
            None => families.push((name, &gauge.help, vec![gauge])),
        }
    }
    for (name, help, samples) in families {
        writeln!(out, "# HELP {name} {}", escape_help(help))?;
        writeln!(out, "# TYPE {name} gauge")?;
        for gauge in samples {
            let labels: Vec<(String, &str)> = gauge
                .labels
                .iter()
                .map(|(label, value)| (sanitize_name(label, false), value.as_str()))
                .collect();
            let labels: Vec<(&str, &str)> = labels.iter().map(|(l, v)| (l.as_str(), *v)).collect();
            write_sample(out, &name, &labels, &format_float(gauge.value))?;
        }
    }
    Ok(())
}

/// `name{label="value",...} value`.
fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) -> fmt::Result {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, label_value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write!(out, "{label}=\"{}\"", escape_label_value(label_value))?;
        }
        out.push('}');
    }
    writeln!(out, " {value}")
}

/// Label values escape backslash, double quote and line feed (format 0.0.4).
fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// HELP text escapes backslash and line feed (format 0.0.4).
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Replaces characters not allowed in a metric name (`colons` true) or label name by `_`, so a
/// caller's typo yields an odd name rather than an unparsable scrape.
fn sanitize_name(name: &str, colons: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Floats as Prometheus reads them: Rust's shortest round-trip form, with `+Inf`, `-Inf`, `NaN`.
fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// The middleware made by [`Metrics::middleware`]. Mount it outside CORS so that preflights
/// and rejected requests are counted too.
#[derive(Debug, Clone)]
pub struct MetricsMiddleware {
    metrics: Metrics,
}

impl<S, B> Transform<S, ServiceRequest> for MetricsMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = MetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MetricsService {
            service,
            metrics: self.metrics.clone(),
        }))
    }
}

/// The service [`MetricsMiddleware`] wraps around the app.
pub struct MetricsService<S> {
    service: S,
    metrics: Metrics,
}

impl<S> fmt::Debug for MetricsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for MetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = req.method().clone();
        let metrics = self.metrics.clone();
        let fut = self.service.call(req);
        Box::pin(async move {
            let outcome = fut.await;
            match &outcome {
                // The pattern is read after routing, when actix knows which resource matched.
                Ok(res) => metrics.record(
                    &method,
                    &route_label(res.request()),
                    res.status(),
                    started.elapsed(),
                ),
                Err(err) => metrics.record(
                    &method,
                    UNMATCHED_ROUTE,
                    err.as_response_error().status_code(),
                    started.elapsed(),
                ),
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests;

//! Request metrics in the Prometheus text exposition format 0.0.4, kept and encoded by
//! `prometheus-client` (the Prometheus project's Rust client). The registry is owned by
//! [`Metrics`] rather than a global static, so every test builds its own.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, StatusCode};
use futures_util::future::LocalBoxFuture;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{UNMATCHED_ROUTE, method_label, route_label};

/// The `Content-Type` of [`Metrics::render`]'s text (Prometheus text format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency histogram buckets, from 5 ms to 10 s (Prometheus'
/// usual defaults; `+Inf` is implicit).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counted requests; a counter's samples are named with `_total` appended.
const REQUESTS: &str = "multivio_http_requests";
/// The registry appends the final period to these.
const REQUESTS_HELP: &str = "HTTP requests answered, by method, route pattern and status";
const REQUEST_DURATION: &str = "multivio_http_request_duration_seconds";
const REQUEST_DURATION_HELP: &str =
    "Time to answer HTTP requests (until the response head), by method and route pattern";

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
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Shared by recordings, taken alone by a scrape, so that a scrape never sees a request
    /// counted in one family and not yet in the other.
    scrape: RwLock<()>,
}

/// Labels of `multivio_http_requests_total`, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of `multivio_http_request_duration_seconds`, in this order (`le` follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let mut registry = Registry::default();
        registry.register(REQUESTS, REQUESTS_HELP, requests.clone());
        registry.register(REQUEST_DURATION, REQUEST_DURATION_HELP, durations.clone());
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                scrape: RwLock::new(()),
            }),
        }
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
        // A panic while holding the lock leaves consistent-enough counts; keep serving them.
        let _recording = self
            .inner
            .scrape
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status: status.as_u16(),
            })
            .inc();
        self.inner
            .durations
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text: request counters, latency histograms, then the given gauges.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut scrape = Registry::default();
        scrape.register_collector(Box::new(GaugeFamilies::of(gauges)));
        let mut out = String::new();
        // Writing to a String cannot fail; the Result only exists for the fmt::Write signature.
        {
            let _scraping = self
                .inner
                .scrape
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let _ = prometheus_text::encode(&mut out, &self.inner.registry);
        }
        let _ = prometheus_text::encode(&mut out, &scrape);
        out
    }
}

/// Caller gauges grouped by (sanitized) name in first-appearance order, each family with the
/// help of its first sample: encoded once per scrape, each family announced once.
#[derive(Debug)]
struct GaugeFamilies(Vec<GaugeFamily>);

#[derive(Debug)]
struct GaugeFamily {
    name: String,
    help: String,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

impl GaugeFamilies {
    fn of(gauges: &[Gauge]) -> Self {
        let mut families: Vec<GaugeFamily> = Vec::new();
        for gauge in gauges {
            let name = sanitize_name(&gauge.name, true);
            let labels = gauge
                .labels
                .iter()
                .map(|(label, value)| (sanitize_name(label, false), value.clone()))
                .collect();
            match families.iter_mut().find(|family| family.name == name) {
                Some(family) => family.samples.push((labels, gauge.value)),
                None => families.push(GaugeFamily {
                    name,
                    help: gauge.help.clone(),
                    samples: vec![(labels, gauge.value)],
                }),
            }
        }
        Self(families)
    }
}

impl Collector for GaugeFamilies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        for family in &self.0 {
            let mut metric =
                encoder.encode_descriptor(&family.name, &family.help, None, MetricType::Gauge)?;
            for (labels, value) in &family.samples {
                encode_gauge_value(*value, metric.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

/// Whole values as integers (`3`, not `3.0`); fractions, `+Inf`, `-Inf` and `NaN` as floats.
fn encode_gauge_value(value: f64, encoder: MetricEncoder) -> fmt::Result {
    /// Beyond 2^53 not every whole number is an `f64`: those stay floats.
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() <= EXACT_INTEGERS {
        ConstGauge::new(value as i64).encode(encoder)
    } else {
        ConstGauge::new(value).encode(encoder)
    }
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

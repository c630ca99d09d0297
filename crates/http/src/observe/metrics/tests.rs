use super::*;

#[test]
fn histogram_buckets_are_cumulative_and_complete() {
    let metrics = Metrics::new();
    for ms in [1, 7, 7, 300, 20_000] {
        metrics.record(
            &Method::GET,
            "/x",
            StatusCode::OK,
            Duration::from_millis(ms),
        );
    }
    let text = metrics.render(&[]);
    let bucket = |le: &str| {
        let prefix = format!(
            "multivio_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/x\",le=\"{le}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
    };
    assert_eq!(bucket("0.005").as_deref(), Some("1"));
    assert_eq!(bucket("0.01").as_deref(), Some("3"));
    assert_eq!(bucket("0.25").as_deref(), Some("3"));
    assert_eq!(bucket("0.5").as_deref(), Some("4"));
    assert_eq!(bucket("10").as_deref(), Some("4"));
    assert_eq!(bucket("+Inf").as_deref(), Some("5"));
    assert!(
        text.contains(
            "multivio_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 5\n"
        )
    );
    assert!(
        text.contains(
            "multivio_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 5\n"
        )
    );
}

#[test]
fn unknown_methods_share_one_label() {
    let metrics = Metrics::new();
    for m in ["FOO", "BAR"] {
        let method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
        metrics.record(&method, "unmatched", StatusCode::NOT_FOUND, Duration::ZERO);
    }
    assert!(metrics.render(&[]).contains(
        "multivio_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 2\n"
    ));
}

#[test]
fn escapes_label_values_and_help() {
    let gauge = Gauge::new("g", "a\\b\nc \"q\"", 1.0).label("l", "a\"b\\c\nd");
    let text = Metrics::new().render(&[gauge]);
    assert!(text.contains("g{l=\"a\\\"b\\\\c\\nd\"} 1\n"), "{text}");
    assert!(text.contains("# HELP g a\\\\b\\nc \"q\"\n"), "{text}");
}

#[test]
fn sanitizes_names() {
    assert_eq!(sanitize_name("multivio_db:pool", true), "multivio_db:pool");
    assert_eq!(sanitize_name("multivio_db:pool", false), "multivio_db_pool");
    assert_eq!(sanitize_name("9lives-x", true), "_9lives_x");
    assert_eq!(sanitize_name("", true), "_");
}

#[test]
fn formats_floats() {
    let format_float = |value: f64| {
        let text = Metrics::new().render(&[Gauge::new("g", "h", value)]);
        text.lines()
            .find_map(|l| l.strip_prefix("g "))
            .map(str::to_owned)
    };
    assert_eq!(format_float(1.0).as_deref(), Some("1"));
    assert_eq!(format_float(0.005).as_deref(), Some("0.005"));
    assert_eq!(format_float(f64::INFINITY).as_deref(), Some("+Inf"));
    assert_eq!(format_float(f64::NEG_INFINITY).as_deref(), Some("-Inf"));
    assert_eq!(format_float(f64::NAN).as_deref(), Some("NaN"));
}

#[test]
fn gauges_grouped_by_name() {
    let gauges = [
        Gauge::new("multivio_db_pool_connections", "Pool connections.", 3.0).label("state", "idle"),
        Gauge::new("multivio_job_queue_depth", "Jobs by status.", 7.0).label("status", "pending"),
        Gauge::new("multivio_db_pool_connections", "ignored", 2.0).label("state", "busy"),
    ];
    let text = Metrics::new().render(&gauges);
    let tail: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("multivio_db_pool"))
        .collect();
    assert_eq!(
        tail,
        [
            "# HELP multivio_db_pool_connections Pool connections.",
            "# TYPE multivio_db_pool_connections gauge",
            "multivio_db_pool_connections{state=\"idle\"} 3",
            "multivio_db_pool_connections{state=\"busy\"} 2",
            "# HELP multivio_job_queue_depth Jobs by status.",
            "# TYPE multivio_job_queue_depth gauge",
            "multivio_job_queue_depth{status=\"pending\"} 7",
        ]
    );
}

use super::*;

fn config(flags: &[&str]) -> Config {
    Config::from_flags(flags.iter().map(|f| (*f).to_owned())).unwrap()
}

fn refusal(flags: &[&str]) -> String {
    config(flags)
        .check_exposure()
        .expect_err("refused")
        .to_string()
}

#[test]
fn the_local_default_starts() {
    config(&[]).check_exposure().unwrap();
}

#[test]
fn a_server_reachable_from_other_machines_must_say_what_it_is() {
    let why = refusal(&["--listen=0.0.0.0:8080"]);
    assert!(why.contains("MULTIVIO_PRODUCTION"), "{why}");
    config(&["--listen=0.0.0.0:8080", "--development"])
        .check_exposure()
        .unwrap();
}

#[test]
fn the_sandbox_listens_on_loopback_only() {
    let why = refusal(&["--sandbox-listen=0.0.0.0:8090"]);
    assert!(why.contains("MULTIVIO_SANDBOX_LISTEN"), "{why}");
    // Without the sandbox, its address does not matter.
    config(&["--sandbox-listen=0.0.0.0:8090", "--sandbox=false"])
        .check_exposure()
        .unwrap();
}

#[test]
fn production_guards_its_metrics() {
    let why = refusal(&["--production"]);
    assert!(why.contains("MULTIVIO_METRICS_TOKEN"), "{why}");
    config(&["--production", "--metrics-token=a-long-scrape-token"])
        .check_exposure()
        .unwrap();
    config(&["--production", "--metrics-listen=127.0.0.1:9100"])
        .check_exposure()
        .unwrap();
}

#[test]
fn meta_app_secrets_never_reach_a_log() {
    let config = config(&[
        "--facebook-client-id=fb-app",
        "--facebook-client-secret=fb-secret-value",
        "--instagram-client-id=ig-app",
        "--instagram-client-secret=ig-secret-value",
        "--threads-client-id=th-app",
        "--threads-client-secret=th-secret-value",
    ]);
    let shown = format!("{config:?}");
    for secret in ["fb-secret-value", "ig-secret-value", "th-secret-value"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    for id in ["fb-app", "ig-app", "th-app"] {
        assert!(shown.contains(id), "{shown}");
    }
}

#[test]
fn default_plans_carry_storage_and_bucket_secrets_stay_out_of_logs() {
    let plans = config(&[]).plans().unwrap();
    let storage = |name: &str| {
        plans
            .get(&multivio_domain::quota::PlanName::new(name).unwrap())
            .unwrap()
            .storage_bytes
    };
    assert_eq!(storage("free"), 1 << 30);
    assert_eq!(storage("pro"), 10 << 30);
    assert_eq!(storage("business"), 100 << 30);
    assert_eq!(
        config(&["--plans=pro=100"])
            .plans()
            .unwrap()
            .plans()
            .count(),
        2,
        "the storage part is optional"
    );
    let c = config(&[
        "--s3-bucket=media",
        "--aws-access-key-id=AKIAEXAMPLE",
        "--aws-secret-access-key=very-secret-key",
        "--aws-session-token=session-token-value",
    ]);
    let shown = format!("{c:?}");
    assert!(
        shown.contains("media") && shown.contains("AKIAEXAMPLE"),
        "{shown}"
    );
    assert!(
        !shown.contains("very-secret-key") && !shown.contains("session-token-value"),
        "{shown}"
    );
}

#[test]
fn linkedin_youtube_pinterest_and_tiktok_app_secrets_never_reach_a_log() {
    let config = config(&[
        "--linkedin-client-id=li-app",
        "--linkedin-client-secret=li-secret-value",
        "--youtube-client-id=yt-app",
        "--youtube-client-secret=yt-secret-value",
        "--pinterest-client-id=pin-app",
        "--pinterest-client-secret=pin-secret-value",
        "--tiktok-client-id=tt-app",
        "--tiktok-client-secret=tt-secret-value",
    ]);
    let shown = format!("{config:?}");
    for secret in [
        "li-secret-value",
        "yt-secret-value",
        "pin-secret-value",
        "tt-secret-value",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    for id in ["li-app", "yt-app", "pin-app", "tt-app"] {
        assert!(shown.contains(id), "{shown}");
    }
}

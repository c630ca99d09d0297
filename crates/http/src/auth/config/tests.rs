use super::*;
use std::collections::HashMap;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults() {
    let c = FirebaseConfig::new("demo-multivio");
    assert_eq!(c.certs_url, GOOGLE_CERTS_URL);
    assert!(!c.emulator);
    assert_eq!(c.effective_clock_skew(), Duration::from_secs(300));
    assert_eq!(c.issuer(), "https://securetoken.google.com/demo-multivio");
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn skew_is_capped() {
    let c = FirebaseConfig::new("p").with_clock_skew(Duration::from_secs(3600));
    assert_eq!(c.effective_clock_skew(), MAX_CLOCK_SKEW);
    let c = FirebaseConfig::new("p").with_clock_skew(Duration::from_secs(10));
    assert_eq!(c.effective_clock_skew(), Duration::from_secs(10));
}

#[test]
fn production_refuses_emulator_and_plain_http() {
    let c = FirebaseConfig::new("p")
        .with_profile(Profile::Production)
        .with_emulator(true);
    assert_eq!(c.validate(), Err(ConfigError::EmulatorInProduction));
    let c = FirebaseConfig::new("p")
        .with_profile(Profile::Production)
        .with_certs_url("http://127.0.0.1:9/certs");
    assert_eq!(c.validate(), Err(ConfigError::InsecureCertificateUrl));
    let c = FirebaseConfig::new("p")
        .with_emulator(true)
        .with_certs_url("http://127.0.0.1:9/certs");
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn bad_project_ids_and_urls() {
    assert_eq!(
        FirebaseConfig::new("").validate(),
        Err(ConfigError::MissingProjectId)
    );
    assert_eq!(
        FirebaseConfig::new("a/b").validate(),
        Err(ConfigError::InvalidProjectId)
    );
    assert_eq!(
        FirebaseConfig::new("p")
            .with_certs_url("ftp://x")
            .validate(),
        Err(ConfigError::InvalidCertificateUrl)
    );
}

#[test]
fn from_lookup_reads_the_documented_names() {
    let c = FirebaseConfig::from_lookup(
        Profile::Development,
        lookup(&[
            (ENV_PROJECT_ID, "demo-multivio"),
            (ENV_EMULATOR_HOST, "127.0.0.1:9099"),
            (ENV_CERTS_URL, "http://127.0.0.1:1234/certs"),
        ]),
    );
    let c = c.unwrap();
    assert_eq!(c.project_id, "demo-multivio");
    assert!(c.emulator);
    assert_eq!(c.certs_url, "http://127.0.0.1:1234/certs");

    let c = FirebaseConfig::from_lookup(
        Profile::Production,
        lookup(&[(ENV_PROJECT_ID, "p"), (ENV_EMULATOR_HOST, "")]),
    )
    .unwrap();
    assert!(!c.emulator);
    assert_eq!(c.certs_url, GOOGLE_CERTS_URL);

    assert_eq!(
        FirebaseConfig::from_lookup(
            Profile::Production,
            lookup(&[(ENV_PROJECT_ID, "p"), (ENV_EMULATOR_HOST, "localhost:9099")]),
        ),
        Err(ConfigError::EmulatorInProduction)
    );
    assert_eq!(
        FirebaseConfig::from_lookup(Profile::Development, lookup(&[])),
        Err(ConfigError::MissingProjectId)
    );
}

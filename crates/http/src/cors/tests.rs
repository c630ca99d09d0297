use super::*;

#[test]
fn parses_and_normalises() {
    assert_eq!(
        parse_origins(
            " https://App.Example.com , http://localhost:3000,https://app.example.com:443/,"
        ),
        Ok(vec![
            "https://app.example.com".to_owned(),
            "http://localhost:3000".to_owned(),
        ])
    );
    assert_eq!(
        parse_origins("http://[::1]:8080,http://127.0.0.1,http://x.test:80"),
        Ok(vec![
            "http://[::1]:8080".to_owned(),
            "http://127.0.0.1".to_owned(),
            "http://x.test".to_owned(),
        ])
    );
}

#[test]
fn empty_means_none() {
    assert_eq!(parse_origins(""), Ok(vec![]));
    assert_eq!(parse_origins(" , "), Ok(vec![]));
}

#[test]
fn refuses_wildcard_clearly() {
    let err = parse_origins("https://a.example, *");
    assert_eq!(err, Err(ConfigError::WildcardOrigin));
    let message = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(message.contains("MULTIVIO_CORS_ORIGINS"), "{message}");
    assert!(message.contains('*'), "{message}");
    assert!(matches!(
        parse_origins("https://*.example.com"),
        Err(ConfigError::InvalidOrigin { .. })
    ));
}

#[test]
fn refuses_non_origins_without_panicking() {
    for bad in [
        "app.example.com",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com/path",
        "https://app.example.com/?q",
        "https://app.example.com#x",
        "https://user@app.example.com",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:",
        "https://app.example.com:80a",
        "https://app..example.com",
        "https://-app.example.com",
        "https://app example.com",
        "https://[::1",
        "https://[zz]",
        "https://[::1]x",
        "https://é.example.com",
        "https://ünïcode",
        "https://a:1:2",
        "://",
        "https://a.example\u{0}",
    ] {
        assert!(
            matches!(parse_origins(bad), Err(ConfigError::InvalidOrigin { .. })),
            "{bad:?} → {:?}",
            parse_origins(bad)
        );
    }
}

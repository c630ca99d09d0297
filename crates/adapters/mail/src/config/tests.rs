use super::*;

fn parse(url: &str) -> SmtpUrl {
    match SmtpUrl::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{url}: {e}"),
    }
}

fn refused(url: &str) -> String {
    match SmtpUrl::parse(url) {
        Ok(parsed) => panic!("{url} accepted as {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_documented_forms_parse_with_their_default_ports() {
    let smtps = parse("smtps://user:pass@smtp.example.com");
    assert_eq!(
        (smtps.host(), smtps.port(), smtps.tls()),
        ("smtp.example.com", 465, TlsMode::Implicit)
    );
    assert_eq!(smtps.user(), Some("user"));
    assert!(smtps.has_password());

    let required = parse("smtp://user:pass@host:2525?tls=required");
    assert_eq!(
        (required.port(), required.tls()),
        (2525, TlsMode::StartTlsRequired)
    );
    assert_eq!(
        parse("smtp://host?tls=required").port(),
        587,
        "STARTTLS defaults to the submission port"
    );

    let opportunistic = parse("smtp://host?tls=opportunistic");
    assert_eq!(
        (opportunistic.port(), opportunistic.tls()),
        (587, TlsMode::StartTlsOpportunistic)
    );

    let plain = parse("smtp://relay.internal");
    assert_eq!((plain.port(), plain.tls()), (25, TlsMode::None));
    assert_eq!(plain.user(), None);
    assert!(!plain.has_password());
}

#[test]
fn credentials_are_percent_decoded() {
    let url = parse("smtps://no-reply%40example.com:p%40ss%3Aw%2Fo%25rd@host");
    let (user, password) = url
        .credentials()
        .unwrap_or_else(|| panic!("no credentials"));
    assert_eq!(user, "no-reply@example.com");
    assert_eq!(password.expose(), "p@ss:w/o%rd");
}

#[test]
fn credentials_in_clear_text_go_to_loopback_hosts_only() {
    for url in [
        "smtp://user:pass@smtp.example.com:25",
        "smtp://user:pass@smtp.example.com?tls=opportunistic",
        "smtp://user:pass@10.0.0.5",
    ] {
        assert!(refused(url).contains("clear text"), "{url}");
    }
    for url in [
        "smtp://user:pass@localhost:2525",
        "smtp://user:pass@127.0.0.1:2525",
        "smtp://user:pass@[::1]:2525?tls=opportunistic",
    ] {
        parse(url);
    }
}

#[test]
fn mail_is_private_when_encrypted_or_kept_on_this_machine() {
    for url in [
        "smtps://smtp.example.com",
        "smtp://smtp.example.com?tls=required",
        "smtp://127.0.0.1:2525",
        "smtp://localhost?tls=opportunistic",
    ] {
        assert!(parse(url).keeps_mail_private(), "{url}");
    }
    for url in [
        "smtp://smtp.example.com",
        "smtp://smtp.example.com?tls=opportunistic",
        "smtp://10.0.0.5:25",
    ] {
        assert!(!parse(url).keeps_mail_private(), "{url}");
    }
}

#[test]
fn typos_and_other_schemes_are_refused() {
    assert!(refused("smtp://host?tls=require").contains("`required` or `opportunistic`"));
    assert!(refused("smtp://host?tsl=required").contains("unknown query parameter `tsl`"));
    assert!(refused("smtp://host?tls=required&tls=opportunistic").contains("twice"));
    assert!(refused("smtps://host?tls=required").contains("smtps"));
    assert!(refused("http://host").contains("scheme"));
    assert!(refused("smtp://host#x").contains("fragment"));
    assert!(refused("smtp://").contains("host"));
    assert!(refused("smtps://user@host").contains("password"));
    assert!(refused("smtps://:pass@host").contains("user name"));
    assert!(refused("not a url").contains("not a URL"));
}

#[test]
fn no_error_or_debug_output_shows_the_password() {
    let password = "s3cr3t-Pa55";
    for url in [
        format!("smtp://user:{password}@smtp.example.com"),
        format!("smtp://user:{password}@host?tls=nope"),
        format!("smtp://user:{password}@host?x=1"),
        format!("ftp://user:{password}@host"),
    ] {
        assert!(!refused(&url).contains(password), "{url}");
    }
    let url = parse(&format!("smtps://user:{password}@host"));
    let debug = format!("{url:?}");
    assert!(!debug.contains(password), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");

    let config = SmtpConfig::new(
        &format!("smtps://user:{password}@host"),
        "Multivio <no-reply@example.com>",
        "https://api.example.com",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let debug = format!("{config:?}");
    assert!(!debug.contains(password), "{debug}");
}

#[test]
fn the_ehlo_name_comes_from_the_path() {
    assert_eq!(
        parse("smtps://host/mail.example.com").hello_name(),
        Some("mail.example.com")
    );
    assert_eq!(parse("smtps://host/").hello_name(), None);
    assert_eq!(parse("smtps://host").hello_name(), None);
}

#[test]
fn relay_names_ipv6_hosts_in_brackets() {
    assert_eq!(parse("smtp://[::1]:2525").relay(), "[::1]:2525");
    assert_eq!(parse("smtp://[::1]:2525").host(), "::1");
    assert_eq!(parse("smtps://host").relay(), "host:465");
}

#[test]
fn the_sender_must_be_a_mailbox() {
    let config = |from: &str| SmtpConfig::new("smtp://localhost", from, "http://localhost:8080");
    assert_eq!(
        config("Multivio <no-reply@example.com>")
            .map(|c| c.from())
            .unwrap_or_else(|e| panic!("{e}")),
        "Multivio <no-reply@example.com>"
    );
    assert_eq!(
        config("no-reply@example.com")
            .map(|c| c.from())
            .unwrap_or_else(|e| panic!("{e}")),
        "no-reply@example.com"
    );
    assert!(matches!(config("Multivio"), Err(ConfigError::From(_))));
    assert!(matches!(config(""), Err(ConfigError::From(_))));
}

#[test]
fn the_link_goes_to_the_confirm_route_with_the_token_percent_encoded() {
    let link = VerificationLink::new("https://api.example.com/").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        link.confirm_url(),
        "https://api.example.com/v1/email-verification/confirm"
    );
    assert_eq!(
        link.for_token(&Secret::new("abc-DEF_123.~")),
        "https://api.example.com/v1/email-verification/confirm?token=abc-DEF_123.~"
    );
    assert_eq!(
        link.for_token(&Secret::new("a+b/c=d&e f?g#h%é")),
        "https://api.example.com/v1/email-verification/confirm?token=a%2Bb%2Fc%3Dd%26e%20f%3Fg%23h%25%C3%A9"
    );

    let prefixed =
        VerificationLink::new("http://127.0.0.1:8080/api").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        prefixed.confirm_url(),
        "http://127.0.0.1:8080/api/v1/email-verification/confirm"
    );
}

#[test]
fn a_link_can_go_to_another_page() {
    let link = VerificationLink::to_page("https://app.example.com/verify-email")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        link.for_token(&Secret::new("a b")),
        "https://app.example.com/verify-email?token=a%20b"
    );
    assert!(VerificationLink::to_page("https://app.example.com/verify?x=1").is_err());
    assert!(VerificationLink::to_page("javascript:alert(1)").is_err());
}

#[test]
fn the_public_url_must_be_a_plain_http_base() {
    for (url, reason) in [
        ("javascript:alert(1)", "scheme"),
        ("ftp://example.com", "scheme"),
        ("https://example.com/?a=b", "query"),
        ("https://example.com/#top", "fragment"),
        ("https://user:pw@example.com", "credentials"),
        ("example.com", "not a URL"),
    ] {
        match VerificationLink::new(url) {
            Ok(link) => panic!("{url} accepted: {link:?}"),
            Err(e) => assert!(e.to_string().contains(reason), "{url}: {e}"),
        }
    }
}

#[test]
fn a_root_certificate_must_be_pem() {
    let config = SmtpConfig::new("smtps://host", "a@example.com", "http://localhost")
        .unwrap_or_else(|e| panic!("{e}"));
    for pem in [
        &b"not a certificate"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        assert!(matches!(
            config.clone().with_root_certificate_pem(pem),
            Err(ConfigError::Tls(_))
        ));
    }
}

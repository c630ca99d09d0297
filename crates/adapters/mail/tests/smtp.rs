//! `SmtpMailer` against a real SMTP server on a loopback port (see `support`): what arrives,
//! how it travelled, and how failures come back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_mail::{SmtpConfig, SmtpMailer, escape_html};
use multivio_ports::mail::{MailError, Mailer};
use support::{Options, Security, SilentServer, SmtpServer, closed_port};

const FROM: &str = "Multivio <no-reply@example.com>";
const PUBLIC_URL: &str = "https://api.multivio.test/";
const USER: &str = "mailer@example.com";
const PASSWORD: &str = "p@ss w:rd/%";
/// The user and password as they are written in a URL.
const URL_CREDENTIALS: &str = "mailer%40example.com:p%40ss%20w%3Ard%2F%25";
/// A token with characters that must be encoded in a query.
const TOKEN: &str = "tok+en/=&x y";
const ENCODED_TOKEN: &str = "tok%2Ben%2F%3D%26x%20y";

fn to() -> Email {
    Email::new("Ada@Example.org").unwrap()
}

fn expected_link() -> String {
    format!("https://api.multivio.test/v1/email-verification/confirm?token={ENCODED_TOKEN}")
}

fn mailer(url: &str, server: Option<&SmtpServer>) -> SmtpMailer {
    let mut config = SmtpConfig::new(url, FROM, PUBLIC_URL).unwrap();
    if let Some(server) = server {
        config = config
            .with_root_certificate_pem(server.certificate_pem.as_bytes())
            .unwrap();
    }
    SmtpMailer::new(config.with_timeouts(Duration::from_secs(5), Duration::from_secs(10))).unwrap()
}

/// Checks the one message the server received: envelope, headers, both parts, the link.
fn assert_verification_mail(server: &SmtpServer) -> support::Received {
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let received = messages.into_iter().next().unwrap();
    assert_eq!(received.mail_from, "no-reply@example.com");
    assert_eq!(received.rcpt_to, vec!["ada@example.org".to_owned()]);

    let message = MessageParser::default()
        .parse(&received.data)
        .expect("a parsable message");
    let from = message.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some("Multivio"));
    assert_eq!(from.address(), Some("no-reply@example.com"));
    let to = message.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("ada@example.org"));
    assert_eq!(to.name(), None, "nothing but the address of the recipient");
    assert_eq!(
        message.subject(),
        Some("Confirm your email address for Multivio")
    );
    assert!(
        message
            .message_id()
            .is_some_and(|id| id.ends_with("@example.com")),
        "{:?}",
        message.message_id()
    );
    assert!(message.date().is_some());

    let root = message.root_part().content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    let kinds: Vec<_> = message
        .parts
        .iter()
        .skip(1)
        .map(|part| {
            let kind = part.content_type().unwrap();
            format!("{}/{}", kind.ctype(), kind.subtype().unwrap_or(""))
        })
        .collect();
    assert_eq!(kinds, ["text/plain", "text/html"]);

    let link = expected_link();
    let text = message.body_text(0).unwrap();
    assert!(
        text.lines().any(|line| line == link),
        "the link on a line of its own: {text}"
    );
    assert!(text.contains("Multivio"), "{text}");
    assert!(text.contains("valid for 24 hours"), "{text}");
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains(&format!("<a href=\"{}\"", escape_html(&link))),
        "{html}"
    );
    assert!(html.contains("valid for 24 hours"), "{html}");
    assert!(
        !html.contains(TOKEN) && !text.contains(TOKEN),
        "the token is encoded"
    );
    received
}

#[tokio::test]
async fn starttls_with_auth_delivers_the_verification_mail() {
    let server =
        SmtpServer::start(Options::new(Security::StartTls).credentials(USER, PASSWORD)).await;
    let url = format!(
        "smtp://{URL_CREDENTIALS}@127.0.0.1:{}?tls=required",
        server.port()
    );

    mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap();

    let received = assert_verification_mail(&server);
    assert!(received.over_tls, "STARTTLS before anything else");
    assert_eq!(received.authenticated_as.as_deref(), Some(USER));
    assert_eq!(
        server.logins(),
        [(USER.to_owned(), PASSWORD.to_owned(), true)],
        "the URL's credentials, percent-decoded"
    );
}

#[tokio::test]
async fn implicit_tls_with_auth_delivers_the_verification_mail() {
    let server =
        SmtpServer::start(Options::new(Security::Implicit).credentials(USER, PASSWORD)).await;
    let url = format!("smtps://{URL_CREDENTIALS}@127.0.0.1:{}", server.port());

    mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap();

    let received = assert_verification_mail(&server);
    assert!(received.over_tls);
    assert_eq!(received.authenticated_as.as_deref(), Some(USER));
}

#[tokio::test]
async fn a_loopback_relay_may_take_credentials_in_clear_text() {
    let mut options = Options::new(Security::Plain).credentials(USER, PASSWORD);
    options.plaintext_auth = true;
    let server = SmtpServer::start(options).await;
    let url = format!("smtp://{URL_CREDENTIALS}@127.0.0.1:{}", server.port());

    mailer(&url, None)
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap();

    let received = assert_verification_mail(&server);
    assert!(!received.over_tls);
    assert_eq!(received.authenticated_as.as_deref(), Some(USER));
}

#[tokio::test]
async fn a_relay_without_auth_gets_the_mail_unauthenticated() {
    let server = SmtpServer::start(Options::new(Security::StartTls)).await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port());

    mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap();

    let received = assert_verification_mail(&server);
    assert!(received.over_tls);
    assert_eq!(received.authenticated_as, None);
    assert!(server.logins().is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_a_mail_error_that_hides_the_password() {
    let server =
        SmtpServer::start(Options::new(Security::StartTls).credentials(USER, "another")).await;
    let url = format!(
        "smtp://{URL_CREDENTIALS}@127.0.0.1:{}?tls=required",
        server.port()
    );

    let error = mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    assert!(error.to_string().contains("refused (535"), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "{error}"
    );
    for secret in [PASSWORD, "p@ss", URL_CREDENTIALS] {
        assert!(!error.to_string().contains(secret), "{error}");
    }
    assert!(server.messages().is_empty());
    assert_eq!(server.logins().len(), 1);
}

#[tokio::test]
async fn tls_required_sends_nothing_to_a_relay_without_starttls() {
    let mut options = Options::new(Security::Plain).credentials(USER, PASSWORD);
    options.plaintext_auth = true;
    let server = SmtpServer::start(options).await;
    let url = format!(
        "smtp://{URL_CREDENTIALS}@127.0.0.1:{}?tls=required",
        server.port()
    );

    let error = mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    assert!(
        error
            .to_string()
            .starts_with("mail not sent: SMTP relay 127.0.0.1:"),
        "{error}"
    );
    assert!(server.logins().is_empty(), "no credentials in clear text");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_send() {
    let server =
        SmtpServer::start(Options::new(Security::StartTls).credentials(USER, PASSWORD)).await;
    let url = format!(
        "smtp://{URL_CREDENTIALS}@127.0.0.1:{}?tls=required",
        server.port()
    );

    // Only the built-in roots: the self-signed certificate is not among them.
    let error = mailer(&url, None)
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    assert!(error.to_string().contains("TLS failed"), "{error}");
    assert!(server.logins().is_empty());
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_refused_recipient_is_a_mail_error() {
    let mut options = Options::new(Security::StartTls);
    options.refuse_rcpt = true;
    let server = SmtpServer::start(options).await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port());

    let error = mailer(&url, Some(&server))
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    assert!(matches!(error, MailError::Failed(_)), "{error:?}");
    assert!(error.to_string().contains("refused (550"), "{error}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_address_no_mail_header_can_hold_is_the_recipients_error_and_nothing_is_sent() {
    let server = SmtpServer::start(Options::new(Security::StartTls)).await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port());
    let mailer = mailer(&url, Some(&server));
    // Accepted as an account's email, but not as a mailbox (RFC 5321: a local part of at
    // most 64 characters, no dots in a row).
    for address in [
        format!("{}@example.com", "a".repeat(65)),
        "a..b@example.com".to_owned(),
    ] {
        let to = Email::new(&address).unwrap();
        assert!(!mailer.can_address(&to), "{address}");
        let error = mailer
            .send_verification(&to, &Secret::new(TOKEN))
            .await
            .unwrap_err();
        assert!(
            matches!(error, MailError::Recipient(_)),
            "{address}: {error:?}"
        );
    }
    assert!(mailer.can_address(&to()));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_relay_fails_at_once() {
    let port = closed_port().await;
    let url = format!("smtp://{URL_CREDENTIALS}@127.0.0.1:{port}?tls=required");

    let started = Instant::now();
    let error = mailer(&url, None)
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        error.to_string().contains("could not be reached"),
        "{error}"
    );
    assert!(
        !error.to_string().contains(PASSWORD) && !error.to_string().contains("p%40ss"),
        "{error}"
    );
}

#[tokio::test]
async fn a_relay_that_never_answers_times_out() {
    let silent = SilentServer::start().await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", silent.addr.port());
    let config = SmtpConfig::new(&url, FROM, PUBLIC_URL)
        .unwrap()
        .with_timeouts(Duration::from_millis(500), Duration::from_millis(700));

    let started = Instant::now();
    let error = SmtpMailer::new(config)
        .unwrap()
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap_err();

    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        error.to_string().contains("no answer within 700 ms"),
        "{error}"
    );
}

#[tokio::test]
async fn one_connection_per_message() {
    let server = SmtpServer::start(Options::new(Security::StartTls)).await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port());
    let mailer = mailer(&url, Some(&server));

    for token in ["first", "second"] {
        mailer
            .send_verification(&to(), &Secret::new(token))
            .await
            .unwrap();
    }

    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(server.connections(), 2);
    let second = String::from_utf8_lossy(&messages[1].data).into_owned();
    assert!(second.contains("confirm?token=second"), "{second}");
}

#[test]
fn debug_never_shows_the_password() {
    let url = format!("smtps://{URL_CREDENTIALS}@smtp.example.com");
    let mailer = mailer(&url, None);
    let debug = format!("{mailer:?}");
    assert!(debug.contains("smtp.example.com:465"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    for secret in [PASSWORD, "p@ss", "p%40ss"] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

/// Everything logged, at every level, while a closure's future runs on this thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_logged_while_sending_carries_the_token_or_the_password() {
    let mut options = Options::new(Security::Plain).credentials(USER, PASSWORD);
    options.plaintext_auth = true;
    let server = SmtpServer::start(options).await;
    let url = format!("smtp://{URL_CREDENTIALS}@127.0.0.1:{}", server.port());
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let mailer = mailer(&url, None);
    tracing::info!(mailer = ?mailer, "mailer built");
    mailer
        .send_verification(&to(), &Secret::new(TOKEN))
        .await
        .unwrap();
    drop(guard);
    assert_verification_mail(&server);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("mailer built"),
        "the capture works: {logged}"
    );
    for secret in [TOKEN, ENCODED_TOKEN, PASSWORD, "p%40ss"] {
        assert!(!logged.contains(secret), "{secret} logged: {logged}");
    }
}

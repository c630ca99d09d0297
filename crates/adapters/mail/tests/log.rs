//! `LogMailer`: the link goes to the log, nothing is sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::sync::{Arc, Mutex};

use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_mail::LogMailer;
use multivio_ports::mail::Mailer;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_link_and_the_confirming_request_are_logged() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    LogMailer::new("http://127.0.0.1:8080/")
        .unwrap()
        .send_verification(
            &Email::new("ada@example.org").unwrap(),
            &Secret::new("t0k+en"),
        )
        .await
        .unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("to=\"ada@example.org\""), "{log}");
    assert!(
        log.contains("link=http://127.0.0.1:8080/v1/email-verification/confirm?token=t0k%2Ben"),
        "{log}"
    );
    assert!(
        log.contains(
            "POST http://127.0.0.1:8080/v1/email-verification/confirm with {\"token\": \"t0k+en\"}"
        ),
        "{log}"
    );
    assert!(
        log.contains("Confirm your email address for Multivio"),
        "{log}"
    );
    assert!(
        log.contains("valid for 24 hours"),
        "the message body at debug: {log}"
    );
}

#[test]
fn the_public_url_is_checked() {
    assert!(LogMailer::new("javascript:alert(1)").is_err());
}

#[test]
fn it_refuses_the_addresses_the_smtp_mailer_cannot_write() {
    let mailer = LogMailer::new("http://127.0.0.1:8080/").unwrap();
    assert!(mailer.can_address(&Email::new("ada@example.org").unwrap()));
    let long = format!("{}@example.org", "a".repeat(65));
    assert!(!mailer.can_address(&Email::new(long).unwrap()));
}

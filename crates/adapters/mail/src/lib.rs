//! # multivio-mail
//!
//! Multivio's outgoing mail, behind the [`Mailer`](multivio_ports::mail::Mailer) port:
//!
//! - [`SmtpMailer`] sends the email-verification message through an SMTP relay with lettre's
//!   tokio transport over rustls (ring; the Mozilla root certificates are built in, so nothing
//!   is read from the system or downloaded). No native-tls, no OpenSSL.
//! - [`LogMailer`] writes the same message's link to the log instead, for local runs without a
//!   relay. It is for development only: the server's wiring must never choose it in a
//!   production profile, since a verification link in a log lets whoever reads the log verify
//!   any address.
//!
//! ## Configuration
//!
//! [`SmtpConfig::new`] takes three settings, which the server reads from its environment:
//!
//! | setting | example | what it is |
//! |---|---|---|
//! | `MULTIVIO_SMTP_URL` | `smtp://user:pass@smtp.example.com:587?tls=required` | the relay, its TLS mode and credentials ([`SmtpUrl`]) |
//! | `MULTIVIO_MAIL_FROM` | `Multivio <no-reply@example.com>` | the `From` header and envelope sender |
//! | `MULTIVIO_PUBLIC_URL` | `https://api.example.com` | the base of the verification link ([`VerificationLink`]) |
//!
//! ### Accepted SMTP URLs
//!
//! | form | transport | default port |
//! |---|---|---|
//! | `smtps://[user:pass@]host[:port]` | TLS from the first byte (implicit TLS, RFC 8314) | 465 |
//! | `smtp://[user:pass@]host[:port]?tls=required` | STARTTLS, and nothing is sent if the relay does not offer it | 587 |
//! | `smtp://host[:port]?tls=opportunistic` | STARTTLS when the relay offers it, else clear text | 587 |
//! | `smtp://host[:port]` | clear text | 25 |
//!
//! - The user name and password are percent-decoded: a password holding `@`, `:`, `/`, `?`,
//!   `#` or `%` must be written percent-encoded (`p%40ss` for `p@ss`).
//! - Credentials go only over TLS: with `tls=opportunistic` or without `tls`, a URL with
//!   credentials is refused unless the host is a loopback address (`localhost`, `127.0.0.0/8`,
//!   `::1`), where nothing crosses a network.
//! - An optional path names the client in `EHLO` (`smtps://host/mail.example.com`); without one,
//!   the machine's host name is used.
//! - Any other query parameter, a `tls` value other than `required` or `opportunistic`, a
//!   `tls` with `smtps`, a fragment or another scheme is refused, so that a typo never silently
//!   weakens the transport.
//! - Certificates are checked against the built-in Mozilla roots, plus any root added with
//!   [`SmtpConfig::with_root_certificate_pem`] (a relay behind a private CA).
//!
//! ## Timeouts
//!
//! Connecting (TCP) gives up after [`DEFAULT_CONNECT_TIMEOUT`] and a whole send (connect, TLS,
//! `EHLO`, `AUTH`, the message, `QUIT`) after [`DEFAULT_SEND_TIMEOUT`]; both can be changed
//! with [`SmtpConfig::with_timeouts`]. A relay that accepts the connection and then says
//! nothing therefore fails the send instead of holding the request.
//!
//! ## The message
//!
//! One message: [`verification_message`] renders `templates/verification.txt` and
//! `templates/verification.html` (compiled in) into a `multipart/alternative` mail whose only
//! variable content is the link (HTML-escaped in the HTML part) and the link's validity in
//! hours. Nothing the user chose (a name, say) is put in the mail: the recipient is the bare
//! address.
//!
//! The link is `{public_url}/v1/email-verification/confirm?token=…` ([`VerificationLink`]).
//! The API's route at that path takes `POST {"token": …}`; a browser opening the link sends a
//! `GET`, which the HTTP layer must answer (best with a page whose button `POST`s the token,
//! since mail scanners open links and the token is single use). A front end's page can be
//! linked instead with [`VerificationLink::to_page`] and [`SmtpConfig::with_link`].
//!
//! ## Errors
//!
//! Failures become [`MailError`](multivio_ports::mail::MailError)s naming the relay (host and
//! port, never the credentials) and the kind of failure (connection, TLS, timeout, rejected
//! with the SMTP code). The password is never part of an error, a log line or a `Debug`
//! output.

mod config;
mod log;
mod message;
mod smtp;

pub use config::{
    ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SEND_TIMEOUT, SmtpConfig, SmtpUrl, TlsMode,
    VerificationLink,
};
pub use log::LogMailer;
pub use message::{
    CONFIRM_PATH, LINK_VALID_HOURS, SUBJECT, VerificationMessage, can_write_address, escape_html,
    verification_message,
};
pub use smtp::SmtpMailer;

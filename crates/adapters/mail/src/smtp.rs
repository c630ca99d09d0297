//! [`SmtpMailer`]: the verification message through an SMTP relay.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_ports::mail::{MailError, Mailer};

use crate::config::{ConfigError, SmtpConfig, TlsMode, VerificationLink};
use crate::message::{SUBJECT, can_write_address, header_address, verification_message};

/// Sends the verification message through an SMTP relay (lettre, tokio, rustls): a new
/// connection per message, `AUTH` when the URL has credentials, each send bounded by the
/// configured timeouts. `Debug` shows the relay and the sender, never the password.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    link: VerificationLink,
    relay: String,
    tls: TlsMode,
    user: Option<String>,
    password: Option<Secret>,
    send_timeout: Duration,
}

impl SmtpMailer {
    /// A mailer for `config`. Fails only on TLS settings that cannot be built; nothing is
    /// connected until the first send.
    pub fn new(config: SmtpConfig) -> Result<Self, ConfigError> {
        let url = &config.url;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host())
            .port(url.port())
            .timeout(Some(config.connect_timeout));
        let tls: Option<fn(TlsParameters) -> Tls> = match url.tls() {
            TlsMode::Implicit => Some(Tls::Wrapper),
            TlsMode::StartTlsRequired => Some(Tls::Required),
            TlsMode::StartTlsOpportunistic => Some(Tls::Opportunistic),
            TlsMode::None => None,
        };
        if let Some(tls) = tls {
            // The certificate must name the host of the URL; it is checked against the Mozilla
            // roots built into the binary and the extra roots of the configuration.
            let mut parameters = TlsParameters::builder(url.host().to_owned());
            for certificate in &config.root_certificates {
                parameters = parameters.add_root_certificate(certificate.clone());
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|e| ConfigError::Tls(e.to_string()))?;
            builder = builder.tls(tls(parameters));
        }
        if let Some((user, password)) = url.credentials() {
            builder = builder.credentials(Credentials::new(
                user.to_owned(),
                password.expose().to_owned(),
            ));
        }
        if let Some(name) = url.hello_name() {
            builder = builder.hello_name(ClientId::Domain(name.to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            relay: url.relay(),
            tls: url.tls(),
            user: url.user().map(str::to_owned),
            password: url.credentials().map(|(_, password)| password.clone()),
            from: config.from,
            link: config.link,
            send_timeout: config.send_timeout,
        })
    }

    /// [`SmtpConfig::new`] then [`SmtpMailer::new`]: from `MULTIVIO_SMTP_URL`,
    /// `MULTIVIO_MAIL_FROM` and the public base URL, with the default timeouts.
    pub fn from_settings(
        smtp_url: &str,
        from: &str,
        public_url: &str,
    ) -> Result<Self, ConfigError> {
        Self::new(SmtpConfig::new(smtp_url, from, public_url)?)
    }

    /// The verification message to `to` carrying `token`, as it would be sent.
    pub fn verification(&self, to: &Email, token: &Secret) -> Result<Message, MailError> {
        let address = header_address(to).ok_or_else(|| {
            MailError::Recipient(
                "the recipient's address cannot be written in a mail header".to_owned(),
            )
        })?;
        let rendered = verification_message(&self.link.for_token(token));
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, address))
            .subject(SUBJECT)
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4(),
                self.from.email.domain()
            )))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text().to_owned(),
                rendered.html().to_owned(),
            ))
            .map_err(|e| MailError::Failed(format!("the message cannot be built: {e}")))
    }

    fn failure(&self, error: &lettre::transport::smtp::Error) -> MailError {
        let what = if error.is_timeout() {
            "timed out".to_owned()
        } else if error.is_tls() || tls_handshake_failed(error) {
            "TLS failed".to_owned()
        } else if let Some(code) = error.status() {
            if error.is_permanent() {
                format!("refused ({code})")
            } else {
                format!("temporarily refused ({code})")
            }
        } else if error.is_response() {
            "answered what is not SMTP".to_owned()
        } else if error.is_client() {
            "could not be used (no STARTTLS or no common AUTH mechanism?)".to_owned()
        } else {
            "could not be reached".to_owned()
        };
        // lettre never prints credentials, but the detail holds the relay's own words and I/O
        // errors; scrub the password in case a relay echoes it.
        let mut detail = error.to_string();
        if let Some(password) = self.password.as_ref().filter(|p| !p.is_empty()) {
            detail = detail.replace(password.expose(), "[redacted]");
        }
        tracing::warn!(relay = %self.relay, error = %detail, "verification mail not sent");
        MailError::Failed(format!("SMTP relay {}: {what}", self.relay))
    }
}

/// Whether a TLS handshake failed (an untrusted or mismatched certificate, no common protocol):
/// lettre reports these as connection errors carrying the rustls error inside an I/O error.
fn tls_handshake_failed(error: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        if current.is::<rustls::Error>()
            || current
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        source = current.source();
    }
    false
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn can_address(&self, to: &Email) -> bool {
        can_write_address(to)
    }

    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError> {
        let message = self.verification(to, token)?;
        match tokio::time::timeout(self.send_timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(self.failure(&error)),
            Err(_elapsed) => {
                tracing::warn!(relay = %self.relay, "verification mail not sent: timed out");
                Err(MailError::Failed(format!(
                    "SMTP relay {}: no answer within {} ms",
                    self.relay,
                    self.send_timeout.as_millis()
                )))
            }
        }
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("relay", &self.relay)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from.to_string())
            .field("confirm_url", &self.link.confirm_url())
            .field("send_timeout", &self.send_timeout)
            .finish_non_exhaustive()
    }
}

//! [`LogMailer`]: the verification link in the log, for local runs.

use async_trait::async_trait;
use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_ports::mail::{MailError, Mailer};

use crate::config::{ConfigError, VerificationLink};
use crate::message::{SUBJECT, can_write_address, verification_message};

/// Writes the verification message to the log (`tracing`, at `info`: recipient, subject, link,
/// and the `POST` that confirms it; the plain-text body at `debug`) instead of sending it, and
/// always succeeds.
///
/// **Local development only.** The link is as good as the mailbox it was meant for: anyone who
/// can read the log could verify any address with it. The server's wiring must never choose it
/// in a production profile (there, no relay means no mail: sending fails).
#[derive(Debug, Clone)]
pub struct LogMailer {
    link: VerificationLink,
}

impl LogMailer {
    /// A log mailer whose links start at `public_url`.
    pub fn new(public_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            link: VerificationLink::new(public_url)?,
        })
    }

    /// A log mailer with another link builder.
    pub fn with_link(link: VerificationLink) -> Self {
        Self { link }
    }
}

#[async_trait]
impl Mailer for LogMailer {
    /// As the SMTP mailer answers: a local run refuses what production would.
    fn can_address(&self, to: &Email) -> bool {
        can_write_address(to)
    }

    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError> {
        let link = self.link.for_token(token);
        tracing::info!(
            to = to.as_str(),
            subject = SUBJECT,
            link = %link,
            "email verification (no mail relay in local runs, so it is logged instead of sent): \
             POST {} with {{\"token\": \"{}\"}}",
            self.link.confirm_url(),
            token.expose()
        );
        tracing::debug!(
            to = to.as_str(),
            body = verification_message(&link).text(),
            "email verification message"
        );
        Ok(())
    }
}

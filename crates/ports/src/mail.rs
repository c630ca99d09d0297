//! Outgoing mail.

use async_trait::async_trait;
use multivio_domain::Secret;
use multivio_domain::contact::Email;

/// Why sending failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The address cannot be sent this mail (it cannot be written in a mail header): sending
    /// again will not help.
    #[error("mail not sent: {0}")]
    Recipient(String),
    /// Not sent this time (the relay is down, refused, timed out, or there is none).
    #[error("mail not sent: {0}")]
    Failed(String),
}

/// Sends mail.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Whether mail to `to` can be written at all (its address fits a mail header): asked
    /// before a send is recorded, so an address that never can is refused without one.
    fn can_address(&self, to: &Email) -> bool;

    /// Sends the email-verification message carrying `token` (the adapter builds the link from
    /// the public URL).
    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError>;
}

//! The verification message, rendered from the templates compiled into the crate.

use std::fmt;

use lettre::Address;
use multivio_domain::contact::Email;

/// The API route that confirms an address (`POST` with `{"token": …}` in `multivio-http`); the
/// link puts the token in its query.
pub const CONFIRM_PATH: &str = "/v1/email-verification/confirm";

/// How long the link is valid, as the message states it. It must equal
/// `multivio_app::users::VERIFICATION_TTL_HOURS`, which sets the token's expiry (the server
/// asserts this at compile time, in `outbound.rs`).
pub const LINK_VALID_HOURS: u32 = 24;

/// The subject line.
pub const SUBJECT: &str = "Confirm your email address for Multivio";

const TEXT_TEMPLATE: &str = include_str!("../templates/verification.txt");
const HTML_TEMPLATE: &str = include_str!("../templates/verification.html");

/// `to` as a mail header's address (lettre's parser: an RFC 5321 mailbox), if it can be one.
pub(crate) fn header_address(to: &Email) -> Option<Address> {
    to.as_str().parse::<Address>().ok()
}

/// Whether mail to `to` can be written at all: what every [`Mailer::can_address`] of
/// Multivio's answers, a mailer that sends nothing too.
///
/// [`Mailer::can_address`]: multivio_ports::mail::Mailer::can_address
pub fn can_write_address(to: &Email) -> bool {
    header_address(to).is_some()
}

/// The rendered message. `Debug` leaves out the bodies, which carry the token.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationMessage {
    text: String,
    html: String,
}

impl VerificationMessage {
    /// The subject line.
    pub fn subject(&self) -> &'static str {
        SUBJECT
    }

    /// The plain-text part.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The HTML part.
    pub fn html(&self) -> &str {
        &self.html
    }
}

impl fmt::Debug for VerificationMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationMessage")
            .field("subject", &SUBJECT)
            .finish_non_exhaustive()
    }
}

/// Renders both parts for `link` (a URL built by
/// [`VerificationLink`](crate::VerificationLink)). In the HTML part the link is HTML-escaped.
pub fn verification_message(link: &str) -> VerificationMessage {
    let hours = LINK_VALID_HOURS.to_string();
    VerificationMessage {
        text: render(TEXT_TEMPLATE, &[("link", link), ("hours", &hours)]),
        html: render(
            HTML_TEMPLATE,
            &[("link", &escape_html(link)), ("hours", &hours)],
        ),
    }
}

/// Replaces each `{{name}}` of `template` by its value, in one pass: a value is never scanned
/// for placeholders itself. An unknown placeholder is left as it is (a test checks that the
/// templates use known ones only).
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, end))
        });
        match value {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML (the domain's; re-exported for the templates' users).
pub use multivio_domain::escape_html;

#[cfg(test)]
mod tests;

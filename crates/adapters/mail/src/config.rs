//! Settings: the relay's URL, the sender, the link's base and the timeouts.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use multivio_domain::Secret;
use url::{Host, Url};

use crate::message::CONFIRM_PATH;

/// How long connecting to the relay (TCP) may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole send may take: connecting, TLS, `EHLO`, `AUTH`, the message and `QUIT`.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

const SMTP_PORT: u16 = 25;
const SUBMISSION_PORT: u16 = 587;
const SUBMISSIONS_PORT: u16 = 465;
const CERTIFICATE_BLOCK: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// A setting that cannot be used. The messages never repeat the SMTP URL, which may hold a
/// password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `MULTIVIO_SMTP_URL` is not one of the accepted forms.
    #[error("MULTIVIO_SMTP_URL: {0}")]
    SmtpUrl(String),
    /// `MULTIVIO_MAIL_FROM` is not a mailbox.
    #[error("MULTIVIO_MAIL_FROM: {0}")]
    From(String),
    /// The public URL cannot be the base of a link.
    #[error("public URL: {0}")]
    PublicUrl(String),
    /// A root certificate or the TLS settings built from it.
    #[error("SMTP TLS: {0}")]
    Tls(String),
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=required`: STARTTLS, or nothing is sent.
    StartTlsRequired,
    /// `smtp://…?tls=opportunistic`: STARTTLS when offered, else clear text.
    StartTlsOpportunistic,
    /// `smtp://` without `tls`: clear text.
    None,
}

impl TlsMode {
    /// Whether credentials and mail can only ever travel encrypted.
    pub fn always_encrypted(self) -> bool {
        matches!(self, Self::Implicit | Self::StartTlsRequired)
    }
}

/// A parsed `MULTIVIO_SMTP_URL` (see the crate documentation for the accepted forms). `Debug`
/// shows the user name but never the password.
#[derive(Clone)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    tls: TlsMode,
    user: Option<String>,
    password: Option<Secret>,
    hello_name: Option<String>,
    loopback: bool,
}

impl SmtpUrl {
    /// Parses and checks a URL.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::SmtpUrl(reason.to_owned());
        let url = Url::parse(value.trim())
            .map_err(|e| ConfigError::SmtpUrl(format!("not a URL ({e})")))?;
        let mut tls_param = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls_param.is_none() => tls_param = Some(value.into_owned()),
                "tls" => return Err(invalid("`tls` is given twice")),
                other => {
                    return Err(ConfigError::SmtpUrl(format!(
                        "unknown query parameter `{other}` (only `tls` is accepted)"
                    )));
                }
            }
        }
        if url.fragment().is_some() {
            return Err(invalid("a fragment (`#…`) is not accepted"));
        }
        let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
            ("smtps", None) => (TlsMode::Implicit, SUBMISSIONS_PORT),
            ("smtps", Some(_)) => {
                return Err(invalid(
                    "`tls` does not go with smtps:// (TLS from the first byte already)",
                ));
            }
            ("smtp", Some("required")) => (TlsMode::StartTlsRequired, SUBMISSION_PORT),
            ("smtp", Some("opportunistic")) => (TlsMode::StartTlsOpportunistic, SUBMISSION_PORT),
            ("smtp", None) => (TlsMode::None, SMTP_PORT),
            ("smtp", Some(_)) => {
                return Err(invalid("`tls` must be `required` or `opportunistic`"));
            }
            _ => return Err(invalid("the scheme must be smtp:// or smtps://")),
        };
        let (host, loopback) = match url.host() {
            // smtp:// is not a "special" scheme to the URL standard, so an IPv4 address
            // arrives as a name.
            Some(Host::Domain(name)) if !name.is_empty() => {
                let loopback = match name.parse::<IpAddr>() {
                    Ok(ip) => ip.is_loopback(),
                    Err(_) => name.eq_ignore_ascii_case("localhost"),
                };
                (name.to_owned(), loopback)
            }
            Some(Host::Ipv4(ip)) => (ip.to_string(), IpAddr::V4(ip).is_loopback()),
            Some(Host::Ipv6(ip)) => (ip.to_string(), IpAddr::V6(ip).is_loopback()),
            _ => return Err(invalid("the host is missing")),
        };
        let decode = |part: &str, what: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ConfigError::SmtpUrl(format!("the {what} is not UTF-8")))
        };
        let user = Some(decode(url.username(), "user name")?).filter(|u| !u.is_empty());
        let password = url
            .password()
            .map(|p| decode(p, "password"))
            .transpose()?
            .map(Secret::new);
        if password.is_some() && user.is_none() {
            return Err(invalid("a password needs a user name"));
        }
        if user.is_some() && password.is_none() {
            return Err(invalid(
                "a user name needs a password (`user:password@host`)",
            ));
        }
        if password.is_some() && !tls.always_encrypted() && !loopback {
            return Err(invalid(
                "credentials would cross the network in clear text: use smtps:// or \
                 `?tls=required` (clear text is accepted for a loopback host only)",
            ));
        }
        let hello_name = Some(url.path().trim_matches('/'))
            .filter(|p| !p.is_empty())
            .map(|p| decode(p, "EHLO name"))
            .transpose()?;
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            user,
            password,
            hello_name,
            loopback,
        })
    }

    /// Whether mail can only ever travel encrypted (`smtps://`, `?tls=required`) or stays on
    /// this machine (a loopback relay). Verification links are secrets: production sends them
    /// no other way.
    pub fn keeps_mail_private(&self) -> bool {
        self.tls.always_encrypted() || self.loopback
    }

    /// The relay's host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The relay's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is protected.
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The user name, when the relay wants `AUTH`.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether a password was given.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The name given in `EHLO`, when the URL has one.
    pub fn hello_name(&self) -> Option<&str> {
        self.hello_name.as_deref()
    }

    pub(crate) fn credentials(&self) -> Option<(&str, &Secret)> {
        self.user.as_deref().zip(self.password.as_ref())
    }

    /// `host:port` (IPv6 in brackets), for messages.
    pub fn relay(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for SmtpUrl {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("hello_name", &self.hello_name)
            .field("loopback", &self.loopback)
            .finish()
    }
}

/// Builds the verification link: `{public_url}/v1/email-verification/confirm?token=…` (or
/// another page's URL, [`VerificationLink::to_page`]), the token percent-encoded (everything
/// but RFC 3986's unreserved characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationLink {
    confirm_url: String,
}

impl VerificationLink {
    /// Links to the API's confirm route under the server's public base URL (`http`/`https`, a
    /// host, perhaps a path prefix; no query, fragment or credentials). A trailing `/` is
    /// ignored.
    pub fn new(public_url: &str) -> Result<Self, ConfigError> {
        let base = checked_http_url(public_url)?;
        Ok(Self {
            confirm_url: format!("{}{CONFIRM_PATH}", base.trim_end_matches('/')),
        })
    }

    /// Links to another page that confirms the token (a front end's page that `POST`s it to
    /// the API, say): `{page_url}?token=…`. The same rules as for the public URL apply.
    pub fn to_page(page_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            confirm_url: checked_http_url(page_url)?,
        })
    }

    /// The confirm endpoint without the token.
    pub fn confirm_url(&self) -> &str {
        &self.confirm_url
    }

    /// The link carrying `token`.
    pub fn for_token(&self, token: &Secret) -> String {
        const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        format!(
            "{}?token={}",
            self.confirm_url,
            percent_encoding::utf8_percent_encode(token.expose(), QUERY_VALUE)
        )
    }
}

/// `value` as a URL that can start a link: `http` or `https`, a host, no query, fragment or
/// credentials.
fn checked_http_url(value: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::PublicUrl(reason.to_owned());
    let url =
        Url::parse(value.trim()).map_err(|e| ConfigError::PublicUrl(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(invalid("the host is missing"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not accepted"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials are not accepted"));
    }
    Ok(url.into())
}

/// Everything [`SmtpMailer`](crate::SmtpMailer) needs.
#[derive(Clone)]
pub struct SmtpConfig {
    pub(crate) url: SmtpUrl,
    pub(crate) from: Mailbox,
    pub(crate) link: VerificationLink,
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) root_certificates: Vec<Certificate>,
}

impl SmtpConfig {
    /// From `MULTIVIO_SMTP_URL`, `MULTIVIO_MAIL_FROM` (`Name <address>` or a bare address) and
    /// the public base URL, with the default timeouts.
    pub fn new(smtp_url: &str, from: &str, public_url: &str) -> Result<Self, ConfigError> {
        let url = SmtpUrl::parse(smtp_url)?;
        let from = from
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| ConfigError::From(format!("not a mailbox ({e})")))?;
        Ok(Self {
            url,
            from,
            link: VerificationLink::new(public_url)?,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            root_certificates: Vec::new(),
        })
    }

    /// Other timeouts for connecting and for a whole send.
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, send: Duration) -> Self {
        self.connect_timeout = connect;
        self.send_timeout = send;
        self
    }

    /// Another link builder (the default links to the API's confirm route under the public
    /// URL).
    #[must_use]
    pub fn with_link(mut self, link: VerificationLink) -> Self {
        self.link = link;
        self
    }

    /// Trusts one more root certificate (PEM), besides the built-in Mozilla roots: a relay whose
    /// certificate a private CA signed.
    pub fn with_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let invalid =
            |reason: String| ConfigError::Tls(format!("not a PEM certificate ({reason})"));
        // lettre skips what is not a PEM block, so a file without any would go unnoticed.
        if !pem
            .windows(CERTIFICATE_BLOCK.len())
            .any(|w| w == CERTIFICATE_BLOCK)
        {
            return Err(invalid("no `-----BEGIN CERTIFICATE-----` block".to_owned()));
        }
        let certificate = Certificate::from_pem(pem).map_err(|e| invalid(e.to_string()))?;
        // A trust anchor is only parsed when TLS settings are built: build some now.
        TlsParameters::builder("localhost".to_owned())
            .add_root_certificate(certificate.clone())
            .build_rustls()
            .map_err(|e| invalid(e.to_string()))?;
        self.root_certificates.push(certificate);
        Ok(self)
    }

    /// The relay.
    pub fn smtp_url(&self) -> &SmtpUrl {
        &self.url
    }

    /// The sender, as it appears in `From`.
    pub fn from(&self) -> String {
        self.from.to_string()
    }

    /// The link builder.
    pub fn link(&self) -> &VerificationLink {
        &self.link
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &self.url)
            .field("from", &self.from.to_string())
            .field("link", &self.link.confirm_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("send_timeout", &self.send_timeout)
            .field("extra_root_certificates", &self.root_certificates.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;

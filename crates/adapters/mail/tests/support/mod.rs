//! A real SMTP server on a loopback port, started by each test: mailin's SMTP state machine
//! (greeting, EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT) driven over a tokio
//! TCP socket, with TLS (rustls, ring) from a fresh self-signed certificate, recording every
//! message it accepts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailin::{Action, AuthMechanism, Handler, Response, Session, SessionBuilder, response};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Clear text only (no STARTTLS offered).
    Plain,
    /// STARTTLS offered.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// A message the server accepted.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// `RCPT TO`, in order.
    pub rcpt_to: Vec<String>,
    /// The data, dot-unstuffed.
    pub data: Vec<u8>,
    /// The user who authenticated on this connection, if any.
    pub authenticated_as: Option<String>,
    /// Whether the message came over TLS.
    pub over_tls: bool,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Inbox {
    /// Accepted messages.
    pub messages: Vec<Received>,
    /// Every AUTH attempt: (user, password, accepted).
    pub logins: Vec<(String, String, bool)>,
    /// Connections accepted.
    pub connections: usize,
}

#[derive(Clone)]
struct Recorder {
    inbox: Arc<Mutex<Inbox>>,
    credentials: Option<(String, String)>,
    refuse_rcpt: bool,
    tls: Arc<AtomicBool>,
    authenticated_as: Option<String>,
    current: Received,
}

impl Recorder {
    fn login(&mut self, user: &str, password: &str) -> Response {
        let accepted = self
            .credentials
            .as_ref()
            .is_some_and(|(u, p)| u == user && p == password);
        self.inbox
            .lock()
            .unwrap()
            .logins
            .push((user.to_owned(), password.to_owned(), accepted));
        if accepted {
            self.authenticated_as = Some(user.to_owned());
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.current = Received {
            mail_from: from.to_owned(),
            ..Received::default()
        };
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self.refuse_rcpt {
            return response::NO_MAILBOX;
        }
        self.current.rcpt_to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut message = std::mem::take(&mut self.current);
        message.authenticated_as = self.authenticated_as.clone();
        message.over_tls = self.tls.load(Ordering::SeqCst);
        self.inbox.lock().unwrap().messages.push(message);
        response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }
}

/// A running server; stopped when dropped.
pub struct SmtpServer {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    /// The PEM of its self-signed certificate (for 127.0.0.1), for the client to trust.
    pub certificate_pem: String,
    inbox: Arc<Mutex<Inbox>>,
    task: JoinHandle<()>,
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Clear text, STARTTLS or implicit TLS.
    pub security: Security,
    /// When set, AUTH (PLAIN and LOGIN) is required and only these are accepted.
    pub credentials: Option<(String, String)>,
    /// Offer AUTH before TLS (or without TLS).
    pub plaintext_auth: bool,
    /// Answer every RCPT with 550.
    pub refuse_rcpt: bool,
}

impl Options {
    pub fn new(security: Security) -> Self {
        Self {
            security,
            credentials: None,
            plaintext_auth: false,
            refuse_rcpt: false,
        }
    }

    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }
}

impl SmtpServer {
    pub async fn start(options: Options) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let certificate_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let tls_config = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certified.cert.der().to_vec())],
            key,
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls_config));

        let mut builder = SessionBuilder::new("smtp.test");
        if options.security == Security::StartTls {
            builder.enable_start_tls();
        }
        if options.credentials.is_some() {
            builder
                .enable_auth(AuthMechanism::Plain)
                .enable_auth(AuthMechanism::Login);
            if options.plaintext_auth {
                builder.insecure_enable_plaintext_auth();
            }
        }

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let task = tokio::spawn({
            let inbox = inbox.clone();
            async move {
                loop {
                    let Ok((stream, peer)) = listener.accept().await else {
                        continue;
                    };
                    inbox.lock().unwrap().connections += 1;
                    let tls = Arc::new(AtomicBool::new(false));
                    let recorder = Recorder {
                        inbox: inbox.clone(),
                        credentials: options.credentials.clone(),
                        refuse_rcpt: options.refuse_rcpt,
                        tls: tls.clone(),
                        authenticated_as: None,
                        current: Received::default(),
                    };
                    let session = builder.build(peer.ip(), recorder);
                    let acceptor = acceptor.clone();
                    let security = options.security;
                    tokio::spawn(async move {
                        // A client that gives up mid-conversation is no concern of the test.
                        let _ = serve(session, stream, acceptor, security, tls).await;
                    });
                }
            }
        });
        Self {
            addr,
            certificate_pem,
            inbox,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().messages.clone()
    }

    /// The AUTH attempts so far.
    pub fn logins(&self) -> Vec<(String, String, bool)> {
        self.inbox.lock().unwrap().logins.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inbox.lock().unwrap().connections
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut session: Session<Recorder>,
    stream: TcpStream,
    acceptor: TlsAcceptor,
    security: Security,
    tls: Arc<AtomicBool>,
) -> io::Result<()> {
    if security == Security::Implicit {
        let stream = acceptor.accept(stream).await?;
        tls.store(true, Ordering::SeqCst);
        session.tls_active();
        converse(&mut session, stream, true).await?;
        return Ok(());
    }
    if let Some(stream) = converse(&mut session, stream, true).await? {
        let stream = acceptor.accept(stream).await?;
        tls.store(true, Ordering::SeqCst);
        session.tls_active();
        converse(&mut session, stream, false).await?;
    }
    Ok(())
}

/// Runs the conversation until the client leaves (`None`) or STARTTLS is accepted (the
/// stream, to be wrapped in TLS).
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<Recorder>,
    stream: S,
    greet: bool,
) -> io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    if greet {
        stream.write_all(&session.greeting().buffer()?).await?;
        stream.flush().await?;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let response = session.process(&line);
        if response.action != Action::NoReply {
            stream.write_all(&response.buffer()?).await?;
            stream.flush().await?;
        }
        match response.action {
            Action::Close => return Ok(None),
            Action::UpgradeTls => return Ok(Some(stream.into_inner())),
            Action::Reply | Action::NoReply => {}
        }
    }
}

/// A port on which nothing listens (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A server that accepts connections and never says a word; stopped when dropped.
pub struct SilentServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Self { addr, task }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

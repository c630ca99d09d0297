//! # multivio-sandbox
//!
//! Local fakes of the platforms Multivio publishes to — X (`/x`), Bluesky (`/bsky`), Mastodon
//! (`/mastodon`), Facebook (`/facebook`, its video host `/facebook-video`), Instagram
//! (`/instagram`), Threads (`/threads`),
//! LinkedIn (`/linkedin`), YouTube (`/youtube`), Pinterest (`/pinterest`) and TikTok
//! (`/tiktok`) —
//! and of Stripe (`/stripe`, billing: see its module), for
//! development, tests and benchmarks. Each fake:
//!
//! - checks every request as strictly as the platform does (required fields, client
//!   authentication, PKCE verifiers, OAuth 1.0a signatures, content types) and answers with
//!   the platform's own shapes and error bodies;
//! - approves OAuth authorisations at once (redirecting straight back with a code);
//! - keeps what it receives: `GET /` shows the posts on a small page, `GET /_sandbox/posts`
//!   lists them as JSON, `GET /_sandbox/duplicates` lists the texts an account posted more
//!   than once, `GET /_sandbox/requests` lists the requests received (shapes and filters
//!   below);
//! - lets tests slow it down: each fake has `POST <prefix>/_sandbox/answer_late` (the next
//!   posts are created at once and answered late) and `POST <prefix>/_sandbox/slow_media` (the
//!   next media uploads wait before they are handled), with `GET` on the same paths showing
//!   what is left of them — see each fake's module docs.
//!
//! Built for load as well: up to thousands of posts from several worker processes at once.
//! Every lookup a request makes (tokens, idempotency keys, record keys, replies, duplicates) is
//! a map lookup, never a scan of the stored posts; the request log keeps the newest
//! [`MAX_RECORDED`] requests, while every post stays listed.
//!
//! The sandbox's own endpoints (no prefix):
//!
//! - `GET /_sandbox/posts` — every post, oldest first: `[{"platform": "x" | "bluesky" |
//!   "mastodon" | "facebook" | "instagram" | "threads" | "linkedin" | "youtube" | "pinterest" |
//!   "tiktok", "account", "id",
//!   "text", "media":
//!   ["mime (n bytes)[: alt]"], "reply_to": id | null, "url", "created_at"}]`. The account is
//!   `@username` on X, Mastodon, Instagram and Threads, the handle on Bluesky, the Page's name
//!   on Facebook, the member's or organization's name on LinkedIn, the channel's title on
//!   YouTube, the username on Pinterest, `@username` on TikTok; the id is the platform's (an
//!   `at://` URI on Bluesky, a `urn:li:share:…` on LinkedIn); the text is the text sent (X's API
//!   shows it with `t.co` links, the listing does not; LinkedIn's is the commentary as LinkedIn
//!   shows it, unescaped; a YouTube video's is its title and description, its media
//!   `mime (n bytes, sha256 <hex>, <privacy>)`, the hash by [`digest`]; a pin's is its title
//!   and description, its media `board <name>`, `image <URL>` or `video (n bytes)`, and `link
//!   <URL>`; a TikTok post's is its caption, its media `mime (n bytes, privacy)`, its id the
//!   public id, or the publish id of a private post); Meta's media are
//!   `photo|image|video <public URL>` (and a Facebook post's `link <URL>`). Optional filters,
//!   combined: `?platform=x` (or `bluesky`/`bsky`, `mastodon`, `facebook`, `instagram`,
//!   `threads`, `linkedin`, `youtube`, `pinterest`, `tiktok`: only that fake is read), `&account=…`, `&text=…` (both exact). An unknown
//!   parameter is a 400.
//! - `GET /_sandbox/duplicates[?platform=…]` — the texts an account posted more than once:
//!   `[{"platform", "account", "text", "count", "ids": […]}]`, `[]` when there are none.
//! - `GET /_sandbox/requests[?platform=…&method=…&path=…]` — the requests received, oldest
//!   first: `[{"platform", "method", "path", "content_type", "authorization",
//!   "idempotency_key", "headers", "body", "at"}]` (`headers`: the version and upload headers
//!   of [`RECORDED_HEADERS`] it had); `path` is without the fake's prefix (Facebook's video
//!   host keeps its `/facebook-video`) and with the query, and the filter `path` matches a
//!   prefix of it. `platform` may also be `stripe`.
//!   Meta's token parameters (`access_token`, `client_secret`, `fb_exchange_token`) are in the
//!   recorded paths and bodies as they came: sandbox tokens only.
//!
//! It is never used in production: the server refuses to point a platform at it there.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = multivio_sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("fakes at {}", sandbox.url());
//! # Ok(()) }
//! ```

mod bluesky;
mod common;
mod linkedin;
mod mastodon;
mod meta;
mod page;
mod pinterest;
mod stripe;
mod tiktok;
mod x;
mod youtube;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{App, HttpServer, web};

pub use common::{MAX_RECORDED, RECORDED_HEADERS, Recorded, SandboxPost};

/// The credentials the sandbox's fakes expect from Multivio (the server uses them for every
/// platform it points at the sandbox).
pub mod credentials {
    /// X's OAuth 2.0 client id.
    pub const X_CLIENT_ID: &str = "sandbox-x-client";
    /// X's OAuth 2.0 client secret.
    pub const X_CLIENT_SECRET: &str = "sandbox-x-client-secret";
    /// X's OAuth 1.0a consumer key.
    pub const X_CONSUMER_KEY: &str = "sandbox-x-consumer";
    /// X's OAuth 1.0a consumer secret.
    pub const X_CONSUMER_SECRET: &str = "sandbox-x-consumer-secret";
    /// Stripe's secret API key (`Authorization: Bearer …`).
    pub const STRIPE_SECRET_KEY: &str = "sk_test_sandbox_multivio";
    /// The signing secret of the Stripe fake's webhook deliveries, unless a test sets another.
    pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_sandbox_multivio";
    /// The Stripe fake's price for the `pro` plan ($19.00 a month).
    pub const STRIPE_PRICE_PRO: &str = "price_sandbox_pro";
    /// The Stripe fake's price for the `business` plan ($49.00 a month).
    pub const STRIPE_PRICE_BUSINESS: &str = "price_sandbox_business";
    /// The Facebook app's id (Facebook Login, Pages, Instagram through Pages).
    pub const FACEBOOK_APP_ID: &str = "sandbox-facebook-app";
    /// The Facebook app's secret (token calls, `appsecret_proof`).
    pub const FACEBOOK_APP_SECRET: &str = "sandbox-facebook-app-secret";
    /// The Instagram app's id (Instagram Login).
    pub const INSTAGRAM_APP_ID: &str = "sandbox-instagram-app";
    /// The Instagram app's secret.
    pub const INSTAGRAM_APP_SECRET: &str = "sandbox-instagram-app-secret";
    /// The Threads app's id.
    pub const THREADS_APP_ID: &str = "sandbox-threads-app";
    /// The Threads app's secret.
    pub const THREADS_APP_SECRET: &str = "sandbox-threads-app-secret";
    /// The LinkedIn app's client id.
    pub const LINKEDIN_CLIENT_ID: &str = "sandbox-linkedin-client";
    /// The LinkedIn app's client secret.
    pub const LINKEDIN_CLIENT_SECRET: &str = "sandbox-linkedin-client-secret";
    /// The Google OAuth client id (YouTube).
    pub const YOUTUBE_CLIENT_ID: &str = "sandbox-youtube-client.apps.googleusercontent.com";
    /// The Google OAuth client secret (YouTube).
    pub const YOUTUBE_CLIENT_SECRET: &str = "sandbox-youtube-client-secret";
    /// The Pinterest app's id.
    pub const PINTEREST_APP_ID: &str = "1500000";
    /// The Pinterest app's secret.
    pub const PINTEREST_APP_SECRET: &str = "sandbox-pinterest-app-secret";
    /// The TikTok app's client key.
    pub const TIKTOK_CLIENT_KEY: &str = "sbxtiktokclientkey";
    /// The TikTok app's client secret.
    pub const TIKTOK_CLIENT_SECRET: &str = "sandbox-tiktok-client-secret";
}

/// Everything the fakes hold, shared by the server's workers.
#[derive(Debug, Default)]
pub struct SandboxState {
    pub(crate) x: Mutex<x::State>,
    pub(crate) bluesky: Mutex<bluesky::State>,
    pub(crate) mastodon: Mutex<mastodon::State>,
    pub(crate) stripe: Mutex<stripe::State>,
    pub(crate) meta: Mutex<meta::State>,
    pub(crate) linkedin: Mutex<linkedin::State>,
    pub(crate) youtube: Mutex<youtube::State>,
    pub(crate) pinterest: Mutex<pinterest::State>,
    pub(crate) tiktok: Mutex<tiktok::State>,
    pub(crate) log: Mutex<VecDeque<Recorded>>,
}

/// The SHA-256 (hex) by which a fake lists the bytes of a file it holds (YouTube's videos), so
/// a test can tell the whole file arrived.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// Locks a part of the state; a poisoned lock (a handler panicked) still gives the data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SandboxState {
    /// Every post the fakes hold, oldest first.
    pub fn posts(&self) -> Vec<SandboxPost> {
        let mut posts = x::posts(&lock(&self.x));
        posts.extend(bluesky::posts(&lock(&self.bluesky)));
        posts.extend(mastodon::posts(&lock(&self.mastodon)));
        {
            let meta = lock(&self.meta);
            for platform in ["facebook", "instagram", "threads"] {
                posts.extend(meta::posts(&meta, platform));
            }
        }
        posts.extend(linkedin::posts(&lock(&self.linkedin)));
        posts.extend(youtube::posts(&lock(&self.youtube)));
        posts.extend(pinterest::posts(&lock(&self.pinterest)));
        posts.extend(tiktok::posts(&lock(&self.tiktok)));
        posts.sort_by_key(|p| p.created_at);
        posts
    }

    /// Every post one fake holds (`x`, `bluesky`, `mastodon`, `facebook`, `instagram`,
    /// `threads`, `linkedin`, `youtube`, `pinterest`, `tiktok`), oldest first; only that fake is read. `None` for a platform the sandbox has
    /// no fake of.
    pub fn posts_of(&self, platform: &str) -> Option<Vec<SandboxPost>> {
        Some(match common::platform_name(platform)? {
            "x" => x::posts(&lock(&self.x)),
            "bluesky" => bluesky::posts(&lock(&self.bluesky)),
            // Stripe publishes nothing.
            "stripe" => Vec::new(),
            name @ ("facebook" | "instagram" | "threads") => meta::posts(&lock(&self.meta), name),
            "linkedin" => linkedin::posts(&lock(&self.linkedin)),
            "youtube" => youtube::posts(&lock(&self.youtube)),
            "pinterest" => pinterest::posts(&lock(&self.pinterest)),
            "tiktok" => tiktok::posts(&lock(&self.tiktok)),
            _ => mastodon::posts(&lock(&self.mastodon)),
        })
    }

    /// The requests received (the newest [`MAX_RECORDED`]), oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.log).iter().cloned().collect()
    }
}

/// The fakes as an actix application over `state`.
pub fn configure(state: web::Data<SandboxState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state)
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .app_data(web::JsonConfig::default().limit(1024 * 1024))
            .configure(page::configure)
            .service(web::scope("/x").configure(x::configure))
            .service(web::scope("/bsky").configure(bluesky::configure))
            .service(web::scope("/mastodon").configure(mastodon::configure))
            .service(web::scope("/facebook").configure(meta::facebook::configure))
            .service(web::scope("/facebook-video").configure(meta::facebook::configure_video))
            .service(web::scope("/instagram").configure(meta::instagram::configure))
            .service(web::scope("/threads").configure(meta::threads::configure))
            .service(web::scope("/linkedin").configure(linkedin::configure))
            .service(web::scope("/youtube").configure(youtube::configure))
            .service(web::scope("/pinterest").configure(pinterest::configure))
            .service(web::scope("/tiktok").configure(tiktok::configure))
            .service(web::scope("/stripe").configure(stripe::configure));
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    url: String,
    state: web::Data<SandboxState>,
    handle: actix_web::dev::ServerHandle,
}

impl Sandbox {
    /// Serves the fakes on `addr` (port 0 picks a free one) in the background.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Sandbox> {
        let state = web::Data::new(SandboxState::default());
        let shared = state.clone();
        let server = HttpServer::new(move || App::new().configure(configure(shared.clone())))
            .workers(2)
            .disable_signals()
            .bind(addr)?;
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("the sandbox has no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Sandbox {
            url: format!("http://{bound}"),
            state,
            handle,
        })
    }

    /// Its base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// X's base URL (API, OAuth and uploads).
    pub fn x_url(&self) -> String {
        format!("{}/x", self.url)
    }

    /// Bluesky's base URL (entryway and PDS).
    pub fn bluesky_url(&self) -> String {
        format!("{}/bsky", self.url)
    }

    /// The Mastodon instance's URL.
    pub fn mastodon_url(&self) -> String {
        format!("{}/mastodon", self.url)
    }

    /// Facebook's base URL (dialogs and Graph API).
    pub fn facebook_url(&self) -> String {
        format!("{}/facebook", self.url)
    }

    /// Facebook's Graph API video host (video uploads).
    pub fn facebook_video_url(&self) -> String {
        format!("{}/facebook-video", self.url)
    }

    /// Instagram's base URL (Instagram Login and its Graph API).
    pub fn instagram_url(&self) -> String {
        format!("{}/instagram", self.url)
    }

    /// Threads' base URL (its OAuth and API).
    pub fn threads_url(&self) -> String {
        format!("{}/threads", self.url)
    }

    /// LinkedIn's base URL (its OAuth pages and token endpoint, and its API).
    pub fn linkedin_url(&self) -> String {
        format!("{}/linkedin", self.url)
    }

    /// YouTube's base URL (Google's consent page, token endpoint and APIs, in one place).
    pub fn youtube_url(&self) -> String {
        format!("{}/youtube", self.url)
    }

    /// Pinterest's base URL (its authorisation page and API).
    pub fn pinterest_url(&self) -> String {
        format!("{}/pinterest", self.url)
    }

    /// TikTok's base URL (its authorisation page and API, uploads included).
    pub fn tiktok_url(&self) -> String {
        format!("{}/tiktok", self.url)
    }

    /// Stripe's API base URL (the gateway's API URL: calls go to `<this>/v1/…`).
    pub fn stripe_url(&self) -> String {
        format!("{}/stripe", self.url)
    }

    /// What the fakes hold.
    pub fn state(&self) -> Arc<SandboxState> {
        self.state.clone().into_inner()
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

//! The configuration of every command: flags, each also read from its environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser};
use multivio_domain::quota::PlanCatalog;
use multivio_vault::Keyring;

/// The plans when `MULTIVIO_PLANS` is unset (besides `free`: 10 posts a month and 1 GiB of
/// media).
pub const DEFAULT_PLANS: &str = "pro=100:10GiB,business=1000:100GiB";

/// Settings shared by every command.
#[derive(Args, Clone)]
pub struct Config {
    /// PostgreSQL URL of the schema's owner: migrations run over it, and at start it sets up
    /// the runtime logins. Unset: a private cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// URL the API logs in with at run time (a role holding only `multivio_api`). Unset: the
    /// owner connection gives `multivio_api_login` a password derived from the sealing key.
    #[arg(
        long,
        env = "MULTIVIO_API_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub api_database_url: Option<String>,
    /// URL workers log in with at run time (a role holding only `multivio_worker`). Unset: as
    /// for the API, with `multivio_worker_login`.
    #[arg(
        long,
        env = "MULTIVIO_WORKER_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub worker_database_url: Option<String>,
    /// Address to listen on.
    #[arg(
        long,
        env = "MULTIVIO_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// A separate address serving only `/metrics` (then the API's listener serves none).
    #[arg(long, env = "MULTIVIO_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token `/metrics` requires. Unset: `/metrics` is open to whoever reaches it.
    #[arg(
        long,
        env = "MULTIVIO_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Where the private database, local media and generated keys live.
    #[arg(
        long,
        env = "MULTIVIO_DATA_DIR",
        default_value = "./.multivio",
        global = true
    )]
    pub data_dir: PathBuf,
    /// External base URL (OAuth redirect URIs, media URLs). Default: http://<listen>.
    #[arg(long, env = "MULTIVIO_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Firebase project whose ID tokens are accepted. Unset: emulator tokens of the local
    /// project `multivio-local` (see `dev-token`), on a loopback address only.
    #[arg(long, env = "MULTIVIO_FIREBASE_PROJECT_ID", global = true)]
    pub firebase_project_id: Option<String>,
    /// Accept Firebase Auth Emulator (unsigned) tokens for the configured project — only ever
    /// on a loopback listen address.
    #[arg(long, env = "FIREBASE_AUTH_EMULATOR_HOST", global = true)]
    pub firebase_emulator_host: Option<String>,
    /// Google's x509 certificate set for ID tokens (tests point it at a fake).
    #[arg(long, env = "MULTIVIO_FIREBASE_CERTS_URL", global = true)]
    pub firebase_certs_url: Option<String>,
    /// Keys sealing tokens at rest: `kid:base64key,...`, the first one seals. Unset: a key
    /// generated into the data directory.
    #[arg(
        long,
        env = "MULTIVIO_TOKEN_KEYS",
        global = true,
        hide_env_values = true
    )]
    pub token_keys: Option<String>,
    /// Largest media upload, in bytes (below 2 GiB: the size is kept in the seed's
    /// `media_files.file_size INTEGER`).
    #[arg(
        long,
        env = "MULTIVIO_MAX_UPLOAD_BYTES",
        default_value_t = 100 * 1024 * 1024,
        value_parser = clap::value_parser!(u64).range(1..=i32::MAX as u64),
        global = true
    )]
    pub max_upload_bytes: u64,
    /// Uploads one user may have in progress at once (each account has its own: one tenant's
    /// uploads never hold up another's).
    #[arg(
        long,
        env = "MULTIVIO_UPLOADS_PER_USER",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..=64),
        global = true
    )]
    pub uploads_per_user: u16,
    /// Addresses of the reverse proxies in front of the API (comma-separated IPs): for a
    /// request from one of them, the client of a file download is the address it names in
    /// `X-Forwarded-For`. Unset: the peer is the client.
    #[arg(long, env = "MULTIVIO_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Seconds an upload may send nothing before it is broken off (408).
    #[arg(
        long,
        env = "MULTIVIO_UPLOAD_READ_TIMEOUT_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub upload_read_timeout_secs: u64,
    /// Publishing jobs one worker process runs at once.
    #[arg(
        long,
        env = "MULTIVIO_WORKER_CONCURRENCY",
        default_value_t = 32,
        value_parser = clap::value_parser!(u32).range(1..=256),
        global = true
    )]
    pub worker_concurrency: u32,
    /// Seconds a worker holds a claimed job before renewing it; a worker that stops renewing
    /// (crashed, paused) loses its jobs to the others after this long.
    #[arg(
        long,
        env = "MULTIVIO_JOB_LEASE_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(3..=3600),
        global = true
    )]
    pub job_lease_seconds: u32,
    /// Web client origins allowed to call the API from a browser (comma-separated).
    #[arg(long, env = "MULTIVIO_CORS_ORIGINS", global = true)]
    pub cors_origins: Option<String>,
    /// Per-user limits of the API, per minute: `publish=30,connect=10,upload=30,write=120` (the
    /// default); a name left out keeps its default.
    #[arg(long, env = "MULTIVIO_RATE_LIMITS", global = true)]
    pub rate_limits: Option<String>,
    /// Plans, their monthly post quotas and optionally their media storage, e.g.
    /// `pro=100:10GiB,business=1000:100GiB` (the default); `free` (10 posts, 1 GiB) is always
    /// there, and may be given other quotas. A plan without a storage part gets 1 GiB.
    #[arg(long, env = "MULTIVIO_PLANS", global = true)]
    pub plans: Option<String>,
    /// S3-compatible bucket for media (Cloudflare R2, AWS S3, MinIO). Unset: media on local
    /// disk under the data directory.
    #[arg(long, env = "MULTIVIO_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// The bucket's endpoint (R2: `https://<account>.r2.cloudflarestorage.com`; MinIO's
    /// address). Unset: AWS S3.
    #[arg(long, env = "MULTIVIO_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Public base URL of the bucket's objects (a CDN, R2's public bucket URL): media URLs
    /// point there and the API redirects to it. Unset: the API serves the bytes.
    #[arg(long, env = "MULTIVIO_S3_PUBLIC_URL", global = true)]
    pub s3_public_url: Option<String>,
    /// The bucket's region (R2: `auto`). Default `us-east-1`.
    #[arg(long, env = "AWS_REGION", global = true)]
    pub aws_region: Option<String>,
    /// Access key id for the bucket.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true)]
    pub aws_access_key_id: Option<String>,
    /// Secret access key for the bucket.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub aws_secret_access_key: Option<String>,
    /// Session token of temporary credentials for the bucket.
    #[arg(long, env = "AWS_SESSION_TOKEN", global = true, hide_env_values = true)]
    pub aws_session_token: Option<String>,
    /// Stripe's secret API key (`sk_…` or a restricted `rk_…`). Unset: billing goes to the
    /// sandbox's fake of Stripe locally, and is disabled in production.
    #[arg(
        long,
        env = "MULTIVIO_STRIPE_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub stripe_secret_key: Option<String>,
    /// The signing secret (`whsec_…`) of the webhook endpoint `<public URL>/v1/webhooks/stripe`.
    #[arg(
        long,
        env = "MULTIVIO_STRIPE_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Option<String>,
    /// Stripe's API base URL (without `/v1`).
    #[arg(long, env = "MULTIVIO_STRIPE_API_URL", global = true)]
    pub stripe_api_url: Option<String>,
    /// The Stripe price each paid plan is sold at, e.g. `pro=price_123,business=price_456`
    /// (every plan named must be in `MULTIVIO_PLANS`).
    #[arg(long, env = "MULTIVIO_STRIPE_PRICES", global = true)]
    pub stripe_prices: Option<String>,
    /// The web client's page Checkout and the billing portal send the customer back to
    /// (`?checkout=success` or `?checkout=cancelled` is added after a checkout). Unset: the
    /// first of `MULTIVIO_CORS_ORIGINS`, else the public URL.
    #[arg(long, env = "MULTIVIO_BILLING_RETURN_URL", global = true)]
    pub billing_return_url: Option<String>,
    /// The mail relay: `smtps://user:password@smtp.example.com` (TLS from the first byte),
    /// `smtp://user:password@smtp.example.com:587?tls=required` (STARTTLS or nothing), or
    /// `smtp://127.0.0.1:2525` (clear text; credentials in clear text only to this machine).
    /// Unset: mail goes to the log locally, and sending fails in production.
    #[arg(long, env = "MULTIVIO_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of Multivio's mail, e.g. `Multivio <no-reply@example.com>`.
    #[arg(long, env = "MULTIVIO_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// X's OAuth 2.0 client id. Unset: X is pointed at the sandbox locally, disabled in
    /// production.
    #[arg(long, env = "MULTIVIO_X_CLIENT_ID", global = true)]
    pub x_client_id: Option<String>,
    /// X's OAuth 2.0 client secret (a confidential client).
    #[arg(
        long,
        env = "MULTIVIO_X_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub x_client_secret: Option<String>,
    /// X's OAuth 1.0a consumer key (media uploads with the account's OAuth 1.0a tokens).
    #[arg(long, env = "MULTIVIO_X_CONSUMER_KEY", global = true)]
    pub x_consumer_key: Option<String>,
    /// X's OAuth 1.0a consumer secret.
    #[arg(
        long,
        env = "MULTIVIO_X_CONSUMER_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub x_consumer_secret: Option<String>,
    /// X's authorisation page base (`/i/oauth2/authorize`, `/oauth/authorize`).
    #[arg(long, env = "MULTIVIO_X_AUTH_URL", global = true)]
    pub x_auth_url: Option<String>,
    /// X's API base (`/2/...`, `/oauth/...`).
    #[arg(long, env = "MULTIVIO_X_API_URL", global = true)]
    pub x_api_url: Option<String>,
    /// X's media upload base (`/2/media/upload...`).
    #[arg(long, env = "MULTIVIO_X_UPLOAD_URL", global = true)]
    pub x_upload_url: Option<String>,
    /// Facebook's app id (Facebook Login for Pages; Instagram through Pages when there is no
    /// Instagram app). Unset: Facebook is pointed at the sandbox locally, disabled in
    /// production.
    #[arg(long, env = "MULTIVIO_FACEBOOK_CLIENT_ID", global = true)]
    pub facebook_client_id: Option<String>,
    /// Facebook's app secret (token calls and `appsecret_proof`).
    #[arg(
        long,
        env = "MULTIVIO_FACEBOOK_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub facebook_client_secret: Option<String>,
    /// Facebook's dialog base (`/{version}/dialog/oauth`).
    #[arg(long, env = "MULTIVIO_FACEBOOK_AUTH_URL", global = true)]
    pub facebook_auth_url: Option<String>,
    /// Facebook's Graph API base (`/{version}/...`).
    #[arg(long, env = "MULTIVIO_FACEBOOK_API_URL", global = true)]
    pub facebook_api_url: Option<String>,
    /// Facebook's Graph API base for video uploads (`/{version}/{page}/videos`).
    #[arg(long, env = "MULTIVIO_FACEBOOK_VIDEO_URL", global = true)]
    pub facebook_video_url: Option<String>,
    /// Instagram's app id (Instagram Login). Unset: Instagram accounts connect through their
    /// Facebook Page when Facebook has an app, go to the sandbox locally otherwise, and are
    /// disabled in production.
    #[arg(long, env = "MULTIVIO_INSTAGRAM_CLIENT_ID", global = true)]
    pub instagram_client_id: Option<String>,
    /// Instagram's app secret.
    #[arg(
        long,
        env = "MULTIVIO_INSTAGRAM_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub instagram_client_secret: Option<String>,
    /// Instagram Login's authorisation page base (`https://www.instagram.com`); set to another
    /// base, it is the code exchange's too unless `MULTIVIO_INSTAGRAM_TOKEN_URL` is set.
    #[arg(long, env = "MULTIVIO_INSTAGRAM_AUTH_URL", global = true)]
    pub instagram_auth_url: Option<String>,
    /// Instagram Login's code exchange base (`https://api.instagram.com`).
    #[arg(long, env = "MULTIVIO_INSTAGRAM_TOKEN_URL", global = true)]
    pub instagram_token_url: Option<String>,
    /// Instagram's Graph API base (tokens and `/{version}/...`).
    #[arg(long, env = "MULTIVIO_INSTAGRAM_API_URL", global = true)]
    pub instagram_api_url: Option<String>,
    /// Threads' app id. Unset: Threads is pointed at the sandbox locally, disabled in
    /// production.
    #[arg(long, env = "MULTIVIO_THREADS_CLIENT_ID", global = true)]
    pub threads_client_id: Option<String>,
    /// Threads' app secret.
    #[arg(
        long,
        env = "MULTIVIO_THREADS_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub threads_client_secret: Option<String>,
    /// Threads' authorisation page base (`/oauth/authorize`).
    #[arg(long, env = "MULTIVIO_THREADS_AUTH_URL", global = true)]
    pub threads_auth_url: Option<String>,
    /// Threads' API base (tokens and `/v1.0/...`).
    #[arg(long, env = "MULTIVIO_THREADS_API_URL", global = true)]
    pub threads_api_url: Option<String>,
    /// The Graph API version Facebook and Instagram calls name (like `v25.0`).
    #[arg(long, env = "MULTIVIO_GRAPH_API_VERSION", global = true)]
    pub graph_api_version: Option<String>,
    /// LinkedIn's app client id. Unset: LinkedIn is pointed at the sandbox locally, disabled
    /// in production.
    #[arg(long, env = "MULTIVIO_LINKEDIN_CLIENT_ID", global = true)]
    pub linkedin_client_id: Option<String>,
    /// LinkedIn's app client secret.
    #[arg(
        long,
        env = "MULTIVIO_LINKEDIN_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub linkedin_client_secret: Option<String>,
    /// LinkedIn's authorisation page and token endpoint base (`/oauth/v2/...`).
    #[arg(long, env = "MULTIVIO_LINKEDIN_AUTH_URL", global = true)]
    pub linkedin_auth_url: Option<String>,
    /// LinkedIn's API base (`/v2/userinfo`, `/rest/...`).
    #[arg(long, env = "MULTIVIO_LINKEDIN_API_URL", global = true)]
    pub linkedin_api_url: Option<String>,
    /// The `LinkedIn-Version` of every versioned call (`YYYYMM`).
    #[arg(long, env = "MULTIVIO_LINKEDIN_VERSION", global = true)]
    pub linkedin_version: Option<String>,
    /// `false`: connect LinkedIn members only, without asking for the organization scopes
    /// (for an app without LinkedIn's Community Management API).
    #[arg(
        long,
        env = "MULTIVIO_LINKEDIN_ORGANIZATIONS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub linkedin_organizations: bool,
    /// Google's OAuth client id for YouTube. Unset: YouTube is pointed at the sandbox locally,
    /// disabled in production.
    #[arg(long, env = "MULTIVIO_YOUTUBE_CLIENT_ID", global = true)]
    pub youtube_client_id: Option<String>,
    /// Google's OAuth client secret for YouTube.
    #[arg(
        long,
        env = "MULTIVIO_YOUTUBE_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub youtube_client_secret: Option<String>,
    /// Google's consent page base (`https://accounts.google.com`); set to another base, it is
    /// the token endpoint's too unless `MULTIVIO_YOUTUBE_TOKEN_URL` is set.
    #[arg(long, env = "MULTIVIO_YOUTUBE_AUTH_URL", global = true)]
    pub youtube_auth_url: Option<String>,
    /// Google's token endpoint base (`https://oauth2.googleapis.com`).
    #[arg(long, env = "MULTIVIO_YOUTUBE_TOKEN_URL", global = true)]
    pub youtube_token_url: Option<String>,
    /// Google's API base (`/youtube/v3/...`, `/upload/youtube/v3/...`).
    #[arg(long, env = "MULTIVIO_YOUTUBE_API_URL", global = true)]
    pub youtube_api_url: Option<String>,
    /// Pinterest's app id. Unset: Pinterest is pointed at the sandbox locally, disabled in
    /// production.
    #[arg(long, env = "MULTIVIO_PINTEREST_CLIENT_ID", global = true)]
    pub pinterest_client_id: Option<String>,
    /// Pinterest's app secret.
    #[arg(
        long,
        env = "MULTIVIO_PINTEREST_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub pinterest_client_secret: Option<String>,
    /// Pinterest's authorisation page base (`/oauth/`).
    #[arg(long, env = "MULTIVIO_PINTEREST_AUTH_URL", global = true)]
    pub pinterest_auth_url: Option<String>,
    /// Pinterest's API base (`/v5/...`, tokens included).
    #[arg(long, env = "MULTIVIO_PINTEREST_API_URL", global = true)]
    pub pinterest_api_url: Option<String>,
    /// TikTok's app client key. Unset: TikTok is pointed at the sandbox locally, disabled in
    /// production.
    #[arg(long, env = "MULTIVIO_TIKTOK_CLIENT_ID", global = true)]
    pub tiktok_client_id: Option<String>,
    /// TikTok's app client secret.
    #[arg(
        long,
        env = "MULTIVIO_TIKTOK_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub tiktok_client_secret: Option<String>,
    /// TikTok's authorisation page base (`/v2/auth/authorize/`).
    #[arg(long, env = "MULTIVIO_TIKTOK_AUTH_URL", global = true)]
    pub tiktok_auth_url: Option<String>,
    /// TikTok's API base (`/v2/...`, tokens included).
    #[arg(long, env = "MULTIVIO_TIKTOK_API_URL", global = true)]
    pub tiktok_api_url: Option<String>,
    /// Bluesky's entryway, where sign-ins go when the user names no server.
    #[arg(long, env = "MULTIVIO_BLUESKY_URL", global = true)]
    pub bluesky_url: Option<String>,
    /// Local runs: serve the platforms' fakes (the sandbox) and point every platform without
    /// real credentials at them. Never in production.
    #[arg(
        long,
        env = "MULTIVIO_SANDBOX",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub sandbox: bool,
    /// Where the sandbox listens (with `serve` locally, and `multivio sandbox`).
    #[arg(
        long,
        env = "MULTIVIO_SANDBOX_LISTEN",
        default_value = "127.0.0.1:8090",
        global = true
    )]
    pub sandbox_listen: SocketAddr,
    /// The base URL of an already running sandbox to point platforms at (instead of starting
    /// one), e.g. for tests.
    #[arg(long, env = "MULTIVIO_SANDBOX_URL", global = true)]
    pub sandbox_url: Option<String>,
    /// Production profile: refuses emulator tokens, generated keys and every local default.
    #[arg(long, env = "MULTIVIO_PRODUCTION", global = true)]
    pub production: bool,
    /// Says that a server listening on a non-loopback address without the production profile
    /// is a development deployment on purpose (otherwise it refuses to start).
    #[arg(long, env = "MULTIVIO_DEVELOPMENT", global = true)]
    pub development: bool,
}

/// Secrets (database URLs with passwords, token keys, the metrics token) never reach a log
/// through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "[redacted]" } else { "unset" };
        f.debug_struct("Config")
            .field("database_url", &redacted(self.database_url.is_some()))
            .field(
                "api_database_url",
                &redacted(self.api_database_url.is_some()),
            )
            .field(
                "worker_database_url",
                &redacted(self.worker_database_url.is_some()),
            )
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("metrics_token", &redacted(self.metrics_token.is_some()))
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("firebase_project_id", &self.firebase_project_id)
            .field("firebase_emulator_host", &self.firebase_emulator_host)
            .field("firebase_certs_url", &self.firebase_certs_url)
            .field("token_keys", &redacted(self.token_keys.is_some()))
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("uploads_per_user", &self.uploads_per_user)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("upload_read_timeout_secs", &self.upload_read_timeout_secs)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("job_lease_seconds", &self.job_lease_seconds)
            .field("cors_origins", &self.cors_origins)
            .field("rate_limits", &self.rate_limits)
            .field("plans", &self.plans)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_public_url", &self.s3_public_url)
            .field("aws_region", &self.aws_region)
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field(
                "aws_secret_access_key",
                &redacted(self.aws_secret_access_key.is_some()),
            )
            .field(
                "aws_session_token",
                &redacted(self.aws_session_token.is_some()),
            )
            .field(
                "stripe_secret_key",
                &redacted(self.stripe_secret_key.is_some()),
            )
            .field(
                "stripe_webhook_secret",
                &redacted(self.stripe_webhook_secret.is_some()),
            )
            .field("stripe_api_url", &self.stripe_api_url)
            .field("stripe_prices", &self.stripe_prices)
            .field("billing_return_url", &self.billing_return_url)
            .field("smtp_url", &redacted(self.smtp_url.is_some()))
            .field("mail_from", &self.mail_from)
            .field("x_client_id", &self.x_client_id)
            .field("x_client_secret", &redacted(self.x_client_secret.is_some()))
            .field("x_consumer_key", &self.x_consumer_key)
            .field(
                "x_consumer_secret",
                &redacted(self.x_consumer_secret.is_some()),
            )
            .field("x_auth_url", &self.x_auth_url)
            .field("x_api_url", &self.x_api_url)
            .field("x_upload_url", &self.x_upload_url)
            .field("facebook_client_id", &self.facebook_client_id)
            .field(
                "facebook_client_secret",
                &redacted(self.facebook_client_secret.is_some()),
            )
            .field("facebook_auth_url", &self.facebook_auth_url)
            .field("facebook_api_url", &self.facebook_api_url)
            .field("facebook_video_url", &self.facebook_video_url)
            .field("instagram_client_id", &self.instagram_client_id)
            .field(
                "instagram_client_secret",
                &redacted(self.instagram_client_secret.is_some()),
            )
            .field("instagram_auth_url", &self.instagram_auth_url)
            .field("instagram_token_url", &self.instagram_token_url)
            .field("instagram_api_url", &self.instagram_api_url)
            .field("threads_client_id", &self.threads_client_id)
            .field(
                "threads_client_secret",
                &redacted(self.threads_client_secret.is_some()),
            )
            .field("threads_auth_url", &self.threads_auth_url)
            .field("threads_api_url", &self.threads_api_url)
            .field("graph_api_version", &self.graph_api_version)
            .field("linkedin_client_id", &self.linkedin_client_id)
            .field(
                "linkedin_client_secret",
                &redacted(self.linkedin_client_secret.is_some()),
            )
            .field("linkedin_auth_url", &self.linkedin_auth_url)
            .field("linkedin_api_url", &self.linkedin_api_url)
            .field("linkedin_version", &self.linkedin_version)
            .field("linkedin_organizations", &self.linkedin_organizations)
            .field("youtube_client_id", &self.youtube_client_id)
            .field(
                "youtube_client_secret",
                &redacted(self.youtube_client_secret.is_some()),
            )
            .field("youtube_auth_url", &self.youtube_auth_url)
            .field("youtube_token_url", &self.youtube_token_url)
            .field("youtube_api_url", &self.youtube_api_url)
            .field("pinterest_client_id", &self.pinterest_client_id)
            .field(
                "pinterest_client_secret",
                &redacted(self.pinterest_client_secret.is_some()),
            )
            .field("pinterest_auth_url", &self.pinterest_auth_url)
            .field("pinterest_api_url", &self.pinterest_api_url)
            .field("tiktok_client_id", &self.tiktok_client_id)
            .field(
                "tiktok_client_secret",
                &redacted(self.tiktok_client_secret.is_some()),
            )
            .field("tiktok_auth_url", &self.tiktok_auth_url)
            .field("tiktok_api_url", &self.tiktok_api_url)
            .field("bluesky_url", &self.bluesky_url)
            .field("sandbox", &self.sandbox)
            .field("sandbox_listen", &self.sandbox_listen)
            .field("sandbox_url", &self.sandbox_url)
            .field("production", &self.production)
            .field("development", &self.development)
            .finish()
    }
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// A configuration from flags, exactly as the binary parses them (environment variables
    /// fill what the flags leave out).
    pub fn from_flags<I, T>(flags: I) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Ok(ConfigOnly::try_parse_from(flags)?.config)
    }

    /// The external base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The token sealing keys: configured, or (outside production) generated into the data
    /// directory on first use.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        match self.token_keys.as_deref().filter(|k| !k.is_empty()) {
            Some(keys) => Keyring::from_config(keys).context("MULTIVIO_TOKEN_KEYS"),
            None if self.production => {
                anyhow::bail!("MULTIVIO_TOKEN_KEYS is required in production")
            }
            None => Keyring::load_or_generate(&self.data_dir.join("token-keys"))
                .context("loading the token sealing key from the data directory"),
        }
    }

    /// `MULTIVIO_TRUSTED_PROXIES` as addresses.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    anyhow::anyhow!("MULTIVIO_TRUSTED_PROXIES: `{s}` is not an IP address")
                })
            })
            .collect()
    }

    /// The plan catalog.
    pub fn plans(&self) -> anyhow::Result<PlanCatalog> {
        match self.plans.as_deref().filter(|p| !p.is_empty()) {
            Some(plans) => {
                PlanCatalog::parse(plans).map_err(|e| anyhow::anyhow!("MULTIVIO_PLANS: {e}"))
            }
            None => PlanCatalog::parse(DEFAULT_PLANS)
                .map_err(|e| anyhow::anyhow!("the default plans: {e}")),
        }
    }

    /// Refuses a server that others could reach without the production profile, unless the
    /// deployment says it is for development on purpose.
    /// Also refuses a sandbox others could reach (it records what is sent to it, app
    /// passwords included), and a production server whose `/metrics` anyone could read.
    pub fn check_exposure(&self) -> anyhow::Result<()> {
        if !self.listen.ip().is_loopback() && !self.production && !self.development {
            anyhow::bail!(
                "MULTIVIO_LISTEN is {}, reachable from other machines, but MULTIVIO_PRODUCTION \
                 is not set: set MULTIVIO_PRODUCTION=true for a production deployment, or \
                 MULTIVIO_DEVELOPMENT=true if this is a development server on purpose",
                self.listen
            );
        }
        if !self.production && self.sandbox && !self.sandbox_listen.ip().is_loopback() {
            anyhow::bail!(
                "MULTIVIO_SANDBOX_LISTEN is {}, reachable from other machines: the sandbox \
                 keeps every request it is sent, so it listens on a loopback address only",
                self.sandbox_listen
            );
        }
        if self.production
            && self.metrics_listen.is_none()
            && self.metrics_token.as_deref().is_none_or(str::is_empty)
        {
            anyhow::bail!(
                "production needs MULTIVIO_METRICS_TOKEN (to guard /metrics on the API's \
                 listener) or MULTIVIO_METRICS_LISTEN (an address of its own for /metrics)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

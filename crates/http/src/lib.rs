//! # multivio-http
//!
//! Multivio's HTTP API on actix-web. [`app`] assembles the whole application (routes,
//! middleware, error handling) from an [`AppState`] holding the use cases, so the server binary
//! and the tests run the same thing; tests start it on port 0 with fakes where no real local
//! part exists.

pub mod auth;
mod caller;
pub mod contract;
pub mod cors;
pub mod dto;
mod error;
mod health;
pub mod input;
pub mod observe;
mod openapi;
mod problem;
pub mod rate_limit;
pub mod rejection;
mod routes;
pub mod transfers;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use multivio_app::Services;

pub use caller::{Caller, TenantCache};
pub use error::ApiError;
pub use health::{MetricsToken, QueueGauge, render_metrics};
pub use openapi::ApiDoc;
pub use problem::{Problem, ProblemType};

use crate::auth::FirebaseVerifier;
use crate::observe::Metrics;
use crate::rate_limit::RateLimits;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Web client origins allowed by CORS and as OAuth `return_to` targets.
    pub cors_origins: Vec<String>,
    /// Largest JSON body, in bytes.
    pub json_limit: usize,
    /// Uploads per user at once, and how long an upload may send nothing.
    pub uploads: transfers::UploadSettings,
    /// Proxies whose `X-Forwarded-For` names the client of a download
    /// (`MULTIVIO_TRUSTED_PROXIES`); none by default: the peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `/metrics` answers only `Authorization: Bearer <token>` when set.
    pub metrics_token: Option<MetricsToken>,
    /// Whether `/metrics` is served by the API's listener (off when a separate metrics
    /// listener serves it).
    pub metrics_on_api: bool,
}

impl Default for HttpConfig {
    /// The production limits: 1 MiB JSON bodies, 2 uploads per user at once that may each
    /// send nothing for 30 s, `/metrics` on the API.
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            json_limit: 1024 * 1024,
            uploads: transfers::UploadSettings::default(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_on_api: true,
        }
    }
}

impl HttpConfig {
    /// Whether the browser may be sent to `url` after an OAuth flow: only to an allowed web
    /// client (no open redirect).
    pub fn allows_return_to(&self, url: &str) -> bool {
        // Nothing a Location header could not carry as is.
        if url.len() > 2048 || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return false;
        }
        self.cors_origins.iter().any(|origin| {
            url == origin
                || url
                    .strip_prefix(origin.as_str())
                    .is_some_and(|rest| rest.starts_with(['/', '?', '#']))
        })
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Every use case.
    pub services: Arc<Services>,
    /// The job queue depth `/metrics` reports, read at most every few seconds.
    pub queue_gauge: Arc<QueueGauge>,
    /// Firebase uid → tenant.
    pub tenants: Arc<TenantCache>,
    /// Firebase ID token verification.
    pub verifier: FirebaseVerifier,
    /// Per-user rate limits.
    pub limits: RateLimits,
    /// Request metrics.
    pub metrics: Metrics,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// Where uploaded bytes live, for `/media/{key}` (served from it, or redirected to its
    /// public URLs).
    pub media_store: Option<Arc<dyn multivio_ports::media::MediaStore>>,
    /// The uploads in progress, per user.
    pub uploads: transfers::UploadSlots,
    /// The downloads in progress, per client address and in total.
    pub downloads: transfers::DownloadSlots,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The whole application: middleware (request ids and access logs outermost, metrics, problem
/// documents for framework errors, CORS) around every route.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors::cors(&state.config.cors_origins);
    let metrics = state.metrics.middleware();
    App::new()
        .configure(configure(state))
        .wrap(cors)
        .wrap(rejection::ProblemFallback)
        .wrap(metrics)
        .wrap(observe::RequestTracing)
}

/// Only `/metrics`, for a listener of its own (`MULTIVIO_METRICS_LISTEN`): scrapers reach it
/// on an internal address while the API's listener serves no metrics.
pub fn metrics_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .route("/metrics", web::get().to(health::metrics))
        .default_service(web::to(rejection::not_found))
        .wrap(rejection::ProblemFallback)
}

/// Mounts every route, the shared state and the extractors' error handling.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let json_limit = state.config.json_limit.max(1);
        let metrics_on_api = state.config.metrics_on_api;
        cfg.app_data(web::Data::new(state.verifier.clone()))
            .app_data(web::Data::new(state))
            .app_data(rejection::json_config(json_limit))
            .app_data(rejection::payload_config(json_limit))
            .app_data(rejection::query_config())
            .app_data(rejection::path_config())
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .configure(|cfg| {
                if metrics_on_api {
                    cfg.route("/metrics", web::get().to(health::metrics));
                }
            })
            .route("/media/{key:.+}", web::get().to(routes::files::serve_file))
            .route("/media/{key:.+}", web::head().to(routes::files::serve_file))
            // The docs page lives at /docs/ (its assets are relative to it): /docs leads there.
            .route(
                "/docs",
                web::get().to(|| async {
                    actix_web::HttpResponse::PermanentRedirect()
                        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .service(openapi::docs())
            .service(
                web::scope("/v1")
                    .route("/me", web::get().to(routes::me::get_me))
                    .route("/me", web::patch().to(routes::me::patch_me))
                    .route("/me", web::delete().to(routes::me::delete_me))
                    .route(
                        "/me/email-verification",
                        web::post().to(routes::me::send_verification),
                    )
                    .route(
                        "/email-verification/confirm",
                        web::post().to(routes::me::confirm_email),
                    )
                    .route(
                        "/email-verification/confirm",
                        web::get().to(routes::me::confirm_email_page),
                    )
                    .route(
                        "/webhooks/stripe",
                        web::post().to(routes::billing::stripe_webhook),
                    )
                    .route(
                        "/providers",
                        web::get().to(routes::providers::list_providers),
                    )
                    .route("/connections", web::get().to(routes::connections::list))
                    .route(
                        "/connections/{id}",
                        web::patch().to(routes::connections::rename),
                    )
                    .route(
                        "/connections/{id}",
                        web::delete().to(routes::connections::disconnect),
                    )
                    .route(
                        "/connections/{id}/primary",
                        web::post().to(routes::connections::make_primary),
                    )
                    .route(
                        "/connections/{provider}/authorize",
                        web::post().to(routes::connections::authorize),
                    )
                    .route(
                        "/connections/{provider}/callback",
                        web::get().to(routes::connections::callback),
                    )
                    .route(
                        "/connections/{provider}/complete",
                        web::post().to(routes::connections::complete),
                    )
                    .route(
                        "/connections/{id}/oauth1/authorize",
                        web::post().to(routes::connections::oauth1_authorize),
                    )
                    .route(
                        "/connections/{provider}/oauth1/callback",
                        web::get().to(routes::connections::oauth1_callback),
                    )
                    .route(
                        "/connections/{provider}/oauth1/complete",
                        web::post().to(routes::connections::oauth1_complete),
                    )
                    .route(
                        "/connections/{provider}",
                        web::post().to(routes::connections::connect_with_credentials),
                    )
                    .route("/posts", web::get().to(routes::posts::list))
                    .route("/posts", web::post().to(routes::posts::create))
                    .route("/posts/validate", web::post().to(routes::posts::validate))
                    .route("/posts/{id}", web::get().to(routes::posts::get))
                    .route("/posts/{id}", web::patch().to(routes::posts::edit))
                    .route("/posts/{id}", web::delete().to(routes::posts::delete))
                    .route(
                        "/posts/{id}/schedule",
                        web::post().to(routes::posts::schedule),
                    )
                    .route(
                        "/posts/{id}/publish",
                        web::post().to(routes::posts::publish),
                    )
                    .route("/posts/{id}/cancel", web::post().to(routes::posts::cancel))
                    .route("/posts/{id}/retry", web::post().to(routes::posts::retry))
                    .route(
                        "/posts/{id}/targets/{target}/review",
                        web::post().to(routes::posts::review),
                    )
                    .route("/media", web::get().to(routes::media::list))
                    .route("/media", web::post().to(routes::media::upload))
                    .route("/media/{id}", web::get().to(routes::media::get))
                    .route("/media/{id}", web::patch().to(routes::media::edit))
                    .route("/media/{id}", web::delete().to(routes::media::delete))
                    .route(
                        "/subscription",
                        web::get().to(routes::billing::subscription),
                    )
                    .route(
                        "/billing/checkout",
                        web::post().to(routes::billing::checkout),
                    )
                    .route("/billing/portal", web::post().to(routes::billing::portal)),
            )
            .default_service(web::to(rejection::unrouted));
    }
}

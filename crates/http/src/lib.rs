//! # multivio-http
//!
//! Multivio's HTTP API on actix-web. [`configure`] mounts every route on an actix `App`, so
//! the server binary and the tests assemble the same application.

mod health;
mod problem;

use actix_web::web;
use multivio_postgres::PgPool;

pub use problem::Problem;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: PgPool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Mounts every route and the shared state.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz));
    }
}

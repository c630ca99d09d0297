//! # multivio-postgres
//!
//! Multivio's PostgreSQL adapter: the connection pool, embedded migrations, tenant-scoped
//! transactions (Row Level Security), the diesel schema, and a private PostgreSQL cluster for
//! local runs and tests.

pub mod cluster;
mod error;
mod listen;
pub mod migrate;
mod pool;
pub mod provision;
pub mod schema;
#[cfg(feature = "testing")]
pub mod schema_gen;
mod store;
pub mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::DbError;
pub use listen::{JOBS_CHANNEL, JobListener};
pub use migrate::run_migrations;
pub use pool::{PgPool, PoolSettings, build_pool};
pub use provision::{RuntimeSetup, check_login, login_url, provision};
pub use store::{
    PgStore, WEBHOOK_EVENT_DAYS, due_claim_statement, expiring_statement, next_due_statement,
};
pub use tenant::{ClaimKeys, Role, Scope, Session, in_scope, in_session};

//! # multivio-postgres
//!
//! Multivio's PostgreSQL adapter: the connection pool, embedded migrations, tenant-scoped
//! transactions (Row Level Security), the diesel schema, and a private PostgreSQL cluster for
//! local runs and tests.

pub mod cluster;
mod error;
pub mod migrate;
mod pool;
pub mod schema;
#[cfg(feature = "testing")]
pub mod schema_gen;
mod store;
pub mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::DbError;
pub use migrate::run_migrations;
pub use pool::{PgPool, PoolSettings, build_pool};
pub use store::{PgStore, due_claim_statement};
pub use tenant::{Scope, in_scope};

/// Whether the database answers and every embedded migration has been applied.
pub async fn is_ready(pool: &PgPool) -> Result<bool, DbError> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }

    let mut conn = pool.get().await?;
    let applied: Vec<Version> =
        match diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(&mut conn)
            .await
        {
            Ok(rows) => rows,
            // No migrations table yet: reachable, but not migrated.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("does not exist") =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
    let applied: std::collections::HashSet<String> =
        applied.into_iter().map(|v| v.version).collect();
    Ok(migrate::embedded_versions()
        .iter()
        .all(|v| applied.contains(v)))
}

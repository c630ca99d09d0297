use diesel_async::pooled_connection::deadpool::PoolError;

/// What can go wrong talking to PostgreSQL, below the level of any one repository.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had from the pool in time, or a new one could not be opened.
    #[error("database unavailable: {0}")]
    Pool(#[from] PoolError),
    /// A statement failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A direct connection (outside the pool) could not be opened.
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// Applying or reading migrations failed.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// The pool could not be built from its settings.
    #[error("invalid pool settings: {0}")]
    Config(String),
}

//! What operators and load balancers ask about a running process: is the database ready, how
//! deep is the job queue, how busy is the connection pool.

use async_trait::async_trait;

use crate::error::StoreError;

/// Connections of the database pool, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUsage {
    /// Open connections.
    pub open: u64,
    /// Open and idle.
    pub idle: u64,
    /// Most the pool opens.
    pub max: u64,
    /// Callers waiting for a connection.
    pub waiting: u64,
}

/// Publishing jobs by state, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Waiting for their time or a worker.
    pub pending: u64,
    /// Held by a worker.
    pub running: u64,
}

/// The process's view of its database.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SystemStatus: Send + Sync {
    /// `Ok(true)` when the database answers and every migration this build expects is applied;
    /// `Ok(false)` when it answers but migrations are missing.
    async fn ready(&self) -> Result<bool, StoreError>;
    /// The job queue's depth.
    async fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
    /// The connection pools' usage (no I/O).
    fn pool_usage(&self) -> PoolUsage;
}

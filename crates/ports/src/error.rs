//! Errors of the storage ports.

/// Why a repository or queue call failed.
///
/// Tenant-scoped calls answer [`StoreError::NotFound`] for rows of another tenant: they never
/// reveal that a row exists but belongs to someone else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such row for this tenant.
    #[error("not found")]
    NotFound,
    /// A concurrent change won: a revision or compare-and-set check failed, or a uniqueness rule
    /// of the domain (one primary per provider) was hit. Nothing was written; reload and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A user-facing unique value is taken (e.g. `username`, `email`). Nothing was written.
    #[error("{field} is already taken")]
    Duplicate {
        /// Which field.
        field: String,
    },
    /// The change consumed a quota unit and none was left. Nothing was written.
    #[error("monthly post quota exceeded")]
    QuotaExceeded,
    /// The job's fencing token no longer matches (its lease expired and another worker took
    /// it). Nothing was written.
    #[error("job lease lost")]
    LeaseLost,
    /// A pagination cursor that this store did not hand out (or that was tampered with).
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// The store could not be reached or failed; the cause is for logs, not for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Opaque cursor for the next page, `None` on the last one.
    pub next_cursor: Option<String>,
}

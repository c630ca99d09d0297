//! The times Multivio keeps: years 1 to 9999 — those RFC 3339 writes (four-digit years) and
//! PostgreSQL stores (it refuses dates before 4713 BC). A time from outside — in a forged
//! page cursor, a webhook or a platform's answer — is refused or clamped where it comes in,
//! never passed on to fail where it is stored.

use chrono::{DateTime, Datelike, Utc};

/// The last second kept, in Unix seconds (9999-12-31T23:59:59Z).
pub const LAST_UNIX_SECOND: i64 = 253_402_300_799;

/// Whether `at` is a time Multivio keeps (years 1 to 9999).
pub fn is_kept(at: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&at.year())
}

#[cfg(test)]
mod tests;

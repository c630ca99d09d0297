//! The primary-account rule: one primary connection per (user, provider).
//!
//! - the first connection of a provider becomes primary;
//! - making another connection primary demotes the old one;
//! - removing the primary promotes the oldest remaining connection (by `created_at`, then id).
//!
//! Each function takes the user's connections **of one provider** and returns what to change;
//! the connection store applies the change atomically (a partial unique index on
//! `(user_id, provider) WHERE is_primary` makes a second primary impossible).

use super::Connection;
use crate::ids::ConnectionId;

/// Whether a newly connected account becomes primary, given the user's existing connections of
/// the same provider: yes when none of them is primary (in particular when there are none).
pub fn on_connect(existing: &[Connection]) -> bool {
    !existing.iter().any(|c| c.is_primary)
}

/// The connection is not among those given (absent, or of another provider or tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection {0} not found")]
pub struct NotAmongConnections(pub ConnectionId);

/// The flag changes that make `id` the only primary among `connections`: `(id, true)` for the new
/// primary and `(old, false)` for each demoted one, demotions first. Empty when `id` already is
/// the only primary.
pub fn make_primary(
    connections: &[Connection],
    id: ConnectionId,
) -> Result<Vec<(ConnectionId, bool)>, NotAmongConnections> {
    let target = connections
        .iter()
        .find(|c| c.id == id)
        .ok_or(NotAmongConnections(id))?;
    let mut changes: Vec<(ConnectionId, bool)> = connections
        .iter()
        .filter(|c| c.is_primary && c.id != id)
        .map(|c| (c.id, false))
        .collect();
    if !target.is_primary {
        changes.push((id, true));
    }
    Ok(changes)
}

/// Which connection to promote after removing one, given the connections that remain: the
/// oldest (by `created_at`, then id) when none of them is primary; `None` when one already is or
/// none remain.
pub fn after_removal(remaining: &[Connection]) -> Option<ConnectionId> {
    if remaining.iter().any(|c| c.is_primary) {
        return None;
    }
    remaining
        .iter()
        .min_by_key(|c| (c.created_at, c.id))
        .map(|c| c.id)
}

#[cfg(test)]
mod tests;

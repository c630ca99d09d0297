//! Statements prepared once per connection and reused.
//!
//! diesel prepares every `UPDATE` and every `INSERT` with optional columns anew on each run (a
//! changeset may skip the columns whose value is `None`, so one Rust type may stand for several
//! statements, and its cache is keyed by type). On this connection that is a round trip of its
//! own and a parse and plan on the server, before the statement runs — for the publisher's and
//! the API's hottest writes. [`Reused`] lets such a statement into diesel-async's statement
//! cache under its SQL text instead of its type (`QueryId` not static): a changeset that skips a
//! column makes other SQL, so another cache entry, never a wrong statement. Written by hand
//! because diesel offers no switch for it; the cache key's rule is diesel's own
//! (`StatementCacheKey::for_source`: no static query id, the SQL text and bind types).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// `Q`, prepared once per connection (keyed by its SQL text and bind types) and reused.
///
/// Only for statements whose SQL has a few fixed shapes: one whose text varies with its data
/// (a batch insert, an `IN` list, values formatted into `sql()`) would add a prepared
/// statement to every connection for each variant, without bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reused<Q>(pub(crate) Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Reused<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        // The key is the SQL text, so each distinct statement gets its own entry.
        Ok(true)
    }
}

impl<Q> QueryId for Reused<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Reused<Q> {
    type SqlType = Q::SqlType;
}

#[cfg(test)]
mod tests;

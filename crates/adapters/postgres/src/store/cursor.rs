//! Keyset pagination cursors: the sort key of the last row of a page, opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The position after which the next page starts (newest first: strictly older rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// The cursor was not one this store handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}:{}",
            self.at.timestamp_micros(),
            self.id.simple()
        ))
    }

    /// A cursor dated outside the times kept ([`multivio_domain::time`]) is refused: no row
    /// is, and PostgreSQL would refuse a date before 4713 BC as a parameter (an error, not an
    /// empty page).
    pub fn decode(text: &str) -> Result<Cursor, BadCursor> {
        if text.len() > 128 {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| BadCursor)?;
        let (micros, id) = text.split_once(':').ok_or(BadCursor)?;
        let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| BadCursor)?)
            .filter(multivio_domain::time::is_kept)
            .ok_or(BadCursor)?;
        let id = Uuid::parse_str(id).map_err(|_| BadCursor)?;
        Ok(Cursor { at, id })
    }
}

#[cfg(test)]
mod tests;

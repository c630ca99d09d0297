//! Bodies several resources share: plain answers (a status, a URL), the monthly quota, the
//! page query of cursor-paged lists, and how a patch tells an absent field from `null`.

use chrono::{DateTime, Utc};
use multivio_domain::quota::Quota;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The monthly post quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaDto {
    /// Posts per month.
    pub monthly_post_quota: u32,
    /// Posts left this period.
    pub remaining_posts: u32,
    /// When the period resets.
    pub resets_at: Option<DateTime<Utc>>,
}

impl From<&Quota> for QuotaDto {
    fn from(q: &Quota) -> Self {
        Self {
            monthly_post_quota: q.monthly_post_quota,
            remaining_posts: q.remaining_posts,
            resets_at: q.resets_at(),
        }
    }
}

/// Something happened; nothing to return.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    /// `ok`, `sent`, `verified`…
    pub status: String,
}

/// Page of the media list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–100 (default 20; others are clamped).
    #[param(schema_with = super::rules::page_limit)]
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(schema_with = super::rules::cursor)]
    pub cursor: Option<String>,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlResponse {
    /// The URL.
    pub url: String,
}

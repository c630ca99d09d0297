//! Publishing one part of a thread: its media (`POST /api/v2/media`, polled while processed),
//! then the status (`POST /api/v1/statuses`) with the part's `Idempotency-Key`, replying to the
//! part before it.
//!
//! Retrying is safe: the instance keeps the key for an hour per account and answers a repeat
//! with the status it created the first time, so a send whose answer was lost (a timeout after
//! the instance stored the status) is simply sent again — within [`DEDUP_WINDOW`] of the first
//! send, which leaves a margin under Mastodon's hour. Media uploaded by an attempt that
//! failed stay unattached on the instance, which removes them after a day.
//!
//! The [`SendGuard`] is asked once, after the media are uploaded and processed and right
//! before `POST /api/v1/statuses`; when it refuses, nothing is posted
//! ([`PublishError::NotSent`]).
//!
//! After the window, a send whose outcome is unknown is looked for instead
//! ([`Publisher::reconcile`]): in the account's own statuses (`GET
//! /api/v1/accounts/:id/statuses`, newest first, back to a little before the send), among
//! those created from a little before the send to a few minutes after it, matched by text and
//! links — the HTML `content` read as text, each `<a href>` by where it leads, a mention by
//! its name (and its page's host) — without a content warning, by as many attachments, and by
//! replying where the part replies (a first part to nothing).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::Secret;
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use reqwest::StatusCode;
use serde::Deserialize;

use super::instance::InstanceLimits;
use super::{InstanceError, Mastodon, plain_id};
use crate::http;

/// How long after a send a re-send with the same `Idempotency-Key` is answered with the status
/// already created: Mastodon keeps the key an hour; ten minutes are left for clocks and queues.
pub const DEDUP_WINDOW: Duration = Duration::minutes(50);
/// How far before the send a reconciliation looks (clocks differ).
const RECONCILE_SKEW: Duration = Duration::minutes(2);
/// How long after the send began a status it created may be dated (a slow answer, clocks):
/// a status created later is not its.
const RECONCILE_AFTER: Duration = Duration::minutes(5);
/// Statuses asked for per page (Mastodon's maximum).
const RECONCILE_PAGE: usize = 40;
/// Pages read at most when reconciling.
const RECONCILE_PAGES: usize = 5;

/// A MediaAttachment (the fields Multivio reads).
#[derive(Debug, Deserialize)]
struct Media {
    id: String,
}

/// A Status (the fields Multivio reads).
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

/// A status of an account's list (the fields a reconciliation reads).
#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    content: String,
    /// A content warning: Multivio sends none.
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    media_attachments: Vec<serde_json::Value>,
}

impl Listed {
    /// Whether it is the status `request` may have created (a send begun at `sent_at`): dated
    /// from [`RECONCILE_SKEW`] before the send to [`RECONCILE_AFTER`] after it (undated is not
    /// it), replying where the part replies (a first part to nothing), without a content
    /// warning, with as many attachments (the request's are counted, never read) and the same
    /// text and links.
    fn is_sent(&self, request: &PublishRequest, sent_at: DateTime<Utc>) -> bool {
        let parent = request.reply_to.as_ref().map(|r| r.parent.id.as_str());
        let media = self.media_attachments.len();
        self.created_at
            .is_some_and(|at| sent_at - RECONCILE_SKEW <= at && at <= sent_at + RECONCILE_AFTER)
            && self.in_reply_to_id.as_deref() == parent
            && self.spoiler_text.trim().is_empty()
            && media == request.media.len()
            && crate::matching::same_post(
                &request.text,
                &crate::matching::Shown::mastodon(&self.content),
                media,
            )
    }
}

/// What was being done, for error texts and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Upload,
    Processing,
    Status {
        reply: bool,
    },
    /// Listing the account's statuses (reconciliation).
    Read,
}

/// A status's public link: `url`, else `uri`, when it is an http(s) URL of sane length.
fn link(status: &Status) -> Option<String> {
    [status.url.as_deref(), status.uri.as_deref()]
        .into_iter()
        .flatten()
        .find(|u| u.len() <= 2048 && (u.starts_with("https://") || u.starts_with("http://")))
        .map(str::to_owned)
}

/// The error for an instance's non-success answer.
fn answer_error(
    step: Step,
    status: StatusCode,
    said: &InstanceError,
    retry_after: Option<chrono::Duration>,
) -> PublishError {
    let text = said.message("no reason given");
    match status.as_u16() {
        401 => PublishError::Unauthorized {
            reason: format!(
                "The Mastodon instance no longer accepts this account's sign-in: {text}"
            ),
        },
        429 => PublishError::RateLimited { retry_after },
        403 => PublishError::Rejected {
            code: "mastodon_forbidden".into(),
            reason: format!("The Mastodon instance does not allow this account to post: {text}"),
        },
        404 if step == (Step::Status { reply: true }) => PublishError::Rejected {
            code: "mastodon_reply_target_missing".into(),
            reason: format!(
                "The post this part replies to is gone from the Mastodon instance: {text}"
            ),
        },
        413 => PublishError::Rejected {
            code: "mastodon_media_too_large".into(),
            reason: "The Mastodon instance refused a file as too large.".into(),
        },
        422 => {
            let (code, what) = match step {
                Step::Upload => ("mastodon_media_rejected", "a file"),
                Step::Processing => ("mastodon_media_failed", "a file it was processing"),
                Step::Status { .. } => ("mastodon_rejected", "the post"),
                Step::Read => ("mastodon_rejected", "the listing of the account's posts"),
            };
            PublishError::Rejected {
                code: code.into(),
                reason: format!("The Mastodon instance refused {what}: {text}"),
            }
        }
        // A server error answering the status may come after the instance stored it (a proxy
        // that gave up waiting): looked for, and re-sent with the same key only within the
        // window, by the core.
        s if s >= 500 && matches!(step, Step::Status { .. }) => PublishError::Unknown {
            reason: format!("Mastodon answered HTTP {s} to the post: {text}"),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        s if s >= 500 || s == 408 => PublishError::Transient {
            reason: format!("Mastodon answered HTTP {s}: {text}"),
        },
        s => PublishError::Rejected {
            code: format!("mastodon_http_{s}"),
            reason: format!("The Mastodon instance answered HTTP {s}: {text}"),
        },
    }
}

/// A safe file name for an upload: the client's name (its last path segment, printable ASCII
/// only) or the stored name, else `upload`.
fn file_name(attachment: &Attachment) -> String {
    let pick = |name: &str| -> Option<String> {
        let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let clean: String = last
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '"')
            .take(100)
            .collect();
        (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
    };
    attachment
        .file
        .original_filename
        .as_deref()
        .and_then(pick)
        .or_else(|| pick(&attachment.file.filename))
        .unwrap_or_else(|| "upload".to_owned())
}

impl Mastodon {
    async fn failed(step: Step, response: reqwest::Response) -> PublishError {
        let status = response.status();
        let retry_after = http::retry_after(response.headers(), Utc::now());
        let said = InstanceError::read(response).await;
        answer_error(step, status, &said, retry_after)
    }

    /// Uploads one file and waits until the instance has processed it; its media id.
    async fn upload(
        &self,
        instance: &str,
        token: &Secret,
        attachment: &Attachment,
        description_limit: usize,
    ) -> Result<String, PublishError> {
        // Streamed from media storage (a video may be large).
        let body = crate::http::media_body(&attachment.bytes).await?;
        let part = reqwest::multipart::Part::stream_with_length(body, attachment.bytes.len())
            .file_name(file_name(attachment))
            .mime_str(&attachment.file.file_type)
            .map_err(|_| PublishError::Rejected {
                code: "mastodon_media_type".into(),
                reason: format!(
                    "`{}` is not a media type Mastodon accepts.",
                    attachment.file.file_type
                ),
            })?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(alt) = &attachment.file.alt_text {
            let description: String = alt.as_str().chars().take(description_limit).collect();
            form = form.text("description", description);
        }
        let response = self
            .client
            .post(format!("{instance}/api/v2/media"))
            .bearer_auth(token.expose())
            .timeout(self.upload_timeout)
            .multipart(form)
            .send()
            .await
            // Nothing is posted by an upload: retrying it is safe.
            .map_err(|e| http::transient(&e))?;
        let status = response.status();
        if status != StatusCode::OK && status != StatusCode::ACCEPTED {
            return Err(Self::failed(Step::Upload, response).await);
        }
        let media: Media = http::json_body(response, "Mastodon media")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        if !plain_id(&media.id) {
            return Err(PublishError::Transient {
                reason: "Mastodon media: unusable id".into(),
            });
        }
        if status == StatusCode::ACCEPTED {
            self.wait_processed(instance, token, &media.id).await?;
        }
        Ok(media.id)
    }

    /// Polls `GET /api/v1/media/:id` until the instance answers 200 (206 while processing),
    /// at most [`MediaPolling::max_polls`](super::MediaPolling) times.
    async fn wait_processed(
        &self,
        instance: &str,
        token: &Secret,
        id: &str,
    ) -> Result<(), PublishError> {
        for _ in 0..self.polling.max_polls {
            tokio::time::sleep(self.polling.interval).await;
            let response = self
                .client
                .get(format!("{instance}/api/v1/media/{id}"))
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(|e| http::transient(&e))?;
            match response.status() {
                StatusCode::OK => return Ok(()),
                StatusCode::PARTIAL_CONTENT => continue,
                _ => return Err(Self::failed(Step::Processing, response).await),
            }
        }
        Err(PublishError::Transient {
            reason: format!(
                "Mastodon was still processing an uploaded file after {} checks",
                self.polling.max_polls
            ),
        })
    }
}

impl Mastodon {
    /// The instance of a request's connection, canonical and allowed.
    fn instance_of(&self, request: &PublishRequest) -> Result<String, PublishError> {
        request
            .connection
            .metadata_str("server_url")
            .ok_or_else(|| PublishError::Rejected {
                code: "mastodon_connection_incomplete".into(),
                reason: "The Mastodon connection does not name its server; connect it again."
                    .into(),
            })
            .and_then(|url| {
                self.instance(url).map_err(|e| PublishError::Rejected {
                    code: "mastodon_server_url".into(),
                    reason: e.to_string(),
                })
            })
    }

    /// The account's id on its instance: the one stored at sign-in, else asked for
    /// (`verify_credentials`).
    async fn account_id(
        &self,
        instance: &str,
        request: &PublishRequest,
    ) -> Result<String, PublishError> {
        if let Some(id) = request
            .connection
            .metadata_str("account_id")
            .filter(|id| plain_id(id))
        {
            return Ok(id.to_owned());
        }
        let response = self
            .client
            .get(format!("{instance}/api/v1/accounts/verify_credentials"))
            .bearer_auth(request.credentials.access_token.expose())
            .send()
            .await
            .map_err(|e| http::transient(&e))?;
        if response.status() != StatusCode::OK {
            return Err(Self::failed(Step::Read, response).await);
        }
        let account: super::oauth::Account = http::json_body(response, "Mastodon account")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        if !plain_id(&account.id) {
            return Err(PublishError::Transient {
                reason: "Mastodon account: unusable id".into(),
            });
        }
        Ok(account.id)
    }

    /// One page of the account's statuses, newest first, older than `max_id` when given.
    async fn statuses_page(
        &self,
        instance: &str,
        account_id: &str,
        token: &Secret,
        max_id: Option<&str>,
    ) -> Result<Vec<Listed>, PublishError> {
        let mut query = vec![
            ("limit", RECONCILE_PAGE.to_string()),
            ("exclude_reblogs", "true".to_owned()),
        ];
        if let Some(max_id) = max_id {
            query.push(("max_id", max_id.to_owned()));
        }
        let response = self
            .client
            .get(format!("{instance}/api/v1/accounts/{account_id}/statuses"))
            .query(&query)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| http::transient(&e))?;
        if response.status() != StatusCode::OK {
            return Err(Self::failed(Step::Read, response).await);
        }
        http::json_body(response, "Mastodon statuses")
            .await
            .map_err(|reason| PublishError::Transient { reason })
    }
}

#[async_trait]
impl Publisher for Mastodon {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        // (Without media, nothing reaches the instance before the status:
        // `sends_plain_parts_at_once`.)
        let connection = &request.connection;
        let instance = self.instance_of(request)?;
        let token = &request.credentials.access_token;
        let idempotency_key = reqwest::header::HeaderValue::from_str(&request.idempotency_key)
            .map_err(|_| PublishError::Rejected {
                code: "mastodon_idempotency_key".into(),
                reason: "The idempotency key cannot be sent as a header.".into(),
            })?;
        let description_limit = InstanceLimits::description_limit_of(&connection.metadata);

        let mut media_ids = Vec::with_capacity(request.media.len());
        for attachment in &request.media {
            media_ids.push(
                self.upload(&instance, token, attachment, description_limit)
                    .await?,
            );
        }

        let reply_to = request.reply_to.as_ref().map(|r| r.parent.id.as_str());
        let mut body = serde_json::json!({
            "status": request.text,
            "media_ids": media_ids,
            "visibility": "public",
        });
        if let Some(parent) = reply_to {
            body["in_reply_to_id"] = parent.into();
        }
        // Everything before this is safe to redo; the status is not (after the window).
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let response = self
            .client
            .post(format!("{instance}/api/v1/statuses"))
            .bearer_auth(token.expose())
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| http::publish_transport_error(&e))?;
        if response.status() != StatusCode::OK {
            return Err(Self::failed(
                Step::Status {
                    reply: reply_to.is_some(),
                },
                response,
            )
            .await);
        }
        let status: Status =
            http::json_body(response, "Mastodon status")
                .await
                .map_err(|reason| {
                    // The instance answered 200: the status exists; what came back is unreadable.
                    PublishError::Unknown { reason }
                })?;
        if status.id.is_empty() || status.id.len() > 255 {
            return Err(PublishError::Unknown {
                reason: "Mastodon status: unusable id".into(),
            });
        }
        tracing::info!(%instance, post = %request.post_id, part = request.part, status = %status.id, "Mastodon status published");
        Ok(PublishedPost {
            url: link(&status),
            platform_post_id: status.id,
            reference: None,
        })
    }

    /// Mastodon answers a re-send with the same `Idempotency-Key` with the status already
    /// created for about an hour ([`DEDUP_WINDOW`], with a margin).
    fn dedup_window(&self) -> Option<Duration> {
        Some(DEDUP_WINDOW)
    }

    fn sends_plain_parts_at_once(&self) -> bool {
        true
    }

    /// Looks through the account's statuses back to two minutes before `sent_at` (newest
    /// first, up to 5 pages of 40) for the one the send created, dated up to five minutes
    /// after `sent_at`. Two statuses that both match are not told apart: not found, for a
    /// person to check.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let instance = self.instance_of(request)?;
        let account_id = self.account_id(&instance, request).await?;
        let token = &request.credentials.access_token;
        let since = sent_at - RECONCILE_SKEW;
        let mut found: Vec<Listed> = Vec::new();
        let mut max_id: Option<String> = None;
        for _ in 0..RECONCILE_PAGES {
            let page = self
                .statuses_page(&instance, &account_id, token, max_id.as_deref())
                .await?;
            let Some(oldest) = page.last() else { break };
            let older_than_window = oldest.created_at.is_some_and(|at| at < since);
            max_id = Some(oldest.id.clone()).filter(|id| plain_id(id));
            found.extend(page.into_iter().filter(|s| s.is_sent(request, sent_at)));
            if older_than_window || max_id.is_none() {
                break;
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        match found.as_slice() {
            [] => Ok(None),
            [status] => {
                tracing::info!(%instance, post = %request.post_id, part = request.part, status = %status.id, "Mastodon status found by reconciliation");
                let link = link(&Status {
                    id: status.id.clone(),
                    url: status.url.clone(),
                    uri: status.uri.clone(),
                });
                Ok(Some(PublishedPost {
                    url: link,
                    platform_post_id: status.id.clone(),
                    reference: None,
                }))
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|s| s.id.as_str()).collect();
                tracing::warn!(%instance, post = %request.post_id, part = request.part, candidates = ?ids, "several Mastodon statuses match a send: left for a person to check");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;

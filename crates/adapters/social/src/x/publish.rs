//! Posting to X: media through the chunked upload, then `POST /2/tweets` (a reply for every
//! part of a thread after the first).
//!
//! X has no idempotency key, so what a failure means depends on the step. A media upload
//! creates no post: any failure of it is transient and doing it again is safe. Creating the
//! post is not: a server error (5xx) or a connection lost after the request left may come after
//! X created the post, so both are [`PublishError::Unknown`] (never re-sent; a person checks);
//! only a failure to connect, or a refusal X states (4xx, 429), says nothing was created.
//!
//! The [`SendGuard`] is asked once, after the media are uploaded and right before `POST
//! /2/tweets`; when it refuses, nothing is posted ([`PublishError::NotSent`]). With no
//! idempotency key, X deduplicates nothing ([`Publisher::dedup_window`] is `None`): a send
//! whose outcome is unknown is looked for instead ([`Publisher::reconcile`]) in the account's
//! own posts created from a little before the send to a few minutes after it (`GET
//! /2/users/{id}/tweets`), matched by text and links — each `t.co` link by where X's entities
//! say it leads, X's media link aside; a long post by its whole text (`note_tweet`) — by as
//! many media, and, for a part of a thread, by replying to the part before it (a first part
//! replies to nothing).

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;
use serde_json::json;

use super::X;
use super::oauth::{nonce, unix_now};
use crate::http::{error_text, excerpt, publish_transport_error, retry_after, transient};
use crate::oauth1::{Nonce, Signer};

/// Bytes per `append` (X takes up to 5 MB).
const CHUNK: usize = 4 * 1024 * 1024;
/// Status checks before giving up on X's media processing.
const MAX_CHECKS: u32 = 60;
/// How far before the send a reconciliation looks (clocks differ, X's timestamps are
/// truncated to the second).
const RECONCILE_SKEW: Duration = Duration::minutes(2);
/// How long after the send began a post it created may be dated (a slow answer, clocks):
/// a post created later is not its.
const RECONCILE_AFTER: Duration = Duration::minutes(5);
/// X refuses a `start_time` or `end_time` less than 10 seconds before the request.
const X_TIME_MARGIN: Duration = Duration::seconds(10);
/// Posts asked for per page of the timeline (X's maximum).
const RECONCILE_PAGE: usize = 100;
/// Pages read at most: an account posting more than this many posts in the window is not
/// searched further (not found, and a person checks).
const RECONCILE_PAGES: usize = 5;

#[derive(Debug, Deserialize)]
struct MediaAnswer {
    data: MediaData,
}

#[derive(Debug, Deserialize)]
struct MediaData {
    id: String,
    #[serde(default)]
    processing_info: Option<ProcessingInfo>,
}

#[derive(Debug, Deserialize)]
struct ProcessingInfo {
    state: String,
    #[serde(default)]
    check_after_secs: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Debug, Deserialize)]
struct CreatedData {
    id: String,
}

/// X's problem documents, as far as we read them.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

impl Problem {
    fn text(&self) -> String {
        if let Some(message) = self
            .errors
            .iter()
            .find_map(|e| e.get("message").and_then(|m| m.as_str()))
        {
            return message.to_owned();
        }
        self.detail
            .clone()
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| "no reason given".to_owned())
    }
}

/// Which call an error answer is for: what a server error means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A media upload call: nothing is posted yet, so doing it again is safe.
    Media,
    /// `POST /2/tweets`: X may have created the post before failing, and it has no idempotency
    /// key, so a server error leaves the outcome unknown.
    Post,
    /// Reading the account's posts: nothing changes, so a server error is transient.
    Read,
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Step::Media => "media upload",
            Step::Post => "post",
            Step::Read => "reading of the account's posts",
        }
    }
}

/// A page of `GET /2/users/{id}/tweets`.
#[derive(Debug, Deserialize)]
struct Timeline {
    /// Absent when the page is empty.
    #[serde(default)]
    data: Vec<TimelinePost>,
    #[serde(default)]
    meta: Option<TimelineMeta>,
    /// X answers some failures (an unknown user) with 200 and only `errors`.
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct TimelineMeta {
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TimelinePost {
    id: String,
    /// Truncated for a long post (the whole text is in `note_tweet`).
    #[serde(default)]
    text: String,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    referenced_tweets: Vec<Referenced>,
    #[serde(default)]
    attachments: Option<Attachments>,
    /// Absent when the text has no links (nor mentions, hashtags…).
    #[serde(default)]
    entities: Option<Entities>,
    /// A long post's whole text, and its entities.
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
}

#[derive(Debug, Default, Deserialize)]
struct Entities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

/// A link in a post's text: the `t.co` address X put there (`url`), and where it leads.
#[derive(Debug, Deserialize)]
struct UrlEntity {
    url: String,
    /// The address as it was written (with `http://` added when it had no scheme).
    #[serde(default)]
    expanded_url: Option<String>,
    /// Where it leads after redirects (some access levels only).
    #[serde(default)]
    unwound_url: Option<String>,
    /// Set on the link X appends to the post's media.
    #[serde(default)]
    media_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NoteTweet {
    #[serde(default)]
    text: String,
    #[serde(default)]
    entities: Option<Entities>,
}

#[derive(Debug, Deserialize)]
struct Referenced {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Deserialize)]
struct Attachments {
    #[serde(default)]
    media_keys: Vec<String>,
}

impl TimelinePost {
    /// The post it replies to, if it is a reply.
    fn replied_to(&self) -> Option<&str> {
        self.referenced_tweets
            .iter()
            .find(|r| r.kind == "replied_to")
            .map(|r| r.id.as_str())
    }

    /// What X shows of it: the whole text (a long post's `note_tweet`, else `text`), each
    /// `t.co` link by where it leads, the media link left out.
    fn shown(&self) -> crate::matching::Shown {
        let no_entities = Entities::default();
        let top = self.entities.as_ref().unwrap_or(&no_entities);
        let (text, entities) = match &self.note_tweet {
            Some(note) if !note.text.is_empty() => (
                note.text.as_str(),
                note.entities.as_ref().unwrap_or(&no_entities),
            ),
            _ => (self.text.as_str(), top),
        };
        // The media link is X's wherever it shows: known by its entity in either list.
        let media = top.urls.iter().filter(|u| u.media_key.is_some());
        let links = entities.urls.iter().chain(media).map(|u| {
            let target = if u.media_key.is_some() {
                None
            } else {
                // Without a target, the `t.co` address itself: it then matches no text we
                // sent (unless it was that very address).
                Some(
                    u.expanded_url
                        .as_deref()
                        .or(u.unwound_url.as_deref())
                        .unwrap_or(u.url.as_str()),
                )
            };
            (u.url.as_str(), target)
        });
        crate::matching::Shown::x(text, links)
    }

    /// Whether it is the post `request` may have created (a send begun at `sent_at`): dated
    /// from [`RECONCILE_SKEW`] before the send to [`RECONCILE_AFTER`] after it (undated is not
    /// it), replying where the part replies (a first part to nothing), with as many media
    /// (the request's attachments are counted, never read) and the same text and links.
    fn is_sent(&self, request: &PublishRequest, sent_at: DateTime<Utc>) -> bool {
        let parent = request.reply_to.as_ref().map(|r| r.parent.id.as_str());
        let media = self.attachments.as_ref().map_or(0, |a| a.media_keys.len());
        self.created_at
            .is_some_and(|at| sent_at - RECONCILE_SKEW <= at && at <= sent_at + RECONCILE_AFTER)
            && self.replied_to() == parent
            && media == request.media.len()
            && crate::matching::same_post(&request.text, &self.shown(), media)
    }
}

/// The `start_time` and `end_time` to ask X's timeline for, for a send begun at `sent_at`,
/// asked at `now`: whole seconds around [`TimelinePost::is_sent`]'s window (which then
/// decides to the millisecond). X refuses either time less than 10 seconds before the request:
/// the start is never later than that, and when the window's end is not that far in the past
/// there is no `end_time` at all — the timeline then ends now, which is all the window asks
/// for, and a post of the last 10 seconds is not left out.
fn timeline_window(
    sent_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let latest = now - X_TIME_MARGIN;
    let start = floor_second(sent_at - RECONCILE_SKEW).min(floor_second(latest));
    let end = ceil_second(sent_at + RECONCILE_AFTER);
    (start, (end <= latest && end > start).then_some(end))
}

fn floor_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

fn ceil_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_second(at);
    if floor == at {
        at
    } else {
        floor + Duration::seconds(1)
    }
}

/// What an error answer of X means for the post.
async fn refusal(response: reqwest::Response, step: Step) -> PublishError {
    let status = response.status();
    let what = step.what();
    let headers = response.headers().clone();
    let text = error_text(response).await;
    let detail = serde_json::from_str::<Problem>(&text)
        .map(|p| p.text())
        .unwrap_or_else(|_| excerpt(&text, 200));
    match status.as_u16() {
        401 => PublishError::Unauthorized {
            reason: format!("X refused the token: {detail}"),
        },
        429 => PublishError::RateLimited {
            retry_after: retry_after(&headers, Utc::now()),
        },
        403 if detail.contains("duplicate") => PublishError::Rejected {
            code: "duplicate".to_owned(),
            reason: "X refused a duplicate of a recent post from this account".to_owned(),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        408 => PublishError::Transient {
            reason: format!("X timed out waiting for the {what}"),
        },
        s if (400..500).contains(&s) => PublishError::Rejected {
            code: format!("x_{s}"),
            reason: format!("X refused the {what}: {}", excerpt(&detail, 300)),
        },
        _ if step == Step::Post => PublishError::Unknown {
            reason: format!(
                "X answered {status} to the post; it may have been created all the same"
            ),
        },
        _ => PublishError::Transient {
            reason: format!("X answered {status} to the {what}"),
        },
    }
}

/// How a media call authenticates: OAuth 1.0a with the account's tokens when both the app and
/// the connection have them, the OAuth 2.0 token otherwise.
enum MediaAuth<'a> {
    Bearer(&'a str),
    OAuth1(Signer<'a>),
}

impl X {
    fn media_auth<'a>(&'a self, request: &'a PublishRequest) -> MediaAuth<'a> {
        match (&self.config.consumer, &request.credentials.oauth1) {
            (Some((key, secret)), Some(tokens)) => MediaAuth::OAuth1(Signer {
                consumer_key: key,
                consumer_secret: secret.expose(),
                token: Some(tokens.token.expose()),
                token_secret: tokens.token_secret.expose(),
            }),
            _ => MediaAuth::Bearer(request.credentials.access_token.expose()),
        }
    }

    /// Signs `builder` for `method` on `url` (its query signed; JSON and multipart bodies are
    /// never part of an OAuth 1.0a signature).
    fn authorize_media(
        &self,
        auth: &MediaAuth<'_>,
        builder: reqwest::RequestBuilder,
        method: &str,
        url: &url::Url,
    ) -> Result<reqwest::RequestBuilder, PublishError> {
        Ok(match auth {
            MediaAuth::Bearer(token) => builder.bearer_auth(token),
            MediaAuth::OAuth1(signer) => {
                let nonce = nonce().map_err(|e| PublishError::Transient {
                    reason: e.to_string(),
                })?;
                let header = signer.authorization(
                    method,
                    url,
                    &[],
                    &[],
                    &Nonce {
                        nonce: &nonce,
                        timestamp: unix_now(),
                        with_version: true,
                    },
                );
                builder.header("authorization", header)
            }
        })
    }

    fn parse_url(&self, url: &str) -> Result<url::Url, PublishError> {
        url::Url::parse(url).map_err(|e| PublishError::Transient {
            reason: format!("X upload URL: {e}"),
        })
    }

    /// Uploads one attachment (initialize → append → finalize → status until processed) and
    /// returns its media id. Nothing is posted yet, so every failure is safe to retry.
    async fn upload(
        &self,
        request: &PublishRequest,
        attachment: &Attachment,
    ) -> Result<String, PublishError> {
        let auth = self.media_auth(request);
        let mime = attachment.file.file_type.as_str();
        let category = match mime {
            "image/gif" => "tweet_gif",
            m if m.starts_with("video/") => "tweet_video",
            _ => "tweet_image",
        };
        let url = self.parse_url(&self.upload_url("/2/media/upload/initialize"))?;
        let response = self
            .authorize_media(&auth, self.http.post(url.as_str()), "POST", &url)?
            .json(&json!({
                "media_type": mime,
                "total_bytes": attachment.bytes.len(),
                "media_category": category,
            }))
            .send()
            .await
            .map_err(|e| transient(&e))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Media).await);
        }
        let init: MediaAnswer = crate::http::json_body(response, "X media initialize")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        let id = init.data.id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PublishError::Transient {
                reason: "X answered an unusable media id".to_owned(),
            });
        }
        let total = attachment.bytes.len();
        let starts = (0..total).step_by(CHUNK);
        for (index, start) in starts.enumerate() {
            let url = self.parse_url(&self.upload_url(&format!("/2/media/upload/{id}/append")))?;
            // One chunk in memory at a time, read from storage.
            let chunk = attachment
                .bytes
                .range(start..(start + CHUNK as u64).min(total))
                .await
                .map_err(|e| crate::http::media_unreadable(&e))?;
            let length = chunk.len() as u64;
            let part = reqwest::multipart::Part::stream_with_length(chunk, length)
                .file_name("media")
                .mime_str("application/octet-stream")
                .map_err(|e| transient(&e))?;
            let form = reqwest::multipart::Form::new()
                .text("segment_index", index.to_string())
                .part("media", part);
            let response = self
                .authorize_media(&auth, self.http.post(url.as_str()), "POST", &url)?
                .multipart(form)
                .send()
                .await
                .map_err(|e| transient(&e))?;
            if !response.status().is_success() {
                return Err(refusal(response, Step::Media).await);
            }
        }
        let url = self.parse_url(&self.upload_url(&format!("/2/media/upload/{id}/finalize")))?;
        let response = self
            .authorize_media(&auth, self.http.post(url.as_str()), "POST", &url)?
            .send()
            .await
            .map_err(|e| transient(&e))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Media).await);
        }
        let mut answer: MediaAnswer = crate::http::json_body(response, "X media finalize")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        for _ in 0..MAX_CHECKS {
            let Some(info) = answer.data.processing_info.take() else {
                return Ok(id);
            };
            match info.state.as_str() {
                "succeeded" => return Ok(id),
                "failed" => {
                    let why = info
                        .error
                        .as_ref()
                        .and_then(|e| e.get("message"))
                        .and_then(|m| m.as_str())
                        .unwrap_or("it could not be processed");
                    return Err(PublishError::Rejected {
                        code: "media_processing_failed".to_owned(),
                        reason: format!("X could not process the media: {why}"),
                    });
                }
                _ => {}
            }
            let wait = std::time::Duration::from_secs(info.check_after_secs.unwrap_or(1).max(1))
                .min(self.max_check_delay);
            tokio::time::sleep(wait).await;
            let mut url = self.parse_url(&self.upload_url("/2/media/upload"))?;
            url.query_pairs_mut()
                .append_pair("command", "STATUS")
                .append_pair("media_id", &id);
            let response = self
                .authorize_media(&auth, self.http.get(url.as_str()), "GET", &url)?
                .send()
                .await
                .map_err(|e| transient(&e))?;
            if !response.status().is_success() {
                return Err(refusal(response, Step::Media).await);
            }
            answer = crate::http::json_body(response, "X media status")
                .await
                .map_err(|reason| PublishError::Transient { reason })?;
        }
        Err(PublishError::Transient {
            reason: "X is still processing the media".to_owned(),
        })
    }
}

impl X {
    /// The post's public URL.
    fn post_url(request: &PublishRequest, id: &str) -> String {
        match request.connection.metadata_str("username") {
            Some(name) => format!("https://x.com/{name}/status/{id}"),
            None => format!("https://x.com/i/web/status/{id}"),
        }
    }

    /// One page of the account's posts in `window` (from, and up to when given; second
    /// granularity, both inclusive).
    async fn timeline_page(
        &self,
        request: &PublishRequest,
        user_id: &str,
        window: (DateTime<Utc>, Option<DateTime<Utc>>),
        page: Option<&str>,
    ) -> Result<Timeline, PublishError> {
        let (start, end) = window;
        let mut url = self.parse_url(&self.api(&format!("/2/users/{user_id}/tweets")))?;
        url.query_pairs_mut()
            .append_pair(
                "start_time",
                &start.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .append_pair("max_results", &RECONCILE_PAGE.to_string())
            .append_pair(
                "tweet.fields",
                "created_at,text,referenced_tweets,attachments,entities,note_tweet",
            )
            .append_pair("exclude", "retweets");
        if let Some(end) = end {
            url.query_pairs_mut()
                .append_pair("end_time", &end.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        if let Some(token) = page {
            url.query_pairs_mut().append_pair("pagination_token", token);
        }
        let response = self
            .http
            .get(url.as_str())
            .bearer_auth(request.credentials.access_token.expose())
            .send()
            .await
            .map_err(|e| transient(&e))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Read).await);
        }
        let timeline: Timeline = crate::http::json_body(response, "X timeline")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        if timeline.data.is_empty()
            && timeline.meta.is_none()
            && let Some(error) = timeline.errors.first()
        {
            let detail = error
                .get("detail")
                .and_then(|d| d.as_str())
                .unwrap_or("no reason given");
            return Err(PublishError::Rejected {
                code: "x_timeline".to_owned(),
                reason: format!(
                    "X could not list the account's posts: {}",
                    excerpt(detail, 300)
                ),
            });
        }
        Ok(timeline)
    }
}

#[async_trait]
impl Publisher for X {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        // (Without media, nothing reaches X before `POST /2/tweets`:
        // `sends_plain_parts_at_once`.)
        let mut media_ids = Vec::with_capacity(request.media.len());
        for attachment in &request.media {
            media_ids.push(self.upload(request, attachment).await?);
        }
        let mut body = serde_json::Map::new();
        if !request.text.is_empty() || media_ids.is_empty() {
            body.insert("text".to_owned(), json!(request.text));
        }
        if !media_ids.is_empty() {
            body.insert("media".to_owned(), json!({ "media_ids": media_ids }));
        }
        if let Some(reply) = &request.reply_to {
            body.insert(
                "reply".to_owned(),
                json!({ "in_reply_to_tweet_id": reply.parent.id }),
            );
        }
        // Everything before this is safe to redo; the post is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let response = self
            .http
            .post(self.api("/2/tweets"))
            .bearer_auth(request.credentials.access_token.expose())
            .json(&body)
            .send()
            .await
            // Not connected: nothing was sent, retrying is safe. Any later failure (a reset, a
            // timeout after the request left) may come after X created the post: unknown.
            .map_err(|e| publish_transport_error(&e))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Post).await);
        }
        let created: Created = crate::http::json_body(response, "X post")
            .await
            // It was created (2xx) but the answer is unreadable: we don't know its id.
            .map_err(|reason| PublishError::Unknown { reason })?;
        Ok(PublishedPost {
            url: Some(Self::post_url(request, &created.data.id)),
            platform_post_id: created.data.id,
            reference: None,
        })
    }

    /// X has no idempotency keys: a send interrupted after it left is never re-sent blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    fn sends_plain_parts_at_once(&self) -> bool {
        true
    }

    /// Looks through the account's posts from two minutes before `sent_at` to five minutes
    /// after it (newest first, up to 5 pages of 100) for the one the send created. Two posts
    /// that both match (two posts of an image alone, say) are not told apart: not found, for a
    /// person to check.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let user_id = request.connection.provider_account_id.as_str();
        if user_id.is_empty() || !user_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PublishError::Rejected {
                code: "invalid_account".to_owned(),
                reason: "this X connection has no account id; connect the account again".to_owned(),
            });
        }
        let window = timeline_window(sent_at, Utc::now());
        let mut found: Vec<String> = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..RECONCILE_PAGES {
            let timeline = self
                .timeline_page(request, user_id, window, page.as_deref())
                .await?;
            found.extend(
                timeline
                    .data
                    .iter()
                    .filter(|post| post.is_sent(request, sent_at))
                    .map(|post| post.id.clone()),
            );
            page = timeline.meta.and_then(|m| m.next_token);
            if page.is_none() {
                break;
            }
        }
        found.sort();
        found.dedup();
        match found.as_slice() {
            [] => Ok(None),
            [id] => {
                tracing::info!(post = %request.post_id, part = request.part, x_post = %id, "X post found by reconciliation");
                Ok(Some(PublishedPost {
                    url: Some(Self::post_url(request, id)),
                    platform_post_id: id.clone(),
                    reference: None,
                }))
            }
            several => {
                tracing::warn!(post = %request.post_id, part = request.part, candidates = ?several, "several X posts match a send: left for a person to check");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;

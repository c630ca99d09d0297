//! Posting to TikTok directly: the creator's options first, then the video's upload, then its
//! status until TikTok has published it.
//!
//! Querying the creator and initialising the post create nothing that goes out: a failure
//! there is transient or a plain refusal. TikTok publishes once the last byte of the video has
//! arrived, so the [`SendGuard`] is asked right before the last chunk; from then on a failure
//! (a lost answer, a status TikTok will not give) leaves the outcome unknown, never re-sent
//! blindly ([`Publisher::dedup_window`] is `None`).

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::post::options::{TiktokOptions, TiktokPrivacy};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Envelope, Tiktok};
use crate::http::{error_text, excerpt, publish_transport_error, retry_after, transient};

/// What TikTok says of the one reason a post may only be private.
pub const PRIVATE_ONLY: &str = "TikTok allows this app to post only privately until it is audited";

/// `creator_info/query`'s data.
#[derive(Debug, Deserialize)]
pub(super) struct Creator {
    #[serde(default)]
    pub(super) creator_username: Option<String>,
    #[serde(default)]
    privacy_level_options: Vec<String>,
    #[serde(default)]
    comment_disabled: bool,
    #[serde(default)]
    duet_disabled: bool,
    #[serde(default)]
    stitch_disabled: bool,
    #[serde(default)]
    max_video_post_duration_sec: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Initialized {
    publish_id: String,
    upload_url: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fail_reason: Option<String>,
    /// TikTok's spelling; absent or `null` while the post is not public.
    #[serde(default)]
    publicaly_available_post_id: Option<Vec<Value>>,
}

/// The longest wait before reading a status again after TikTok refused a read as over its
/// limit (30 a minute per token: a minute frees it).
const RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which call an error answer is for: what a server error means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Before the post: creator info, init, the first chunks.
    Before,
    /// The last chunk and the status: the post may be going out.
    After,
}

/// TikTok's error codes, in plain words: `None` for the ones left to the status code.
fn plain(code: &str, message: &str) -> Option<PublishError> {
    let rejected = |code: &str, reason: String| {
        Some(PublishError::Rejected {
            code: code.to_owned(),
            reason,
        })
    };
    match code {
        "access_token_invalid" | "access_token_expired" => Some(PublishError::Unauthorized {
            reason: format!("TikTok refused the token: {message}"),
        }),
        "scope_not_authorized" | "scope_permission_missed" => rejected(
            "tiktok_permission",
            "TikTok did not let Multivio post for this account; connect it again and allow \
             posting videos"
                .to_owned(),
        ),
        "rate_limit_exceeded" => Some(PublishError::RateLimited { retry_after: None }),
        "unaudited_client_can_only_post_to_private_accounts" => rejected(
            "tiktok_private_only",
            format!(
                "{PRIVATE_ONLY}: choose SELF_ONLY (platform_content.tiktok.privacy_level), or \
                 have the app audited by TikTok"
            ),
        ),
        "privacy_level_option_mismatch" => rejected(
            "tiktok_privacy",
            "TikTok does not offer this account the privacy level asked for".to_owned(),
        ),
        "spam_risk_too_many_posts" => rejected(
            "tiktok_daily_limit",
            "TikTok's limit of posts a day for this account is reached; post it again tomorrow"
                .to_owned(),
        ),
        "spam_risk_user_banned_from_posting" => rejected(
            "tiktok_banned",
            "TikTok does not let this account post at the moment".to_owned(),
        ),
        "spam_risk_too_many_pending_share" => rejected(
            "tiktok_pending",
            "this account has too many posts waiting on TikTok; try again later".to_owned(),
        ),
        "reached_active_user_cap" => Some(PublishError::RateLimited { retry_after: None }),
        _ => None,
    }
}

/// What an error answer of TikTok means.
async fn refusal(response: reqwest::Response, step: Step, what: &str) -> PublishError {
    let status = response.status();
    let headers = response.headers().clone();
    let text = error_text(response).await;
    let envelope: Envelope<Value> = serde_json::from_str(&text).unwrap_or_default();
    let error = envelope.error.unwrap_or_default();
    let message = excerpt(
        if error.message.is_empty() {
            &text
        } else {
            &error.message
        },
        300,
    );
    if let Some(plain) = plain(&error.code, &message) {
        return match plain {
            PublishError::RateLimited { .. } => PublishError::RateLimited {
                retry_after: retry_after(&headers, Utc::now()),
            },
            other => other,
        };
    }
    match status.as_u16() {
        401 => PublishError::Unauthorized {
            reason: format!("TikTok refused the token: {message}"),
        },
        429 => PublishError::RateLimited {
            retry_after: retry_after(&headers, Utc::now()),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        408 => PublishError::Transient {
            reason: format!("TikTok timed out waiting for the request: {message}"),
        },
        s if (400..500).contains(&s) => PublishError::Rejected {
            code: if error.code.is_empty() {
                format!("tiktok_{s}")
            } else {
                format!("tiktok_{}", error.code)
            },
            reason: format!("TikTok refused the {what}: {message}"),
        },
        _ if step == Step::After => PublishError::Unknown {
            reason: format!(
                "TikTok answered {status} to the {what}; the post may be going out all the same"
            ),
        },
        _ => PublishError::Transient {
            reason: format!("TikTok answered {status} to the {what}"),
        },
    }
}

/// A 2xx answer's data, or what its `error` says (TikTok answers some refusals in the
/// envelope).
async fn data<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, PublishError> {
    let envelope: Envelope<Value> = crate::http::json_body(response, what)
        .await
        .map_err(|reason| PublishError::Transient { reason })?;
    if let Some(error) = envelope.error.filter(|e| !e.is_ok()) {
        return Err(
            plain(&error.code, &error.message).unwrap_or(PublishError::Rejected {
                code: format!("tiktok_{}", error.code),
                reason: format!(
                    "TikTok refused the {what}: {}",
                    excerpt(&error.message, 300)
                ),
            }),
        );
    }
    let data = envelope.data.ok_or_else(|| PublishError::Transient {
        reason: format!("TikTok's answer to the {what} had no data"),
    })?;
    serde_json::from_value(data).map_err(|e| PublishError::Transient {
        reason: format!("TikTok's answer to the {what}: unexpected data: {e}"),
    })
}

/// The upload URL's `Content-Type` for a video.
fn video_type(mime: &str) -> &str {
    match mime {
        "video/quicktime" | "video/webm" => mime,
        _ => "video/mp4",
    }
}

impl Tiktok {
    /// Whether the video may go to `upload_url`: the API's own origin, or https on TikTok's
    /// API domain.
    pub(super) fn upload_allowed(&self, upload_url: &str) -> bool {
        let (Ok(url), Ok(api)) = (
            url::Url::parse(upload_url),
            url::Url::parse(&self.config.api_url),
        ) else {
            return false;
        };
        let same_origin = url.scheme() == api.scheme()
            && url.host_str() == api.host_str()
            && url.port_or_known_default() == api.port_or_known_default();
        let tiktok = url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h == "tiktokapis.com" || h.ends_with(".tiktokapis.com"));
        same_origin || tiktok
    }

    /// `POST {path}` with a JSON body and the token, TikTok's way.
    async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.http
            .post(self.api(path))
            .bearer_auth(token)
            .header("content-type", "application/json; charset=UTF-8")
            .body(bytes)
            .send()
            .await
    }

    /// What TikTok lets this creator post now.
    pub(super) async fn creator(
        &self,
        token: &multivio_domain::Secret,
    ) -> Result<Creator, PublishError> {
        let response = self
            .post_json(
                "/v2/post/publish/creator_info/query/",
                token.expose(),
                &json!({}),
            )
            .await
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Before, "creator query").await);
        }
        data(response, "creator query").await
    }

    /// Uploads the video to `upload_url` in TikTok's chunks; asks `guard` before the last.
    async fn upload(
        &self,
        upload_url: &str,
        video: &Attachment,
        chunking: (usize, usize),
        guard: &dyn SendGuard,
    ) -> Result<(), PublishError> {
        let bytes = &video.bytes;
        let total = usize::try_from(bytes.len()).unwrap_or(usize::MAX);
        let (chunk, count) = chunking;
        for index in 0..count {
            let first = index * chunk;
            let last = if index + 1 == count {
                total - 1
            } else {
                first + chunk - 1
            };
            let final_chunk = index + 1 == count;
            // One chunk in memory at a time, read from storage before anything is sent with it.
            let body = bytes
                .range(first as u64..last as u64 + 1)
                .await
                .map_err(|e| crate::http::media_unreadable(&e))?;
            if final_chunk {
                guard
                    .before_send()
                    .await
                    .map_err(|reason| PublishError::NotSent { reason })?;
            }
            let response = self
                .upload_http
                .put(upload_url)
                .header("content-type", video_type(&video.file.file_type))
                .header("content-range", format!("bytes {first}-{last}/{total}"))
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    let e = e.without_url();
                    if final_chunk {
                        publish_transport_error(&e)
                    } else {
                        transient(&e)
                    }
                })?;
            if !response.status().is_success() {
                let step = if final_chunk {
                    Step::After
                } else {
                    Step::Before
                };
                return Err(refusal(response, step, "video upload").await);
            }
        }
        Ok(())
    }

    /// Fetches the post's status until TikTok has published it; answers its public id, if
    /// TikTok gives one (a private post has none).
    ///
    /// The whole video is with TikTok by now, so the post may go out whatever the status
    /// reads answer: a read over TikTok's limit waits and reads again, a read that did not get
    /// through (network, 5xx) is made again, within the same number of reads, and any other
    /// refusal (a token refused, a 4xx) is an unknown outcome — never a plain failure or retry,
    /// which would upload the video a second time.
    async fn published(
        &self,
        token: &str,
        publish_id: &str,
    ) -> Result<Option<String>, PublishError> {
        let unknown = |e: PublishError| PublishError::Unknown {
            reason: format!(
                "TikTok's status could not be read ({e}); the post may be going out: check the \
                 account before posting it again"
            ),
        };
        let mut wait = self.polling.interval;
        // Why the last read did not get through, if it did not.
        let mut unread: Option<String> = None;
        for poll in 0..self.polling.max_polls {
            if poll > 0 {
                tokio::time::sleep(wait).await;
                wait = self.polling.interval;
            }
            let response = match self
                .post_json(
                    "/v2/post/publish/status/fetch/",
                    token,
                    &json!({ "publish_id": publish_id }),
                )
                .await
            {
                Ok(response) if response.status().is_server_error() => {
                    unread = Some(format!("TikTok answered {}", response.status()));
                    continue;
                }
                Ok(response) => response,
                Err(e) => {
                    unread = Some(e.without_url().to_string());
                    continue;
                }
            };
            unread = None;
            let read = if response.status().is_success() {
                data::<Status>(response, "status query").await
            } else {
                Err(refusal(response, Step::After, "status query").await)
            };
            let status = match read {
                Ok(status) => status,
                Err(PublishError::RateLimited { retry_after }) => {
                    // TikTok allows 30 status reads a minute per token: wait for the reset it
                    // names (a minute at most), or six intervals (a minute at the default),
                    // and read again, within the same number of reads.
                    wait = retry_after
                        .and_then(|d| d.to_std().ok())
                        .unwrap_or(self.polling.interval.saturating_mul(6))
                        .min(RATE_LIMIT_WAIT)
                        .max(self.polling.interval);
                    continue;
                }
                Err(e @ PublishError::Unknown { .. }) => return Err(e),
                Err(e) => return Err(unknown(e)),
            };
            match status.status.as_str() {
                "PUBLISH_COMPLETE" => {
                    return Ok(status
                        .publicaly_available_post_id
                        .unwrap_or_default()
                        .first()
                        .map(|id| match id {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }));
                }
                "FAILED" => {
                    let why = status
                        .fail_reason
                        .unwrap_or_else(|| "no reason given".to_owned());
                    return Err(PublishError::Rejected {
                        code: format!("tiktok_{why}"),
                        reason: format!("TikTok did not publish the video: {}", fail_reason(&why)),
                    });
                }
                _ => {}
            }
        }
        Err(PublishError::Unknown {
            reason: match unread {
                Some(why) => format!(
                    "TikTok's status could not be read ({why}); the post may be going out: check \
                     the account before posting it again"
                ),
                None => "TikTok is still processing the video; check the account before posting \
                         it again"
                    .to_owned(),
            },
        })
    }
}

/// A `fail_reason` in plain words.
fn fail_reason(why: &str) -> String {
    match why {
        "file_format_check_failed" => {
            "its format is not one TikTok takes (MP4, MOV or WebM)".to_owned()
        }
        "duration_check_failed" => "it is longer or shorter than TikTok allows".to_owned(),
        "frame_rate_check_failed" => "its frame rate is outside 23–60 frames a second".to_owned(),
        "picture_size_check_failed" => "its picture size is outside 360–4096 pixels".to_owned(),
        "spam_risk_too_many_posts" => "this account's posts for today are used up".to_owned(),
        "spam_risk_user_banned_from_posting" => "the account may not post at the moment".to_owned(),
        "spam_risk_text" | "spam_risk" => "TikTok judged it spam".to_owned(),
        "publish_cancelled" => "the post was cancelled".to_owned(),
        "auth_removed" => "the account removed Multivio's access; connect it again".to_owned(),
        other => other.replace('_', " "),
    }
}

#[async_trait]
impl Publisher for Tiktok {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let video = match request.media.as_slice() {
            [one] if one.file.is_video() && !one.bytes.is_empty() => one,
            _ => {
                return Err(PublishError::Rejected {
                    code: "tiktok_video_required".to_owned(),
                    reason: "TikTok requires a video".to_owned(),
                });
            }
        };
        let options =
            TiktokOptions::parse(&request.options).map_err(|errors| PublishError::Rejected {
                code: "invalid_options".to_owned(),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let token = &request.credentials.access_token;
        // Before every post: what TikTok lets this creator do now.
        let creator = self.creator(token).await?;
        let offered: Vec<TiktokPrivacy> = creator
            .privacy_level_options
            .iter()
            .filter_map(|p| TiktokPrivacy::from_name(p))
            .collect();
        if !offered.contains(&options.privacy_level) {
            if offered == [TiktokPrivacy::SelfOnly] {
                return Err(PublishError::Rejected {
                    code: "tiktok_private_only".to_owned(),
                    reason: format!(
                        "{PRIVATE_ONLY}: choose SELF_ONLY (platform_content.tiktok.privacy_level), \
                         or have the app audited by TikTok"
                    ),
                });
            }
            return Err(PublishError::Rejected {
                code: "tiktok_privacy".to_owned(),
                reason: format!(
                    "TikTok does not let this account post to {} ({}); it offers: {}",
                    options.privacy_level.describe(),
                    options.privacy_level.as_str(),
                    offered
                        .iter()
                        .map(|p| format!("{} ({})", p.describe(), p.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let (Some(max), Some(secs)) = (
            creator.max_video_post_duration_sec,
            video.file.duration_secs,
        ) && secs.is_finite()
            && secs > max
        {
            return Err(PublishError::Rejected {
                code: "tiktok_video_too_long".to_owned(),
                reason: format!(
                    "TikTok lets this account post videos of up to {max:.0} seconds; this one \
                     lasts {secs:.0}"
                ),
            });
        }
        let size = usize::try_from(video.bytes.len()).unwrap_or(usize::MAX);
        let (chunk, count) = self.chunking(size);
        let mut post_info = json!({
            "privacy_level": options.privacy_level.as_str(),
            "disable_comment": options.disable_comment || creator.comment_disabled,
            "disable_duet": options.disable_duet || creator.duet_disabled,
            "disable_stitch": options.disable_stitch || creator.stitch_disabled,
            "brand_content_toggle": false,
            "brand_organic_toggle": false,
        });
        if !request.text.trim().is_empty() {
            post_info["title"] = json!(request.text);
        }
        let response = self
            .post_json(
                "/v2/post/publish/video/init/",
                token.expose(),
                &json!({
                    "post_info": post_info,
                    "source_info": {
                        "source": "FILE_UPLOAD",
                        "video_size": size,
                        "chunk_size": chunk,
                        "total_chunk_count": count,
                    },
                }),
            )
            .await
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Before, "post").await);
        }
        let init: Initialized = data(response, "post").await?;
        if !self.upload_allowed(&init.upload_url) {
            return Err(PublishError::Transient {
                reason: "TikTok named an upload address outside its API".to_owned(),
            });
        }
        self.upload(&init.upload_url, video, (chunk, count), guard)
            .await?;
        let public_id = self.published(token.expose(), &init.publish_id).await?;
        let username = request
            .connection
            .metadata_str("username")
            .map(str::to_owned)
            .or(creator.creator_username);
        Ok(match public_id {
            Some(id) => PublishedPost {
                url: username.map(|u| format!("https://www.tiktok.com/@{u}/video/{id}")),
                platform_post_id: id,
                reference: None,
            },
            // A private post has no public id: TikTok's publish id names it.
            None => PublishedPost {
                platform_post_id: init.publish_id,
                url: None,
                reference: None,
            },
        })
    }

    /// TikTok has no idempotency key: a post whose last chunk may have arrived is never
    /// re-sent blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }
}

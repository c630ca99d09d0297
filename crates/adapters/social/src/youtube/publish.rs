//! Publishing to YouTube: a resumable upload of the post's video.
//!
//! Starting the session and sending every chunk but the last create nothing: a failure there
//! is transient (the next attempt starts a new session). The last chunk is what creates the
//! video, so the [`SendGuard`] is asked right before it is first sent. An interruption —
//! a server error, a connection lost mid-chunk — is not a failure: Google is asked what it
//! holds (`PUT` with `Content-Range: bytes */<total>`), and the upload resumes from the byte
//! after the `Range` it acknowledged, or is found complete. Only when YouTube cannot be asked
//! after the last chunk left is the outcome unknown. YouTube has no idempotency key and its
//! search costs quota, so such a send is reviewed by a person ([`Publisher::dedup_window`] is
//! `None`).

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::post::options::YoutubeOptions;
use multivio_ports::media::{Bytes, MediaBytes};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;
use serde_json::json;

use super::{GoogleError, Youtube};
use crate::http::{error_text, excerpt, retry_after};

/// Interruptions of one upload resumed at most before giving up (for this attempt).
const MAX_INTERRUPTIONS: u32 = 8;

/// The video resource YouTube answers when the upload completes.
#[derive(Debug, Deserialize)]
struct Video {
    id: String,
    #[serde(default)]
    status: Option<VideoStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VideoStatus {
    #[serde(default)]
    upload_status: Option<String>,
    #[serde(default)]
    rejection_reason: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
}

/// What one `PUT` to the session (a chunk, or a status query) came to.
#[derive(Debug)]
enum Progress {
    /// The upload is complete: the video.
    Done(Video),
    /// Google holds the bytes before this offset; send from there.
    Incomplete(usize),
    /// The request was cut short (a server error, a lost connection): ask where it stands.
    Interrupted(String),
}

/// What an error answer of YouTube means (`what`: the step, for the reason).
async fn refusal(response: reqwest::Response, what: &str) -> PublishError {
    let status = response.status();
    let headers = response.headers().clone();
    let text = error_text(response).await;
    let error = GoogleError::parse(&text);
    let message = excerpt(error.message(), 300);
    match (status.as_u16(), error.reason()) {
        (401, Some("youtubeSignupRequired")) => PublishError::Rejected {
            code: "youtube_no_channel".to_owned(),
            reason: "this Google account has no YouTube channel; create one, then connect again"
                .to_owned(),
        },
        (401, _) => PublishError::Unauthorized {
            reason: format!("Google refused the token: {message}"),
        },
        (429, _)
        | (
            403,
            Some(
                "quotaExceeded"
                | "dailyLimitExceeded"
                | "rateLimitExceeded"
                | "userRateLimitExceeded",
            ),
        ) => PublishError::RateLimited {
            retry_after: retry_after(&headers, Utc::now()),
        },
        (_, Some("uploadLimitExceeded")) => PublishError::Rejected {
            code: "youtube_upload_limit".to_owned(),
            reason: "YouTube's limit on the videos this channel may upload is reached; try again \
                     tomorrow"
                .to_owned(),
        },
        (403, _) => PublishError::Rejected {
            code: "youtube_permission".to_owned(),
            reason: format!(
                "YouTube did not let this account upload ({message}); connect it again and allow \
                 uploads"
            ),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        (408, _) => PublishError::Transient {
            reason: format!("YouTube timed out waiting for the request: {message}"),
        },
        (s, _) if (400..500).contains(&s) => PublishError::Rejected {
            code: error
                .reason()
                .map_or_else(|| format!("youtube_{s}"), |r| format!("youtube_{r}")),
            reason: format!("YouTube refused the {what}: {message}"),
        },
        _ => PublishError::Transient {
            reason: format!("YouTube answered {status} to the {what}"),
        },
    }
}

/// The next offset a `308` names: the byte after its `Range: bytes=0-<last>` (0 without one).
fn next_offset(headers: &reqwest::header::HeaderMap) -> Option<usize> {
    let Some(range) = headers.get("range") else {
        return Some(0);
    };
    let last = range
        .to_str()
        .ok()?
        .trim()
        .strip_prefix("bytes=0-")?
        .parse::<usize>()
        .ok()?;
    last.checked_add(1)
}

impl Youtube {
    /// Whether the upload session Google named may be sent the bytes (with the token): the
    /// configured API's origin, or https on Google's API domain.
    pub(super) fn session_allowed(&self, session: &str) -> bool {
        let (Ok(url), Ok(api)) = (
            url::Url::parse(session),
            url::Url::parse(&self.config.api_url),
        ) else {
            return false;
        };
        let same_origin = url.scheme() == api.scheme()
            && url.host_str() == api.host_str()
            && url.port_or_known_default() == api.port_or_known_default();
        let google = url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h == "googleapis.com" || h.ends_with(".googleapis.com"));
        same_origin || google
    }

    /// Starts the session: the video's metadata; answers the session URL.
    async fn start(
        &self,
        request: &PublishRequest,
        video: &Attachment,
    ) -> Result<String, PublishError> {
        let options =
            YoutubeOptions::parse(&request.options).map_err(|errors| PublishError::Rejected {
                code: "invalid_options".to_owned(),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let mut snippet = json!({ "title": options.title_or(&request.name) });
        if !request.text.trim().is_empty() {
            snippet["description"] = json!(request.text);
        }
        let resource = json!({
            "snippet": snippet,
            "status": {
                "privacyStatus": options.privacy_status.as_str(),
                "selfDeclaredMadeForKids": options.made_for_kids,
            },
        });
        let body = serde_json::to_vec(&resource).map_err(|e| PublishError::Transient {
            reason: e.to_string(),
        })?;
        let response = self
            .http
            .post(self.api("/upload/youtube/v3/videos"))
            .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
            .bearer_auth(request.credentials.access_token.expose())
            .header("content-type", "application/json; charset=UTF-8")
            .header("x-upload-content-length", video.bytes.len().to_string())
            .header("x-upload-content-type", video.file.file_type.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| crate::http::transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, "upload").await);
        }
        let session = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| PublishError::Transient {
                reason: "YouTube started no upload session".to_owned(),
            })?;
        if !self.session_allowed(&session) {
            return Err(PublishError::Transient {
                reason: "YouTube named an upload address outside Google's APIs".to_owned(),
            });
        }
        Ok(session)
    }

    /// Reads what a `PUT` to the session answered.
    async fn progress(
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Progress, PublishError> {
        let response = match response {
            Ok(r) => r,
            // Never the URL: the session is a capability.
            Err(e) => return Ok(Progress::Interrupted(e.without_url().to_string())),
        };
        let status = response.status();
        match status.as_u16() {
            200 | 201 => {
                let video: Video = crate::http::json_body(response, "YouTube video")
                    .await
                    // Complete, but its id unreadable: the video exists all the same.
                    .map_err(|reason| PublishError::Unknown { reason })?;
                Ok(Progress::Done(video))
            }
            308 => next_offset(response.headers())
                .map(Progress::Incomplete)
                .ok_or_else(|| PublishError::Transient {
                    reason: "YouTube answered an unreadable Range".to_owned(),
                }),
            500 | 502 | 503 | 504 => {
                Ok(Progress::Interrupted(format!("YouTube answered {status}")))
            }
            // The session expired (Google's resumable uploads answer 404, or 410): the upload
            // starts over in a new session on the next attempt — unless its last chunk has
            // left, which the caller settles as unknown.
            404 | 410 => Err(PublishError::Transient {
                reason: format!(
                    "YouTube's upload session has expired ({status}); the upload starts again"
                ),
            }),
            _ => Err(refusal(response, "upload").await),
        }
    }

    /// Sends `bytes[offset..end]` of `total`.
    async fn put_chunk(
        &self,
        session: &str,
        request: &PublishRequest,
        chunk: Bytes,
        offset: usize,
        total: usize,
    ) -> Result<Progress, PublishError> {
        let end = offset + chunk.len();
        let response = self
            .upload_http
            .put(session)
            .bearer_auth(request.credentials.access_token.expose())
            .header(
                "content-range",
                format!("bytes {offset}-{}/{total}", end - 1),
            )
            .body(chunk)
            .send()
            .await;
        Self::progress(response).await
    }

    /// Asks where an interrupted upload stands.
    async fn query(
        &self,
        session: &str,
        request: &PublishRequest,
        total: usize,
    ) -> Result<Progress, PublishError> {
        let response = self
            .http
            .put(session)
            .bearer_auth(request.credentials.access_token.expose())
            .header("content-range", format!("bytes */{total}"))
            .header("content-length", "0")
            .send()
            .await;
        Self::progress(response).await
    }

    /// Uploads every byte, resuming after interruptions; asks `guard` right before the last
    /// chunk first leaves. Answers the video.
    async fn upload(
        &self,
        session: &str,
        request: &PublishRequest,
        bytes: &MediaBytes,
        guard: &dyn SendGuard,
    ) -> Result<Video, PublishError> {
        let total = usize::try_from(bytes.len()).unwrap_or(usize::MAX);
        let mut offset = 0usize;
        let mut interruptions = 0u32;
        // Chunks after which YouTube held no byte more than before (a `308` whose `Range`
        // stands still or goes back): counted like interruptions, so an upload that never
        // advances ends rather than sending the same bytes for ever.
        let mut stalls = 0u32;
        let mut guarded = false;
        // What to do after the last chunk may have created the video: never a plain failure.
        let settle = |guarded: bool, e: PublishError| match e {
            PublishError::Transient { reason } if guarded => PublishError::Unknown {
                reason: format!("{reason}; the video may have been created"),
            },
            other => other,
        };
        loop {
            let end = offset.saturating_add(self.chunk).min(total);
            // One chunk in memory at a time, read from storage before anything is sent with it.
            let chunk = bytes
                .range(offset as u64..end as u64)
                .await
                .map_err(|e| settle(guarded, crate::http::media_unreadable(&e)))?;
            if end == total && !guarded {
                guard
                    .before_send()
                    .await
                    .map_err(|reason| PublishError::NotSent { reason })?;
                guarded = true;
            }
            let mut progress = self
                .put_chunk(session, request, chunk, offset, total)
                .await
                .map_err(|e| settle(guarded, e))?;
            let next = loop {
                match progress {
                    Progress::Done(video) => return Ok(video),
                    Progress::Incomplete(next) => break next,
                    Progress::Interrupted(why) => {
                        interruptions += 1;
                        if interruptions > MAX_INTERRUPTIONS {
                            return Err(settle(
                                guarded,
                                PublishError::Transient {
                                    reason: format!("YouTube's upload kept failing ({why})"),
                                },
                            ));
                        }
                        tracing::info!(post = %request.post_id, offset, interruptions, why = %why, "YouTube upload interrupted: asking where it stands");
                        let pause = self
                            .resume_delay
                            .saturating_mul(2u32.saturating_pow(interruptions - 1))
                            .min(std::time::Duration::from_secs(30));
                        tokio::time::sleep(pause).await;
                        // Once the last chunk has left, YouTube may hold every byte and have
                        // created the video: a status query it refuses (a token expired during a
                        // long upload, a quota) leaves the outcome unknown — a retry would upload
                        // the video again in a new session.
                        progress =
                            self.query(session, request, total)
                                .await
                                .map_err(|e| match e {
                                    e @ PublishError::Unknown { .. } => e,
                                    e if guarded => PublishError::Unknown {
                                        reason: format!(
                                            "YouTube's upload could not be checked after its last \
                                         chunk ({e}); the video may have been created"
                                        ),
                                    },
                                    e => e,
                                })?;
                    }
                }
            };
            if next >= total {
                return Err(settle(
                    guarded,
                    PublishError::Transient {
                        reason: "YouTube holds every byte but did not finish the video".to_owned(),
                    },
                ));
            }
            if next <= offset {
                stalls += 1;
                if stalls > MAX_INTERRUPTIONS {
                    return Err(settle(
                        guarded,
                        PublishError::Transient {
                            reason: format!(
                                "YouTube's upload made no progress (it holds {next} of {total} \
                                 bytes after {stalls} tries)"
                            ),
                        },
                    ));
                }
            }
            offset = next;
        }
    }
}

#[async_trait]
impl Publisher for Youtube {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let video = match request.media.as_slice() {
            [one] if one.file.is_video() => one,
            _ => {
                return Err(PublishError::Rejected {
                    code: "youtube_video_required".to_owned(),
                    reason: "YouTube requires a video (exactly one)".to_owned(),
                });
            }
        };
        if video.bytes.is_empty() {
            return Err(PublishError::Rejected {
                code: "youtube_video_required".to_owned(),
                reason: "the video file is empty".to_owned(),
            });
        }
        let session = self.start(request, video).await?;
        let uploaded = self.upload(&session, request, &video.bytes, guard).await?;
        if let Some(status) = &uploaded.status {
            match status.upload_status.as_deref() {
                Some("rejected") => {
                    let why = status
                        .rejection_reason
                        .as_deref()
                        .unwrap_or("no reason given");
                    return Err(PublishError::Rejected {
                        code: if why == "duplicate" {
                            "duplicate".to_owned()
                        } else {
                            format!("youtube_rejected_{why}")
                        },
                        reason: format!("YouTube rejected the video: {why}"),
                    });
                }
                Some("failed") => {
                    let why = status
                        .failure_reason
                        .as_deref()
                        .unwrap_or("no reason given");
                    return Err(PublishError::Rejected {
                        code: "youtube_processing_failed".to_owned(),
                        reason: format!("YouTube could not process the video: {why}"),
                    });
                }
                _ => {}
            }
        }
        if uploaded.id.is_empty() {
            return Err(PublishError::Unknown {
                reason: "YouTube finished the upload but named no video".to_owned(),
            });
        }
        Ok(PublishedPost {
            url: Some(format!("https://www.youtube.com/watch?v={}", uploaded.id)),
            platform_post_id: uploaded.id,
            reference: None,
        })
    }

    /// YouTube has no idempotency key: an upload whose last chunk may have created the video
    /// is never re-sent blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }
}

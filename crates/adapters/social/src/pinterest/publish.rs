//! Pinning: an image by its public URL, or a video uploaded and processed first, to the board
//! the post names.
//!
//! Registering and uploading a video creates no pin: a failure there is transient. `POST
//! /v5/pins` is the send: the [`SendGuard`] is asked right before it, and a server error or a
//! lost answer leaves the outcome unknown; Pinterest keeps no idempotency key, so such a send is
//! reviewed by a person ([`Publisher::dedup_window`] is `None`).

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::post::options::PinterestOptions;
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Pinterest};
use crate::http::{error_text, excerpt, publish_transport_error, retry_after, transient};

/// Pinterest's longest alt text.
const MAX_ALT_TEXT: usize = 500;

#[derive(Debug, Deserialize)]
struct Registered {
    media_id: String,
    upload_url: String,
    #[serde(default)]
    upload_parameters: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct MediaStatus {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Pin {
    id: String,
}

/// Which call an error answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Video,
    Pin,
}

/// What an error answer of Pinterest means.
async fn refusal(response: reqwest::Response, step: Step, board: &str) -> PublishError {
    let status = response.status();
    let headers = response.headers().clone();
    let text = error_text(response).await;
    let error = ApiError::parse(&text);
    let message = excerpt(error.message(), 300);
    let what = match step {
        Step::Video => "video upload",
        Step::Pin => "pin",
    };
    match status.as_u16() {
        401 => PublishError::Unauthorized {
            reason: format!("Pinterest refused the token: {message}"),
        },
        429 => PublishError::RateLimited {
            retry_after: retry_after(&headers, Utc::now()),
        },
        403 => PublishError::Rejected {
            code: "pinterest_permission".to_owned(),
            reason: format!(
                "Pinterest did not let this account pin ({message}); connect it again and allow \
                 pinning"
            ),
        },
        404 if step == Step::Pin => PublishError::Rejected {
            code: "pinterest_board_not_found".to_owned(),
            reason: format!(
                "Pinterest has no board {board} on this account ({message}); choose another in \
                 platform_content.pinterest.board_id"
            ),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        408 => PublishError::Transient {
            reason: format!("Pinterest timed out waiting for the {what}: {message}"),
        },
        s if (400..500).contains(&s) => PublishError::Rejected {
            code: error
                .code
                .map_or_else(|| format!("pinterest_{s}"), |c| format!("pinterest_{c}")),
            reason: format!("Pinterest refused the {what}: {message}"),
        },
        _ if step == Step::Pin => PublishError::Unknown {
            reason: format!(
                "Pinterest answered {status} to the pin; it may have been created all the same"
            ),
        },
        _ => PublishError::Transient {
            reason: format!("Pinterest answered {status} to the {what}"),
        },
    }
}

/// The board a pin goes to: the one the post names, or the account's only board.
fn board(request: &PublishRequest, options: &PinterestOptions) -> Result<String, PublishError> {
    if let Some(board) = &options.board_id {
        return Ok(board.clone());
    }
    let boards: Vec<(&str, &str)> = request
        .connection
        .metadata
        .get("boards")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|b| {
                    Some((
                        b.get("id")?.as_str()?,
                        b.get("name").and_then(Value::as_str).unwrap_or(""),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    match boards.as_slice() {
        [(only, _)] => Ok((*only).to_owned()),
        [] => Err(PublishError::Rejected {
            code: "pinterest_board_required".to_owned(),
            reason: "choose the Pinterest board for this post \
                     (platform_content.pinterest.board_id); this account had no board when it \
                     was connected — create one, then connect it again"
                .to_owned(),
        }),
        several => Err(PublishError::Rejected {
            code: "pinterest_board_required".to_owned(),
            reason: format!(
                "choose the Pinterest board for this post (platform_content.pinterest.board_id): {}",
                several
                    .iter()
                    .take(10)
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

impl Pinterest {
    /// Whether a video's bytes may go to `upload_url`: the API's own origin, or https on
    /// Pinterest's storage (Amazon S3) or Pinterest's own domain.
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
        let storage = url.scheme() == "https"
            && url.host_str().is_some_and(|h| {
                ["amazonaws.com", "pinterest.com"]
                    .iter()
                    .any(|d| h == *d || h.ends_with(&format!(".{d}")))
            });
        same_origin || storage
    }

    /// Registers, uploads and waits for a video; answers its media id.
    async fn upload_video(
        &self,
        request: &PublishRequest,
        video: &Attachment,
    ) -> Result<String, PublishError> {
        let token = request.credentials.access_token.expose();
        let response = self
            .http
            .post(self.api("/v5/media"))
            .bearer_auth(token)
            .json(&json!({ "media_type": "video" }))
            .send()
            .await
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Video, "").await);
        }
        let registered: Registered = crate::http::json_body(response, "Pinterest media")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        if registered.media_id.is_empty()
            || !registered
                .media_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PublishError::Transient {
                reason: "Pinterest answered an unusable media id".to_owned(),
            });
        }
        if !self.upload_allowed(&registered.upload_url) {
            return Err(PublishError::Transient {
                reason: "Pinterest named an upload address Multivio will not send to".to_owned(),
            });
        }
        // The signed form's fields, as given, then the file (storage wants it last).
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &registered.upload_parameters {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            form = form.text(name.clone(), value);
        }
        // Streamed from media storage.
        let body = crate::http::media_body(&video.bytes).await?;
        let file = reqwest::multipart::Part::stream_with_length(body, video.bytes.len())
            .file_name("video")
            .mime_str(&video.file.file_type)
            .map_err(|e| transient(&e))?;
        let response = self
            .upload_http
            .post(&registered.upload_url)
            .multipart(form.part("file", file))
            .send()
            .await
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(PublishError::Transient {
                reason: format!(
                    "Pinterest's storage answered {} to the video upload",
                    response.status()
                ),
            });
        }
        for poll in 0..self.polling.max_polls {
            if poll > 0 {
                tokio::time::sleep(self.polling.interval).await;
            }
            let response = self
                .http
                .get(self.api(&format!("/v5/media/{}", registered.media_id)))
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| transient(&e.without_url()))?;
            if !response.status().is_success() {
                return Err(refusal(response, Step::Video, "").await);
            }
            let status: MediaStatus = crate::http::json_body(response, "Pinterest media status")
                .await
                .map_err(|reason| PublishError::Transient { reason })?;
            match status.status.as_deref() {
                Some("succeeded") => return Ok(registered.media_id),
                Some("failed") => {
                    return Err(PublishError::Rejected {
                        code: "pinterest_video_failed".to_owned(),
                        reason: "Pinterest could not process the video".to_owned(),
                    });
                }
                _ => {}
            }
        }
        Err(PublishError::Transient {
            reason: "Pinterest is still processing the video".to_owned(),
        })
    }
}

#[async_trait]
impl Publisher for Pinterest {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let options =
            PinterestOptions::parse(&request.options).map_err(|errors| PublishError::Rejected {
                code: "invalid_options".to_owned(),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let board = board(request, &options)?;
        let attachment = match request.media.as_slice() {
            [one] => one,
            _ => {
                return Err(PublishError::Rejected {
                    code: "pinterest_media_required".to_owned(),
                    reason: "Pinterest requires one image or video".to_owned(),
                });
            }
        };
        let media_source = if attachment.file.is_video() {
            let media_id = self.upload_video(request, attachment).await?;
            json!({
                "source_type": "video_id",
                "media_id": media_id,
                "cover_image_key_frame_time": 1,
            })
        } else {
            json!({
                "source_type": "image_url",
                "url": crate::meta::public_url("Pinterest", attachment)?,
            })
        };
        let mut pin = json!({ "board_id": board, "media_source": media_source });
        if !request.text.trim().is_empty() {
            pin["description"] = json!(request.text);
        }
        if let Some(title) = &options.title {
            pin["title"] = json!(title);
        }
        if let Some(link) = &options.link {
            pin["link"] = json!(link);
        }
        if let Some(alt) = &attachment.file.alt_text {
            pin["alt_text"] = json!(alt.as_str().chars().take(MAX_ALT_TEXT).collect::<String>());
        }
        // Everything before this is safe to redo; the pin is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let response = self
            .http
            .post(self.api("/v5/pins"))
            .bearer_auth(request.credentials.access_token.expose())
            .json(&pin)
            .send()
            .await
            .map_err(|e| publish_transport_error(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Pin, &board).await);
        }
        let created: Pin = crate::http::json_body(response, "Pinterest pin")
            .await
            .map_err(|reason| PublishError::Unknown { reason })?;
        Ok(PublishedPost {
            url: Some(format!("https://www.pinterest.com/pin/{}/", created.id)),
            platform_post_id: created.id,
            reference: None,
        })
    }

    /// Pinterest has no idempotency key: a pin whose send was interrupted is never re-sent
    /// blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }
}

//! Publishing one part of a thread: its media (`POST /api/v2/media`, polled while processed),
//! then the status (`POST /api/v1/statuses`) with the part's `Idempotency-Key`, replying to the
//! part before it.
//!
//! Retrying is safe: the instance keeps the key for an hour per account and answers a repeat
//! with the status it created the first time, so a send whose answer was lost (a timeout after
//! the instance stored the status) is simply sent again. Media uploaded by an attempt that
//! failed stay unattached on the instance, which removes them after a day.

use async_trait::async_trait;
use chrono::Utc;
use multivio_domain::Secret;
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher,
};
use reqwest::StatusCode;
use serde::Deserialize;

use super::instance::InstanceLimits;
use super::{InstanceError, Mastodon, plain_id};
use crate::http;

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

/// What was being done, for error texts and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Upload,
    Processing,
    Status { reply: bool },
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
            };
            PublishError::Rejected {
                code: code.into(),
                reason: format!("The Mastodon instance refused {what}: {text}"),
            }
        }
        s if s >= 500 => PublishError::Transient {
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
        let part = reqwest::multipart::Part::bytes(attachment.bytes.clone())
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

#[async_trait]
impl Publisher for Mastodon {
    async fn publish(&self, request: &PublishRequest) -> Result<PublishedPost, PublishError> {
        let connection = &request.connection;
        let instance = connection
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
            })?;
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

    fn idempotent(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;

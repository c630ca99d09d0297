//! Posting to LinkedIn: images through the Images API, then `POST /rest/posts`.
//!
//! An uploaded image is no post: its upload is safe to redo. The post is not: the
//! [`SendGuard`] is asked right before `POST /rest/posts`, and a server error or a lost answer
//! to it leaves the outcome unknown. LinkedIn keeps no idempotency key and reading a member's
//! posts needs a permission LinkedIn grants few apps, so such a send is left for a person to
//! review ([`Publisher::dedup_window`] is `None`, nothing is reconciled).

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::post::options::{LinkedinOptions, LinkedinVisibility};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Linkedin, little};
use crate::http::{error_text, excerpt, publish_transport_error, retry_after, transient};

/// Which call an error answer is for: what a server error means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// An image upload: nothing is posted yet.
    Image,
    /// `POST /rest/posts`: LinkedIn may have created the post before failing.
    Post,
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Step::Image => "image upload",
            Step::Post => "post",
        }
    }
}

/// `POST /rest/images?action=initializeUpload`'s answer.
#[derive(Debug, Deserialize)]
struct Initialized {
    value: InitializedValue,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializedValue {
    upload_url: String,
    image: String,
}

/// What an error answer of LinkedIn means for the post.
async fn refusal(response: reqwest::Response, step: Step, version: &str) -> PublishError {
    let status = response.status();
    let headers = response.headers().clone();
    let text = error_text(response).await;
    let error = ApiError::parse(&text);
    let message = excerpt(error.message(), 300);
    let what = step.what();
    match status.as_u16() {
        401 => PublishError::Unauthorized {
            reason: format!("LinkedIn refused the token: {message}"),
        },
        429 => PublishError::RateLimited {
            retry_after: retry_after(&headers, Utc::now()),
        },
        403 => PublishError::Rejected {
            code: "linkedin_permission".to_owned(),
            reason: format!(
                "LinkedIn did not let this account post ({message}); connect it again and \
                 allow posting — for a Page, as one of its administrators"
            ),
        },
        422 if message.to_ascii_lowercase().contains("duplicate") => PublishError::Rejected {
            code: "duplicate".to_owned(),
            reason: "LinkedIn refused a duplicate of a recent post from this account".to_owned(),
        },
        426 => PublishError::Rejected {
            code: "linkedin_version".to_owned(),
            reason: format!(
                "LinkedIn no longer serves API version {version} ({message}); the operator \
                 sets a current one in MULTIVIO_LINKEDIN_VERSION"
            ),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        408 => PublishError::Transient {
            reason: format!("LinkedIn timed out waiting for the request: {message}"),
        },
        s if (400..500).contains(&s) => PublishError::Rejected {
            code: error
                .service_error_code
                .map_or_else(|| format!("linkedin_{s}"), |c| format!("linkedin_{c}")),
            reason: format!("LinkedIn refused the {what}: {message}"),
        },
        _ if step == Step::Post => PublishError::Unknown {
            reason: format!(
                "LinkedIn answered {status} to the post; it may have been created all the same"
            ),
        },
        _ => PublishError::Transient {
            reason: format!("LinkedIn answered {status} to the {what}"),
        },
    }
}

/// The URN a post goes out as: a member's or an organization's, from the connection.
fn author(request: &PublishRequest) -> Result<String, PublishError> {
    let urn = request
        .connection
        .metadata_str("urn")
        .unwrap_or(request.connection.provider_account_id.as_str());
    let valid = ["urn:li:person:", "urn:li:organization:"]
        .iter()
        .any(|p| urn.strip_prefix(p).is_some_and(|id| !id.is_empty()));
    if valid {
        Ok(urn.to_owned())
    } else {
        Err(PublishError::Rejected {
            code: "invalid_account".to_owned(),
            reason: "this LinkedIn connection names no member or organization; connect it again"
                .to_owned(),
        })
    }
}

impl Linkedin {
    /// Whether image bytes may go (with the member's token) to `upload_url`: the API's own
    /// origin, or https on LinkedIn's domain.
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
        let linkedin = url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h == "linkedin.com" || h.ends_with(".linkedin.com"));
        same_origin || linkedin
    }

    /// Uploads one image (initialize → PUT) owned by `owner`; answers its `urn:li:image:…`.
    async fn upload_image(
        &self,
        request: &PublishRequest,
        owner: &str,
        attachment: &Attachment,
    ) -> Result<String, PublishError> {
        let token = &request.credentials.access_token;
        let response = self
            .rest(
                reqwest::Method::POST,
                "/rest/images?action=initializeUpload",
                token,
            )
            .json(&json!({ "initializeUploadRequest": { "owner": owner } }))
            .send()
            .await
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Image, &self.config.version).await);
        }
        let init: Initialized = crate::http::json_body(response, "LinkedIn initializeUpload")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        if !init.value.image.starts_with("urn:li:image:") {
            return Err(PublishError::Transient {
                reason: "LinkedIn answered an unusable image URN".to_owned(),
            });
        }
        if !self.upload_allowed(&init.value.upload_url) {
            return Err(PublishError::Transient {
                reason: "LinkedIn answered an upload address outside LinkedIn".to_owned(),
            });
        }
        // Images only (at most 32 MiB uploaded): read whole.
        let bytes = attachment
            .bytes
            .all()
            .await
            .map_err(|e| crate::http::media_unreadable(&e))?;
        let response = self
            .http
            .put(&init.value.upload_url)
            .bearer_auth(token.expose())
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            // The upload address is a capability: never in a reason.
            .map_err(|e| transient(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Image, &self.config.version).await);
        }
        Ok(init.value.image)
    }
}

#[async_trait]
impl Publisher for Linkedin {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let author = author(request)?;
        let options =
            LinkedinOptions::parse(&request.options).map_err(|errors| PublishError::Rejected {
                code: "invalid_options".to_owned(),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        if options.visibility == LinkedinVisibility::Connections
            && author.starts_with("urn:li:organization:")
        {
            return Err(PublishError::Rejected {
                code: "linkedin_visibility".to_owned(),
                reason: "a LinkedIn Page posts publicly: CONNECTIONS is for a member's posts"
                    .to_owned(),
            });
        }
        if request.media.iter().any(|a| !a.file.is_image()) {
            return Err(PublishError::Rejected {
                code: "linkedin_video".to_owned(),
                reason: "Multivio publishes text and images to LinkedIn, not videos yet; post \
                         the video on LinkedIn itself"
                    .to_owned(),
            });
        }
        let mut images: Vec<Value> = Vec::with_capacity(request.media.len());
        for attachment in &request.media {
            let urn = self.upload_image(request, &author, attachment).await?;
            let mut image = json!({ "id": urn });
            if let Some(alt) = &attachment.file.alt_text {
                image["altText"] = json!(alt.as_str());
            }
            images.push(image);
        }
        let mut body = json!({
            "author": author,
            "commentary": little::escape(&request.text),
            "visibility": options.visibility.as_str(),
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        match images.len() {
            0 => {}
            1 => body["content"] = json!({ "media": images[0] }),
            _ => body["content"] = json!({ "multiImage": { "images": images } }),
        }
        // Everything before this is safe to redo; the post is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let response = self
            .rest(
                reqwest::Method::POST,
                "/rest/posts",
                &request.credentials.access_token,
            )
            .json(&body)
            .send()
            .await
            .map_err(|e| publish_transport_error(&e.without_url()))?;
        if !response.status().is_success() {
            return Err(refusal(response, Step::Post, &self.config.version).await);
        }
        let id = response
            .headers()
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|id| id.starts_with("urn:li:"))
            .map(str::to_owned)
            .ok_or_else(|| PublishError::Unknown {
                reason: "LinkedIn accepted the post but named no x-restli-id".to_owned(),
            })?;
        Ok(PublishedPost {
            url: Some(format!("https://www.linkedin.com/feed/update/{id}/")),
            platform_post_id: id,
            reference: None,
        })
    }

    /// LinkedIn has no idempotency key: a send interrupted after it left is never re-sent
    /// blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }
}

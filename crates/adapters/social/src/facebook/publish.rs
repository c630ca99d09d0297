//! Posting to a Page: photos uploaded unpublished then attached to a feed post, a video on its
//! own, text and a link straight to the feed.
//!
//! An unpublished photo is no post: uploading it again is safe (the ones an attempt left behind
//! stay unpublished). The feed post or the video is the send: the [`SendGuard`] is asked right
//! before it, and a server error or a lost answer to it leaves the outcome unknown. Facebook has
//! no idempotency key ([`Publisher::dedup_window`] is `None`): such a send is looked for instead
//! ([`Publisher::reconcile`]) among the Page's published posts created from a little before the
//! send to a few minutes after it, matched by their whole text (a post without text is never
//! matched: nothing tells two of them apart).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_ports::platform::{PublishError, PublishRequest, PublishedPost, Publisher, SendGuard};
use serde::Deserialize;

use super::Facebook;
use crate::meta::{self, Api, GraphError, Step};

/// How far before the send a reconciliation looks (clocks differ).
const RECONCILE_SKEW: Duration = Duration::minutes(2);
/// How long after the send began a post it created may be dated.
const RECONCILE_AFTER: Duration = Duration::minutes(5);

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

/// A post of `/{page-id}/published_posts`.
#[derive(Debug, Deserialize)]
struct PagePost {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
}

/// Facebook's own codes: a photo or video it could not fetch from its URL.
fn special(e: &GraphError) -> Option<PublishError> {
    match e.code {
        Some(324 | 1_363_030 | 1_363_037) => Some(PublishError::Rejected {
            code: "facebook_media_unreachable".to_owned(),
            reason: format!(
                "Facebook could not fetch the file from Multivio's public address ({}); check \
                 that MULTIVIO_PUBLIC_URL is reachable from the internet",
                e.reason()
            ),
        }),
        _ => None,
    }
}

fn failure(step: Step) -> impl Fn(meta::Failure) -> PublishError {
    move |f| meta::publish_failure("Facebook", step, f, special)
}

/// The Page a connection is (its account id).
fn page_id(request: &PublishRequest) -> Result<&str, PublishError> {
    let id = request.connection.provider_account_id.as_str();
    if meta::plain_id(id) {
        Ok(id)
    } else {
        Err(PublishError::Rejected {
            code: "invalid_account".to_owned(),
            reason: "this Facebook connection has no usable Page id; connect the Page again"
                .to_owned(),
        })
    }
}

/// A post's public page: `{page}_{post}` ids at `/{page}/posts/{post}`.
fn post_url(page: &str, id: &str) -> String {
    match id.split_once('_') {
        Some((owner, post)) => format!("https://www.facebook.com/{owner}/posts/{post}"),
        None => format!("https://www.facebook.com/{page}/posts/{id}"),
    }
}

impl Facebook {
    fn api<'a>(&'a self, request: &'a PublishRequest) -> Api<'a> {
        self.api_at(&self.app.api_url, request)
    }

    /// The Graph API at `base` (the video host takes video uploads).
    fn api_at<'a>(&'a self, base: &'a str, request: &'a PublishRequest) -> Api<'a> {
        Api::new(
            &self.http,
            base,
            &self.version,
            &request.credentials.access_token,
            Some(&self.app.app_secret),
        )
    }
}

/// A created object's id, which must be a Graph id (else the send's outcome is told unknown by
/// the caller: it was created, and we cannot name it).
fn created_id(created: Created) -> Option<String> {
    meta::plain_id(&created.id).then_some(created.id)
}

#[async_trait]
impl Publisher for Facebook {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let page = page_id(request)?;
        let api = self.api(request);
        let video = request
            .media
            .iter()
            .find(|m| m.file.file_type.starts_with("video/"));
        if let Some(video) = video {
            if request.media.len() > 1 {
                return Err(PublishError::Rejected {
                    code: "facebook_video_alone".to_owned(),
                    reason: "Facebook takes a video on its own, without other media".to_owned(),
                });
            }
            let url = meta::public_url("Facebook", video)?;
            guard
                .before_send()
                .await
                .map_err(|reason| PublishError::NotSent { reason })?;
            let mut form = vec![("file_url", url.as_str())];
            if !request.text.is_empty() {
                form.push(("description", request.text.as_str()));
            }
            let created: Created = self
                .api_at(&self.app.video_url, request)
                .post(&format!("/{page}/videos"), &form)
                .await
                .map_err(failure(Step::Send))?;
            let id = created_id(created).ok_or_else(|| PublishError::Unknown {
                reason: "Facebook answered an unusable video id".to_owned(),
            })?;
            return Ok(PublishedPost {
                url: Some(format!("https://www.facebook.com/{page}/videos/{id}")),
                platform_post_id: id,
                reference: None,
            });
        }
        // Photos first, unpublished: safe to redo.
        let mut photos = Vec::with_capacity(request.media.len());
        for attachment in &request.media {
            let url = meta::public_url("Facebook", attachment)?;
            let created: Created = api
                .post(
                    &format!("/{page}/photos"),
                    &[("url", url.as_str()), ("published", "false")],
                )
                .await
                .map_err(failure(Step::Prepare))?;
            photos.push(created_id(created).ok_or_else(|| PublishError::Transient {
                reason: "Facebook answered an unusable photo id".to_owned(),
            })?);
        }
        let mut form: Vec<(String, String)> = Vec::new();
        if !request.text.is_empty() {
            form.push(("message".to_owned(), request.text.clone()));
        }
        if photos.is_empty()
            && let Some(link) = meta::first_link(&request.text)
        {
            form.push(("link".to_owned(), link.to_owned()));
        }
        for (i, id) in photos.iter().enumerate() {
            form.push((
                format!("attached_media[{i}]"),
                serde_json::json!({ "media_fbid": id }).to_string(),
            ));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Everything before this is safe to redo; the post is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let created: Created = api
            .post(&format!("/{page}/feed"), &form)
            .await
            .map_err(failure(Step::Send))?;
        let id = created_id(created).ok_or_else(|| PublishError::Unknown {
            reason: "Facebook answered an unusable post id".to_owned(),
        })?;
        Ok(PublishedPost {
            url: Some(post_url(page, &id)),
            platform_post_id: id,
            reference: None,
        })
    }

    /// Facebook has no idempotency keys: a send interrupted after it left is never re-sent
    /// blindly.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    /// Looks among the Page's posts published from two minutes before `sent_at` (one page of
    /// 100) for exactly one created within five minutes of it with the same text.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let page = page_id(request)?;
        let since = (sent_at - RECONCILE_SKEW).timestamp().to_string();
        let list: meta::ListPage<PagePost> = self
            .api(request)
            .get(
                &format!("/{page}/published_posts"),
                &[
                    ("fields", "id,message,created_time"),
                    ("since", since.as_str()),
                    ("limit", "100"),
                ],
            )
            .await
            .map_err(failure(Step::Read))?;
        let shown =
            |p: &PagePost| crate::matching::Shown::plain(p.message.as_deref().unwrap_or(""));
        let found: Vec<&PagePost> = list
            .data
            .iter()
            .filter(|p| {
                p.created_time
                    .as_deref()
                    .and_then(meta::parse_time)
                    .is_some_and(|at| {
                        sent_at - RECONCILE_SKEW <= at && at <= sent_at + RECONCILE_AFTER
                    })
                    && meta::plain_id(&p.id)
                    && crate::matching::same_post(&request.text, &shown(p), 0)
            })
            .collect();
        match found.as_slice() {
            [post] => {
                tracing::info!(post = %request.post_id, facebook_post = %post.id, "Facebook post found by reconciliation");
                Ok(Some(PublishedPost {
                    url: Some(post_url(page, &post.id)),
                    platform_post_id: post.id.clone(),
                    reference: None,
                }))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;

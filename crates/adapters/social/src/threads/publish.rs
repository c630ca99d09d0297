//! Publishing to Threads: the day's cap first, then containers, polled until ready, then
//! `threads_publish`.
//!
//! A container is no post: creating one again is safe (unpublished ones expire after a day).
//! `threads_publish` is the send: the [`SendGuard`] is asked right before it, and a server error
//! or a lost answer to it leaves the outcome unknown. Threads keeps no idempotency key
//! ([`Publisher::dedup_window`] is `None`): such a send is looked for
//! ([`Publisher::reconcile`]) among the account's posts (or replies, for a part after the
//! first) published from a little before the send to a few minutes after it, matched by text
//! (a post without text is never matched).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;

use super::Threads;
use crate::meta::{self, Api, Failure, GraphError, Quota, Step};

/// Pages of posts read at most (100 each) to find when the cap frees a slot.
const LIST_PAGES: usize = 5;
/// How far before the send a reconciliation looks.
const RECONCILE_SKEW: Duration = Duration::minutes(2);
/// The status fields of a container.
const STATUS: (&str, &str, &str) = ("status,error_message", "status", "error_message");

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Permalink {
    #[serde(default)]
    permalink: Option<String>,
}

/// Which cap a part counts against: posts, or replies (a part after the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Posts,
    Replies,
}

impl Cap {
    fn of(request: &PublishRequest) -> Cap {
        if request.reply_to.is_some() {
            Cap::Replies
        } else {
            Cap::Posts
        }
    }

    /// The limit's fields: (usage, config).
    fn fields(self) -> (&'static str, &'static str) {
        match self {
            Cap::Posts => ("quota_usage", "config"),
            Cap::Replies => ("reply_quota_usage", "reply_config"),
        }
    }

    /// The account's list it counts.
    fn edge(self) -> &'static str {
        match self {
            Cap::Posts => "threads",
            Cap::Replies => "replies",
        }
    }
}

/// Whether an error says the day's cap is reached.
fn cap_reached(e: &GraphError) -> bool {
    e.subcode == Some(2_207_042)
        || e.code == Some(9)
        || e.message.to_ascii_lowercase().contains("publishing limit")
}

/// Threads' own codes, in plain words.
fn special(e: &GraphError) -> Option<PublishError> {
    let text = e.message.as_str();
    if text.contains("THREADS_API__LINK_LIMIT_EXCEEDED") {
        return Some(PublishError::Rejected {
            code: "threads_too_many_links".to_owned(),
            reason: "Threads takes at most 5 links in a post".to_owned(),
        });
    }
    if e.code == Some(100) && text.contains("500") && text.to_ascii_lowercase().contains("text") {
        return Some(PublishError::Rejected {
            code: "threads_text_too_long".to_owned(),
            reason: "Threads takes at most 500 characters (an emoji counts as its UTF-8 bytes)"
                .to_owned(),
        });
    }
    None
}

fn failure(step: Step) -> impl Fn(Failure) -> PublishError {
    move |f| meta::publish_failure("Threads", step, f, special)
}

/// The Threads user a connection is.
fn threads_user(request: &PublishRequest) -> Result<&str, PublishError> {
    let id = request.connection.provider_account_id.as_str();
    if meta::plain_id(id) {
        Ok(id)
    } else {
        Err(PublishError::Rejected {
            code: "invalid_account".to_owned(),
            reason: "this Threads connection has no usable account id; connect it again".to_owned(),
        })
    }
}

fn is_video(attachment: &Attachment) -> bool {
    attachment.file.file_type.starts_with("video/")
}

impl Threads {
    fn api<'a>(&'a self, request: &'a PublishRequest) -> Api<'a> {
        Api::new(
            &self.http,
            &self.config.api_url,
            self.version,
            &request.credentials.access_token,
            None,
        )
    }

    async fn quota(
        &self,
        api: &Api<'_>,
        user: &str,
        cap: Cap,
    ) -> Result<Option<Quota>, PublishError> {
        let (usage, config) = cap.fields();
        let fields = format!("{usage},{config}");
        let limit: meta::ListPage<serde_json::Value> = api
            .get(
                &format!("/{user}/threads_publishing_limit"),
                &[("fields", fields.as_str())],
            )
            .await
            .map_err(failure(Step::Read))?;
        Ok(limit
            .data
            .first()
            .and_then(|entry| meta::quota_from(entry, usage, config)))
    }

    async fn deferral(&self, api: &Api<'_>, user: &str, cap: Cap, quota: &Quota) -> PublishError {
        let now = Utc::now();
        let posted = meta::recent_posts(
            api,
            &format!("/{user}/{}", cap.edge()),
            "id,timestamp",
            now - quota.duration,
            LIST_PAGES,
        )
        .await
        .map(|posts| {
            posts
                .iter()
                .filter_map(meta::Listed::at)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
        let at = meta::reset_at(quota, &posted, now);
        meta::deferral("Threads", quota, at, now)
    }

    /// Creates a container (`POST /{user}/threads`) and waits until it is ready.
    async fn container(
        &self,
        api: &Api<'_>,
        user: &str,
        form: &[(&str, &str)],
    ) -> Result<String, PublishError> {
        let created: Created = api
            .post(&format!("/{user}/threads"), form)
            .await
            .map_err(failure(Step::Prepare))?;
        if !meta::plain_id(&created.id) {
            return Err(PublishError::Transient {
                reason: "Threads answered an unusable container id".to_owned(),
            });
        }
        meta::wait_ready(api, "Threads", &created.id, STATUS, &self.polling).await?;
        Ok(created.id)
    }

    /// The fields of one media item's container (`IMAGE` with its alt text, or `VIDEO`).
    fn media_fields<'a>(attachment: &'a Attachment, url: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut form = if is_video(attachment) {
            vec![("media_type", "VIDEO"), ("video_url", url)]
        } else {
            vec![("media_type", "IMAGE"), ("image_url", url)]
        };
        if let Some(alt) = &attachment.file.alt_text {
            form.push(("alt_text", alt.as_str()));
        }
        form
    }

    /// The container of the whole part: text, one image or video, or a carousel.
    async fn post_container(
        &self,
        api: &Api<'_>,
        user: &str,
        request: &PublishRequest,
    ) -> Result<String, PublishError> {
        let reply = request.reply_to.as_ref().map(|r| r.parent.id.clone());
        if let Some(parent) = &reply
            && !meta::plain_id(parent)
        {
            return Err(PublishError::Rejected {
                code: "threads_reply_target".to_owned(),
                reason: "the part this one replies to has no usable Threads id".to_owned(),
            });
        }
        let mut common: Vec<(&str, &str)> = Vec::new();
        if !request.text.is_empty() {
            common.push(("text", request.text.as_str()));
        }
        if let Some(parent) = &reply {
            common.push(("reply_to_id", parent.as_str()));
        }
        match request.media.as_slice() {
            [] => {
                let mut form = vec![("media_type", "TEXT")];
                form.extend(common);
                self.container(api, user, &form).await
            }
            [single] => {
                let url = meta::public_url("Threads", single)?;
                let mut form = Self::media_fields(single, &url);
                form.extend(common);
                self.container(api, user, &form).await
            }
            several => {
                let mut children = Vec::with_capacity(several.len());
                for item in several {
                    let url = meta::public_url("Threads", item)?;
                    let mut form = Self::media_fields(item, &url);
                    form.push(("is_carousel_item", "true"));
                    children.push(self.container(api, user, &form).await?);
                }
                let children = children.join(",");
                let mut form = vec![("media_type", "CAROUSEL"), ("children", children.as_str())];
                form.extend(common);
                self.container(api, user, &form).await
            }
        }
    }
}

#[async_trait]
impl Publisher for Threads {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let user = threads_user(request)?;
        let api = self.api(request);
        let cap = Cap::of(request);
        if let Some(quota) = self.quota(&api, user, cap).await?
            && quota.used_up()
        {
            return Err(self.deferral(&api, user, cap, &quota).await);
        }
        let container = self.post_container(&api, user, request).await?;
        // Everything before this is safe to redo; publishing is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let published: Created = match api
            .post(
                &format!("/{user}/threads_publish"),
                &[("creation_id", container.as_str())],
            )
            .await
        {
            Ok(created) => created,
            Err(Failure::Refused(e)) if cap_reached(&e) => {
                let quota = self
                    .quota(&api, user, cap)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(Quota {
                        usage: 0,
                        total: 0,
                        duration: Duration::days(1),
                    });
                return Err(self.deferral(&api, user, cap, &quota).await);
            }
            Err(other) => return Err(failure(Step::Send)(other)),
        };
        if !meta::plain_id(&published.id) {
            return Err(PublishError::Unknown {
                reason: "Threads answered an unusable post id".to_owned(),
            });
        }
        let url = api
            .get::<Permalink>(&format!("/{}", published.id), &[("fields", "permalink")])
            .await
            .ok()
            .and_then(|p| p.permalink)
            .filter(|p| p.starts_with("https://"));
        Ok(PublishedPost {
            platform_post_id: published.id,
            url,
            reference: None,
        })
    }

    /// Threads keeps no idempotency key for `threads_publish`.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    /// Looks among the account's posts (replies, for a part after the first) since two minutes
    /// before `sent_at` for exactly one dated within five minutes of it with the same text.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let user = threads_user(request)?;
        let api = self.api(request);
        let listed = meta::recent_posts(
            &api,
            &format!("/{user}/{}", Cap::of(request).edge()),
            "id,text,timestamp,permalink",
            sent_at - RECONCILE_SKEW,
            2,
        )
        .await
        .map_err(failure(Step::Read))?;
        Ok(
            meta::matching(&listed, request, sent_at).map(|post| {
                tracing::info!(post = %request.post_id, threads_post = %post.id, "Threads post found by reconciliation");
                PublishedPost {
                    platform_post_id: post.id.clone(),
                    url: post.permalink.clone().filter(|p| p.starts_with("https://")),
                    reference: None,
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests;

//! Publishing to Instagram: the day's cap first, then containers from public URLs, polled until
//! ready, then `media_publish`.
//!
//! A container is no post: creating one again is safe (those an attempt left behind expire
//! unpublished after a day). `media_publish` is the send: the [`SendGuard`] is asked right
//! before it, and a server error or a lost answer to it leaves the outcome unknown. Instagram
//! has no idempotency key here ([`Publisher::dedup_window`] is `None`): such a send is looked
//! for ([`Publisher::reconcile`]) among the account's media published from a little before the
//! send to a few minutes after it, matched by caption (a post without caption is never matched).
//!
//! The cap: `content_publishing_limit` is read before anything is created; at the cap — or when
//! `media_publish` answers that it is reached (another app or worker published meanwhile) — the
//! target is deferred ([`PublishError::Deferred`]) to when a slot frees, with a reason naming
//! the time.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_ports::platform::{
    Attachment, PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;

use super::{Instagram, Login};
use crate::meta::{self, Api, Failure, GraphError, Quota, Step};

/// How far before the send a reconciliation looks (clocks differ).
const RECONCILE_SKEW: Duration = Duration::minutes(2);
/// Pages of media read at most (100 each) to find when the cap frees a slot.
const LIST_PAGES: usize = 5;
/// The status fields of a container.
const STATUS: (&str, &str, &str) = ("status_code,status", "status_code", "status");

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Permalink {
    #[serde(default)]
    permalink: Option<String>,
}

/// Whether an error says the day's cap is reached.
fn cap_reached(e: &GraphError) -> bool {
    e.subcode == Some(2_207_042) || (e.code == Some(9) && e.subcode.is_none())
}

/// Instagram's own codes, in plain words.
fn special(e: &GraphError) -> Option<PublishError> {
    let rejected = |code: &str, reason: String| {
        Some(PublishError::Rejected {
            code: format!("instagram_{code}"),
            reason,
        })
    };
    match e.subcode? {
        // Download timeouts, expired or failed containers, server errors: Instagram says to try
        // again (with new containers).
        2_207_001 | 2_207_003 | 2_207_008 | 2_207_020 | 2_207_027 | 2_207_032 | 2_207_053 => {
            Some(PublishError::Transient {
                reason: format!("Instagram: {} ({})", e.reason(), e.codes()),
            })
        }
        2_207_004 => rejected(
            "image_too_large",
            "Instagram takes images of at most 8 MB; this one is larger".to_owned(),
        ),
        2_207_005 | 2_207_023 => rejected(
            "unsupported_media",
            format!("Instagram does not take this file's format: {}", e.reason()),
        ),
        2_207_009 => rejected(
            "aspect_ratio",
            "Instagram takes images from 4:5 (portrait) to 1.91:1 (landscape); crop this one"
                .to_owned(),
        ),
        2_207_010 => rejected(
            "caption_too_long",
            "Instagram takes captions of at most 2,200 characters, 30 hashtags and 20 mentions"
                .to_owned(),
        ),
        2_207_026 => rejected(
            "unsupported_video",
            format!(
                "Instagram does not take this video (MP4 or MOV, H.264 or HEVC, 3 s to 15 min): {}",
                e.reason()
            ),
        ),
        2_207_050 => rejected(
            "account_restricted",
            "Instagram has restricted this account: sign in to the Instagram app and complete \
             what it asks, then try again"
                .to_owned(),
        ),
        2_207_051 => rejected(
            "spam_suspected",
            "Instagram refused the post as possible spam; if it is not, tell Instagram from the app"
                .to_owned(),
        ),
        2_207_052 => rejected(
            "media_unreachable",
            "Instagram could not fetch the file from Multivio's public address; check that \
             MULTIVIO_PUBLIC_URL is reachable from the internet"
                .to_owned(),
        ),
        _ => None,
    }
}

fn failure(step: Step) -> impl Fn(Failure) -> PublishError {
    move |f| meta::publish_failure("Instagram", step, f, special)
}

/// A refused `media_publish`. A container that is gone or not ready (2207008, 2207020,
/// 2207027) published nothing, and is made again on the retry; a server error (2207001,
/// 2207032, 2207053) answering the publication may come after the post went out: unknown,
/// looked for before anything is sent again.
fn send_failure(f: Failure) -> PublishError {
    meta::publish_failure("Instagram", Step::Send, f, |e| match e.subcode {
        Some(2_207_001 | 2_207_032 | 2_207_053) => Some(PublishError::Unknown {
            reason: format!(
                "Instagram answered the publication with an error ({}: {}); it may have been published all the same",
                e.codes(),
                e.reason()
            ),
        }),
        _ => special(e),
    })
}

/// The Instagram user a connection is (its account id).
fn ig_user(request: &PublishRequest) -> Result<&str, PublishError> {
    let id = request.connection.provider_account_id.as_str();
    if meta::plain_id(id) {
        Ok(id)
    } else {
        Err(PublishError::Rejected {
            code: "invalid_account".to_owned(),
            reason: "this Instagram connection has no usable account id; connect it again"
                .to_owned(),
        })
    }
}

fn is_video(attachment: &Attachment) -> bool {
    attachment.file.file_type.starts_with("video/")
}

impl Instagram {
    /// The API a connection is published through: Instagram's with its own token, or
    /// Facebook's with its Page's token and `appsecret_proof`.
    fn api<'a>(&'a self, request: &'a PublishRequest) -> Result<Api<'a>, PublishError> {
        let token = &request.credentials.access_token;
        let login = match request.connection.metadata_str("login") {
            Some("instagram") => Login::Instagram,
            _ => Login::Facebook,
        };
        let unavailable = |how: &str| PublishError::Rejected {
            code: "instagram_login_unavailable".to_owned(),
            reason: format!(
                "this Instagram account was connected {how}, which this deployment no longer \
                 offers; connect it again"
            ),
        };
        match login {
            Login::Instagram => {
                let app = self
                    .instagram
                    .as_ref()
                    .ok_or_else(|| unavailable("with Instagram Login"))?;
                Ok(Api::new(
                    &self.http,
                    &app.api_url,
                    &self.version,
                    token,
                    None,
                ))
            }
            Login::Facebook => {
                let app = self
                    .facebook
                    .as_ref()
                    .ok_or_else(|| unavailable("through its Facebook Page"))?;
                Ok(Api::new(
                    &self.http,
                    &app.api_url,
                    &self.version,
                    token,
                    Some(&app.app_secret),
                ))
            }
        }
    }

    /// The account's use of the day's cap; `None` when Instagram answers nothing readable (the
    /// publish then goes on: `media_publish` refuses at the cap).
    async fn quota(&self, api: &Api<'_>, user: &str) -> Result<Option<Quota>, PublishError> {
        let limit: meta::ListPage<serde_json::Value> = api
            .get(
                &format!("/{user}/content_publishing_limit"),
                &[("fields", "quota_usage,config")],
            )
            .await
            .map_err(failure(Step::Read))?;
        Ok(limit
            .data
            .first()
            .and_then(|entry| meta::quota_from(entry, "quota_usage", "config")))
    }

    /// The deferral for a used-up cap: to when the account's recent media say a slot frees (a
    /// whole window when they cannot be read).
    async fn deferral(&self, api: &Api<'_>, user: &str, quota: &Quota) -> PublishError {
        let now = Utc::now();
        let posted = meta::recent_posts(
            api,
            &format!("/{user}/media"),
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
        meta::deferral("Instagram", quota, at, now)
    }

    /// Creates a container (`POST /{user}/media`) and waits until it is ready.
    async fn container(
        &self,
        api: &Api<'_>,
        user: &str,
        form: &[(&str, &str)],
    ) -> Result<String, PublishError> {
        let created: Created = api
            .post(&format!("/{user}/media"), form)
            .await
            .map_err(failure(Step::Prepare))?;
        if !meta::plain_id(&created.id) {
            return Err(PublishError::Transient {
                reason: "Instagram answered an unusable container id".to_owned(),
            });
        }
        meta::wait_ready(api, "Instagram", &created.id, STATUS, &self.polling).await?;
        Ok(created.id)
    }

    /// The container of the whole post: one image or Reel, or a carousel of item containers.
    async fn post_container(
        &self,
        api: &Api<'_>,
        user: &str,
        request: &PublishRequest,
    ) -> Result<String, PublishError> {
        // The caption, when there is one.
        let caption: Vec<(&str, &str)> = if request.text.is_empty() {
            Vec::new()
        } else {
            vec![("caption", request.text.as_str())]
        };
        match request.media.as_slice() {
            [] => Err(PublishError::Rejected {
                code: "instagram_media_required".to_owned(),
                reason: "Instagram requires an image or a video".to_owned(),
            }),
            [single] => {
                let url = meta::public_url("Instagram", single)?;
                let mut form = if is_video(single) {
                    vec![("media_type", "REELS"), ("video_url", url.as_str())]
                } else {
                    vec![("image_url", url.as_str())]
                };
                form.extend(caption);
                self.container(api, user, &form).await
            }
            several => {
                let mut children = Vec::with_capacity(several.len());
                for item in several {
                    let url = meta::public_url("Instagram", item)?;
                    let id = if is_video(item) {
                        self.container(
                            api,
                            user,
                            &[
                                ("media_type", "VIDEO"),
                                ("video_url", &url),
                                ("is_carousel_item", "true"),
                            ],
                        )
                        .await?
                    } else {
                        self.container(
                            api,
                            user,
                            &[("image_url", &url), ("is_carousel_item", "true")],
                        )
                        .await?
                    };
                    children.push(id);
                }
                let children = children.join(",");
                let mut form = vec![("media_type", "CAROUSEL"), ("children", children.as_str())];
                form.extend(caption);
                self.container(api, user, &form).await
            }
        }
    }
}

#[async_trait]
impl Publisher for Instagram {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        let user = ig_user(request)?;
        let api = self.api(request)?;
        if let Some(quota) = self.quota(&api, user).await?
            && quota.used_up()
        {
            return Err(self.deferral(&api, user, &quota).await);
        }
        let container = self.post_container(&api, user, request).await?;
        // Everything before this is safe to redo; publishing is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        let published: Result<Created, Failure> = api
            .post(
                &format!("/{user}/media_publish"),
                &[("creation_id", container.as_str())],
            )
            .await;
        let published = match published {
            Ok(created) => created,
            Err(Failure::Refused(e)) if cap_reached(&e) => {
                let quota = self
                    .quota(&api, user)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(Quota {
                        usage: 0,
                        total: 0,
                        duration: Duration::days(1),
                    });
                return Err(self.deferral(&api, user, &quota).await);
            }
            Err(other) => return Err(send_failure(other)),
        };
        if !meta::plain_id(&published.id) {
            return Err(PublishError::Unknown {
                reason: "Instagram answered an unusable media id".to_owned(),
            });
        }
        // The post is out: its link is a read whose failure loses only the link.
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

    /// Instagram keeps no idempotency key for `media_publish`.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    /// Looks among the account's media published since two minutes before `sent_at` for
    /// exactly one dated within five minutes of it with the same caption.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let user = ig_user(request)?;
        let api = self.api(request)?;
        let listed = meta::recent_posts(
            &api,
            &format!("/{user}/media"),
            "id,caption,timestamp,permalink",
            sent_at - RECONCILE_SKEW,
            2,
        )
        .await
        .map_err(failure(Step::Read))?;
        Ok(meta::matching(&listed, request, sent_at).map(|post| {
            tracing::info!(post = %request.post_id, instagram_media = %post.id, "Instagram post found by reconciliation");
            PublishedPost {
                platform_post_id: post.id.clone(),
                url: post.permalink.clone().filter(|p| p.starts_with("https://")),
                reference: None,
            }
        }))
    }
}

#[cfg(test)]
mod tests;

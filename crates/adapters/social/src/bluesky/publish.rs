//! Publishing: one `app.bsky.feed.post` record per thread part, with facets, images and reply
//! references, written at a record key derived from the idempotency key and the part's number.
//!
//! Retries are safe: every attempt at a part writes the same record key, and Bluesky refuses a
//! second write to a key (the reference PDS with HTTP 500 `InternalServerError`,
//! bluesky-social/atproto#3718; other PDS implementations with 409 `RecordAlreadyExists`, the
//! explicit error the reference one proposes). After any answer that leaves the outcome open —
//! a 5xx, a dropped connection, an unreadable success — the record key is read back
//! (`getRecord`): a record there is the post, published by this or an earlier attempt; no
//! record means nothing was published and the error is transient (a retry is safe, never
//! [`PublishError::Unknown`]). A refusal that names the key in use (409, or the error
//! `RecordAlreadyExists`) is reconciled the same way.
//!
//! Everything before `createRecord` — resolving mentions, reading the posts replied to,
//! uploading the images — writes no post and is safe to redo; the [`SendGuard`] is asked
//! once, right before `createRecord`, and when it refuses nothing is written
//! ([`PublishError::NotSent`]).

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};
use multivio_domain::Secret;
use multivio_ports::platform::{
    Attachment, PostRef, PublishError, PublishRequest, PublishedPost, ReplyTo, SendGuard,
};
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use unicode_segmentation::UnicodeSegmentation;

use super::{Bluesky, MAX_IMAGES, XrpcError, facets, images, tid, xrpc};
use crate::http;

/// The collection of posts.
const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Longest text: 300 graphemes, 3000 bytes.
const MAX_GRAPHEMES: usize = 300;
const MAX_TEXT_BYTES: usize = 3000;
/// Most mentions resolved per post (a 300-grapheme text holds far fewer).
const MAX_MENTIONS: usize = 50;

/// The account a post goes to (no `Debug`: it holds the token).
struct Account<'a> {
    pds: String,
    did: &'a str,
    handle: &'a str,
    token: &'a Secret,
}

/// `createRecord`'s and `getRecord`'s answers (only what we use).
#[derive(Deserialize)]
struct RecordRef {
    uri: String,
    #[serde(default)]
    cid: Option<String>,
    /// The record itself (`getRecord` only).
    #[serde(default)]
    value: Option<Value>,
}

impl Bluesky {
    pub(super) async fn publish_post(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        check(request)?;
        let account = self.account(request)?;
        let rkey = tid::record_key(&request.idempotency_key, request.part);
        let candidates = facets::facets(&request.text);
        let dids = self
            .resolve_mentions(&account, &facets::mentioned_handles(&candidates))
            .await?;
        let facets = facets::to_json(&candidates, &dids);
        let reply = match &request.reply_to {
            Some(reply_to) => Some(self.reply(&account, reply_to).await?),
            None => None,
        };
        let mut images = Vec::with_capacity(request.media.len());
        for attachment in &request.media {
            images.push(self.upload_image(&account, attachment).await?);
        }

        let mut record = Map::new();
        record.insert("$type".into(), json!(POST_COLLECTION));
        record.insert("text".into(), json!(request.text));
        record.insert(
            "createdAt".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        if !facets.is_empty() {
            record.insert("facets".into(), Value::Array(facets));
        }
        if !images.is_empty() {
            record.insert(
                "embed".into(),
                json!({"$type": "app.bsky.embed.images", "images": images}),
            );
        }
        if let Some(reply) = reply {
            record.insert("reply".into(), reply);
        }
        let body = json!({
            "repo": account.did,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        // Everything before this is safe to redo; the write is not.
        guard
            .before_send()
            .await
            .map_err(|reason| PublishError::NotSent { reason })?;
        self.create_record(&account, &rkey, &body).await
    }

    /// The account of the request's connection: its DID, handle and PDS (checked against the
    /// server policy again).
    fn account<'a>(&self, request: &'a PublishRequest) -> Result<Account<'a>, PublishError> {
        let connection = &request.connection;
        let did = connection
            .metadata_str("did")
            .unwrap_or(connection.provider_account_id.as_str());
        if !did.starts_with("did:") {
            return Err(PublishError::Rejected {
                code: "invalid_account".to_owned(),
                reason: "this Bluesky connection has no account id; connect the account again"
                    .to_owned(),
            });
        }
        let handle = connection
            .metadata_str("handle")
            .filter(|h| !h.is_empty() && *h != "handle.invalid")
            .unwrap_or(did);
        let pds = self
            .pds_of(connection)
            .map_err(|e| PublishError::Rejected {
                code: "invalid_pds".to_owned(),
                reason: format!("the account's Bluesky server is not allowed: {e}"),
            })?;
        Ok(Account {
            pds,
            did,
            handle,
            token: &request.credentials.access_token,
        })
    }

    /// The DIDs of the mentioned handles that resolve; a handle Bluesky cannot resolve is left
    /// out (its mention stays plain text).
    async fn resolve_mentions(
        &self,
        account: &Account<'_>,
        handles: &[String],
    ) -> Result<HashMap<String, String>, PublishError> {
        #[derive(Deserialize)]
        struct Resolved {
            did: String,
        }
        let mut dids = HashMap::new();
        for handle in handles.iter().take(MAX_MENTIONS) {
            let response = self
                .http
                .get(xrpc(&account.pds, "com.atproto.identity.resolveHandle"))
                .query(&[("handle", handle)])
                .send()
                .await
                .map_err(|e| http::transient(&e))?;
            if response.status().is_success() {
                let resolved: Resolved = http::json_body(response, "Bluesky handle resolution")
                    .await
                    .map_err(|reason| PublishError::Transient { reason })?;
                if resolved.did.starts_with("did:") {
                    dids.insert(handle.clone(), resolved.did);
                }
                continue;
            }
            let e = XrpcError::read(response).await;
            match e.status {
                429 => {
                    return Err(PublishError::RateLimited {
                        retry_after: e.retry_after,
                    });
                }
                s if s >= 500 => {
                    return Err(PublishError::Transient {
                        reason: format!("resolving @{handle}: {}", e.describe()),
                    });
                }
                _ => tracing::debug!(%handle, error = %e.error, "mention left as plain text"),
            }
        }
        Ok(dids)
    }

    /// The `reply` of a thread part: strong references (URI and CID) to the thread's first
    /// post and to the part before; a reference without its CID is completed with `getRecord`.
    async fn reply(
        &self,
        account: &Account<'_>,
        reply_to: &ReplyTo,
    ) -> Result<Value, PublishError> {
        let root = self.strong_ref(account, &reply_to.root).await?;
        let parent = self.strong_ref(account, &reply_to.parent).await?;
        Ok(json!({"root": root, "parent": parent}))
    }

    async fn strong_ref(
        &self,
        account: &Account<'_>,
        post: &PostRef,
    ) -> Result<Value, PublishError> {
        if let Some(cid) = post.reference.as_deref().filter(|c| !c.is_empty()) {
            return Ok(json!({"uri": post.id, "cid": cid}));
        }
        let not_a_post = || PublishError::Rejected {
            code: "invalid_reply".to_owned(),
            reason: format!(
                "the post this part answers ({}) is not a Bluesky post",
                post.id
            ),
        };
        let (repo, collection, rkey) = parse_at_uri(&post.id).ok_or_else(not_a_post)?;
        // The account's own posts are on its PDS; for another account's, the entryway finds
        // the record.
        let base = if repo == account.did {
            &account.pds
        } else {
            &self.config.service_url
        };
        match self.get_record(base, repo, collection, rkey).await? {
            Some(RecordRef {
                uri,
                cid: Some(cid),
                ..
            }) => Ok(json!({"uri": uri, "cid": cid})),
            _ => Err(PublishError::Transient {
                reason: format!("the post this part answers ({}) was not found", post.id),
            }),
        }
    }

    /// Uploads one image (downscaled and re-encoded first when larger than the limit) and
    /// gives its entry of the images embed.
    async fn upload_image(
        &self,
        account: &Account<'_>,
        attachment: &Attachment,
    ) -> Result<Value, PublishError> {
        let file = &attachment.file;
        let max = self.config.max_image_bytes;
        // Images are small (at most 32 MiB uploaded): read whole, to measure and fit.
        let original = attachment
            .bytes
            .all()
            .await
            .map_err(|e| crate::http::media_unreadable(&e))?;
        let (bytes, mime, size) = if original.len() > max {
            let source = original.clone();
            let fitted = tokio::task::spawn_blocking(move || images::fit(&source, max))
                .await
                .map_err(|e| PublishError::Transient {
                    reason: format!("resizing an image: {e}"),
                })?
                .map_err(|e| PublishError::Rejected {
                    code: "image_too_large".to_owned(),
                    reason: format!(
                        "an image is larger than Bluesky accepts ({} bytes, at most {max}) and \
                         could not be made smaller: {e}",
                        original.len()
                    ),
                })?;
            tracing::debug!(
                from = original.len(),
                to = fitted.bytes.len(),
                width = fitted.width,
                height = fitted.height,
                "image re-encoded for Bluesky"
            );
            let size = Some((fitted.width, fitted.height));
            (
                multivio_ports::media::Bytes::from(fitted.bytes),
                "image/jpeg".to_owned(),
                size,
            )
        } else {
            let size = match (file.width, file.height) {
                (Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
                _ => images::dimensions(&original),
            };
            (original, file.file_type.clone(), size)
        };
        let response = self
            .http
            .post(xrpc(&account.pds, "com.atproto.repo.uploadBlob"))
            .bearer_auth(account.token.expose())
            .header(CONTENT_TYPE, mime)
            .body(bytes)
            .send()
            .await
            .map_err(|e| http::transient(&e))?;
        if !response.status().is_success() {
            return Err(publish_error(XrpcError::read(response).await, "the image"));
        }
        #[derive(Deserialize)]
        struct Uploaded {
            blob: Value,
        }
        let uploaded: Uploaded = http::json_body(response, "Bluesky image upload")
            .await
            .map_err(|reason| PublishError::Transient { reason })?;
        let alt = file.alt_text.as_ref().map_or("", |a| a.as_str());
        let mut image = json!({"alt": alt, "image": uploaded.blob});
        if let Some((width, height)) = size.filter(|(w, h)| *w > 0 && *h > 0) {
            image["aspectRatio"] = json!({"width": width, "height": height});
        }
        Ok(image)
    }

    /// Writes the record; when the answer leaves the outcome open, reads the record key back.
    async fn create_record(
        &self,
        account: &Account<'_>,
        rkey: &str,
        body: &Value,
    ) -> Result<PublishedPost, PublishError> {
        let sent = self
            .http
            .post(xrpc(&account.pds, "com.atproto.repo.createRecord"))
            .bearer_auth(account.token.expose())
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return match http::publish_transport_error(&e) {
                    // Never reached Bluesky.
                    transient @ PublishError::Transient { .. } => Err(transient),
                    _ => {
                        self.reconcile(account, rkey, body, &format!("no answer: {e}"))
                            .await
                    }
                };
            }
        };
        if response.status().is_success() {
            let read = match http::read_capped(response, http::MAX_JSON_BYTES).await {
                Ok(bytes) => serde_json::from_slice::<RecordRef>(&bytes)
                    .map_err(|e| format!("unexpected answer: {e}")),
                Err(e) => Err(e.to_string()),
            };
            return match read {
                Ok(RecordRef {
                    uri,
                    cid: Some(cid),
                    ..
                }) => Ok(published(account, uri, cid, rkey)),
                Ok(_) => {
                    self.reconcile(account, rkey, body, "the answer has no CID")
                        .await
                }
                Err(why) => self.reconcile(account, rkey, body, &why).await,
            };
        }
        let e = XrpcError::read(response).await;
        // A 5xx leaves the outcome open; among 5xx, and in a 409 or `RecordAlreadyExists` of
        // other PDSs, is the answer to a record key in use (a retry of a part already
        // published).
        if e.status >= 500 || e.status == 409 || e.error == "RecordAlreadyExists" {
            return self.reconcile(account, rkey, body, &e.describe()).await;
        }
        Err(publish_error(e, "the post"))
    }

    /// Reads the record key back after an open outcome (`sent` is the `createRecord` input):
    /// the post, or a transient error (nothing was published).
    async fn reconcile(
        &self,
        account: &Account<'_>,
        rkey: &str,
        sent: &Value,
        why: &str,
    ) -> Result<PublishedPost, PublishError> {
        match self
            .get_record(&account.pds, account.did, POST_COLLECTION, rkey)
            .await?
        {
            Some(RecordRef {
                uri,
                cid: Some(cid),
                value,
            }) => {
                tracing::info!(%uri, reason = %why, "Bluesky post found at its record key: published");
                let text = |record: Option<&Value>| record.and_then(|r| r.get("text")).cloned();
                if text(value.as_ref()) != text(sent.get("record")) {
                    tracing::warn!(%uri, "the Bluesky post at this record key has another text (an attempt before an edit)");
                }
                Ok(published(account, uri, cid, rkey))
            }
            Some(RecordRef { uri, cid: None, .. }) => Err(PublishError::Transient {
                reason: format!("{why}; {uri} exists but Bluesky gave no CID"),
            }),
            None => Err(PublishError::Transient {
                reason: format!("{why}; the post was not created, retrying is safe"),
            }),
        }
    }

    /// `getRecord`: `Ok(None)` when the record does not exist.
    async fn get_record(
        &self,
        base: &str,
        repo: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<RecordRef>, PublishError> {
        let response = self
            .http
            .get(xrpc(base, "com.atproto.repo.getRecord"))
            .query(&[("repo", repo), ("collection", collection), ("rkey", rkey)])
            .send()
            .await
            .map_err(|e| http::transient(&e))?;
        if response.status().is_success() {
            return http::json_body(response, "Bluesky record")
                .await
                .map(Some)
                .map_err(|reason| PublishError::Transient { reason });
        }
        let e = XrpcError::read(response).await;
        match e.status {
            400 if e.error == "RecordNotFound" => Ok(None),
            429 => Err(PublishError::RateLimited {
                retry_after: e.retry_after,
            }),
            _ => Err(PublishError::Transient {
                reason: format!("reading the record back: {}", e.describe()),
            }),
        }
    }
}

/// Refuses, before any call, what Bluesky would refuse for good: video, files that are not
/// images, more than four images, an empty post, a text over 300 graphemes or 3000 bytes.
fn check(request: &PublishRequest) -> Result<(), PublishError> {
    let reject = |code: &str, reason: String| {
        Err(PublishError::Rejected {
            code: code.to_owned(),
            reason,
        })
    };
    if request.media.iter().any(|a| a.file.is_video()) {
        return reject(
            "video_not_supported",
            "video on Bluesky is not supported yet".to_owned(),
        );
    }
    if let Some(other) = request.media.iter().find(|a| !a.file.is_image()) {
        return reject(
            "media_not_supported",
            format!(
                "Bluesky posts carry images only, not {}",
                other.file.file_type
            ),
        );
    }
    if request.media.len() > MAX_IMAGES {
        return reject(
            "too_many_images",
            format!(
                "a Bluesky post holds at most {MAX_IMAGES} images, this one has {}",
                request.media.len()
            ),
        );
    }
    if request.media.iter().any(|a| a.bytes.is_empty()) {
        return reject("empty_image", "an image of the post is empty".to_owned());
    }
    if request.text.trim().is_empty() && request.media.is_empty() {
        return reject(
            "empty_post",
            "a Bluesky post needs text or an image".to_owned(),
        );
    }
    let graphemes = request.text.graphemes(true).count();
    if graphemes > MAX_GRAPHEMES || request.text.len() > MAX_TEXT_BYTES {
        return reject(
            "text_too_long",
            format!(
                "a Bluesky post holds at most {MAX_GRAPHEMES} characters, this one has {graphemes}"
            ),
        );
    }
    Ok(())
}

/// A refused call of a publication, for the core: a dead token needs a new sign-in, a rate
/// limit waits, a server error is retried, anything else is refused for good with Bluesky's
/// reason.
fn publish_error(e: XrpcError, what: &str) -> PublishError {
    match e.status {
        _ if e.is_token_error() => PublishError::Unauthorized {
            reason: e.describe(),
        },
        401 => PublishError::Unauthorized {
            reason: e.describe(),
        },
        429 => PublishError::RateLimited {
            retry_after: e.retry_after,
        },
        413 => PublishError::Rejected {
            code: e.error,
            reason: format!("Bluesky refused {what}: it is too large"),
        },
        // 408: the platform gave up waiting for the request; it processed nothing (RFC 9110).
        s if s >= 500 || s == 408 => PublishError::Transient {
            reason: e.describe(),
        },
        _ => PublishError::Rejected {
            reason: format!("Bluesky refused {what}: {}", e.message),
            code: e.error,
        },
    }
}

/// The published post: its `at://` URI, its bsky.app page and its CID (what a reply needs).
fn published(account: &Account<'_>, uri: String, cid: String, rkey: &str) -> PublishedPost {
    let rkey = uri
        .rsplit('/')
        .next()
        .filter(|k| !k.is_empty())
        .unwrap_or(rkey);
    PublishedPost {
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{rkey}",
            account.handle
        )),
        platform_post_id: uri,
        reference: Some(cid),
    }
}

/// The repo, collection and record key of `at://<repo>/<collection>/<rkey>`.
fn parse_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = !repo.is_empty() && !collection.is_empty() && !rkey.is_empty();
    (valid && parts.next().is_none()).then_some((repo, collection, rkey))
}

#[cfg(test)]
mod tests;

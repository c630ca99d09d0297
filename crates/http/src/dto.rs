//! The HTTP API's request and response bodies. They are separate from the domain's types:
//! requests reject unknown fields (no mass assignment of `user_id`, `status`, quota or plan),
//! and conversions to and from the domain are explicit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use multivio_app::billing::SubscriptionView;
use multivio_domain::connection::Connection;
use multivio_domain::content::{PlatformReport, PostReport};
use multivio_domain::media::MediaFile;
use multivio_domain::post::{ContentMode, PlatformContent, Post, Target, TargetResult};
use multivio_domain::quota::Quota;
use multivio_domain::user::User;
use multivio_domain::{ConnectionId, MediaId, Provider, field_path};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, invalid};

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------- users

/// The caller's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// User id.
    pub id: i32,
    /// Email.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// How the user signs in.
    pub auth_provider: String,
    /// Username (unique).
    pub username: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Work description.
    pub work_description: Option<String>,
    /// Bio.
    pub bio: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Whether the account is active.
    pub is_active: bool,
    /// Whether the account is verified.
    pub is_verified: bool,
    /// Subscription status (`free`, `active`…).
    pub subscription_status: String,
    /// End of the paid period.
    pub subscription_end_date: Option<DateTime<Utc>>,
    /// The plan.
    pub plan: PlanDto,
    /// The monthly post quota.
    pub quota: QuotaDto,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDto {
    /// Plan name (`free`, `pro`…).
    pub name: String,
    /// Posts per month.
    pub monthly_post_quota: u32,
}

/// The monthly post quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaDto {
    /// Posts per month.
    pub monthly_post_quota: u32,
    /// Posts left this period.
    pub remaining_posts: u32,
    /// When the period resets.
    pub resets_at: Option<DateTime<Utc>>,
}

impl From<&Quota> for QuotaDto {
    fn from(q: &Quota) -> Self {
        Self {
            monthly_post_quota: q.monthly_post_quota,
            remaining_posts: q.remaining_posts,
            resets_at: q.resets_at(),
        }
    }
}

impl MeResponse {
    /// The profile of `user` with its current quota.
    pub fn of(user: &User, quota: &Quota) -> Self {
        let p = &user.profile;
        Self {
            id: user.id.0,
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            auth_provider: user.auth_provider.as_str().to_owned(),
            username: p.username.as_ref().map(|u| u.as_str().to_owned()),
            full_name: p.full_name.clone(),
            display_name: p.display_name.clone(),
            work_description: p.work_description.clone(),
            bio: p.bio.clone(),
            avatar_url: p.avatar_url.clone(),
            is_active: user.is_active,
            is_verified: user.is_verified,
            subscription_status: user.subscription.status.as_str().to_owned(),
            subscription_end_date: user.subscription.end_date,
            plan: PlanDto {
                name: user.subscription.plan_name.as_str().to_owned(),
                monthly_post_quota: quota.monthly_post_quota,
            },
            quota: quota.into(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Profile fields to change: an absent field is kept, `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Username (3–30 of `a-z 0-9 _ . -`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    /// Full name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub full_name: Option<Option<String>>,
    /// Display name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// Work description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub work_description: Option<Option<String>>,
    /// Bio.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<String>>,
    /// Avatar URL (http or https).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

impl ProfilePatch {
    /// The domain's input.
    pub fn into_input(self) -> multivio_domain::user::ProfileInput {
        multivio_domain::user::ProfileInput {
            username: self.username,
            full_name: self.full_name,
            display_name: self.display_name,
            work_description: self.work_description,
            bio: self.bio,
            avatar_url: self.avatar_url,
        }
    }
}

/// An email verification token from the link that was mailed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    /// The token.
    pub token: String,
}

/// Something happened; nothing to return.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    /// `ok`, `sent`, `verified`…
    pub status: String,
}

// ---------------------------------------------------------------- providers

/// A supported platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDto {
    /// Name used everywhere in the API (`twitter` for X).
    pub provider: String,
    /// Name for people.
    pub display_name: String,
    /// Whether this deployment can connect and publish to it.
    pub configured: bool,
    /// How accounts connect: `oauth`, `credentials`, or null when not configured.
    pub connect_with: Option<String>,
    /// Text and media limits, counted as the platform counts.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
}

// ---------------------------------------------------------------- connections

/// A connected platform account (never its tokens).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    /// Id.
    pub id: Uuid,
    /// Platform.
    pub provider: String,
    /// The account's id on the platform.
    pub provider_account_id: String,
    /// Label.
    pub account_label: Option<String>,
    /// `personal`, `business` or `page`.
    pub account_type: String,
    /// The provider's primary account of the user.
    pub is_primary: bool,
    /// `active` or `needs_reauth`.
    pub status: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Platform-specific data.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

impl From<&Connection> for ConnectionDto {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.0,
            provider: c.provider.as_str().to_owned(),
            provider_account_id: c.provider_account_id.as_str().to_owned(),
            account_label: c.account_label.as_ref().map(|l| l.as_str().to_owned()),
            account_type: c.account_type.as_str().to_owned(),
            is_primary: c.is_primary,
            status: c.status.as_str().to_owned(),
            expires_at: c.expires_at,
            metadata: c.metadata.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// New label of a connection (`null` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    /// Label.
    pub account_label: Option<String>,
}

/// Start an OAuth authorisation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// Where to send the browser when the flow ends.
    #[serde(default)]
    pub return_to: Option<String>,
    /// The instance, for a federated platform (Mastodon): `https://mastodon.social`.
    #[serde(default)]
    pub server_url: Option<String>,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeResponse {
    /// The platform's authorisation page.
    pub authorization_url: String,
}

/// The OAuth callback's query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// Authorisation code.
    pub code: Option<String>,
    /// The state given at the start.
    pub state: Option<String>,
    /// Error reported by the platform.
    pub error: Option<String>,
}

/// What the callback hands over when no `return_to` was given.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackResponse {
    /// Platform.
    pub provider: String,
    /// The authorisation code.
    pub code: String,
    /// The state.
    pub state: String,
    /// What to call with them, signed in.
    pub complete_with: String,
}

/// `code` and `state` from the callback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The authorisation code.
    pub code: String,
    /// The state.
    pub state: String,
}

/// Credentials of a platform that connects without a redirect (Bluesky app password,
/// Mastodon…).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialConnectRequest {
    /// Handle, email or account id.
    pub identifier: String,
    /// App password or equivalent.
    pub password: String,
    /// Instance URL for federated platforms.
    #[serde(default)]
    pub server_url: Option<String>,
}

/// A list of connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// The connections.
    pub items: Vec<ConnectionDto>,
}

// ---------------------------------------------------------------- posts

/// A publishing target: a platform name (its primary account), or a platform and one account.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TargetDto {
    /// `"twitter"`: the provider's primary account.
    Platform(String),
    /// `{"platform": "twitter", "connection_id": "…"}`: one account.
    Account {
        /// Platform.
        platform: String,
        /// Connection id.
        connection_id: Uuid,
    },
}

impl TargetDto {
    fn into_domain(self, index: usize) -> Result<Target, ApiError> {
        let (name, account) = match self {
            TargetDto::Platform(name) => (name, None),
            TargetDto::Account {
                platform,
                connection_id,
            } => (platform, Some(ConnectionId(connection_id))),
        };
        let provider = name
            .parse::<Provider>()
            .map_err(|_| invalid(&field_path(&[&"platforms", &index]), "unknown platform"))?;
        Ok(Target {
            provider,
            connection_id: account,
        })
    }

    fn of(t: &Target) -> Self {
        match t.connection_id {
            None => TargetDto::Platform(t.provider.as_str().to_owned()),
            Some(id) => TargetDto::Account {
                platform: t.provider.as_str().to_owned(),
                connection_id: id.0,
            },
        }
    }
}

/// Content for one platform (extra keys such as `hashtags` or `visibility` are kept).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PlatformContentDto {
    /// The text.
    #[serde(default)]
    pub content: String,
    /// Other keys.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A new post (a draft unless `schedule_date` is given).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCreate {
    /// Title.
    pub name: String,
    /// `universal` (one text for all) or `specific` (per platform).
    #[serde(default)]
    pub content_mode: Option<String>,
    /// The text in universal mode.
    #[serde(default)]
    pub universal_content: Option<String>,
    /// Hashtags, mentions, links… (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content, keyed by platform.
    #[serde(default)]
    pub platform_content: BTreeMap<String, PlatformContentDto>,
    /// Where to publish.
    #[serde(default)]
    pub platforms: Vec<TargetDto>,
    /// Attached media ids.
    #[serde(default)]
    pub media_files: Vec<Uuid>,
    /// Schedule right away for this time.
    #[serde(default)]
    pub schedule_date: Option<DateTime<Utc>>,
}

/// Changes to a draft or scheduled post: absent fields are kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPatchDto {
    /// Title.
    pub name: Option<String>,
    /// `universal` or `specific`.
    pub content_mode: Option<String>,
    /// Universal text (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub universal_content: Option<Option<String>>,
    /// Universal metadata.
    #[schema(value_type = Option<Object>)]
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content (replaces the map).
    pub platform_content: Option<BTreeMap<String, PlatformContentDto>>,
    /// Targets (replace the list).
    pub platforms: Option<Vec<TargetDto>>,
    /// Media (replace the list).
    pub media_files: Option<Vec<Uuid>>,
}

fn content_mode(s: &str) -> Result<ContentMode, ApiError> {
    s.parse::<ContentMode>()
        .map_err(|_| invalid("content_mode", "must be `universal` or `specific`"))
}

fn platform_content(
    map: BTreeMap<String, PlatformContentDto>,
) -> Result<BTreeMap<Provider, PlatformContent>, ApiError> {
    map.into_iter()
        .map(|(name, c)| {
            let provider = name.parse::<Provider>().map_err(|_| {
                invalid(
                    &field_path(&[&"platform_content", &name]),
                    "unknown platform",
                )
            })?;
            Ok((
                provider,
                PlatformContent {
                    content: c.content,
                    extra: c.extra,
                },
            ))
        })
        .collect()
}

fn targets(list: Vec<TargetDto>) -> Result<Vec<Target>, ApiError> {
    list.into_iter()
        .enumerate()
        .map(|(i, t)| t.into_domain(i))
        .collect()
}

impl PostCreate {
    /// The domain's input and the optional schedule date.
    pub fn into_input(
        self,
    ) -> Result<(multivio_domain::post::PostInput, Option<DateTime<Utc>>), ApiError> {
        Ok((
            multivio_domain::post::PostInput {
                name: self.name,
                content_mode: self
                    .content_mode
                    .as_deref()
                    .map(content_mode)
                    .transpose()?
                    .unwrap_or_default(),
                universal_content: self.universal_content,
                universal_metadata: self.universal_metadata,
                platform_content: platform_content(self.platform_content)?,
                platforms: targets(self.platforms)?,
                media_files: self.media_files.into_iter().map(MediaId).collect(),
            },
            self.schedule_date,
        ))
    }
}

impl PostPatchDto {
    /// The use case's patch.
    pub fn into_patch(self) -> Result<multivio_app::posts::PostPatch, ApiError> {
        Ok(multivio_app::posts::PostPatch {
            name: self.name,
            content_mode: self.content_mode.as_deref().map(content_mode).transpose()?,
            universal_content: self.universal_content,
            universal_metadata: self.universal_metadata,
            platform_content: self.platform_content.map(platform_content).transpose()?,
            platforms: self.platforms.map(targets).transpose()?,
            media_files: self
                .media_files
                .map(|ids| ids.into_iter().map(MediaId).collect()),
        })
    }
}

/// The outcome for one target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetResultDto {
    /// `pending`, `publishing`, `published`, `failed` or `unknown` (sent, outcome unknown:
    /// check the platform before posting again).
    pub status: String,
    /// Platform.
    pub platform: String,
    /// The account used.
    pub connection_id: Option<Uuid>,
    /// The platform's id of the post.
    pub platform_post_id: Option<String>,
    /// Link to the post.
    pub url: Option<String>,
    /// Why it failed.
    pub error: Option<IssueDto>,
    /// Sends tried.
    pub attempts: u32,
    /// When it went out.
    pub published_at: Option<DateTime<Utc>>,
}

impl From<&TargetResult> for TargetResultDto {
    fn from(r: &TargetResult) -> Self {
        Self {
            status: serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            platform: r.platform.as_str().to_owned(),
            connection_id: r.connection_id.map(|c| c.0),
            platform_post_id: r.platform_post_id.clone(),
            url: r.url.clone(),
            error: r.error.as_ref().map(|e| IssueDto {
                code: e.code.clone(),
                message: e.message.clone(),
            }),
            attempts: r.attempts,
            published_at: r.published_at,
        }
    }
}

/// A coded problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueDto {
    /// Machine-readable code.
    pub code: String,
    /// For people.
    pub message: String,
}

/// A post.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostDto {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub name: String,
    /// `universal` or `specific`.
    pub content_mode: String,
    /// Universal text.
    pub universal_content: Option<String>,
    /// Universal metadata.
    #[schema(value_type = Object)]
    pub universal_metadata: serde_json::Value,
    /// Per-platform content.
    pub platform_content: BTreeMap<String, PlatformContentDto>,
    /// Where it goes.
    pub platforms: Vec<TargetDto>,
    /// Attached media.
    pub media_files: Vec<Uuid>,
    /// When it is scheduled.
    pub schedule_date: Option<DateTime<Utc>>,
    /// `draft`, `scheduled`, `publishing`, `published`, `partially_published` or `failed`.
    pub status: String,
    /// When it finished publishing.
    pub published_at: Option<DateTime<Utc>>,
    /// Outcome per platform (or per account when a platform has several).
    pub publish_results: BTreeMap<String, TargetResultDto>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

impl From<&Post> for PostDto {
    fn from(p: &Post) -> Self {
        Self {
            id: p.id.0,
            name: p.name.as_str().to_owned(),
            content_mode: p.content_mode.as_str().to_owned(),
            universal_content: p.universal_content.clone(),
            universal_metadata: p.universal_metadata.clone(),
            platform_content: p
                .platform_content
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        PlatformContentDto {
                            content: v.content.clone(),
                            extra: v.extra.clone(),
                        },
                    )
                })
                .collect(),
            platforms: p.platforms.as_slice().iter().map(TargetDto::of).collect(),
            media_files: p.media_files.iter().map(|m| m.0).collect(),
            schedule_date: p.schedule_date,
            status: p.status.as_str().to_owned(),
            published_at: p.published_at,
            publish_results: p
                .publish_results
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page of posts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostPage {
    /// Posts.
    pub items: Vec<PostDto>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// Filters and page of the post list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PostListQuery {
    /// Page size, 1–100 (default 20; others are clamped).
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only posts to this platform.
    pub platform: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// A new schedule date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// When to publish (RFC 3339, in the future).
    pub schedule_date: DateTime<Utc>,
}

/// A post to check, as for creation (nothing is stored).
pub type ValidateRequest = PostCreate;

/// One platform's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformVerdict {
    /// Whether the platform accepts it.
    pub valid: bool,
    /// Text length, counted the way this platform counts.
    pub length: usize,
    /// The platform's limit.
    pub limit: usize,
    /// What is wrong.
    pub errors: Vec<IssueDto>,
}

impl From<&PlatformReport> for PlatformVerdict {
    fn from(r: &PlatformReport) -> Self {
        Self {
            valid: r.valid,
            length: r.length,
            limit: r.limit,
            errors: r
                .errors
                .iter()
                .map(|e| IssueDto {
                    code: serde_json::to_value(e.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

/// The dry run's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// Whether every selected platform accepts the post.
    pub valid: bool,
    /// Per platform.
    pub platforms: BTreeMap<String, PlatformVerdict>,
    /// Problems with the post as a whole (no platform selected, date in the past…).
    pub errors: Vec<FieldIssueDto>,
}

/// A problem with one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldIssueDto {
    /// Machine-readable code.
    pub code: String,
    /// The field.
    pub field: String,
    /// For people.
    pub message: String,
}

impl From<&PostReport> for ValidateResponse {
    fn from(r: &PostReport) -> Self {
        Self {
            valid: r.valid,
            platforms: r
                .platforms
                .iter()
                .map(|(p, v)| (p.as_str().to_owned(), v.into()))
                .collect(),
            errors: r
                .errors
                .iter()
                .map(|e| FieldIssueDto {
                    code: serde_json::to_value(e.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- media

/// An uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaDto {
    /// Id.
    pub id: Uuid,
    /// Stored name.
    pub filename: String,
    /// Name given at upload.
    pub original_filename: Option<String>,
    /// MIME type, sniffed from the bytes.
    pub file_type: String,
    /// Size in bytes.
    pub file_size: u64,
    /// Public URL.
    pub cdn_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_url: Option<String>,
    /// Platforms that accept this file.
    pub platform_compatibility: Vec<String>,
    /// Alternative text.
    pub alt_text: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration of a video, in seconds.
    pub duration_secs: Option<f64>,
    /// Uploaded.
    pub upload_date: DateTime<Utc>,
}

impl From<&MediaFile> for MediaDto {
    fn from(f: &MediaFile) -> Self {
        Self {
            id: f.id.0,
            filename: f.filename.clone(),
            original_filename: f.original_filename.clone(),
            file_type: f.file_type.clone(),
            file_size: f.file_size,
            cdn_url: f.cdn_url.clone(),
            thumbnail_url: f.thumbnail_url.clone(),
            platform_compatibility: f
                .platform_compatibility
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            alt_text: f.alt_text.as_ref().map(|a| a.as_str().to_owned()),
            width: f.width,
            height: f.height,
            duration_secs: f.duration_secs,
            upload_date: f.upload_date,
        }
    }
}

/// A page of media, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaPage {
    /// Files.
    pub items: Vec<MediaDto>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// Page of the media list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1–100 (default 20; others are clamped).
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// New alternative text (`null` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaPatch {
    /// Alternative text.
    pub alt_text: Option<String>,
}

// ---------------------------------------------------------------- billing

/// Plan, status, quota and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    /// Plan name.
    pub plan: String,
    /// Status.
    pub status: String,
    /// End of the paid period.
    pub end_date: Option<DateTime<Utc>>,
    /// The quota.
    pub quota: QuotaDto,
    /// Payments and changes, newest first.
    pub history: Vec<HistoryDto>,
}

/// A billing history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryDto {
    /// Plan.
    pub plan_name: Option<String>,
    /// Status, or `paid`.
    pub status: String,
    /// Amount in the currency's minor unit.
    pub amount_paid: Option<i64>,
    /// Currency.
    pub currency: Option<String>,
    /// Period start.
    pub period_start: Option<DateTime<Utc>>,
    /// Period end.
    pub period_end: Option<DateTime<Utc>>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&SubscriptionView> for SubscriptionDto {
    fn from(v: &SubscriptionView) -> Self {
        Self {
            plan: v.subscription.plan_name.as_str().to_owned(),
            status: v.subscription.status.as_str().to_owned(),
            end_date: v.subscription.end_date,
            quota: (&v.quota).into(),
            history: v
                .history
                .iter()
                .map(|h| HistoryDto {
                    plan_name: h.plan_name.as_ref().map(|p| p.as_str().to_owned()),
                    status: h.status.clone(),
                    amount_paid: h.amount_paid,
                    currency: h.currency.clone(),
                    period_start: h.period_start,
                    period_end: h.period_end,
                    created_at: h.created_at,
                })
                .collect(),
        }
    }
}

/// A plan to buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Plan name.
    pub plan: String,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlResponse {
    /// The URL.
    pub url: String,
}

/// The problem details of an error answer (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened.
    pub detail: String,
    /// For validation errors: one entry per field.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

//! `/v1/posts`: posts, their targets and results, the list's filters, scheduling and the
//! dry-run validation.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use multivio_domain::content::{PlatformReport, PostReport};
use multivio_domain::post::{ContentMode, PlatformContent, Post, Target, TargetResult, ThreadPart};
use multivio_domain::{ConnectionId, MediaId, Provider, field_path};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::common::present;
use super::rules::{self, PlatformName, PostStatusName};
use crate::error::{ApiError, invalid};

/// A publishing target: a platform name (its primary account), or a platform and one account.
#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl utoipa::PartialSchema for TargetDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        use utoipa::openapi::{KnownFormat, Ref};
        let platform = || Ref::from_schema_name("PlatformName");
        OneOfBuilder::new()
            .item(platform())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("platform", platform())
                    .property(
                        "connection_id",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                            .description(Some("The connected account")),
                    )
                    .required("platform")
                    .required("connection_id")
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    )),
            )
            .description(Some(
                "A platform's name (its primary account, resolved when the job runs), or one account: `{platform, connection_id}`",
            ))
            .into()
    }
}

impl utoipa::ToSchema for TargetDto {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "PlatformName".to_owned(),
            <PlatformName as utoipa::PartialSchema>::schema(),
        ));
    }
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
        let provider = PlatformName::parse(&name)
            .ok_or_else(|| invalid(&field_path(&[&"platforms", &index]), "unknown platform"))?;
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

/// One part of a thread after the first.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadPartDto {
    /// The part's text (a part needs text or media).
    #[serde(default)]
    #[schema(schema_with = rules::content)]
    pub text: String,
    /// The part's media ids, in order.
    #[serde(default)]
    #[schema(schema_with = rules::media_ids)]
    pub media_files: Vec<Uuid>,
}

impl ThreadPartDto {
    fn into_domain(self) -> ThreadPart {
        ThreadPart {
            text: self.text,
            media_files: self.media_files.into_iter().map(MediaId).collect(),
        }
    }

    fn of(p: &ThreadPart) -> Self {
        Self {
            text: p.text.clone(),
            media_files: p.media_files.iter().map(|m| m.0).collect(),
        }
    }
}

/// Content for one platform (extra keys such as `hashtags` or `visibility` are kept).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PlatformContentDto {
    /// The text.
    #[serde(default)]
    pub content: String,
    /// This platform's own thread: the parts after the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<ThreadPartDto>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl utoipa::PartialSchema for PlatformContentDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        content_schema(None).into()
    }
}

/// One platform's content: `content`, its own `thread`, the settings `provider` reads
/// ([`rules::platform_options`]), and any other keys, kept as given.
fn content_schema(provider: Option<Provider>) -> utoipa::openapi::schema::ObjectBuilder {
    let mut schema = rules::JsonValue::object(false)
        .property("content", rules::content())
        .property("thread", rules::thread());
    let options = provider.map(rules::platform_options).unwrap_or_default();
    let described = match provider {
        Some(provider) if !options.is_empty() => format!(
            "Content for {}: `content`, its own `thread`, its settings ({}), and any other keys, kept as given",
            provider.display_name(),
            options
                .iter()
                .map(|(key, _)| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "Content for one platform: `content`, its own `thread`, and any other keys (`hashtags`…), kept as given".to_owned(),
    };
    for (key, option) in options {
        schema = schema.property(key, option);
    }
    schema.description(Some(described))
}

/// The schema `provider`'s content is described by: its own when it reads settings.
fn content_schema_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Linkedin => "LinkedinContent",
        Provider::Pinterest => "PinterestContent",
        Provider::Tiktok => "TiktokContent",
        Provider::Youtube => "YoutubeContent",
        _ => "PlatformContentDto",
    }
}

/// The OpenAPI schemas of the platforms' content that read settings of their own.
macro_rules! platform_content_doc {
    ($($doc:ident => $provider:ident),* $(,)?) => {$(
        #[doc = concat!("The OpenAPI schema of ", stringify!($provider), "'s content.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $doc;

        impl utoipa::PartialSchema for $doc {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                content_schema(Some(Provider::$provider)).into()
            }
        }

        impl utoipa::ToSchema for $doc {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(content_schema_name(Provider::$provider))
            }
        }
    )*};
}

platform_content_doc!(
    LinkedinContentDoc => Linkedin,
    PinterestContentDoc => Pinterest,
    TiktokContentDoc => Tiktok,
    YoutubeContentDoc => Youtube,
);

impl utoipa::ToSchema for PlatformContentDto {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "JsonValue".to_owned(),
            <rules::JsonValue as utoipa::PartialSchema>::schema(),
        ));
        schemas.push((
            "ThreadPartDto".to_owned(),
            <ThreadPartDto as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// A new post (a draft unless `schedule_date` is given).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCreate {
    /// Title.
    #[schema(schema_with = rules::post_name)]
    pub name: String,
    /// `universal` (one text for all) or `specific` (per platform).
    #[serde(default)]
    #[schema(schema_with = rules::content_mode)]
    pub content_mode: Option<String>,
    /// The text in universal mode.
    #[serde(default)]
    #[schema(schema_with = rules::nullable_content)]
    pub universal_content: Option<String>,
    /// Hashtags, mentions, links… (an object).
    #[serde(default)]
    #[schema(schema_with = rules::metadata)]
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content, keyed by platform.
    #[serde(default)]
    #[schema(schema_with = platform_content_schema)]
    pub platform_content: BTreeMap<String, PlatformContentDto>,
    /// Where to publish.
    #[serde(default)]
    pub platforms: Vec<TargetDto>,
    /// Attached media ids.
    #[serde(default)]
    #[schema(schema_with = rules::media_ids)]
    pub media_files: Vec<Uuid>,
    /// A universal thread: the parts after the first, each replying to the one before.
    #[serde(default)]
    #[schema(schema_with = rules::thread)]
    pub thread: Vec<ThreadPartDto>,
    /// Schedule right away for this time (in the future).
    #[serde(default)]
    pub schedule_date: Option<DateTime<Utc>>,
}

/// Per-platform content: keys are platform names.
fn platform_content_schema() -> utoipa::openapi::schema::Schema {
    platform_content_map(false)
}

fn nullable_platform_content_schema() -> utoipa::openapi::schema::Schema {
    platform_content_map(true)
}

fn platform_content_map(nullable: bool) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    let types = if nullable {
        SchemaType::from_iter([Type::Object, Type::Null])
    } else {
        SchemaType::Type(Type::Object)
    };
    let mut map = ObjectBuilder::new().schema_type(types);
    for name in PlatformName::names() {
        if let Some(provider) = PlatformName::parse(name) {
            map = map.property(name, Ref::from_schema_name(content_schema_name(provider)));
        }
    }
    map.additional_properties(Some(
        AdditionalProperties::<utoipa::openapi::schema::Schema>::FreeForm(false),
    ))
    .description(Some(
        "Per-platform content, keyed by platform name (`twitter` or `x` for X)",
    ))
    .build()
    .into()
}

/// Changes to a draft or scheduled post: absent fields are kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPatchDto {
    /// Title.
    #[schema(schema_with = rules::post_name_patch)]
    pub name: Option<String>,
    /// `universal` or `specific`.
    #[schema(schema_with = rules::content_mode)]
    pub content_mode: Option<String>,
    /// Universal text (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::nullable_content)]
    pub universal_content: Option<Option<String>>,
    /// Universal metadata.
    #[schema(schema_with = rules::metadata)]
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content (replaces the map).
    #[schema(schema_with = nullable_platform_content_schema)]
    pub platform_content: Option<BTreeMap<String, PlatformContentDto>>,
    /// Targets (replace the list).
    pub platforms: Option<Vec<TargetDto>>,
    /// Media (replace the list).
    #[schema(schema_with = rules::nullable_media_ids)]
    pub media_files: Option<Vec<Uuid>>,
    /// The universal thread's parts after the first (replace the list).
    #[schema(schema_with = rules::nullable_thread)]
    pub thread: Option<Vec<ThreadPartDto>>,
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
            let provider = PlatformName::parse(&name).ok_or_else(|| {
                invalid(
                    &field_path(&[&"platform_content", &name]),
                    "unknown platform",
                )
            })?;
            Ok((
                provider,
                PlatformContent {
                    content: c.content,
                    thread: c
                        .thread
                        .into_iter()
                        .map(ThreadPartDto::into_domain)
                        .collect(),
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
                thread: self
                    .thread
                    .into_iter()
                    .map(ThreadPartDto::into_domain)
                    .collect(),
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
            thread: self
                .thread
                .map(|parts| parts.into_iter().map(ThreadPartDto::into_domain).collect()),
        })
    }
}

/// The outcome for one target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetResultDto {
    /// `pending`, `publishing`, `published`, `failed` or `needs_review` (a send was
    /// interrupted and the platform cannot tell whether it went out: check the account, then
    /// resolve it with `POST /v1/posts/{id}/targets/{key}/review`).
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
    /// When the last send began.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it went out.
    pub published_at: Option<DateTime<Utc>>,
    /// For a thread: every part published so far, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartResultDto>,
}

/// One published part of a thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartResultDto {
    /// The platform's id of the part.
    pub platform_post_id: String,
    /// Link to it.
    pub url: Option<String>,
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
            last_attempt_at: r.last_attempt_at,
            published_at: r.published_at,
            parts: r
                .parts
                .iter()
                .map(|p| PartResultDto {
                    platform_post_id: p.platform_post_id.clone(),
                    url: p.url.clone(),
                })
                .collect(),
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
    #[schema(schema_with = platform_content_schema)]
    pub platform_content: BTreeMap<String, PlatformContentDto>,
    /// Where it goes.
    pub platforms: Vec<TargetDto>,
    /// Attached media.
    pub media_files: Vec<Uuid>,
    /// A universal thread's parts after the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<ThreadPartDto>,
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
                            thread: v.thread.iter().map(ThreadPartDto::of).collect(),
                            extra: v.extra.clone(),
                        },
                    )
                })
                .collect(),
            platforms: p.platforms.as_slice().iter().map(TargetDto::of).collect(),
            media_files: p.media_files.iter().map(|m| m.0).collect(),
            thread: p.thread.iter().map(ThreadPartDto::of).collect(),
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
#[into_params(parameter_in = Query)]
pub struct PostListQuery {
    /// Page size, 1–100 (default 20; others are clamped).
    #[param(schema_with = rules::page_limit)]
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(schema_with = rules::cursor)]
    pub cursor: Option<String>,
    /// Only this status.
    #[param(value_type = Option<PostStatusName>)]
    pub status: Option<String>,
    /// Only posts to this platform.
    #[param(value_type = Option<PlatformName>)]
    pub platform: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// What the user found when checking a target that needs review: `published` (the post is on
/// the platform; give its `url` when known), or `resend` (it is not: send it again).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `published` or `resend`.
    pub resolution: String,
    /// With `published`: the post's address (https).
    pub url: Option<String>,
}

impl utoipa::PartialSchema for ReviewRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let resolution = |name: &str, what: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name.to_owned()]))
                .description(Some(what.to_owned()))
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property(
                        "resolution",
                        resolution("published", "The post is on the platform"),
                    )
                    .property("url", rules::published_url())
                    .required("resolution")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property(
                        "resolution",
                        resolution("resend", "The post is not on the platform: send it again"),
                    )
                    .required("resolution")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .description(Some(
                "What the user found: `published` (with the post's `url` when known) or `resend`",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ReviewRequest {}

impl ReviewRequest {
    /// The core's resolution, or what is wrong with the request.
    pub fn into_domain(self) -> Result<multivio_domain::post::Resolution, ApiError> {
        use multivio_domain::post::Resolution;
        match self.resolution.as_str() {
            "published" => Resolution::published(self.url.as_deref())
                .map_err(|e| multivio_app::AppError::Invalid(vec![e]).into()),
            "resend" if self.url.is_some() => {
                Err(invalid("url", "is only for a post found published"))
            }
            "resend" => Ok(Resolution::Resend),
            _ => Err(invalid("resolution", "must be `published` or `resend`")),
        }
    }
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
    /// Whether the platform accepts it (every part of a thread).
    pub valid: bool,
    /// Text length (of the first part), counted the way this platform counts.
    pub length: usize,
    /// The platform's limit.
    pub limit: usize,
    /// What is wrong (with the first part).
    pub errors: Vec<IssueDto>,
    /// For a thread: the verdict on each part after the first, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartVerdict>,
}

/// The verdict on one thread part after the first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartVerdict {
    /// Whether the platform accepts this part.
    pub valid: bool,
    /// Its text length, counted the way this platform counts.
    pub length: usize,
    /// The platform's limit.
    pub limit: usize,
    /// What is wrong with it.
    pub errors: Vec<IssueDto>,
}

fn issues(r: &PlatformReport) -> Vec<IssueDto> {
    r.errors
        .iter()
        .map(|e| IssueDto {
            code: serde_json::to_value(e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: e.message.clone(),
        })
        .collect()
}

impl From<&PlatformReport> for PlatformVerdict {
    fn from(r: &PlatformReport) -> Self {
        Self {
            valid: r.valid,
            length: r.length,
            limit: r.limit,
            errors: issues(r),
            parts: r
                .parts
                .iter()
                .map(|p| PartVerdict {
                    valid: p.valid,
                    length: p.length,
                    limit: p.limit,
                    errors: issues(p),
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

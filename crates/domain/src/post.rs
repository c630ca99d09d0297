//! Posts: content written once (universal) or per platform (specific), their targets, and their
//! publishing lifecycle.
//!
//! ```text
//!   draft ──schedule──▶ scheduled ──(due)──┐
//!     │  ◀──cancel────────┘                 ▼
//!     └────────────publish now──────▶ publishing ──▶ published
//!                                       ▲   │  └───▶ partially_published ─┐
//!                                       │   └──────▶ failed ──────────────┤
//!                                       └──────── retry failed targets ◀──┘
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{ConnectionId, MediaId, PostId, UserId};
use crate::provider::Provider;
use crate::text;

mod lifecycle;
pub mod options;
mod target;

pub use lifecycle::{
    PostAction, PostError, Resolution, Resolved, Settled, TargetOutcome, TransitionError,
    check_schedule_date,
};
pub use target::{Target, Targets};

/// A post's name (`posts.name`): trimmed, 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostName(String);

impl PostName {
    /// Longest name.
    pub const MAX_LEN: usize = 255;

    /// Validates a name.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        text::bounded("name", value.as_ref(), 1, Self::MAX_LEN, false).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PostName {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<PostName> for String {
    fn from(value: PostName) -> Self {
        value.0
    }
}

impl fmt::Display for PostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether one text goes to every platform or each platform has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentMode {
    /// `universal_content` for every selected platform (the seed's default).
    #[default]
    Universal,
    /// `platform_content[platform].content` for each selected platform.
    Specific,
}

impl ContentMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Universal => "universal",
            Self::Specific => "specific",
        }
    }
}

impl FromStr for ContentMode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "universal" => Ok(Self::Universal),
            "specific" => Ok(Self::Specific),
            other => Err(FieldError::new(
                "content_mode",
                format!("unknown content mode `{other}`"),
            )),
        }
    }
}

/// One platform's content in specific mode (a value of `posts.platform_content`): the text, and
/// any other fields the client keeps there (hashtags, visibility, title…), preserved as given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlatformContent {
    /// The text to publish.
    #[serde(default)]
    pub content: String,
    /// The parts of a thread after the first, for this platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<ThreadPart>,
    /// Other fields, kept verbatim; those a platform reads as its settings (a Pinterest board,
    /// a YouTube title…) are checked when the post is written (see [`options`]).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One part of a thread after the first: its own text and media. (The first part is the post's
/// own text and media.)
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadPart {
    /// The part's text.
    #[serde(default)]
    pub text: String,
    /// The part's media, in order.
    #[serde(default)]
    pub media_files: Vec<MediaId>,
}

/// One part of what goes to a platform: the first is the post itself, the others its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// The text.
    pub text: &'a str,
    /// The media, in order.
    pub media_files: &'a [MediaId],
}

/// Most parts a thread may have.
pub const MAX_THREAD_PARTS: usize = 25;

/// The status of a post (`posts.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Being written; not going anywhere.
    #[default]
    Draft,
    /// Will publish at `schedule_date`.
    Scheduled,
    /// Jobs are publishing it.
    Publishing,
    /// Every target published.
    Published,
    /// Some targets published, the others failed or have an unknown outcome.
    PartiallyPublished,
    /// No target published.
    Failed,
}

impl PostStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Publishing => "publishing",
            Self::Published => "published",
            Self::PartiallyPublished => "partially_published",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for PostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PostStatus {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "draft" => Self::Draft,
            "scheduled" => Self::Scheduled,
            "publishing" => Self::Publishing,
            "published" => Self::Published,
            "partially_published" => Self::PartiallyPublished,
            "failed" => Self::Failed,
            other => {
                return Err(FieldError::new(
                    "status",
                    format!("unknown post status `{other}`"),
                ));
            }
        })
    }
}

/// The status of one target's publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Waiting for its job (first try, or a retry after a transient error).
    Pending,
    /// A worker is sending it. Found in this state by a later attempt, it means the previous
    /// worker died mid-send: the outcome is unknown.
    Publishing,
    /// The platform accepted it.
    Published,
    /// It definitely did not go out.
    Failed,
    /// It may or may not have gone out (the send was interrupted and the platform offers no
    /// way to tell): never re-sent automatically. A person checks the account and resolves it
    /// — marks it published, or asks for it to be sent again ([`Post::resolve_review`]).
    /// (Stored as `unknown` before it had this name.)
    #[serde(alias = "unknown")]
    NeedsReview,
}

impl TargetStatus {
    /// Whether no more work is planned for the target.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Published | Self::Failed | Self::NeedsReview)
    }
}

/// Why a target failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetError {
    /// A stable machine code (`rate_limited`, `needs_reauth`, `rejected`, …, or the platform's).
    pub code: String,
    /// A plain explanation.
    pub message: String,
}

impl TargetError {
    /// An error.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One entry of `publish_results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    /// Where it stands.
    pub status: TargetStatus,
    /// The platform.
    pub platform: Provider,
    /// The account used (resolved from the primary when the target named none).
    pub connection_id: Option<ConnectionId>,
    /// The platform's id of the published post.
    pub platform_post_id: Option<String>,
    /// Public URL of the published post.
    pub url: Option<String>,
    /// Last error.
    pub error: Option<TargetError>,
    /// Sends attempted so far.
    pub attempts: u32,
    /// When the last send began (the platform may have received it from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the platform accepted it.
    pub published_at: Option<DateTime<Utc>>,
    /// For a thread: each part the platform accepted so far, in order (the target's own id
    /// and URL are the first part's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartResult>,
}

/// One part of a thread as a platform accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartResult {
    /// The platform's id of the part.
    pub platform_post_id: String,
    /// Its public URL.
    pub url: Option<String>,
    /// What a reply to it needs besides the id (Bluesky's record CID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl TargetResult {
    /// A fresh, pending result for a target.
    pub fn pending(target: &Target) -> Self {
        Self {
            status: TargetStatus::Pending,
            platform: target.provider,
            connection_id: target.connection_id,
            platform_post_id: None,
            url: None,
            error: None,
            attempts: 0,
            last_attempt_at: None,
            published_at: None,
            parts: Vec::new(),
        }
    }

    /// The account this target must go on through, whatever its platform's primary is now:
    /// the one a send went to whose outcome is open (it may be there already), or the one that
    /// holds its thread's first parts (the rest reply to them). `None`: nothing went out, any
    /// account the target resolves to may take it.
    pub fn bound_connection(&self) -> Option<ConnectionId> {
        if self.status == TargetStatus::Publishing || !self.parts.is_empty() {
            self.connection_id
        } else {
            None
        }
    }
}

/// A post (`posts` row).
///
/// Fields are public for adapters to load and store; change `status`, `publish_results` and
/// `quota_consumed` only through the lifecycle methods (see [`PostError`]), which keep them
/// consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Row id.
    pub id: PostId,
    /// Owner.
    pub user_id: UserId,
    /// Name.
    pub name: PostName,
    /// Universal or specific.
    pub content_mode: ContentMode,
    /// Text for universal mode.
    pub universal_content: Option<String>,
    /// Universal metadata (a JSON object: hashtags, mentions, links…).
    pub universal_metadata: serde_json::Value,
    /// Per-platform content for specific mode.
    pub platform_content: BTreeMap<Provider, PlatformContent>,
    /// Targets.
    pub platforms: Targets,
    /// Attached media, in order.
    pub media_files: Vec<MediaId>,
    /// The parts of a universal thread after the first (`posts.thread`).
    pub thread: Vec<ThreadPart>,
    /// When to publish (scheduled posts).
    pub schedule_date: Option<DateTime<Utc>>,
    /// Lifecycle status.
    pub status: PostStatus,
    /// Id of the latest publishing run (informational, `posts.publish_job_id`).
    pub publish_job_id: Option<String>,
    /// When the first target was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Per-target results, keyed as [`Targets::result_key`] says.
    pub publish_results: BTreeMap<String, TargetResult>,
    /// Whether the post currently holds one unit of its owner's monthly quota.
    pub quota_consumed: bool,
    /// Optimistic-concurrency revision: the store bumps it on every write and refuses a write
    /// based on an older one.
    pub revision: i64,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

/// Longest text accepted in any content field before platform rules apply (the longest platform
/// limit is Facebook's 63,206).
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Most media attachments per post.
pub const MAX_MEDIA_PER_POST: usize = 20;

/// A post's editable content as received (create, or the whole of an edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostInput {
    /// Name.
    pub name: String,
    /// Mode.
    pub content_mode: ContentMode,
    /// Universal text.
    pub universal_content: Option<String>,
    /// Universal metadata (must be a JSON object when given).
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content.
    pub platform_content: BTreeMap<Provider, PlatformContent>,
    /// Targets.
    pub platforms: Vec<Target>,
    /// Media ids.
    pub media_files: Vec<MediaId>,
    /// The parts of a universal thread after the first.
    pub thread: Vec<ThreadPart>,
}

/// A post's editable content, structurally valid (platform rules are checked separately, see
/// [`crate::content::validate_post`]). Built by [`PostContent::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostContent {
    /// Name.
    pub name: PostName,
    /// Mode.
    pub content_mode: ContentMode,
    /// Universal text (`None` when blank).
    pub universal_content: Option<String>,
    /// Universal metadata (a JSON object).
    pub universal_metadata: serde_json::Value,
    /// Per-platform content.
    pub platform_content: BTreeMap<Provider, PlatformContent>,
    /// Targets.
    pub platforms: Targets,
    /// Media ids, without repeats.
    pub media_files: Vec<MediaId>,
    /// The parts of a universal thread after the first.
    pub thread: Vec<ThreadPart>,
}

/// Checks the parts of a thread at `path` (`thread`, `platform_content.x.thread`): at most
/// [`MAX_THREAD_PARTS`] (with the first), each with text or media, texts of bounded length,
/// media without repeats.
fn check_thread(
    path: &[&dyn fmt::Display],
    parts: &mut [ThreadPart],
    errors: &mut Vec<FieldError>,
) {
    let here = |extra: &[&dyn fmt::Display]| {
        let all: Vec<&dyn fmt::Display> =
            path.iter().copied().chain(extra.iter().copied()).collect();
        crate::error::field_path(&all)
    };
    if parts.len() + 1 > MAX_THREAD_PARTS {
        errors.push(FieldError::new(
            here(&[]),
            format!("a thread has at most {MAX_THREAD_PARTS} parts"),
        ));
    }
    for (i, part) in parts.iter_mut().enumerate() {
        if part.text.trim().is_empty() && part.media_files.is_empty() {
            errors.push(FieldError::new(here(&[&i]), "a part needs text or media"));
        }
        if part.text.chars().count() > MAX_CONTENT_CHARS {
            errors.push(FieldError::new(here(&[&i, &"text"]), "is too long"));
        }
        let mut seen = Vec::with_capacity(part.media_files.len());
        part.media_files.retain(|id| {
            let fresh = !seen.contains(id);
            seen.push(*id);
            fresh
        });
        if part.media_files.len() > MAX_MEDIA_PER_POST {
            errors.push(FieldError::new(
                here(&[&i, &"media_files"]),
                format!("at most {MAX_MEDIA_PER_POST} files per part"),
            ));
        }
    }
}

impl PostContent {
    /// Checks the structure of a post, reporting every problem at once.
    pub fn parse(mut input: PostInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_thread(&[&"thread"], &mut input.thread, &mut errors);
        for (p, c) in input.platform_content.iter_mut() {
            check_thread(
                &[&"platform_content", p, &"thread"],
                &mut c.thread,
                &mut errors,
            );
        }
        let name = PostName::new(&input.name).map_err(|e| errors.push(e)).ok();
        let universal_content = input.universal_content.filter(|t| !t.trim().is_empty());
        if universal_content
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_CONTENT_CHARS)
        {
            errors.push(FieldError::new("universal_content", "is too long"));
        }
        for (p, c) in &input.platform_content {
            if c.content.chars().count() > MAX_CONTENT_CHARS {
                errors.push(FieldError::new(
                    crate::error::field_path(&[&"platform_content", p, &"content"]),
                    "is too long",
                ));
            }
            errors.extend(options::check(*p, &c.extra));
        }
        let universal_metadata = match input.universal_metadata {
            None | Some(serde_json::Value::Null) => serde_json::json!({}),
            Some(v @ serde_json::Value::Object(_)) => v,
            Some(_) => {
                errors.push(FieldError::new(
                    "universal_metadata",
                    "must be a JSON object",
                ));
                serde_json::Value::Null
            }
        };
        let platforms = Targets::new(input.platforms)
            .map_err(|e| errors.push(e))
            .ok();
        let mut media_files: Vec<MediaId> = Vec::with_capacity(input.media_files.len());
        for id in input.media_files {
            if !media_files.contains(&id) {
                media_files.push(id);
            }
        }
        if media_files.len() > MAX_MEDIA_PER_POST {
            errors.push(FieldError::new(
                "media_files",
                format!("at most {MAX_MEDIA_PER_POST} files per post"),
            ));
        }
        match (name, platforms) {
            (Some(name), Some(platforms)) if errors.is_empty() => Ok(Self {
                name,
                content_mode: input.content_mode,
                universal_content,
                universal_metadata,
                platform_content: input.platform_content,
                platforms,
                media_files,
                thread: input.thread,
            }),
            _ => Err(errors),
        }
    }
}

impl Post {
    /// A new draft.
    pub fn new_draft(
        id: PostId,
        user_id: UserId,
        content: PostContent,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            user_id,
            name: content.name,
            content_mode: content.content_mode,
            universal_content: content.universal_content,
            universal_metadata: content.universal_metadata,
            platform_content: content.platform_content,
            platforms: content.platforms,
            media_files: content.media_files,
            thread: content.thread,
            schedule_date: None,
            status: PostStatus::Draft,
            publish_job_id: None,
            published_at: None,
            publish_results: BTreeMap::new(),
            quota_consumed: false,
            revision: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The editable content, as it stands.
    pub fn content(&self) -> PostContent {
        PostContent {
            name: self.name.clone(),
            content_mode: self.content_mode,
            universal_content: self.universal_content.clone(),
            universal_metadata: self.universal_metadata.clone(),
            platform_content: self.platform_content.clone(),
            platforms: self.platforms.clone(),
            media_files: self.media_files.clone(),
            thread: self.thread.clone(),
        }
    }

    /// What goes to `provider`, part by part (see [`PostContent::parts_for`]).
    pub fn parts_for(&self, provider: Provider) -> Vec<Part<'_>> {
        parts_of(
            self.content_mode,
            self.universal_content.as_deref(),
            &self.platform_content,
            &self.media_files,
            &self.thread,
            provider,
        )
    }

    /// The text that goes to `provider`: the universal text in universal mode, the platform's
    /// own in specific mode; `None` when there is none.
    pub fn text_for(&self, provider: Provider) -> Option<&str> {
        match self.content_mode {
            ContentMode::Universal => self.universal_content.as_deref(),
            ContentMode::Specific => self
                .platform_content
                .get(&provider)
                .map(|c| c.content.as_str()),
        }
    }
}

/// The parts that go to `provider`: the first is the post's text for it with the post's media,
/// then the universal thread (universal mode) or the platform's own thread (specific mode).
fn parts_of<'a>(
    mode: ContentMode,
    universal: Option<&'a str>,
    platform_content: &'a BTreeMap<Provider, PlatformContent>,
    media_files: &'a [MediaId],
    thread: &'a [ThreadPart],
    provider: Provider,
) -> Vec<Part<'a>> {
    let (first, rest): (&str, &[ThreadPart]) = match mode {
        ContentMode::Universal => (universal.unwrap_or(""), thread),
        ContentMode::Specific => platform_content
            .get(&provider)
            .map_or(("", &[][..]), |c| (c.content.as_str(), c.thread.as_slice())),
    };
    std::iter::once(Part {
        text: first,
        media_files,
    })
    .chain(rest.iter().map(|p| Part {
        text: &p.text,
        media_files: &p.media_files,
    }))
    .collect()
}

impl PostContent {
    /// What goes to `provider`, part by part: one part for a single post, several for a thread.
    pub fn parts_for(&self, provider: Provider) -> Vec<Part<'_>> {
        parts_of(
            self.content_mode,
            self.universal_content.as_deref(),
            &self.platform_content,
            &self.media_files,
            &self.thread,
            provider,
        )
    }

    /// Every media id of every part (each once), the first part's first.
    pub fn all_media(&self) -> Vec<MediaId> {
        let mut all: Vec<MediaId> = Vec::new();
        let threads = self
            .thread
            .iter()
            .chain(self.platform_content.values().flat_map(|c| c.thread.iter()));
        for id in self
            .media_files
            .iter()
            .chain(threads.flat_map(|p| p.media_files.iter()))
        {
            if !all.contains(id) {
                all.push(*id);
            }
        }
        all
    }

    /// The text that goes to `provider` (see [`Post::text_for`]).
    pub fn text_for(&self, provider: Provider) -> Option<&str> {
        match self.content_mode {
            ContentMode::Universal => self.universal_content.as_deref(),
            ContentMode::Specific => self
                .platform_content
                .get(&provider)
                .map(|c| c.content.as_str()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

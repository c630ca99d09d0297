//! Checking a whole post: its content against every platform it targets (each with
//! [`validate_for`]), plus the checks that are about the post rather than one platform (at least
//! one platform, a future schedule date).
//!
//! Universal content is checked against every selected platform; specific content against its
//! own platform (a platform without specific content is checked with empty text, so it passes
//! only if the platform accepts media alone).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::platform_check::validate_for;
use super::{ContentIssue, ContentIssueCode, MediaInfo, PlatformReport, ValidationOptions};
use crate::media::MediaFile;
use crate::post::PostContent;
use crate::provider::Provider;

/// A problem with the post as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostIssueCode {
    /// No platform is selected.
    NoPlatforms,
    /// The schedule date is not in the future.
    ScheduleInPast,
}

/// One problem with the post as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostIssue {
    /// Machine-readable kind.
    pub code: PostIssueCode,
    /// The input field concerned.
    pub field: String,
    /// Plain explanation.
    pub message: String,
}

/// The verdict on a post: valid only if every selected platform accepts it and the post-level
/// checks pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostReport {
    /// `true` when `platforms` are all valid and `errors` is empty.
    pub valid: bool,
    /// One report per selected platform.
    pub platforms: BTreeMap<Provider, PlatformReport>,
    /// Problems with the post as a whole.
    pub errors: Vec<PostIssue>,
}

impl PostReport {
    /// Every problem as a field error, for an `Invalid` answer: a platform's issues point at
    /// its (first) entry in `targets`, e.g. `platforms.0`.
    pub fn field_errors(&self, targets: &crate::post::Targets) -> Vec<crate::FieldError> {
        let mut out: Vec<crate::FieldError> = self
            .errors
            .iter()
            .map(|e| crate::FieldError::new(e.field.clone(), e.message.clone()))
            .collect();
        for (p, report) in &self.platforms {
            let index = targets.iter().position(|t| t.provider == *p).unwrap_or(0);
            let at = crate::field_path(&[&"platforms", &index]);
            for issue in &report.errors {
                out.push(crate::FieldError::new(at.clone(), issue.message.clone()));
            }
            for (n, part) in report.parts.iter().enumerate() {
                for issue in &part.errors {
                    out.push(crate::FieldError::new(
                        at.clone(),
                        format!("part {}: {}", n + 2, issue.message),
                    ));
                }
            }
        }
        out
    }
}

/// What the validator needs to know about an attached file.
pub fn media_info(file: &MediaFile) -> MediaInfo {
    MediaInfo {
        mime_type: file.file_type.clone(),
        size_bytes: file.file_size,
        width: file.width,
        height: file.height,
        duration_secs: file.duration_secs,
        codec: None,
    }
}

/// Validates a post's content for each of its platforms, every part of a thread as its
/// platform counts it.
///
/// `media` are the post's attached files in order, then those only a thread's later parts
/// carry, in the order of [`PostContent::all_media`] (for a post without a thread: its
/// `media_files`); `opts` carries per-account settings (Mastodon instance limits, X long
/// posts). When `schedule_date` is given it must be after `now`.
pub fn validate_post(
    post: &PostContent,
    media: &[MediaInfo],
    opts: &ValidationOptions,
    schedule_date: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> PostReport {
    let mut errors = Vec::new();
    if post.platforms.is_empty() {
        errors.push(PostIssue {
            code: PostIssueCode::NoPlatforms,
            field: "platforms".to_owned(),
            message: "select at least one platform".to_owned(),
        });
    }
    if let Some(Err(e)) = schedule_date.map(|at| crate::post::check_schedule_date(at, now)) {
        errors.push(PostIssue {
            code: PostIssueCode::ScheduleInPast,
            field: e.field,
            message: e.reason,
        });
    }
    let thread_only: Vec<crate::MediaId> = post
        .all_media()
        .into_iter()
        .filter(|id| !post.media_files.contains(id))
        .collect();
    let first = &media[..media.len().saturating_sub(thread_only.len())];
    let info_of = |id: &crate::MediaId| {
        post.media_files
            .iter()
            .position(|m| m == id)
            .and_then(|i| first.get(i))
            .or_else(|| {
                thread_only
                    .iter()
                    .position(|m| m == id)
                    .and_then(|i| media.get(first.len() + i))
            })
            .cloned()
    };
    let platforms: BTreeMap<Provider, PlatformReport> = post
        .platforms
        .providers()
        .into_iter()
        .map(|p| {
            let parts = post.parts_for(p);
            let mut report = validate_for(p, parts.first().map_or("", |f| f.text), first, opts);
            report.parts = parts
                .iter()
                .skip(1)
                .map(|part| {
                    let infos: Vec<MediaInfo> =
                        part.media_files.iter().filter_map(info_of).collect();
                    validate_for(p, part.text, &infos, opts)
                })
                .collect();
            if !report.parts.is_empty() && !p.supports_threads() {
                report.errors.push(ContentIssue {
                    code: ContentIssueCode::ThreadsNotSupported,
                    message: format!(
                        "{} does not publish threads: send one part there",
                        p.display_name()
                    ),
                });
            }
            report.valid = report.errors.is_empty() && report.parts.iter().all(|r| r.valid);
            (p, report)
        })
        .collect();
    let valid = errors.is_empty() && platforms.values().all(|r| r.valid);
    PostReport {
        valid,
        platforms,
        errors,
    }
}

#[cfg(test)]
mod tests;

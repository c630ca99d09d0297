//! Embedding `multivio-domain` in another service: validate a post for several platforms, with
//! no database, no HTTP and no async runtime.
//!
//! Run with `cargo run -p multivio-domain --example validate_post`.
#![allow(clippy::print_stdout)]

use chrono::{Duration, Utc};
use multivio_domain::content::{MediaInfo, ValidationOptions, validate_post};
use multivio_domain::post::{ContentMode, PlatformContent, PostContent, PostInput, Target};
use multivio_domain::quota::{PlanCatalog, Quota};
use multivio_domain::{FieldError, Provider};

fn main() -> Result<(), Vec<FieldError>> {
    // 1. The post as a client sent it: one text for every platform, one image.
    let post = PostContent::parse(PostInput {
        name: "Spring launch".into(),
        content_mode: ContentMode::Universal,
        universal_content: Some(
            "Our spring collection is here 🌸 Free shipping this week: https://example.com/spring"
                .into(),
        ),
        platforms: vec![
            Target::primary(Provider::X),
            Target::primary(Provider::Bluesky),
            Target::primary(Provider::Instagram),
            Target::primary(Provider::Youtube),
        ],
        ..Default::default()
    })?;
    let photo = MediaInfo {
        mime_type: "image/jpeg".into(),
        size_bytes: 850_000,
        width: Some(1080),
        height: Some(1350),
        duration_secs: None,
        codec: None,
    };

    // 2. Validate for every selected platform, scheduled for tomorrow.
    let now = Utc::now();
    let report = validate_post(
        &post,
        std::slice::from_ref(&photo),
        &ValidationOptions::default(),
        Some(now + Duration::days(1)),
        now,
    );
    println!("valid everywhere: {}", report.valid);
    for (platform, r) in &report.platforms {
        println!(
            "  {:<10} {:>4}/{:<5} {}",
            platform.display_name(),
            r.length,
            r.limit,
            if r.valid { "ok" } else { "✗" }
        );
        for issue in &r.errors {
            println!("             - {}", issue.message);
        }
    }

    // 3. Fix it the way a person would: YouTube needs a video, so drop it; give X its own text.
    let mut fixed = post.clone();
    fixed.platforms = multivio_domain::post::Targets::new(vec![
        Target::primary(Provider::X),
        Target::primary(Provider::Bluesky),
        Target::primary(Provider::Instagram),
    ])
    .map_err(|e| vec![e])?;
    fixed.content_mode = ContentMode::Specific;
    for p in [Provider::Bluesky, Provider::Instagram] {
        let text = post.universal_content.clone().unwrap_or_default();
        fixed.platform_content.insert(
            p,
            PlatformContent {
                content: text,
                ..Default::default()
            },
        );
    }
    fixed.platform_content.insert(
        Provider::X,
        PlatformContent {
            content: "Spring is here 🌸 https://example.com/spring".into(),
            ..Default::default()
        },
    );
    let report = validate_post(&fixed, &[photo], &ValidationOptions::default(), None, now);
    println!("after the fix: valid = {}", report.valid);

    // 4. The same crate answers quota questions.
    let free = PlanCatalog::new().free();
    let quota = Quota::full(free.monthly_post_quota, now);
    let after_one = quota
        .consume()
        .map_err(|e| vec![FieldError::new("quota", e.to_string())])?;
    println!(
        "free plan: {} of {} posts left",
        after_one.remaining_posts, after_one.monthly_post_quota
    );
    Ok(())
}

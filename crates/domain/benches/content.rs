//! How fast posts are counted and validated, against a baseline measured in the same run:
//! counting extended grapheme clusters (`unicode-segmentation`), the least any Unicode-aware
//! counter does. Prints ns per call and the ratio to the baseline.
//!
//! `just bench` runs it (release build).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use multivio_domain::Provider;
use multivio_domain::content::{MediaInfo, ValidationOptions, count, validate_for};
use unicode_segmentation::UnicodeSegmentation;

/// Mean time of one call of `f`, over enough calls to take about `budget`.
fn measure(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up and size the batch.
    let mut n = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        if start.elapsed() >= budget / 10 {
            break;
        }
        n *= 2;
    }
    let start = Instant::now();
    let runs = n * 10;
    for _ in 0..runs {
        f();
    }
    start.elapsed().as_nanos() as f64 / runs as f64
}

fn main() {
    let budget = Duration::from_millis(300);
    let opts = ValidationOptions::default();
    let texts = [
        ("ascii 280", "a".repeat(270) + " https://x.co"),
        ("mixed 2 URLs + emoji", "Hello 👋 https://example.com/a/very/long/path?x=1 and https://t.co/x — café ☕ 日本語のテキスト #launch @friend".repeat(2)),
        ("CJK 140", "日本語".repeat(46)),
        ("long 3000", "Lorem ipsum dolor sit amet, consectetur adipiscing elit. 🚀 ".repeat(50)),
    ];
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>8}",
        "text", "graphemes ns", "platform", "ns", "ratio"
    );
    for (name, text) in &texts {
        let baseline = measure(budget, || {
            black_box(black_box(text.as_str()).graphemes(true).count());
        });
        for platform in [
            Provider::X,
            Provider::Bluesky,
            Provider::Mastodon,
            Provider::Threads,
        ] {
            let ns = measure(budget, || {
                black_box(count(platform, black_box(text), &opts));
            });
            println!(
                "{name:<24} {baseline:>12.0} {:>12} {ns:>12.0} {:>7.1}x",
                platform.as_str(),
                ns / baseline
            );
        }
    }
    let media = [MediaInfo {
        mime_type: "image/jpeg".into(),
        size_bytes: 800_000,
        width: Some(1080),
        height: Some(1350),
        duration_secs: None,
        codec: None,
    }];
    let text = &texts[1].1;
    let baseline = measure(budget, || {
        black_box(black_box(text.as_str()).graphemes(true).count());
    });
    let ns = measure(budget, || {
        for p in Provider::ALL {
            black_box(validate_for(p, black_box(text), &media, &opts));
        }
    });
    println!(
        "\nvalidate one post for all {} platforms: {ns:.0} ns ({:.1}x counting its graphemes once, {:.0} posts/s on one core)",
        Provider::ALL.len(),
        ns / baseline,
        1e9 / ns
    );
}

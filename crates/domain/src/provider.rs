//! Social platforms Multivio publishes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A social platform (the `provider` column of `social_connections`, and the keys of a post's
/// `platforms` / `platform_content`).
///
/// X is stored as `twitter`, the name the seed schema uses; `x` is accepted as an alias when
/// parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// X, formerly Twitter.
    #[serde(rename = "twitter", alias = "x")]
    X,
    /// Facebook pages.
    Facebook,
    /// Instagram business accounts (published through the linked Facebook page).
    Instagram,
    /// LinkedIn members and organizations.
    Linkedin,
    /// Threads.
    Threads,
    /// Bluesky (AT Protocol).
    Bluesky,
    /// Mastodon (any instance).
    Mastodon,
    /// Pinterest.
    Pinterest,
    /// TikTok.
    Tiktok,
    /// YouTube.
    Youtube,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 10] = [
        Provider::X,
        Provider::Facebook,
        Provider::Instagram,
        Provider::Linkedin,
        Provider::Threads,
        Provider::Bluesky,
        Provider::Mastodon,
        Provider::Pinterest,
        Provider::Tiktok,
        Provider::Youtube,
    ];

    /// The name stored in the database and used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::X => "twitter",
            Provider::Facebook => "facebook",
            Provider::Instagram => "instagram",
            Provider::Linkedin => "linkedin",
            Provider::Threads => "threads",
            Provider::Bluesky => "bluesky",
            Provider::Mastodon => "mastodon",
            Provider::Pinterest => "pinterest",
            Provider::Tiktok => "tiktok",
            Provider::Youtube => "youtube",
        }
    }

    /// Whether the platform publishes threads (a post followed by replies to itself), so a
    /// post of several parts can go there.
    pub const fn supports_threads(self) -> bool {
        matches!(
            self,
            Provider::X | Provider::Bluesky | Provider::Mastodon | Provider::Threads
        )
    }

    /// A human-readable name.
    pub const fn display_name(self) -> &'static str {
        match self {
            Provider::X => "X",
            Provider::Facebook => "Facebook",
            Provider::Instagram => "Instagram",
            Provider::Linkedin => "LinkedIn",
            Provider::Threads => "Threads",
            Provider::Bluesky => "Bluesky",
            Provider::Mastodon => "Mastodon",
            Provider::Pinterest => "Pinterest",
            Provider::Tiktok => "TikTok",
            Provider::Youtube => "YouTube",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a supported provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}`")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "x" | "twitter" => Ok(Provider::X),
            other => Provider::ALL
                .into_iter()
                .find(|p| p.as_str() == other)
                .ok_or_else(|| UnknownProvider(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests;

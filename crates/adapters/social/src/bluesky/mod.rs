//! Bluesky (AT Protocol): sign-in with an app password, session refresh, and posts with rich
//! text, images and reply threads.

pub mod facets;
pub mod images;
pub mod tid;

use crate::http::{ServerPolicy, SetupError};

/// How the Bluesky adapter reaches the network.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    /// Where sign-ins go when the user names no server (the main entryway,
    /// `https://bsky.social`).
    pub service_url: String,
    /// Which user-given server URLs are allowed.
    pub server_policy: ServerPolicy,
    /// The largest image blob, in bytes: larger images are downscaled and re-encoded.
    pub max_image_bytes: usize,
}

/// The Bluesky client.
#[derive(Debug, Clone)]
pub struct Bluesky {
    config: BlueskyConfig,
}

impl Bluesky {
    /// A client for `config`.
    pub fn new(config: BlueskyConfig) -> Result<Self, SetupError> {
        Ok(Self { config })
    }
}

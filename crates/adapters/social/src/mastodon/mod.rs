//! Mastodon (any instance): per-instance app registration, OAuth, and statuses with media and
//! reply threads, retried safely with `Idempotency-Key`.

use std::sync::Arc;

use multivio_ports::platform::InstanceAppStore;
use multivio_ports::vault::TokenVault;

use crate::http::{ServerPolicy, SetupError};

/// How the Mastodon adapter registers itself and reaches instances.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// Which instance URLs users may name.
    pub server_policy: ServerPolicy,
    /// The app's name on instances (`client_name`).
    pub client_name: String,
    /// The app's website, if any.
    pub website: Option<String>,
}

/// The Mastodon client.
#[allow(missing_debug_implementations)]
pub struct Mastodon {
    config: MastodonConfig,
    apps: Arc<dyn InstanceAppStore>,
    vault: Arc<dyn TokenVault>,
}

impl Mastodon {
    /// A client for `config`, keeping instance registrations in `apps` (their secrets sealed
    /// with `vault`).
    pub fn new(
        config: MastodonConfig,
        apps: Arc<dyn InstanceAppStore>,
        vault: Arc<dyn TokenVault>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            config,
            apps,
            vault,
        })
    }
}

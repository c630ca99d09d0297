//! The platform clients of this deployment, from its configuration: each platform with real
//! credentials goes to the platform; locally, every other one goes to the sandbox's fakes;
//! in production, a platform without credentials is simply not configured.

use std::sync::Arc;

use anyhow::Context;
use multivio_domain::{Provider, Secret};
use multivio_ports::platform::InstanceAppStore;
use multivio_ports::vault::TokenVault;
use multivio_sandbox::credentials as sandbox;
use multivio_social::Registry;
use multivio_social::bluesky::{Bluesky, BlueskyConfig};
use multivio_social::http::ServerPolicy;
use multivio_social::mastodon::{Mastodon, MastodonConfig};
use multivio_social::x::{X, XConfig};

use crate::Config;

/// Where the sandbox's fakes are, when this deployment uses them.
pub fn sandbox_url(config: &Config) -> Option<String> {
    if config.production || !config.sandbox {
        return None;
    }
    Some(
        config
            .sandbox_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", config.sandbox_listen)),
    )
}

/// The registry of platform clients for `config`, the sandbox's fakes at `sandbox` taking the
/// place of the platforms without credentials.
pub fn registry(
    config: &Config,
    sandbox: Option<&str>,
    apps: Arc<dyn InstanceAppStore>,
    vault: Arc<dyn TokenVault>,
) -> anyhow::Result<Registry> {
    if config.production && config.sandbox_url.as_deref().is_some_and(|u| !u.is_empty()) {
        anyhow::bail!("MULTIVIO_SANDBOX_URL is for local runs: production never uses the sandbox");
    }
    let policy = if config.production {
        ServerPolicy::PublicHttpsOnly
    } else {
        ServerPolicy::AllowLoopback
    };
    let mut registry = Registry::empty();
    let mut sandboxed = Vec::new();

    let secret = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(Secret::new);
    let x_config = match config.x_client_id.as_deref().filter(|s| !s.is_empty()) {
        Some(client_id) => Some(XConfig {
            client_id: client_id.to_owned(),
            client_secret: secret(&config.x_client_secret)
                .context("MULTIVIO_X_CLIENT_SECRET is required with MULTIVIO_X_CLIENT_ID")?,
            consumer: config
                .x_consumer_key
                .as_deref()
                .filter(|s| !s.is_empty())
                .zip(secret(&config.x_consumer_secret))
                .map(|(k, s)| (k.to_owned(), s)),
            auth_url: config
                .x_auth_url
                .clone()
                .unwrap_or_else(|| multivio_social::x::AUTH_URL.to_owned()),
            api_url: config
                .x_api_url
                .clone()
                .unwrap_or_else(|| multivio_social::x::API_URL.to_owned()),
            upload_url: config
                .x_upload_url
                .clone()
                .unwrap_or_else(|| multivio_social::x::UPLOAD_URL.to_owned()),
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::X, format!("{base}/x")));
            XConfig {
                client_id: sandbox::X_CLIENT_ID.to_owned(),
                client_secret: Secret::new(sandbox::X_CLIENT_SECRET),
                consumer: Some((
                    sandbox::X_CONSUMER_KEY.to_owned(),
                    Secret::new(sandbox::X_CONSUMER_SECRET),
                )),
                auth_url: format!("{base}/x"),
                api_url: format!("{base}/x"),
                upload_url: format!("{base}/x"),
            }
        }),
    };
    if let Some(x_config) = x_config {
        let with_oauth1 = x_config.consumer.is_some();
        let x = Arc::new(X::new(x_config).context("X")?);
        registry = registry
            .with_oauth(Provider::X, x.clone())
            .with_publisher(Provider::X, x.clone());
        if with_oauth1 {
            registry = registry.with_oauth1(Provider::X, x);
        }
    }

    let bluesky_url = match (
        config.bluesky_url.as_deref().filter(|u| !u.is_empty()),
        sandbox,
    ) {
        (Some(url), _) => url.to_owned(),
        (None, Some(base)) => {
            let url = format!("{base}/bsky");
            sandboxed.push((Provider::Bluesky, url.clone()));
            url
        }
        (None, None) => multivio_social::bluesky::SERVICE_URL.to_owned(),
    };
    let bluesky = Arc::new(
        Bluesky::new(BlueskyConfig {
            service_url: bluesky_url,
            server_policy: policy,
            ..BlueskyConfig::default()
        })
        .context("Bluesky")?,
    );
    registry = registry
        .with_login(Provider::Bluesky, bluesky.clone())
        .with_oauth(Provider::Bluesky, bluesky.clone())
        .with_publisher(Provider::Bluesky, bluesky);

    // Mastodon has no app of its own to configure: it registers with each instance users name.
    let mastodon = Arc::new(
        Mastodon::new(
            MastodonConfig {
                server_policy: policy,
                client_name: "Multivio".to_owned(),
                website: config.public_url.clone().filter(|u| !u.is_empty()),
            },
            apps,
            vault,
        )
        .context("Mastodon")?,
    );
    registry = registry
        .with_oauth(Provider::Mastodon, mastodon.clone())
        .with_publisher(Provider::Mastodon, mastodon);
    if let Some(base) = sandbox {
        sandboxed.push((Provider::Mastodon, format!("{base}/mastodon")));
    }

    for (provider, url) in sandboxed {
        tracing::warn!(
            platform = provider.display_name(),
            sandbox = %url,
            "SANDBOX: this platform goes to the local fake, not the real one"
        );
        registry = registry.sandboxed(provider, url);
    }
    Ok(registry)
}

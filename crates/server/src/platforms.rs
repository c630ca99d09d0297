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
use multivio_social::facebook::{Facebook, FacebookApp};
use multivio_social::http::ServerPolicy;
use multivio_social::instagram::{Instagram, InstagramApp, InstagramConfig};
use multivio_social::linkedin::{Linkedin, LinkedinConfig};
use multivio_social::mastodon::{Mastodon, MastodonConfig};
use multivio_social::meta::ContainerPolling;
use multivio_social::pinterest::{Pinterest, PinterestConfig};
use multivio_social::threads::{Threads, ThreadsConfig};
use multivio_social::tiktok::{Tiktok, TiktokConfig};
use multivio_social::x::{X, XConfig};
use multivio_social::youtube::{Youtube, YoutubeConfig};

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
            auth_url: set(&config.x_auth_url)
                .unwrap_or(multivio_social::x::AUTH_URL)
                .to_owned(),
            api_url: set(&config.x_api_url)
                .unwrap_or(multivio_social::x::API_URL)
                .to_owned(),
            upload_url: set(&config.x_upload_url)
                .unwrap_or(multivio_social::x::UPLOAD_URL)
                .to_owned(),
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

    meta(config, sandbox, &mut registry, &mut sandboxed)?;
    linkedin(config, sandbox, &mut registry, &mut sandboxed)?;
    youtube(config, sandbox, &mut registry, &mut sandboxed)?;
    pinterest(config, sandbox, &mut registry, &mut sandboxed)?;
    tiktok(config, sandbox, &mut registry, &mut sandboxed)?;

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

/// How the sandbox's containers are polled: it has them ready at once (or after the reads a
/// test asks for), so there is no point waiting seconds between reads.
const SANDBOX_POLLING: ContainerPolling = ContainerPolling {
    interval: std::time::Duration::from_millis(100),
    max_polls: 100,
};

/// The authorisation page's and the code exchange's bases of a platform that keeps them on
/// two hosts: each its setting, else its default — except that an authorisation base moved
/// elsewhere (a fake on one host) takes the code exchange with it unless that is set too.
fn login_urls(
    auth: Option<&str>,
    token: Option<&str>,
    default_auth: &str,
    default_token: &str,
) -> (String, String) {
    let auth_url = auth.unwrap_or(default_auth);
    let moved = auth.filter(|a| a.trim_end_matches('/') != default_auth);
    let token_url = token.or(moved).unwrap_or(default_token);
    (auth_url.to_owned(), token_url.to_owned())
}

/// A setting's value, unless unset or empty.
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Facebook Pages, Instagram and Threads: each with its app when configured; locally, the
/// sandbox's fakes for the others (Instagram with neither its own app nor Facebook's).
fn meta(
    config: &Config,
    sandbox: Option<&str>,
    registry: &mut Registry,
    sandboxed: &mut Vec<(Provider, String)>,
) -> anyhow::Result<()> {
    let version = set(&config.graph_api_version).unwrap_or(multivio_social::meta::GRAPH_VERSION);
    if !multivio_social::meta::valid_version(version) {
        anyhow::bail!(
            "MULTIVIO_GRAPH_API_VERSION `{version}` is not a Graph API version (like v25.0)"
        );
    }
    let secret = |v: &Option<String>, name: &str| {
        set(v).map(Secret::new).with_context(|| {
            format!("MULTIVIO_{name}_CLIENT_SECRET is required with MULTIVIO_{name}_CLIENT_ID")
        })
    };

    let facebook_app = match set(&config.facebook_client_id) {
        Some(id) => Some(FacebookApp {
            app_id: id.to_owned(),
            app_secret: secret(&config.facebook_client_secret, "FACEBOOK")?,
            auth_url: set(&config.facebook_auth_url)
                .unwrap_or(multivio_social::facebook::AUTH_URL)
                .to_owned(),
            api_url: set(&config.facebook_api_url)
                .unwrap_or(multivio_social::facebook::API_URL)
                .to_owned(),
            // A Graph API moved elsewhere (a proxy, a staging host) takes the videos too,
            // unless told otherwise: Page tokens never go to Meta's host unasked.
            video_url: set(&config.facebook_video_url)
                .or(set(&config.facebook_api_url))
                .unwrap_or(multivio_social::facebook::VIDEO_URL)
                .to_owned(),
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Facebook, format!("{base}/facebook")));
            FacebookApp {
                app_id: sandbox::FACEBOOK_APP_ID.to_owned(),
                app_secret: Secret::new(sandbox::FACEBOOK_APP_SECRET),
                auth_url: format!("{base}/facebook"),
                api_url: format!("{base}/facebook"),
                video_url: format!("{base}/facebook-video"),
            }
        }),
    };
    if let Some(app) = &facebook_app {
        let facebook = Arc::new(Facebook::new(app.clone(), version).context("Facebook")?);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Facebook, facebook.clone())
            .with_publisher(Provider::Facebook, facebook);
    }

    let instagram_sandboxed = set(&config.instagram_client_id).is_none()
        && set(&config.facebook_client_id).is_none()
        && sandbox.is_some();
    let instagram_app = match (set(&config.instagram_client_id), sandbox) {
        (Some(id), _) => {
            let (auth_url, token_url) = login_urls(
                set(&config.instagram_auth_url),
                set(&config.instagram_token_url),
                multivio_social::instagram::AUTH_URL,
                multivio_social::instagram::TOKEN_URL,
            );
            Some(InstagramApp {
                client_id: id.to_owned(),
                client_secret: secret(&config.instagram_client_secret, "INSTAGRAM")?,
                auth_url,
                token_url,
                api_url: set(&config.instagram_api_url)
                    .unwrap_or(multivio_social::instagram::API_URL)
                    .to_owned(),
            })
        }
        (None, Some(base)) if instagram_sandboxed => {
            sandboxed.push((Provider::Instagram, format!("{base}/instagram")));
            Some(InstagramApp {
                client_id: sandbox::INSTAGRAM_APP_ID.to_owned(),
                client_secret: Secret::new(sandbox::INSTAGRAM_APP_SECRET),
                auth_url: format!("{base}/instagram"),
                token_url: format!("{base}/instagram"),
                api_url: format!("{base}/instagram"),
            })
        }
        // Through the Facebook Page with Facebook's app, if there is one.
        _ => None,
    };
    if instagram_app.is_some() || facebook_app.is_some() {
        let mut instagram = Instagram::new(InstagramConfig {
            instagram: instagram_app,
            facebook: facebook_app,
            version: version.to_owned(),
        })
        .context("Instagram")?;
        if instagram_sandboxed {
            instagram = instagram.with_polling(SANDBOX_POLLING);
        }
        let instagram = Arc::new(instagram);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Instagram, instagram.clone())
            .with_publisher(Provider::Instagram, instagram);
    }

    let threads_config = match set(&config.threads_client_id) {
        Some(id) => Some(ThreadsConfig {
            client_id: id.to_owned(),
            client_secret: secret(&config.threads_client_secret, "THREADS")?,
            auth_url: set(&config.threads_auth_url)
                .unwrap_or(multivio_social::threads::AUTH_URL)
                .to_owned(),
            api_url: set(&config.threads_api_url)
                .unwrap_or(multivio_social::threads::API_URL)
                .to_owned(),
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Threads, format!("{base}/threads")));
            ThreadsConfig {
                client_id: sandbox::THREADS_APP_ID.to_owned(),
                client_secret: Secret::new(sandbox::THREADS_APP_SECRET),
                auth_url: format!("{base}/threads"),
                api_url: format!("{base}/threads"),
            }
        }),
    };
    if let Some(threads_config) = threads_config {
        let mut threads = Threads::new(threads_config).context("Threads")?;
        if set(&config.threads_client_id).is_none() {
            threads = threads.with_polling(SANDBOX_POLLING);
        }
        let threads = Arc::new(threads);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Threads, threads.clone())
            .with_publisher(Provider::Threads, threads);
    }
    Ok(())
}

/// The app's secret named `MULTIVIO_{name}_CLIENT_SECRET`, required with its client id.
fn client_secret(v: &Option<String>, name: &str) -> anyhow::Result<Secret> {
    set(v).map(Secret::new).with_context(|| {
        format!("MULTIVIO_{name}_CLIENT_SECRET is required with MULTIVIO_{name}_CLIENT_ID")
    })
}

/// LinkedIn: its app when configured; locally, the sandbox's fake otherwise.
fn linkedin(
    config: &Config,
    sandbox: Option<&str>,
    registry: &mut Registry,
    sandboxed: &mut Vec<(Provider, String)>,
) -> anyhow::Result<()> {
    let version = set(&config.linkedin_version)
        .unwrap_or(multivio_social::linkedin::VERSION)
        .to_owned();
    if !multivio_social::linkedin::valid_version(&version) {
        anyhow::bail!(
            "MULTIVIO_LINKEDIN_VERSION `{version}` is not a LinkedIn-Version (YYYYMM, like {})",
            multivio_social::linkedin::VERSION
        );
    }
    let linkedin_config = match set(&config.linkedin_client_id) {
        Some(id) => Some(LinkedinConfig {
            client_id: id.to_owned(),
            client_secret: client_secret(&config.linkedin_client_secret, "LINKEDIN")?,
            auth_url: set(&config.linkedin_auth_url)
                .unwrap_or(multivio_social::linkedin::AUTH_URL)
                .to_owned(),
            api_url: set(&config.linkedin_api_url)
                .unwrap_or(multivio_social::linkedin::API_URL)
                .to_owned(),
            version,
            organizations: config.linkedin_organizations,
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Linkedin, format!("{base}/linkedin")));
            LinkedinConfig {
                client_id: sandbox::LINKEDIN_CLIENT_ID.to_owned(),
                client_secret: Secret::new(sandbox::LINKEDIN_CLIENT_SECRET),
                auth_url: format!("{base}/linkedin"),
                api_url: format!("{base}/linkedin"),
                version,
                organizations: config.linkedin_organizations,
            }
        }),
    };
    if let Some(linkedin_config) = linkedin_config {
        let linkedin = Arc::new(Linkedin::new(linkedin_config).context("LinkedIn")?);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Linkedin, linkedin.clone())
            .with_publisher(Provider::Linkedin, linkedin);
    }
    Ok(())
}

/// YouTube: Google's OAuth client when configured; locally, the sandbox's fake otherwise.
fn youtube(
    config: &Config,
    sandbox: Option<&str>,
    registry: &mut Registry,
    sandboxed: &mut Vec<(Provider, String)>,
) -> anyhow::Result<()> {
    let youtube_config = match set(&config.youtube_client_id) {
        Some(id) => {
            let (auth_url, token_url) = login_urls(
                set(&config.youtube_auth_url),
                set(&config.youtube_token_url),
                multivio_social::youtube::AUTH_URL,
                multivio_social::youtube::TOKEN_URL,
            );
            Some(YoutubeConfig {
                client_id: id.to_owned(),
                client_secret: client_secret(&config.youtube_client_secret, "YOUTUBE")?,
                auth_url,
                token_url,
                api_url: set(&config.youtube_api_url)
                    .unwrap_or(multivio_social::youtube::API_URL)
                    .to_owned(),
            })
        }
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Youtube, format!("{base}/youtube")));
            YoutubeConfig {
                client_id: sandbox::YOUTUBE_CLIENT_ID.to_owned(),
                client_secret: Secret::new(sandbox::YOUTUBE_CLIENT_SECRET),
                auth_url: format!("{base}/youtube"),
                token_url: format!("{base}/youtube"),
                api_url: format!("{base}/youtube"),
            }
        }),
    };
    if let Some(youtube_config) = youtube_config {
        let youtube = Arc::new(Youtube::new(youtube_config).context("YouTube")?);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Youtube, youtube.clone())
            .with_publisher(Provider::Youtube, youtube);
    }
    Ok(())
}

/// Pinterest: its app when configured; locally, the sandbox's fake otherwise (its videos
/// polled without waiting seconds between reads).
fn pinterest(
    config: &Config,
    sandbox: Option<&str>,
    registry: &mut Registry,
    sandboxed: &mut Vec<(Provider, String)>,
) -> anyhow::Result<()> {
    let pinterest_config = match set(&config.pinterest_client_id) {
        Some(id) => Some(PinterestConfig {
            client_id: id.to_owned(),
            client_secret: client_secret(&config.pinterest_client_secret, "PINTEREST")?,
            auth_url: set(&config.pinterest_auth_url)
                .unwrap_or(multivio_social::pinterest::AUTH_URL)
                .to_owned(),
            api_url: set(&config.pinterest_api_url)
                .unwrap_or(multivio_social::pinterest::API_URL)
                .to_owned(),
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Pinterest, format!("{base}/pinterest")));
            PinterestConfig {
                client_id: sandbox::PINTEREST_APP_ID.to_owned(),
                client_secret: Secret::new(sandbox::PINTEREST_APP_SECRET),
                auth_url: format!("{base}/pinterest"),
                api_url: format!("{base}/pinterest"),
            }
        }),
    };
    if let Some(pinterest_config) = pinterest_config {
        let mut pinterest = Pinterest::new(pinterest_config).context("Pinterest")?;
        if set(&config.pinterest_client_id).is_none() {
            pinterest = pinterest.with_polling(SANDBOX_POLLING);
        }
        let pinterest = Arc::new(pinterest);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Pinterest, pinterest.clone())
            .with_publisher(Provider::Pinterest, pinterest);
    }
    Ok(())
}

/// TikTok: its app when configured; locally, the sandbox's fake otherwise (a post's status
/// fetched without waiting seconds between reads).
fn tiktok(
    config: &Config,
    sandbox: Option<&str>,
    registry: &mut Registry,
    sandboxed: &mut Vec<(Provider, String)>,
) -> anyhow::Result<()> {
    let tiktok_config = match set(&config.tiktok_client_id) {
        Some(key) => Some(TiktokConfig {
            client_key: key.to_owned(),
            client_secret: client_secret(&config.tiktok_client_secret, "TIKTOK")?,
            auth_url: set(&config.tiktok_auth_url)
                .unwrap_or(multivio_social::tiktok::AUTH_URL)
                .to_owned(),
            api_url: set(&config.tiktok_api_url)
                .unwrap_or(multivio_social::tiktok::API_URL)
                .to_owned(),
        }),
        None => sandbox.map(|base| {
            sandboxed.push((Provider::Tiktok, format!("{base}/tiktok")));
            TiktokConfig {
                client_key: sandbox::TIKTOK_CLIENT_KEY.to_owned(),
                client_secret: Secret::new(sandbox::TIKTOK_CLIENT_SECRET),
                auth_url: format!("{base}/tiktok"),
                api_url: format!("{base}/tiktok"),
            }
        }),
    };
    if let Some(tiktok_config) = tiktok_config {
        let mut tiktok = Tiktok::new(tiktok_config).context("TikTok")?;
        if set(&config.tiktok_client_id).is_none() {
            tiktok = tiktok.with_polling(SANDBOX_POLLING);
        }
        let tiktok = Arc::new(tiktok);
        *registry = std::mem::take(registry)
            .with_oauth(Provider::Tiktok, tiktok.clone())
            .with_publisher(Provider::Tiktok, tiktok);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

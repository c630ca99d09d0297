//! The app Multivio registers with each instance (`POST /api/v1/apps`), once per instance and
//! redirect URI, kept in the [`InstanceAppStore`](multivio_ports::platform::InstanceAppStore)
//! with its client secret sealed.
//!
//! Before an authorisation begins, the stored app is checked with the instance: Mastodon
//! deletes an app that holds no token a day after its registration (its applications vacuum:
//! an authorisation begun and abandoned, or every account disconnected, leaves it so), and an
//! admin may delete any. The authorisation page of a deleted app is a dead end a person cannot
//! come back from, so an app the instance answers `invalid_client` for is registered again and
//! replaces the stored one, once it is an hour old (younger, the authorisation is refused: an
//! instance disowning every new app gets one an hour at most). An app whose secret cannot be
//! opened is not replaced: a keyring missing a key — a rotation half done — would replace a
//! live app, and the connections made with it could no longer be revoked.

use multivio_domain::{Provider, Secret};
use multivio_ports::error::StoreError;
use multivio_ports::platform::{InstanceApp, OAuthError, instance_app_aad};
use multivio_ports::vault::VaultError;
use serde::Deserialize;

use super::oauth::TokenAnswer;
use super::{InstanceError, Mastodon, SCOPES};
use crate::http;

/// An app's credentials on one instance, in the clear (only while a call needs them).
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    /// `client_id` (public).
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: Secret,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// `POST /api/v1/apps`'s answer (the fields Multivio needs).
#[derive(Deserialize)]
pub(super) struct Registered {
    pub(super) client_id: String,
    pub(super) client_secret: String,
}

impl Registered {
    /// Credentials Multivio can use: a secret, and a client id it can store as it is (1–255
    /// bytes, no control character; in URLs it is percent-encoded).
    pub(super) fn is_usable(&self) -> bool {
        !self.client_id.is_empty()
            && self.client_id.len() <= 255
            && !self.client_id.chars().any(char::is_control)
            && !self.client_secret.is_empty()
    }
}

/// How old a stored app must be before an instance that no longer knows it gets a new one
/// (Mastodon deletes unused apps only once they are a day old).
const MIN_AGE_TO_REPLACE: chrono::Duration = chrono::Duration::hours(1);

/// How long each request checking a stored app may take before the app is used unchecked: a
/// person is waiting for the authorisation page.
const APP_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn store_error(e: StoreError) -> OAuthError {
    OAuthError::Transient {
        reason: format!("instance apps: {e}"),
    }
}

fn vault_error(e: VaultError) -> OAuthError {
    match e {
        VaultError::Corrupt => OAuthError::Rejected {
            code: "mastodon_app_unreadable".into(),
            reason: "The app registered with this Mastodon instance cannot be read: \
                     Multivio's token keys miss the one it was sealed with."
                .into(),
        },
        VaultError::Unavailable(reason) => OAuthError::Transient {
            reason: format!("vault: {reason}"),
        },
    }
}

impl Mastodon {
    /// The app stored for (`instance`, `redirect_uri`), if any, with its secret opened.
    pub(crate) async fn stored_app(
        &self,
        instance: &str,
        redirect_uri: &str,
    ) -> Result<Option<AppCredentials>, OAuthError> {
        let Some(app) = self
            .apps
            .get(Provider::Mastodon, instance, redirect_uri)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        self.open(&app).await.map(Some).map_err(vault_error)
    }

    /// The app to begin an authorisation with on (`instance`, `redirect_uri`): the stored one
    /// while the instance still knows it, else one registered now and stored (when another
    /// process stored one meanwhile, that one is used).
    pub(crate) async fn app(
        &self,
        instance: &str,
        redirect_uri: &str,
    ) -> Result<AppCredentials, OAuthError> {
        let stored = self
            .apps
            .get(Provider::Mastodon, instance, redirect_uri)
            .await
            .map_err(store_error)?;
        let Some(stored) = stored else {
            return self.register_and_keep(instance, redirect_uri, None).await;
        };
        let app = self.open(&stored).await.map_err(vault_error)?;
        if self.still_registered(instance, &app).await {
            return Ok(app);
        }
        // An instance that disowns an app it was given within the hour is not given one on
        // every attempt (each replacement would also void the authorisations under way there).
        let young = stored
            .registered_at
            .is_some_and(|at| chrono::Utc::now() - at < MIN_AGE_TO_REPLACE);
        if young {
            return Err(OAuthError::Rejected {
                code: "mastodon_app_refused".into(),
                reason: "The Mastodon instance refuses the app Multivio registered there \
                         within the hour; try again later."
                    .into(),
            });
        }
        tracing::warn!(
            %instance,
            client_id = %stored.client_id,
            "the Mastodon instance no longer knows Multivio's app; registering it again"
        );
        self.register_and_keep(instance, redirect_uri, Some(&stored.client_id))
            .await
    }

    /// Registers an app and stores it — in place of `replacing`, the stored app's client id,
    /// when given — answering the one stored.
    async fn register_and_keep(
        &self,
        instance: &str,
        redirect_uri: &str,
        replacing: Option<&str>,
    ) -> Result<AppCredentials, OAuthError> {
        let registered = self.register(instance, redirect_uri).await?;
        let aad = instance_app_aad(Provider::Mastodon, instance, redirect_uri);
        let sealed = self
            .vault
            .seal(&registered.client_secret, &aad)
            .await
            .map_err(vault_error)?;
        let app = InstanceApp {
            provider: Provider::Mastodon,
            server_url: instance.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            client_id: registered.client_id.clone(),
            client_secret: sealed,
            registered_at: None,
        };
        let kept = match replacing {
            None => self.apps.put(&app).await,
            Some(stale) => self.apps.replace(stale, &app).await,
        }
        .map_err(store_error)?;
        if kept.client_id == registered.client_id {
            Ok(registered)
        } else {
            tracing::info!(%instance, "Mastodon app registered concurrently; using the one stored first");
            self.open(&kept).await.map_err(vault_error)
        }
    }

    async fn open(&self, app: &InstanceApp) -> Result<AppCredentials, VaultError> {
        let aad = instance_app_aad(Provider::Mastodon, &app.server_url, &app.redirect_uri);
        let client_secret = self.vault.open(&app.client_secret, &aad).await?;
        Ok(AppCredentials {
            client_id: app.client_id.clone(),
            client_secret,
        })
    }

    /// Whether `instance` still knows `app`: it grants the app a token of its own (`POST
    /// /oauth/token`, `grant_type=client_credentials`, `read` only), which is revoked at once.
    /// Only an `invalid_client` answer says no: an instance that is slow (past
    /// [`APP_CHECK_TIMEOUT`]), failing or without that grant is taken to know it (its
    /// authorisation page will tell).
    async fn still_registered(&self, instance: &str, app: &AppCredentials) -> bool {
        let response = match self
            .client
            .post(format!("{instance}/oauth/token"))
            .timeout(APP_CHECK_TIMEOUT)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.expose()),
                ("scope", "read"),
            ])
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => {
                tracing::info!(%instance, error = %e, "could not check Multivio's Mastodon app; using it");
                return true;
            }
        };
        let status = response.status();
        if status.is_success() {
            match http::json_body::<TokenAnswer>(response, "Mastodon app token").await {
                Ok(token) => {
                    self.revoke_app_token(instance, app, &token.access_token)
                        .await
                }
                Err(reason) => tracing::info!(%instance, %reason, "Mastodon app token unreadable"),
            }
            return true;
        }
        let said = InstanceError::read(response).await;
        let gone = status == reqwest::StatusCode::UNAUTHORIZED
            && said.error.as_deref() == Some("invalid_client");
        if !gone {
            tracing::info!(%instance, status = status.as_u16(), "could not check Multivio's Mastodon app; using it");
        }
        !gone
    }

    /// `POST /oauth/revoke` of the app's own token (best effort: it only tidies the instance).
    async fn revoke_app_token(&self, instance: &str, app: &AppCredentials, token: &str) {
        let revoked = self
            .client
            .post(format!("{instance}/oauth/revoke"))
            .timeout(APP_CHECK_TIMEOUT)
            .form(&[
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.expose()),
                ("token", token),
            ])
            .send()
            .await;
        match revoked {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::info!(%instance, status = r.status().as_u16(), "Mastodon app token not revoked")
            }
            Err(e) => tracing::info!(%instance, error = %e, "Mastodon app token not revoked"),
        }
    }

    /// `POST /api/v1/apps`.
    async fn register(
        &self,
        instance: &str,
        redirect_uri: &str,
    ) -> Result<AppCredentials, OAuthError> {
        let mut body = serde_json::json!({
            "client_name": self.config.client_name,
            "redirect_uris": [redirect_uri],
            "scopes": SCOPES,
        });
        if let Some(website) = &self.config.website {
            body["website"] = website.clone().into();
        }
        let response = self
            .client
            .post(format!("{instance}/api/v1/apps"))
            .json(&body)
            .send()
            .await
            .map_err(|e| http::named_server_transport_error(&e, instance))?;
        let status = response.status();
        if status.is_success() {
            let app: Registered = http::json_body(response, "Mastodon app registration")
                .await
                .map_err(|reason| OAuthError::Transient { reason })?;
            if !app.is_usable() {
                return Err(OAuthError::Rejected {
                    code: "mastodon_app_invalid".into(),
                    reason: "The Mastodon instance registered the app without usable credentials."
                        .into(),
                });
            }
            tracing::info!(%instance, "Mastodon app registered");
            return Ok(AppCredentials {
                client_id: app.client_id,
                client_secret: Secret::new(app.client_secret),
            });
        }
        let retry_after = http::retry_after(response.headers(), chrono::Utc::now());
        let said = InstanceError::read(response).await;
        Err(match status.as_u16() {
            429 => OAuthError::RateLimited { retry_after },
            404 | 405 => OAuthError::Rejected {
                code: "mastodon_not_an_instance".into(),
                reason: format!("{instance} does not look like a Mastodon server."),
            },
            s if s >= 500 => OAuthError::Transient {
                reason: format!("app registration: HTTP {s}"),
            },
            s => OAuthError::Rejected {
                code: "mastodon_app_rejected".into(),
                reason: format!(
                    "The Mastodon instance refused to register Multivio (HTTP {s}): {}",
                    said.message("no reason given")
                ),
            },
        })
    }
}

//! `platform_apps`: the apps registered with instances of federated platforms (Mastodon).
//! Not tenant data: work of the worker role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use multivio_domain::Provider;
use multivio_ports::StoreError;
use multivio_ports::platform::{InstanceApp, InstanceAppStore};
use multivio_ports::vault::SealedToken;

use super::{Fail, PgStore};
use crate::schema::platform_apps;

type Row = (String, String, String, String, String, DateTime<Utc>);

fn to_app(row: Row) -> Result<InstanceApp, Fail> {
    let (provider, server_url, redirect_uri, client_id, client_secret, registered_at) = row;
    Ok(InstanceApp {
        provider: provider
            .parse::<Provider>()
            .map_err(|e| super::corrupt("provider", e))?,
        server_url,
        redirect_uri,
        client_id,
        client_secret: SealedToken(client_secret),
        registered_at: Some(registered_at),
    })
}

#[async_trait]
impl InstanceAppStore for PgStore {
    async fn get(
        &self,
        provider: Provider,
        server_url: &str,
        redirect_uri: &str,
    ) -> Result<Option<InstanceApp>, StoreError> {
        let (server_url, redirect_uri) = (server_url.to_owned(), redirect_uri.to_owned());
        self.worker(async move |conn| find(conn, provider, &server_url, &redirect_uri).await)
            .await
    }

    async fn put(&self, app: &InstanceApp) -> Result<InstanceApp, StoreError> {
        let app = app.clone();
        self.worker(async move |conn| keep_first(conn, &app).await)
            .await
    }

    async fn replace(
        &self,
        stale_client_id: &str,
        app: &InstanceApp,
    ) -> Result<InstanceApp, StoreError> {
        let (stale, app) = (stale_client_id.to_owned(), app.clone());
        self.worker(async move |conn| {
            diesel::update(
                platform_apps::table
                    .filter(platform_apps::provider.eq(app.provider.as_str()))
                    .filter(platform_apps::server_url.eq(&app.server_url))
                    .filter(platform_apps::redirect_uri.eq(&app.redirect_uri))
                    .filter(platform_apps::client_id.eq(&stale)),
            )
            .set((
                platform_apps::client_id.eq(&app.client_id),
                platform_apps::client_secret.eq(&app.client_secret.0),
                platform_apps::created_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
            keep_first(conn, &app).await
        })
        .await
    }
}

/// Inserts `app` unless one is stored for its (provider, instance, redirect URI), and answers
/// the one stored.
async fn keep_first(
    conn: &mut &diesel_async::AsyncPgConnection,
    app: &InstanceApp,
) -> Result<InstanceApp, Fail> {
    diesel::insert_into(platform_apps::table)
        .values((
            platform_apps::provider.eq(app.provider.as_str()),
            platform_apps::server_url.eq(&app.server_url),
            platform_apps::redirect_uri.eq(&app.redirect_uri),
            platform_apps::client_id.eq(&app.client_id),
            platform_apps::client_secret.eq(&app.client_secret.0),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    find(conn, app.provider, &app.server_url, &app.redirect_uri)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::NotFound))
}

/// The app stored for (provider, instance, redirect URI), if any.
async fn find(
    conn: &mut &diesel_async::AsyncPgConnection,
    provider: Provider,
    server_url: &str,
    redirect_uri: &str,
) -> Result<Option<InstanceApp>, Fail> {
    let row: Option<Row> = platform_apps::table
        .filter(platform_apps::provider.eq(provider.as_str()))
        .filter(platform_apps::server_url.eq(server_url))
        .filter(platform_apps::redirect_uri.eq(redirect_uri))
        .select((
            platform_apps::provider,
            platform_apps::server_url,
            platform_apps::redirect_uri,
            platform_apps::client_id,
            platform_apps::client_secret,
            platform_apps::created_at,
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(to_app).transpose()
}

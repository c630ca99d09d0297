//! What the adapter-against-fake tests of the OAuth platforms share: a browser that stops at
//! redirects, the fakes' control calls, and a sign-in carried through to the connections the
//! core would build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use chrono::Utc;
use multivio_domain::connection::{Connection, ConnectionStatus, Credentials};
use multivio_domain::{ConnectionId, Provider, Secret, UserId};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde_json::Value;

/// A client that does not follow redirects (to read where the fake sends the browser).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A control call to a fake: `body` posted as JSON to `url`; answers its JSON.
pub async fn control(url: String, body: Value) -> Value {
    // Building an adapter's client installs the TLS provider every client needs.
    multivio_social::http::client(std::time::Duration::from_secs(5)).unwrap();
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

/// Signs in through `client` at its fake (which approves at once), back to `redirect`, and
/// exchanges the code with `pkce_verifier`: answers what the redirect carried and the accounts
/// as the core would store them (connections of user 1 for `provider`, with their credentials).
pub async fn authorize(
    client: &dyn OAuthClient,
    provider: Provider,
    redirect: &str,
    pkce_verifier: &str,
) -> Result<(HashMap<String, String>, Vec<(Connection, Credentials)>), OAuthError> {
    let request = AuthorizationRequest {
        state: Secret::new("state-1"),
        pkce_verifier: Secret::new(pkce_verifier),
        redirect_uri: redirect.into(),
        server_url: None,
    };
    let url = client.authorization_url(&request).await.unwrap();
    let response = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302, "{url}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let back: HashMap<String, String> = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let accounts = client
        .exchange_code(&CodeExchange {
            code: Secret::new(back["code"].clone()),
            pkce_verifier: request.pkce_verifier,
            redirect_uri: redirect.into(),
            server_url: None,
        })
        .await?;
    let now = Utc::now();
    let connections = accounts
        .into_iter()
        .map(|account| {
            (
                Connection {
                    id: ConnectionId(uuid::Uuid::new_v4()),
                    user_id: UserId(1),
                    provider,
                    provider_account_id: account.profile.provider_account_id.clone(),
                    account_label: account.profile.label.clone(),
                    account_type: account.profile.account_type,
                    is_primary: true,
                    status: ConnectionStatus::Active,
                    metadata: account.profile.metadata.clone(),
                    expires_at: account.credentials.expires_at,
                    created_at: now,
                    updated_at: now,
                },
                account.credentials,
            )
        })
        .collect();
    Ok((back, connections))
}

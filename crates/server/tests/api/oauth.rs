//! The OAuth connect flow against a fake platform: the callback completes nothing, and only
//! the user who started a flow can complete it.

use std::sync::Arc;

use async_trait::async_trait;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_domain::{Provider, Secret};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use multivio_social::Registry;
use reqwest::Method;
use serde_json::json;

use crate::{Api, assert_problem};

/// A platform whose consent screen always says yes and grants the account `granted`.
struct FakeX;

#[async_trait]
impl OAuthClient for FakeX {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        Ok(format!(
            "https://x.example/authorize?state={}",
            request.state.expose()
        ))
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(format!(
                    "acct-{}",
                    exchange.code.expose()
                ))
                .unwrap(),
                label: Some(AccountLabel::new("granted").unwrap()),
                account_type: AccountType::Personal,
                metadata: json!({}),
            },
            credentials: Credentials {
                access_token: Secret::new("platform-access-token"),
                refresh_token: None,
                expires_at: None,
                oauth1: None,
            },
        }])
    }

    async fn refresh(&self, _: &Connection, _: &Secret) -> Result<TokenGrant, OAuthError> {
        Err(OAuthError::NotSupported)
    }

    async fn revoke(&self, _: &Connection, _: &Credentials) -> Result<(), OAuthError> {
        Err(OAuthError::NotSupported)
    }
}

async fn authorize(api: &Api, uid: &str) -> String {
    let (status, body) = api
        .post(
            uid,
            "/v1/connections/x/authorize",
            json!({ "return_to": "http://localhost:3000/connected" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let url = body["authorization_url"].as_str().unwrap();
    url.split("state=").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn a_connect_link_sent_to_someone_else_cannot_attach_their_account() {
    let api = Api::start_full(
        30,
        Registry::empty().with_oauth(Provider::X, Arc::new(FakeX)),
    )
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Mallory starts a flow and sends the link to Victor, who approves on the platform.
    let state = authorize(&api, "mallory").await;
    let resp = no_redirects
        .get(format!(
            "{}/v1/connections/x/callback?code=victor&state={state}",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    // The one-time code is never cached or sent on as a referrer.
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("http://localhost:3000/connected#provider=twitter&code=victor&state={state}")
    );
    // The callback connected nobody.
    assert_eq!(
        api.get("mallory", "/v1/connections").await.1["items"],
        json!([])
    );

    // Victor's web client completes it as Victor: refused, and the platform is not called.
    let (status, body, ct) = api
        .send(
            api.req(Method::POST, "victor", "/v1/connections/x/complete")
                .json(&json!({ "code": "victor", "state": state })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_problem(status, &body, &ct);
    assert_eq!(
        api.get("victor", "/v1/connections").await.1["items"],
        json!([])
    );
    assert_eq!(
        api.get("mallory", "/v1/connections").await.1["items"],
        json!([])
    );
    // Victor's refused attempt did not use the state up either: it is still Mallory's, and
    // only she can finish her own flow (someone holding the state cannot burn it).
    let resp = no_redirects
        .get(format!(
            "{}/v1/connections/x/callback?code=again&state={state}",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

#[tokio::test]
async fn the_user_who_started_the_flow_completes_it_once() {
    let api = Api::start_full(
        30,
        Registry::empty().with_oauth(Provider::X, Arc::new(FakeX)),
    )
    .await;
    let state = authorize(&api, "alice").await;
    let complete = || {
        api.req(Method::POST, "alice", "/v1/connections/x/complete")
            .json(&json!({ "code": "alice", "state": state }))
    };
    let (status, body, _) = api.send(complete()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["items"][0]["provider_account_id"], "acct-alice");
    assert_eq!(body["items"][0]["is_primary"], true);
    assert!(
        !body.to_string().contains("platform-access-token"),
        "tokens are never returned"
    );
    let (status, _, _) = api.send(complete()).await;
    assert_eq!(status, 400, "a replayed state is refused");
    // Forged and expired states never reach the platform either.
    let (status, _, _) = api
        .send(
            api.req(Method::POST, "alice", "/v1/connections/x/complete")
                .json(&json!({ "code": "c", "state": "forged" })),
        )
        .await;
    assert_eq!(status, 400);
    // Without a return_to, the callback hands the code over as JSON.
    let (_, body) = api
        .post("alice", "/v1/connections/x/authorize", json!({}))
        .await;
    let state = body["authorization_url"]
        .as_str()
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .to_owned();
    let resp = api
        .client
        .get(format!(
            "{}/v1/connections/x/callback?code=c2&state={state}",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let handed: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(handed["code"], "c2");
    assert_eq!(
        handed["complete_with"],
        "POST /v1/connections/twitter/complete"
    );
}

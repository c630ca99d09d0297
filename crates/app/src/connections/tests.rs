use super::*;
use crate::testing::*;
use multivio_domain::connection::{AccountProfile, AccountType, ProviderAccountId};
use multivio_ports::connections::MockConnectionStore;
use multivio_ports::platform::{
    MockCredentialLogin, MockOAuthClient, MockOAuthStateStore, MockPlatforms, OAuthClient,
    OAuthError,
};
use multivio_ports::system::MockTokenGenerator;
use multivio_ports::vault::SealedToken;

struct Deps {
    connections: MockConnectionStore,
    platforms: MockPlatforms,
    states: MockOAuthStateStore,
}

impl Deps {
    fn new() -> Self {
        Self {
            connections: MockConnectionStore::new(),
            platforms: MockPlatforms::new(),
            states: MockOAuthStateStore::new(),
        }
    }

    fn with_oauth(mut self, client: MockOAuthClient) -> Self {
        let client: Arc<dyn OAuthClient> = Arc::new(client);
        self.platforms
            .expect_oauth()
            .returning(move |_| Some(client.clone()));
        self
    }

    fn build(self) -> ConnectionService {
        let mut tokens = MockTokenGenerator::new();
        let n = std::sync::atomic::AtomicU32::new(0);
        tokens.expect_random_token().returning(move || {
            Secret::new(format!(
                "rand{}",
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ))
        });
        ConnectionService::new(
            ConnectionPorts {
                connections: Arc::new(self.connections),
                vault: fake_vault(),
                platforms: Arc::new(self.platforms),
                states: Arc::new(self.states),
                ids: ids(),
                tokens: Arc::new(tokens),
                clock: clock(),
            },
            ConnectionSettings {
                public_url: "https://api.example.com/".into(),
                state_ttl: Duration::minutes(10),
            },
        )
    }
}

fn account(id: &str) -> AuthorizedAccount {
    AuthorizedAccount {
        profile: AccountProfile {
            provider_account_id: ProviderAccountId::new(id).unwrap(),
            label: Some(AccountLabel::new(format!("@{id}")).unwrap()),
            account_type: AccountType::Personal,
            metadata: serde_json::json!({"screen_name": id}),
        },
        credentials: credentials("access"),
    }
}

fn pending(provider: Provider) -> PendingAuthorization {
    PendingAuthorization {
        state: Secret::new("state"),
        tenant: tenant(),
        provider,
        pkce_verifier: Secret::new("verifier"),
        redirect_uri: "https://api.example.com/v1/connections/twitter/callback".into(),
        return_to: Some("https://app.example.com/done".into()),
        server_url: None,
        connection_id: None,
        expires_at: now() + Duration::minutes(5),
    }
}

#[tokio::test]
async fn start_authorization_binds_state_and_pkce_to_the_tenant() {
    let mut client = MockOAuthClient::new();
    client
        .expect_authorization_url()
        .withf(|r| {
            r.state.expose() == "rand0"
                && r.pkce_verifier.expose() == "rand1"
                && r.redirect_uri == "https://api.example.com/v1/connections/twitter/callback"
        })
        .returning(|_| Ok("https://x.com/i/oauth2/authorize?state=rand0".into()));
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_save()
        .withf(|p| {
            p.tenant == tenant()
                && p.provider == Provider::X
                && p.expires_at == now() + Duration::minutes(10)
        })
        .times(1)
        .returning(|_| Ok(()));
    let url = d
        .build()
        .start_authorization(&tenant(), Provider::X, None, None)
        .await
        .unwrap();
    assert!(url.starts_with("https://x.com/"));
}

#[tokio::test]
async fn start_authorization_of_an_unconfigured_platform() {
    let mut d = Deps::new();
    d.platforms.expect_oauth().returning(|_| None);
    assert!(matches!(
        d.build()
            .start_authorization(&tenant(), Provider::Tiktok, None, None)
            .await,
        Err(AppError::NotConfigured(_))
    ));
}

#[tokio::test]
async fn first_account_of_a_provider_is_connected_as_primary() {
    let mut client = MockOAuthClient::new();
    client
        .expect_exchange_code()
        .withf(|e| e.code.expose() == "code" && e.pkce_verifier.expose() == "verifier")
        .times(1)
        .returning(|_| Ok(vec![account("ada")]));
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .returning(|_, _, _, _, _| Ok(Some(pending(Provider::X))));
    d.connections
        .expect_find_by_account()
        .returning(|_, _, _| Ok(None));
    d.connections
        .expect_list_for_provider()
        .returning(|_, _| Ok(vec![]));
    d.connections
        .expect_insert()
        .withf(|t, c, sealed| {
            let aad = format!("social_connections:{}:access_token", c.id);
            *t == tenant()
                && c.is_primary
                && c.user_id == tenant().user_id
                && sealed.access_token == SealedToken(format!("sealed({aad})|access"))
        })
        .times(1)
        .returning(|_, c, _| Ok(c.clone()));
    let done = d
        .build()
        .complete_authorization(
            &tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new("code"),
        )
        .await
        .unwrap();
    assert_eq!(done.connections.len(), 1);
    assert!(done.connections[0].is_primary);
    assert_eq!(
        done.return_to.as_deref(),
        Some("https://app.example.com/done")
    );
}

#[tokio::test]
async fn second_account_is_not_primary_and_a_known_account_is_reconnected() {
    let mut client = MockOAuthClient::new();
    client
        .expect_exchange_code()
        .returning(|_| Ok(vec![account("new"), account("acct-1")]));
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .returning(|_, _, _, _, _| Ok(Some(pending(Provider::X))));
    d.connections
        .expect_find_by_account()
        .returning(|_, _, acct| {
            Ok((acct.as_str() == "acct-1").then(|| {
                let mut c = connection(1, Provider::X, true, 10);
                c.status = ConnectionStatus::NeedsReauth;
                c
            }))
        });
    d.connections
        .expect_list_for_provider()
        .returning(|_, _| Ok(vec![connection(1, Provider::X, true, 10)]));
    d.connections
        .expect_insert()
        .withf(|_, c, _| !c.is_primary)
        .times(1)
        .returning(|_, c, _| Ok(c.clone()));
    d.connections
        .expect_reconnect()
        .withf(|_, c, sealed| {
            c.id == cid(1)
                && c.is_primary
                && c.status == ConnectionStatus::Active
                && sealed
                    .access_token
                    .0
                    .starts_with(&format!("sealed(social_connections:{}:", cid(1)))
        })
        .times(1)
        .returning(|_, c, _| Ok(c.clone()));
    let done = d
        .build()
        .complete_authorization(
            &tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new("code"),
        )
        .await
        .unwrap();
    assert_eq!(done.connections.len(), 2);
}

#[tokio::test]
async fn a_lost_race_for_the_first_primary_is_retried() {
    let mut client = MockOAuthClient::new();
    client
        .expect_exchange_code()
        .returning(|_| Ok(vec![account("ada")]));
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .returning(|_, _, _, _, _| Ok(Some(pending(Provider::X))));
    d.connections
        .expect_find_by_account()
        .returning(|_, _, _| Ok(None));
    let mut seq = mockall::Sequence::new();
    d.connections
        .expect_list_for_provider()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![]));
    d.connections
        .expect_insert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(StoreError::Conflict("primary exists".into())));
    d.connections
        .expect_list_for_provider()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![connection(9, Provider::X, true, 0)]));
    d.connections
        .expect_insert()
        .withf(|_, c, _| !c.is_primary)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, c, _| Ok(c.clone()));
    let done = d
        .build()
        .complete_authorization(
            &tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new("code"),
        )
        .await;
    assert!(!done.unwrap().connections[0].is_primary);
}

#[tokio::test]
async fn bad_state_never_reaches_the_token_endpoint() {
    let mut client = MockOAuthClient::new();
    client.expect_exchange_code().never();
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .withf(|t, p, f, _, _| {
            *t == tenant() && *p == Provider::X && *f == AuthorizationFlow::OAuth2
        })
        .returning(|_, _, _, s, _| {
            Ok((s.expose() == "other-provider").then(|| pending(Provider::Linkedin)))
        });
    let svc = d.build();
    for state in ["replayed", "other-provider"] {
        let r = svc
            .complete_authorization(
                &tenant(),
                Provider::X,
                &Secret::new(state),
                &Secret::new("code"),
            )
            .await;
        assert!(
            matches!(r, Err(AppError::Invalid(e)) if e[0].field == "state"),
            "{state}"
        );
    }
}

#[tokio::test]
async fn only_the_user_who_started_a_connection_can_complete_it() {
    // Someone else's browser bringing back the code (a "connect" link sent to a victim)
    // must not attach the victim's account to the tenant that started the flow.
    let mut client = MockOAuthClient::new();
    client.expect_exchange_code().never();
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .returning(|_, _, _, _, _| Ok(Some(pending(Provider::X))));
    d.connections.expect_insert().never();
    let r = d
        .build()
        .complete_authorization(
            &other_tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new("code"),
        )
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "state"));
}

#[tokio::test]
async fn the_callback_destination_keeps_the_state_pending() {
    let mut d = Deps::new();
    d.states.expect_take().never();
    d.states.expect_destination().returning(|s, _| {
        Ok((s.expose() == "state")
            .then(|| (Provider::X, Some("https://app.example.com/done".to_owned()))))
    });
    let svc = d.build();
    assert_eq!(
        svc.callback_destination(Provider::X, &Secret::new("state"))
            .await,
        Ok(Some("https://app.example.com/done".into()))
    );
    for (provider, state) in [(Provider::Linkedin, "state"), (Provider::X, "forged")] {
        let r = svc
            .callback_destination(provider, &Secret::new(state))
            .await;
        assert!(matches!(r, Err(AppError::Invalid(_))), "{provider} {state}");
    }
}

#[tokio::test]
async fn platform_refusing_the_code_is_reported() {
    let mut client = MockOAuthClient::new();
    client.expect_exchange_code().returning(|_| {
        Err(OAuthError::Rejected {
            code: "invalid_scope".into(),
            reason: "offline.access missing".into(),
        })
    });
    let mut d = Deps::new().with_oauth(client);
    d.states
        .expect_take()
        .returning(|_, _, _, _, _| Ok(Some(pending(Provider::X))));
    let r = d
        .build()
        .complete_authorization(
            &tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new("code"),
        )
        .await;
    assert!(matches!(
        r,
        Err(AppError::PlatformRejected {
            provider: Provider::X,
            ..
        })
    ));
}

#[tokio::test]
async fn credential_login_connects_and_reports_bad_passwords() {
    let mut login = MockCredentialLogin::new();
    login
        .expect_login()
        .returning(|r| match r.password.expose() {
            "app-pass" => Ok(vec![account("ada.bsky.social")]),
            _ => Err(OAuthError::InvalidGrant {
                reason: "bad password".into(),
            }),
        });
    let login: Arc<dyn multivio_ports::platform::CredentialLogin> = Arc::new(login);
    let mut d = Deps::new();
    d.platforms
        .expect_credential_login()
        .returning(move |_| Some(login.clone()));
    d.connections
        .expect_find_by_account()
        .returning(|_, _, _| Ok(None));
    d.connections
        .expect_list_for_provider()
        .returning(|_, _| Ok(vec![]));
    d.connections
        .expect_insert()
        .times(1)
        .returning(|_, c, _| Ok(c.clone()));
    let svc = d.build();
    let req = |p: &str| LoginRequest {
        identifier: "ada.bsky.social".into(),
        password: Secret::new(p),
        server_url: None,
    };
    let made = svc
        .connect_with_credentials(&tenant(), Provider::Bluesky, req("app-pass"))
        .await
        .unwrap();
    assert_eq!(made[0].provider, Provider::Bluesky);
    assert_eq!(
        svc.connect_with_credentials(&tenant(), Provider::Bluesky, req("wrong"))
            .await,
        Err(AppError::Unauthorized("bad password".into()))
    );
    assert!(matches!(
        svc.connect_with_credentials(&tenant(), Provider::Bluesky, req(""))
            .await,
        Err(AppError::Invalid(_))
    ));
}

#[tokio::test]
async fn set_primary_demotes_the_old_primary() {
    let mut d = Deps::new();
    d.connections
        .expect_get()
        .returning(|_, id| Ok(connection(id.0.as_u128(), Provider::X, false, 1)));
    d.connections.expect_list_for_provider().returning(|_, _| {
        Ok(vec![
            connection(1, Provider::X, true, 3),
            connection(2, Provider::X, false, 1),
        ])
    });
    d.connections
        .expect_set_primary_flags()
        .withf(|_, p, changes| *p == Provider::X && changes == [(cid(1), false), (cid(2), true)])
        .times(1)
        .returning(|_, _, _| Ok(()));
    let c = d.build().set_primary(&tenant(), cid(2)).await.unwrap();
    assert!(c.is_primary);
}

#[tokio::test]
async fn set_primary_of_a_foreign_or_missing_connection_is_not_found() {
    let mut d = Deps::new();
    d.connections
        .expect_get()
        .returning(|_, _| Err(StoreError::NotFound));
    assert_eq!(
        d.build().set_primary(&tenant(), cid(5)).await,
        Err(AppError::NotFound("connection"))
    );
    let mut d = Deps::new();
    d.connections.expect_get().returning(|_, _| {
        let mut c = connection(5, Provider::X, false, 1);
        c.user_id = other_tenant().user_id;
        Ok(c)
    });
    d.connections.expect_set_primary_flags().never();
    assert_eq!(
        d.build().set_primary(&tenant(), cid(5)).await,
        Err(AppError::NotFound("connection"))
    );
}

#[tokio::test]
async fn disconnecting_the_primary_of_three_promotes_the_oldest_remaining() {
    let mut client = MockOAuthClient::new();
    client
        .expect_revoke()
        .times(1)
        .returning(|_, _| Err(OAuthError::NotSupported));
    let mut d = Deps::new().with_oauth(client);
    d.connections
        .expect_get()
        .returning(|_, _| Ok(connection(1, Provider::X, true, 30)));
    d.connections.expect_credentials().returning(|_, id| {
        let creds = credentials("a");
        let rt = creds.refresh_token.clone().unwrap();
        Ok(multivio_ports::vault::SealedCredentials {
            access_token: SealedToken(format!("sealed(social_connections:{id}:access_token)|a")),
            refresh_token: Some(SealedToken(format!(
                "sealed(social_connections:{id}:refresh_token)|{}",
                rt.expose()
            ))),
            expires_at: creds.expires_at,
            oauth1: None,
        })
    });
    d.connections.expect_list_for_provider().returning(|_, _| {
        Ok(vec![
            connection(1, Provider::X, true, 30),
            connection(2, Provider::X, false, 5),
            connection(3, Provider::X, false, 20),
        ])
    });
    d.connections
        .expect_delete()
        .withf(|_, id, promote| *id == cid(1) && *promote == Some(cid(3)))
        .times(1)
        .returning(|_, _, _| Ok(()));
    d.build().disconnect(&tenant(), cid(1)).await.unwrap();
}

#[tokio::test]
async fn disconnecting_a_secondary_promotes_nobody() {
    let mut d = Deps::new();
    d.platforms.expect_oauth().returning(|_| None);
    d.connections
        .expect_get()
        .returning(|_, _| Ok(connection(2, Provider::Bluesky, false, 1)));
    d.connections.expect_list_for_provider().returning(|_, _| {
        Ok(vec![
            connection(1, Provider::Bluesky, true, 9),
            connection(2, Provider::Bluesky, false, 1),
        ])
    });
    d.connections
        .expect_delete()
        .withf(|_, _, promote| promote.is_none())
        .times(1)
        .returning(|_, _, _| Ok(()));
    d.build().disconnect(&tenant(), cid(2)).await.unwrap();
}

#[tokio::test]
async fn disconnect_of_a_missing_connection_is_not_found() {
    let mut d = Deps::new();
    d.connections
        .expect_get()
        .returning(|_, _| Err(StoreError::NotFound));
    d.connections.expect_delete().never();
    assert_eq!(
        d.build().disconnect(&tenant(), cid(1)).await,
        Err(AppError::NotFound("connection"))
    );
}

#[tokio::test]
async fn rename_validates_the_label() {
    let mut d = Deps::new();
    d.connections
        .expect_get()
        .returning(|_, _| Ok(connection(1, Provider::X, true, 1)));
    d.connections
        .expect_update_label()
        .withf(|_, _, l| l.as_ref().map(AccountLabel::as_str) == Some("Work"))
        .returning(|_, _, l| {
            let mut c = connection(1, Provider::X, true, 1);
            c.account_label = l;
            Ok(c)
        });
    let svc = d.build();
    assert_eq!(
        svc.rename(&tenant(), cid(1), Some(" Work ".into()))
            .await
            .unwrap()
            .account_label
            .unwrap()
            .as_str(),
        "Work"
    );
    assert!(matches!(
        svc.rename(&tenant(), cid(1), Some("x".repeat(300))).await,
        Err(AppError::Invalid(_))
    ));
}

fn expiring_store(d: &mut Deps) {
    d.connections
        .expect_get()
        .returning(|_, _| Ok(connection(1, Provider::X, true, 1)));
    d.connections.expect_credentials().returning(|_, id| {
        Ok(multivio_ports::vault::SealedCredentials {
            access_token: SealedToken(format!("sealed(social_connections:{id}:access_token)|old")),
            refresh_token: Some(SealedToken(format!(
                "sealed(social_connections:{id}:refresh_token)|r"
            ))),
            expires_at: Some(now()),
            oauth1: None,
        })
    });
}

#[tokio::test]
async fn refresh_use_case_refreshes_an_expiring_token() {
    let mut client = MockOAuthClient::new();
    client.expect_refresh().times(1).returning(|_, _| {
        Ok(multivio_domain::connection::TokenGrant {
            access_token: Secret::new("new"),
            refresh_token: None,
            expires_at: Some(now() + Duration::hours(2)),
        })
    });
    let mut d = Deps::new().with_oauth(client);
    expiring_store(&mut d);
    d.connections
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    d.connections
        .expect_store_refreshed()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    d.build().refresh(&tenant(), cid(1)).await.unwrap();
}

#[tokio::test]
async fn refresh_use_case_failures() {
    let mut client = MockOAuthClient::new();
    client.expect_refresh().returning(|_, _| {
        Err(OAuthError::InvalidGrant {
            reason: "revoked".into(),
        })
    });
    let mut d = Deps::new().with_oauth(client);
    expiring_store(&mut d);
    d.connections
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(true));
    d.connections
        .expect_refresh_refused()
        .times(1)
        .returning(|_, _, _| Ok(true));
    d.connections
        .expect_unlock_refresh()
        .returning(|_, _, _| Ok(()));
    assert_eq!(
        d.build().refresh(&tenant(), cid(1)).await,
        Err(AppError::Unauthorized("revoked".into()))
    );

    let mut d = Deps::new().with_oauth(MockOAuthClient::new());
    expiring_store(&mut d);
    d.connections
        .expect_try_lock_refresh()
        .returning(|_, _, _, _| Ok(false));
    assert!(matches!(
        d.build().refresh(&tenant(), cid(1)).await,
        Err(AppError::Conflict(_))
    ));

    let mut d = Deps::new();
    d.connections
        .expect_get()
        .returning(|_, _| Err(StoreError::NotFound));
    assert_eq!(
        d.build().refresh(&tenant(), cid(1)).await,
        Err(AppError::NotFound("connection"))
    );
}

#[tokio::test]
async fn a_callback_without_a_code_or_verifier_does_not_use_the_state_up() {
    let mut d = Deps::new();
    d.states.expect_take().never();
    let svc = d.build();
    let r = svc
        .complete_authorization(
            &tenant(),
            Provider::X,
            &Secret::new("state"),
            &Secret::new(""),
        )
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "code"));
    let r = svc
        .complete_oauth1(&tenant(), Provider::X, "token", &Secret::new(""))
        .await;
    assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "oauth_verifier"));
}

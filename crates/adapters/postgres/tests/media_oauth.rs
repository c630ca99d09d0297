//! MediaRepository, OAuthStateStore and InstanceAppStore on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{now, setup, tenant};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::{MediaId, Provider, Secret, Tenant};
use multivio_ports::StoreError;
use multivio_ports::media::MediaRepository;
use multivio_ports::platform::{
    AuthorizationFlow, InstanceApp, InstanceAppStore, OAuthStateStore, PendingAuthorization,
};
use multivio_ports::vault::SealedToken;
use uuid::Uuid;

fn file(t: &Tenant, name: &str, age_minutes: i64) -> MediaFile {
    let at = now() - Duration::minutes(age_minutes);
    MediaFile {
        id: MediaId(Uuid::new_v4()),
        user_id: t.user_id,
        filename: format!("{name}.jpg"),
        original_filename: Some(format!("My {name}.jpg")),
        file_type: "image/jpeg".into(),
        file_size: 123_456,
        cdn_url: Some(format!("http://localhost/media/{name}.jpg")),
        thumbnail_url: None,
        platform_compatibility: vec![Provider::X, Provider::Facebook],
        alt_text: None,
        width: Some(1080),
        height: Some(1350),
        duration_secs: None,
        upload_date: at,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test]
async fn media_rows_round_trip_page_and_stay_with_their_tenant() {
    let (_db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let bob = tenant(&store, "bob").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let f = file(&alice, &format!("f{i}"), 60 - i);
        assert_eq!(store.insert(&alice, &f).await.unwrap(), f);
        ids.push(f.id);
    }
    ids.reverse();
    let page1 = MediaRepository::list(
        &store,
        &alice,
        multivio_domain::page::PageSize::new(Some(5)),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        page1.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        ids[..5]
    );
    let page2 = MediaRepository::list(
        &store,
        &alice,
        multivio_domain::page::PageSize::new(Some(5)),
        page1.next_cursor,
    )
    .await
    .unwrap();
    assert_eq!(
        page2.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        ids[5..]
    );
    assert!(page2.next_cursor.is_none());
    assert_eq!(
        MediaRepository::list(
            &store,
            &alice,
            multivio_domain::page::PageSize::new(Some(5)),
            Some("nope".into())
        )
        .await
        .unwrap_err(),
        StoreError::InvalidCursor
    );

    let some = store
        .get_many(&alice, &[ids[3], MediaId(Uuid::new_v4()), ids[0]])
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|f| f.id).collect::<Vec<_>>(),
        [ids[3], ids[0]]
    );
    assert!(store.get_many(&bob, &ids).await.unwrap().is_empty());
    assert_eq!(
        MediaRepository::get(&store, &bob, ids[0])
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store.update_alt_text(&bob, ids[0], None).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        MediaRepository::delete(&store, &bob, ids[0])
            .await
            .unwrap_err(),
        StoreError::NotFound
    );

    let alt = AltText::new("a red bicycle").unwrap();
    let updated = store
        .update_alt_text(&alice, ids[0], Some(alt.clone()))
        .await
        .unwrap();
    assert_eq!(updated.alt_text, Some(alt));
    MediaRepository::delete(&store, &alice, ids[0])
        .await
        .unwrap();
    assert_eq!(
        MediaRepository::get(&store, &alice, ids[0])
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

fn pending(t: &Tenant, state: &str, ttl: Duration) -> PendingAuthorization {
    PendingAuthorization {
        state: Secret::new(state),
        tenant: t.clone(),
        provider: Provider::Linkedin,
        pkce_verifier: Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        redirect_uri: "http://127.0.0.1:8080/v1/connections/linkedin/callback".into(),
        return_to: Some("http://localhost:3000/settings".into()),
        server_url: Some("https://mastodon.example".into()),
        connection_id: Some(multivio_domain::ConnectionId(Uuid::from_u128(5))),
        expires_at: now() + ttl,
    }
}

#[tokio::test]
async fn oauth_states_are_taken_once_and_expire() {
    let (db, store) = setup().await;
    let alice = tenant(&store, "alice").await;
    let p = pending(&alice, "state-abc", Duration::minutes(10));
    store.save(&p).await.unwrap();

    // Neither the state nor the verifier is stored as such.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let stored: Row =
        diesel::sql_query("SELECT state_hash || ' ' || pkce_verifier AS line FROM oauth_states")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert!(!stored.line.contains("state-abc") && !stored.line.contains("dBjftJeZ4CVP"));

    // The callback learns where to send the browser without using the state up.
    assert_eq!(
        store
            .destination(&Secret::new("state-abc"), now())
            .await
            .unwrap(),
        Some((
            Provider::Linkedin,
            Some("http://localhost:3000/settings".into())
        ))
    );
    assert_eq!(
        store
            .destination(&Secret::new("state-other"), now())
            .await
            .unwrap(),
        None
    );

    // The pending authorisation adds OAuth 1.0a tokens to a connection.
    let take_through = |t: &Tenant, provider: Provider, flow, state: &'static str, at| {
        let store = store.clone();
        let t = t.clone();
        async move {
            store
                .take(&t, provider, flow, &Secret::new(state), at)
                .await
                .unwrap()
        }
    };
    let take = |t: &Tenant, provider: Provider, state: &'static str, at| {
        take_through(t, provider, AuthorizationFlow::OAuth1, state, at)
    };
    assert_eq!(
        take(&alice, Provider::Linkedin, "state-other", now()).await,
        None
    );
    // Presented by someone else, or for another platform: refused, and not used up.
    let bob = tenant(&store, "bob").await;
    assert_eq!(
        take(&bob, Provider::Linkedin, "state-abc", now()).await,
        None
    );
    assert_eq!(take(&alice, Provider::X, "state-abc", now()).await, None);
    // Presented to the OAuth 2.0 callback: refused, and not used up either.
    assert_eq!(
        take_through(
            &alice,
            Provider::Linkedin,
            AuthorizationFlow::OAuth2,
            "state-abc",
            now()
        )
        .await,
        None
    );
    assert_eq!(
        take(&alice, Provider::Linkedin, "state-abc", now()).await,
        Some(p)
    );
    assert_eq!(
        take(&alice, Provider::Linkedin, "state-abc", now()).await,
        None,
        "replayed"
    );
    assert_eq!(
        store
            .destination(&Secret::new("state-abc"), now())
            .await
            .unwrap(),
        None
    );

    let short = pending(&alice, "state-short", Duration::seconds(5));
    store.save(&short).await.unwrap();
    assert_eq!(
        take(
            &alice,
            Provider::Linkedin,
            "state-short",
            now() + Duration::seconds(6)
        )
        .await,
        None,
        "expired"
    );
}

#[tokio::test]
async fn an_instance_app_is_kept_first_and_replaced_only_while_stale() {
    let (_db, store) = setup().await;
    let app = |client_id: &str| InstanceApp {
        provider: Provider::Mastodon,
        server_url: "https://mastodon.example".into(),
        redirect_uri: "https://multivio.example/v1/connections/mastodon/callback".into(),
        client_id: client_id.into(),
        client_secret: SealedToken(format!("sealed-{client_id}")),
        registered_at: None,
    };
    // As stored: stamped by the store's clock.
    let stored = |app: InstanceApp| {
        assert!(app.registered_at.is_some(), "{app:?}");
        InstanceApp {
            registered_at: None,
            ..app
        }
    };
    let get = || {
        InstanceAppStore::get(
            &store,
            Provider::Mastodon,
            "https://mastodon.example",
            "https://multivio.example/v1/connections/mastodon/callback",
        )
    };
    // Two registrations at once: the first stored is kept.
    assert_eq!(
        stored(store.put(&app("first")).await.unwrap()),
        app("first")
    );
    assert_eq!(
        stored(store.put(&app("second")).await.unwrap()),
        app("first")
    );
    // The instance forgot it: replaced once; a second process replacing the same stale app
    // gets the first replacement.
    assert_eq!(
        stored(store.replace("first", &app("again")).await.unwrap()),
        app("again")
    );
    assert_eq!(
        stored(store.replace("first", &app("racer")).await.unwrap()),
        app("again")
    );
    assert_eq!(get().await.unwrap().map(stored), Some(app("again")));
    // Another redirect URI is another app.
    let other = InstanceApp {
        redirect_uri: "https://other.example/callback".into(),
        ..app("other")
    };
    assert_eq!(stored(store.replace("gone", &other).await.unwrap()), other);
    assert_eq!(get().await.unwrap().map(stored), Some(app("again")));
}

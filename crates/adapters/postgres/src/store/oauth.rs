//! `oauth_states`: OAuth authorisations in flight (state + PKCE verifier), single use.
//!
//! The `state` itself is never stored: the row is keyed by its SHA-256, and the PKCE verifier
//! is sealed with a key derived from the state. Only the browser holding the state can complete
//! the flow, and a copy of the table alone yields neither states nor verifiers.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use multivio_domain::{ConnectionId, Provider, Secret, Tenant};
use multivio_ports::StoreError;
use multivio_ports::platform::{AuthorizationFlow, OAuthStateStore, PendingAuthorization};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Fail, PgStore, corrupt, sha256_hex};
use crate::schema::oauth_states;

fn state_key(state: &Secret) -> Result<LessSafeKey, Fail> {
    let mut material = b"multivio oauth state v1\0".to_vec();
    material.extend_from_slice(state.expose().as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &material);
    UnboundKey::new(&AES_256_GCM, digest.as_ref())
        .map(LessSafeKey::new)
        .map_err(|_| corrupt("oauth state key", "unusable"))
}

fn seal_verifier(state: &Secret, state_hash: &str, verifier: &Secret) -> Result<String, Fail> {
    let key = state_key(state)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Fail::Store(StoreError::Unavailable("no randomness".to_owned())))?;
    let mut buf = verifier.expose().as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(state_hash.as_bytes()),
        &mut buf,
    )
    .map_err(|_| corrupt("pkce verifier", "could not be sealed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

fn open_verifier(state: &Secret, state_hash: &str, sealed: &str) -> Result<Secret, Fail> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|e| corrupt("pkce verifier", e))?;
    if bytes.len() < NONCE_LEN {
        return Err(corrupt("pkce verifier", "too short"));
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| corrupt("pkce verifier", "bad nonce"))?;
    let mut rest = rest.to_vec();
    let plain = state_key(state)?
        .open_in_place(nonce, Aad::from(state_hash.as_bytes()), &mut rest)
        .map_err(|_| corrupt("pkce verifier", "does not open"))?;
    String::from_utf8(plain.to_vec())
        .map(Secret::new)
        .map_err(|e| corrupt("pkce verifier", e))
}

/// What taking a pending authorisation returns.
const TAKEN: (
    oauth_states::pkce_verifier,
    oauth_states::redirect_uri,
    oauth_states::return_to,
    oauth_states::server_url,
    oauth_states::connection_id,
    oauth_states::expires_at,
) = (
    oauth_states::pkce_verifier,
    oauth_states::redirect_uri,
    oauth_states::return_to,
    oauth_states::server_url,
    oauth_states::connection_id,
    oauth_states::expires_at,
);

#[async_trait]
impl OAuthStateStore for PgStore {
    async fn save(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let uid = pending.tenant.user_id.0;
        let hash = sha256_hex(pending.state.expose());
        let sealed = seal_verifier(&pending.state, &hash, &pending.pkce_verifier)
            .map_err(StoreError::from)?;
        let p = pending.clone();
        self.tenant(&pending.tenant, async move |conn| {
            // Expired authorisations of this user go as new ones come.
            diesel::delete(
                oauth_states::table
                    .filter(oauth_states::user_id.eq(uid))
                    .filter(oauth_states::expires_at.lt(Utc::now())),
            )
            .execute(conn)
            .await?;
            diesel::insert_into(oauth_states::table)
                .values((
                    oauth_states::state_hash.eq(hash),
                    oauth_states::user_id.eq(uid),
                    oauth_states::provider.eq(p.provider.as_str()),
                    oauth_states::pkce_verifier.eq(sealed),
                    oauth_states::redirect_uri.eq(&p.redirect_uri),
                    oauth_states::return_to.eq(p.return_to.as_deref()),
                    oauth_states::server_url.eq(p.server_url.as_deref()),
                    oauth_states::connection_id.eq(p.connection_id.map(|c| c.0)),
                    oauth_states::expires_at.eq(p.expires_at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn destination(
        &self,
        state: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<(Provider, Option<String>)>, StoreError> {
        let hash = sha256_hex(state.expose());
        self.worker(async move |conn| {
            let row: Option<(String, Option<String>)> = oauth_states::table
                .filter(oauth_states::state_hash.eq(&hash))
                .filter(oauth_states::expires_at.gt(now))
                .select((oauth_states::provider, oauth_states::return_to))
                .first(conn)
                .await
                .optional()?;
            row.map(|(provider, return_to)| {
                provider
                    .parse::<Provider>()
                    .map(|p| (p, return_to))
                    .map_err(|e| corrupt("provider", e))
            })
            .transpose()
        })
        .await
    }

    async fn take(
        &self,
        tenant: &Tenant,
        provider: Provider,
        flow: AuthorizationFlow,
        state: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let hash = sha256_hex(state.expose());
        let state = state.clone();
        let owner = tenant.clone();
        let uid = tenant.user_id.0;
        // Only the tenant's own state of this provider and flow is used up: a state presented
        // by someone else, for another platform or through the other flow's route, stays.
        self.tenant(tenant, async move |conn| {
            type Taken = (
                String,
                String,
                Option<String>,
                Option<String>,
                Option<uuid::Uuid>,
                DateTime<Utc>,
            );
            let matching = oauth_states::table
                .filter(oauth_states::state_hash.eq(&hash))
                .filter(oauth_states::user_id.eq(uid))
                .filter(oauth_states::provider.eq(provider.as_str()))
                .filter(oauth_states::expires_at.gt(now));
            let taken: Option<Taken> = match flow {
                AuthorizationFlow::OAuth2 => {
                    diesel::delete(matching.filter(oauth_states::connection_id.is_null()))
                        .returning(TAKEN)
                        .get_result(conn)
                        .await
                }
                AuthorizationFlow::OAuth1 => {
                    diesel::delete(matching.filter(oauth_states::connection_id.is_not_null()))
                        .returning(TAKEN)
                        .get_result(conn)
                        .await
                }
            }
            .optional()?;
            let Some((
                pkce_verifier,
                redirect_uri,
                return_to,
                server_url,
                connection_id,
                expires_at,
            )) = taken
            else {
                return Ok(None);
            };
            Ok(Some(PendingAuthorization {
                pkce_verifier: open_verifier(&state, &hash, &pkce_verifier)?,
                state,
                tenant: owner,
                provider,
                redirect_uri,
                return_to,
                server_url,
                connection_id: connection_id.map(ConnectionId),
                expires_at,
            }))
        })
        .await
    }
}

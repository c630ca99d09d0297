//! `idempotency_keys`: reservations and stored answers of idempotent API requests. The effect
//! side (recording the post a reservation's attempt changed) is in the post unit of work.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use multivio_domain::PostId;
use multivio_domain::Tenant;
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_ports::StoreError;
use multivio_ports::idempotency::{IdempotencyStore, Reservation};
use uuid::Uuid;

use super::{Fail, PgStore, sha256_hex};
use crate::schema::idempotency_keys as ik;

/// After this long with neither an effect nor an answer, a reservation is abandoned (its
/// process died before doing anything) and the next identical request takes it over.
const STALE_AFTER_MINUTES: i64 = 5;
/// Keys are remembered this long.
const KEEP_DAYS: i64 = 1;

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn reserve(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        fingerprint: &[u8],
    ) -> Result<Reservation, StoreError> {
        let uid = tenant.user_id.0;
        let key = key.clone();
        let hash = sha256_hex(fingerprint);
        let attempt = Uuid::new_v4();
        self.tenant(tenant, async move |conn| {
            // Ages are judged by the database's clock, which stamped `created_at`.
            // Keys older than a day are forgotten as new ones arrive.
            diesel::delete(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                        "created_at < now() - interval '{KEEP_DAYS} days'"
                    ))),
            )
            .execute(conn)
            .await?;
            let inserted = diesel::insert_into(ik::table)
                .values((
                    ik::user_id.eq(uid),
                    ik::idempotency_key.eq(key.as_str()),
                    ik::request_hash.eq(&hash),
                    ik::attempt.eq(attempt),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            let claim = IdempotencyClaim {
                key: key.clone(),
                attempt,
            };
            if inserted == 1 {
                return Ok(Reservation::Reserved(claim));
            }
            // Abandoned before any effect: the next identical request takes it over with a new
            // attempt, so the abandoned one can no longer commit an effect.
            let taken_over = diesel::update(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(key.as_str()))
                    .filter(ik::request_hash.eq(&hash))
                    .filter(ik::response_status.is_null())
                    .filter(ik::post_id.is_null())
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                        "created_at < now() - interval '{STALE_AFTER_MINUTES} minutes'"
                    ))),
            )
            .set((ik::created_at.eq(diesel::dsl::now), ik::attempt.eq(attempt)))
            .execute(conn)
            .await?;
            if taken_over == 1 {
                return Ok(Reservation::Reserved(claim));
            }
            type Row = (String, Option<i32>, Option<serde_json::Value>, Option<Uuid>);
            let (stored_hash, status, body, post_id): Row = ik::table
                .filter(ik::user_id.eq(uid))
                .filter(ik::idempotency_key.eq(key.as_str()))
                .select((
                    ik::request_hash,
                    ik::response_status,
                    ik::response_body,
                    ik::post_id,
                ))
                .first(conn)
                .await?;
            Ok::<_, Fail>(if stored_hash != hash {
                Reservation::Mismatch
            } else {
                match (status, post_id) {
                    (Some(status), _) => Reservation::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body: body.unwrap_or(serde_json::Value::Null),
                    },
                    (None, Some(post)) => Reservation::Committed {
                        post_id: PostId(post),
                    },
                    (None, None) => Reservation::InProgress,
                }
            })
        })
        .await
    }

    async fn complete(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let key = key.clone();
        let body = body.clone();
        self.tenant(tenant, async move |conn| {
            diesel::update(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(key.as_str())),
            )
            .set((
                ik::response_status.eq(i32::from(status)),
                ik::response_body.eq(body),
            ))
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }

    async fn release(&self, tenant: &Tenant, claim: &IdempotencyClaim) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let claim = claim.clone();
        self.tenant(tenant, async move |conn| {
            diesel::delete(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(claim.key.as_str()))
                    .filter(ik::attempt.eq(claim.attempt))
                    .filter(ik::response_status.is_null())
                    .filter(ik::post_id.is_null()),
            )
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }
}

//! `idempotency_keys`: stored answers of idempotent API requests.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use multivio_domain::Tenant;
use multivio_ports::StoreError;
use multivio_ports::idempotency::{IdempotencyStore, Reservation};

use super::{Fail, PgStore};

/// After this long without an answer, a reservation is considered abandoned.
const STALE_AFTER_MINUTES: i64 = 5;
use crate::schema::idempotency_keys as ik;

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn reserve(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
    ) -> Result<Reservation, StoreError> {
        let uid = tenant.user_id.0;
        let key = key.to_owned();
        let hash = request_hash.to_owned();
        self.tenant(tenant, async move |conn| {
            // Keys older than a day are forgotten as new ones arrive.
            diesel::delete(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::created_at.lt(chrono::Utc::now() - chrono::Duration::days(1))),
            )
            .execute(conn)
            .await?;
            let inserted = diesel::insert_into(ik::table)
                .values((
                    ik::user_id.eq(uid),
                    ik::idempotency_key.eq(&key),
                    ik::request_hash.eq(&hash),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 1 {
                return Ok(Reservation::Reserved);
            }
            // A reservation whose request never recorded its answer (the process died, or the
            // answer could not be stored) is taken over after a while, so the client's retry
            // is not refused for a day.
            let stale = chrono::Utc::now() - chrono::Duration::minutes(STALE_AFTER_MINUTES);
            let taken_over = diesel::update(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(&key))
                    .filter(ik::request_hash.eq(&hash))
                    .filter(ik::response_status.is_null())
                    .filter(ik::created_at.lt(stale)),
            )
            .set(ik::created_at.eq(chrono::Utc::now()))
            .execute(conn)
            .await?;
            if taken_over == 1 {
                return Ok(Reservation::Reserved);
            }
            let (stored_hash, status, body): (String, Option<i32>, Option<serde_json::Value>) =
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(&key))
                    .select((ik::request_hash, ik::response_status, ik::response_body))
                    .first(conn)
                    .await?;
            Ok::<_, Fail>(if stored_hash != hash {
                Reservation::Mismatch
            } else {
                match (status, body) {
                    (Some(status), body) => Reservation::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body: body.unwrap_or(serde_json::Value::Null),
                    },
                    (None, _) => Reservation::InProgress,
                }
            })
        })
        .await
    }

    async fn complete(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let key = key.to_owned();
        let body = body.clone();
        self.tenant(tenant, async move |conn| {
            diesel::update(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(key)),
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

    async fn release(&self, tenant: &Tenant, key: &str) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let key = key.to_owned();
        self.tenant(tenant, async move |conn| {
            diesel::delete(
                ik::table
                    .filter(ik::user_id.eq(uid))
                    .filter(ik::idempotency_key.eq(key))
                    .filter(ik::response_status.is_null()),
            )
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }
}

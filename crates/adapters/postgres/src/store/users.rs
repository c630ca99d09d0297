//! `users`, `user_info` and `subscription_history`: the user, quota and billing ports.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use multivio_domain::contact::Email;
use multivio_domain::quota::{PlanName, Quota, QuotaState, carryover_keys};
use multivio_domain::subscription::{
    BillingOutcome, Subscription, SubscriptionHistoryEntry, SubscriptionStatus,
};
use multivio_domain::user::{AuthProvider, NewUser, Profile, User, Username, VerificationSends};
use multivio_domain::{FirebaseUid, Secret, Tenant, UserId};
use multivio_ports::StoreError;
use multivio_ports::users::{BillingStore, EventApplied, QuotaStore, Upserted, UserStore};

use super::{Fail, PgStore, corrupt, one_row, sha256_hex, to_i32, to_u32};
use crate::schema::{
    processed_webhook_events, quota_carryovers, subscription_history, user_info, users,
};

/// Days a processed webhook event is remembered (Stripe retries one for three).
pub const WEBHOOK_EVENT_DAYS: i64 = 30;

/// A `users` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: i32,
    firebase_uid: String,
    email: String,
    username: Option<String>,
    full_name: Option<String>,
    display_name: Option<String>,
    work_description: Option<String>,
    bio: Option<String>,
    avatar_url: Option<String>,
    email_verified: Option<bool>,
    auth_provider: Option<String>,
    is_active: Option<bool>,
    is_verified: Option<bool>,
    stripe_customer_id: Option<String>,
    subscription_status: Option<String>,
    subscription_id: Option<String>,
    plan_name: Option<String>,
    subscription_end_date: Option<DateTime<Utc>>,
    email_verification_sent_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl UserRow {
    fn into_domain(self, last_event_at: Option<DateTime<Utc>>) -> Result<User, Fail> {
        let created_at = self.created_at.unwrap_or_default();
        Ok(User {
            id: UserId(self.id),
            firebase_uid: FirebaseUid::new(self.firebase_uid)
                .map_err(|e| corrupt("firebase_uid", e))?,
            email: Email::new(&self.email).map_err(|e| corrupt("email", e))?,
            email_verified: self.email_verified.unwrap_or(false),
            auth_provider: AuthProvider::new(self.auth_provider.as_deref().unwrap_or("email"))
                .map_err(|e| corrupt("auth_provider", e))?,
            profile: Profile {
                username: self
                    .username
                    .map(Username::new)
                    .transpose()
                    .map_err(|e| corrupt("username", e))?,
                full_name: self.full_name,
                display_name: self.display_name,
                work_description: self.work_description,
                bio: self.bio,
                avatar_url: self.avatar_url,
            },
            is_active: self.is_active.unwrap_or(true),
            is_verified: self.is_verified.unwrap_or(false),
            subscription: Subscription {
                plan_name: self
                    .plan_name
                    .map(PlanName::new)
                    .transpose()
                    .map_err(|e| corrupt("plan_name", e))?
                    .unwrap_or_else(PlanName::free),
                status: self
                    .subscription_status
                    .as_deref()
                    .unwrap_or("free")
                    .parse::<SubscriptionStatus>()
                    .map_err(|e| corrupt("subscription_status", e))?,
                stripe_customer_id: self.stripe_customer_id,
                subscription_id: self.subscription_id,
                end_date: self.subscription_end_date,
                last_event_at,
            },
            email_verification_sent_at: self.email_verification_sent_at,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        })
    }
}

/// A `user_info` row's quota columns.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = user_info)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct QuotaRow {
    monthly_post_quota: Option<i32>,
    remaining_posts: Option<i32>,
    last_quota_reset: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    pending_monthly_post_quota: Option<i32>,
    paid_monthly_post_quota: Option<i32>,
    quota_anchor: Option<DateTime<Utc>>,
}

impl QuotaRow {
    /// The seed leaves these columns nullable; a NULL reads as the column's default.
    fn into_domain(self) -> Quota {
        self.into_state().quota
    }

    /// The quota with the downgrade waiting for the period's end.
    fn into_state(self) -> QuotaState {
        let monthly = self.monthly_post_quota.map(to_u32).unwrap_or(10);
        let start = self
            .last_quota_reset
            .or(self.created_at)
            .unwrap_or_default();
        QuotaState {
            quota: Quota {
                monthly_post_quota: monthly,
                remaining_posts: self.remaining_posts.map(to_u32).unwrap_or(monthly),
                last_quota_reset: start,
                anchor: self.quota_anchor.unwrap_or(start),
            },
            pending_monthly_post_quota: self.pending_monthly_post_quota.map(to_u32),
            paid_monthly_post_quota: self.paid_monthly_post_quota.map(to_u32),
        }
    }
}

/// `quota_resets_at` for `quota`: its end, or the last instant chrono counts when it has none
/// (an absurd date) — never NULL, which the sweep takes for an end not written yet.
fn stored_end(quota: &Quota) -> DateTime<Utc> {
    quota.resets_at().unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Writes a quota state to the user's `user_info` row.
async fn write_quota_state(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    state: &QuotaState,
) -> Result<(), Fail> {
    diesel::update(user_info::table.filter(user_info::user_id.eq(user_id)))
        .set((
            user_info::monthly_post_quota.eq(to_i32(state.quota.monthly_post_quota)),
            user_info::remaining_posts.eq(to_i32(state.quota.remaining_posts)),
            user_info::last_quota_reset.eq(state.quota.last_quota_reset),
            user_info::quota_anchor.eq(state.quota.anchor),
            user_info::quota_resets_at.eq(stored_end(&state.quota)),
            user_info::pending_monthly_post_quota.eq(state.pending_monthly_post_quota.map(to_i32)),
            user_info::paid_monthly_post_quota.eq(state.paid_monthly_post_quota.map(to_i32)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

// Quota carry-overs (`quota_carryovers`, migration 015).
//
// What a deleted account leaves so that leaving does not reset its quota: the period's start,
// the monthly quota and the posts left, under the hex SHA-256 of each of the account's
// `carryover_keys` (the uid's, and the address's only when verified), until the period ends.
//
// Why a plain (domain-separated) SHA-256 and not an HMAC: the only key this adapter holds is
// the tenant-claim key, which is itself stored in this database (`multivio_private.
// claim_keys`) — a dump that holds the hashes is likely to hold it too — and which changes
// when the keyring rotates, silently voiding every carry-over (and reopening the reset by
// leaving). The hashes are no secret from whoever can guess an address; they are kept from
// everyone else by the table's forced RLS (the worker role only) and are deleted when the
// period they describe ends, at most a month after the deletion.

/// The carry-over rows' keys for these identities.
fn carryover_hashes(uid: &FirebaseUid, email: &Email, email_verified: bool) -> Vec<String> {
    carryover_keys(uid, email, email_verified)
        .iter()
        .map(sha256_hex)
        .collect()
}

/// Deletes carry-overs whose period ended at `now`.
async fn purge_carryovers(conn: &mut &AsyncPgConnection, now: DateTime<Utc>) -> Result<u64, Fail> {
    let n = diesel::delete(quota_carryovers::table.filter(quota_carryovers::expires_at.le(now)))
        .execute(conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A `quota_carryovers` row's period.
#[derive(Queryable, Selectable)]
#[diesel(table_name = quota_carryovers)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct CarriedRow {
    monthly_post_quota: i32,
    remaining_posts: i32,
    last_quota_reset: DateTime<Utc>,
    quota_anchor: Option<DateTime<Utc>>,
}

/// The carried periods stored under any of `hashes` and still running at `now`.
async fn current_carryovers(
    conn: &mut &AsyncPgConnection,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Quota>, Fail> {
    let rows: Vec<CarriedRow> = quota_carryovers::table
        .filter(quota_carryovers::key_hash.eq_any(hashes))
        .filter(quota_carryovers::expires_at.gt(now))
        .select(CarriedRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Quota {
            monthly_post_quota: to_u32(row.monthly_post_quota),
            remaining_posts: to_u32(row.remaining_posts),
            last_quota_reset: row.last_quota_reset,
            anchor: row.quota_anchor.unwrap_or(row.last_quota_reset),
        })
        .collect())
}

/// Keeps `quota` under each of `hashes` until its period ends. A row for the same key and
/// period (the same person deleted again in the period it continued) keeps the fewer posts
/// left, so no deletion frees posts.
async fn keep_carryover(
    conn: &mut &AsyncPgConnection,
    hashes: &[String],
    quota: &Quota,
    expires_at: DateTime<Utc>,
) -> Result<(), Fail> {
    for hash in hashes {
        diesel::insert_into(quota_carryovers::table)
            .values((
                quota_carryovers::key_hash.eq(hash),
                quota_carryovers::last_quota_reset.eq(quota.last_quota_reset),
                quota_carryovers::quota_anchor.eq(quota.anchor),
                quota_carryovers::monthly_post_quota.eq(to_i32(quota.monthly_post_quota)),
                quota_carryovers::remaining_posts.eq(to_i32(quota.remaining_posts)),
                quota_carryovers::expires_at.eq(expires_at),
            ))
            .on_conflict((
                quota_carryovers::key_hash,
                quota_carryovers::last_quota_reset,
            ))
            .do_update()
            .set((
                quota_carryovers::monthly_post_quota.eq(diesel::upsert::excluded(
                    quota_carryovers::monthly_post_quota,
                )),
                quota_carryovers::quota_anchor
                    .eq(diesel::upsert::excluded(quota_carryovers::quota_anchor)),
                quota_carryovers::remaining_posts.eq(
                    diesel::dsl::sql::<diesel::sql_types::Integer>(
                        "LEAST(quota_carryovers.remaining_posts, EXCLUDED.remaining_posts)",
                    ),
                ),
                quota_carryovers::expires_at
                    .eq(diesel::upsert::excluded(quota_carryovers::expires_at)),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Loads the user and the time of its last applied billing event.
async fn load_user(
    conn: &mut &AsyncPgConnection,
    filter: impl FnOnce(
        users::BoxedQuery<'static, diesel::pg::Pg>,
    ) -> users::BoxedQuery<'static, diesel::pg::Pg>,
) -> Result<Option<User>, Fail> {
    let user: Option<UserRow> = filter(users::table.into_boxed())
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(user) = user else { return Ok(None) };
    let last_event_at: Option<DateTime<Utc>> = user_info::table
        .filter(user_info::user_id.eq(user.id))
        .select(user_info::last_billing_event_at)
        .first(conn)
        .await
        .optional()?
        .flatten();
    user.into_domain(last_event_at).map(Some)
}

impl PgStore {
    /// Takes `new`'s (verified) address from another user's row that holds it unverified.
    async fn release_unverified_email(&self, new: &NewUser) -> Result<(), StoreError> {
        let email = new.email.as_str().to_owned();
        let uid = new.firebase_uid.as_str().to_owned();
        self.worker(async move |conn| {
            let released = diesel::update(
                users::table
                    .filter(users::email.eq(&email))
                    .filter(users::firebase_uid.ne(&uid))
                    .filter(users::email_verified.is_distinct_from(true)),
            )
            .set((
                users::email.eq(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "'released-' || users.id || '@released.invalid'",
                )),
                users::email_verified.eq(false),
                users::email_verification_token.eq(None::<String>),
                users::email_verification_expires_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
            if released > 0 {
                tracing::info!("an unverified account gave up an address its owner signed in with");
            }
            Ok(())
        })
        .await
    }

    /// One attempt of [`UserStore::upsert_from_identity`].
    async fn upsert_once(&self, new: &NewUser, quota: &Quota) -> Result<Upserted, StoreError> {
        let new = new.clone();
        let quota = *quota;
        let uid = new.firebase_uid.clone();
        // As the worker: the API role may not write email_verified or create quota rows. The
        // identity comes from a verified ID token.
        self.worker_as(&uid, async move |conn| {
            // One statement, so two concurrent first requests make one row: the second waits
            // on the unique index, then updates. `xmax = 0` only for a freshly inserted row.
            let (row, created): (UserRow, bool) = diesel::insert_into(users::table)
                .values((
                    users::firebase_uid.eq(new.firebase_uid.as_str()),
                    users::email.eq(new.email.as_str()),
                    users::email_verified.eq(new.email_verified),
                    users::auth_provider.eq(new.auth_provider.as_str()),
                    users::full_name.eq(new.full_name.as_deref()),
                    users::avatar_url.eq(new.avatar_url.as_deref()),
                ))
                .on_conflict(users::firebase_uid)
                .do_update()
                .set((
                    users::email.eq(diesel::upsert::excluded(users::email)),
                    users::auth_provider.eq(diesel::upsert::excluded(users::auth_provider)),
                    // A verified address stays verified; a new address is as the identity
                    // provider says, and a verification mailed to the old one is void.
                    users::email_verified.eq(
                        diesel::dsl::sql::<diesel::sql_types::Nullable<Bool>>(
                            "CASE WHEN users.email = EXCLUDED.email \
                                  THEN users.email_verified OR EXCLUDED.email_verified \
                                  ELSE EXCLUDED.email_verified END",
                        ),
                    ),
                    users::email_verification_token.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Text>,
                    >(
                        "CASE WHEN users.email = EXCLUDED.email \
                              THEN users.email_verification_token END",
                    )),
                ))
                .returning((
                    UserRow::as_returning(),
                    diesel::dsl::sql::<Bool>("xmax = 0"),
                ))
                .get_result(conn)
                .await?;
            if created {
                // A deleted account of the same person (its uid, or its address when the
                // identity provider verified it) may have left a period still running.
                let now = quota.last_quota_reset;
                let hashes = carryover_hashes(&new.firebase_uid, &new.email, new.email_verified);
                let carried = current_carryovers(conn, &hashes, now).await?;
                purge_carryovers(conn, now).await?;
                let quota = quota.continuing(&carried);
                diesel::insert_into(user_info::table)
                    .values((
                        user_info::user_id.eq(row.id),
                        user_info::plan_type.eq("free"),
                        user_info::monthly_post_quota.eq(to_i32(quota.monthly_post_quota)),
                        user_info::remaining_posts.eq(to_i32(quota.remaining_posts)),
                        user_info::last_quota_reset.eq(quota.last_quota_reset),
                        user_info::quota_anchor.eq(quota.anchor),
                        user_info::quota_resets_at.eq(stored_end(&quota)),
                    ))
                    .on_conflict(user_info::user_id)
                    .do_nothing()
                    .execute(conn)
                    .await?;
            }
            let last_event_at = if created {
                None
            } else {
                user_info::table
                    .filter(user_info::user_id.eq(row.id))
                    .select(user_info::last_billing_event_at)
                    .first(conn)
                    .await
                    .optional()?
                    .flatten()
            };
            Ok(Upserted {
                user: row.into_domain(last_event_at)?,
                created,
            })
        })
        .await
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn find_by_firebase_uid(&self, uid: &FirebaseUid) -> Result<Option<User>, StoreError> {
        let tenant_uid = uid.as_str().to_owned();
        // The claim is the uid itself: the user's own row is visible, nobody else's.
        self.as_user(uid, async move |conn| {
            load_user(conn, |q| q.filter(users::firebase_uid.eq(tenant_uid))).await
        })
        .await
    }

    async fn upsert_from_identity(
        &self,
        new: &NewUser,
        quota: &Quota,
    ) -> Result<Upserted, StoreError> {
        // ON CONFLICT settles races on its arbiter (firebase_uid) only. Two first requests of
        // one user can instead meet on the email index, when the second inserts before the
        // first's row is visible; a new attempt then finds that row and updates it. A real
        // email clash with another user stays a Duplicate.
        //
        // An address proves nothing until it is verified: when a verified identity meets
        // another user's *unverified* row holding its address, that row gives the address up
        // (it becomes `released-<id>@released.invalid`, unverified), so nobody can keep an
        // address from its owner by signing up with it first. That user's next sign-in with
        // the address is then the refused one.
        let mut attempts = 0;
        loop {
            match self.upsert_once(new, quota).await {
                Err(StoreError::Duplicate { field }) if field == "email" && attempts < 3 => {
                    attempts += 1;
                    if new.email_verified {
                        self.release_unverified_email(new).await?;
                    }
                }
                other => return other,
            }
        }
    }

    async fn get(&self, tenant: &Tenant) -> Result<User, StoreError> {
        let id = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            load_user(conn, |q| q.filter(users::id.eq(id)))
                .await?
                .ok_or(Fail::Store(StoreError::NotFound))
        })
        .await
    }

    async fn update_profile(&self, tenant: &Tenant, profile: &Profile) -> Result<User, StoreError> {
        let id = tenant.user_id.0;
        let p = profile.clone();
        self.tenant(tenant, async move |conn| {
            diesel::update(users::table.filter(users::id.eq(id)))
                .set((
                    users::username.eq(p.username.as_ref().map(Username::as_str)),
                    users::full_name.eq(p.full_name.as_deref()),
                    users::display_name.eq(p.display_name.as_deref()),
                    users::work_description.eq(p.work_description.as_deref()),
                    users::bio.eq(p.bio.as_deref()),
                    users::avatar_url.eq(p.avatar_url.as_deref()),
                ))
                .execute(conn)
                .await?;
            load_user(conn, |q| q.filter(users::id.eq(id)))
                .await?
                .ok_or(Fail::Store(StoreError::NotFound))
        })
        .await
    }

    async fn delete(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let id = tenant.user_id.0;
        let uid = tenant.firebase_uid.clone();
        // As the worker for the tenant: only the worker role may write the carry-over. Its
        // policies do not name the tenant, so every statement names both id and uid.
        self.worker_as(&tenant.firebase_uid, async move |conn| {
            let mine = users::table
                .filter(users::id.eq(id))
                .filter(users::firebase_uid.eq(uid.as_str()));
            let who: Option<(String, Option<bool>)> = mine
                .select((users::email, users::email_verified))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some((email, email_verified)) = who else {
                return Err(Fail::Store(StoreError::NotFound));
            };
            let email = Email::new(&email).map_err(|e| corrupt("email", e))?;
            let quota: Option<QuotaRow> = user_info::table
                .filter(user_info::user_id.eq(id))
                .select(QuotaRow::as_select())
                .first(conn)
                .await
                .optional()?;
            let now: DateTime<Utc> = diesel::select(diesel::dsl::sql::<Timestamptz>("now()"))
                .get_result(conn)
                .await?;
            if let Some(quota) = quota.map(QuotaRow::into_domain)
                && quota.is_current(now)
                && let Some(expires_at) = quota.resets_at()
            {
                let hashes = carryover_hashes(&uid, &email, email_verified.unwrap_or(false));
                keep_carryover(conn, &hashes, &quota, expires_at).await?;
            }
            purge_carryovers(conn, now).await?;
            one_row(diesel::delete(mine).execute(conn).await?)?;
            Ok(())
        })
        .await
    }

    async fn verification_sends(&self, tenant: &Tenant) -> Result<VerificationSends, StoreError> {
        let id = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let sends: Vec<Option<DateTime<Utc>>> = users::table
                .filter(users::id.eq(id))
                .select(users::email_verification_sends)
                .first(conn)
                .await?;
            Ok(VerificationSends::new(
                sends.into_iter().flatten().collect(),
            ))
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_verification_send(
        &self,
        tenant: &Tenant,
        email: &Email,
        token: &Secret,
        expires_at: DateTime<Utc>,
        sent_at: DateTime<Utc>,
        expected: &VerificationSends,
        sends: &VerificationSends,
    ) -> Result<bool, StoreError> {
        let id = tenant.user_id.0;
        let uid = tenant.firebase_uid.as_str().to_owned();
        let email = email.as_str().to_owned();
        let token_hash = sha256_hex(token.expose());
        let expected: Vec<Option<DateTime<Utc>>> =
            expected.times().iter().copied().map(Some).collect();
        let sends: Vec<Option<DateTime<Utc>>> = sends.times().iter().copied().map(Some).collect();
        // As the worker: the API role may not write verification columns.
        self.worker(async move |conn| {
            let n = diesel::update(
                users::table
                    .filter(users::id.eq(id))
                    .filter(users::firebase_uid.eq(uid))
                    // The token verifies the address it is mailed to, none other.
                    .filter(users::email.eq(email))
                    .filter(users::email_verification_sends.eq(expected)),
            )
            .set((
                users::email_verification_token.eq(token_hash),
                users::email_verification_expires_at.eq(expires_at),
                users::email_verification_sent_at.eq(sent_at),
                users::email_verification_sends.eq(sends),
            ))
            .execute(conn)
            .await?;
            Ok(n == 1)
        })
        .await
    }

    async fn confirm_email(
        &self,
        token: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<Tenant>, StoreError> {
        let token_hash = sha256_hex(token.expose());
        self.worker(async move |conn| {
            let row: Option<(i32, String)> = diesel::update(
                users::table
                    .filter(users::email_verification_token.eq(token_hash))
                    .filter(users::email_verification_expires_at.gt(now)),
            )
            .set((
                users::email_verified.eq(true),
                users::email_verification_token.eq(None::<String>),
                users::email_verification_expires_at.eq(None::<DateTime<Utc>>),
            ))
            .returning((users::id, users::firebase_uid))
            .get_result(conn)
            .await
            .optional()?;
            row.map(|(id, uid)| {
                FirebaseUid::new(uid)
                    .map(|uid| Tenant::new(UserId(id), uid))
                    .map_err(|e| corrupt("firebase_uid", e))
            })
            .transpose()
        })
        .await
    }

    async fn find_by_stripe_customer(&self, customer_id: &str) -> Result<Option<User>, StoreError> {
        let customer_id = customer_id.to_owned();
        self.worker(async move |conn| {
            load_user(conn, |q| {
                q.filter(users::stripe_customer_id.eq(customer_id))
            })
            .await
        })
        .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.worker(async move |conn| load_user(conn, |q| q.filter(users::id.eq(id.0))).await)
            .await
    }
}

async fn load_quota(conn: &mut &AsyncPgConnection, user_id: i32) -> Result<Quota, Fail> {
    let row: QuotaRow = user_info::table
        .filter(user_info::user_id.eq(user_id))
        .select(QuotaRow::as_select())
        .first(conn)
        .await?;
    Ok(row.into_domain())
}

#[async_trait]
impl QuotaStore for PgStore {
    async fn get(&self, tenant: &Tenant) -> Result<Quota, StoreError> {
        let id = tenant.user_id.0;
        self.tenant(tenant, async move |conn| load_quota(conn, id).await)
            .await
    }

    async fn reset_period(
        &self,
        tenant: &Tenant,
        expected_last_reset: DateTime<Utc>,
        next: &Quota,
    ) -> Result<bool, StoreError> {
        let id = tenant.user_id.0;
        let next = *next;
        // As the worker: the API role may not write quota columns. The row is locked while
        // the waiting downgrade is applied, so a concurrent consumption or billing event waits.
        self.worker(async move |conn| {
            // The start as `QuotaRow` reads it: a seed row may have none and count from its
            // creation.
            let row: Option<QuotaRow> = user_info::table
                .filter(user_info::user_id.eq(id))
                .filter(
                    diesel::dsl::sql::<Bool>(
                        "COALESCE(user_info.last_quota_reset, user_info.created_at, \
                         'epoch'::timestamptz) = ",
                    )
                    .bind::<Timestamptz, _>(expected_last_reset),
                )
                .select(QuotaRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(row) = row else { return Ok(false) };
            // A new period is computed on the row as locked — not on the caller's earlier read,
            // which a plan change may have overtaken — `next` saying when it starts. The same
            // period is written back as it is, with the end the core computes for it.
            let state = row.into_state().advance_to(next);
            write_quota_state(conn, id, &state).await?;
            Ok(true)
        })
        .await
    }

    async fn due_for_reset(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Tenant, Quota)>, StoreError> {
        self.worker(async move |conn| {
            // By the end the core computed with the period (index-served); a row without one
            // (written by hand) after those, for the caller to write its end.
            let rows: Vec<(QuotaRow, i32, String)> = user_info::table
                .inner_join(users::table)
                .filter(
                    user_info::quota_resets_at
                        .le(now)
                        .or(user_info::quota_resets_at.is_null()),
                )
                .order(user_info::quota_resets_at.asc().nulls_last())
                .limit(i64::from(limit))
                .select((QuotaRow::as_select(), users::id, users::firebase_uid))
                .load(conn)
                .await?;
            rows.into_iter()
                .map(|(quota, id, uid)| {
                    let uid = FirebaseUid::new(uid).map_err(|e| corrupt("firebase_uid", e))?;
                    Ok((Tenant::new(UserId(id), uid), quota.into_domain()))
                })
                .collect()
        })
        .await
    }

    async fn purge_expired_carryovers(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.worker(async move |conn| purge_carryovers(conn, now).await)
            .await
    }
}

/// A `subscription_history` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = subscription_history)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct HistoryRow {
    user_email: String,
    stripe_subscription_id: Option<String>,
    plan_name: Option<String>,
    status: Option<String>,
    amount_paid: Option<i32>,
    currency: Option<String>,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    stripe_customer_id: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

impl HistoryRow {
    fn into_domain(self) -> Result<SubscriptionHistoryEntry, Fail> {
        Ok(SubscriptionHistoryEntry {
            user_email: Email::new(&self.user_email).map_err(|e| corrupt("user_email", e))?,
            stripe_subscription_id: self.stripe_subscription_id,
            plan_name: self
                .plan_name
                .map(PlanName::new)
                .transpose()
                .map_err(|e| corrupt("plan_name", e))?,
            status: self.status.unwrap_or_default(),
            amount_paid: self.amount_paid.map(i64::from),
            currency: self.currency,
            period_start: self.period_start,
            period_end: self.period_end,
            stripe_customer_id: self.stripe_customer_id,
            created_at: self.created_at.unwrap_or_default(),
        })
    }
}

#[async_trait]
impl BillingStore for PgStore {
    async fn apply_event(
        &self,
        tenant: &Tenant,
        event_id: &str,
        expected_last_event_at: Option<DateTime<Utc>>,
        outcome: &BillingOutcome,
    ) -> Result<EventApplied, StoreError> {
        let id = tenant.user_id.0;
        let event_id = event_id.to_owned();
        let outcome = outcome.clone();
        // Webhooks arrive without a user session: the worker role, naming the user explicitly.
        self.worker(async move |conn| {
            // Events are remembered long past Stripe's retries, then forgotten as new ones
            // arrive (a few at a time, oldest first, by the database's clock; rows another
            // webhook is deleting are left to it).
            diesel::sql_query(format!(
                "DELETE FROM processed_webhook_events WHERE event_id IN (\
                   SELECT event_id FROM processed_webhook_events \
                    WHERE processed_at < now() - interval '{WEBHOOK_EVENT_DAYS} days' \
                    ORDER BY processed_at LIMIT 100 FOR UPDATE SKIP LOCKED)"
            ))
            .execute(conn)
            .await?;
            let first_time = diesel::insert_into(processed_webhook_events::table)
                .values((
                    processed_webhook_events::event_id.eq(&event_id),
                    processed_webhook_events::source.eq("stripe"),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if first_time == 0 {
                return Ok(EventApplied::AlreadyProcessed);
            }
            if let Some(sub) = &outcome.subscription {
                // Compare-and-set on the newest applied event: an older one loses.
                let guard = user_info::table.filter(user_info::user_id.eq(id));
                let n = match expected_last_event_at {
                    Some(at) => {
                        diesel::update(guard.filter(user_info::last_billing_event_at.eq(at)))
                            .set((
                                user_info::last_billing_event_at.eq(sub.last_event_at),
                                user_info::plan_type.eq(sub.plan_name.as_str()),
                                user_info::subscription_id.eq(sub.subscription_id.as_deref()),
                                user_info::subscription_status.eq(sub.status.as_str()),
                                user_info::subscription_end_date.eq(sub.end_date),
                            ))
                            .execute(conn)
                            .await?
                    }
                    None => {
                        diesel::update(guard.filter(user_info::last_billing_event_at.is_null()))
                            .set((
                                user_info::last_billing_event_at.eq(sub.last_event_at),
                                user_info::plan_type.eq(sub.plan_name.as_str()),
                                user_info::subscription_id.eq(sub.subscription_id.as_deref()),
                                user_info::subscription_status.eq(sub.status.as_str()),
                                user_info::subscription_end_date.eq(sub.end_date),
                            ))
                            .execute(conn)
                            .await?
                    }
                };
                if n == 0 {
                    return Err(Fail::Store(StoreError::Conflict(
                        "a newer billing event was applied".to_owned(),
                    )));
                }
                diesel::update(users::table.filter(users::id.eq(id)))
                    .set((
                        users::plan_name.eq(sub.plan_name.as_str()),
                        users::subscription_status.eq(sub.status.as_str()),
                        users::subscription_id.eq(sub.subscription_id.as_deref()),
                        users::subscription_end_date.eq(sub.end_date),
                        users::stripe_customer_id.eq(sub.stripe_customer_id.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
            }
            if outcome.changes_quota() {
                // The domain's rule on the row as it is, locked: a post consumed meanwhile
                // waits for this transaction and then counts against the new quota.
                let row: Option<QuotaRow> = user_info::table
                    .filter(user_info::user_id.eq(id))
                    .select(QuotaRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if let Some(row) = row {
                    let current = row.into_state();
                    let next = outcome.quota_after(&current);
                    if next != current {
                        write_quota_state(conn, id, &next).await?;
                    }
                }
            }
            if let Some(h) = &outcome.history {
                diesel::insert_into(subscription_history::table)
                    .values((
                        subscription_history::user_id.eq(id),
                        subscription_history::user_email.eq(h.user_email.as_str()),
                        subscription_history::stripe_subscription_id
                            .eq(h.stripe_subscription_id.as_deref()),
                        subscription_history::plan_name
                            .eq(h.plan_name.as_ref().map(PlanName::as_str)),
                        subscription_history::status.eq(&h.status),
                        subscription_history::amount_paid
                            .eq(h.amount_paid.and_then(|a| i32::try_from(a).ok())),
                        subscription_history::currency.eq(h.currency.as_deref()),
                        subscription_history::period_start.eq(h.period_start),
                        subscription_history::period_end.eq(h.period_end),
                        subscription_history::stripe_customer_id
                            .eq(h.stripe_customer_id.as_deref()),
                        subscription_history::created_at.eq(h.created_at),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(EventApplied::Applied)
        })
        .await
    }

    async fn link_customer(&self, tenant: &Tenant, customer_id: &str) -> Result<bool, StoreError> {
        let id = tenant.user_id.0;
        let uid = tenant.firebase_uid.as_str().to_owned();
        let customer_id = customer_id.to_owned();
        // As the worker: the API role may not write billing columns.
        self.worker(async move |conn| {
            let linked: Option<String> = diesel::update(
                users::table
                    .filter(users::id.eq(id))
                    .filter(users::firebase_uid.eq(uid))
                    .filter(
                        users::stripe_customer_id
                            .is_null()
                            .or(users::stripe_customer_id.eq(&customer_id)),
                    ),
            )
            .set(users::stripe_customer_id.eq(&customer_id))
            .returning(users::stripe_customer_id)
            .get_result::<Option<String>>(conn)
            .await
            .optional()?
            .flatten();
            Ok(linked.is_some())
        })
        .await
    }

    async fn history(&self, tenant: &Tenant) -> Result<Vec<SubscriptionHistoryEntry>, StoreError> {
        let id = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let rows: Vec<HistoryRow> = subscription_history::table
                .filter(subscription_history::user_id.eq(id))
                .order(subscription_history::created_at.desc())
                .select(HistoryRow::as_select())
                .load(conn)
                .await?;
            rows.into_iter().map(HistoryRow::into_domain).collect()
        })
        .await
    }
}

//! `social_connections`: the connection port, with sealed credentials.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use multivio_domain::connection::{
    AccountLabel, AccountType, Connection, ConnectionStatus, ProviderAccountId,
};
use multivio_domain::{ConnectionId, FirebaseUid, Provider, Tenant, UserId};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::vault::{SealedCredentials, SealedOAuth1, SealedToken};
use uuid::Uuid;

use super::{Fail, PgStore, corrupt, one_row, storable};
use crate::schema::social_connections as sc;

/// The account a target publishes through, with its sealed credentials, in one statement
/// ([`ConnectionStore::publishing_account`]; also read with the post by
/// [`multivio_ports::posts::PostStore::modify_with_account`]).
pub(super) async fn read_publishing_account(
    conn: &mut &AsyncPgConnection,
    uid: i32,
    provider: Provider,
    id: Option<ConnectionId>,
) -> Result<Option<(Connection, SealedCredentials)>, Fail> {
    let mut query = sc::table
        .filter(sc::user_id.eq(uid))
        .filter(sc::provider.eq(provider.as_str()))
        .select((ConnectionRow::as_select(), CredentialRow::as_select()))
        .into_boxed();
    query = match id {
        Some(id) => query.filter(sc::id.eq(id.0)),
        // At most one: a partial unique index keeps one primary per provider.
        None => query.filter(sc::is_primary.eq(true)),
    };
    let Some((row, sealed)) = query
        .first::<(ConnectionRow, CredentialRow)>(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some((row.into_domain()?, sealed.into_sealed())))
}

/// The non-secret columns of a `social_connections` row.
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = sc)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct ConnectionRow {
    id: Uuid,
    user_id: i32,
    provider: String,
    provider_account_id: String,
    expires_at: Option<DateTime<Utc>>,
    account_label: Option<String>,
    account_type: Option<String>,
    is_primary: Option<bool>,
    metadata: Option<serde_json::Value>,
    status: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl ConnectionRow {
    fn into_domain(self) -> Result<Connection, Fail> {
        let created_at = self.created_at.unwrap_or_default();
        Ok(Connection {
            id: ConnectionId(self.id),
            user_id: UserId(self.user_id),
            provider: self
                .provider
                .parse::<Provider>()
                .map_err(|e| corrupt("provider", e))?,
            provider_account_id: ProviderAccountId::new(&self.provider_account_id)
                .map_err(|e| corrupt("provider_account_id", e))?,
            account_label: self
                .account_label
                .map(AccountLabel::new)
                .transpose()
                .map_err(|e| corrupt("account_label", e))?,
            account_type: self
                .account_type
                .as_deref()
                .unwrap_or("personal")
                .parse::<AccountType>()
                .map_err(|e| corrupt("account_type", e))?,
            is_primary: self.is_primary.unwrap_or(false),
            status: self
                .status
                .parse::<ConnectionStatus>()
                .map_err(|e| corrupt("status", e))?,
            metadata: self
                .metadata
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            expires_at: self.expires_at,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        })
    }
}

/// The credential columns of a `social_connections` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sc)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct CredentialRow {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    oauth1_access_token: Option<String>,
    oauth1_access_token_secret: Option<String>,
    oauth1_user_id: Option<String>,
    oauth1_screen_name: Option<String>,
    oauth1_created_at: Option<DateTime<Utc>>,
}

impl CredentialRow {
    fn into_sealed(self) -> SealedCredentials {
        let oauth1 = match (self.oauth1_access_token, self.oauth1_access_token_secret) {
            (Some(token), Some(secret)) => Some(SealedOAuth1 {
                token: SealedToken(token),
                token_secret: SealedToken(secret),
                user_id: self.oauth1_user_id,
                screen_name: self.oauth1_screen_name,
                created_at: self.oauth1_created_at,
            }),
            _ => None,
        };
        SealedCredentials {
            access_token: SealedToken(self.access_token),
            refresh_token: self.refresh_token.map(SealedToken),
            expires_at: self.expires_at,
            oauth1,
        }
    }
}

/// The credential columns, for an insert or update.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = sc)]
#[diesel(treat_none_as_null = true)]
struct CredentialChanges<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    expires_at: Option<DateTime<Utc>>,
    oauth1_access_token: Option<&'a str>,
    oauth1_access_token_secret: Option<&'a str>,
    oauth1_user_id: Option<&'a str>,
    oauth1_screen_name: Option<&'a str>,
    oauth1_created_at: Option<DateTime<Utc>>,
}

impl<'a> CredentialChanges<'a> {
    fn of(c: &'a SealedCredentials) -> Self {
        let o = c.oauth1.as_ref();
        Self {
            access_token: &c.access_token.0,
            refresh_token: c.refresh_token.as_ref().map(|t| t.0.as_str()),
            expires_at: c.expires_at,
            oauth1_access_token: o.map(|o| o.token.0.as_str()),
            oauth1_access_token_secret: o.map(|o| o.token_secret.0.as_str()),
            oauth1_user_id: o.and_then(|o| o.user_id.as_deref()),
            oauth1_screen_name: o.and_then(|o| o.screen_name.as_deref()),
            oauth1_created_at: o.and_then(|o| o.created_at),
        }
    }
}

/// Across tenants: active connections holding a refresh token whose access token expires
/// before `$1` and whose refresh lock is free or expired (by the database's clock), soonest
/// first, at most `$2`, with their owners' Firebase uids. Served by the partial index
/// `idx_social_connections_refresh_due` (migration 014): its predicate is spelled out as
/// literals so the planner can match it.
const EXPIRING: &str = "SELECT c.id, c.user_id, c.provider, c.provider_account_id, c.expires_at,
            c.account_label, c.account_type, c.is_primary, c.metadata, c.status, c.created_at,
            c.updated_at, u.firebase_uid::text AS firebase_uid
       FROM social_connections c JOIN users u ON u.id = c.user_id
      WHERE c.status = 'active' AND c.refresh_token IS NOT NULL AND c.expires_at < $1
        AND (c.refresh_locked_until IS NULL OR c.refresh_locked_until < now())
   ORDER BY c.expires_at, c.id
      LIMIT $2";

/// The statement behind [`ConnectionStore::expiring`] (for `EXPLAIN` in tests and tools).
pub fn expiring_statement() -> &'static str {
    EXPIRING
}

#[derive(QueryableByName)]
struct ExpiringRow {
    #[diesel(sql_type = Text)]
    firebase_uid: String,
    #[diesel(embed)]
    connection: ConnectionRow,
}

impl ExpiringRow {
    fn into_domain(self) -> Result<(Tenant, Connection), Fail> {
        let connection = self.connection.into_domain()?;
        let uid = FirebaseUid::new(self.firebase_uid).map_err(|e| corrupt("firebase_uid", e))?;
        Ok((Tenant::new(connection.user_id, uid), connection))
    }
}

fn rows_into(rows: Vec<ConnectionRow>) -> Result<Vec<Connection>, Fail> {
    rows.into_iter().map(ConnectionRow::into_domain).collect()
}

async fn load(conn: &mut &AsyncPgConnection, user_id: i32, id: Uuid) -> Result<Connection, Fail> {
    sc::table
        .filter(sc::user_id.eq(user_id))
        .filter(sc::id.eq(id))
        .select(ConnectionRow::as_select())
        .first(conn)
        .await?
        .into_domain()
}

/// Locks the tenant's connections of `provider` (in id order, so concurrent callers queue
/// instead of deadlocking) and returns their ids.
async fn lock_provider(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    provider: &str,
) -> Result<Vec<Uuid>, Fail> {
    Ok(sc::table
        .filter(sc::user_id.eq(user_id))
        .filter(sc::provider.eq(provider))
        .order(sc::id)
        .select(sc::id)
        .for_update()
        .load(conn)
        .await?)
}

#[async_trait]
impl ConnectionStore for PgStore {
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Connection>, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let rows = sc::table
                .filter(sc::user_id.eq(uid))
                .order((sc::created_at.asc(), sc::id.asc()))
                .select(ConnectionRow::as_select())
                .load(conn)
                .await?;
            rows_into(rows)
        })
        .await
    }

    async fn list_for_provider(
        &self,
        tenant: &Tenant,
        provider: Provider,
    ) -> Result<Vec<Connection>, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let rows = sc::table
                .filter(sc::user_id.eq(uid))
                .filter(sc::provider.eq(provider.as_str()))
                .order((sc::created_at.asc(), sc::id.asc()))
                .select(ConnectionRow::as_select())
                .load(conn)
                .await?;
            rows_into(rows)
        })
        .await
    }

    async fn get(&self, tenant: &Tenant, id: ConnectionId) -> Result<Connection, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| load(conn, uid, id.0).await)
            .await
    }

    async fn find_by_account(
        &self,
        tenant: &Tenant,
        provider: Provider,
        account: &ProviderAccountId,
    ) -> Result<Option<Connection>, StoreError> {
        let uid = tenant.user_id.0;
        let account = account.as_str().to_owned();
        self.tenant(tenant, async move |conn| {
            sc::table
                .filter(sc::user_id.eq(uid))
                .filter(sc::provider.eq(provider.as_str()))
                .filter(sc::provider_account_id.eq(account))
                .select(ConnectionRow::as_select())
                .first(conn)
                .await
                .optional()?
                .map(ConnectionRow::into_domain)
                .transpose()
        })
        .await
    }

    async fn insert(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        credentials: &SealedCredentials,
    ) -> Result<Connection, StoreError> {
        let uid = tenant.user_id.0;
        let c = connection.clone();
        let credentials = credentials.clone();
        self.tenant(tenant, async move |conn| {
            let row: ConnectionRow = diesel::insert_into(sc::table)
                .values((
                    sc::id.eq(c.id.0),
                    sc::user_id.eq(uid),
                    sc::provider.eq(c.provider.as_str()),
                    sc::provider_account_id.eq(c.provider_account_id.as_str()),
                    sc::account_label.eq(c.account_label.as_ref().map(AccountLabel::as_str)),
                    sc::account_type.eq(c.account_type.as_str()),
                    sc::is_primary.eq(c.is_primary),
                    sc::status.eq(c.status.as_str()),
                    sc::metadata.eq(storable::json(&c.metadata)),
                    sc::created_at.eq(c.created_at),
                    sc::updated_at.eq(c.updated_at),
                    CredentialChanges::of(&credentials),
                ))
                .returning(ConnectionRow::as_returning())
                .get_result(conn)
                .await?;
            row.into_domain()
        })
        .await
    }

    async fn reconnect(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        credentials: &SealedCredentials,
    ) -> Result<Connection, StoreError> {
        let uid = tenant.user_id.0;
        let c = connection.clone();
        let credentials = credentials.clone();
        self.tenant(tenant, async move |conn| {
            let row: ConnectionRow = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(c.id.0)),
            )
            .set((
                sc::account_label.eq(c.account_label.as_ref().map(AccountLabel::as_str)),
                sc::account_type.eq(c.account_type.as_str()),
                sc::metadata.eq(storable::json(&c.metadata)),
                sc::status.eq(ConnectionStatus::Active.as_str()),
                sc::refresh_locked_until.eq(None::<DateTime<Utc>>),
                CredentialChanges::of(&credentials),
            ))
            .returning(ConnectionRow::as_returning())
            .get_result(conn)
            .await?;
            row.into_domain()
        })
        .await
    }

    async fn set_primary_flags(
        &self,
        tenant: &Tenant,
        provider: Provider,
        changes: &[(ConnectionId, bool)],
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let changes = changes.to_vec();
        self.tenant(tenant, async move |conn| {
            let ids = lock_provider(conn, uid, provider.as_str()).await?;
            if changes.iter().any(|(id, _)| !ids.contains(&id.0)) {
                return Err(Fail::Store(StoreError::NotFound));
            }
            // Demotions first, so the partial unique index never sees two primaries.
            let demote: Vec<Uuid> = changes
                .iter()
                .filter(|(_, p)| !p)
                .map(|(id, _)| id.0)
                .collect();
            let promote: Vec<Uuid> = changes
                .iter()
                .filter(|(_, p)| *p)
                .map(|(id, _)| id.0)
                .collect();
            diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq_any(demote)),
            )
            .set(sc::is_primary.eq(false))
            .execute(conn)
            .await?;
            diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq_any(promote)),
            )
            .set(sc::is_primary.eq(true))
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }

    async fn set_oauth1(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        oauth1: &SealedOAuth1,
    ) -> Result<Connection, StoreError> {
        let uid = tenant.user_id.0;
        let o = oauth1.clone();
        self.tenant(tenant, async move |conn| {
            let row: ConnectionRow = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0)),
            )
            .set((
                sc::oauth1_access_token.eq(Some(o.token.0)),
                sc::oauth1_access_token_secret.eq(Some(o.token_secret.0)),
                sc::oauth1_user_id.eq(o.user_id),
                // X's word for it, in a `VARCHAR(255)`.
                sc::oauth1_screen_name
                    .eq(o.screen_name.as_deref().map(|s| storable::varchar(s, 255))),
                sc::oauth1_created_at.eq(o.created_at),
            ))
            .returning(ConnectionRow::as_returning())
            .get_result(conn)
            .await?;
            row.into_domain()
        })
        .await
    }

    async fn update_label(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        label: Option<AccountLabel>,
    ) -> Result<Connection, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let row: ConnectionRow = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0)),
            )
            .set(sc::account_label.eq(label.as_ref().map(AccountLabel::as_str)))
            .returning(ConnectionRow::as_returning())
            .get_result(conn)
            .await?;
            row.into_domain()
        })
        .await
    }

    async fn set_status(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        status: ConnectionStatus,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            one_row(
                diesel::update(
                    sc::table
                        .filter(sc::user_id.eq(uid))
                        .filter(sc::id.eq(id.0)),
                )
                .set(sc::status.eq(status.as_str()))
                .execute(conn)
                .await?,
            )?;
            Ok(())
        })
        .await
    }

    async fn delete(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        promote: Option<ConnectionId>,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let provider: String = sc::table
                .filter(sc::user_id.eq(uid))
                .filter(sc::id.eq(id.0))
                .select(sc::provider)
                .first(conn)
                .await?;
            lock_provider(conn, uid, &provider).await?;
            one_row(
                diesel::delete(
                    sc::table
                        .filter(sc::user_id.eq(uid))
                        .filter(sc::id.eq(id.0)),
                )
                .execute(conn)
                .await?,
            )?;
            if let Some(promote) = promote {
                let primaries: i64 = sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::provider.eq(&provider))
                    .filter(sc::is_primary.eq(true))
                    .count()
                    .get_result(conn)
                    .await?;
                if primaries == 0 {
                    let n = diesel::update(
                        sc::table
                            .filter(sc::user_id.eq(uid))
                            .filter(sc::provider.eq(&provider))
                            .filter(sc::id.eq(promote.0)),
                    )
                    .set(sc::is_primary.eq(true))
                    .execute(conn)
                    .await?;
                    if n == 0 {
                        return Err(Fail::Store(StoreError::Conflict(
                            "the connection to promote is gone".to_owned(),
                        )));
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn publishing_account(
        &self,
        tenant: &Tenant,
        provider: Provider,
        id: Option<ConnectionId>,
    ) -> Result<Option<(Connection, SealedCredentials)>, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            read_publishing_account(conn, uid, provider, id).await
        })
        .await
    }

    async fn credentials(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
    ) -> Result<SealedCredentials, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let row: CredentialRow = sc::table
                .filter(sc::user_id.eq(uid))
                .filter(sc::id.eq(id.0))
                .select(CredentialRow::as_select())
                .first(conn)
                .await?;
            Ok(row.into_sealed())
        })
        .await
    }

    async fn try_lock_refresh(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let n = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0))
                    .filter(
                        sc::refresh_locked_until
                            .is_null()
                            .or(sc::refresh_locked_until.lt(now)),
                    ),
            )
            .set(sc::refresh_locked_until.eq(until))
            .execute(conn)
            .await?;
            if n == 1 {
                return Ok(true);
            }
            // Held by someone else, or not this tenant's connection at all.
            load(conn, uid, id.0).await?;
            Ok(false)
        })
        .await
    }

    async fn store_refreshed(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        credentials: &SealedCredentials,
        lock: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        let credentials = credentials.clone();
        self.tenant(tenant, async move |conn| {
            let n = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0))
                    .filter(sc::refresh_locked_until.eq(lock)),
            )
            .set((
                CredentialChanges::of(&credentials),
                sc::status.eq(ConnectionStatus::Active.as_str()),
                sc::refresh_locked_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
            if n == 1 {
                return Ok(());
            }
            // Gone or another tenant's (NotFound), or the lock is no longer ours.
            load(conn, uid, id.0).await?;
            Err(Fail::Store(StoreError::Conflict(
                "the refresh lock expired and was taken by another refresh".to_owned(),
            )))
        })
        .await
    }

    async fn expiring(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Tenant, Connection)>, StoreError> {
        self.worker(async move |conn| {
            let rows: Vec<ExpiringRow> = diesel::sql_query(EXPIRING)
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(i64::from(limit))
                .load(conn)
                .await?;
            rows.into_iter().map(ExpiringRow::into_domain).collect()
        })
        .await
    }

    async fn unlock_refresh(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        lock: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0))
                    .filter(sc::refresh_locked_until.eq(lock)),
            )
            .set(sc::refresh_locked_until.eq(None::<DateTime<Utc>>))
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }

    async fn refresh_refused(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        lock: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let n = diesel::update(
                sc::table
                    .filter(sc::user_id.eq(uid))
                    .filter(sc::id.eq(id.0))
                    .filter(sc::refresh_locked_until.eq(lock)),
            )
            .set((
                sc::status.eq(ConnectionStatus::NeedsReauth.as_str()),
                sc::refresh_locked_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
            Ok(n == 1)
        })
        .await
    }
}

//! What the schema's owner sets up for the runtime, at each start: the passwords of the two
//! login roles the server runs as (unless the deployment gives their URLs itself), and the keys
//! that authenticate tenant claims. Also the check that a runtime login has no more power than
//! its role should.

use diesel::sql_types::{Bool, Bytea, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

use crate::DbError;
use crate::tenant::Role;

/// The login role of API processes (member of `multivio_api` only).
pub const API_LOGIN: &str = "multivio_api_login";
/// The login role of workers (member of `multivio_worker` only).
pub const WORKER_LOGIN: &str = "multivio_worker_login";

/// PBKDF2 rounds of the stored SCRAM verifier (PostgreSQL's default).
const SCRAM_ITERATIONS: u32 = 4096;

impl Role {
    /// The login role a runtime pool of this role connects as.
    pub fn login(self) -> &'static str {
        match self {
            Role::Api => API_LOGIN,
            Role::Worker => WORKER_LOGIN,
        }
    }
}

/// Sets `role`'s password, sending only a SCRAM-SHA-256 verifier (never the password, which a
/// statement log would otherwise keep).
pub async fn set_login_password(
    owner: &mut AsyncPgConnection,
    role: Role,
    password: &str,
) -> Result<(), DbError> {
    let verifier = scram_verifier(password)?;
    // ALTER ROLE takes no bind parameters; the verifier is base64 and `$:` only.
    let sql = format!(
        "ALTER ROLE {} PASSWORD '{}'",
        role.login(),
        verifier.replace('\'', "")
    );
    // Roles are cluster-wide: another process may be altering the same one right now.
    for attempt in 0.. {
        match diesel::sql_query(&sql).execute(owner).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 20 && e.to_string().contains("concurrently") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802, RFC 7677), as
/// PostgreSQL stores passwords. The password is ASCII, so SASLprep leaves it unchanged.
fn scram_verifier(password: &str) -> Result<String, DbError> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| DbError::Config("no system randomness for a password salt".to_owned()))?;
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::MIN.saturating_add(SCRAM_ITERATIONS - 1),
        &salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    Ok(format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key.as_ref()),
        STANDARD.encode(server_key.as_ref())
    ))
}

/// Stores the claim keys `(key id, secret)` in `multivio_private.claim_keys` (replacing a
/// changed secret), so claims signed with any of them are authentic.
pub async fn install_claim_keys(
    owner: &mut AsyncPgConnection,
    keys: &[(String, Vec<u8>)],
) -> Result<(), DbError> {
    for (kid, secret) in keys {
        diesel::sql_query(
            "INSERT INTO multivio_private.claim_keys (kid, secret) VALUES ($1, $2) \
             ON CONFLICT (kid) DO UPDATE SET secret = EXCLUDED.secret \
             WHERE claim_keys.secret IS DISTINCT FROM EXCLUDED.secret",
        )
        .bind::<Text, _>(kid)
        .bind::<Bytea, _>(secret)
        .execute(owner)
        .await?;
    }
    Ok(())
}

/// What the owner connection sets up at start.
#[derive(Clone)]
pub struct RuntimeSetup {
    /// Passwords to set for the login roles (none when the deployment manages them).
    pub passwords: Vec<(Role, String)>,
    /// Claim keys `(key id, secret)`.
    pub claim_keys: Vec<(String, Vec<u8>)>,
    /// The key ids this deployment owns start with this: those not in `claim_keys` (retired
    /// from its keyring) are removed. Keys of other ids — another service's — are left alone.
    pub claim_key_prefix: Option<String>,
}

impl std::fmt::Debug for RuntimeSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSetup")
            .field(
                "passwords_for",
                &self
                    .passwords
                    .iter()
                    .map(|(r, _)| r.login())
                    .collect::<Vec<_>>(),
            )
            .field(
                "claim_key_ids",
                &self.claim_keys.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Takes the right to create temporary tables from PUBLIC on the current database: a
/// temporary table named like a real one would shadow it for every later use of a pooled
/// connection. (Migration 013 does it too, but a database's privileges are not copied when it
/// is created from a template or restored, so every start repeats it.) Where the owner does
/// not own the database this is a no-op, and [`check_login`] names what is left to do.
pub async fn restrict_database(owner: &mut AsyncPgConnection) -> Result<(), DbError> {
    diesel::sql_query(
        "DO $$ BEGIN \
           EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); \
         EXCEPTION WHEN insufficient_privilege THEN NULL; \
         END $$",
    )
    .execute(owner)
    .await?;
    Ok(())
}

/// Runs [`RuntimeSetup`] over a direct connection to `owner_url` (after the migrations).
pub async fn provision(owner_url: &str, setup: &RuntimeSetup) -> Result<(), DbError> {
    let mut owner = AsyncPgConnection::establish(owner_url).await?;
    restrict_database(&mut owner).await?;
    for (role, password) in &setup.passwords {
        set_login_password(&mut owner, *role, password).await?;
    }
    install_claim_keys(&mut owner, &setup.claim_keys).await?;
    match &setup.claim_key_prefix {
        Some(prefix) => prune_claim_keys(&mut owner, prefix, &setup.claim_keys).await,
        None => Ok(()),
    }
}

/// Forgets the claim keys whose id starts with `prefix` but that are not among `keys` (retired
/// from the keyring), so a retired key signs nothing.
pub async fn prune_claim_keys(
    owner: &mut AsyncPgConnection,
    prefix: &str,
    keys: &[(String, Vec<u8>)],
) -> Result<(), DbError> {
    let kids: Vec<&str> = keys.iter().map(|(kid, _)| kid.as_str()).collect();
    diesel::sql_query(
        "DELETE FROM multivio_private.claim_keys \
          WHERE starts_with(kid, $1) AND kid <> ALL($2)",
    )
    .bind::<Text, _>(prefix)
    .bind::<diesel::sql_types::Array<Text>, _>(kids)
    .execute(owner)
    .await?;
    Ok(())
}

/// `url` logging in as `role`'s login with `password` (same host, port, database, options).
pub fn login_url(url: &str, role: Role, password: &str) -> Result<String, DbError> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| DbError::Config(format!("database URL: {e}")))?;
    parsed
        .set_username(role.login())
        .and_then(|()| parsed.set_password(Some(password)))
        .map_err(|()| DbError::Config("database URL has no host to log in to".to_owned()))?;
    Ok(parsed.into())
}

/// Refuses a runtime login that could escape its role: a superuser, a role that bypasses RLS
/// or creates roles (before PostgreSQL 16 that lets it grant itself any role), one that is or
/// may become the schema's owner, one that can read the claim keys or create temporary tables,
/// or (for the API) one that can become the worker role.
pub async fn check_login(url: &str, role: Role) -> Result<(), DbError> {
    #[derive(diesel::QueryableByName)]
    struct Powers {
        #[diesel(sql_type = Text)]
        login: String,
        #[diesel(sql_type = Bool)]
        superuser: bool,
        #[diesel(sql_type = Bool)]
        bypass_rls: bool,
        #[diesel(sql_type = Bool)]
        create_role: bool,
        #[diesel(sql_type = Bool)]
        can_be_owner: bool,
        #[diesel(sql_type = Bool)]
        reads_claim_keys: bool,
        #[diesel(sql_type = Bool)]
        temporary: bool,
        #[diesel(sql_type = Bool)]
        can_be_worker: bool,
        #[diesel(sql_type = Bool)]
        can_be_api: bool,
    }
    let mut conn = AsyncPgConnection::establish(url).await?;
    let powers: Powers = diesel::sql_query(
        "SELECT current_user::text AS login, r.rolsuper AS superuser, \
                r.rolbypassrls AS bypass_rls, r.rolcreaterole AS create_role, \
                pg_has_role(current_user, c.relowner, 'MEMBER') AS can_be_owner, \
                has_table_privilege('multivio_private.claim_keys', 'SELECT') AS reads_claim_keys, \
                has_database_privilege(current_database(), 'TEMPORARY') AS temporary, \
                pg_has_role(current_user, 'multivio_worker', 'MEMBER') AS can_be_worker, \
                pg_has_role(current_user, 'multivio_api', 'MEMBER') AS can_be_api \
           FROM pg_roles r, pg_class c \
          WHERE r.rolname = current_user AND c.oid = 'posts'::regclass",
    )
    .get_result(&mut conn)
    .await?;
    let refuse = |why: &str| {
        Err(DbError::Config(format!(
            "the {} database login `{}` {why}; give it only the `{}` role",
            match role {
                Role::Api => "API",
                Role::Worker => "worker",
            },
            powers.login,
            match role {
                Role::Api => "multivio_api",
                Role::Worker => "multivio_worker",
            }
        )))
    };
    if powers.superuser {
        return refuse("is a superuser");
    }
    if powers.bypass_rls {
        return refuse("bypasses row-level security");
    }
    if powers.create_role {
        return refuse("may create roles");
    }
    if powers.can_be_owner {
        return refuse("is (or may become) the owner of the schema");
    }
    if powers.reads_claim_keys {
        return refuse("can read multivio_private.claim_keys");
    }
    if powers.temporary {
        return refuse(
            "may create temporary tables (run `REVOKE TEMPORARY ON DATABASE <database> FROM \
             PUBLIC` as the database's owner)",
        );
    }
    match role {
        Role::Api if powers.can_be_worker => refuse("can become multivio_worker"),
        Role::Api if !powers.can_be_api => refuse("is not a member of multivio_api"),
        Role::Worker if !powers.can_be_worker => refuse("is not a member of multivio_worker"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;

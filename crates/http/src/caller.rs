//! [`Caller`]: the authenticated user of a request, as a tenant. The first authenticated
//! request of a Firebase user creates its row.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use multivio_domain::contact::Email;
use multivio_domain::user::{AuthProvider, VerifiedIdentity};
use multivio_domain::{FirebaseUid, Tenant};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::{AppState, Problem};

/// The tenant a request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whose data the request reads and changes.
    pub tenant: Tenant,
}

impl Caller {
    /// Counts one `action` of this caller against its per-user rate limit (429 when spent).
    pub fn limit(&self, state: &AppState, action: crate::observe::Action) -> Result<(), ApiError> {
        Ok(state
            .limits
            .check(action, self.tenant.firebase_uid.as_str())?)
    }
}

/// Firebase uid → tenant, for a short while, so a request does not write the user row each
/// time. Deleting an account forgets it at once.
#[derive(Debug, Default)]
pub struct TenantCache {
    entries: Mutex<HashMap<String, (Tenant, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

impl TenantCache {
    fn get(&self, uid: &str) -> Option<Tenant> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(uid)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(t, _)| t.clone())
    }

    fn put(&self, uid: &str, tenant: &Tenant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(uid.to_owned(), (tenant.clone(), Instant::now()));
        }
    }

    /// Forgets a user (after its account was deleted).
    pub fn forget(&self, uid: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(uid);
        }
    }
}

/// The identity a verified token vouches for, as the domain wants it.
fn identity(token: &crate::auth::VerifiedToken) -> Result<VerifiedIdentity, ApiError> {
    let refused = |why: &str| {
        ApiError(Problem::new(
            StatusCode::FORBIDDEN,
            "unusable-identity",
            "Unusable identity",
            why,
        ))
    };
    let firebase_uid = FirebaseUid::new(token.uid.clone())
        .map_err(|_| refused("the token's subject is not usable"))?;
    // Phone sign-ins have no email; the seed requires one, so such users get a placeholder
    // address that can never receive mail.
    let email = match token.email.as_deref() {
        Some(email) => Email::new(email).map_err(|_| refused("the token's email is not valid"))?,
        None => Email::new(format!(
            "{}@no-email.invalid",
            token.uid.to_ascii_lowercase()
        ))
        .map_err(|_| refused("the account has no email address"))?,
    };
    let auth_provider = AuthProvider::new(token.sign_in_provider.as_deref().unwrap_or("email"))
        .or_else(|_| AuthProvider::new("email"))
        .map_err(|_| refused("unknown sign-in method"))?;
    Ok(VerifiedIdentity {
        firebase_uid,
        email,
        email_verified: token.email_verified,
        auth_provider,
        name: token.name.clone(),
        picture: token.picture.clone(),
    })
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = Authenticated::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = authenticated.await?.into_inner();
            let Some(state) = state else {
                return Err(ApiError(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "misconfigured",
                    "Server misconfigured",
                    "the application state is missing",
                ))
                .into());
            };
            if let Some(tenant) = state.tenants.get(&token.uid) {
                return Ok(Caller { tenant });
            }
            let identity = identity(&token)?;
            let user = state
                .services
                .users
                .sign_in(&identity)
                .await
                .map_err(ApiError::from)?;
            let tenant = user.tenant();
            state.tenants.put(&token.uid, &tenant);
            Ok(Caller { tenant })
        })
    }
}

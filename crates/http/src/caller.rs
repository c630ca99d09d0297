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
use multivio_domain::Tenant;
use multivio_domain::user::{IdentityClaims, VerifiedIdentity};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::problem::ProblemType;
use crate::{AppState, Problem};

/// The tenant a request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whose data the request reads and changes.
    pub tenant: Tenant,
}

impl Caller {
    /// Counts one `action` of this caller against its per-user rate limit (429 when spent).
    pub fn limit(
        &self,
        state: &AppState,
        action: crate::rate_limit::Action,
    ) -> Result<(), ApiError> {
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

/// The identity a verified token vouches for (the rules — placeholder address for phone
/// sign-ins, provider names — are the domain's).
fn identity(token: &crate::auth::VerifiedToken) -> Result<VerifiedIdentity, ApiError> {
    VerifiedIdentity::from_claims(&IdentityClaims {
        uid: token.uid.clone(),
        email: token.email.clone(),
        email_verified: token.email_verified,
        sign_in_provider: token.sign_in_provider.clone(),
        name: token.name.clone(),
        picture: token.picture.clone(),
    })
    .map_err(|e| {
        ApiError(Problem::of(
            ProblemType::UnusableIdentity,
            StatusCode::FORBIDDEN,
            e.reason,
        ))
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
                return Err(ApiError(Problem::of(
                    ProblemType::Internal,
                    StatusCode::INTERNAL_SERVER_ERROR,
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

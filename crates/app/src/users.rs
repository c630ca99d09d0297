//! Users: sign-in, profile, account deletion, email verification.

use std::sync::Arc;

use chrono::Duration;
use multivio_domain::quota::{PlanCatalog, Quota};
use multivio_domain::user::{
    NewUser, ProfileInput, ProfileUpdate, ResendPolicy, User, VerifiedIdentity,
};
use multivio_domain::{Secret, Tenant};
use multivio_ports::mail::{MailError, Mailer};
use multivio_ports::system::{Clock, TokenGenerator};
use multivio_ports::users::{QuotaStore, UserStore};

use crate::error::{AppError, AppResult};
use crate::quota::QuotaService;

/// The caller's profile with their quota (`GET /v1/me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// The user.
    pub user: User,
    /// The current period's quota.
    pub quota: Quota,
}

/// User use cases.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserStore>,
    quota: QuotaService,
    mailer: Arc<dyn Mailer>,
    tokens: Arc<dyn TokenGenerator>,
    clock: Arc<dyn Clock>,
    catalog: PlanCatalog,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

/// How long an email verification link stays valid.
pub const VERIFICATION_TTL_HOURS: i64 = 24;
impl UserService {
    /// The service.
    pub fn new(
        users: Arc<dyn UserStore>,
        quotas: Arc<dyn QuotaStore>,
        mailer: Arc<dyn Mailer>,
        tokens: Arc<dyn TokenGenerator>,
        clock: Arc<dyn Clock>,
        catalog: PlanCatalog,
    ) -> Self {
        let quota = QuotaService::new(quotas, clock.clone());
        Self {
            users,
            quota,
            mailer,
            tokens,
            clock,
            catalog,
        }
    }

    /// Use case *register/upsert user from a verified identity*: creates the user (with a full
    /// free-plan quota) on first sight, refreshes email and verification status afterwards.
    /// An inactive user is refused.
    pub async fn sign_in(&self, identity: &VerifiedIdentity) -> AppResult<User> {
        let new = NewUser::from_identity(identity);
        let quota = Quota::full(self.catalog.free().monthly_post_quota, self.clock.now());
        let upserted = self.users.upsert_from_identity(&new, &quota).await?;
        if upserted.created {
            tracing::info!(user = %upserted.user.id, "user registered");
        }
        if !upserted.user.is_active {
            return Err(AppError::Forbidden("account is deactivated".to_owned()));
        }
        Ok(upserted.user)
    }

    /// The caller's profile and current quota.
    pub async fn me(&self, tenant: &Tenant) -> AppResult<Me> {
        let user = self.user(tenant).await?;
        let quota = self.quota.current(tenant).await?;
        Ok(Me { user, quota })
    }

    async fn user(&self, tenant: &Tenant) -> AppResult<User> {
        let user = self
            .users
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))?;
        if !tenant.owns(user.id) {
            return Err(AppError::NotFound("user"));
        }
        Ok(user)
    }

    /// Use case *update profile*: validates every field (all errors at once); a taken username
    /// is a conflict.
    pub async fn update_profile(&self, tenant: &Tenant, input: ProfileInput) -> AppResult<User> {
        let update = ProfileUpdate::parse(input).map_err(AppError::Invalid)?;
        let mut user = self.user(tenant).await?;
        if update.is_empty() {
            return Ok(user);
        }
        user.apply_profile(&update, self.clock.now());
        self.users
            .update_profile(tenant, &user.profile)
            .await
            .map_err(|e| AppError::from_store("user", e))
    }

    /// Deletes the account and everything it owns. What the quota needs for the rest of the
    /// current period is kept (as hashes, until the period ends), so that signing in again
    /// does not start a full month: see [`UserStore::delete`].
    /// Refused ([`AppError::Conflict`]) while a subscription has not ended
    /// ([`multivio_domain::subscription::Subscription::is_open`]: paying, or unpaid, paused or
    /// incomplete, which a payment can bring back): it would go on charging an account that no
    /// longer exists. Cancel it first (the billing portal); once Stripe says it ended, the
    /// account can go.
    pub async fn delete_account(&self, tenant: &Tenant) -> AppResult<()> {
        self.ensure_deletable(tenant).await?;
        self.users
            .delete(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))
    }

    /// Whether the account may be deleted now (see [`UserService::delete_account`]); callers
    /// that delete what the account owns elsewhere first (its files) ask before.
    pub async fn ensure_deletable(&self, tenant: &Tenant) -> AppResult<()> {
        let user = self.user(tenant).await?;
        if user.subscription.is_open() {
            return Err(AppError::Conflict(format!(
                "the subscription ({}, {}) has not ended: cancel it in the billing portal \
                 first, then delete the account",
                user.subscription.plan_name,
                user.subscription.status.as_str()
            )));
        }
        Ok(())
    }

    /// Sends (or re-sends) a verification email: at most one a minute and five a day
    /// ([`AppError::RateLimited`] with the wait otherwise). The token is stored as a hash and
    /// expires after [`VERIFICATION_TTL_HOURS`]; a send counts once its token is stored, even
    /// if the mail then fails.
    pub async fn send_verification(&self, tenant: &Tenant) -> AppResult<()> {
        let user = self.user(tenant).await?;
        if let Some(why) = user.verification_refused() {
            return Err(AppError::Conflict(why.to_owned()));
        }
        if !self.mailer.can_address(&user.email) {
            return Err(recipient_refused());
        }
        let now = self.clock.now();
        // The limits are the domain's: one a minute, five a day.
        let policy = ResendPolicy::standard();
        // Compare-and-set on the recorded sends: of two resends at once, one passes the
        // limits with these sends; the other reads again.
        for _ in 0..3 {
            let sends = self
                .users
                .verification_sends(tenant)
                .await
                .map_err(|e| AppError::from_store("user", e))?;
            let next = sends
                .send_at(now, user.email_verification_sent_at, &policy)
                .map_err(|wait| AppError::RateLimited {
                    retry_after: Some(wait),
                })?;
            let token = self.tokens.random_token();
            if !self
                .users
                .record_verification_send(
                    tenant,
                    &user.email,
                    &token,
                    now + Duration::hours(VERIFICATION_TTL_HOURS),
                    now,
                    &sends,
                    &next,
                )
                .await?
            {
                continue;
            }
            return self
                .mailer
                .send_verification(&user.email, &token)
                .await
                .map_err(|e| match e {
                    MailError::Recipient(_) => recipient_refused(),
                    MailError::Failed(_) => AppError::Unavailable(e.to_string()),
                });
        }
        Err(AppError::Conflict(
            "verification mail is being sent concurrently".to_owned(),
        ))
    }

    /// Confirms an email from the token of a verification link (single use).
    pub async fn confirm_email(&self, token: &Secret) -> AppResult<Tenant> {
        if token.is_empty() {
            return Err(AppError::invalid("token", "is required"));
        }
        self.users
            .confirm_email(token, self.clock.now())
            .await?
            .ok_or_else(|| AppError::invalid("token", "is invalid or expired"))
    }
}

/// The account's address is one no mail can be written to.
fn recipient_refused() -> AppError {
    AppError::Conflict(
        "the account's email address cannot be sent mail (it does not fit a mail header)"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests;

//! The monthly quota: reading it with its period current, and resetting periods in bulk.

use std::sync::Arc;

use multivio_domain::Tenant;
use multivio_domain::quota::Quota;
use multivio_ports::system::Clock;
use multivio_ports::users::QuotaStore;

use crate::error::{AppError, AppResult};

/// Quota use cases.
#[derive(Clone)]
pub struct QuotaService {
    quotas: Arc<dyn QuotaStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for QuotaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaService").finish_non_exhaustive()
    }
}

impl QuotaService {
    /// The service.
    pub fn new(quotas: Arc<dyn QuotaStore>, clock: Arc<dyn Clock>) -> Self {
        Self { quotas, clock }
    }

    /// The tenant's quota, resetting the period first if it has ended (compare-and-set, so
    /// concurrent callers reset once).
    pub async fn current(&self, tenant: &Tenant) -> AppResult<Quota> {
        let now = self.clock.now();
        for _ in 0..3 {
            let quota = self
                .quotas
                .get(tenant)
                .await
                .map_err(|e| AppError::from_store("quota", e))?;
            if !quota.needs_reset(now) {
                return Ok(quota);
            }
            let next = quota.reset(now);
            if self
                .quotas
                .reset_period(tenant, quota.last_quota_reset, &next)
                .await?
            {
                tracing::info!(user = %tenant.user_id, "quota period reset");
                return Ok(next);
            }
        }
        Err(AppError::Conflict("quota changed concurrently".to_owned()))
    }

    /// Use case *reset quotas*: resets up to `limit` tenants whose period has ended; returns
    /// how many were reset (a tenant reset concurrently by another caller is not counted).
    pub async fn reset_due(&self, limit: u32) -> AppResult<usize> {
        let now = self.clock.now();
        let due = self.quotas.due_for_reset(now, limit).await?;
        let mut reset = 0;
        for (tenant, quota) in due {
            if !quota.needs_reset(now) {
                continue;
            }
            if self
                .quotas
                .reset_period(&tenant, quota.last_quota_reset, &quota.reset(now))
                .await?
            {
                reset += 1;
            }
        }
        Ok(reset)
    }
}

#[cfg(test)]
mod tests;

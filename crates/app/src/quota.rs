//! The monthly quota: reading it with its period current, resetting periods in bulk, and
//! dropping what deleted accounts left of theirs once those periods have ended.

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
            let quota = self.get(tenant).await?;
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
                // A downgrade that waited for this period was applied by the store: read what
                // it wrote, but never answer an older period than the one just started.
                let stored = self.get(tenant).await?;
                return Ok(if stored.last_quota_reset >= next.last_quota_reset {
                    stored
                } else {
                    next
                });
            }
        }
        Err(AppError::Conflict("quota changed concurrently".to_owned()))
    }

    async fn get(&self, tenant: &Tenant) -> AppResult<Quota> {
        self.quotas
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("quota", e))
    }

    /// Use case *reset quotas*: resets up to `limit` tenants whose period has ended; returns
    /// how many were reset (a tenant reset concurrently by another caller is not counted).
    /// Then deletes what deleted accounts left of periods that have ended (a failure there is
    /// logged: it stops no reset, and the next sweep deletes them).
    pub async fn reset_due(&self, limit: u32) -> AppResult<usize> {
        let now = self.clock.now();
        let due = self.quotas.due_for_reset(now, limit).await?;
        let mut reset = 0;
        for (tenant, quota) in due {
            // A period that has not ended by the core's count was found by an end missing or
            // stale (a row written by hand, or by an older build): written back as it is, its
            // end is stored, so the next sweep does not find it again.
            let next = quota.reset(now);
            if self
                .quotas
                .reset_period(&tenant, quota.last_quota_reset, &next)
                .await?
                && next != quota
            {
                reset += 1;
            }
        }
        match self.quotas.purge_expired_carryovers(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "ended quota carry-overs deleted"),
            Err(e) => tracing::warn!(error = %e, "could not delete ended quota carry-overs"),
        }
        Ok(reset)
    }
}

#[cfg(test)]
mod tests;

//! The background worker: publishes due jobs and resets ended quota periods, until stopped.

use std::sync::Arc;
use std::time::Duration;

use multivio_app::Services;
use tokio::sync::watch;

/// Jobs claimed per round: few, so every claimed job starts well within its lease (other
/// workers take the rest).
const BATCH: u32 = 4;
/// How long a claimed job is ours before another worker may rescue it: longer than the
/// slowest platform call (video uploads) times the batch.
const LEASE: chrono::Duration = chrono::Duration::minutes(15);
/// Pause between rounds when nothing was due.
const IDLE: Duration = Duration::from_secs(1);
/// How often ended quota periods are looked for.
const QUOTA_EVERY: Duration = Duration::from_secs(60);

/// A worker's name in job leases: host and process.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

/// Runs until `stop` turns true. Several workers (in several processes) may run at once: the
/// job queue hands each job to one of them.
pub async fn run(services: Arc<Services>, worker_id: String, mut stop: watch::Receiver<bool>) {
    tracing::info!(worker = %worker_id, "publishing worker started");
    let mut last_quota_sweep: Option<tokio::time::Instant> = None;
    while !*stop.borrow() {
        let mut busy = false;
        match services.worker.run_once(&worker_id, BATCH, LEASE).await {
            Ok(done) => {
                busy = done.len() == BATCH as usize;
                if !done.is_empty() {
                    tracing::info!(jobs = done.len(), "processed publishing jobs");
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming publishing jobs failed"),
        }
        if last_quota_sweep.is_none_or(|at| at.elapsed() >= QUOTA_EVERY) {
            last_quota_sweep = Some(tokio::time::Instant::now());
            match services.quota.reset_due(500).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(users = n, "reset monthly quotas"),
                Err(e) => tracing::warn!(error = %e, "resetting quotas failed"),
            }
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(IDLE) => {}
                _ = stop.changed() => {}
            }
        }
    }
    tracing::info!(worker = %worker_id, "publishing worker stopped");
}

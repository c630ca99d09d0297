//! The background worker: publishes due jobs, refreshes tokens ahead of expiry and resets ended
//! quota periods, until stopped.
//!
//! Several workers (in several processes, on several machines) may run against one database:
//! the job queue hands each job to one of them. A worker runs up to `concurrency` jobs at once,
//! each with a heartbeat renewing its lease; when the queue is drained it sleeps until the next
//! job is due, woken early by PostgreSQL's `LISTEN/NOTIFY` when a job is queued or rescheduled.

use std::sync::Arc;
use std::time::Duration;

use multivio_app::Services;
use multivio_app::worker::JobReport;
use multivio_domain::job::ClaimedJob;
use multivio_postgres::JobListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The longest sleep without looking at the queue (a missed notification costs at most this).
const MAX_IDLE: Duration = Duration::from_secs(30);
/// Pause after the queue could not be read.
const ERROR_PAUSE: Duration = Duration::from_secs(2);
/// The shortest sleep when the queue says a job is already due but none could be claimed
/// (another worker is claiming it): no hot loop.
const MIN_IDLE: Duration = Duration::from_millis(100);
/// How often tokens about to expire, and ended quota periods, are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// While the queue holds more due jobs than a worker runs at once, free slots are gathered for
/// up to this long so that one claim fills several (a claim is a flushed transaction: one per
/// finished job would cost as much as the job's own writes). Not once the queue was drained: a
/// job that comes due alone waits at most this long.
const GATHER: Duration = Duration::from_millis(50);
/// Connections refreshed ahead of expiry per sweep.
const REFRESH_BATCH: u32 = 50;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerLoop {
    /// Its name in job leases (host and process).
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: u32,
    /// The worker login's URL, for the connection that listens for new jobs (none: poll).
    pub listen_url: Option<String>,
}

impl std::fmt::Debug for WorkerLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerLoop")
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .field("listens", &self.listen_url.is_some())
            .finish()
    }
}

/// A worker's name in job leases: host and process.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

/// Runs until `stop` turns true, then lets the jobs in hand finish.
pub async fn run(services: Arc<Services>, settings: WorkerLoop, mut stop: watch::Receiver<bool>) {
    let worker_id = settings.worker_id.clone();
    tracing::info!(worker = %worker_id, concurrency = settings.concurrency, "publishing worker started");
    let mut listener = Listener::new(settings.listen_url.clone());
    let mut running: JoinSet<()> = JoinSet::new();
    // Token refreshes and quota resets run beside the jobs, never in the way of claims.
    let mut sweeper: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_sweep: Option<tokio::time::Instant> = None;
    let capacity = settings.concurrency as usize;
    // Free slots worth a claim of their own while the queue is backlogged.
    let batch = (capacity / 4).max(1);
    // Whether the last claim found more due jobs than it could take.
    let mut backlogged = false;
    // Since when free slots have been waiting to be filled.
    let mut gathering: Option<tokio::time::Instant> = None;
    while !*stop.borrow() {
        // Finished jobs leave the set only when joined.
        while running.try_join_next().is_some() {}
        if sweeper
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
            && last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY)
        {
            last_sweep = Some(tokio::time::Instant::now());
            sweeper = Some(tokio::spawn(sweep(services.clone(), stop.clone())));
        }
        let free = capacity.saturating_sub(running.len());
        if free == 0 {
            // Full: wait for a job to finish (or stop).
            wait(&mut stop, &mut running, &mut listener, MAX_IDLE, false).await;
            continue;
        }
        if backlogged && free < batch {
            let since = *gathering.get_or_insert_with(tokio::time::Instant::now);
            let left = GATHER.saturating_sub(since.elapsed());
            if !left.is_zero() {
                wait(&mut stop, &mut running, &mut listener, left, false).await;
                continue;
            }
        }
        gathering = None;
        // Listen before looking at the queue, so a job queued meanwhile still wakes us.
        listener.ensure().await;
        match services.worker.claim(&worker_id, free as u32).await {
            Ok(jobs) => {
                let drained = jobs.len() < free;
                backlogged = !drained;
                for job in jobs {
                    running.spawn(run_job(services.clone(), job));
                }
                if !drained {
                    continue;
                }
            }
            Err(e) => {
                backlogged = false;
                tracing::warn!(error = %e, "claiming publishing jobs failed");
                wait(&mut stop, &mut running, &mut listener, ERROR_PAUSE, false).await;
                continue;
            }
        }
        // Drained: sleep until the next job is due, a job is queued, or a slot frees up.
        let idle = until_next_due(&services).await;
        wait(&mut stop, &mut running, &mut listener, idle, true).await;
    }
    // Not aborted: a token refresh cut between the platform's answer and its storing would
    // lose the new tokens. The sweep stops before its next connection.
    if let Some(sweeper) = sweeper
        && let Err(e) = sweeper.await
    {
        tracing::warn!(error = %e, "the token and quota sweep ended abnormally");
    }
    tracing::info!(worker = %worker_id, jobs = running.len(), "publishing worker stopping; finishing the jobs in hand");
    while running.join_next().await.is_some() {}
    tracing::info!(worker = %worker_id, "publishing worker stopped");
}

/// How long until the next job is claimable (at most [`MAX_IDLE`]).
async fn until_next_due(services: &Services) -> Duration {
    match services.worker.next_due().await {
        Ok(Some(at)) => (at - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(MIN_IDLE, MAX_IDLE),
        Ok(None) => MAX_IDLE,
        Err(e) => {
            tracing::warn!(error = %e, "reading the next due job failed");
            ERROR_PAUSE
        }
    }
}

/// Waits up to `max` for: stop, a running job to finish, or (when listening) a new job.
async fn wait(
    stop: &mut watch::Receiver<bool>,
    running: &mut JoinSet<()>,
    listener: &mut Listener,
    max: Duration,
    for_new_jobs: bool,
) {
    tokio::select! {
        _ = tokio::time::sleep(max) => {}
        _ = stop.changed() => {}
        Some(_) = running.join_next(), if !running.is_empty() => {}
        () = listener.wait(max), if for_new_jobs => {}
    }
}

/// One job: processed while a heartbeat renews its lease.
async fn run_job(services: Arc<Services>, job: ClaimedJob) {
    let worker = &services.worker;
    let every = (worker.lease() / 3)
        .to_std()
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_millis(500));
    let heartbeat = async {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            match worker.heartbeat(&job).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(job = %job.job_id, "another worker took the job over");
                    break;
                }
                Err(e) => {
                    tracing::warn!(job = %job.job_id, error = %e, "renewing a job's lease failed")
                }
            }
        }
        // Nothing more to renew; the job's own steps find the lease gone.
        std::future::pending::<()>().await;
    };
    let report = tokio::select! {
        report = worker.process(&job) => report,
        () = heartbeat => return,
    };
    match report {
        Ok(JobReport::LeaseLost) => {
            tracing::info!(job = %job.job_id, "job lost to another worker; nothing written");
        }
        Ok(report) => {
            tracing::debug!(job = %job.job_id, post = %job.post_id, target = %job.target, ?report, "job processed");
        }
        Err(e) => {
            tracing::warn!(job = %job.job_id, error = %e, "job could not be recorded; it runs again after its lease")
        }
    }
}

/// Tokens about to expire, and quota periods that ended.
async fn sweep(services: Arc<Services>, stop: watch::Receiver<bool>) {
    let stopping = || *stop.borrow();
    match services
        .worker
        .refresh_expiring(REFRESH_BATCH, stopping)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(connections = n, "refreshed tokens ahead of expiry"),
        Err(e) => tracing::warn!(error = %e, "refreshing tokens ahead of expiry failed"),
    }
    if stopping() {
        return;
    }
    match services.quota.reset_due(500).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(users = n, "reset monthly quotas"),
        Err(e) => tracing::warn!(error = %e, "resetting quotas failed"),
    }
}

/// The `LISTEN` connection, reconnected when it breaks (polling meanwhile).
struct Listener {
    url: Option<String>,
    connection: Option<JobListener>,
}

impl Listener {
    fn new(url: Option<String>) -> Self {
        Self {
            url,
            connection: None,
        }
    }

    async fn ensure(&mut self) {
        if self.connection.is_some() {
            return;
        }
        let Some(url) = &self.url else { return };
        match JobListener::connect(url).await {
            Ok(l) => self.connection = Some(l),
            Err(e) => tracing::warn!(error = %e, "listening for new jobs failed; polling instead"),
        }
    }

    /// Resolves when a job was queued or rescheduled; never when not listening.
    async fn wait(&mut self, max: Duration) {
        let Some(connection) = self.connection.as_mut() else {
            return std::future::pending().await;
        };
        match connection.wait(max).await {
            Ok(true) => {}
            // Timed out: the caller's own sleep ends at the same time.
            Ok(false) => std::future::pending().await,
            Err(e) => {
                tracing::warn!(error = %e, "the connection listening for new jobs broke");
                self.connection = None;
            }
        }
    }
}

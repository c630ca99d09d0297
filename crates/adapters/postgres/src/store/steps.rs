//! Group commit for the steps of publishing jobs ([`PostStore::modify`] and
//! [`PostStore::modify_with_account`]).
//!
//! A worker runs many jobs at once, and each job's step is a short transaction that locks one
//! post, decides over it and writes it. Committed one by one, most of a step's cost is the
//! transaction's own: its opening, its commit record and the WAL flush the commit waits for
//! (measured with pgbench in docs/benchmarks.md: sixteen steps to a transaction, each in a
//! savepoint, ran about one and a half times as many steps a second as one to a
//! transaction). So steps that arrive while
//! one is being written wait and then share a transaction: each runs in a savepoint of its own
//! and in its own tenant's session, so a step that fails (a lost lease, a conflict) is rolled
//! back alone and answered with its own error, and the others commit. A step's answer comes
//! only after the commit that made it durable; a failed commit fails every step of the batch
//! (none was written).
//!
//! Steps queue in lanes chosen by post id: a post's steps always take the same lane, one
//! batch at a time. A batch takes its steps in order of user, then post id (each step locks its
//! post, then that post's job; one that takes or gives back a quota unit, then its user's quota
//! row), so batches of one process do not deadlock over posts or quota rows. A person's request
//! that locks one of the user's posts and their quota row can still cross a batch that holds
//! one and waits for the other (rarely; likewise two processes' batches over one post whose
//! lease moved): PostgreSQL then fails one of them after `deadlock_timeout` — a step is rolled
//! back alone, and its job runs again later. A lane with
//! nothing queued runs the next step at once, as a transaction of its own (no savepoint):
//! steps wait only behind a batch already being written, but a step waiting for a lock holds
//! its whole batch (and its lane) meanwhile. Once its batch has started, a step is written
//! even if its caller stopped waiting.
//!
//! [`PostStore::modify`]: multivio_ports::posts::PostStore::modify
//! [`PostStore::modify_with_account`]: multivio_ports::posts::PostStore::modify_with_account

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use multivio_domain::post::Post;
use multivio_domain::{PostId, Tenant};
use multivio_ports::StoreError;
use multivio_ports::posts::{AccountRef, Decide, DecideWithAccount};
use tokio::sync::oneshot;

use super::posts::{decide_in, lock_post};
use super::{Fail, PgStore, connections::read_publishing_account};
use crate::tenant::{Session, in_session, settings_sql};

/// Lanes per process: as many batches written at once.
const LANES: usize = 4;
/// Steps per transaction at most: each writes in a subtransaction of its own, and PostgreSQL
/// keeps up to 64 of a transaction's subtransactions in shared memory (more would make every
/// other session's snapshot look them up on disk).
pub(crate) const MAX_BATCH: usize = 32;

/// What a step does once its post is locked.
pub(crate) enum StepWork {
    /// Decide over the post.
    Plain(Decide),
    /// Read the account with the post, then decide over both.
    WithAccount(AccountRef, DecideWithAccount),
}

/// A step waiting in its lane.
struct Pending {
    tenant: Tenant,
    id: PostId,
    work: StepWork,
    reply: oneshot::Sender<Result<Post, StoreError>>,
}

/// The lanes of one store (shared by its clones).
pub(crate) struct Lanes {
    lanes: [Lane; LANES],
}

impl Default for Lanes {
    fn default() -> Self {
        Self {
            lanes: std::array::from_fn(|_| Lane::default()),
        }
    }
}

/// The lane of a post's steps.
pub fn lane_of(id: PostId) -> usize {
    (id.0.as_u128() % LANES as u128) as usize
}

#[derive(Default)]
struct Lane {
    queue: Mutex<Vec<Pending>>,
    /// Whether a task is writing this lane's batches.
    draining: AtomicBool,
}

impl Lane {
    fn push(&self, step: Pending) {
        self.queue_mut().push(step);
    }

    fn take(&self) -> Vec<Pending> {
        let mut queue = self.queue_mut();
        let at = queue.len().min(MAX_BATCH);
        let rest = queue.split_off(at);
        std::mem::replace(&mut *queue, rest)
    }

    fn is_idle(&self) -> bool {
        self.queue_mut().is_empty()
    }

    fn queue_mut(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // Nothing panics while holding the lock (a push or a split).
        match self.queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The task draining a lane, while it holds the lane's `draining` flag: dropped holding it
/// (its task cancelled, even before it first ran), it frees the lane, and the next step
/// queued there starts another task.
struct Drainer {
    lanes: Arc<Lanes>,
    index: usize,
    holds: bool,
}

impl Drainer {
    fn lane(&self) -> &Lane {
        &self.lanes.lanes[self.index]
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        if self.holds {
            self.lane().draining.store(false, Ordering::Release);
        }
    }
}

impl PgStore {
    /// Runs one step on `tenant`'s post `id` in its lane's next batch; answers once that batch
    /// committed (or failed).
    pub(crate) async fn step(
        &self,
        tenant: &Tenant,
        id: PostId,
        work: StepWork,
    ) -> Result<Post, StoreError> {
        let index = lane_of(id);
        let lane = &self.steps.lanes[index];
        let (reply, answer) = oneshot::channel();
        lane.push(Pending {
            tenant: tenant.clone(),
            id,
            work,
            reply,
        });
        if !lane.draining.swap(true, Ordering::AcqRel) {
            let drainer = Drainer {
                lanes: self.steps.clone(),
                index,
                holds: true,
            };
            let store = self.clone();
            tokio::spawn(async move { store.drain(drainer).await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the step's batch ended without an answer".to_owned(),
            ))
        })
    }

    /// Writes the lane's batches until it has none queued.
    async fn drain(&self, mut drainer: Drainer) {
        loop {
            let batch = drainer.lane().take();
            if batch.is_empty() {
                drainer.holds = false;
                drainer.lane().draining.store(false, Ordering::Release);
                // A step queued after the take found the lane draining and started no task:
                // look again, and go on unless another task started meanwhile.
                if drainer.lane().is_idle() || drainer.lane().draining.swap(true, Ordering::AcqRel)
                {
                    return;
                }
                drainer.holds = true;
                continue;
            }
            // A decision that panics loses its batch (the connection is dropped, nothing is
            // written, every step of it is answered with an error), not the lane.
            if let Err(panic) = std::panic::AssertUnwindSafe(self.write_batch(batch))
                .catch_unwind()
                .await
            {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a publishing step panicked; its batch was not written");
            }
        }
    }

    /// One transaction for `batch`: each step in a savepoint and its tenant's session (a step
    /// alone: in its tenant's session, without a savepoint).
    async fn write_batch(&self, mut batch: Vec<Pending>) {
        // A step whose caller is gone (its job was dropped) is not run.
        batch.retain(|step| !step.reply.is_closed());
        if batch.is_empty() {
            return;
        }
        if batch.len() == 1
            && let Some(step) = batch.pop()
        {
            // Alone, the step is the transaction: no savepoint, its tenant's session for all
            // of it.
            let uid = step.tenant.user_id.0;
            let answer = self
                .as_user(&step.tenant.firebase_uid, async move |conn| {
                    step_in(conn, None, uid, step.id, step.work).await
                })
                .await;
            let _ = step.reply.send(answer);
            return;
        }
        // One lock order for every batch: by user, then post. Batches of different lanes
        // share no post, but may share users, whose quota rows their steps lock (a step that
        // takes or gives back a unit): taken in user order, they cannot be taken crosswise.
        batch.sort_by_key(|step| (step.tenant.user_id.0, step.id.0));
        let (pool, role) = self.tenant_pool();
        let mut replies = Vec::with_capacity(batch.len());
        let mut steps = Vec::with_capacity(batch.len());
        for step in batch {
            let mac = self.keys.mac(step.tenant.firebase_uid.as_str());
            let session = settings_sql(Session {
                role,
                claim: Some((step.tenant.firebase_uid.as_str(), &mac)),
                synchronous: true,
            });
            replies.push(step.reply);
            steps.push((step.tenant.user_id.0, step.id, step.work, session));
        }
        let outer = Session {
            role,
            claim: None,
            synchronous: true,
        };
        let written: Result<Vec<Result<Post, StoreError>>, Fail> =
            in_session(pool, outer, async move |conn| {
                let mut answers = Vec::with_capacity(steps.len());
                let last = steps.len().saturating_sub(1);
                for (n, (uid, id, work, session)) in steps.into_iter().enumerate() {
                    // The previous step's savepoint is released only now that its outcome is
                    // known (a release sent with its write could not be rolled back). Each
                    // step's savepoint has a name of its own: should this opening fail before
                    // its own savepoint exists, the rollback below fails too (and with it the
                    // batch) instead of undoing the previous step, already answered.
                    let release = match n {
                        0 => String::new(),
                        n => format!("RELEASE SAVEPOINT step{}; ", n - 1),
                    };
                    let opening = format!("{release}SAVEPOINT step{n}; {}", session?);
                    match step_in(conn, Some(&opening), uid, id, work).await {
                        Ok(post) => answers.push(Ok(post)),
                        // Such a failure (not expected under read committed) makes diesel
                        // roll the whole transaction back at its commit.
                        Err(Fail::Db(DieselError::DatabaseError(
                            DatabaseErrorKind::SerializationFailure,
                            info,
                        ))) => {
                            return Err(Fail::Db(DieselError::DatabaseError(
                                DatabaseErrorKind::SerializationFailure,
                                info,
                            )));
                        }
                        Err(fail) => {
                            // Undoes this step alone; if even that fails, the batch is lost.
                            conn.batch_execute(&format!("ROLLBACK TO SAVEPOINT step{n}"))
                                .await?;
                            answers.push(Err(StoreError::from(fail)));
                        }
                    }
                }
                // Fails in a transaction an unseen error aborted, whose `COMMIT` would roll
                // back without an error: no step is then answered as written.
                conn.batch_execute(&format!("RELEASE SAVEPOINT step{last}"))
                    .await?;
                Ok(answers)
            })
            .await;
        match written {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller gone meanwhile needs no answer.
                    let _ = reply.send(answer);
                }
            }
            Err(fail) => {
                let error = StoreError::from(fail);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// One step in its transaction: `opening` (in a batch, its savepoint and session) goes out
/// with the step's reads, then the decision over the locked post, then its write.
async fn step_in(
    conn: &mut &AsyncPgConnection,
    opening: Option<&str>,
    uid: i32,
    id: PostId,
    work: StepWork,
) -> Result<Post, Fail> {
    // The opening and the reads are sent together, in that order (each is sent when its
    // future is first polled, and `join` polls them in order); all are awaited before any
    // counts, so nothing is left in flight on the connection.
    let shared: &AsyncPgConnection = conn;
    let opened = async {
        match opening {
            Some(sql) => (&mut &*shared).batch_execute(sql).await,
            None => Ok(()),
        }
    };
    match work {
        StepWork::Plain(decide) => {
            let (opened, locked) =
                futures_util::future::join(opened, lock_post(&mut &*shared, uid, id)).await;
            opened?;
            let post = locked?.into_domain()?;
            decide_in(conn, uid, post, decide).await
        }
        StepWork::WithAccount(account, decide) => {
            // The account's read goes first: it takes no lock, so it answers while the post's
            // may wait.
            let (opened, stored, locked) = futures_util::future::join3(
                opened,
                read_publishing_account(&mut &*shared, uid, account.provider, account.connection),
                lock_post(&mut &*shared, uid, id),
            )
            .await;
            opened?;
            let (stored, post) = (stored?, locked?.into_domain()?);
            let decide = decide(stored).await;
            decide_in(conn, uid, post, decide).await
        }
    }
}

//! Use case *idempotent request*: run a post-changing request at most once per
//! `Idempotency-Key`, answering repeats with the first answer.
//!
//! Three transactions are involved — the reservation, the effect, the stored answer — and a
//! process can stop between any two. The reservation's attempt travels into the effect's
//! transaction ([`multivio_ports::posts::PostChange::idempotency`]), which records the post
//! there and commits only while the attempt still holds the key. So a repeat finds either the
//! stored answer, or the committed effect (and answers from it), or neither (and only then runs
//! the request again). No crash point runs it twice.

use std::future::Future;
use std::sync::Arc;

use multivio_domain::Tenant;
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_domain::post::Post;
use multivio_ports::idempotency::{IdempotencyStore, Reservation};
use multivio_ports::posts::PostStore;

use crate::error::{AppError, AppResult};

/// An answer as the edge sends it: a status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

/// What an idempotent run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer.
    pub answer: Answer,
    /// `true` when it repeats an earlier attempt's answer (nothing new was done).
    pub replayed: bool,
}

/// Runs post-changing requests once per key.
#[derive(Clone)]
pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    posts: Arc<dyn PostStore>,
}

impl std::fmt::Debug for IdempotencyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyService").finish_non_exhaustive()
    }
}

impl IdempotencyService {
    /// The service.
    pub fn new(store: Arc<dyn IdempotencyStore>, posts: Arc<dyn PostStore>) -> Self {
        Self { store, posts }
    }

    /// Runs `op` — which must pass the claim it is given into the transaction of its effect —
    /// at most once for `key`, and renders its post with `render`.
    ///
    /// - no key: runs `op` with no claim;
    /// - a repeat of a finished request: its stored answer;
    /// - a repeat of a request whose effect committed but whose answer was lost: the post as
    ///   it is now, rendered (the request is not run again);
    /// - the same key still running: [`AppError::IdempotencyInProgress`];
    /// - the same key for another request (another `fingerprint`):
    ///   [`AppError::IdempotencyKeyReused`].
    ///
    /// A failed `op` releases the key (it changed nothing), so the client may retry it.
    pub async fn run<Op, Fut, Render>(
        &self,
        tenant: &Tenant,
        key: Option<&IdempotencyKey>,
        fingerprint: &[u8],
        op: Op,
        render: Render,
    ) -> AppResult<Outcome>
    where
        Op: FnOnce(Option<IdempotencyClaim>) -> Fut,
        Fut: Future<Output = AppResult<Post>>,
        Render: Fn(&Post) -> AppResult<Answer>,
    {
        let Some(key) = key else {
            let post = op(None).await?;
            return Ok(Outcome {
                answer: render(&post)?,
                replayed: false,
            });
        };
        match self.store.reserve(tenant, key, fingerprint).await? {
            Reservation::Replay { status, body } => Ok(Outcome {
                answer: Answer { status, body },
                replayed: true,
            }),
            Reservation::Committed { post_id } => {
                let post = self
                    .posts
                    .get(tenant, post_id)
                    .await
                    .map_err(|e| AppError::from_store("post", e))?;
                let answer = render(&post)?;
                self.remember(tenant, key, &answer).await;
                Ok(Outcome {
                    answer,
                    replayed: true,
                })
            }
            Reservation::InProgress => Err(AppError::IdempotencyInProgress),
            Reservation::Mismatch => Err(AppError::IdempotencyKeyReused),
            Reservation::Reserved(claim) => match op(Some(claim.clone())).await {
                Ok(post) => {
                    let answer = render(&post)?;
                    self.remember(tenant, key, &answer).await;
                    Ok(Outcome {
                        answer,
                        replayed: false,
                    })
                }
                Err(error) => {
                    if let Err(e) = self.store.release(tenant, &claim).await {
                        tracing::warn!(error = %e, "could not release an idempotency key");
                    }
                    Err(error)
                }
            },
        }
    }

    /// Stores the answer. Failing here loses nothing: the effect is recorded on the key, so a
    /// repeat is answered from it.
    async fn remember(&self, tenant: &Tenant, key: &IdempotencyKey, answer: &Answer) {
        if let Err(e) = self
            .store
            .complete(tenant, key, answer.status, &answer.body)
            .await
        {
            tracing::warn!(error = %e, "could not store an idempotent answer");
        }
    }
}

#[cfg(test)]
mod tests;

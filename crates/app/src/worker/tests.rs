use super::*;
use crate::testing::*;
use multivio_domain::job::FencingToken;
use multivio_domain::post::{PostContent, PostInput, Target};
use multivio_domain::quota::QuotaEffect;
use multivio_domain::{PostId, Provider, Secret, UserId};
use multivio_ports::connections::MockConnectionStore;
use multivio_ports::jobs::MockJobQueue;
use multivio_ports::media::MockMediaRepository;
use multivio_ports::platform::{
    MockOAuthClient, MockPlatforms, OAuthClient, OAuthError, PublishedPost, Publisher,
};
use multivio_ports::posts::MockPostStore;
use multivio_ports::vault::{SealedCredentials, SealedToken};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

type Check = Box<dyn Fn(&PublishRequest) -> bool + Send + Sync>;

/// A platform that behaves like the real adapters towards the worker: it asks the guard right
/// before sending, and answers what the test scripted.
struct FakePublisher {
    window: Option<chrono::Duration>,
    answers: Mutex<VecDeque<Result<PublishedPost, PublishError>>>,
    check: Check,
    /// Every publish call, and whether the guard let it send.
    calls: Mutex<Vec<(PublishRequest, bool)>>,
    /// What a lookup after an interrupted send finds.
    found: Option<PublishedPost>,
    lookups: Mutex<usize>,
    /// Runs before the guard is asked (a platform call before the send, say).
    before: Option<Box<dyn Fn() + Send + Sync>>,
    /// Sends a part without media as its first request (as X and Mastodon do).
    at_once: bool,
    /// An error met before the send.
    early: Mutex<Option<PublishError>>,
}

impl FakePublisher {
    fn new(
        window: Option<chrono::Duration>,
        answers: Vec<Result<PublishedPost, PublishError>>,
    ) -> Self {
        Self {
            window,
            answers: Mutex::new(answers.into()),
            check: Box::new(|_| true),
            calls: Mutex::new(Vec::new()),
            found: None,
            lookups: Mutex::new(0),
            before: None,
            at_once: true,
            early: Mutex::new(None),
        }
    }

    /// A platform that makes requests of its own before the send (lookups, containers).
    fn preparing(mut self) -> Self {
        self.at_once = false;
        self
    }

    /// Fails with `error` before asking the guard (a request before the send failed).
    fn failing_before_send(mut self, error: PublishError) -> Self {
        self.early = Mutex::new(Some(error));
        self
    }

    fn before_guard(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.before = Some(Box::new(hook));
        self
    }

    fn checking(mut self, check: impl Fn(&PublishRequest) -> bool + Send + Sync + 'static) -> Self {
        self.check = Box::new(check);
        self
    }

    fn finding(mut self, found: PublishedPost) -> Self {
        self.found = Some(found);
        self
    }

    /// Sends the guard let through.
    fn sent(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| *s)
            .count()
    }
}

#[async_trait::async_trait]
impl Publisher for FakePublisher {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        assert!((self.check)(request), "unexpected request: {request:?}");
        if let Some(hook) = &self.before {
            hook();
        }
        let early = self.early.lock().unwrap().take();
        if let Some(error) = early {
            self.calls.lock().unwrap().push((request.clone(), false));
            return Err(error);
        }
        if let Err(reason) = guard.before_send().await {
            self.calls.lock().unwrap().push((request.clone(), false));
            return Err(PublishError::NotSent { reason });
        }
        self.calls.lock().unwrap().push((request.clone(), true));
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted answer for every send")
    }

    fn dedup_window(&self) -> Option<chrono::Duration> {
        self.window
    }

    fn sends_plain_parts_at_once(&self) -> bool {
        self.at_once
    }

    async fn reconcile(
        &self,
        _: &PublishRequest,
        _: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        *self.lookups.lock().unwrap() += 1;
        Ok(self.found.clone())
    }
}

/// A write another worker commits.
type ConcurrentWrite = Box<dyn FnOnce(&mut Post) + Send>;

/// A post store that behaves like the real one: revisions, fencing, quota effects recorded,
/// `modify` deciding over the post as stored.
#[derive(Default)]
struct State {
    post: Option<Post>,
    changes: Vec<PostChange>,
    /// Steps that read the account with the post, and what each decided (whether it wrote).
    account_steps: Vec<bool>,
    /// A step that reads the account with the post is running (the post is held).
    in_step: bool,
    /// Writes that fail as an unreachable database would, before the next succeeds.
    failures_left: usize,
    /// Reads of the post that fail so, before the next succeeds.
    read_failures_left: usize,
    lease_lost: bool,
    /// Another worker's write, committed right before the next `modify` reads the post.
    concurrent: Option<ConcurrentWrite>,
}

fn apply_to(st: &mut State, change: PostChange) -> Result<Option<Post>, StoreError> {
    if st.lease_lost && change.job.is_some() {
        return Err(StoreError::LeaseLost);
    }
    if st.failures_left > 0 {
        st.failures_left -= 1;
        return Err(StoreError::Unavailable("connection reset".into()));
    }
    let PostWrite::Update {
        mut post,
        expected_revision,
    } = change.write.clone()
    else {
        panic!("unexpected write");
    };
    let current = st.post.as_ref().ok_or(StoreError::NotFound)?;
    if current.revision != expected_revision {
        return Err(StoreError::Conflict("revision".into()));
    }
    post.revision = expected_revision + 1;
    st.post = Some(post.clone());
    st.changes.push(change);
    Ok(Some(post))
}

/// The value of a future the fakes know to be ready (the mocks answer at once).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a fake's future was not ready"),
    }
}

/// The post store over `state`; a step that reads the account with the post reads it from
/// `connections` (as the store's one statement would, in the same transaction).
fn fake_posts(state: Arc<Mutex<State>>, connections: Arc<dyn ConnectionStore>) -> MockPostStore {
    let mut m = MockPostStore::new();
    let s = state.clone();
    m.expect_get().returning(move |_, _| {
        let mut st = s.lock().unwrap();
        if st.read_failures_left > 0 {
            st.read_failures_left -= 1;
            return Err(StoreError::Unavailable("connection reset".into()));
        }
        st.post.clone().ok_or(StoreError::NotFound)
    });
    let s = state.clone();
    m.expect_apply()
        .returning(move |_, change| apply_to(&mut s.lock().unwrap(), change));
    let st = state.clone();
    let modify = Arc::new(move |decide: Decide| {
        let mut st = st.lock().unwrap();
        if let Some(write) = st.concurrent.take() {
            let post = st.post.as_mut().ok_or(StoreError::NotFound)?;
            write(post);
            post.revision += 1;
        }
        let read = st.post.clone().ok_or(StoreError::NotFound)?;
        match decide(&read) {
            Decision::Keep => Ok(read),
            Decision::Write(change) => apply_to(&mut st, *change)?.ok_or(StoreError::NotFound),
        }
    });
    let plain = modify.clone();
    let steps = state.clone();
    m.expect_modify()
        .returning(move |_, _, decide| plain(decide));
    m.expect_modify_with_account()
        .returning(move |tenant, _, account, decide| {
            // As the store: no post, no decision (and no credentials opened).
            let changes = {
                let mut st = steps.lock().unwrap();
                if st.post.is_none() {
                    return Err(StoreError::NotFound);
                }
                st.in_step = true;
                st.changes.len()
            };
            let decided =
                ready(connections.publishing_account(tenant, account.provider, account.connection))
                    .map(|stored| ready(decide(stored)));
            steps.lock().unwrap().in_step = false;
            let stored = modify(decided?);
            let mut st = steps.lock().unwrap();
            let wrote = st.changes.len() > changes;
            st.account_steps.push(wrote);
            stored
        });
    m
}

fn post(targets: Vec<Target>) -> Post {
    let content = PostContent::parse(PostInput {
        name: "Launch".into(),
        universal_content: Some("Hello".into()),
        platforms: targets,
        ..Default::default()
    })
    .unwrap();
    Post::new_draft(PostId(Uuid::from_u128(1)), UserId(1), content, now())
}

fn scheduled(targets: Vec<Target>) -> Post {
    let mut p = post(targets);
    p.schedule(
        now() + chrono::Duration::minutes(1),
        now() - chrono::Duration::minutes(5),
    )
    .unwrap();
    p
}

fn publishing(targets: Vec<Target>) -> Post {
    let mut p = post(targets);
    p.start_publishing(now()).unwrap();
    p
}

fn job(target: Target, attempt: u32) -> ClaimedJob {
    ClaimedJob {
        job_id: JobId(Uuid::from_u128(50)),
        tenant: tenant(),
        post_id: PostId(Uuid::from_u128(1)),
        target,
        attempt,
        fencing_token: FencingToken(7),
    }
}

fn sealed_for(
    id: multivio_domain::ConnectionId,
    access: &str,
    expires: chrono::DateTime<Utc>,
) -> SealedCredentials {
    SealedCredentials {
        access_token: SealedToken(format!(
            "sealed(social_connections:{id}:access_token)|{access}"
        )),
        refresh_token: Some(SealedToken(format!(
            "sealed(social_connections:{id}:refresh_token)|r-{access}"
        ))),
        expires_at: Some(expires),
        oauth1: None,
    }
}

/// Answers `publishing_account` as the store does: of the provider's `accounts`, the one the
/// target names, else the primary — with the credentials `sealed` gives it.
fn serve_accounts(
    m: &mut MockConnectionStore,
    accounts: impl Fn(Provider) -> Result<Vec<Connection>, StoreError> + Send + Sync + 'static,
    sealed: impl Fn(multivio_domain::ConnectionId) -> SealedCredentials + Send + Sync + 'static,
) {
    m.expect_publishing_account()
        .returning(move |_, provider, id| {
            let found = accounts(provider)?.into_iter().find(|c| match id {
                Some(id) => c.id == id,
                None => c.is_primary,
            });
            Ok(found.map(|c| {
                let s = sealed(c.id);
                (c, s)
            }))
        });
}

/// One account whose token ("old", expiring at `expires`) is refreshed once: read from the
/// store as last written, locked once, and stored once.
fn one_refreshable_account(m: &mut MockConnectionStore, expires: DateTime<Utc>) {
    account_refreshed_times(m, expires, 1);
}

/// [`one_refreshable_account`] whose refreshed credentials are stored `stores` times.
fn account_refreshed_times(m: &mut MockConnectionStore, expires: DateTime<Utc>, stores: usize) {
    let stored = Arc::new(Mutex::new(None::<SealedCredentials>));
    let current = {
        let stored = stored.clone();
        move |id| {
            stored
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| sealed_for(id, "old", expires))
        }
    };
    let read = current.clone();
    serve_accounts(m, |p| Ok(vec![connection(1, p, true, 1)]), read);
    m.expect_credentials()
        .returning(move |_, id| Ok(current(id)));
    m.expect_try_lock_refresh()
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    m.expect_store_refreshed()
        .times(stores)
        .returning(move |_, _, s, _| {
            *stored.lock().unwrap() = Some(s.clone());
            Ok(())
        });
}

struct Deps {
    state: Arc<Mutex<State>>,
    jobs: MockJobQueue,
    connections: MockConnectionStore,
    platforms: MockPlatforms,
    fake: Option<Arc<FakePublisher>>,
    clock: Arc<dyn multivio_ports::system::Clock>,
}

impl Deps {
    fn new(post: Post) -> Self {
        let state = Arc::new(Mutex::new(State {
            post: Some(post),
            ..Default::default()
        }));
        let mut connections = MockConnectionStore::new();
        serve_accounts(
            &mut connections,
            |p| Ok(vec![connection(1, p, true, 10), connection(2, p, false, 5)]),
            |id| sealed_for(id, "tok", now() + chrono::Duration::hours(1)),
        );
        connections
            .expect_credentials()
            .returning(|_, id| Ok(sealed_for(id, "tok", now() + chrono::Duration::hours(1))));
        // No expectations: a job's lease is renewed with its steps' writes, never apart.
        let jobs = MockJobQueue::new();
        Self {
            state,
            jobs,
            connections,
            platforms: MockPlatforms::new(),
            fake: None,
            clock: clock(),
        }
    }

    /// X answering `answer` to the one send expected.
    fn publisher(
        self,
        window: Option<chrono::Duration>,
        answer: Result<PublishedPost, PublishError>,
    ) -> Self {
        self.with_fake(FakePublisher::new(window, vec![answer]).checking(|r| {
            r.idempotency_key == "multivio-00000000-0000-0000-0000-000000000001-twitter"
                && r.credentials.access_token.expose() == "tok"
                && r.text == "Hello"
        }))
    }

    fn with_fake(mut self, fake: FakePublisher) -> Self {
        let fake = Arc::new(fake);
        self.fake = Some(fake.clone());
        self.serve(fake);
        self.platforms.expect_oauth().returning(|_| None);
        self
    }

    /// Every provider's publisher is `fake`.
    fn serve(&mut self, fake: Arc<FakePublisher>) {
        let p: Arc<dyn Publisher> = fake;
        self.platforms
            .expect_publisher()
            .returning(move |_| Some(p.clone()));
    }

    fn fake(&self) -> Arc<FakePublisher> {
        self.fake.clone().expect("a publisher")
    }

    fn build(self) -> (PublishWorker, Arc<Mutex<State>>) {
        let connections: Arc<dyn ConnectionStore> = Arc::new(self.connections);
        let worker = PublishWorker::new(
            WorkerPorts {
                posts: Arc::new(fake_posts(self.state.clone(), connections.clone())),
                jobs: Arc::new(self.jobs),
                connections,
                media: Arc::new(MockMediaRepository::new()),
                media_store: Arc::new(multivio_ports::media::MockMediaStore::new()),
                vault: fake_vault(),
                platforms: Arc::new(self.platforms),
                clock: self.clock,
            },
            RetryPolicy::default(),
        );
        (worker, self.state)
    }
}

fn x() -> Target {
    Target::primary(Provider::X)
}

fn ok() -> Result<PublishedPost, PublishError> {
    Ok(PublishedPost {
        platform_post_id: "1789".into(),
        url: Some("https://x.com/ada/status/1789".into()),
        reference: None,
    })
}

/// The post a change writes.
fn updated(change: &PostChange) -> &Post {
    match &change.write {
        PostWrite::Update { post, .. } | PostWrite::Insert(post) => post,
        PostWrite::Delete { .. } => panic!("not a write"),
    }
}

fn result(state: &Arc<Mutex<State>>, key: &str) -> multivio_domain::post::TargetResult {
    state.lock().unwrap().post.as_ref().unwrap().publish_results[key].clone()
}

#[tokio::test]
async fn a_due_scheduled_post_is_published_and_settles() {
    let (w, state) = Deps::new(scheduled(vec![x()]))
        .publisher(None, ok())
        .build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    let st = state.lock().unwrap();
    let post = st.post.as_ref().unwrap();
    assert_eq!(post.status, PostStatus::Published);
    let r = &post.publish_results["twitter"];
    assert_eq!(
        (r.status, r.attempts, r.connection_id),
        (TargetStatus::Published, 1, Some(cid(1)))
    );
    assert_eq!(r.platform_post_id.as_deref(), Some("1789"));
    // Start publishing and mark the send (one step), record: both under the fencing token.
    assert_eq!(st.changes.len(), 2);
    let first = updated(&st.changes[0]);
    let marked = &first.publish_results["twitter"];
    assert_eq!(first.status, PostStatus::Publishing);
    assert_eq!(
        (marked.status, marked.attempts, marked.last_attempt_at),
        (TargetStatus::Publishing, 1, Some(now()))
    );
    assert!(st.changes.iter().all(|c| {
        c.job
            .as_ref()
            .is_some_and(|j| j.fencing_token == FencingToken(7))
    }));
    assert_eq!(
        st.changes[1].job.as_ref().unwrap().outcome,
        Some(JobOutcome::Completed)
    );
    // The steps before the send renew the lease as they write; the last finishes the job.
    let renewals: Vec<_> = st
        .changes
        .iter()
        .map(|c| c.job.as_ref().unwrap().renew_until)
        .collect();
    let until = now() + crate::worker::DEFAULT_LEASE;
    assert_eq!(renewals, vec![Some(until), None]);
    assert!(st.changes.iter().all(|c| c.quota == QuotaEffect::None));
}

#[tokio::test]
async fn a_rejected_post_fails_and_refunds_when_every_target_failed() {
    let rejected = Err(PublishError::Rejected {
        code: "duplicate_content".into(),
        reason: "X refuses duplicates".into(),
    });
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(None, rejected)
        .build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("duplicate_content".into())
    );
    let st = state.lock().unwrap();
    let post = st.post.as_ref().unwrap();
    assert_eq!(post.status, PostStatus::Failed);
    assert_eq!(
        post.publish_results["twitter"]
            .error
            .as_ref()
            .unwrap()
            .message,
        "X refuses duplicates"
    );
    assert_eq!(st.changes.last().unwrap().quota, QuotaEffect::Refund);
    assert!(!post.quota_consumed);
}

#[tokio::test]
async fn one_failure_among_published_targets_is_partial_without_refund() {
    let mut p = publishing(vec![x(), Target::primary(Provider::Bluesky)]);
    p.record_outcome(
        "bluesky",
        TargetOutcome::Published {
            platform_post_id: None,
            url: None,
        },
        now(),
    )
    .unwrap();
    let rejected = Err(PublishError::Rejected {
        code: "x".into(),
        reason: "no".into(),
    });
    let (w, state) = Deps::new(p).publisher(None, rejected).build();
    w.process(&job(x(), 1)).await.unwrap();
    let st = state.lock().unwrap();
    assert_eq!(
        st.post.as_ref().unwrap().status,
        PostStatus::PartiallyPublished
    );
    assert_eq!(st.changes.last().unwrap().quota, QuotaEffect::None);
}

#[tokio::test]
async fn transient_errors_retry_with_backoff_then_fail() {
    let transient = Err(PublishError::Transient {
        reason: "502".into(),
    });
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(None, transient.clone())
        .build();
    // Half the first step at least, the whole of it at most, by the job's jitter.
    let at = now() + RetryPolicy::default().jittered_delay(1, jitter(&job(x(), 1)));
    assert!(
        at >= now() + chrono::Duration::seconds(15) && at <= now() + chrono::Duration::seconds(30)
    );
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(at)
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::Pending);
    let last = state
        .lock()
        .unwrap()
        .changes
        .last()
        .unwrap()
        .job
        .clone()
        .unwrap();
    assert!(matches!(last.outcome, Some(JobOutcome::RetryAt { run_at, .. }) if run_at == at));

    // Fifth try: no more retries.
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(None, transient)
        .build();
    assert_eq!(
        w.process(&job(x(), 5)).await.unwrap(),
        JobReport::Failed("transient".into())
    );
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Failed
    );
}

#[tokio::test]
async fn rate_limits_wait_for_the_platform() {
    let limited = Err(PublishError::RateLimited {
        retry_after: Some(chrono::Duration::minutes(15)),
    });
    let (w, _) = Deps::new(publishing(vec![x()]))
        .publisher(None, limited)
        .build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(now() + chrono::Duration::minutes(15))
    );
}

#[tokio::test]
async fn a_platform_cap_defers_the_target_to_its_reset_however_far() {
    let reset = now() + chrono::Duration::hours(20);
    let deferred = Err(PublishError::Deferred {
        until: reset,
        code: "instagram_daily_limit".into(),
        reason: "Instagram allows 25 posts a day for this account; it will go out at 09:14 UTC"
            .into(),
    });
    // Beyond the one-hour cap of a rate limit, and not failed although no try is left.
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(None, deferred.clone())
        .build();
    assert_eq!(
        w.process(&job(x(), 5)).await.unwrap(),
        JobReport::RetryAt(reset)
    );
    let target = result(&state, "twitter");
    assert_eq!(target.status, TargetStatus::Pending);
    let error = target.error.unwrap();
    assert_eq!(error.code, "instagram_daily_limit");
    assert!(error.message.contains("09:14"), "{}", error.message);

    // A reset further than a day is read as the longest deferral.
    let far = Err(PublishError::Deferred {
        until: now() + chrono::Duration::days(30),
        code: "c".into(),
        reason: "r".into(),
    });
    let (w, _) = Deps::new(publishing(vec![x()]))
        .publisher(None, far)
        .build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(now() + MAX_DEFERRAL)
    );
}

#[tokio::test]
async fn unauthorized_marks_the_connection_and_fails_the_target() {
    let mut d = Deps::new(publishing(vec![x()])).publisher(
        None,
        Err(PublishError::Unauthorized {
            reason: "token revoked".into(),
        }),
    );
    d.connections
        .expect_set_status()
        .withf(|_, id, s| *id == cid(1) && *s == ConnectionStatus::NeedsReauth)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("needs_reauth".into())
    );
    assert_eq!(
        result(&state, "twitter").error.unwrap().code,
        "needs_reauth"
    );
}

#[tokio::test]
async fn an_unknown_outcome_is_surfaced_not_retried_nor_refunded() {
    let unknown = Err(PublishError::Unknown {
        reason: "timeout after 30 s".into(),
    });
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(None, unknown)
        .build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::NeedsReview
    );
    let st = state.lock().unwrap();
    assert_eq!(
        st.post.as_ref().unwrap().publish_results["twitter"].status,
        TargetStatus::NeedsReview
    );
    assert_eq!(st.post.as_ref().unwrap().status, PostStatus::Failed);
    assert_eq!(st.changes.last().unwrap().quota, QuotaEffect::None);
    assert_eq!(
        st.changes.last().unwrap().job.as_ref().unwrap().outcome,
        Some(JobOutcome::Completed)
    );
}

#[tokio::test]
async fn a_timeout_after_sending_is_looked_up_before_anything_else() {
    let unknown = || {
        Err(PublishError::Unknown {
            reason: "timeout after 30 s".into(),
        })
    };
    // Found on the platform: published, sent once.
    let d = Deps::new(publishing(vec![x()]))
        .with_fake(FakePublisher::new(None, vec![unknown()]).finding(ok().unwrap()));
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    assert_eq!(*fake.lookups.lock().unwrap(), 1);
    assert_eq!(fake.sent(), 1);
    assert_eq!(
        result(&state, "twitter").platform_post_id.as_deref(),
        Some("1789")
    );
    // A platform that deduplicates: tried again later, the send still counted as possibly
    // made — the next claim looks first, then re-sends with the same key.
    let d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(
        Some(chrono::Duration::minutes(50)),
        vec![unknown(), ok()],
    ));
    let fake = d.fake();
    let (w, state) = d.build();
    assert!(matches!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    let r = result(&state, "twitter");
    assert_eq!(r.status, TargetStatus::Publishing);
    assert_eq!(r.error.unwrap().code, "unconfirmed");
    assert_eq!(w.process(&job(x(), 2)).await.unwrap(), JobReport::Published);
    assert_eq!(
        *fake.lookups.lock().unwrap(),
        2,
        "looked up before each decision"
    );
    {
        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0.idempotency_key, calls[1].0.idempotency_key);
    }
    // Past its tries it is left for review, never failed (it may be on the platform).
    let (w, state) = Deps::new(publishing(vec![x()]))
        .publisher(Some(chrono::Duration::minutes(50)), unknown())
        .build();
    assert_eq!(
        w.process(&job(x(), 5)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
}

#[tokio::test]
async fn a_guard_that_cannot_record_the_send_reschedules_the_job() {
    let d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![ok()]));
    // Every write of the post fails.
    d.state.lock().unwrap().failures_left = 1000;
    let mut d = d;
    d.jobs
        .expect_complete()
        .withf(|_, _, o| matches!(o, JobOutcome::RetryAt { .. }))
        .times(1)
        .returning(|_, _, _| Ok(()));
    let fake = d.fake();
    let (w, _) = d.build();
    assert!(matches!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    assert_eq!(fake.sent(), 0);
}

fn interrupted() -> Post {
    let mut p = publishing(vec![x()]);
    p.begin_target("twitter", cid(1), now()).unwrap();
    p
}

#[tokio::test]
async fn a_send_interrupted_by_a_crash_is_not_resent_blindly() {
    let d = Deps::new(interrupted()).with_fake(FakePublisher::new(None, vec![]));
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    let r = result(&state, "twitter");
    assert_eq!(r.status, TargetStatus::NeedsReview);
    assert_eq!(r.error.unwrap().code, "interrupted");
    assert_eq!(*fake.lookups.lock().unwrap(), 1, "looked up first");
    assert_eq!(fake.sent(), 0);
}

#[tokio::test]
async fn an_interrupted_send_found_on_the_platform_is_published_without_a_resend() {
    let d =
        Deps::new(interrupted()).with_fake(FakePublisher::new(None, vec![]).finding(ok().unwrap()));
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 2)).await.unwrap(), JobReport::Published);
    let r = result(&state, "twitter");
    assert_eq!(r.platform_post_id.as_deref(), Some("1789"));
    assert_eq!(r.attempts, 1, "no second send");
    assert_eq!(fake.sent(), 0);
}

#[tokio::test]
async fn a_platform_that_deduplicates_is_resent_with_the_same_key_within_its_window() {
    let (w, state) = Deps::new(interrupted())
        .publisher(Some(chrono::Duration::minutes(50)), ok())
        .build();
    assert_eq!(w.process(&job(x(), 2)).await.unwrap(), JobReport::Published);
    assert_eq!(result(&state, "twitter").attempts, 2);

    // Past the window the platform may have forgotten the key: looked up, then reviewed.
    let mut old = publishing(vec![x()]);
    old.begin_target("twitter", cid(1), now() - chrono::Duration::hours(2))
        .unwrap();
    let d = Deps::new(old).with_fake(FakePublisher::new(
        Some(chrono::Duration::minutes(50)),
        vec![],
    ));
    let fake = d.fake();
    let (w, _) = d.build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(fake.sent(), 0);
}

#[tokio::test]
async fn a_resend_put_off_by_the_platform_stays_in_flight_with_its_first_send_time() {
    let first = now() - chrono::Duration::minutes(10);
    let sent_before = || {
        let mut p = publishing(vec![x()]);
        p.begin_target("twitter", cid(1), first).unwrap();
        p
    };
    let window = Some(chrono::Duration::minutes(50));
    let answers = [
        (
            PublishError::Transient {
                reason: "HTTP 502".into(),
            },
            None,
        ),
        (
            PublishError::RateLimited {
                retry_after: Some(chrono::Duration::minutes(15)),
            },
            Some(now() + chrono::Duration::minutes(15)),
        ),
    ];
    for (answer, run_at) in answers {
        let d = Deps::new(sent_before()).with_fake(FakePublisher::new(window, vec![Err(answer)]));
        let fake = d.fake();
        let (w, state) = d.build();
        let report = w.process(&job(x(), 2)).await.unwrap();
        let JobReport::RetryAt(at) = report else {
            panic!("{report:?}")
        };
        if let Some(run_at) = run_at {
            assert_eq!(at, run_at, "the platform's wait is kept");
        }
        assert_eq!(fake.sent(), 1, "re-sent once");
        // Still possibly out, with the first send's time: the next attempt looks for it and
        // re-sends only while the platform still deduplicates (from that time).
        let r = result(&state, "twitter");
        assert_eq!(r.status, TargetStatus::Publishing);
        assert_eq!(r.last_attempt_at, Some(first));
        assert_eq!(r.error.unwrap().code, "unconfirmed");
    }
}

/// A post whose X target was sent ten minutes ago, its outcome open.
fn sent_ten_minutes_ago() -> Post {
    let mut p = publishing(vec![x()]);
    p.begin_target("twitter", cid(1), now() - chrono::Duration::minutes(10))
        .unwrap();
    p
}

/// Deps whose account refreshes its token with `refresh`'s answer.
fn refreshing(
    post: Post,
    refresh: Result<multivio_domain::connection::TokenGrant, OAuthError>,
) -> Deps {
    let mut d = Deps::new(post);
    d.connections.checkpoint();
    let stores = usize::from(refresh.is_ok());
    account_refreshed_times(
        &mut d.connections,
        now() + chrono::Duration::hours(1),
        stores,
    );
    d.connections
        .expect_set_status()
        .returning(|_, _, _| Ok(()));
    d.connections
        .expect_refresh_refused()
        .returning(|_, _, _| Ok(true));
    d.connections
        .expect_unlock_refresh()
        .returning(|_, _, _| Ok(()));
    let mut oauth = MockOAuthClient::new();
    oauth
        .expect_refresh()
        .times(1)
        .return_once(move |_, _| refresh);
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    d
}

#[tokio::test]
async fn a_refused_token_whose_refresh_must_wait_leaves_the_target_pending_not_in_flight() {
    // The platform refused the token (nothing posted), and the refresh failed for now.
    let mut d = refreshing(
        publishing(vec![x()]),
        Err(OAuthError::Transient {
            reason: "HTTP 503".into(),
        }),
    );
    let fake = Arc::new(FakePublisher::new(
        None,
        vec![Err(PublishError::Unauthorized {
            reason: "expired".into(),
        })],
    ));
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert!(matches!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    assert_eq!(fake.sent(), 1);
    // Pending, so the next attempt sends instead of looking for a send that never was.
    let r = result(&state, "twitter");
    assert_eq!(r.status, TargetStatus::Pending);
    assert_eq!(r.error.unwrap().code, "token_refresh");
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Publishing
    );
}

#[tokio::test]
async fn a_refused_token_whose_refresh_hits_a_store_failure_leaves_the_target_pending() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |p| Ok(vec![connection(1, p, true, 1)]),
        |id| sealed_for(id, "old", now() + chrono::Duration::hours(1)),
    );
    d.connections
        .expect_credentials()
        .returning(|_, _| Err(StoreError::Unavailable("connection reset".into())));
    let fake = Arc::new(FakePublisher::new(
        None,
        vec![Err(PublishError::Unauthorized {
            reason: "expired".into(),
        })],
    ));
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert!(matches!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    let r = result(&state, "twitter");
    assert_eq!(r.status, TargetStatus::Pending);
    assert_eq!(r.error.unwrap().code, "token_refresh");
}

#[tokio::test]
async fn a_resend_refused_for_its_token_is_never_settled_as_not_sent() {
    let window = Some(chrono::Duration::minutes(50));
    let expired = || {
        Err(PublishError::Unauthorized {
            reason: "expired".into(),
        })
    };
    let grant = || {
        Ok(multivio_domain::connection::TokenGrant {
            access_token: Secret::new("new"),
            refresh_token: None,
            expires_at: Some(now() + chrono::Duration::hours(2)),
        })
    };
    // Refreshed, then put off by the platform: still in flight, with the first send's time.
    let mut d = refreshing(sent_ten_minutes_ago(), grant());
    let fake = Arc::new(FakePublisher::new(
        window,
        vec![
            expired(),
            Err(PublishError::Transient {
                reason: "HTTP 503".into(),
            }),
        ],
    ));
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert!(matches!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    let r = result(&state, "twitter");
    assert_eq!(r.status, TargetStatus::Publishing);
    assert_eq!(
        r.last_attempt_at,
        Some(now() - chrono::Duration::minutes(10))
    );
    assert_eq!(fake.sent(), 2);
    // The refresh refused, or the new token refused too: a person checks (it may be out).
    let d = refreshing(
        sent_ten_minutes_ago(),
        Err(OAuthError::InvalidGrant {
            reason: "invalid_grant".into(),
        }),
    );
    let mut d = d.with_fake(FakePublisher::new(window, vec![expired()]));
    let fake = d.fake();
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
    let mut d = refreshing(sent_ten_minutes_ago(), grant());
    let fake = Arc::new(FakePublisher::new(window, vec![expired(), expired()]));
    d.serve(fake);
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
}

#[tokio::test]
async fn a_resend_deferred_past_the_platforms_memory_of_the_key_goes_to_review_at_once() {
    let window = Some(chrono::Duration::minutes(50));
    let deferred = |minutes: i64| {
        Err(PublishError::Deferred {
            until: now() + chrono::Duration::minutes(minutes),
            code: "daily_cap".into(),
            reason: "the day's posts are used".into(),
        })
    };
    // The key is remembered until 40 minutes from now (sent 10 minutes ago, kept 50).
    let (w, state) = Deps::new(sent_ten_minutes_ago())
        .publisher(window, deferred(30))
        .build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::RetryAt(now() + chrono::Duration::minutes(30))
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::Publishing);
    let (w, state) = Deps::new(sent_ten_minutes_ago())
        .publisher(window, deferred(45))
        .build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
}

#[tokio::test]
async fn a_worker_that_lost_its_job_sends_nothing_and_writes_nothing() {
    let d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![ok()]));
    // The step marking the send (which renews the lease) finds another worker holds the job.
    d.state.lock().unwrap().lease_lost = true;
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::LeaseLost);
    // The first step marks the send: it found the job taken, so the publisher never ran.
    assert_eq!(fake.calls.lock().unwrap().len(), 0);
    assert!(state.lock().unwrap().changes.is_empty());
    assert_eq!(result(&state, "twitter").status, TargetStatus::Pending);
}

/// A clock at `now()` plus the seconds in the returned cell.
fn shifting_clock() -> (Arc<dyn multivio_ports::system::Clock>, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let o = offset.clone();
    let mut c = multivio_ports::system::MockClock::new();
    c.expect_now()
        .returning(move || now() + chrono::Duration::seconds(o.load(Ordering::SeqCst)));
    (Arc::new(c), offset)
}

#[tokio::test]
async fn a_send_delayed_past_half_the_lease_is_marked_again_under_the_fencing_token() {
    let half = crate::worker::DEFAULT_LEASE.num_seconds() / 2;
    for taken in [false, true] {
        let mut d = Deps::new(scheduled(vec![x()]));
        let (clock, offset) = shifting_clock();
        d.clock = clock;
        let state = d.state.clone();
        // Work before the send outlasts half the lease — and meanwhile, in the second round,
        // the lease ran out and another worker claimed the job.
        let d = d.with_fake(FakePublisher::new(None, vec![ok()]).before_guard(move || {
            offset.store(half + 1, Ordering::SeqCst);
            state.lock().unwrap().lease_lost = taken;
        }));
        let fake = d.fake();
        let (w, state) = d.build();
        let report = w.process(&job(x(), 1)).await.unwrap();
        let st = state.lock().unwrap();
        if taken {
            assert_eq!(report, JobReport::LeaseLost);
            assert_eq!(fake.sent(), 0, "the guard withheld the send");
            // Only the first step's mark: the new owner treats the send as possibly made.
            assert_eq!(st.changes.len(), 1);
            assert_eq!(
                st.post.as_ref().unwrap().publish_results["twitter"].status,
                TargetStatus::Publishing
            );
        } else {
            assert_eq!(report, JobReport::Published);
            assert_eq!(fake.sent(), 1);
            // Start and mark, the mark made again (renewing the lease), the result.
            assert_eq!(st.changes.len(), 3);
            let renewed = st.changes[1].job.as_ref().unwrap().renew_until;
            let later = now() + chrono::Duration::seconds(half + 1) + crate::worker::DEFAULT_LEASE;
            assert_eq!(renewed, Some(later));
        }
    }
}

#[tokio::test]
async fn a_send_after_the_platforms_own_preparations_is_marked_by_the_guard() {
    // The publisher looks things up on the platform first, and that fails: nothing was sent,
    // and nothing says otherwise.
    let before_guard = PublishError::Transient {
        reason: "lookup timed out".into(),
    };
    let (w, state) = Deps::new(scheduled(vec![x()]))
        .with_fake(
            FakePublisher::new(None, vec![])
                .preparing()
                .failing_before_send(before_guard),
        )
        .build();
    let report = w.process(&job(x(), 1)).await.unwrap();
    assert!(matches!(report, JobReport::RetryAt(_)), "{report:?}");
    {
        let st = state.lock().unwrap();
        // Started (no mark), then the retry recorded: pending, never `publishing`.
        assert_eq!(st.changes.len(), 2);
        assert_eq!(
            updated(&st.changes[0]).publish_results["twitter"].status,
            TargetStatus::Pending
        );
        let r = &st.post.as_ref().unwrap().publish_results["twitter"];
        assert_eq!((r.status, r.attempts), (TargetStatus::Pending, 0));
    }

    // When it gets to its send, the guard marks it, as before any send.
    let (w, state) = Deps::new(scheduled(vec![x()]))
        .with_fake(FakePublisher::new(None, vec![ok()]).preparing())
        .build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    let st = state.lock().unwrap();
    assert_eq!(st.changes.len(), 3, "start, the guard's mark, the result");
    assert_eq!(
        updated(&st.changes[1]).publish_results["twitter"].status,
        TargetStatus::Publishing
    );
}

#[tokio::test]
async fn a_marked_send_goes_out_with_the_token_it_was_marked_with() {
    let mut d = Deps::new(scheduled(vec![x()]));
    let (clock, offset) = shifting_clock();
    d.clock = clock;
    d.connections.checkpoint();
    // Ten seconds beyond the refresh margin when the job starts: no refresh needed, so the
    // first step marks it.
    let expires = now() + chrono::Duration::minutes(5) + chrono::Duration::seconds(10);
    serve_accounts(
        &mut d.connections,
        |p| Ok(vec![connection(1, p, true, 1)]),
        move |id| sealed_for(id, "tok", expires),
    );
    // The step waits 20 s on a sibling's commit (well within half the lease), and meanwhile
    // the token crosses the refresh margin: nothing may come between the mark and the send
    // (no refresh lock is expected, no token call).
    d.state.lock().unwrap().concurrent = Some(Box::new(move |_: &mut Post| {
        offset.store(20, Ordering::SeqCst);
    }));
    let mut oauth = MockOAuthClient::new();
    oauth.expect_refresh().never();
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    let fake = Arc::new(
        FakePublisher::new(None, vec![ok()])
            .checking(|r| r.credentials.access_token.expose() == "tok"),
    );
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    assert_eq!(fake.sent(), 1);
    assert_eq!(
        state.lock().unwrap().changes.len(),
        2,
        "marked by the first step"
    );
}

#[test]
fn the_first_step_marks_only_a_send_that_follows_at_once() {
    let target = x();
    let plain = publishing(vec![target]);
    let mut p = plain.clone();
    assert_eq!(mark_plain_send(&mut p, &target, cid(1), now()), Some(now()));
    assert_eq!(
        p.publish_results["twitter"].status,
        TargetStatus::Publishing
    );
    // Already being sent (looked into first), settled, not yet publishing, or a part with
    // media (marked after its uploads): nothing marked, the post unchanged.
    let mut twice = p.clone();
    assert_eq!(mark_plain_send(&mut twice, &target, cid(1), now()), None);
    assert_eq!(twice, p);
    let mut settled = plain.clone();
    settled
        .record_outcome(
            "twitter",
            TargetOutcome::Published {
                platform_post_id: None,
                url: None,
            },
            now(),
        )
        .unwrap();
    let before = settled.clone();
    assert_eq!(mark_plain_send(&mut settled, &target, cid(1), now()), None);
    assert_eq!(settled, before);
    let mut draft = scheduled(vec![target]);
    let before = draft.clone();
    assert_eq!(mark_plain_send(&mut draft, &target, cid(1), now()), None);
    assert_eq!(draft, before);
    let content = PostContent::parse(PostInput {
        name: "Launch".into(),
        universal_content: Some("Hello".into()),
        media_files: vec![multivio_domain::MediaId(Uuid::from_u128(9))],
        platforms: vec![target],
        ..Default::default()
    })
    .unwrap();
    let mut with_media = Post::new_draft(PostId(Uuid::from_u128(1)), UserId(1), content, now());
    with_media.start_publishing(now()).unwrap();
    let before = with_media.clone();
    assert_eq!(
        mark_plain_send(&mut with_media, &target, cid(1), now()),
        None
    );
    assert_eq!(with_media, before);
}

#[tokio::test]
async fn the_account_is_read_once_with_the_posts_first_step() {
    let mut d = Deps::new(scheduled(vec![x()])).publisher(None, ok());
    d.connections.checkpoint();
    // One read of the account in all: the one the first step makes with the post.
    d.connections
        .expect_publishing_account()
        .times(1)
        .returning(|_, provider, _| {
            let c = connection(1, provider, true, 10);
            let sealed = sealed_for(c.id, "tok", now() + chrono::Duration::hours(1));
            Ok(Some((c, sealed)))
        });
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    let st = state.lock().unwrap();
    // That step started the post and marked the send (a write); the result was the other.
    assert_eq!(st.account_steps, vec![true]);
    assert_eq!(st.changes.len(), 2);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_send_repeated() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    one_refreshable_account(&mut d.connections, now() + chrono::Duration::hours(1));
    let mut oauth = MockOAuthClient::new();
    oauth.expect_refresh().times(1).returning(|_, _| {
        Ok(multivio_domain::connection::TokenGrant {
            access_token: Secret::new("new"),
            refresh_token: None,
            expires_at: Some(now() + chrono::Duration::hours(2)),
        })
    });
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    let fake = Arc::new(FakePublisher::new(
        None,
        vec![
            Err(PublishError::Unauthorized {
                reason: "expired".into(),
            }),
            ok(),
        ],
    ));
    d.serve(fake.clone());
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::Published);
    let calls = fake.calls.lock().unwrap();
    let tokens: Vec<&str> = calls
        .iter()
        .map(|(r, _)| r.credentials.access_token.expose())
        .collect();
    assert_eq!(tokens, ["old", "new"]);
    assert_eq!(result(&state, "twitter").attempts, 2);
}

#[tokio::test]
async fn jobs_of_deleted_cancelled_foreign_or_settled_posts_are_discarded() {
    let discarded = |reason: &'static str| move |_: &JobId, _: &FencingToken, o: &JobOutcome| matches!(o, JobOutcome::Discarded { reason: r } if r.as_str() == reason);
    // Deleted.
    let mut d = Deps::new(post(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.state.lock().unwrap().post = None;
    d.jobs
        .expect_complete()
        .withf(discarded("post not found"))
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert!(matches!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Discarded(_)
    ));
    // Cancelled back to draft.
    let mut d = Deps::new(post(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.jobs
        .expect_complete()
        .withf(discarded("post is draft"))
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert!(matches!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Discarded(_)
    ));
    // Another tenant's post.
    let mut foreign = publishing(vec![x()]);
    foreign.user_id = UserId(2);
    let mut d = Deps::new(foreign).with_fake(FakePublisher::new(None, vec![]));
    d.jobs
        .expect_complete()
        .withf(discarded("post not found"))
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert!(matches!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Discarded(_)
    ));
    // Target already published.
    let mut done = publishing(vec![x(), Target::primary(Provider::Bluesky)]);
    done.record_outcome(
        "twitter",
        TargetOutcome::Published {
            platform_post_id: None,
            url: None,
        },
        now(),
    )
    .unwrap();
    let mut d = Deps::new(done).with_fake(FakePublisher::new(None, vec![]));
    d.jobs
        .expect_complete()
        .withf(discarded("target already settled"))
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert!(matches!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Discarded(_)
    ));
}

#[tokio::test]
async fn no_usable_account_fails_the_target() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |_| Ok(vec![]),
        |id| sealed_for(id, "tok", now()),
    );
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("no_connection".into())
    );
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Failed
    );

    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |p| {
            let mut c = connection(1, p, true, 1);
            c.status = ConnectionStatus::NeedsReauth;
            Ok(vec![c])
        },
        |id| sealed_for(id, "tok", now()),
    );
    assert_eq!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("needs_reauth".into())
    );
}

#[tokio::test]
async fn a_target_that_may_be_out_is_reviewed_not_failed_when_its_account_cannot_send() {
    // An earlier send's outcome is open; the account has since needed a new sign-in, or gone.
    type Serve = fn(Provider) -> Result<Vec<Connection>, StoreError>;
    let accounts: [Serve; 2] = [
        |p| {
            let mut c = connection(1, p, true, 1);
            c.status = ConnectionStatus::NeedsReauth;
            Ok(vec![c])
        },
        |_| Ok(vec![]),
    ];
    for serve in accounts {
        let mut d = Deps::new(sent_ten_minutes_ago());
        d.connections.checkpoint();
        serve_accounts(&mut d.connections, serve, |id| sealed_for(id, "tok", now()));
        let (w, state) = d.build();
        assert_eq!(
            w.process(&job(x(), 2)).await.unwrap(),
            JobReport::NeedsReview
        );
        let r = result(&state, "twitter");
        assert_eq!(r.status, TargetStatus::NeedsReview);
        assert!(
            r.error
                .unwrap()
                .message
                .contains("earlier send may have posted"),
            "the reason says why"
        );
    }
    // A refresh before the send refused for good: the same.
    let mut d = expiring_deps(
        true,
        Err(OAuthError::InvalidGrant {
            reason: "invalid_grant".into(),
        }),
    );
    d.state.lock().unwrap().post = Some(sent_ten_minutes_ago());
    d.connections
        .expect_refresh_refused()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 2)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
}

#[tokio::test]
async fn a_lost_lease_writes_nothing() {
    let d = Deps::new(scheduled(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.state.lock().unwrap().lease_lost = true;
    let (w, state) = d.build();
    assert_eq!(w.process(&job(x(), 1)).await.unwrap(), JobReport::LeaseLost);
    assert!(state.lock().unwrap().changes.is_empty());
}

#[tokio::test]
async fn a_result_recorded_right_after_a_sibling_target_keeps_both() {
    let mastodon = Target::primary(Provider::Mastodon);
    let (w, state) = Deps::new(publishing(vec![x(), mastodon])).build();
    // The Mastodon job's result lands between this job's read and its write.
    state.lock().unwrap().concurrent = Some(Box::new(|p: &mut Post| {
        let outcome = TargetOutcome::Published {
            platform_post_id: Some("m1".into()),
            url: None,
        };
        p.record_outcome("mastodon", outcome, now()).unwrap();
    }));
    let outcome = TargetOutcome::Published {
        platform_post_id: Some("9".into()),
        url: None,
    };
    let stored = w
        .record_result(&job(x(), 1), outcome, JobOutcome::Completed)
        .await
        .unwrap();
    assert_eq!(stored.status, PostStatus::Published, "both targets count");
    assert_eq!(
        result(&state, "mastodon").platform_post_id.as_deref(),
        Some("m1")
    );
    assert_eq!(
        result(&state, "twitter").platform_post_id.as_deref(),
        Some("9")
    );
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_before_publishing() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    one_refreshable_account(&mut d.connections, now() + chrono::Duration::minutes(2));
    let mut oauth = MockOAuthClient::new();
    oauth
        .expect_refresh()
        .withf(|_, rt| rt.expose() == "r-old")
        .times(1)
        .returning(|_, _| {
            Ok(multivio_domain::connection::TokenGrant {
                access_token: Secret::new("tok"),
                refresh_token: None,
                expires_at: Some(now() + chrono::Duration::hours(2)),
            })
        });
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    let fake = Arc::new(FakePublisher::new(None, vec![ok()]).checking(|r| {
        r.credentials.access_token.expose() == "tok"
            && r.credentials.refresh_token.as_ref().map(Secret::expose) == Some("r-old")
    }));
    d.serve(fake.clone());
    assert_eq!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::Published
    );
    assert_eq!(fake.sent(), 1);
}

fn expiring_deps(
    lock: bool,
    refresh: Result<multivio_domain::connection::TokenGrant, OAuthError>,
) -> Deps {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |p| Ok(vec![connection(1, p, true, 1)]),
        |id| sealed_for(id, "old", now()),
    );
    d.connections
        .expect_credentials()
        .returning(|_, id| Ok(sealed_for(id, "old", now())));
    d.connections
        .expect_try_lock_refresh()
        .returning(move |_, _, _, _| Ok(lock));
    d.connections
        .expect_unlock_refresh()
        .returning(|_, _, _| Ok(()));
    let mut oauth = MockOAuthClient::new();
    oauth
        .expect_refresh()
        .returning(move |_, _| refresh.clone());
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    // Never asked to send.
    d.serve(Arc::new(FakePublisher::new(None, vec![])));
    d
}

#[tokio::test]
async fn a_refused_refresh_token_needs_reauth() {
    let mut d = expiring_deps(
        true,
        Err(OAuthError::InvalidGrant {
            reason: "invalid_grant".into(),
        }),
    );
    d.connections
        .expect_refresh_refused()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("needs_reauth".into())
    );
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Failed
    );
}

#[tokio::test]
async fn a_refused_refresh_token_no_longer_the_connections_fails_nothing() {
    // Signed in again while the refresh was at the platform: the lock is gone with the token.
    let mut d = expiring_deps(
        true,
        Err(OAuthError::InvalidGrant {
            reason: "invalid_grant".into(),
        }),
    );
    d.connections
        .expect_refresh_refused()
        .times(1)
        .returning(|_, _, _| Ok(false));
    d.connections.expect_set_status().never();
    d.jobs
        .expect_complete()
        .withf(|_, _, o| matches!(o, JobOutcome::RetryAt { .. }))
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (w, state) = d.build();
    assert!(matches!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(_)
    ));
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Publishing
    );
}

#[tokio::test]
async fn a_refresh_in_progress_elsewhere_postpones_the_job() {
    let grant = multivio_domain::connection::TokenGrant {
        access_token: Secret::new("x"),
        refresh_token: None,
        expires_at: None,
    };
    let mut d = expiring_deps(false, Ok(grant));
    let at = now() + chrono::Duration::seconds(10);
    d.jobs
        .expect_complete()
        .withf(move |_, t, o| {
            *t == FencingToken(7)
                && matches!(o, JobOutcome::RetryAt { run_at, .. } if *run_at == at)
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert_eq!(
        d.build().0.process(&job(x(), 1)).await.unwrap(),
        JobReport::RetryAt(at)
    );
}

#[tokio::test]
async fn run_once_processes_what_it_claims() {
    let mut d = Deps::new(publishing(vec![x()])).publisher(None, ok());
    d.jobs
        .expect_claim_due()
        .withf(|w, at, limit, lease| {
            w == "w1" && *at == now() && *limit == 10 && *lease == chrono::Duration::minutes(5)
        })
        .returning(|_, _, _, _| Ok(vec![job(Target::primary(Provider::X), 1)]));
    let reports = d
        .build()
        .0
        .with_lease(chrono::Duration::minutes(5))
        .run_once("w1", 10)
        .await
        .unwrap();
    assert_eq!(
        reports,
        vec![(JobId(Uuid::from_u128(50)), Ok(JobReport::Published))]
    );
}

#[tokio::test]
async fn a_job_past_its_claim_cap_gives_its_target_up_and_the_post_settles() {
    let cap = RetryPolicy::default().max_claims;
    let d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), cap + 1)).await.unwrap(),
        JobReport::Failed("gave_up".into())
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 0);
    {
        let st = state.lock().unwrap();
        let post = st.post.as_ref().unwrap();
        assert_eq!(post.status, PostStatus::Failed);
        let error = post.publish_results["twitter"].error.clone().unwrap();
        assert!(
            error.message.contains(&format!("after {cap} attempts")),
            "{}",
            error.message
        );
        assert_eq!(st.changes.last().unwrap().quota, QuotaEffect::Refund);
    }

    // A send that may have gone out is left for review instead.
    let (w, state) = Deps::new(interrupted())
        .with_fake(FakePublisher::new(None, vec![]))
        .build();
    assert_eq!(
        w.process(&job(x(), cap + 1)).await.unwrap(),
        JobReport::NeedsReview
    );
    assert_eq!(result(&state, "twitter").status, TargetStatus::NeedsReview);
}

#[tokio::test]
async fn a_job_giving_up_while_its_post_does_not_read_gives_up_on_a_later_run() {
    // Past its cap, the post unreadable for a moment: not discarded (the post would stay
    // publishing with no job), but run again, and settled then.
    let cap = RetryPolicy::default().max_claims;
    let mut d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.state.lock().unwrap().read_failures_left = 1;
    let expected =
        now() + RetryPolicy::default().jittered_delay(cap + 1, jitter(&job(x(), cap + 1)));
    d.jobs
        .expect_complete()
        .withf(move |_, t, o| {
            *t == FencingToken(7)
                && matches!(o, JobOutcome::RetryAt { run_at, reason } if *run_at == expected && reason.contains("giving up") && reason.contains("connection reset"))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), cap + 1)).await.unwrap(),
        JobReport::RetryAt(expected)
    );
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Publishing
    );
    assert_eq!(
        w.process(&job(x(), cap + 2)).await.unwrap(),
        JobReport::Failed("gave_up".into())
    );
    assert_eq!(
        state.lock().unwrap().post.as_ref().unwrap().status,
        PostStatus::Failed
    );
}

#[tokio::test]
async fn a_job_whose_post_never_reads_is_discarded_after_twice_its_cap() {
    let cap = RetryPolicy::default().max_claims;
    let mut d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.state.lock().unwrap().read_failures_left = 1;
    d.jobs
        .expect_complete()
        .withf(|_, t, o| {
            *t == FencingToken(7)
                && matches!(o, JobOutcome::Discarded { reason } if reason.contains("post unreadable"))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (w, _) = d.build();
    assert!(matches!(
        w.process(&job(x(), 2 * cap + 1)).await.unwrap(),
        JobReport::Discarded(_)
    ));
}

#[tokio::test]
async fn an_error_reschedules_the_job_instead_of_leaving_it_running() {
    let mut d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |_| Err(StoreError::Unavailable("connection reset".into())),
        |id| sealed_for(id, "tok", now()),
    );
    let expected = now() + RetryPolicy::default().jittered_delay(3, jitter(&job(x(), 3)));
    d.jobs
        .expect_complete()
        .withf(move |_, t, o| {
            *t == FencingToken(7)
                && matches!(o, JobOutcome::RetryAt { run_at, reason } if *run_at == expected && reason.contains("connection reset"))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert_eq!(
        d.build().0.process(&job(x(), 3)).await.unwrap(),
        JobReport::RetryAt(expected)
    );
}

#[tokio::test]
async fn a_scheduled_post_whose_job_gives_up_before_it_started_settles_failed() {
    // The account never reads, attempt after attempt: at the last one the post — still
    // scheduled, never started — settles failed with its unit refunded, not left scheduled in
    // the past with no job.
    let cap = RetryPolicy::default().max_claims;
    let mut d = Deps::new(scheduled(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.connections.checkpoint();
    serve_accounts(
        &mut d.connections,
        |_| Err(StoreError::Unavailable("connection reset".into())),
        |id| sealed_for(id, "tok", now()),
    );
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), cap)).await.unwrap(),
        JobReport::Failed("gave_up".into())
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 0);
    let st = state.lock().unwrap();
    let post = st.post.as_ref().unwrap();
    assert_eq!(post.status, PostStatus::Failed);
    let error = post.publish_results["twitter"].error.clone().unwrap();
    assert!(
        error.message.contains("connection reset"),
        "{}",
        error.message
    );
    assert_eq!(st.changes.last().unwrap().quota, QuotaEffect::Refund);
}

#[tokio::test]
async fn credentials_that_no_longer_open_need_reauth_and_fail_the_target() {
    let mut d = Deps::new(publishing(vec![x()])).with_fake(FakePublisher::new(None, vec![]));
    d.connections.checkpoint();
    // Sealed under a key this vault no longer has.
    serve_accounts(
        &mut d.connections,
        |p| Ok(vec![connection(1, p, true, 1)]),
        |_| SealedCredentials {
            access_token: SealedToken("sealed(a retired key)|tok".into()),
            refresh_token: None,
            expires_at: None,
            oauth1: None,
        },
    );
    // Marked once the step is over: nothing is written while the post is held.
    let held = d.state.clone();
    d.connections
        .expect_set_status()
        .withf(move |_, id, s| {
            *id == cid(1) && *s == ConnectionStatus::NeedsReauth && !held.lock().unwrap().in_step
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let fake = d.fake();
    let (w, state) = d.build();
    assert_eq!(
        w.process(&job(x(), 1)).await.unwrap(),
        JobReport::Failed("needs_reauth".into())
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 0);
    let st = state.lock().unwrap();
    let post = st.post.as_ref().unwrap();
    assert_eq!(post.status, PostStatus::Failed);
    assert!(
        post.publish_results["twitter"]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("can no longer be read")
    );
}

#[tokio::test]
async fn tokens_about_to_expire_are_refreshed_ahead_of_any_post() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    d.connections
        .expect_expiring()
        .withf(|before, limit| *before == now() + chrono::Duration::minutes(5) && *limit == 50)
        .times(1)
        .returning(|_, _| {
            Ok(vec![
                (tenant(), connection(1, Provider::X, true, 1)),
                (tenant(), connection(2, Provider::X, false, 1)),
            ])
        });
    d.connections
        .expect_credentials()
        .returning(|_, id| Ok(sealed_for(id, "old", now() + chrono::Duration::minutes(2))));
    // The second connection is being refreshed by another worker: skipped.
    d.connections
        .expect_try_lock_refresh()
        .times(2)
        .returning(|_, id, _, _| Ok(id == cid(1)));
    d.connections
        .expect_store_refreshed()
        .withf(|_, id, _, _| *id == cid(1))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let mut oauth = MockOAuthClient::new();
    oauth.expect_refresh().times(1).returning(|_, _| {
        Ok(multivio_domain::connection::TokenGrant {
            access_token: Secret::new("new"),
            refresh_token: None,
            expires_at: Some(now() + chrono::Duration::hours(2)),
        })
    });
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    let (w, _) = d.build();
    assert_eq!(w.refresh_expiring(50, || false).await.unwrap(), 1);
}

#[tokio::test]
async fn a_sweep_told_to_stop_finishes_the_refresh_in_hand_and_starts_no_other() {
    let mut d = Deps::new(publishing(vec![x()]));
    d.connections.checkpoint();
    d.connections.expect_expiring().times(1).returning(|_, _| {
        Ok(vec![
            (tenant(), connection(1, Provider::X, true, 1)),
            (tenant(), connection(2, Provider::X, false, 1)),
        ])
    });
    d.connections
        .expect_credentials()
        .returning(|_, id| Ok(sealed_for(id, "old", now() + chrono::Duration::minutes(2))));
    d.connections
        .expect_try_lock_refresh()
        .times(1)
        .returning(|_, id, _, _| Ok(id == cid(1)));
    d.connections
        .expect_store_refreshed()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut oauth = MockOAuthClient::new();
    {
        // The stop comes while the first refresh is at the platform.
        let stop = stop.clone();
        oauth.expect_refresh().times(1).returning(move |_, _| {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(multivio_domain::connection::TokenGrant {
                access_token: Secret::new("new"),
                refresh_token: Some(Secret::new("next")),
                expires_at: Some(now() + chrono::Duration::hours(2)),
            })
        });
    }
    let oauth: Arc<dyn OAuthClient> = Arc::new(oauth);
    d.platforms
        .expect_oauth()
        .returning(move |_| Some(oauth.clone()));
    let (w, _) = d.build();
    let stopping = || stop.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(w.refresh_expiring(50, stopping).await.unwrap(), 1);
}

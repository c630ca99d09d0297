//! File transfers in progress, counted per owner: each account may stream a few uploads at
//! once and each client address a few downloads, with no pool one owner can take from the
//! others (downloads also have a process-wide ceiling, as each holds a socket and a file).
//! And who a download's client is: its address, or behind a trusted proxy the address the
//! proxy names.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use multivio_domain::UserId;
use tokio::time::Instant;

/// Uploads each user may have in progress at once, by default.
pub const DEFAULT_UPLOADS_PER_USER: usize = 2;
/// How long an upload may wait for its next bytes, by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Downloads one client address may have in progress at once.
pub const DOWNLOADS_PER_CLIENT: usize = 16;
/// Downloads the process serves at once, all clients together.
pub const DOWNLOADS_IN_TOTAL: usize = 512;
/// How long a download's client may take no bytes before the download is broken off.
pub const DOWNLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Upload settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSettings {
    /// Uploads one user may have in progress at once (at least 1), per API process.
    pub per_user: usize,
    /// An upload whose next bytes take longer than this is broken off (408).
    pub read_timeout: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            per_user: DEFAULT_UPLOADS_PER_USER,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The owner has all of its own.
    Owner,
    /// The process has all it serves at once.
    Total,
}

#[derive(Debug, Default)]
struct Held<K> {
    per_key: HashMap<K, usize>,
    total: usize,
}

/// Transfers in progress, per owner `K`. Cloning is cheap and clones share the counts.
#[derive(Debug)]
pub struct Slots<K> {
    per_key: usize,
    total: usize,
    held: Arc<Mutex<Held<K>>>,
}

impl<K> Clone for Slots<K> {
    fn clone(&self) -> Self {
        Self {
            per_key: self.per_key,
            total: self.total,
            held: self.held.clone(),
        }
    }
}

/// Uploads in progress, per user.
pub type UploadSlots = Slots<UserId>;
/// Downloads in progress, per client (see [`client_key`]).
pub type DownloadSlots = Slots<IpAddr>;

impl<K: Hash + Eq + Copy> Slots<K> {
    /// Slots for `per_key` transfers per owner at once (at least 1), and `total` for all
    /// owners together (at least `per_key`).
    pub fn new(per_key: usize, total: usize) -> Self {
        let per_key = per_key.max(1);
        Self {
            per_key,
            total: total.max(per_key),
            held: Arc::new(Mutex::new(Held {
                per_key: HashMap::new(),
                total: 0,
            })),
        }
    }

    /// Transfers one owner may have in progress at once.
    pub fn per_owner(&self) -> usize {
        self.per_key
    }

    /// A slot for one transfer of `owner`, held until the returned guard is dropped.
    pub fn try_acquire(&self, owner: K) -> Result<Slot<K>, Full> {
        // The counts are only ever moved up and down under the lock; a panic elsewhere while
        // it was held leaves them consistent, so a poisoned lock is used as is.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.total >= self.total {
            return Err(Full::Total);
        }
        let count = held.per_key.entry(owner).or_insert(0);
        if *count >= self.per_key {
            return Err(Full::Owner);
        }
        *count += 1;
        held.total += 1;
        Ok(Slot {
            held: self.held.clone(),
            owner,
        })
    }

    /// Transfers `owner` has in progress.
    pub fn in_progress(&self, owner: K) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.per_key.get(&owner).copied().unwrap_or(0)
    }
}

/// One transfer's place; dropping it frees the place (owners with none are forgotten).
#[derive(Debug)]
pub struct Slot<K: Hash + Eq> {
    held: Arc<Mutex<Held<K>>>,
    owner: K,
}

impl<K: Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.per_key.get_mut(&self.owner) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.per_key.remove(&self.owner);
            }
        }
    }
}

/// A transfer's bytes holding its [`Slot`] while the client keeps taking them.
///
/// actix-web has no write timeout: once a client stops reading, the server stops asking the
/// body for bytes and would hold the slot — and the body: its storage stream, a file or a
/// bucket's connection, and the chunks read ahead — for as long as the client keeps the
/// connection open, so that sixteen stalled downloads would lock an address out and 512 the
/// whole process. A watchdog task drops the body and frees the slot when the body has not been
/// asked for bytes for `idle`; the next time it is asked, it ends with an error and the
/// connection is closed. (The connection itself stays open until then or until the client
/// goes: a proxy in front bounds those.)
pub struct Watched<S, K: Hash + Eq> {
    watch: Arc<Watch<S, K>>,
    watchdog: tokio::task::JoinHandle<()>,
}

struct Watch<S, K: Hash + Eq> {
    /// The body and the slot, until the watchdog takes both.
    held: Mutex<Option<(S, Slot<K>)>>,
    start: Instant,
    /// Milliseconds from `start` to the last time the body was asked for bytes.
    last_read: AtomicU64,
    /// Who asked last: woken once the body is dropped, so that a body that was waiting on
    /// storage (which held the only other waker) ends instead of hanging.
    waker: Mutex<Option<std::task::Waker>>,
}

impl<S, K: Hash + Eq> std::fmt::Debug for Watched<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let revoked = self
            .watch
            .held
            .lock()
            .map(|held| held.is_none())
            .unwrap_or(true);
        f.debug_struct("Watched")
            .field("revoked", &revoked)
            .finish_non_exhaustive()
    }
}

impl<S, K> Watched<S, K>
where
    S: Send + 'static,
    K: Hash + Eq + Send + 'static,
{
    /// Watches `body`, dropping it and freeing `slot` once it has not been read for `idle`.
    /// Must be called within a Tokio runtime (the watchdog is a task).
    pub fn new(body: S, slot: Slot<K>, idle: Duration) -> Self {
        let watch = Arc::new(Watch {
            held: Mutex::new(Some((body, slot))),
            start: Instant::now(),
            last_read: AtomicU64::new(0),
            waker: Mutex::new(None),
        });
        let watched = Arc::downgrade(&watch);
        let watchdog = tokio::spawn(async move {
            let mut deadline = Instant::now() + idle;
            loop {
                tokio::time::sleep_until(deadline).await;
                let Some(watch) = watched.upgrade() else {
                    return;
                };
                let last =
                    watch.start + Duration::from_millis(watch.last_read.load(Ordering::Acquire));
                if Instant::now() >= last + idle {
                    // Taken out under the lock, dropped after it.
                    let taken = watch
                        .held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    drop(taken);
                    let asked = watch
                        .waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some(waker) = asked {
                        waker.wake();
                    }
                    return;
                }
                deadline = last + idle;
            }
        });
        Self { watch, watchdog }
    }
}

impl<S, K: Hash + Eq> Drop for Watched<S, K> {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}

impl<S, T, K> Stream for Watched<S, K>
where
    S: Stream<Item = Result<T, std::io::Error>> + Unpin,
    K: Hash + Eq,
{
    type Item = Result<T, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let watch = &self.watch;
        let now = u64::try_from(watch.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        watch.last_read.store(now, Ordering::Release);
        {
            let mut asked = watch.waker.lock().unwrap_or_else(PoisonError::into_inner);
            if !asked.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *asked = Some(cx.waker().clone());
            }
        }
        // The lock is the body's own: the watchdog takes it only to drop the body.
        let mut held = watch.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some((body, _)) => Pin::new(body).poll_next(cx),
            None => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took no bytes for too long",
            )))),
        }
    }
}

/// Who a download is counted against: the peer's address, or — when the peer is one of the
/// `trusted` proxies (`MULTIVIO_TRUSTED_PROXIES`) — the nearest address before it in
/// `X-Forwarded-For` that is not itself a trusted proxy (addresses further left are the
/// client's to make up). IPv6 addresses count by their /64, which one host can spread over.
pub fn client_key(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    let unspecified = IpAddr::from(Ipv6Addr::UNSPECIFIED);
    let mut client = peer.unwrap_or(unspecified);
    if trusted.contains(&client)
        && let Some(chain) = forwarded_for
    {
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => client = ip,
                Ok(ip) => {
                    client = ip;
                    break;
                }
                // A hop that is not an address (a proxy's own name): stop at the last known.
                Err(_) => break,
            }
        }
    }
    bucket(client)
}

fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests;

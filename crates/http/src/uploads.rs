//! Uploads in progress, counted per user: each account may stream a few files at once, and no
//! pool is shared between accounts, so one tenant's slow uploads never hold up another's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use multivio_domain::UserId;

/// Uploads each user may have in progress at once, by default.
pub const DEFAULT_PER_USER: usize = 2;
/// How long an upload may wait for its next bytes, by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Upload settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSettings {
    /// Uploads one user may have in progress at once (at least 1).
    pub per_user: usize,
    /// An upload whose next bytes take longer than this is broken off (408).
    pub read_timeout: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            per_user: DEFAULT_PER_USER,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// The uploads in progress, per user. Cloning is cheap and clones share the counts.
#[derive(Debug, Clone)]
pub struct UploadSlots {
    per_user: usize,
    held: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl UploadSlots {
    /// Slots for `per_user` uploads per user at once (at least 1).
    pub fn new(per_user: usize) -> Self {
        Self {
            per_user: per_user.max(1),
            held: Arc::default(),
        }
    }

    /// Uploads one user may have in progress at once.
    pub fn per_user(&self) -> usize {
        self.per_user
    }

    /// A slot for one upload of `user`, held until the returned guard is dropped; `None` when
    /// the user already has [`per_user`](Self::per_user) uploads in progress.
    pub fn try_acquire(&self, user: UserId) -> Option<UploadSlot> {
        // The map is only ever counted up and down under the lock; a panic elsewhere while it
        // was held leaves consistent counts, so a poisoned lock is used as is.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(user).or_insert(0);
        if *count >= self.per_user {
            return None;
        }
        *count += 1;
        Some(UploadSlot {
            slots: self.held.clone(),
            user,
        })
    }

    /// Uploads `user` has in progress.
    pub fn in_progress(&self, user: UserId) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&user).copied().unwrap_or(0)
    }
}

impl Default for UploadSlots {
    fn default() -> Self {
        Self::new(DEFAULT_PER_USER)
    }
}

/// One upload's place; dropping it frees the place (the map forgets users with none).
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut held = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_their_own_slots_and_dropping_frees_them() {
        let slots = UploadSlots::new(2);
        let (alice, bob) = (UserId(1), UserId(2));
        let first = slots.try_acquire(alice).expect("first slot");
        let second = slots.try_acquire(alice).expect("second slot");
        assert!(slots.try_acquire(alice).is_none(), "a third is refused");
        // Another account is not held up by alice's uploads.
        let bobs = slots.try_acquire(bob).expect("bob's slot");
        assert_eq!(slots.in_progress(alice), 2);
        drop(first);
        assert_eq!(slots.in_progress(alice), 1);
        let third = slots.try_acquire(alice).expect("a slot freed by the first");
        drop((second, third, bobs));
        assert_eq!((slots.in_progress(alice), slots.in_progress(bob)), (0, 0));
        assert!(
            slots.held.lock().unwrap().is_empty(),
            "nobody is remembered"
        );
    }

    #[test]
    fn at_least_one_slot() {
        let slots = UploadSlots::new(0);
        assert_eq!(slots.per_user(), 1);
        assert!(slots.try_acquire(UserId(1)).is_some());
    }
}

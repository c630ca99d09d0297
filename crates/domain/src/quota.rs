//! Plans, the monthly post quota and the media storage quota.
//!
//! Storage: each plan allows its media files a number of bytes ([`Plan::storage_bytes`];
//! the free plan 1 GiB, [`PlanCatalog::FREE_STORAGE_BYTES`]). An upload is checked against it
//! before it starts and while it streams, and its row is written only if the files, the new one
//! included, still fit ([`StorageQuota::check`]).
//!
//! A post consumes one unit when it is scheduled or published now — once, however many platforms
//! it targets — and gets it back when it is cancelled before anything went out or when every
//! target failed (see [`crate::post::Post`], which records whether it holds a unit). Periods
//! start on the monthly anniversaries of the quota's anchor ([`Quota::anchor`]: the billing
//! cycle's, or the first period's start), a day a month lacks clamped to its last day as Stripe
//! bills (Jan 31, Feb 28, Mar 31), or when a paid invoice starts a new one.
//!
//! Plan changes ([`QuotaState::change_plan_quota`]): an upgrade takes effect at once, keeping the
//! posts already used; a downgrade keeps what the period was paid for as it began until the
//! period's end, no more (an upgrade made during the period is taken back at once); a plan
//! that ended unpaid goes down at once ([`QuotaState::change_plan_now`]).
//!
//! Leaving does not reset the quota ([`carryover_keys`], [`Quota::continuing`]): a deleted
//! account's period is kept, under hashes of who it was, until that period ends, and an account
//! created again by the same person continues it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::Email;
use crate::error::FieldError;
use crate::ids::FirebaseUid;

/// A plan's name (`users.plan_name`, `user_info.plan_type`): 1–50 characters of `a-z`, `0-9`,
/// `_`, `-`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanName(String);

impl PlanName {
    /// Validates a plan name.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        let value = value.as_ref().trim().to_ascii_lowercase();
        if value.is_empty() || value.len() > 50 {
            return Err(FieldError::new("plan", "must be 1 to 50 characters"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(FieldError::new(
                "plan",
                "may contain only a-z, 0-9, '_' and '-'",
            ));
        }
        Ok(Self(value))
    }

    /// The free plan's name, `free`.
    pub fn free() -> Self {
        Self("free".to_owned())
    }

    /// Whether this is the free plan.
    pub fn is_free(&self) -> bool {
        self.0 == "free"
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlanName {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<PlanName> for String {
    fn from(value: PlanName) -> Self {
        value.0
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plan: the posts it allows per month and the bytes its media files may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Name.
    pub name: PlanName,
    /// Posts allowed per monthly period.
    pub monthly_post_quota: u32,
    /// Bytes the account's media files may take together (their `file_size`, thumbnails not
    /// counted).
    pub storage_bytes: u64,
}

impl Plan {
    /// A plan with the free plan's storage ([`PlanCatalog::FREE_STORAGE_BYTES`]).
    pub fn new(name: PlanName, monthly_post_quota: u32) -> Self {
        Self {
            name,
            monthly_post_quota,
            storage_bytes: PlanCatalog::FREE_STORAGE_BYTES,
        }
    }

    /// The plan's storage quota.
    pub fn storage(&self) -> StorageQuota {
        StorageQuota {
            allowed_bytes: self.storage_bytes,
        }
    }
}

/// The plans on offer. `free` (10 posts a month, the seed's default, and 1 GiB of media) is
/// always present; other plans come from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanCatalog {
    plans: BTreeMap<PlanName, Plan>,
}

impl PlanCatalog {
    /// The free plan's monthly quota (the seed's `DEFAULT 10`).
    pub const FREE_MONTHLY_POSTS: u32 = 10;
    /// The free plan's media storage, 1 GiB; also what a configured plan without a storage
    /// part gets.
    pub const FREE_STORAGE_BYTES: u64 = 1 << 30;

    /// A catalog with only the free plan.
    pub fn new() -> Self {
        let free = Plan::new(PlanName::free(), Self::FREE_MONTHLY_POSTS);
        Self {
            plans: BTreeMap::from([(free.name.clone(), free)]),
        }
    }

    /// Adds or replaces a plan (including `free`, to change its quota).
    pub fn with_plan(mut self, plan: Plan) -> Self {
        self.plans.insert(plan.name.clone(), plan);
        self
    }

    /// Parses a configuration string on top of the free plan: comma-separated
    /// `name=posts[:storage]`, e.g. `pro=100:10GiB,business=1000:100GiB`. The storage is a
    /// whole number of bytes with an optional unit (`B`, `KB`/`MB`/`GB`/`TB` in powers of
    /// 1000, `KiB`/`MiB`/`GiB`/`TiB` in powers of 1024); without it a plan gets
    /// [`Self::FREE_STORAGE_BYTES`] (so `pro=100` still reads as before).
    pub fn parse(config: &str) -> Result<Self, FieldError> {
        let mut catalog = Self::new();
        for item in config.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, quotas) = item
                .split_once('=')
                .ok_or_else(|| FieldError::new("plans", format!("`{item}` is not name=quota")))?;
            let name = PlanName::new(name)?;
            let (posts, storage) = match quotas.split_once(':') {
                Some((posts, storage)) => (posts, Some(storage)),
                None => (quotas, None),
            };
            let monthly_post_quota = posts.trim().parse::<u32>().map_err(|_| {
                FieldError::new("plans", format!("quota of `{name}` is not a whole number"))
            })?;
            let storage_bytes = match storage {
                Some(s) => parse_bytes(s).ok_or_else(|| {
                    FieldError::new(
                        "plans",
                        format!(
                            "storage of `{name}` is not a size such as 500MB or 10GiB: `{}`",
                            s.trim()
                        ),
                    )
                })?,
                None => Self::FREE_STORAGE_BYTES,
            };
            catalog = catalog.with_plan(Plan {
                name,
                monthly_post_quota,
                storage_bytes,
            });
        }
        Ok(catalog)
    }

    /// The plan of that name.
    pub fn get(&self, name: &PlanName) -> Option<&Plan> {
        self.plans.get(name)
    }

    /// The plan of that name, or the free plan when there is none of that name.
    pub fn get_or_free(&self, name: &PlanName) -> Plan {
        self.get(name).cloned().unwrap_or_else(|| self.free())
    }

    /// The free plan (the fallback when a subscription ends, or starts at a price or plan this
    /// server does not know).
    pub fn free(&self) -> Plan {
        self.plans
            .get(&PlanName::free())
            .cloned()
            .unwrap_or_else(|| Plan::new(PlanName::free(), Self::FREE_MONTHLY_POSTS))
    }

    /// Every plan, by name.
    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.plans.values()
    }
}

impl Default for PlanCatalog {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a size: a whole number with an optional unit (`B`, `KB`, `MB`, `GB`, `TB`, `KiB`,
/// `MiB`, `GiB`, `TiB`; case ignored). `None` for anything else, or a size past `u64`.
pub fn parse_bytes(value: &str) -> Option<u64> {
    let value = value.trim();
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// A size for people: bytes in the largest binary unit that keeps it at least 1, with at most
/// one decimal (`512 B`, `1.5 KiB`, `10 GiB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut scaled = bytes as f64;
    while scaled >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        let text = format!("{scaled:.1}");
        let text = text.strip_suffix(".0").unwrap_or(&text);
        format!("{text} {}", UNITS[unit])
    }
}

/// How many bytes an account's media files may take together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageQuota {
    /// The allowance.
    pub allowed_bytes: u64,
}

impl StorageQuota {
    /// Whether `incoming` more bytes fit beside the `used` ones (`used + incoming ≤ allowed`).
    pub fn check(&self, used: u64, incoming: u64) -> Result<(), StorageQuotaExceeded> {
        if used.saturating_add(incoming) <= self.allowed_bytes {
            Ok(())
        } else {
            Err(StorageQuotaExceeded {
                used_bytes: used,
                allowed_bytes: self.allowed_bytes,
            })
        }
    }

    /// Bytes still free beside the `used` ones.
    pub fn remaining(&self, used: u64) -> u64 {
        self.allowed_bytes.saturating_sub(used)
    }
}

/// A file would take an account's media past its plan's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "media storage quota exceeded: {} of {} used",
    format_bytes(*used_bytes),
    format_bytes(*allowed_bytes)
)]
pub struct StorageQuotaExceeded {
    /// Bytes the account's files take now.
    pub used_bytes: u64,
    /// Bytes the plan allows.
    pub allowed_bytes: u64,
}

/// No post unit is left in the current period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("monthly post quota of {monthly_post_quota} reached")]
pub struct QuotaExceeded {
    /// The plan's quota.
    pub monthly_post_quota: u32,
    /// When the period resets.
    pub resets_at: Option<DateTime<Utc>>,
}

/// A user's quota for the current period (`user_info.monthly_post_quota`, `remaining_posts`,
/// `last_quota_reset`, `quota_anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Posts allowed per period.
    pub monthly_post_quota: u32,
    /// Posts left in this period (never negative, never above the monthly quota after a refund).
    pub remaining_posts: u32,
    /// Start of the current period.
    pub last_quota_reset: DateTime<Utc>,
    /// The instant whose monthly anniversaries start the periods: the billing cycle's (a paid
    /// invoice's period start that is not an anniversary of the anchor before it), else the
    /// first period's start. A day a month lacks starts that month's period on its last day,
    /// and the next period goes back to the anchor's day — Jan 31, Feb 28, Mar 31 — as Stripe
    /// keeps a billing day. One of which `last_quota_reset` is not an anniversary (written by
    /// hand, or left by an older build that moved the start alone) counts as
    /// `last_quota_reset`.
    pub anchor: DateTime<Utc>,
}

/// Whole calendar months from `from`'s month to `to`'s (negative when `to`'s is earlier).
fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (i64::from(to.year()) - i64::from(from.year())) * 12 + i64::from(to.month0())
        - i64::from(from.month0())
}

/// `anchor` plus `months` calendar months, a day the month lacks clamped to its last day.
fn plus_months(anchor: DateTime<Utc>, months: i64) -> Option<DateTime<Utc>> {
    anchor.checked_add_months(Months::new(u32::try_from(months).ok()?))
}

/// The latest monthly anniversary of `anchor` (itself included) not after `t`; `None` when
/// `t` is before `anchor`.
fn anniversary_at_or_before(anchor: DateTime<Utc>, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if t < anchor {
        return None;
    }
    // The anniversary in `t`'s month, or, when that falls after `t`, the month before's.
    let months = months_between(anchor, t);
    plus_months(anchor, months)
        .filter(|at| *at <= t)
        .or_else(|| plus_months(anchor, months - 1))
}

/// The earliest monthly anniversary of `anchor` after `t`.
fn anniversary_after(anchor: DateTime<Utc>, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let months = months_between(anchor, t).max(0);
    plus_months(anchor, months)
        .filter(|at| *at > t)
        .or_else(|| plus_months(anchor, months + 1))
}

impl Quota {
    /// A full quota whose period starts at `now`, anchored there.
    pub fn full(monthly_post_quota: u32, now: DateTime<Utc>) -> Self {
        Self {
            monthly_post_quota,
            remaining_posts: monthly_post_quota,
            last_quota_reset: now,
            anchor: now,
        }
    }

    /// The anchor the periods are counted from: [`Self::anchor`] when the period's start is
    /// one of its anniversaries, else the start.
    fn period_anchor(&self) -> DateTime<Utc> {
        let start = self.last_quota_reset;
        if anniversary_at_or_before(self.anchor, start) == Some(start) {
            self.anchor
        } else {
            start
        }
    }

    /// The anchor of a period that follows this one from `start`: this quota's when `start` is
    /// one of its anniversaries clamped to a short month's end (the billing day is kept), else
    /// `start` itself (the same day, so the same anniversaries; or a new billing cycle). So
    /// the anchor is the period's start except in a month that lacks the billing day.
    pub fn anchor_at(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        let anchor = self.period_anchor();
        if start.day() != anchor.day() && anniversary_at_or_before(anchor, start) == Some(start) {
            anchor
        } else {
            start
        }
    }

    /// When the current period ends: the anchor's first monthly anniversary after the period's
    /// start (a day the month lacks clamped to its last day, as PostgreSQL's `+ interval
    /// '1 month'` and Stripe do; the next one back on the anchor's day).
    pub fn resets_at(&self) -> Option<DateTime<Utc>> {
        anniversary_after(self.period_anchor(), self.last_quota_reset)
    }

    /// Whether the period has ended at `now`.
    pub fn needs_reset(&self, now: DateTime<Utc>) -> bool {
        self.resets_at().is_some_and(|at| at <= now)
    }

    /// Starts the period that contains `now`: full quota, and `last_quota_reset` moved to the
    /// anchor's latest monthly anniversary not after `now` (counted from the anchor, so a
    /// start clamped by a short month does not stay moved: Jan 31 → Feb 28 → Mar 31).
    /// Returns `self` unchanged when the period has not ended.
    pub fn reset(&self, now: DateTime<Utc>) -> Quota {
        if !self.needs_reset(now) {
            return *self;
        }
        let start = anniversary_at_or_before(self.period_anchor(), now).unwrap_or(now);
        Quota {
            anchor: self.anchor_at(start),
            ..Quota::full(self.monthly_post_quota, start)
        }
    }

    /// Takes one unit, or fails when none is left (never goes below zero).
    pub fn consume(&self) -> Result<Quota, QuotaExceeded> {
        match self.remaining_posts.checked_sub(1) {
            Some(remaining_posts) => Ok(Quota {
                remaining_posts,
                ..*self
            }),
            None => Err(QuotaExceeded {
                monthly_post_quota: self.monthly_post_quota,
                resets_at: self.resets_at(),
            }),
        }
    }

    /// Gives one unit back, never above the monthly quota.
    pub fn refund(&self) -> Quota {
        Quota {
            remaining_posts: (self.remaining_posts + 1).min(self.monthly_post_quota),
            ..*self
        }
    }

    /// Posts used in this period.
    pub fn used(&self) -> u32 {
        self.monthly_post_quota.saturating_sub(self.remaining_posts)
    }

    /// Moves to a plan with another monthly quota, keeping the posts already used this period:
    /// `remaining = max(0, new_quota − used)`.
    pub fn change_plan(&self, new_monthly_quota: u32) -> Quota {
        Quota {
            monthly_post_quota: new_monthly_quota,
            remaining_posts: new_monthly_quota.saturating_sub(self.used()),
            ..*self
        }
    }
}

impl Quota {
    /// Whether the period is still running at `now` (it has not reached its reset).
    pub fn is_current(&self, now: DateTime<Utc>) -> bool {
        !self.needs_reset(now)
    }

    /// The quota of an account created with the full quota `self` (whose period starts now,
    /// at `self.last_quota_reset`), continuing the periods deleted accounts of the same person
    /// left behind (`carried`; see [`carryover_keys`]).
    ///
    /// A carried period still current at `self.last_quota_reset` continues: same start, the
    /// posts used there still used, and never more left than the carried period had nor than a
    /// full quota — `remaining = min(carried remaining, full − carried used)`. When several are
    /// current, the one leaving the fewest posts wins (ties: the one ending first); when none
    /// is, the full quota.
    pub fn continuing(&self, carried: &[Quota]) -> Quota {
        let now = self.last_quota_reset;
        carried
            .iter()
            .filter(|c| c.is_current(now))
            .map(|c| Quota {
                monthly_post_quota: self.monthly_post_quota,
                remaining_posts: c
                    .remaining_posts
                    .min(self.monthly_post_quota.saturating_sub(c.used())),
                last_quota_reset: c.last_quota_reset,
                anchor: c.anchor,
            })
            .min_by_key(|q| (q.remaining_posts, q.last_quota_reset))
            .unwrap_or(*self)
    }
}

/// What a deleted account's quota stays attached to for the rest of its period: the Firebase
/// uid and, only when the address is verified, the lower-cased email. Each key is prefixed
/// with its kind (domain separation), and the store keeps only a hash of it.
///
/// An unverified address is never a key: whoever typed someone else's address must not
/// reserve it against its real owner, who signs in later with it verified.
pub fn carryover_keys(uid: &FirebaseUid, email: &Email, email_verified: bool) -> Vec<String> {
    let mut keys = vec![format!("multivio-quota-uid:{}", uid.as_str())];
    if email_verified {
        keys.push(format!(
            "multivio-quota-email:{}",
            email.as_str().to_lowercase()
        ));
    }
    keys
}

/// How far Stripe's start of a period may be after the one the monthly reset gave it. With
/// the anchor kept they are the same; a period begun before migration 021 counts from its own
/// start, which a month shorter than the billing day had moved back (Jan 31 → Feb 28 → Mar 28
/// while Stripe bills Mar 31), until a paid invoice's period anchors it again.
pub const PERIOD_DRIFT: Duration = Duration::days(7);

/// A user's quota with the plan change waiting for the period's end (`user_info.
/// pending_monthly_post_quota`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaState {
    /// The current period.
    pub quota: Quota,
    /// A lower monthly quota (a downgrade) that becomes the monthly quota when the next period
    /// starts.
    pub pending_monthly_post_quota: Option<u32>,
    /// The monthly quota the current period was paid for as it began (its plan's, its
    /// invoice's): a downgrade waits for no more than this. An upgrade since does not raise it
    /// — Stripe prorates it, and gives it back when the plan goes down again. `None`: not
    /// known (a period begun before it was kept), taken as the current monthly quota.
    pub paid_monthly_post_quota: Option<u32>,
}

impl QuotaState {
    /// A period's quota as it begins, paid for in full, without a change waiting.
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            pending_monthly_post_quota: None,
            paid_monthly_post_quota: Some(quota.monthly_post_quota),
        }
    }

    /// The monthly quota the current period was paid for ([`Self::paid_monthly_post_quota`]).
    pub fn paid_monthly_quota(&self) -> u32 {
        self.paid_monthly_post_quota
            .unwrap_or(self.quota.monthly_post_quota)
    }

    /// The plan's monthly quota becomes `new_monthly_quota`. An upgrade (or the same quota)
    /// takes effect at once, keeping the posts used this period ([`Quota::change_plan`]) and
    /// dropping a downgrade that was waiting. A downgrade keeps, until the period's end, what
    /// the period was paid for as it began and no more: the current quota when that is what
    /// was paid (the lower one then waits for the next period), else the paid one at once
    /// (an upgrade made this period is taken back), the lower one waiting below it.
    pub fn change_plan_quota(&self, new_monthly_quota: u32) -> QuotaState {
        let current = self.quota.monthly_post_quota;
        let paid = self.paid_monthly_quota();
        if new_monthly_quota >= current {
            return QuotaState {
                quota: self.quota.change_plan(new_monthly_quota),
                pending_monthly_post_quota: None,
                paid_monthly_post_quota: Some(paid),
            };
        }
        let kept = new_monthly_quota.max(paid).min(current);
        QuotaState {
            quota: self.quota.change_plan(kept),
            pending_monthly_post_quota: (new_monthly_quota < kept).then_some(new_monthly_quota),
            paid_monthly_post_quota: self.paid_monthly_post_quota,
        }
    }

    /// The plan's monthly quota becomes `new_monthly_quota` at once, a downgrade too (the
    /// subscription ended unpaid: nothing paid for the rest of the period), keeping the posts
    /// used this period.
    pub fn change_plan_now(&self, new_monthly_quota: u32) -> QuotaState {
        QuotaState {
            quota: self.quota.change_plan(new_monthly_quota),
            pending_monthly_post_quota: None,
            paid_monthly_post_quota: Some(new_monthly_quota.min(self.paid_monthly_quota())),
        }
    }

    /// The monthly quota of the next period: the waiting downgrade's, else the current one.
    pub fn next_monthly_quota(&self) -> u32 {
        self.pending_monthly_post_quota
            .unwrap_or(self.quota.monthly_post_quota)
    }

    /// Starts a period at `start` with the full quota of the plan in force then (the waiting
    /// downgrade's, which is applied and cleared).
    fn begin_period(&self, start: DateTime<Utc>) -> QuotaState {
        QuotaState::new(self.full_period(self.next_monthly_quota(), start))
    }

    /// A full `monthly` quota for a period starting at `start`, anchored by
    /// [`Quota::anchor_at`].
    fn full_period(&self, monthly: u32, start: DateTime<Utc>) -> Quota {
        Quota {
            anchor: self.quota.anchor_at(start),
            ..Quota::full(monthly, start)
        }
    }

    /// Starts the period that contains `now` when the current one has ended ([`Quota::reset`]),
    /// applying a waiting downgrade; unchanged otherwise.
    pub fn reset(&self, now: DateTime<Utc>) -> QuotaState {
        if !self.quota.needs_reset(now) {
            return *self;
        }
        self.begin_period(self.quota.reset(now).last_quota_reset)
    }

    /// The state once the stored period advances to `next`'s (computed by the caller from an
    /// earlier read, by [`Quota::reset`] say): when `next` starts a later period, that period
    /// begins with the full quota of the plan in force as stored now (a waiting downgrade
    /// applies) — `next` only says when, since a plan change may have overtaken the read it
    /// was computed from; otherwise the state as stored, unchanged (the read may be older than
    /// a post consumed since).
    pub fn advance_to(&self, next: Quota) -> QuotaState {
        if next.last_quota_reset <= self.quota.last_quota_reset {
            return *self;
        }
        self.begin_period(next.last_quota_reset)
    }

    /// A paid invoice's period starting at `start`, `paid` the monthly quota of its plan when
    /// known: a new period with the full quota of that plan — what
    /// was paid for, whichever of the plan's own events arrives first — or of the plan in
    /// force when that is higher (changed up since) or the invoice's is unknown; a plan in
    /// force lower than the invoice's (ended, or changed down, since) waits for the next
    /// period. An older invoice delivered late changes nothing.
    ///
    /// An invoice for the period that already started (the same start) changes that period
    /// instead, the posts used in it staying used: the monthly reset usually runs first (Stripe
    /// charges a renewal about an hour after its period begins), and a plan changed at the
    /// renewal then holds from the invoice on, not from the next month.
    ///
    /// A new period keeps the anchor when `start` is one of its anniversaries (a renewal: the
    /// billing day stays, Feb 28 then Mar 31), else is anchored at `start` (a new billing
    /// cycle: a first payment, a trial's end).
    pub fn start_paid_period(&self, start: DateTime<Utc>, paid: Option<u32>) -> QuotaState {
        let current = self.quota.last_quota_reset;
        if start < current {
            return *self;
        }
        let in_force = self.next_monthly_quota();
        let monthly = paid.map_or(in_force, |paid| paid.max(in_force));
        let waiting = paid.filter(|paid| in_force < *paid).map(|_| in_force);
        if start == current {
            let Some(paid) = paid else { return *self };
            return QuotaState {
                quota: self.quota.change_plan(monthly),
                pending_monthly_post_quota: waiting,
                paid_monthly_post_quota: Some(paid),
            };
        }
        QuotaState {
            quota: self.full_period(monthly, start),
            pending_monthly_post_quota: waiting,
            paid_monthly_post_quota: Some(paid.unwrap_or(monthly)),
        }
    }
}

/// What a change to a post does to its owner's quota. Decided by the domain (see
/// [`crate::post::Post`]), applied atomically by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuotaEffect {
    /// Nothing.
    #[default]
    None,
    /// Take one unit; fails with [`QuotaExceeded`] when none is left.
    Consume,
    /// Give the post's unit back.
    Refund,
}

#[cfg(test)]
mod tests;

use super::*;
use chrono::TimeZone;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap()
}

#[test]
fn catalog_has_free_and_parses_config() {
    let c = PlanCatalog::new();
    assert_eq!(c.free().monthly_post_quota, 10);
    let c = PlanCatalog::parse("pro=100, business=1000").unwrap();
    assert_eq!(
        c.get(&PlanName::new("pro").unwrap())
            .unwrap()
            .monthly_post_quota,
        100
    );
    assert_eq!(
        c.get(&PlanName::new("Business").unwrap())
            .unwrap()
            .monthly_post_quota,
        1000
    );
    assert_eq!(c.free().monthly_post_quota, 10);
    assert_eq!(c.plans().count(), 3);
    assert!(PlanCatalog::parse("pro").is_err());
    assert!(PlanCatalog::parse("pro=lots").is_err());
    assert!(PlanCatalog::parse("pro=-1").is_err());
    assert_eq!(
        PlanCatalog::parse("free=5")
            .unwrap()
            .free()
            .monthly_post_quota,
        5
    );
    assert!(PlanCatalog::parse("").is_ok());
}

#[test]
fn plans_carry_a_storage_quota_with_a_documented_free_default() {
    let c = PlanCatalog::parse("pro=100:10GiB, business=1000:500GB, team=50").unwrap();
    let plan = |n: &str| c.get(&PlanName::new(n).unwrap()).unwrap().clone();
    assert_eq!(plan("pro").monthly_post_quota, 100);
    assert_eq!(plan("pro").storage_bytes, 10 * (1 << 30));
    assert_eq!(plan("business").storage_bytes, 500_000_000_000);
    // No storage part: the free plan's 1 GiB, as before the storage part existed.
    assert_eq!(plan("team").storage_bytes, 1 << 30);
    assert_eq!(c.free().storage_bytes, PlanCatalog::FREE_STORAGE_BYTES);
    assert_eq!(PlanCatalog::FREE_STORAGE_BYTES, 1_073_741_824);
    assert_eq!(
        PlanCatalog::parse("free=5:2GiB")
            .unwrap()
            .free()
            .storage_bytes,
        2 << 30
    );
    for bad in [
        "pro=100:",
        "pro=100:lots",
        "pro=100:10XB",
        "pro=100:-1GB",
        "pro=100:99999999TiB",
    ] {
        let e = PlanCatalog::parse(bad).unwrap_err();
        assert!(e.reason.contains("storage of `pro`"), "{bad}: {e:?}");
    }
    assert_eq!(
        c.get_or_free(&PlanName::new("gone").unwrap()),
        c.free(),
        "an unknown plan gets the free plan's quotas"
    );
}

#[test]
fn sizes_read_and_print_in_their_units() {
    assert_eq!(parse_bytes("0"), Some(0));
    assert_eq!(parse_bytes("512"), Some(512));
    assert_eq!(parse_bytes("512 B"), Some(512));
    assert_eq!(parse_bytes("1kb"), Some(1000));
    assert_eq!(parse_bytes("1KiB"), Some(1024));
    assert_eq!(parse_bytes("3MB"), Some(3_000_000));
    assert_eq!(parse_bytes("3 MiB"), Some(3 << 20));
    assert_eq!(parse_bytes("2TiB"), Some(2 << 40));
    assert_eq!(parse_bytes("1.5GB"), None);
    assert_eq!(parse_bytes("GB"), None);
    assert_eq!(parse_bytes("20000000TiB"), None);
    assert_eq!(format_bytes(0), "0 B");
    assert_eq!(format_bytes(1023), "1023 B");
    assert_eq!(format_bytes(1536), "1.5 KiB");
    assert_eq!(format_bytes(10 << 30), "10 GiB");
    assert_eq!(format_bytes(u64::MAX), "16777216 TiB");
}

#[test]
fn storage_checks_used_plus_incoming_against_the_allowance() {
    let quota = Plan::new(PlanName::free(), 10).storage();
    let gib = 1u64 << 30;
    assert_eq!(quota.check(0, gib), Ok(()));
    assert_eq!(quota.check(gib - 10, 10), Ok(()));
    let e = quota.check(gib - 10, 11).unwrap_err();
    assert_eq!(
        e,
        StorageQuotaExceeded {
            used_bytes: gib - 10,
            allowed_bytes: gib
        }
    );
    assert_eq!(
        e.to_string(),
        "media storage quota exceeded: 1024 MiB of 1 GiB used"
    );
    assert!(quota.check(u64::MAX, u64::MAX).is_err(), "no overflow");
    assert_eq!(quota.remaining(gib + 5), 0);
    assert_eq!(quota.remaining(24), gib - 24);
}

#[test]
fn consume_never_goes_below_zero() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 1,
        last_quota_reset: at(2025, 1, 15),
        anchor: at(2025, 1, 15),
    };
    let q = q.consume().unwrap();
    assert_eq!(q.remaining_posts, 0);
    let err = q.consume().unwrap_err();
    assert_eq!(err.monthly_post_quota, 10);
    assert_eq!(err.resets_at, Some(at(2025, 2, 15)));
}

#[test]
fn quota_at_one_serves_exactly_one_of_two_posts() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 1,
        last_quota_reset: at(2025, 1, 1),
        anchor: at(2025, 1, 1),
    };
    let first = q.consume();
    let second = first.as_ref().map(|q| q.consume());
    assert!(first.is_ok());
    assert!(matches!(second, Ok(Err(QuotaExceeded { .. }))));
}

#[test]
fn refund_never_exceeds_monthly_quota() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 9,
        last_quota_reset: at(2025, 1, 1),
        anchor: at(2025, 1, 1),
    };
    assert_eq!(q.refund().remaining_posts, 10);
    assert_eq!(q.refund().refund().remaining_posts, 10);
}

#[test]
fn reset_happens_a_calendar_month_later() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 0,
        last_quota_reset: at(2025, 1, 15),
        anchor: at(2025, 1, 15),
    };
    assert!(!q.needs_reset(at(2025, 2, 14)));
    assert!(!q.needs_reset(Utc.with_ymd_and_hms(2025, 2, 15, 9, 29, 59).unwrap()));
    assert!(q.needs_reset(at(2025, 2, 15)));
    assert_eq!(q.reset(at(2025, 2, 14)), q);
    let r = q.reset(at(2025, 2, 20));
    assert_eq!(r.remaining_posts, 10);
    assert_eq!(r.last_quota_reset, at(2025, 2, 15));
}

#[test]
fn reset_after_long_absence_keeps_the_anniversary() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 3,
        last_quota_reset: at(2024, 11, 15),
        anchor: at(2024, 11, 15),
    };
    assert_eq!(q.reset(at(2025, 3, 20)).last_quota_reset, at(2025, 3, 15));
    assert_eq!(q.reset(at(2025, 3, 10)).last_quota_reset, at(2025, 2, 15));
    assert_eq!(q.reset(at(2026, 12, 1)).last_quota_reset, at(2026, 11, 15));
}

#[test]
fn reset_clamps_month_ends_without_drift() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 0,
        last_quota_reset: at(2025, 1, 31),
        anchor: at(2025, 1, 31),
    };
    assert_eq!(q.resets_at(), Some(at(2025, 2, 28)));
    assert_eq!(q.reset(at(2025, 3, 1)).last_quota_reset, at(2025, 2, 28));
    // Anchored on Jan 31, not on the clamped Feb 28.
    assert_eq!(q.reset(at(2025, 3, 31)).last_quota_reset, at(2025, 3, 31));
    let leap = Quota {
        last_quota_reset: at(2024, 1, 31),
        ..q
    };
    assert_eq!(leap.resets_at(), Some(at(2024, 2, 29)));
}

#[test]
fn change_plan_keeps_usage() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 4,
        last_quota_reset: at(2025, 1, 1),
        anchor: at(2025, 1, 1),
    };
    let up = q.change_plan(100);
    assert_eq!((up.monthly_post_quota, up.remaining_posts), (100, 94));
    let down = up.change_plan(5);
    assert_eq!((down.monthly_post_quota, down.remaining_posts), (5, 0));
    assert_eq!(down.last_quota_reset, q.last_quota_reset);
}

#[test]
fn plan_name_rules() {
    assert_eq!(PlanName::new(" Pro ").unwrap().as_str(), "pro");
    assert!(PlanName::new("").is_err());
    assert!(PlanName::new("pro plan").is_err());
    assert!(PlanName::free().is_free());
}

fn q(monthly: u32, remaining: u32, start: DateTime<Utc>) -> Quota {
    Quota {
        monthly_post_quota: monthly,
        remaining_posts: remaining,
        last_quota_reset: start,
        anchor: start,
    }
}

#[test]
fn a_new_account_continues_a_current_carried_period() {
    let full = Quota::full(10, at(2025, 1, 20));
    // Nothing carried, or only an ended period: a full month from now.
    assert_eq!(full.continuing(&[]), full);
    assert_eq!(full.continuing(&[q(10, 0, at(2024, 12, 1))]), full);
    // The period that ends at the instant of creation has ended.
    assert_eq!(full.continuing(&[q(10, 0, at(2024, 12, 20))]), full);
    // A current one continues: same start, what was used still used.
    assert_eq!(
        full.continuing(&[q(10, 3, at(2025, 1, 5))]),
        q(10, 3, at(2025, 1, 5))
    );
}

#[test]
fn a_carried_period_never_gives_more_than_a_full_quota_or_than_it_had() {
    let full = Quota::full(10, at(2025, 1, 20));
    // A bigger plan's period: the posts used there are used here (100 − 96 = 4 used).
    assert_eq!(
        full.continuing(&[q(100, 96, at(2025, 1, 5))]),
        q(10, 6, at(2025, 1, 5))
    );
    // Used more than the new quota allows: nothing left.
    assert_eq!(
        full.continuing(&[q(100, 20, at(2025, 1, 5))]),
        q(10, 0, at(2025, 1, 5))
    );
    // A smaller quota than today's free one: still no more than was left.
    assert_eq!(
        full.continuing(&[q(5, 2, at(2025, 1, 5))]),
        q(10, 2, at(2025, 1, 5))
    );
}

#[test]
fn of_several_carried_periods_the_strictest_wins() {
    let full = Quota::full(10, at(2025, 1, 20));
    let uid_row = q(10, 4, at(2025, 1, 5));
    let email_row = q(10, 1, at(2025, 1, 10));
    let ended = q(10, 0, at(2024, 11, 1));
    assert_eq!(full.continuing(&[uid_row, ended, email_row]), email_row);
    // A tie goes to the period that ends first.
    let tie = q(10, 1, at(2025, 1, 2));
    assert_eq!(full.continuing(&[email_row, tie]), tie);
}

#[test]
fn carryover_keys_name_the_email_only_when_verified() {
    let uid = FirebaseUid::new("uid-7").unwrap();
    let email = Email::new("Ada@Example.com").unwrap();
    assert_eq!(
        carryover_keys(&uid, &email, false),
        ["multivio-quota-uid:uid-7"]
    );
    assert_eq!(
        carryover_keys(&uid, &email, true),
        [
            "multivio-quota-uid:uid-7",
            "multivio-quota-email:ada@example.com"
        ]
    );
    // Domain separation: a uid that looks like an address is not that address's key.
    let lookalike = FirebaseUid::new("ada@example.com").unwrap();
    assert!(
        !carryover_keys(&lookalike, &email, false).contains(&carryover_keys(&uid, &email, true)[1])
    );
}

#[test]
fn an_upgrade_applies_at_once_keeping_usage() {
    let state = QuotaState::new(q(10, 4, at(2025, 1, 1)));
    let up = state.change_plan_quota(100);
    assert_eq!(up.quota, q(100, 94, at(2025, 1, 1)));
    assert_eq!(up.pending_monthly_post_quota, None);
    assert_eq!(up.paid_monthly_quota(), 10, "the period was paid for at 10");
}

#[test]
fn a_downgrade_after_an_upgrade_this_period_takes_the_upgrade_back_at_once() {
    let pro = QuotaState::new(q(100, 40, at(2025, 1, 1)));
    let business = pro.change_plan_quota(1000);
    assert_eq!(business.quota, q(1000, 940, at(2025, 1, 1)));
    // Back to pro: the period was paid for at 100, so 100 at once, the 60 used still used.
    let back = business.change_plan_quota(100);
    assert_eq!(back.quota, q(100, 40, at(2025, 1, 1)));
    assert_eq!(back.pending_monthly_post_quota, None);
    // Down to free: pro's 100 until the period ends, then 10.
    let free = business.change_plan_quota(10);
    assert_eq!(free.quota, q(100, 40, at(2025, 1, 1)));
    assert_eq!(free.pending_monthly_post_quota, Some(10));
    assert_eq!(
        free.reset(at(2025, 2, 3)),
        QuotaState::new(q(10, 10, at(2025, 2, 1)))
    );
    // A period whose paid quota is not known (begun before it was kept): as paid.
    let unknown = QuotaState {
        paid_monthly_post_quota: None,
        ..QuotaState::new(q(1000, 900, at(2025, 1, 1)))
    };
    let down = unknown.change_plan_quota(100);
    assert_eq!(down.quota, unknown.quota);
    assert_eq!(down.pending_monthly_post_quota, Some(100));
}

#[test]
fn a_plan_ended_unpaid_goes_down_at_once() {
    let pro = QuotaState::new(q(100, 30, at(2025, 1, 1)));
    let free = pro.change_plan_now(10);
    assert_eq!(free.quota, q(10, 0, at(2025, 1, 1)), "70 used of 10");
    assert_eq!(free.pending_monthly_post_quota, None);
    let light = QuotaState::new(q(100, 95, at(2025, 1, 1))).change_plan_now(10);
    assert_eq!(light.quota, q(10, 5, at(2025, 1, 1)));
}

#[test]
fn a_downgrade_waits_for_the_period_to_end() {
    let pro = QuotaState::new(q(100, 60, at(2025, 1, 1)));
    let down = pro.change_plan_quota(10);
    assert_eq!(down.quota, pro.quota, "the paid period keeps its quota");
    assert_eq!(down.pending_monthly_post_quota, Some(10));
    assert_eq!(down.next_monthly_quota(), 10);
    // Before the period ends nothing changes; at its end the lower quota starts, full.
    assert_eq!(down.reset(at(2025, 1, 31)), down);
    assert_eq!(
        down.reset(at(2025, 2, 3)),
        QuotaState::new(q(10, 10, at(2025, 2, 1)))
    );
    // Without a downgrade, a reset is the quota's own.
    assert_eq!(
        pro.reset(at(2025, 2, 3)),
        QuotaState::new(q(100, 100, at(2025, 2, 1)))
    );
}

#[test]
fn a_new_upgrade_or_another_downgrade_replaces_the_waiting_one() {
    let business = QuotaState::new(q(1000, 900, at(2025, 1, 1)));
    let to_pro = business.change_plan_quota(100);
    // Still lower than the current period's 1000: waits, replacing the first.
    let to_plus = to_pro.change_plan_quota(500);
    assert_eq!(to_plus.quota, business.quota);
    assert_eq!(to_plus.pending_monthly_post_quota, Some(500));
    // Back to the same quota: nothing waits any more.
    assert_eq!(to_plus.change_plan_quota(1000), business);
}

#[test]
fn a_paid_invoice_starts_a_newer_period_only() {
    let state = QuotaState::new(q(100, 3, at(2025, 1, 1)));
    assert_eq!(
        state.start_paid_period(at(2025, 1, 15), None),
        QuotaState::new(q(100, 100, at(2025, 1, 15)))
    );
    // An old invoice delivered late: nothing; the current period's own, of an unknown plan:
    // nothing either.
    assert_eq!(state.start_paid_period(at(2024, 12, 1), Some(1000)), state);
    assert_eq!(state.start_paid_period(at(2025, 1, 1), None), state);
    // The new period is the plan in force's: a waiting downgrade applies.
    let down = state.change_plan_quota(10);
    assert_eq!(
        down.start_paid_period(at(2025, 2, 1), None),
        QuotaState::new(q(10, 10, at(2025, 2, 1)))
    );
    // The invoice's plan is what was paid for, whichever plan event is here yet: a renewal at
    // a lower plan whose change comes later keeps the higher plan in force until that change
    // says so, then drops to the paid one at once; a first invoice before its subscription's
    // event gives its plan.
    let renewed = state.start_paid_period(at(2025, 2, 1), Some(50));
    assert_eq!(renewed.quota, q(100, 100, at(2025, 2, 1)));
    assert_eq!(renewed.paid_monthly_quota(), 50);
    assert_eq!(
        renewed.change_plan_quota(50).quota,
        q(50, 50, at(2025, 2, 1))
    );
    let free = QuotaState::new(q(10, 10, at(2025, 1, 1)));
    let first = free.start_paid_period(at(2025, 1, 15), Some(100));
    assert_eq!(first.quota, q(100, 100, at(2025, 1, 15)));
    // Until the plan's own event says pro, the plan in force (free) waits for the next period:
    // had the subscription ended before its first invoice came, the period paid for is all
    // it keeps.
    assert_eq!(first.pending_monthly_post_quota, Some(10));
    assert_eq!(
        first.change_plan_quota(100),
        QuotaState::new(q(100, 100, at(2025, 1, 15))),
        "the plan's own event, later"
    );
    assert_eq!(
        first.reset(at(2025, 2, 20)),
        QuotaState::new(q(10, 10, at(2025, 2, 15)))
    );
}

#[test]
fn a_renewal_paid_after_the_reset_sets_its_period_to_the_plan_it_paid_for() {
    // The reset started the period at pro's 100 an hour before Stripe charged the renewal;
    // 7 posts used since.
    let reset = QuotaState::new(q(100, 93, at(2025, 2, 1)));
    // A downgrade to 50 scheduled for the renewal: its update waits under the paid 100...
    let waiting = reset.change_plan_quota(50);
    assert_eq!(waiting.quota.monthly_post_quota, 100);
    // ...until its invoice: 50 from now, the 7 used still used, nothing waiting.
    let paid = waiting.start_paid_period(at(2025, 2, 1), Some(50));
    assert_eq!(paid.quota, q(50, 43, at(2025, 2, 1)));
    assert_eq!(paid.pending_monthly_post_quota, None);
    assert_eq!(paid.paid_monthly_quota(), 50);
    // Invoice first, update later: the same once the update says so.
    let early = reset.start_paid_period(at(2025, 2, 1), Some(50));
    assert_eq!(early.quota, q(100, 93, at(2025, 2, 1)));
    assert_eq!(early.change_plan_quota(50).quota, q(50, 43, at(2025, 2, 1)));
    // An upgrade made after the period began, its invoice (at the old plan) paid later: the
    // upgrade stands.
    let late = reset
        .change_plan_quota(1000)
        .start_paid_period(at(2025, 2, 1), Some(100));
    assert_eq!(late.quota, q(1000, 993, at(2025, 2, 1)));
    assert_eq!(late.pending_monthly_post_quota, None);
    // An invoice starting later is a new period.
    let next = reset.start_paid_period(at(2025, 2, 4), Some(100));
    assert_eq!(next.quota, q(100, 100, at(2025, 2, 4)));
    // An upgrade at the renewal: paid for at 1000, so a later downgrade keeps 1000.
    let up = reset
        .change_plan_quota(1000)
        .start_paid_period(at(2025, 2, 1), Some(1000));
    assert_eq!(up.paid_monthly_quota(), 1000);
    assert_eq!(up.change_plan_quota(100).quota.monthly_post_quota, 1000);
}

#[test]
fn advancing_to_a_later_period_starts_it_with_the_plan_as_stored() {
    let down = QuotaState::new(q(100, 60, at(2025, 1, 1))).change_plan_quota(10);
    let reset = down.quota.reset(at(2025, 2, 3));
    assert_eq!(down.advance_to(reset), down.reset(at(2025, 2, 3)));
    // Computed from a read a plan change overtook (free then, pro as stored): pro's, full.
    let stale = q(10, 10, at(2025, 2, 1));
    let pro = QuotaState::new(q(100, 60, at(2025, 1, 1)));
    assert_eq!(
        pro.advance_to(stale),
        QuotaState::new(q(100, 100, at(2025, 2, 1)))
    );
    // The same period (from a read older than a post consumed since): as stored, the
    // downgrade still waiting.
    let same = q(100, 70, at(2025, 1, 1));
    assert_eq!(down.advance_to(same), down);
    assert_eq!(down.advance_to(same).pending_monthly_post_quota, Some(10));
}

#[test]
fn periods_keep_the_billing_day_after_a_short_month() {
    let jan = q(10, 0, at(2025, 1, 31));
    let feb = jan.reset(at(2025, 3, 1));
    assert_eq!(feb.last_quota_reset, at(2025, 2, 28));
    // Back on the 31st, as Stripe bills, not Mar 28.
    assert_eq!(feb.anchor, at(2025, 1, 31));
    assert_eq!(feb.resets_at(), Some(at(2025, 3, 31)));
    assert!(!feb.needs_reset(at(2025, 3, 30)));
    let mar = feb.reset(at(2025, 3, 31));
    assert_eq!(mar.last_quota_reset, at(2025, 3, 31));
    // A start on the billing day is its own anchor.
    assert_eq!(mar.anchor, at(2025, 3, 31));
    let apr = mar.reset(at(2025, 5, 1));
    assert_eq!(
        (apr.last_quota_reset, apr.resets_at()),
        (at(2025, 4, 30), Some(at(2025, 5, 31)))
    );
    // The 29th in a leap year's February, then back.
    let leap = q(10, 0, at(2024, 1, 29)).reset(at(2024, 3, 1));
    assert_eq!(leap.last_quota_reset, at(2024, 2, 29));
    assert_eq!(leap.anchor, at(2024, 2, 29));
    let feb = q(10, 0, at(2025, 1, 29)).reset(at(2025, 3, 1));
    assert_eq!(feb.resets_at(), Some(at(2025, 3, 29)));
    // Long absences count from the anchor too.
    assert_eq!(feb.reset(at(2025, 7, 1)).last_quota_reset, at(2025, 6, 29));
}

#[test]
fn an_anchor_the_start_is_no_anniversary_of_counts_from_the_start() {
    // Later than the start (written by hand).
    let odd = Quota {
        anchor: at(2025, 3, 31),
        ..q(10, 0, at(2025, 1, 15))
    };
    assert_eq!(odd.resets_at(), Some(at(2025, 2, 15)));
    assert_eq!(odd.reset(at(2025, 2, 20)).anchor, at(2025, 2, 15));
    // Left behind by a build that moved the start alone (a new billing cycle on the 10th).
    let stale = Quota {
        anchor: at(2025, 1, 31),
        ..q(10, 0, at(2025, 2, 10))
    };
    assert_eq!(stale.resets_at(), Some(at(2025, 3, 10)));
    // Another time of day is another cycle too.
    let later = at(2025, 2, 28) + Duration::hours(2);
    let moved = QuotaState::new(q(10, 0, at(2025, 1, 31))).start_paid_period(later, Some(10));
    assert_eq!(moved.quota.anchor, later);
    assert_eq!(
        moved.quota.resets_at(),
        Some(at(2025, 3, 28) + Duration::hours(2))
    );
}

#[test]
fn a_paid_renewal_keeps_the_billing_day_and_a_new_cycle_moves_it() {
    let jan = QuotaState::new(q(100, 40, at(2025, 1, 31)));
    // The renewal's invoice arrives before the reset ran: a new period, the 31st kept.
    let feb = jan.start_paid_period(at(2025, 2, 28), Some(100));
    assert_eq!(feb.quota.last_quota_reset, at(2025, 2, 28));
    assert_eq!(feb.quota.anchor, at(2025, 1, 31));
    assert_eq!(feb.quota.resets_at(), Some(at(2025, 3, 31)));
    // The reset ran first: the invoice of the same start keeps it too.
    let reset = jan.reset(at(2025, 2, 28));
    let paid = reset.start_paid_period(at(2025, 2, 28), Some(100));
    assert_eq!(paid.quota.resets_at(), Some(at(2025, 3, 31)));
    // A period that does not fall on an anniversary starts a new cycle (a first payment).
    let new_cycle = jan.start_paid_period(at(2025, 2, 10), Some(100));
    assert_eq!(new_cycle.quota.anchor, at(2025, 2, 10));
    assert_eq!(new_cycle.quota.resets_at(), Some(at(2025, 3, 10)));
    // Advancing to a reset computed earlier keeps the anchor as well.
    let advanced = jan.advance_to(jan.quota.reset(at(2025, 3, 1)));
    assert_eq!(advanced.quota.anchor, at(2025, 1, 31));
    assert_eq!(advanced.quota.resets_at(), Some(at(2025, 3, 31)));
}

#[test]
fn a_continued_period_keeps_its_anchor() {
    let carried = Quota {
        anchor: at(2025, 1, 31),
        ..q(10, 4, at(2025, 2, 28))
    };
    let continued = Quota::full(10, at(2025, 3, 5)).continuing(&[carried]);
    assert_eq!(continued.anchor, at(2025, 1, 31));
    assert_eq!(continued.resets_at(), Some(at(2025, 3, 31)));
}

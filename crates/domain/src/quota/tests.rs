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
fn consume_never_goes_below_zero() {
    let q = Quota {
        monthly_post_quota: 10,
        remaining_posts: 1,
        last_quota_reset: at(2025, 1, 15),
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

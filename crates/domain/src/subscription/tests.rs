use super::*;
use crate::quota::{Plan, Quota};
use chrono::TimeZone;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn catalog() -> PlanCatalog {
    PlanCatalog::parse("pro=100").unwrap()
}

fn email() -> Email {
    Email::new("ada@example.com").unwrap()
}

fn changed(at: i64, status: SubscriptionStatus, plan: &str) -> BillingEvent {
    BillingEvent {
        id: format!("evt_{at}"),
        created: t(at),
        kind: BillingEventKind::SubscriptionChanged(SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status,
            plan: Some(PlanName::new(plan).unwrap()),
            current_period_start: Some(t(at)),
            current_period_end: Some(t(at + 30 * 86_400)),
        }),
    }
}

#[test]
fn activation_moves_to_the_plan_and_its_quota() {
    let out = apply_billing_event(
        &Subscription::free(),
        &changed(10, SubscriptionStatus::Active, "pro"),
        &catalog(),
        &email(),
    );
    let sub = out.subscription.unwrap();
    assert_eq!(sub.plan_name.as_str(), "pro");
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.last_event_at, Some(t(10)));
    assert_eq!(out.monthly_post_quota, Some(100));
    let h = out.history.unwrap();
    assert_eq!(h.status, "active");
    assert_eq!(h.plan_name.unwrap().as_str(), "pro");
    assert_eq!(h.stripe_customer_id.as_deref(), Some("cus_1"));
}

#[test]
fn a_price_this_server_does_not_know_keeps_the_plan_in_force() {
    let cat = catalog();
    let pro = apply_billing_event(
        &Subscription::free(),
        &changed(10, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    )
    .subscription
    .unwrap();
    // A renewal at a former price no longer configured: still pro, the quota untouched.
    let mut renewal = changed(20, SubscriptionStatus::Active, "pro");
    if let BillingEventKind::SubscriptionChanged(s) = &mut renewal.kind {
        s.plan = None;
    }
    let out = apply_billing_event(&pro, &renewal, &cat, &email());
    let sub = out.subscription.unwrap();
    assert_eq!(sub.plan_name.as_str(), "pro");
    assert_eq!(out.monthly_post_quota, None);
    // Ended at that price: free.
    let mut ended = changed(30, SubscriptionStatus::Canceled, "pro");
    if let BillingEventKind::SubscriptionChanged(s) = &mut ended.kind {
        s.plan = None;
    }
    let out = apply_billing_event(&sub, &ended, &cat, &email());
    assert!(out.subscription.unwrap().plan_name.is_free());
    // A subscription never seen before, at an unknown price: no plan.
    let out = apply_billing_event(&Subscription::free(), &renewal, &cat, &email());
    assert!(out.subscription.unwrap().plan_name.is_free());
}

#[test]
fn older_events_do_not_overwrite_newer_state() {
    let cat = catalog();
    let newer = apply_billing_event(
        &Subscription::free(),
        &changed(20, SubscriptionStatus::Canceled, "pro"),
        &cat,
        &email(),
    )
    .subscription
    .unwrap();
    assert!(newer.plan_name.is_free());
    let stale = apply_billing_event(
        &newer,
        &changed(10, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    );
    assert_eq!(stale, BillingOutcome::default());
    assert!(!stale.changes_quota());
}

#[test]
fn deletion_is_final_within_the_same_second() {
    let cat = catalog();
    let mut deleted = changed(30, SubscriptionStatus::Active, "pro");
    if let BillingEventKind::SubscriptionChanged(s) = deleted.kind.clone() {
        deleted.kind = BillingEventKind::SubscriptionDeleted(s);
    }
    let active = Subscription {
        plan_name: PlanName::new("pro").unwrap(),
        status: SubscriptionStatus::Active,
        last_event_at: Some(t(10)),
        ..Subscription::free()
    };
    let out = apply_billing_event(&active, &deleted, &cat, &email());
    let gone = out.subscription.unwrap();
    assert_eq!(gone.status, SubscriptionStatus::Canceled);
    assert!(gone.plan_name.is_free());
    assert_eq!(out.monthly_post_quota, Some(10));
    let same_second = apply_billing_event(
        &gone,
        &changed(30, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    );
    assert!(same_second.subscription.is_none());
    let later = apply_billing_event(
        &gone,
        &changed(31, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    );
    assert!(later.subscription.is_some());
}

#[test]
fn non_granting_status_or_unknown_plan_means_free() {
    let cat = catalog();
    let out = apply_billing_event(
        &Subscription::free(),
        &changed(1, SubscriptionStatus::Unpaid, "pro"),
        &cat,
        &email(),
    );
    assert!(out.subscription.unwrap().plan_name.is_free());
    assert_eq!(
        out.monthly_post_quota, None,
        "free → free is no quota change"
    );
    let out = apply_billing_event(
        &Subscription::free(),
        &changed(1, SubscriptionStatus::Active, "enterprise"),
        &cat,
        &email(),
    );
    assert!(out.subscription.unwrap().plan_name.is_free());
    let custom = cat.with_plan(Plan::new(PlanName::new("enterprise").unwrap(), 5000));
    let out = apply_billing_event(
        &Subscription::free(),
        &changed(1, SubscriptionStatus::Trialing, "enterprise"),
        &custom,
        &email(),
    );
    assert_eq!(out.monthly_post_quota, Some(5000));
}

#[test]
fn checkout_links_the_customer_and_invoice_adds_history() {
    let cat = catalog();
    let checkout = BillingEvent {
        id: "evt_c".into(),
        created: t(0),
        kind: BillingEventKind::CheckoutCompleted {
            user_id: None,
            customer_id: "cus_9".into(),
            subscription_id: Some("sub_9".into()),
        },
    };
    let out = apply_billing_event(&Subscription::free(), &checkout, &cat, &email());
    let sub = out.subscription.unwrap();
    assert_eq!(sub.stripe_customer_id.as_deref(), Some("cus_9"));
    assert_eq!(sub.subscription_id.as_deref(), Some("sub_9"));
    assert!(out.history.is_none());
    assert!(
        apply_billing_event(&sub, &checkout, &cat, &email())
            .subscription
            .is_none()
    );

    let invoice = BillingEvent {
        id: "evt_i".into(),
        created: t(5),
        kind: BillingEventKind::InvoicePaid {
            customer_id: "cus_9".into(),
            subscription_id: Some("sub_9".into()),
            amount_paid: 1900,
            currency: "USD".into(),
            period_start: Some(t(0)),
            period_end: Some(t(100)),
            plan: None,
            billing_reason: Some("subscription_create".into()),
        },
    };
    let out = apply_billing_event(&sub, &invoice, &cat, &email());
    assert!(out.subscription.is_none());
    assert_eq!(out.monthly_post_quota, None);
    assert_eq!(
        out.quota_period_start,
        Some(t(0)),
        "the billed period starts one"
    );
    let h = out.history.unwrap();
    assert_eq!(
        (h.status.as_str(), h.amount_paid, h.currency.as_deref()),
        ("paid", Some(1900), Some("usd"))
    );
    assert_eq!(h.plan_name.unwrap().as_str(), "free");
}

#[test]
fn status_round_trips() {
    for s in [
        "free",
        "active",
        "trialing",
        "past_due",
        "canceled",
        "unpaid",
        "incomplete",
        "incomplete_expired",
        "paused",
    ] {
        assert_eq!(s.parse::<SubscriptionStatus>().unwrap().as_str(), s);
    }
    assert!("weird".parse::<SubscriptionStatus>().is_err());
    assert!(SubscriptionStatus::PastDue.grants_plan());
    assert!(!SubscriptionStatus::Canceled.grants_plan());
}

fn invoice(created: i64, period_start: Option<i64>) -> BillingEvent {
    BillingEvent {
        id: format!("evt_inv_{created}"),
        created: t(created),
        kind: BillingEventKind::InvoicePaid {
            customer_id: "cus_1".into(),
            subscription_id: Some("sub_1".into()),
            amount_paid: 1900,
            currency: "usd".into(),
            period_start: period_start.map(t),
            period_end: period_start.map(|s| t(s + 30 * 86_400)),
            plan: Some(PlanName::new("pro").unwrap()),
            billing_reason: Some("subscription_cycle".into()),
        },
    }
}

#[test]
fn an_invoice_without_a_period_starts_one_at_the_event() {
    let out = apply_billing_event(
        &Subscription::free(),
        &invoice(50, None),
        &catalog(),
        &email(),
    );
    assert_eq!(out.quota_period_start, Some(t(50)));
    assert!(out.changes_quota());
    assert!(out.subscription.is_none());
}

#[test]
fn a_paid_invoice_renews_the_quota_unless_it_is_older_than_the_period() {
    let cat = catalog();
    let pro = Subscription {
        plan_name: PlanName::new("pro").unwrap(),
        status: SubscriptionStatus::Active,
        ..Subscription::free()
    };
    let month = 31 * 86_400;
    let state = QuotaState::new(Quota {
        monthly_post_quota: 100,
        remaining_posts: 7,
        last_quota_reset: t(1000),
        anchor: t(1000),
    });
    let renewal = apply_billing_event(
        &pro,
        &invoice(1000 + month, Some(1000 + month)),
        &cat,
        &email(),
    );
    assert_eq!(
        renewal.quota_after(&state),
        QuotaState::new(Quota::full(100, t(1000 + month)))
    );
    // Last month's invoice, delivered after this month's period started: nothing.
    let late = apply_billing_event(&pro, &invoice(3000, Some(10)), &cat, &email());
    assert_eq!(late.quota_after(&state), state);
}

#[test]
fn upgrades_apply_at_once_and_downgrades_at_the_period_end() {
    let cat = catalog();
    let start = QuotaState::new(Quota {
        monthly_post_quota: 10,
        remaining_posts: 6,
        last_quota_reset: t(0),
        anchor: t(0),
    });
    let up = apply_billing_event(
        &Subscription::free(),
        &changed(10, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    );
    let on_pro = up.quota_after(&start);
    assert_eq!(
        (
            on_pro.quota.monthly_post_quota,
            on_pro.quota.remaining_posts
        ),
        (100, 96)
    );
    assert_eq!(on_pro.pending_monthly_post_quota, None);
    // Its first invoice, paid: the period paid for at pro's quota starts.
    let sub = up.subscription.unwrap();
    let invoice = BillingEvent {
        id: "evt_first".into(),
        created: t(11),
        kind: BillingEventKind::InvoicePaid {
            customer_id: "cus_1".into(),
            subscription_id: Some("sub_1".into()),
            amount_paid: 1900,
            currency: "usd".into(),
            period_start: Some(t(10)),
            period_end: Some(t(10 + 30 * 86_400)),
            plan: Some(PlanName::new("pro").unwrap()),
            billing_reason: Some("subscription_create".into()),
        },
    };
    let paid = apply_billing_event(&sub, &invoice, &cat, &email());
    assert_eq!(paid.paid_monthly_post_quota, Some(100));
    let on_pro = paid.quota_after(&on_pro);
    assert_eq!(on_pro.quota, Quota::full(100, t(10)));

    // Cancelled: free again, but only from the next period.
    let mut deleted = changed(20, SubscriptionStatus::Active, "pro");
    if let BillingEventKind::SubscriptionChanged(s) = deleted.kind.clone() {
        deleted.kind = BillingEventKind::SubscriptionDeleted(s);
    }
    let down = apply_billing_event(&sub, &deleted, &cat, &email());
    assert_eq!(down.monthly_post_quota, Some(10));
    let cancelled = down.quota_after(&on_pro);
    assert_eq!(cancelled.quota, on_pro.quota);
    assert_eq!(cancelled.pending_monthly_post_quota, Some(10));
    let next_month = cancelled.reset(t(45 * 86_400));
    assert_eq!(
        (
            next_month.quota.monthly_post_quota,
            next_month.quota.remaining_posts
        ),
        (10, 10)
    );
    assert_eq!(next_month.pending_monthly_post_quota, None);

    // A stale event touches nothing, however the quota stands.
    let stale = apply_billing_event(
        &down.subscription.unwrap(),
        &changed(5, SubscriptionStatus::Active, "pro"),
        &cat,
        &email(),
    );
    assert_eq!(stale.quota_after(&cancelled), cancelled);
}

#[test]
fn only_a_subscriptions_first_invoice_and_renewals_start_a_quota_period() {
    for (reason, starts) in [
        (Some("subscription_create"), true),
        (Some("subscription_cycle"), true),
        (Some("subscription_update"), false),
        (Some("manual"), false),
        (None, false),
    ] {
        let mut event = invoice(50, Some(40));
        if let BillingEventKind::InvoicePaid { billing_reason, .. } = &mut event.kind {
            *billing_reason = reason.map(str::to_owned);
        }
        let out = apply_billing_event(&Subscription::free(), &event, &catalog(), &email());
        assert_eq!(out.quota_period_start, starts.then(|| t(40)), "{reason:?}");
        assert!(out.history.is_some(), "every paid invoice is history");
    }
}

fn state_of(id: &str, sub: &str, created: i64, status: SubscriptionStatus) -> BillingEvent {
    BillingEvent {
        id: id.into(),
        created: t(created),
        kind: BillingEventKind::SubscriptionChanged(SubscriptionSnapshot {
            subscription_id: sub.into(),
            customer_id: "cus_1".into(),
            status,
            plan: Some(PlanName::new("pro").unwrap()),
            current_period_start: Some(t(0)),
            current_period_end: Some(t(100)),
        }),
    }
}

#[test]
fn another_subscriptions_events_do_not_replace_the_one_in_force() {
    let cat = catalog();
    let on_pro = apply_billing_event(
        &Subscription::free(),
        &state_of("e1", "sub_new", 10, SubscriptionStatus::Active),
        &cat,
        &email(),
    )
    .subscription
    .unwrap();
    // The old subscription ends later: the new one stays.
    let mut old_ends = state_of("e2", "sub_old", 20, SubscriptionStatus::Canceled);
    if let BillingEventKind::SubscriptionChanged(snap) = &old_ends.kind {
        old_ends.kind = BillingEventKind::SubscriptionDeleted(snap.clone());
    }
    assert_eq!(
        apply_billing_event(&on_pro, &old_ends, &cat, &email()),
        BillingOutcome::default()
    );
    // Once the one in force has ended, another may take its place.
    let ended = Subscription {
        status: SubscriptionStatus::Canceled,
        ..on_pro.clone()
    };
    let next = apply_billing_event(
        &ended,
        &state_of("e3", "sub_other", 30, SubscriptionStatus::Active),
        &cat,
        &email(),
    );
    assert_eq!(
        next.subscription.unwrap().subscription_id.as_deref(),
        Some("sub_other")
    );
}

#[test]
fn of_two_states_in_the_same_second_the_later_in_life_wins_whatever_the_order() {
    let cat = catalog();
    let active = apply_billing_event(
        &Subscription::free(),
        &state_of("e1", "sub_1", 10, SubscriptionStatus::Active),
        &cat,
        &email(),
    )
    .subscription
    .unwrap();
    // `created` (incomplete) arriving after `updated` (active), same second: ignored.
    assert_eq!(
        apply_billing_event(
            &active,
            &state_of("e0", "sub_1", 10, SubscriptionStatus::Incomplete),
            &cat,
            &email()
        ),
        BillingOutcome::default()
    );
    // The other order applies both.
    let incomplete = apply_billing_event(
        &Subscription::free(),
        &state_of("e0", "sub_1", 10, SubscriptionStatus::Incomplete),
        &cat,
        &email(),
    )
    .subscription
    .unwrap();
    let now_active = apply_billing_event(
        &incomplete,
        &state_of("e1", "sub_1", 10, SubscriptionStatus::Active),
        &cat,
        &email(),
    );
    assert_eq!(
        now_active.subscription.unwrap().status,
        SubscriptionStatus::Active
    );
}

#[test]
fn a_checkout_never_replaces_a_linked_customer() {
    let linked = Subscription {
        stripe_customer_id: Some("cus_mine".into()),
        ..Subscription::free()
    };
    let forged = BillingEvent {
        id: "evt_c".into(),
        created: t(1),
        kind: BillingEventKind::CheckoutCompleted {
            user_id: Some(crate::ids::UserId(1)),
            customer_id: "cus_attacker".into(),
            subscription_id: Some("sub_x".into()),
        },
    };
    assert_eq!(
        apply_billing_event(&linked, &forged, &catalog(), &email()),
        BillingOutcome::default()
    );
}

#[test]
fn a_subscription_is_open_until_it_ended() {
    let mut sub = Subscription::free();
    assert!(!sub.is_open());
    sub.subscription_id = Some("sub_1".into());
    for (status, open) in [
        (SubscriptionStatus::Active, true),
        (SubscriptionStatus::Trialing, true),
        (SubscriptionStatus::PastDue, true),
        (SubscriptionStatus::Unpaid, true),
        (SubscriptionStatus::Paused, true),
        (SubscriptionStatus::Incomplete, true),
        (SubscriptionStatus::Canceled, false),
        (SubscriptionStatus::IncompleteExpired, false),
        (SubscriptionStatus::Free, false),
    ] {
        sub.status = status;
        assert_eq!(sub.is_open(), open, "{status:?}");
    }
}

#[test]
fn a_subscription_ended_unpaid_takes_its_quota_at_once() {
    let cat = catalog();
    let on = |status| Subscription {
        plan_name: PlanName::new("pro").unwrap(),
        status,
        stripe_customer_id: Some("cus_1".into()),
        subscription_id: Some("sub_1".into()),
        end_date: None,
        last_event_at: Some(t(0)),
    };
    use SubscriptionStatus as S;
    for (from, to, now) in [
        // Payment retries exhausted, or cancelled while failing: nothing paid for the rest.
        (S::PastDue, S::Unpaid, true),
        (S::PastDue, S::Canceled, true),
        (S::Unpaid, S::Canceled, true),
        (S::Trialing, S::Paused, true),
        (S::Trialing, S::Canceled, true),
        // Cancelled while paid up: the period keeps what it paid for.
        (S::Active, S::Canceled, false),
    ] {
        let out = apply_billing_event(&on(from), &changed(10, to, "pro"), &cat, &email());
        assert_eq!(out.monthly_post_quota, Some(10), "{from:?} → {to:?}");
        assert_eq!(out.quota_change_now, now, "{from:?} → {to:?}");
        let state = QuotaState::new(Quota::full(100, t(0)));
        let after = out.quota_after(&state);
        assert_eq!(
            after.quota.monthly_post_quota,
            if now { 10 } else { 100 },
            "{from:?} → {to:?}"
        );
    }
}

#[test]
fn a_subscription_that_ended_before_the_period_began_leaves_it_nothing() {
    let cat = catalog();
    let pro = Subscription {
        plan_name: PlanName::new("pro").unwrap(),
        status: SubscriptionStatus::Active,
        stripe_customer_id: Some("cus_1".into()),
        subscription_id: Some("sub_1".into()),
        end_date: None,
        last_event_at: Some(t(0)),
    };
    // Cancelled at the period's end (t(1000)); the deletion is delivered at its end.
    let mut deleted = changed(1000, SubscriptionStatus::Canceled, "pro");
    if let BillingEventKind::SubscriptionChanged(mut s) = deleted.kind.clone() {
        s.current_period_end = Some(t(1000));
        deleted.kind = BillingEventKind::SubscriptionDeleted(s);
    }
    let out = apply_billing_event(&pro, &deleted, &cat, &email());
    assert_eq!(out.ended_at, Some(t(1000)));
    // The reset had already started the next period at pro's quota: free at once.
    let reset_first = QuotaState::new(Quota {
        monthly_post_quota: 100,
        remaining_posts: 98,
        last_quota_reset: t(1000),
        anchor: t(1000),
    });
    let after = out.quota_after(&reset_first);
    assert_eq!(
        (after.quota.monthly_post_quota, after.quota.remaining_posts),
        (10, 8)
    );
    // Delivered before the reset: the paid period keeps pro, free waits for the next.
    let before = QuotaState::new(Quota::full(100, t(0)));
    let after = out.quota_after(&before);
    assert_eq!(after.quota.monthly_post_quota, 100);
    assert_eq!(after.pending_monthly_post_quota, Some(10));

    // A short month moved the reset three days before Stripe's period end: a subscription that
    // ran to its end still leaves that period nothing...
    let known_end = Subscription {
        end_date: Some(t(1000)),
        ..pro.clone()
    };
    let out = apply_billing_event(&known_end, &deleted, &cat, &email());
    assert!(out.ran_to_end);
    let drifted = QuotaState::new(Quota::full(100, t(1000 - 3 * 86_400)));
    assert_eq!(out.quota_after(&drifted).quota.monthly_post_quota, 10);
    // ...while one cancelled in the middle of its period keeps what the period paid for.
    let mid = Subscription {
        end_date: Some(t(1000 + 20 * 86_400)),
        ..pro
    };
    let out = apply_billing_event(&mid, &deleted, &cat, &email());
    assert!(!out.ran_to_end);
    let after = out.quota_after(&drifted);
    assert_eq!(after.quota.monthly_post_quota, 100);
    assert_eq!(after.pending_monthly_post_quota, Some(10));
}

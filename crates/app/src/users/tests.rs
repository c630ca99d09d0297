use super::*;
use crate::testing::*;
use multivio_domain::contact::Email;
use multivio_domain::subscription::Subscription;
use multivio_domain::user::{AuthProvider, Profile, VerificationSends};
use multivio_domain::{FirebaseUid, UserId};
use multivio_ports::StoreError;
use multivio_ports::mail::{MailError, MockMailer};
use multivio_ports::system::MockTokenGenerator;
use multivio_ports::users::{MockQuotaStore, MockUserStore, Upserted};

fn user(id: i32) -> User {
    User {
        id: UserId(id),
        firebase_uid: FirebaseUid::new(format!("uid-{id}")).unwrap(),
        email: Email::new("ada@example.com").unwrap(),
        email_verified: false,
        auth_provider: AuthProvider::email(),
        profile: Profile::default(),
        is_active: true,
        is_verified: false,
        subscription: Subscription::free(),
        email_verification_sent_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        firebase_uid: FirebaseUid::new("uid-1").unwrap(),
        email: Email::new("ada@example.com").unwrap(),
        email_verified: true,
        auth_provider: AuthProvider::from_firebase("google.com").unwrap(),
        name: Some("Ada".into()),
        picture: None,
    }
}

struct Deps {
    users: MockUserStore,
    quotas: MockQuotaStore,
    mailer: MockMailer,
    tokens: MockTokenGenerator,
}

impl Deps {
    fn new() -> Self {
        let mut mailer = MockMailer::new();
        mailer.expect_can_address().return_const(true);
        Self {
            users: MockUserStore::new(),
            quotas: MockQuotaStore::new(),
            mailer,
            tokens: MockTokenGenerator::new(),
        }
    }

    fn build(self) -> UserService {
        UserService::new(
            Arc::new(self.users),
            Arc::new(self.quotas),
            Arc::new(self.mailer),
            Arc::new(self.tokens),
            clock(),
            PlanCatalog::new(),
        )
    }
}

#[tokio::test]
async fn sign_in_creates_the_user_with_a_free_quota() {
    let mut d = Deps::new();
    d.users
        .expect_upsert_from_identity()
        .withf(|new, quota| {
            new.firebase_uid.as_str() == "uid-1"
                && new.auth_provider.as_str() == "google.com"
                && new.full_name.as_deref() == Some("Ada")
                && quota.monthly_post_quota == 10
                && quota.remaining_posts == 10
                && quota.last_quota_reset == now()
        })
        .times(1)
        .returning(|_, _| {
            Ok(Upserted {
                user: user(1),
                created: true,
            })
        });
    let u = d.build().sign_in(&identity()).await.unwrap();
    assert_eq!(u.id, UserId(1));
}

#[tokio::test]
async fn sign_in_refuses_deactivated_users_and_reports_email_conflicts() {
    let mut d = Deps::new();
    d.users.expect_upsert_from_identity().returning(|_, _| {
        let mut u = user(1);
        u.is_active = false;
        Ok(Upserted {
            user: u,
            created: false,
        })
    });
    assert!(matches!(
        d.build().sign_in(&identity()).await,
        Err(AppError::Forbidden(_))
    ));

    let mut d = Deps::new();
    d.users.expect_upsert_from_identity().returning(|_, _| {
        Err(StoreError::Duplicate {
            field: "email".into(),
        })
    });
    assert_eq!(
        d.build().sign_in(&identity()).await,
        Err(AppError::Conflict("email is already taken".into()))
    );
}

#[tokio::test]
async fn me_includes_the_current_quota() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.quotas.expect_get().returning(|_| {
        Ok(Quota {
            monthly_post_quota: 10,
            remaining_posts: 7,
            last_quota_reset: now(),
            anchor: now(),
        })
    });
    let me = d.build().me(&tenant()).await.unwrap();
    assert_eq!(me.quota.remaining_posts, 7);
}

#[tokio::test]
async fn me_of_a_missing_or_foreign_user_is_not_found() {
    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Err(StoreError::NotFound));
    assert_eq!(
        d.build().me(&tenant()).await,
        Err(AppError::NotFound("user"))
    );
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(2)));
    assert_eq!(
        d.build().me(&tenant()).await,
        Err(AppError::NotFound("user"))
    );
}

#[tokio::test]
async fn update_profile_validates_then_stores() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_update_profile()
        .withf(|_, p| p.username.as_ref().map(|u| u.as_str()) == Some("ada") && p.bio.is_none())
        .times(1)
        .returning(|_, p| {
            let mut u = user(1);
            u.profile = p.clone();
            Ok(u)
        });
    let input = ProfileInput {
        username: Some(Some("Ada".into())),
        ..Default::default()
    };
    let u = d.build().update_profile(&tenant(), input).await.unwrap();
    assert_eq!(u.profile.username.unwrap().as_str(), "ada");
}

#[tokio::test]
async fn update_profile_failures() {
    let d = Deps::new();
    let bad = ProfileInput {
        username: Some(Some("a b".into())),
        ..Default::default()
    };
    assert!(
        matches!(d.build().update_profile(&tenant(), bad).await, Err(AppError::Invalid(e)) if e[0].field == "username")
    );

    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users.expect_update_profile().returning(|_, _| {
        Err(StoreError::Duplicate {
            field: "username".into(),
        })
    });
    let taken = ProfileInput {
        username: Some(Some("taken".into())),
        ..Default::default()
    };
    assert_eq!(
        d.build().update_profile(&tenant(), taken).await,
        Err(AppError::Conflict("username is already taken".into()))
    );

    let mut d = Deps::new();
    d.users
        .expect_get()
        .returning(|_| Err(StoreError::NotFound));
    let ok = ProfileInput {
        bio: Some(Some("hi".into())),
        ..Default::default()
    };
    assert_eq!(
        d.build().update_profile(&tenant(), ok).await,
        Err(AppError::NotFound("user"))
    );
}

fn sends(ago_secs: &[i64]) -> VerificationSends {
    VerificationSends::new(
        ago_secs
            .iter()
            .map(|s| now() - Duration::seconds(*s))
            .collect(),
    )
}

const HOUR: i64 = 3600;

#[tokio::test]
async fn send_verification_stores_a_token_and_mails_it() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_verification_sends()
        .returning(|_| Ok(VerificationSends::default()));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_record_verification_send()
        .withf(|_, email, tok, exp, sent, expected, next| {
            email.as_str() == "ada@example.com"
                && tok.expose() == "tok"
                && *exp == now() + Duration::hours(24)
                && *sent == now()
                && expected.times().is_empty()
                && next.times() == [now()]
        })
        .times(1)
        .returning(|_, _, _, _, _, _, _| Ok(true));
    d.mailer
        .expect_send_verification()
        .withf(|to, tok| to.as_str() == "ada@example.com" && tok.expose() == "tok")
        .times(1)
        .returning(|_, _| Ok(()));
    d.build().send_verification(&tenant()).await.unwrap();
}

#[tokio::test]
async fn send_verification_is_throttled_and_refused_when_verified() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_verification_sends()
        .returning(|_| Ok(sends(&[20])));
    d.users.expect_record_verification_send().never();
    d.mailer.expect_send_verification().never();
    assert_eq!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::RateLimited {
            retry_after: Some(Duration::seconds(40))
        })
    );

    // A send recorded before sends were counted still holds the minute.
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| {
        let mut u = user(1);
        u.email_verification_sent_at = Some(now() - Duration::seconds(45));
        Ok(u)
    });
    d.users
        .expect_verification_sends()
        .returning(|_| Ok(VerificationSends::default()));
    assert_eq!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::RateLimited {
            retry_after: Some(Duration::seconds(15))
        })
    );

    let mut d = Deps::new();
    d.users.expect_get().returning(|_| {
        let mut u = user(1);
        u.email_verified = true;
        Ok(u)
    });
    d.users.expect_verification_sends().never();
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Conflict(_))
    ));

    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_verification_sends()
        .returning(|_| Ok(VerificationSends::default()));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_record_verification_send()
        .returning(|_, _, _, _, _, _, _| Ok(true));
    d.mailer
        .expect_send_verification()
        .returning(|_, _| Err(MailError::Failed("smtp down".into())));
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Unavailable(_))
    ));

    // An address no mail can be written to: refused before anything is recorded or sent,
    // not worth a retry.
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.mailer = MockMailer::new();
    d.mailer.expect_can_address().return_const(false);
    d.users.expect_verification_sends().never();
    d.users.expect_record_verification_send().never();
    d.mailer.expect_send_verification().never();
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Conflict(why)) if why.contains("cannot be sent mail")
    ));

    // A placeholder address (a phone sign-in): refused before anything is recorded or sent.
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| {
        let mut u = user(1);
        u.email = Email::new("uid-1@no-email.invalid").unwrap();
        Ok(u)
    });
    d.users.expect_verification_sends().never();
    d.users.expect_record_verification_send().never();
    d.mailer.expect_send_verification().never();
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Conflict(why)) if why.contains("no email address")
    ));
}

#[tokio::test]
async fn a_sixth_verification_mail_in_a_day_waits_for_the_oldest_to_age_out() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    // Five in the last day, the oldest 20 hours ago, the latest an hour ago.
    d.users
        .expect_verification_sends()
        .returning(|_| Ok(sends(&[20 * HOUR, 15 * HOUR, 8 * HOUR, 3 * HOUR, HOUR])));
    d.tokens.expect_random_token().never();
    d.users.expect_record_verification_send().never();
    d.mailer.expect_send_verification().never();
    assert_eq!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::RateLimited {
            retry_after: Some(Duration::hours(4))
        })
    );
}

#[tokio::test]
async fn the_fifth_mail_of_a_day_goes_and_older_sends_no_longer_count() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    // Four in the last day, and two more than a day ago.
    let stored = sends(&[30 * HOUR, 25 * HOUR, 20 * HOUR, 15 * HOUR, 8 * HOUR, HOUR]);
    let read = stored.clone();
    d.users
        .expect_verification_sends()
        .returning(move |_| Ok(read.clone()));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_record_verification_send()
        .withf(move |_, _, _, _, _, expected, next| {
            *expected == stored
                && next.times() == sends(&[20 * HOUR, 15 * HOUR, 8 * HOUR, HOUR, 0]).times()
        })
        .times(1)
        .returning(|_, _, _, _, _, _, _| Ok(true));
    d.mailer
        .expect_send_verification()
        .times(1)
        .returning(|_, _| Ok(()));
    d.build().send_verification(&tenant()).await.unwrap();
}

#[tokio::test]
async fn of_two_resends_at_once_the_one_that_lost_reads_again() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    let mut seq = mockall::Sequence::new();
    // Four sends; another request records a fifth between this one's read and its write.
    d.users
        .expect_verification_sends()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(sends(&[20 * HOUR, 15 * HOUR, 8 * HOUR, 3 * HOUR])));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_record_verification_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _, _, _| Ok(false));
    d.users
        .expect_verification_sends()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(sends(&[20 * HOUR, 15 * HOUR, 8 * HOUR, 3 * HOUR, 0])));
    d.mailer.expect_send_verification().never();
    // The other request's send is the fifth of the day, and a moment ago.
    assert_eq!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::RateLimited {
            retry_after: Some(Duration::hours(4))
        })
    );
}

#[tokio::test]
async fn send_verification_gives_up_when_the_sends_keep_changing() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_verification_sends()
        .times(3)
        .returning(|_| Ok(VerificationSends::default()));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_record_verification_send()
        .times(3)
        .returning(|_, _, _, _, _, _, _| Ok(false));
    d.mailer.expect_send_verification().never();
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Conflict(_))
    ));
}

#[tokio::test]
async fn confirm_email_accepts_a_valid_token_once() {
    let mut d = Deps::new();
    d.users
        .expect_confirm_email()
        .withf(|tok, at| tok.expose() == "good" && *at == now())
        .returning(|_, _| Ok(Some(tenant())));
    d.users.expect_confirm_email().returning(|_, _| Ok(None));
    let svc = d.build();
    assert_eq!(svc.confirm_email(&Secret::new("good")).await, Ok(tenant()));
    assert!(matches!(
        svc.confirm_email(&Secret::new("used")).await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        svc.confirm_email(&Secret::new("")).await,
        Err(AppError::Invalid(_))
    ));
}

#[tokio::test]
async fn delete_account_deletes_the_tenant_only() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_delete()
        .withf(|t| *t == tenant())
        .times(1)
        .returning(|_| Ok(()));
    d.build().delete_account(&tenant()).await.unwrap();
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.users
        .expect_delete()
        .returning(|_| Err(StoreError::NotFound));
    assert_eq!(
        d.build().delete_account(&tenant()).await,
        Err(AppError::NotFound("user"))
    );
}

#[tokio::test]
async fn an_account_whose_paid_plan_is_in_force_is_not_deleted() {
    use multivio_domain::quota::PlanName;
    use multivio_domain::subscription::{Subscription, SubscriptionStatus};
    for (status, deletable) in [
        (SubscriptionStatus::Active, false),
        (SubscriptionStatus::PastDue, false),
        (SubscriptionStatus::Trialing, false),
        (SubscriptionStatus::Canceled, true),
    ] {
        let mut d = Deps::new();
        d.users.expect_get().returning(move |_| {
            let mut u = user(1);
            u.subscription = Subscription {
                plan_name: PlanName::new("pro").unwrap(),
                status,
                stripe_customer_id: Some("cus_1".into()),
                subscription_id: Some("sub_1".into()),
                ..Subscription::free()
            };
            Ok(u)
        });
        d.users
            .expect_delete()
            .times(usize::from(deletable))
            .returning(|_| Ok(()));
        let outcome = d.build().delete_account(&tenant()).await;
        if deletable {
            assert_eq!(outcome, Ok(()), "{status:?}");
        } else {
            assert!(
                matches!(&outcome, Err(AppError::Conflict(m)) if m.contains("billing portal")),
                "{status:?}: {outcome:?}"
            );
        }
    }
}

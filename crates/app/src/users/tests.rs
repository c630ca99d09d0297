use super::*;
use crate::testing::*;
use multivio_domain::contact::Email;
use multivio_domain::subscription::Subscription;
use multivio_domain::user::{AuthProvider, Profile};
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
        Self {
            users: MockUserStore::new(),
            quotas: MockQuotaStore::new(),
            mailer: MockMailer::new(),
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

#[tokio::test]
async fn send_verification_stores_a_token_and_mails_it() {
    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_set_email_verification()
        .withf(|_, tok, exp, sent| {
            tok.expose() == "tok" && *exp == now() + Duration::hours(24) && *sent == now()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
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
    d.users.expect_get().returning(|_| {
        let mut u = user(1);
        u.email_verification_sent_at = Some(now() - Duration::seconds(20));
        Ok(u)
    });
    assert_eq!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::RateLimited {
            retry_after: Some(Duration::seconds(40))
        })
    );

    let mut d = Deps::new();
    d.users.expect_get().returning(|_| {
        let mut u = user(1);
        u.email_verified = true;
        Ok(u)
    });
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Conflict(_))
    ));

    let mut d = Deps::new();
    d.users.expect_get().returning(|_| Ok(user(1)));
    d.tokens
        .expect_random_token()
        .returning(|| Secret::new("tok"));
    d.users
        .expect_set_email_verification()
        .returning(|_, _, _, _| Ok(()));
    d.mailer
        .expect_send_verification()
        .returning(|_, _| Err(MailError("smtp down".into())));
    assert!(matches!(
        d.build().send_verification(&tenant()).await,
        Err(AppError::Unavailable(_))
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
    d.users
        .expect_delete()
        .withf(|t| *t == tenant())
        .times(1)
        .returning(|_| Ok(()));
    d.build().delete_account(&tenant()).await.unwrap();
    let mut d = Deps::new();
    d.users
        .expect_delete()
        .returning(|_| Err(StoreError::NotFound));
    assert_eq!(
        d.build().delete_account(&tenant()).await,
        Err(AppError::NotFound("user"))
    );
}

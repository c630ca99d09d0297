use super::*;

fn claims(uid: &str) -> IdentityClaims {
    IdentityClaims {
        uid: uid.to_owned(),
        email: Some("Ada@Example.com".to_owned()),
        email_verified: true,
        sign_in_provider: Some("google.com".to_owned()),
        ..Default::default()
    }
}

#[test]
fn a_token_with_an_email_keeps_it_and_its_provider() {
    let id = VerifiedIdentity::from_claims(&claims("uid-1")).unwrap();
    assert_eq!(id.firebase_uid.as_str(), "uid-1");
    assert!(id.email_verified);
    assert_eq!(id.auth_provider.as_str(), "google.com");
}

#[test]
fn a_phone_sign_in_gets_an_undeliverable_unverified_placeholder() {
    let id = VerifiedIdentity::from_claims(&IdentityClaims {
        email: None,
        email_verified: true,
        sign_in_provider: Some("phone".to_owned()),
        ..claims("AbC123")
    })
    .unwrap();
    assert_eq!(id.email.as_str(), "abc123@no-email.invalid");
    assert!(!id.email_verified);
    assert_eq!(id.auth_provider.as_str(), "phone");
}

#[test]
fn password_and_missing_providers_are_recorded_as_email() {
    for provider in [Some("password"), None, Some("")] {
        let id = VerifiedIdentity::from_claims(&IdentityClaims {
            sign_in_provider: provider.map(str::to_owned),
            ..claims("u")
        })
        .unwrap();
        assert_eq!(id.auth_provider.as_str(), "email", "{provider:?}");
    }
}

#[test]
fn unusable_subjects_and_emails_are_refused() {
    assert_eq!(
        VerifiedIdentity::from_claims(&claims(""))
            .unwrap_err()
            .field,
        "sub"
    );
    let bad_email = IdentityClaims {
        email: Some("not an email".to_owned()),
        ..claims("u")
    };
    assert_eq!(
        VerifiedIdentity::from_claims(&bad_email).unwrap_err().field,
        "email"
    );
}

//! From what a verified ID token says to the identity a user row is made from.

use super::{AuthProvider, VerifiedIdentity};
use crate::contact::Email;
use crate::error::FieldError;
use crate::ids::FirebaseUid;

/// The claims of a verified ID token, as the identity provider wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityClaims {
    /// `sub`.
    pub uid: String,
    /// `email`, if any (phone sign-ins have none).
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// `firebase.sign_in_provider`.
    pub sign_in_provider: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `picture`.
    pub picture: Option<String>,
}

/// The domain of the placeholder addresses of users without one: reserved (RFC 2606), so no
/// mail can ever be delivered to it.
pub const NO_EMAIL_DOMAIN: &str = "no-email.invalid";

impl VerifiedIdentity {
    /// The identity of a verified token. A user without an email address (a phone sign-in)
    /// gets `<uid>@no-email.invalid`, since every user row needs one and it can never receive
    /// mail; an unknown sign-in method is recorded as `email`, the seed's default.
    pub fn from_claims(claims: &IdentityClaims) -> Result<Self, FieldError> {
        let firebase_uid = FirebaseUid::new(claims.uid.clone())
            .map_err(|_| FieldError::new("sub", "the token's subject is not usable"))?;
        let email = match claims.email.as_deref() {
            Some(email) => Email::new(email)
                .map_err(|_| FieldError::new("email", "the token's email is not valid"))?,
            None => Email::new(format!(
                "{}@{NO_EMAIL_DOMAIN}",
                claims.uid.to_ascii_lowercase()
            ))
            .map_err(|_| FieldError::new("email", "the account has no email address"))?,
        };
        let auth_provider = claims
            .sign_in_provider
            .as_deref()
            .map_or_else(|| Ok(AuthProvider::email()), AuthProvider::from_firebase)
            .unwrap_or_else(|_| AuthProvider::email());
        Ok(Self {
            firebase_uid,
            // A placeholder address is nobody's: never verified.
            email_verified: claims.email.is_some() && claims.email_verified,
            email,
            auth_provider,
            name: claims.name.clone(),
            picture: claims.picture.clone(),
        })
    }
}

#[cfg(test)]
mod tests;

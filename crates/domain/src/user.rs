//! Users: who signs in, their profile, and the values that identify them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::Email;
use crate::error::FieldError;
use crate::ids::{FirebaseUid, Tenant, UserId};
use crate::subscription::Subscription;
use crate::text;

mod identity;

pub use identity::{IdentityClaims, NO_EMAIL_DOMAIN};

/// A public username: 3–30 characters of `a-z`, `0-9`, `_`, `.`, `-`, starting with a letter or
/// digit; lower-cased, so `Alice` and `alice` cannot both exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Shortest username.
    pub const MIN_LEN: usize = 3;
    /// Longest username.
    pub const MAX_LEN: usize = 30;

    /// Validates and normalises a username.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        let value = value.as_ref().trim().to_lowercase();
        let len = value.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(FieldError::new("username", "must be 3 to 30 characters"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        {
            return Err(FieldError::new(
                "username",
                "may contain only letters a-z, digits, '_', '.' and '-'",
            ));
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(
                "username",
                "must start with a letter or digit",
            ));
        }
        Ok(Self(value))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the user signs in (`users.auth_provider`): `email` for passwords, otherwise Firebase's
/// `sign_in_provider` (e.g. `google.com`, `github.com`). At most 50 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuthProvider(String);

impl AuthProvider {
    /// Maps Firebase's `firebase.sign_in_provider` claim to the stored value.
    pub fn from_firebase(sign_in_provider: &str) -> Result<Self, FieldError> {
        match sign_in_provider.trim() {
            "password" | "" => Ok(Self::email()),
            other => Self::new(other),
        }
    }

    /// Validates a stored value.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        text::bounded("auth_provider", value.as_ref(), 1, 50, false).map(Self)
    }

    /// The seed's default, `email`.
    pub fn email() -> Self {
        Self("email".to_owned())
    }

    /// The stored value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AuthProvider {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AuthProvider> for String {
    fn from(value: AuthProvider) -> Self {
        value.0
    }
}

/// What a verified Firebase ID token says about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// `sub`.
    pub firebase_uid: FirebaseUid,
    /// `email`.
    pub email: Email,
    /// `email_verified`.
    pub email_verified: bool,
    /// `firebase.sign_in_provider`, mapped.
    pub auth_provider: AuthProvider,
    /// `name`, when the identity provider shares one.
    pub name: Option<String>,
    /// `picture`, when the identity provider shares one.
    pub picture: Option<String>,
}

/// The editable, public part of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `users.username`.
    pub username: Option<Username>,
    /// `users.full_name` (≤ 255 characters).
    pub full_name: Option<String>,
    /// `users.display_name` (≤ 100 characters).
    pub display_name: Option<String>,
    /// `users.work_description` (≤ 255 characters).
    pub work_description: Option<String>,
    /// `users.bio` (≤ 5,000 characters, line breaks allowed).
    pub bio: Option<String>,
    /// `users.avatar_url` (an http(s) URL).
    pub avatar_url: Option<String>,
}

/// A user (`users` row, minus the email-verification token which never leaves the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Firebase uid (unique).
    pub firebase_uid: FirebaseUid,
    /// Email (unique).
    pub email: Email,
    /// Whether the email has been verified (by Firebase or by our own mail round-trip).
    pub email_verified: bool,
    /// How the user signs in.
    pub auth_provider: AuthProvider,
    /// Public profile.
    pub profile: Profile,
    /// `users.is_active`: an inactive user cannot act.
    pub is_active: bool,
    /// `users.is_verified` (manual verification badge).
    pub is_verified: bool,
    /// Billing state mirrored from Stripe.
    pub subscription: Subscription,
    /// When the last verification email was sent (for throttling).
    pub email_verification_sent_at: Option<DateTime<Utc>>,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The tenant this user acts as.
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.id, self.firebase_uid.clone())
    }

    /// Applies a validated profile update.
    pub fn apply_profile(&mut self, update: &ProfileUpdate, now: DateTime<Utc>) {
        fn set<T: Clone>(target: &mut Option<T>, change: &Option<Option<T>>) {
            if let Some(value) = change {
                target.clone_from(value);
            }
        }
        let p = &mut self.profile;
        set(&mut p.username, &update.username);
        set(&mut p.full_name, &update.full_name);
        set(&mut p.display_name, &update.display_name);
        set(&mut p.work_description, &update.work_description);
        set(&mut p.bio, &update.bio);
        set(&mut p.avatar_url, &update.avatar_url);
        self.updated_at = now;
    }

    /// Why no verification mail is for this user, if none is: the address is verified
    /// already, or it is a placeholder no mail reaches (how often mail may go is
    /// [`ResendPolicy`]'s).
    pub fn verification_refused(&self) -> Option<&'static str> {
        if self.email_verified {
            Some("email is already verified")
        } else if !self.email.can_receive_mail() {
            Some("the account has no email address to verify")
        } else {
            None
        }
    }
}

/// How often verification mail may be sent to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendPolicy {
    /// Least time between two mails.
    pub min_interval: chrono::Duration,
    /// Most mails within any `window`.
    pub max_per_window: usize,
    /// The window of `max_per_window` (a sliding one: any span of this length).
    pub window: chrono::Duration,
}

impl ResendPolicy {
    /// One a minute, five a day.
    pub fn standard() -> Self {
        Self {
            min_interval: chrono::Duration::minutes(1),
            max_per_window: 5,
            window: chrono::Duration::hours(24),
        }
    }
}

/// The verification mails sent to a user recently (`users.email_verification_sends`), oldest
/// first: what the daily limit counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerificationSends(Vec<DateTime<Utc>>);

impl VerificationSends {
    /// The sends at these times (in any order).
    pub fn new(mut times: Vec<DateTime<Utc>>) -> Self {
        times.sort_unstable();
        Self(times)
    }

    /// The times, oldest first.
    pub fn times(&self) -> &[DateTime<Utc>] {
        &self.0
    }

    /// The latest send.
    pub fn last(&self) -> Option<DateTime<Utc>> {
        self.0.last().copied()
    }

    /// Whether one more mail may go at `now` under `policy`, given these sends and the last
    /// send recorded before sends were counted (`users.email_verification_sent_at`).
    ///
    /// `Ok`: the sends to store once it goes — those still inside the window, and `now` (at
    /// most `policy.max_per_window` of them, all the rule ever needs). `Err`: how long to wait,
    /// the longer of the two limits when both apply (always more than zero).
    pub fn send_at(
        &self,
        now: DateTime<Utc>,
        last_sent_at: Option<DateTime<Utc>>,
        policy: &ResendPolicy,
    ) -> Result<VerificationSends, chrono::Duration> {
        if policy.max_per_window == 0 {
            return Err(policy.window.max(chrono::Duration::seconds(1)));
        }
        let mut wait = chrono::Duration::zero();
        if let Some(last) = self.last().max(last_sent_at) {
            let next = last + policy.min_interval;
            if next > now {
                wait = next - now;
            }
        }
        let recent: Vec<DateTime<Utc>> = self
            .0
            .iter()
            .copied()
            .filter(|sent| *sent + policy.window > now)
            .collect();
        // With n recent sends and room for m, the (n − m)-th oldest must leave the window
        // before another may go.
        if let Some(blocking) = recent
            .len()
            .checked_sub(policy.max_per_window)
            .and_then(|i| recent.get(i))
        {
            wait = wait.max(*blocking + policy.window - now);
        }
        if wait > chrono::Duration::zero() {
            return Err(wait);
        }
        let mut next = recent;
        next.push(now);
        let keep = next.len().saturating_sub(policy.max_per_window);
        next.drain(..keep);
        Ok(VerificationSends::new(next))
    }
}

/// A profile update as received: for each field, `None` = leave unchanged, `Some(None)` = clear,
/// `Some(Some(text))` = set (an empty or blank text also clears).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    /// Username.
    pub username: Option<Option<String>>,
    /// Full name.
    pub full_name: Option<Option<String>>,
    /// Display name.
    pub display_name: Option<Option<String>>,
    /// Work description.
    pub work_description: Option<Option<String>>,
    /// Bio.
    pub bio: Option<Option<String>>,
    /// Avatar URL.
    pub avatar_url: Option<Option<String>>,
}

/// A validated profile update (same `None` / `Some(None)` / `Some(Some(_))` meaning as
/// [`ProfileInput`]). Built only by [`ProfileUpdate::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileUpdate {
    /// Username.
    pub username: Option<Option<Username>>,
    /// Full name.
    pub full_name: Option<Option<String>>,
    /// Display name.
    pub display_name: Option<Option<String>>,
    /// Work description.
    pub work_description: Option<Option<String>>,
    /// Bio.
    pub bio: Option<Option<String>>,
    /// Avatar URL.
    pub avatar_url: Option<Option<String>>,
}

impl ProfileUpdate {
    /// Validates every field, reporting all invalid ones at once.
    pub fn parse(input: ProfileInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut field = |value: Option<Option<String>>,
                         check: &dyn Fn(&str) -> Result<String, FieldError>|
         -> Option<Option<String>> {
            match value {
                None => None,
                Some(None) => Some(None),
                Some(Some(text)) if text.trim().is_empty() => Some(None),
                Some(Some(text)) => match check(&text) {
                    Ok(valid) => Some(Some(valid)),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                },
            }
        };
        let username = field(input.username, &|t| Username::new(t).map(String::from));
        let full_name = field(input.full_name, &|t| {
            text::bounded("full_name", t, 1, 255, false)
        });
        let display_name = field(input.display_name, &|t| {
            text::bounded("display_name", t, 1, 100, false)
        });
        let work_description = field(input.work_description, &|t| {
            text::bounded("work_description", t, 1, 255, false)
        });
        let bio = field(input.bio, &|t| text::bounded("bio", t, 1, 5000, true));
        let avatar_url = field(input.avatar_url, &|t| text::http_url("avatar_url", t));
        if !errors.is_empty() {
            return Err(errors);
        }
        // Already validated above, so this conversion cannot fail.
        let username = username.map(|u| u.and_then(|u| Username::new(u).ok()));
        Ok(Self {
            username,
            full_name,
            display_name,
            work_description,
            bio,
            avatar_url,
        })
    }

    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The row to create for a user seen for the first time (or the fields to refresh on a known
/// one) from a verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Firebase uid.
    pub firebase_uid: FirebaseUid,
    /// Email.
    pub email: Email,
    /// Email verified according to the identity provider.
    pub email_verified: bool,
    /// Sign-in method.
    pub auth_provider: AuthProvider,
    /// Initial full name, from the identity's `name` when valid.
    pub full_name: Option<String>,
    /// Initial avatar, from the identity's `picture` when a valid URL.
    pub avatar_url: Option<String>,
}

impl NewUser {
    /// Builds the row from a verified identity; unusable optional claims are dropped rather than
    /// failing sign-in.
    pub fn from_identity(identity: &VerifiedIdentity) -> Self {
        Self {
            firebase_uid: identity.firebase_uid.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            auth_provider: identity.auth_provider.clone(),
            full_name: identity
                .name
                .as_deref()
                .and_then(|n| text::bounded("full_name", n, 1, 255, false).ok()),
            avatar_url: identity
                .picture
                .as_deref()
                .and_then(|u| text::http_url("avatar_url", u).ok()),
        }
    }
}

#[cfg(test)]
mod tests;

//! `/v1/me`: the caller's profile, its changes and email verification.

use chrono::{DateTime, Utc};
use multivio_domain::quota::Quota;
use multivio_domain::user::User;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{QuotaDto, present};
use super::rules;

/// The caller's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// User id.
    pub id: i32,
    /// Email.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// How the user signs in.
    pub auth_provider: String,
    /// Username (unique).
    pub username: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Work description.
    pub work_description: Option<String>,
    /// Bio.
    pub bio: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Whether the account is active.
    pub is_active: bool,
    /// Whether the account is verified.
    pub is_verified: bool,
    /// Subscription status (`free`, `active`…).
    pub subscription_status: String,
    /// End of the paid period.
    pub subscription_end_date: Option<DateTime<Utc>>,
    /// The plan.
    pub plan: PlanDto,
    /// The monthly post quota.
    pub quota: QuotaDto,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDto {
    /// Plan name (`free`, `pro`…).
    pub name: String,
    /// Posts per month.
    pub monthly_post_quota: u32,
}

impl MeResponse {
    /// The profile of `user` with its current quota.
    pub fn of(user: &User, quota: &Quota) -> Self {
        let p = &user.profile;
        Self {
            id: user.id.0,
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            auth_provider: user.auth_provider.as_str().to_owned(),
            username: p.username.as_ref().map(|u| u.as_str().to_owned()),
            full_name: p.full_name.clone(),
            display_name: p.display_name.clone(),
            work_description: p.work_description.clone(),
            bio: p.bio.clone(),
            avatar_url: p.avatar_url.clone(),
            is_active: user.is_active,
            is_verified: user.is_verified,
            subscription_status: user.subscription.status.as_str().to_owned(),
            subscription_end_date: user.subscription.end_date,
            plan: PlanDto {
                name: user.subscription.plan_name.as_str().to_owned(),
                monthly_post_quota: quota.monthly_post_quota,
            },
            quota: quota.into(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Profile fields to change: an absent field is kept, `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Username (3–30 of `a-z 0-9 _ . -`).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::username)]
    pub username: Option<Option<String>>,
    /// Full name.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::full_name)]
    pub full_name: Option<Option<String>>,
    /// Display name.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::display_name)]
    pub display_name: Option<Option<String>>,
    /// Work description.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::work_description)]
    pub work_description: Option<Option<String>>,
    /// Bio.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::bio)]
    pub bio: Option<Option<String>>,
    /// Avatar URL (http or https).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::avatar_url)]
    pub avatar_url: Option<Option<String>>,
}

impl ProfilePatch {
    /// The domain's input.
    pub fn into_input(self) -> multivio_domain::user::ProfileInput {
        multivio_domain::user::ProfileInput {
            username: self.username,
            full_name: self.full_name,
            display_name: self.display_name,
            work_description: self.work_description,
            bio: self.bio,
            avatar_url: self.avatar_url,
        }
    }
}

/// An email verification token from the link that was mailed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    /// The token.
    #[schema(schema_with = rules::token)]
    pub token: String,
}

/// The query of the page a mailed verification link opens.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConfirmPageQuery {
    /// The mailed token.
    #[param(min_length = 1)]
    pub token: String,
}

redacted_debug!(ConfirmEmailRequest { ; token });
redacted_debug!(ConfirmPageQuery { ; token });

//! `/v1/me` and email verification.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use multivio_domain::Secret;

use super::json;
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{ConfirmEmailRequest, MeResponse, ProfilePatch, StatusResponse};
use crate::error::ApiError;

/// The caller's profile, plan and quota.
#[utoipa::path(get, path = "/v1/me", tag = "users",
    responses((status = 200, body = MeResponse), (status = 401, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let me = state.services.users.me(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &MeResponse::of(&me.user, &me.quota)))
}

/// Updates profile fields (409 when the username is taken).
#[utoipa::path(patch, path = "/v1/me", tag = "users", request_body = ProfilePatch,
    responses((status = 200, body = MeResponse), (status = 409, body = crate::dto::ProblemDoc),
        (status = 422, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn patch_me(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let users = &state.services.users;
    users
        .update_profile(&caller.tenant, body.into_inner().into_input())
        .await?;
    let me = users.me(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &MeResponse::of(&me.user, &me.quota)))
}

/// Deletes the account and everything it owns.
#[utoipa::path(delete, path = "/v1/me", tag = "users",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    // The files' bytes first: the rows go with the user, the bytes would not.
    state.services.media.delete_all(&caller.tenant).await?;
    state.services.users.delete_account(&caller.tenant).await?;
    state.tenants.forget(caller.tenant.firebase_uid.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// Sends (or re-sends, throttled) the email verification mail.
#[utoipa::path(post, path = "/v1/me/email-verification", tag = "users",
    responses((status = 202, body = StatusResponse), (status = 409, body = crate::dto::ProblemDoc),
        (status = 429, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn send_verification(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .users
        .send_verification(&caller.tenant)
        .await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &StatusResponse {
            status: "sent".into(),
        },
    ))
}

/// Confirms an email address with the mailed token (no bearer token needed).
#[utoipa::path(post, path = "/v1/email-verification/confirm", tag = "users",
    request_body = ConfirmEmailRequest,
    responses((status = 200, body = StatusResponse), (status = 404, body = crate::dto::ProblemDoc)))]
pub async fn confirm_email(
    state: web::Data<AppState>,
    body: web::Json<ConfirmEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = Secret::new(body.into_inner().token);
    state.services.users.confirm_email(&token).await?;
    Ok(json(
        StatusCode::OK,
        &StatusResponse {
            status: "verified".into(),
        },
    ))
}

//! `/v1/subscription` and `/v1/billing/*`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::json;
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{CheckoutRequest, SubscriptionDto, UrlResponse};
use crate::error::ApiError;

/// Plan, status, end date, quota and history.
#[utoipa::path(get, path = "/v1/subscription", tag = "billing",
    responses((status = 200, body = SubscriptionDto)), security(("bearer" = [])))]
pub async fn subscription(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let view = state.services.billing.subscription(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &SubscriptionDto::from(&view)))
}

/// A checkout page for a plan (501 when billing is not configured).
#[utoipa::path(post, path = "/v1/billing/checkout", tag = "billing", request_body = CheckoutRequest,
    responses((status = 200, body = UrlResponse), (status = 422, body = crate::dto::ProblemDoc),
        (status = 501, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn checkout(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let url = state
        .services
        .billing
        .checkout(&caller.tenant, &body.into_inner().plan)
        .await?;
    Ok(json(StatusCode::OK, &UrlResponse { url }))
}

/// The billing portal (501 when billing is not configured).
#[utoipa::path(post, path = "/v1/billing/portal", tag = "billing",
    responses((status = 200, body = UrlResponse), (status = 501, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn portal(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let url = state.services.billing.portal(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &UrlResponse { url }))
}

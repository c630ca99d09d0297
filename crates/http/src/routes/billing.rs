//! `/v1/subscription`, `/v1/billing/*` and Stripe's webhook.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use multivio_app::billing::BillingReport;

use super::json;
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{CheckoutRequest, SubscriptionDto, UrlResponse, WebhookAck};
use crate::error::ApiError;
use crate::input::Body;

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
    responses((status = 200, body = UrlResponse),
        (status = 409, description = "- `conflict`: already subscribed — a paid plan in force, or a subscription Stripe holds for the customer that has not ended (plan changes go through the portal)\n- `conflict`: the billing state changed meanwhile"),
        (status = 422, description = "- `validation-failed`: a plan this deployment does not sell"),
        (status = 501, description = "- `not-configured`: billing is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn checkout(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CheckoutRequest>,
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
    responses((status = 200, body = UrlResponse),
        (status = 409, description = "- `conflict`: no billing account yet (subscribe first)"),
        (status = 501, description = "- `not-configured`: billing is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn portal(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let url = state.services.billing.portal(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &UrlResponse { url }))
}

/// Stripe's events (no bearer token: the `Stripe-Signature` header is verified over the raw
/// body). 200 once the event is applied, was applied before, or has nothing to apply; 400 when
/// the signature is missing, wrong or expired, or the event cannot be read (nothing changes);
/// 5xx when it could not be applied, so that Stripe delivers it again.
#[utoipa::path(post, path = "/v1/webhooks/stripe", tag = "billing",
    request_body(content = String, content_type = "application/json",
        description = "The event, as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, body = WebhookAck),
        (status = 400, description = "- `unverified`: the signature is missing, wrong or expired, or the event cannot be read (nothing changes)"),
        (status = 409, description = "- `conflict`: the user's billing state kept changing while the event was applied (nothing half-applied); Stripe delivers it again"),
        (status = 413, description = "- `payload-too-large`: a body over 1 MiB"),
        (status = 501, description = "- `not-configured`: billing webhooks are not configured in this deployment"),
        (status = 503, description = "- `unavailable`: the event could not be applied (nothing half-applied); Stripe delivers it again")))]
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let report = state
        .services
        .billing
        .receive_webhook(&body, signature)
        .await?;
    let outcome = match report {
        BillingReport::Applied => "applied",
        BillingReport::AlreadyProcessed => "already_processed",
        BillingReport::Ignored(_) => "ignored",
    };
    Ok(json(
        StatusCode::OK,
        &WebhookAck {
            received: true,
            outcome: outcome.to_owned(),
        },
    ))
}

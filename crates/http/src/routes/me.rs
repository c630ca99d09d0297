//! `/v1/me` and email verification.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use multivio_app::AppError;
use multivio_domain::Secret;
use multivio_domain::escape_html;

use super::{json, parse_json};
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{ConfirmEmailRequest, ConfirmPageQuery, MeResponse, ProfilePatch, StatusResponse};
use crate::error::ApiError;
use crate::input::{Body, Query};

/// The caller's profile, plan and quota.
#[utoipa::path(get, path = "/v1/me", tag = "users",
    responses((status = 200, body = MeResponse)),
    security(("bearer" = [])))]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let me = state.services.users.me(&caller.tenant).await?;
    Ok(json(StatusCode::OK, &MeResponse::of(&me.user, &me.quota)))
}

/// Updates profile fields (409 when the username is taken).
#[utoipa::path(patch, path = "/v1/me", tag = "users", request_body = ProfilePatch,
    responses((status = 200, body = MeResponse),
        (status = 409, description = "- `conflict`: the username is taken")),
    security(("bearer" = [])))]
pub async fn patch_me(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<ProfilePatch>,
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
    responses((status = 204, description = "The account and everything it owns are deleted"),
        (status = 409, description = "- `conflict`: a subscription has not ended (paying, or unpaid, paused or incomplete); cancel it in the billing portal first")),
    security(("bearer" = [])))]
pub async fn delete_me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    // Nothing goes while a subscription has not ended (409); then the files' bytes first: the rows
    // go with the user, the bytes would not.
    state
        .services
        .users
        .ensure_deletable(&caller.tenant)
        .await?;
    state.services.media.delete_all(&caller.tenant).await?;
    state.services.users.delete_account(&caller.tenant).await?;
    state.tenants.forget(caller.tenant.firebase_uid.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// Sends (or re-sends, throttled) the email verification mail.
#[utoipa::path(post, path = "/v1/me/email-verification", tag = "users",
    responses((status = 202, body = StatusResponse),
        (status = 409, description = "- `conflict`: the address is already verified, a mail is being sent, the account has no address (a phone sign-in), or its address cannot be written in a mail"),
        (status = 429, description = "- `rate-limited`: a mail was sent moments ago, or today's mails are used up")),
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

/// Confirms an email address with the mailed token (no bearer token needed). JSON
/// (`{"token": …}`) answers JSON; the form of the page the mailed link opens
/// (`application/x-www-form-urlencoded`) answers a page.
#[utoipa::path(post, path = "/v1/email-verification/confirm", tag = "users",
    request_body(content(
        (ConfirmEmailRequest = "application/json"),
        (ConfirmEmailRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The address is verified", content(
            (StatusResponse = "application/json"),
            (String = "text/html"))),
        (status = 404, description = "- the form's token is not valid (used, expired or unknown): a page saying so", content(
            (String = "text/html"))),
        (status = 422, description = "- `validation-failed`: the token is invalid, used or expired")))]
pub async fn confirm_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if is_form(&req) {
        let token = std::str::from_utf8(&body)
            .ok()
            .and_then(|b| web::Query::<ConfirmEmailRequest>::from_query(b).ok())
            .map(|q| q.into_inner().token);
        let confirmed = match token {
            Some(token) => state
                .services
                .users
                .confirm_email(&Secret::new(token))
                .await
                .map(|_| true)
                .or_else(|e| match e {
                    AppError::NotFound(_) | AppError::Invalid(_) => Ok(false),
                    other => Err(other),
                })?,
            None => false,
        };
        return Ok(if confirmed {
            page(
                StatusCode::OK,
                "Email address confirmed",
                "<p>Your email address is confirmed. You can close this page.</p>",
            )
        } else {
            page(
                StatusCode::NOT_FOUND,
                "Link not valid",
                "<p>This link is not valid: it was already used, or it expired. Ask for a new \
                 one from your profile.</p>",
            )
        });
    }
    let dto: ConfirmEmailRequest = parse_json(&req, &body)?;
    state
        .services
        .users
        .confirm_email(&Secret::new(dto.token))
        .await?;
    Ok(json(
        StatusCode::OK,
        &StatusResponse {
            status: "verified".into(),
        },
    ))
}

/// The page a mailed verification link opens: one button that confirms. Opening the link
/// changes nothing — mail scanners open links, and the token works once.
#[utoipa::path(get, path = "/v1/email-verification/confirm", tag = "users",
    params(ConfirmPageQuery),
    responses((status = 200, description = "An HTML page with the confirm button", content_type = "text/html", body = String)))]
pub async fn confirm_email_page(query: Query<ConfirmPageQuery>) -> HttpResponse {
    let token = query.into_inner().token;
    page(
        StatusCode::OK,
        "Confirm your email address",
        &format!(
            "<p>Confirm this email address for your Multivio account.</p>\
             <form method=\"post\" action=\"confirm\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">Confirm my email address</button></form>",
            escape_html(&token)
        ),
    )
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A minimal page of this server's own: no script, no outside resources, never cached or
/// framed, sending no referrer (the URL carries a token).
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            "text/html; charset=utf-8",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Multivio</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
             button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>\
             <body><h1>{title}</h1>{body}</body></html>"
        ))
}

//! `/v1/connections`: connected platform accounts.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, LOCATION, REFERRER_POLICY};
use actix_web::{HttpResponse, web};
use multivio_app::AppError;
use multivio_domain::{ConnectionId, Provider, Secret};
use multivio_ports::platform::LoginRequest;
use uuid::Uuid;

use super::json;
use crate::caller::Caller;
use crate::dto::{
    AuthorizeRequest, AuthorizeResponse, CallbackQuery, CallbackResponse, CompleteRequest,
    ConnectionDto, ConnectionList, ConnectionPatch, CredentialConnectRequest, OAuth1CallbackQuery,
    OAuth1CallbackResponse, OAuth1CompleteRequest, PlatformName,
};
use crate::error::{ApiError, invalid};
use crate::input::{Body, OptionalBody, Path, RedirectQuery};
use crate::problem::ProblemType;
use crate::rate_limit::Action;
use crate::{AppState, Problem};

fn provider(name: &str) -> Result<Provider, ApiError> {
    PlatformName::parse(name).ok_or_else(|| ApiError(Problem::not_found("unknown platform")))
}

/// The caller's connections (never their tokens).
#[utoipa::path(get, path = "/v1/connections", tag = "connections",
    responses((status = 200, body = ConnectionList)), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let conns = state.services.connections.list(&caller.tenant).await?;
    Ok(json(
        StatusCode::OK,
        &ConnectionList {
            items: conns.iter().map(ConnectionDto::from).collect(),
        },
    ))
}

/// Renames a connection.
#[utoipa::path(patch, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")), request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionDto),
        (status = 404, description = "- `not-found`: no such connection")),
    security(("bearer" = [])))]
pub async fn rename(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    body: Body<ConnectionPatch>,
) -> Result<HttpResponse, ApiError> {
    let conn = state
        .services
        .connections
        .rename(
            &caller.tenant,
            ConnectionId(*id),
            body.into_inner().account_label,
        )
        .await?;
    Ok(json(StatusCode::OK, &ConnectionDto::from(&conn)))
}

/// Makes a connection its provider's primary (the old primary is demoted).
#[utoipa::path(post, path = "/v1/connections/{id}/primary", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionDto),
        (status = 404, description = "- `not-found`: no such connection"),
        (status = 409, description = "- `conflict`: the provider's accounts changed concurrently; try again")),
    security(("bearer" = [])))]
pub async fn make_primary(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let conn = state
        .services
        .connections
        .set_primary(&caller.tenant, ConnectionId(*id))
        .await?;
    Ok(json(StatusCode::OK, &ConnectionDto::from(&conn)))
}

/// Disconnects an account (another one of the provider becomes primary if needed).
#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 204, description = "Disconnected"),
        (status = 404, description = "- `not-found`: no such connection"),
        (status = 409, description = "- `conflict`: the provider's accounts changed concurrently; try again")),
    security(("bearer" = [])))]
pub async fn disconnect(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .connections
        .disconnect(&caller.tenant, ConnectionId(*id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts an OAuth authorisation: answers the platform's authorisation URL.
#[utoipa::path(post, path = "/v1/connections/{provider}/authorize", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform")),
    request_body(content = Option<AuthorizeRequest>, description = "Optional", content_type = "application/json"),
    responses((status = 200, body = AuthorizeResponse),
        (status = 422, description = "- `validation-failed`: `return_to` is not a page of an allowed web client origin, or the platform needs a `server_url` it cannot use\n- `platform-rejected`: the platform's server refused the registration"),
        (status = 409, description = "- `reconnect-required`: the platform refused the credentials or the grant"),
        (status = 429, description = "- `too-many-requests`: 10 connections a minute\n- `rate-limited`: the platform's own rate limit"),
        (status = 501, description = "- `not-configured`: the platform is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn authorize(
    state: web::Data<AppState>,
    caller: Caller,
    name: Path<String>,
    body: OptionalBody<AuthorizeRequest>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    caller.limit(&state, Action::Connect)?;
    let (return_to, server_url) = body
        .0
        .map(|b| (b.return_to, b.server_url))
        .unwrap_or_default();
    if let Some(url) = &return_to
        && !state.config.allows_return_to(url)
    {
        return Err(invalid(
            "return_to",
            "must be a URL of an allowed web client origin",
        ));
    }
    let url = state
        .services
        .connections
        .start_authorization(&caller.tenant, provider, return_to, server_url)
        .await?;
    Ok(json(
        StatusCode::OK,
        &AuthorizeResponse {
            authorization_url: url,
        },
    ))
}

/// Percent-encodes a value for a URL fragment or query.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The platform's redirect back. It completes nothing — the browser that arrives here may not
/// belong to the user who started the flow — and hands `code` and `state` to the web client
/// (in the fragment of `return_to`, so no server logs them), which completes the connection
/// with `POST /v1/connections/{provider}/complete` as the signed-in user.
#[utoipa::path(get, path = "/v1/connections/{provider}/callback", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform"), CallbackQuery),
    responses((status = 303, description = "To the web client, `#provider=…&code=…&state=…`",
            headers(("Location" = String, description = "`return_to` with the values in its fragment"))),
        (status = 200, body = CallbackResponse, description = "When no `return_to` was given"),
        (status = 400, description = "- `authorization-failed`: refused, or a state that is invalid, expired or used")))]
pub async fn callback(
    state: web::Data<AppState>,
    name: Path<String>,
    query: RedirectQuery<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    let q = query.into_inner();
    if let Some(error) = q.error {
        tracing::info!(
            provider = provider.as_str(),
            error,
            "the platform refused the authorization"
        );
        return Err(refused("the platform did not authorize the connection"));
    }
    let (Some(code), Some(state_param)) = (q.code, q.state) else {
        return Err(refused("code and state are required"));
    };
    let destination = state
        .services
        .connections
        .callback_destination(provider, &Secret::new(state_param.clone()))
        .await
        .map_err(|e| match e {
            AppError::Invalid(_) => {
                refused("the authorization is invalid, expired or already used")
            }
            other => other.into(),
        })?;
    let fragment = format!(
        "provider={}&code={}&state={}",
        provider.as_str(),
        encode(&code),
        encode(&state_param)
    );
    Ok(hand_over(destination, &fragment, || {
        json(
            StatusCode::OK,
            &CallbackResponse {
                provider: provider.as_str().to_owned(),
                code,
                state: state_param,
                complete_with: format!("POST /v1/connections/{}/complete", provider.as_str()),
            },
        )
    }))
}

/// Hands a callback's one-time values to the web client: a redirect to `destination` with
/// them in the fragment, or (without one) the JSON `answer`. Never cached, never sent on as a
/// referrer.
fn hand_over(
    destination: Option<String>,
    fragment: &str,
    answer: impl FnOnce() -> HttpResponse,
) -> HttpResponse {
    let mut response = match destination {
        Some(to) => {
            let separator = if to.contains('#') { '&' } else { '#' };
            HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("{to}{separator}{fragment}")))
                .finish()
        }
        None => answer(),
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Completes an OAuth connection started by the caller: `code` and `state` from the
/// callback. Another user's `state` is refused (400) without calling the platform.
#[utoipa::path(post, path = "/v1/connections/{provider}/complete", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform")), request_body = CompleteRequest,
    responses((status = 201, body = ConnectionList),
        (status = 400, description = "- `authorization-failed`: a state that is invalid, expired, used or another user's"),
        (status = 422, description = "- `platform-rejected`: the platform refused the code"),
        (status = 409, description = "- `reconnect-required`: the platform refused the credentials or the grant"),
        (status = 429, description = "- `too-many-requests`: 10 connections a minute\n- `rate-limited`: the platform's own rate limit"),
        (status = 501, description = "- `not-configured`: the platform is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn complete(
    state: web::Data<AppState>,
    caller: Caller,
    name: Path<String>,
    body: Body<CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    caller.limit(&state, Action::Connect)?;
    let body = body.into_inner();
    let connected = state
        .services
        .connections
        .complete_authorization(
            &caller.tenant,
            provider,
            &Secret::new(body.state),
            &Secret::new(body.code),
        )
        .await
        .map_err(|e| match e {
            // A missing, forged, replayed, expired or someone else's state: the token
            // endpoint was not called.
            AppError::Invalid(_) => {
                refused("the authorization is invalid, expired or already used")
            }
            other => other.into(),
        })?;
    Ok(json(
        StatusCode::CREATED,
        &ConnectionList {
            items: connected
                .connections
                .iter()
                .map(ConnectionDto::from)
                .collect(),
        },
    ))
}

/// Starts adding OAuth 1.0a tokens (media uploads) to an X connection: answers the page where
/// the account owner approves. `return_to` as for the OAuth 2.0 flow.
#[utoipa::path(post, path = "/v1/connections/{id}/oauth1/authorize", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    request_body(content = Option<AuthorizeRequest>, description = "Optional (`server_url` is not used)", content_type = "application/json"),
    responses((status = 200, body = AuthorizeResponse),
        (status = 404, description = "- `not-found`: no such connection"),
        (status = 422, description = "- `validation-failed`: `return_to` is not a page of an allowed web client origin, or the connection is not an X account\n- `platform-rejected`: the platform refused"),
        (status = 409, description = "- `reconnect-required`: the platform refused the credentials or the grant"),
        (status = 429, description = "- `too-many-requests`: 10 connections a minute\n- `rate-limited`: the platform's own rate limit"),
        (status = 501, description = "- `not-configured`: OAuth 1.0a is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn oauth1_authorize(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    body: OptionalBody<AuthorizeRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Connect)?;
    let return_to = body.0.and_then(|b| b.return_to);
    if let Some(url) = &return_to
        && !state.config.allows_return_to(url)
    {
        return Err(invalid(
            "return_to",
            "must be a URL of an allowed web client origin",
        ));
    }
    let url = state
        .services
        .connections
        .start_oauth1(&caller.tenant, ConnectionId(*id), return_to)
        .await?;
    Ok(json(
        StatusCode::OK,
        &AuthorizeResponse {
            authorization_url: url,
        },
    ))
}

/// The platform's redirect after an OAuth 1.0a approval. Like the OAuth 2.0 callback it
/// completes nothing: it hands `oauth_token` and `oauth_verifier` to the web client, which
/// completes with `POST /v1/connections/{provider}/oauth1/complete` as the signed-in user.
#[utoipa::path(get, path = "/v1/connections/{provider}/oauth1/callback", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform"), OAuth1CallbackQuery),
    responses((status = 303, description = "To the web client, `#provider=…&oauth_token=…&oauth_verifier=…`",
            headers(("Location" = String, description = "`return_to` with the values in its fragment"))),
        (status = 200, body = OAuth1CallbackResponse, description = "When no `return_to` was given"),
        (status = 400, description = "- `authorization-failed`: refused, or a token that is invalid, expired or used")))]
pub async fn oauth1_callback(
    state: web::Data<AppState>,
    name: Path<String>,
    query: RedirectQuery<OAuth1CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    let q = query.into_inner();
    if q.denied.is_some() {
        return Err(refused("the account owner did not approve"));
    }
    let (Some(token), Some(verifier)) = (q.oauth_token, q.oauth_verifier) else {
        return Err(refused("oauth_token and oauth_verifier are required"));
    };
    let destination = state
        .services
        .connections
        .callback_destination(provider, &Secret::new(token.clone()))
        .await
        .map_err(|e| match e {
            AppError::Invalid(_) => refused("the approval is invalid, expired or already used"),
            other => other.into(),
        })?;
    let fragment = format!(
        "provider={}&oauth_token={}&oauth_verifier={}",
        provider.as_str(),
        encode(&token),
        encode(&verifier)
    );
    Ok(hand_over(destination, &fragment, || {
        json(
            StatusCode::OK,
            &OAuth1CallbackResponse {
                provider: provider.as_str().to_owned(),
                oauth_token: token,
                oauth_verifier: verifier,
                complete_with: format!(
                    "POST /v1/connections/{}/oauth1/complete",
                    provider.as_str()
                ),
            },
        )
    }))
}

/// Completes an OAuth 1.0a approval started by the caller: the connection gets the account's
/// media-upload tokens (sealed; never answered). Another user's token is refused (400)
/// without calling the platform.
#[utoipa::path(post, path = "/v1/connections/{provider}/oauth1/complete", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform")),
    request_body = OAuth1CompleteRequest,
    responses((status = 200, body = ConnectionDto),
        (status = 400, description = "- `authorization-failed`: a token that is invalid, expired, used or another user's"),
        (status = 422, description = "- `validation-failed`, `platform-rejected`: the approval came from another account than the connection's, or the platform refused"),
        (status = 409, description = "- `reconnect-required`: the platform refused the credentials or the grant"),
        (status = 429, description = "- `too-many-requests`: 10 connections a minute\n- `rate-limited`: the platform's own rate limit"),
        (status = 501, description = "- `not-configured`: OAuth 1.0a is not configured in this deployment")),
    security(("bearer" = [])))]
pub async fn oauth1_complete(
    state: web::Data<AppState>,
    caller: Caller,
    name: Path<String>,
    body: Body<OAuth1CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    caller.limit(&state, Action::Connect)?;
    let body = body.into_inner();
    let connected = state
        .services
        .connections
        .complete_oauth1(
            &caller.tenant,
            provider,
            &body.oauth_token,
            &Secret::new(body.oauth_verifier),
        )
        .await
        .map_err(|e| match e {
            AppError::Invalid(_) => refused("the approval is invalid, expired or already used"),
            other => other.into(),
        })?;
    let connection = connected
        .connections
        .first()
        .ok_or_else(|| ApiError::from(AppError::NotFound("connection")))?;
    Ok(json(StatusCode::OK, &ConnectionDto::from(connection)))
}

fn refused(detail: &str) -> ApiError {
    ApiError(Problem::of(
        ProblemType::AuthorizationFailed,
        StatusCode::BAD_REQUEST,
        detail,
    ))
}

/// Connects a platform that signs in with credentials (Bluesky app password, Mastodon…).
#[utoipa::path(post, path = "/v1/connections/{provider}", tag = "connections",
    params(("provider" = PlatformName, Path, description = "Platform")), request_body = CredentialConnectRequest,
    responses((status = 201, body = ConnectionList),
        (status = 422, description = "- `platform-rejected`: the platform refused the credentials or the server\n- `validation-failed`: a `server_url` that cannot be used"),
        (status = 409, description = "- `reconnect-required`: the platform refused the credentials or the grant"),
        (status = 429, description = "- `too-many-requests`: 10 connections a minute\n- `rate-limited`: the platform's own rate limit"),
        (status = 501, description = "- `not-configured`: the platform does not sign in with credentials in this deployment")),
    security(("bearer" = [])))]
pub async fn connect_with_credentials(
    state: web::Data<AppState>,
    caller: Caller,
    name: Path<String>,
    body: Body<CredentialConnectRequest>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    caller.limit(&state, Action::Connect)?;
    let body = body.into_inner();
    let conns = state
        .services
        .connections
        .connect_with_credentials(
            &caller.tenant,
            provider,
            LoginRequest {
                identifier: body.identifier,
                password: Secret::new(body.password),
                server_url: body.server_url,
            },
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &ConnectionList {
            items: conns.iter().map(ConnectionDto::from).collect(),
        },
    ))
}

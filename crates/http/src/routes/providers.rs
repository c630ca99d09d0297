//! `/v1/providers`: what this deployment can connect and publish to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use multivio_domain::Provider;
use multivio_domain::content::{ValidationOptions, limits};

use super::json;
use crate::AppState;
use crate::caller::Caller;
use crate::dto::ProviderDto;
use crate::error::ApiError;

/// Every supported platform, whether it is configured here, and its limits.
#[utoipa::path(get, path = "/v1/providers", tag = "connections",
    responses((status = 200, body = [ProviderDto])), security(("bearer" = [])))]
pub async fn list_providers(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let platforms = &state.services.platforms;
    let opts = ValidationOptions::default();
    let list: Vec<ProviderDto> = Provider::ALL
        .into_iter()
        .map(|p| {
            // A platform signed in with credentials may still refresh through OAuthClient.
            let connect_with = if platforms.credential_login(p).is_some() {
                Some("credentials".to_owned())
            } else if platforms.oauth(p).is_some() {
                Some("oauth".to_owned())
            } else {
                None
            };
            let sandbox = platforms.sandbox(p);
            ProviderDto {
                provider: p.as_str().to_owned(),
                display_name: p.display_name().to_owned(),
                configured: connect_with.is_some() && platforms.publisher(p).is_some(),
                connect_with,
                sandbox: sandbox.is_some(),
                sandbox_server_url: sandbox,
                limits: serde_json::to_value(limits(p, &opts)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

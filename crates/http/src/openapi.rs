//! The OpenAPI 3.1 document (`/openapi.json`) and the interactive docs (`/docs`, Swagger UI
//! served from assets compiled into the binary: it works with no network).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::dto;
use crate::routes::{billing, connections, me, media, posts, providers};

/// Multivio's HTTP API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Multivio API",
        description = "Write a post once, publish it to every connected social account, now or on a schedule.",
        version = "1"
    ),
    paths(
        me::get_me, me::patch_me, me::delete_me, me::send_verification, me::confirm_email, me::confirm_email_page,
        providers::list_providers,
        connections::list, connections::rename, connections::make_primary, connections::disconnect,
        connections::authorize, connections::callback, connections::complete, connections::connect_with_credentials,
        connections::oauth1_authorize, connections::oauth1_callback, connections::oauth1_complete,
        posts::list, posts::create, posts::get, posts::edit, posts::delete, posts::validate,
        posts::schedule, posts::publish, posts::cancel, posts::retry, posts::review,
        media::list, media::upload, media::get, media::edit, media::delete,
        billing::subscription, billing::checkout, billing::portal, billing::stripe_webhook,
    ),
    components(schemas(dto::ProblemDoc, dto::FieldErrorDoc)),
    modifiers(&BearerAuth),
    tags(
        (name = "users", description = "The caller's profile"),
        (name = "connections", description = "Connected platform accounts"),
        (name = "posts", description = "Posts and publishing"),
        (name = "media", description = "Uploaded media"),
        (name = "billing", description = "Plan and quota"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("Firebase ID token")
                    .build(),
            ),
        );
    }
}

/// `/docs` and `/openapi.json`.
pub fn docs() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi())
}

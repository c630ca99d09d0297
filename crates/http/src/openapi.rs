//! The OpenAPI 3.1 document (`/openapi.json`) and the interactive docs (`/docs`, Swagger UI
//! served from assets compiled into the binary: it works with no network).
//!
//! Each handler's `#[utoipa::path]` states its successes and the errors of its own rules;
//! [`ErrorAnswers`] then adds, from the operation's shape, the answers every operation of
//! that shape gives (a bearer token: 401, 403; a JSON body: 400, 413, 415, 422; query and path
//! parameters; `Idempotency-Key`; 503), and gives every error answer the problem document
//! (`application/problem+json`, schema `Problem`) and `Retry-After` where it is sent.

use serde_json::{Value, json};
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
        description = "Write a post once, publish it to every connected social account, now or on a schedule. Errors are RFC 9457 problem documents (`application/problem+json`, schema `Problem`).",
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
    components(schemas(dto::ProblemDoc, dto::FieldErrorDoc, dto::PlatformName, dto::PostStatusName, dto::rules::JsonValue, dto::PlatformContentDto, dto::LinkedinContentDoc, dto::PinterestContentDoc, dto::TiktokContentDoc, dto::YoutubeContentDoc)),
    modifiers(&BearerAuth, &ErrorAnswers, &Links),
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

/// What a created resource's answer leads to (OpenAPI links, `$response.body` expressions):
/// the operations that can act on the created post, file or (first) connection, with its id.
/// Clients and API checkers follow them from the create to what acts on it. (Cancel and retry
/// are not among a post's: a new post has not been scheduled or failed.)
struct Links;

/// An operation a link leads to, with what a client should know first.
type LinkTarget = (&'static str, Option<&'static str>);

/// `(operation that creates, its answer's status, where the id is, operations that take it as
/// `id`)`.
const LINKS: &[(&str, &str, &str, &[LinkTarget])] = &[
    (
        "posts_create",
        "201",
        "/id",
        &[
            ("posts_get", None),
            ("posts_edit", None),
            ("posts_delete", None),
            ("posts_schedule", None),
            ("posts_publish", None),
        ],
    ),
    (
        "media_upload",
        "201",
        "/id",
        &[
            ("media_get", None),
            ("media_edit", None),
            ("media_delete", None),
        ],
    ),
    (
        "connections_connect_with_credentials",
        "201",
        "/items/0/id",
        &[
            ("connections_rename", None),
            ("connections_make_primary", None),
            ("connections_disconnect", None),
        ],
    ),
    (
        "connections_complete",
        "201",
        "/items/0/id",
        &[
            ("connections_rename", None),
            ("connections_make_primary", None),
            ("connections_disconnect", None),
            (
                "connections_oauth1_authorize",
                Some("X connections only: approve media uploads over OAuth 1.0a"),
            ),
        ],
    ),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else {
            return;
        };
        let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
            return;
        };
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
        {
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
            let Some((_, status, pointer, targets)) =
                LINKS.iter().find(|(creates, ..)| *creates == id)
            else {
                continue;
            };
            let links: serde_json::Map<String, Value> = targets
                .iter()
                .map(|(target, description)| {
                    let mut link = json!({
                        "operationId": target,
                        "parameters": {"id": format!("$response.body#{pointer}")},
                    });
                    if let Some(description) = description {
                        link["description"] = json!(description);
                    }
                    ((*target).to_owned(), link)
                })
                .collect();
            if let Some(answer) = op
                .pointer_mut(&format!("/responses/{status}"))
                .and_then(Value::as_object_mut)
            {
                answer.insert("links".to_owned(), Value::Object(links));
            }
        }
        if let Ok(done) = serde_json::from_value(doc) {
            *openapi = done;
        }
    }
}

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

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations that use no dependency (no 503).
const NO_DEPENDENCY: &[&str] = &["confirm_email_page"];

/// Adds the answers an operation gives by its shape, and the problem document to every error
/// answer (see the module's documentation).
struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else {
            return;
        };
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            for schema in schemas.values_mut() {
                open_free_form_objects(schema);
            }
        }
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            for item in paths.values_mut() {
                let Some(item) = item.as_object_mut() else {
                    continue;
                };
                for op in item.values_mut() {
                    complete_operation(op);
                    name_operation(op);
                }
            }
        }
        if let Ok(done) = serde_json::from_value(doc) {
            *openapi = done;
        }
    }
}

/// States `additionalProperties: true` on objects that name no properties (metadata, limits,
/// a platform's extra keys): any keys, as the server keeps them, rather than none, as
/// generators read an object without properties.
fn open_free_form_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let is_object = match map.get("type") {
                Some(Value::String(t)) => t == "object",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                _ => false,
            };
            if is_object
                && !map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".to_owned(), Value::Bool(true));
            }
            for (key, value) in map.iter_mut() {
                if !matches!(
                    key.as_str(),
                    "enum" | "const" | "example" | "examples" | "default"
                ) {
                    open_free_form_objects(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(open_free_form_objects),
        _ => {}
    }
}

/// Operation ids are unique in a document, and handlers of different resources share names
/// (`list`, `get`): the id is `<tag>_<handler>` (`posts_list`, `media_list`).
fn name_operation(op: &mut Value) {
    let tag = op
        .pointer("/tags/0")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let (Some(tag), Some(id)) = (tag, op.get("operationId").and_then(Value::as_str)) {
        let named = format!("{tag}_{id}");
        op["operationId"] = Value::String(named);
    }
}

/// One reason an operation answers a status.
type Cause = (u16, &'static str);

fn complete_operation(op: &mut Value) {
    let mut causes: Vec<Cause> = Vec::new();
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if secured {
        causes.push((
            401,
            "`missing-token`, `invalid-token`: no bearer token, or one that does not verify",
        ));
        causes.push((
            403,
            "`unusable-identity`: the token's identity has no usable subject or email",
        ));
        causes.push((403, "`forbidden`: the account is deactivated"));
        causes.push((
            409,
            "`conflict`: on the first request of a new account, the token's email is another account's",
        ));
        causes.push((
            503,
            "`auth-unavailable`: the identity provider's keys cannot be loaded",
        ));
    }
    // A body the server parses (not one it passes on verbatim, like Stripe's events).
    let dto_body = op
        .pointer("/requestBody/content/application~1json/schema")
        .is_some_and(|s| s.get("type").and_then(Value::as_str) != Some("string"));
    if dto_body {
        causes.push((
            400,
            "`malformed-json`, `invalid-body`: not JSON, or JSON of the wrong shape (unknown or missing fields, wrong types)",
        ));
        causes.push((413, "`payload-too-large`: a body over 1 MiB"));
        causes.push((
            415,
            "`unsupported-media-type`: a body that is not `application/json`",
        ));
        causes.push((
            422,
            "`validation-failed`: a value breaks a rule of the request schema; `errors` names each field",
        ));
    }
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |location: &str| {
        params
            .iter()
            .any(|p| p.get("in").and_then(Value::as_str) == Some(location))
    };
    if has("query") {
        causes.push((
            400,
            "`invalid-query`: a query string that does not parse (wrong type, unknown parameter)",
        ));
        causes.push((
            422,
            "`validation-failed`: a parameter breaks a rule of its schema; `errors` names it",
        ));
    }
    for p in params
        .iter()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
    {
        let schema = p.get("schema").cloned().unwrap_or(Value::Null);
        if schema.get("format").and_then(Value::as_str) == Some("uuid") {
            causes.push((400, "`invalid-path`: an id that is not a UUID"));
        }
        if schema.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/PlatformName") {
            causes.push((404, "`not-found`: an unknown platform"));
        }
    }
    let idempotent = params.iter().any(|p| {
        p.get("in").and_then(Value::as_str) == Some("header")
            && p.get("name").and_then(Value::as_str) == Some("Idempotency-Key")
    });
    if idempotent {
        causes.push((
            400,
            "`invalid-idempotency-key`: an `Idempotency-Key` that is not 1–255 visible ASCII characters",
        ));
        causes.push((
            409,
            "`idempotency-in-progress`: a request with the same `Idempotency-Key` is still running",
        ));
        causes.push((
            422,
            "`idempotency-key-reused`: the `Idempotency-Key` was used for another request",
        ));
    }
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !NO_DEPENDENCY.contains(&id) {
        causes.push((
            503,
            "`unavailable`: a dependency failed; retry after `Retry-After` seconds",
        ));
    }
    if idempotent && let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params
            .iter_mut()
            .filter(|p| p.get("name").and_then(Value::as_str) == Some("Idempotency-Key"))
        {
            if let Ok(schema) = serde_json::to_value(dto::rules::idempotency_key()) {
                p["schema"] = schema;
            }
        }
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (status, cause) in causes {
        let entry = responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": "" }));
        let description = entry
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let line = format!("- {cause}");
        if !description.lines().any(|l| l == line) {
            entry["description"] = Value::String(if description.is_empty() {
                line
            } else {
                format!("{description}\n{line}")
            });
        }
    }
    for (status, response) in responses.iter_mut() {
        let code: u16 = status.parse().unwrap_or(0);
        if response
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
        {
            let reason = actix_web::http::StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Answer");
            response["description"] = Value::String(reason.to_owned());
        }
        if code >= 400 {
            let content = response
                .as_object_mut()
                .map(|r| r.entry("content").or_insert_with(|| json!({})));
            if let Some(Value::Object(content)) = content {
                content.insert(
                    PROBLEM_JSON.to_owned(),
                    json!({ "schema": { "$ref": "#/components/schemas/Problem" } }),
                );
            }
        }
        if code == 429 || code == 503 {
            response["headers"]["Retry-After"] = json!({
                "description": "Seconds to wait before trying again",
                "schema": { "type": "integer", "minimum": 0 }
            });
        }
        if idempotent && (200..300).contains(&code) {
            response["headers"]["idempotent-replayed"] = json!({
                "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
                "schema": { "type": "string", "enum": ["true"] }
            });
        }
    }
}

/// `/docs` and `/openapi.json`.
pub fn docs() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi())
}

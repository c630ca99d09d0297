//! `/v1/posts`: write once, publish everywhere.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use multivio_domain::page::PageSize;
use multivio_domain::post::PostStatus;
use multivio_domain::{PostId, Provider};
use multivio_ports::posts::PostQuery;
use uuid::Uuid;

use super::{idempotent, json, parse_json};
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{
    PostCreate, PostDto, PostListQuery, PostPage, PostPatchDto, ReviewRequest, ScheduleRequest,
    ValidateRequest, ValidateResponse,
};
use crate::error::{ApiError, invalid};
use crate::input::{Body, Path, Query};
use crate::rate_limit::Action;

/// The caller's posts, newest first, keyset-paginated.
#[utoipa::path(get, path = "/v1/posts", tag = "posts", params(PostListQuery),
    responses((status = 200, body = PostPage),
        (status = 422, description = "- `validation-failed`: a cursor this API did not issue, or `from` after `to`")),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<PostListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<PostStatus>()
                .map_err(|_| invalid("status", "unknown status"))
        })
        .transpose()?;
    let platform = q
        .platform
        .as_deref()
        .map(|p| {
            p.parse::<Provider>()
                .map_err(|_| invalid("platform", "unknown platform"))
        })
        .transpose()?;
    let page = state
        .services
        .posts
        .list(
            &caller.tenant,
            PostQuery {
                status,
                platform,
                from: q.from,
                to: q.to,
                limit: PageSize::new(q.limit),
                cursor: q.cursor,
            },
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &PostPage {
            items: page.items.iter().map(PostDto::from).collect(),
            next_cursor: page.next_cursor,
        },
    ))
}

/// Creates a post: a draft, or scheduled when `schedule_date` is given (consumes quota).
/// Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/posts", tag = "posts", request_body = PostCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    responses((status = 201, body = PostDto),
        (status = 422, description = "- `validation-failed`: a rule of the core: an unknown media file or account, a platform selected both as its primary account and as accounts, a thread part without text or media; when scheduling: a date not in the future, a text or media a platform refuses as it counts them (`errors` names the part), no connected account for a platform"),
        (status = 429, description = "- `too-many-requests`: 120 drafts (30 scheduled posts) a minute\n- `quota-exceeded`: no posts left this month (with `schedule_date`)")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let dto: PostCreate = parse_json(&req, &body)?;
    caller.limit(
        &state,
        if dto.schedule_date.is_some() {
            Action::Publish
        } else {
            Action::Write
        },
    )?;
    let (input, schedule_date) = dto.into_input()?;
    let posts = &state.services.posts;
    idempotent(&state, &caller, &req, &body, StatusCode::CREATED, |claim| {
        posts.create(&caller.tenant, input, schedule_date, claim)
    })
    .await
}

/// One post with its per-platform results.
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id")),
    responses((status = 200, body = PostDto), (status = 404, description = "- `not-found`: no such post")),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let post = state
        .services
        .posts
        .get(&caller.tenant, PostId(*id))
        .await?;
    Ok(json(StatusCode::OK, &PostDto::from(&post)))
}

/// Edits a draft or scheduled post.
#[utoipa::path(patch, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id")), request_body = PostPatchDto,
    responses((status = 200, body = PostDto), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: the post is neither a draft, scheduled, nor failed without anything published\n- `conflict`: it changed meanwhile"),
        (status = 422, description = "- `validation-failed`: a rule of the core: an unknown media file or account, a platform selected both as its primary account and as accounts, a thread part without text or media; when scheduling: a date not in the future, a text or media a platform refuses as it counts them (`errors` names the part), no connected account for a platform")),
    security(("bearer" = [])))]
pub async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    body: Body<PostPatchDto>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner().into_patch()?;
    let post = state
        .services
        .posts
        .edit(&caller.tenant, PostId(*id), patch)
        .await?;
    Ok(json(StatusCode::OK, &PostDto::from(&post)))
}

/// Deletes a post (a scheduled post's jobs are cancelled and its quota unit refunded).
#[utoipa::path(delete, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: the post is being published\n- `conflict`: it changed meanwhile")),
    security(("bearer" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .posts
        .delete(&caller.tenant, PostId(*id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Dry run: per-platform counted length, limit and errors. Nothing is stored.
#[utoipa::path(post, path = "/v1/posts/validate", tag = "posts", request_body = PostCreate,
    responses((status = 200, body = ValidateResponse),
        (status = 422, description = "- `validation-failed`: a rule of the core: an unknown media file or account, a platform selected both as its primary account and as accounts, a thread part without text or media")),
    security(("bearer" = [])))]
pub async fn validate(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<ValidateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (input, schedule_date) = body.into_inner().into_input()?;
    let report = state
        .services
        .posts
        .validate(&caller.tenant, input, schedule_date)
        .await?;
    Ok(json(StatusCode::OK, &ValidateResponse::from(&report)))
}

/// Schedules a post for a future time (consumes quota once). Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/posts/{id}/schedule", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    request_body = ScheduleRequest,
    responses((status = 200, body = PostDto), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: the post's status does not allow scheduling\n- `conflict`: it changed meanwhile\n- `reconnect-required`: an account must be connected again"),
        (status = 422, description = "- `validation-failed`: a date not in the future, a text or media a platform refuses as it counts them (`errors` names the part), no connected account for a platform"),
        (status = 429, description = "- `too-many-requests`: 30 a minute\n- `quota-exceeded`: no posts left this month")),
    security(("bearer" = [])))]
pub async fn schedule(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Publish)?;
    let dto: ScheduleRequest = parse_json(&req, &body)?;
    let id = PostId(*id);
    let posts = &state.services.posts;
    idempotent(&state, &caller, &req, &body, StatusCode::OK, |claim| {
        posts.schedule(&caller.tenant, id, dto.schedule_date, claim)
    })
    .await
}

/// Publishes now (consumes quota once): answers 202 while workers publish to every target.
/// Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/posts/{id}/publish", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    responses((status = 202, body = PostDto), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: the post's status does not allow publishing\n- `conflict`: it changed meanwhile\n- `reconnect-required`: an account must be connected again"),
        (status = 422, description = "- `validation-failed`: a text or media a platform refuses as it counts them (`errors` names the part), no connected account for a platform"),
        (status = 429, description = "- `too-many-requests`: 30 a minute\n- `quota-exceeded`: no posts left this month")),
    security(("bearer" = [])))]
pub async fn publish(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Publish)?;
    let id = PostId(*id);
    let posts = &state.services.posts;
    idempotent(&state, &caller, &req, &[], StatusCode::ACCEPTED, |claim| {
        posts.publish_now(&caller.tenant, id, claim)
    })
    .await
}

/// Scheduled → draft, refunding the quota unit.
#[utoipa::path(post, path = "/v1/posts/{id}/cancel", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id")),
    responses((status = 200, body = PostDto), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: only a scheduled post can be cancelled\n- `conflict`: it changed meanwhile")),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let post = state
        .services
        .posts
        .cancel(&caller.tenant, PostId(*id))
        .await?;
    Ok(json(StatusCode::OK, &PostDto::from(&post)))
}

/// Resolves a target that needs review (a send was interrupted and the platform cannot tell
/// whether it went out): `published` records it as published (with its URL when given);
/// `resend` sends it again (a thread continues after its recorded parts). `target` is the key
/// of `publish_results`.
#[utoipa::path(post, path = "/v1/posts/{id}/targets/{target}/review", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id"),
        ("target" = String, Path, description = "The target's key in `publish_results`", pattern = "^[a-z0-9-]{1,64}$")),
    request_body = ReviewRequest,
    responses((status = 200, body = PostDto), (status = 404, description = "- `not-found`: no such post or target"),
        (status = 409, description = "- `illegal-transition`: the target does not need review\n- `conflict`: it changed meanwhile"),
        (status = 429, description = "- `too-many-requests`: 30 a minute")),
    security(("bearer" = [])))]
pub async fn review(
    state: web::Data<AppState>,
    caller: Caller,
    path: Path<(Uuid, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Publish)?;
    let (id, target) = path.into_inner();
    let dto: ReviewRequest = parse_json(&req, &body)?;
    let resolution = dto.into_domain()?;
    let post = state
        .services
        .posts
        .resolve_review(&caller.tenant, PostId(id), &target, resolution)
        .await?;
    Ok(json(StatusCode::OK, &PostDto::from(&post)))
}

/// Re-queues only the targets that failed.
#[utoipa::path(post, path = "/v1/posts/{id}/retry", tag = "posts",
    params(("id" = Uuid, Path, description = "Post id")),
    responses((status = 202, body = PostDto), (status = 404, description = "- `not-found`: no such post"),
        (status = 409, description = "- `illegal-transition`: no target failed\n- `conflict`: it changed meanwhile\n- `reconnect-required`: an account must be connected again"),
        (status = 429, description = "- `too-many-requests`: 30 a minute")),
    security(("bearer" = [])))]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Publish)?;
    let post = state
        .services
        .posts
        .retry(&caller.tenant, PostId(*id))
        .await?;
    Ok(json(StatusCode::ACCEPTED, &PostDto::from(&post)))
}

//! Integrated systems: "Test connection", "Run now", the runs and their
//! reports (`/runs`), the outbox and value mappings. For administrators
//! only.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sync::protocol::{
    ApiError, ConnectionTest, MappingEditQuery, MappingImpact, OutboxItem, RunDetailPage,
    RunDetailQuery, RunInfo, RunNow, RunQuery, RunTrigger, ValueMapping,
};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::window::Scope;
use super::{Body, Id, Params};
use crate::auth::Admin;
use crate::error::{AppError, AppResult};
use crate::service::runs as svc;
use crate::service::sync::Actor;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_connection))
        .routes(routes!(run_now))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(get_details))
        .routes(routes!(export_details))
        .routes(routes!(confirm_run))
        .routes(routes!(cancel_run))
        .routes(routes!(get_outbox))
        .routes(routes!(retry_outbox))
        .routes(routes!(list_value_mappings, put_value_mapping))
}

fn actor(admin: &Admin) -> Actor {
    Actor {
        user_id: admin.0.user_id,
        username: admin.0.username.clone(),
    }
}

/// Connects to the system and reads each kind: what works, or the
/// validation error in plain words. Changes nothing.
#[utoipa::path(post, path = "/connections/{connection_id}/test", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path)),
    responses((status = 200, body = ConnectionTest), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn test_connection(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<ConnectionTest>> {
    Ok(Json(svc::test(&state, id).await?))
}

/// Runs the connection now (every kind it reads, or one) and answers with
/// the runs; 409 `run_in_progress` while another run of it is going on.
#[utoipa::path(post, path = "/connections/{connection_id}/runs", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path)), request_body = RunNow,
    responses((status = 200, body = Vec<RunInfo>), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn run_now(
    admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<RunNow>,
) -> AppResult<Json<Vec<RunInfo>>> {
    Ok(Json(
        svc::run(&state, Some(&actor(&admin)), id, RunTrigger::Manual, &body).await?,
    ))
}

/// Runs (scheduled, manual and file imports), newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", security(("session" = [])), params(RunQuery),
    responses((status = 200, body = Vec<RunInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_runs(
    _admin: Admin,
    State(state): State<AppState>,
    Params(q): Params<RunQuery>,
) -> AppResult<Json<Vec<RunInfo>>> {
    Ok(Json(svc::list(&state.store, &q).await?))
}

/// One run with its counts by action.
#[utoipa::path(get, path = "/runs/{run_id}", tag = "runs", security(("session" = [])),
    params(("run_id" = i64, Path)),
    responses((status = 200, body = RunInfo), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_run(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<RunInfo>> {
    Ok(Json(svc::get_run(&state.store, id).await?))
}

/// A run's details: one line per record, filtered by action, paged by `after`.
#[utoipa::path(get, path = "/runs/{run_id}/details", tag = "runs", security(("session" = [])),
    params(("run_id" = i64, Path), RunDetailQuery),
    responses((status = 200, body = RunDetailPage), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_details(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Params(q): Params<RunDetailQuery>,
) -> AppResult<Json<RunDetailPage>> {
    Ok(Json(svc::details(&state.store, id, &q).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DetailExportQuery {
    /// Only this action.
    pub outcome: Option<String>,
}

/// A run's details as a spreadsheet-safe CSV file.
#[utoipa::path(get, path = "/runs/{run_id}/details/export", tag = "runs", security(("session" = [])),
    params(("run_id" = i64, Path), DetailExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn export_details(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Params(q): Params<DetailExportQuery>,
) -> AppResult<Response> {
    let bytes = svc::details_csv(&state.store, id, q.outcome.as_deref()).await?;
    let mut r = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"run-{id}.csv\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Confirms the deletions of a run waiting for confirmation: the full
/// refresh runs again with them allowed.
#[utoipa::path(post, path = "/runs/{run_id}/confirm", tag = "runs", security(("session" = [])),
    params(("run_id" = i64, Path)),
    responses((status = 200, body = RunInfo), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn confirm_run(
    admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<RunInfo>> {
    Ok(Json(svc::confirm(&state, &actor(&admin), id).await?))
}

/// Cancels a run waiting for confirmation; nothing is deleted.
#[utoipa::path(post, path = "/runs/{run_id}/cancel", tag = "runs", security(("session" = [])),
    params(("run_id" = i64, Path)),
    responses((status = 200, body = RunInfo), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn cancel_run(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<RunInfo>> {
    Ok(Json(svc::cancel(&state, id).await?))
}

/// Changes waiting to be written to the system, with attempts and errors.
#[utoipa::path(get, path = "/connections/{connection_id}/outbox", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path)),
    responses((status = 200, body = Vec<OutboxItem>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_outbox(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Vec<OutboxItem>>> {
    Ok(Json(svc::outbox(&state.store, id).await?))
}

/// `{connection_id}/{pending_id}` of the path.
pub struct OutboxEntry(i64, i64);

impl<S: Send + Sync> FromRequestParts<S> for OutboxEntry {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<(i64, i64)>::from_request_parts(parts, state)
            .await
            .map(|p| OutboxEntry(p.0.0, p.0.1))
            .map_err(|_| AppError::BadRequest("The ids in the path must be whole numbers.".into()))
    }
}

/// Sends a change that needs attention again, now.
#[utoipa::path(post, path = "/connections/{connection_id}/outbox/{pending_id}/retry", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path), ("pending_id" = i64, Path)),
    responses((status = 200, body = Vec<OutboxItem>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn retry_outbox(
    _admin: Admin,
    State(state): State<AppState>,
    OutboxEntry(id, pending_id): OutboxEntry,
) -> AppResult<Json<Vec<OutboxItem>>> {
    Ok(Json(svc::retry(&state, id, pending_id).await?))
}

/// The value mappings of a connection and kind (their code -> our value).
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/value-mappings", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path)),
    responses((status = 200, body = Vec<ValueMapping>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_value_mappings(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
) -> AppResult<Json<Vec<ValueMapping>>> {
    Ok(Json(
        svc::value_mappings(&state.store, scope.id, scope.kind).await?,
    ))
}

/// Adds, changes or (with an empty value of ours) removes a value mapping.
/// With `dry_run=true` it only says how many records it affects; otherwise
/// it is saved and exactly those records are synchronized again.
#[utoipa::path(put, path = "/connections/{connection_id}/{kind}/value-mappings", tag = "runs", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), MappingEditQuery), request_body = ValueMapping,
    responses((status = 200, body = MappingImpact), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn put_value_mapping(
    admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<MappingEditQuery>,
    Body(body): Body<ValueMapping>,
) -> AppResult<Json<MappingImpact>> {
    Ok(Json(
        svc::edit_mapping(
            &state,
            &actor(&admin),
            scope.id,
            scope.kind,
            &body,
            q.dry_run.unwrap_or(false),
        )
        .await?,
    ))
}

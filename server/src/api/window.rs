//! `/connections/{connection_id}/{kind}/...`: the synchronization window of
//! a connection and kind (`customer` or `employee`), and `/audit`. For
//! administrators only.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sync::protocol::{
    ActionResult, ApiError, AuditEntry, ImportInfo, ImportQuery, ImportResult, MarkDelivered,
    NumberCheck, PartnerSuggestions, PendingItem, RowsChanged, WindowAction, WindowPage,
    WindowQuery, WindowSummary,
};
use sync::schema::{Kind, Side};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Params};
use crate::auth::Admin;
use crate::error::{AppError, AppResult};
use crate::service::sync::{self as svc, Actor, ExportFormat};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_window))
        .routes(routes!(get_rows))
        .routes(routes!(get_fingerprint))
        .routes(routes!(list_imports, post_import))
        .routes(routes!(get_suggestions))
        .routes(routes!(get_number_check))
        .routes(routes!(post_action))
        .routes(routes!(list_pending))
        .routes(routes!(export_pending))
        .routes(routes!(post_delivered))
        .routes(routes!(export_all))
        .routes(routes!(list_audit))
}

/// `{connection_id}/{kind}` of the path.
pub struct Scope {
    pub id: i64,
    pub kind: Kind,
    /// A third segment, when the route has one.
    pub extra: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let params = axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::BadRequest("The path is not valid.".into()))?
            .0;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let id = get("connection_id")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                AppError::BadRequest("The connection id must be a whole number.".into())
            })?;
        let kind = svc::kind_of(&get("kind").unwrap_or_default())?;
        Ok(Scope {
            id,
            kind,
            extra: get("category"),
        })
    }
}

fn actor(admin: &Admin) -> Actor {
    Actor {
        user_id: admin.0.user_id,
        username: admin.0.username.clone(),
    }
}

/// Counts per category, the newest import and the pending changes.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/window", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path, description = "customer or employee")),
    responses((status = 200, body = WindowSummary), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_window(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
) -> AppResult<Json<WindowSummary>> {
    Ok(Json(
        svc::summary(&state.store, scope.id, scope.kind).await?,
    ))
}

/// A page of one category's rows, both sides' values side by side.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/window/{category}", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), ("category" = String, Path,
        description = "conflicts, new, deleted, deactivated, synchronized or inactive"), WindowQuery),
    responses((status = 200, body = WindowPage), (status = 404, body = ApiError), (status = 422, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_rows(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<WindowQuery>,
) -> AppResult<Json<WindowPage>> {
    let category = svc::category_of(scope.extra.as_deref().unwrap_or_default())?;
    Ok(Json(
        svc::rows(&state.store, scope.id, scope.kind, category, &q).await?,
    ))
}

/// The compact state the browser previews an import against (binary; see
/// `sync::fingerprint`). The `x-preview-revision` header names its revision
/// and the `ETag` is that revision quoted: a request whose `If-None-Match`
/// names the current revision is answered 304 without a body, so a browser
/// that holds the fingerprint already previews again without fetching it.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/fingerprint", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a fingerprint the caller holds")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "The caller's fingerprint is current"), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_fingerprint(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (bytes, revision) = svc::fingerprint(&state.store, scope.id, scope.kind).await?;
    let etag = format!("\"{revision}\"");
    let held = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == etag || t.strip_prefix("W/") == Some(etag.as_str())
        });
    let mut r = if held {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            bytes,
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&revision) {
        r.headers_mut().insert("x-preview-revision", v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    // Browsers keep no copy: the page holds the fingerprint it fetched.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The imports of their files, newest first.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/imports", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path)),
    responses((status = 200, body = Vec<ImportInfo>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_imports(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
) -> AppResult<Json<Vec<ImportInfo>>> {
    Ok(Json(
        svc::imports(&state.store, scope.id, scope.kind).await?,
    ))
}

/// Imports a file of their records (CSV or XLSX; the body is the file's
/// bytes). The file is kept with its checksum; the answer has the row
/// errors and the categories after the import.
#[utoipa::path(post, path = "/connections/{connection_id}/{kind}/imports", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = ImportResult), (status = 409, body = ApiError, description = "stale_preview"),
        (status = 413, body = ApiError), (status = 422, body = ApiError), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn post_import(
    admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<ImportQuery>,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<ImportResult>)> {
    let limit = state.config.max_upload_bytes;
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge { limit })?;
    let r = svc::import(
        &state.store,
        &actor(&admin),
        scope.id,
        scope.kind,
        &q,
        &bytes,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// The row's key.
    pub key: String,
}

/// Ranked partner candidates for a New row, with their score and the
/// fields that agree. Never applied by themselves.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/suggestions", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), KeyQuery),
    responses((status = 200, body = PartnerSuggestions), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_suggestions(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<KeyQuery>,
) -> AppResult<Json<PartnerSuggestions>> {
    Ok(Json(
        svc::suggestions(&state.store, scope.id, scope.kind, &q.key).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberQuery {
    /// `theirs` (default) or `ours`: the side the number is for.
    #[serde(default)]
    pub side: Option<String>,
    pub number: String,
}

/// What a number becomes on a side (their number rules: shortened? zeros
/// stripped?) and whether it is taken there.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/number-check", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), NumberQuery),
    responses((status = 200, body = NumberCheck), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_number_check(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<NumberQuery>,
) -> AppResult<Json<NumberCheck>> {
    let side = match q.side.as_deref() {
        None | Some("theirs") => Side::Theirs,
        Some("ours") => Side::Ours,
        Some(_) => return Err(AppError::field("side", "The side is ours or theirs.")),
    };
    Ok(Json(
        svc::check_number(&state.store, scope.id, scope.kind, side, &q.number).await?,
    ))
}

/// Carries out an action in one transaction: link, unlink, create partner(s),
/// resolve conflicts, don't synchronize, resume, stop, start. Rows named in
/// `expect` must be as the caller saw them (409 `rows_changed` otherwise).
/// With an `Idempotency-Key` header a retry gets the first answer.
#[utoipa::path(post, path = "/connections/{connection_id}/{kind}/actions", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = WindowAction,
    responses((status = 200, body = ActionResult), (status = 409, body = RowsChanged),
        (status = 422, body = ApiError), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn post_action(
    admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    Body(action): Body<WindowAction>,
) -> AppResult<Response> {
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError::BadRequest("The Idempotency-Key is not text.".into()))
        })
        .transpose()?;
    let answer = svc::act(
        &state.store,
        &actor(&admin),
        scope.id,
        scope.kind,
        &action,
        key,
    )
    .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.body,
    )
        .into_response())
}

/// Pending changes to their side, oldest first.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/pending", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path)),
    responses((status = 200, body = Vec<PendingItem>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_pending(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
) -> AppResult<Json<Vec<PendingItem>>> {
    Ok(Json(
        svc::pending(&state.store, scope.id, scope.kind).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default: semicolons, UTF-8 with BOM, formulas neutralized, for
    /// spreadsheets), `xlsx` (every cell text) or `machine` (commas, exact
    /// values).
    #[serde(default)]
    pub format: Option<String>,
    /// Pending export: include changes already marked delivered.
    #[serde(default)]
    pub all: Option<bool>,
}

fn format_of(q: &ExportQuery) -> AppResult<ExportFormat> {
    match q.format.as_deref() {
        None | Some("csv") => Ok(ExportFormat::Csv),
        Some("machine") => Ok(ExportFormat::Machine),
        Some("xlsx") => Ok(ExportFormat::Xlsx),
        Some(_) => Err(AppError::field(
            "format",
            "The format is csv, xlsx or machine.",
        )),
    }
}

fn file_response(bytes: Vec<u8>, stem: &str, format: ExportFormat, last: Option<i64>) -> Response {
    let (content_type, name) = match format {
        ExportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{stem}.xlsx"),
        ),
        _ => ("text/csv; charset=utf-8", format!("{stem}.csv")),
    };
    let mut r = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(last) = last
        && let Ok(v) = HeaderValue::from_str(&last.to_string())
    {
        r.headers_mut().insert("x-pending-through", v);
    }
    r
}

/// The pending changes as a file in their format: one line per record
/// (created or updated) with every field. `x-pending-through` names the
/// last change included, to mark delivered.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/pending/export", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn export_pending(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<ExportQuery>,
) -> AppResult<Response> {
    let format = format_of(&q)?;
    let (bytes, last) = svc::export_pending(
        &state.store,
        scope.id,
        scope.kind,
        format,
        !q.all.unwrap_or(false),
    )
    .await?;
    Ok(file_response(
        bytes,
        &format!("pending-{}s", scope.kind.as_str()),
        format,
        last,
    ))
}

/// Marks the pending changes up to `through` delivered (they stay pending
/// until an import shows them).
#[utoipa::path(post, path = "/connections/{connection_id}/{kind}/pending/delivered", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path)), request_body = MarkDelivered,
    responses((status = 200, body = u64), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn post_delivered(
    admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Body(body): Body<MarkDelivered>,
) -> AppResult<Json<u64>> {
    Ok(Json(
        svc::mark_delivered(
            &state.store,
            &actor(&admin),
            scope.id,
            scope.kind,
            body.through,
        )
        .await?,
    ))
}

/// Every one of our records, for a full load of their system.
#[utoipa::path(get, path = "/connections/{connection_id}/{kind}/export", tag = "window", security(("session" = [])),
    params(("connection_id" = i64, Path), ("kind" = String, Path), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn export_all(
    _admin: Admin,
    State(state): State<AppState>,
    scope: Scope,
    Params(q): Params<ExportQuery>,
) -> AppResult<Response> {
    let format = format_of(&q)?;
    let bytes = svc::export_all(&state.store, scope.id, scope.kind, format).await?;
    Ok(file_response(
        bytes,
        &format!("all-{}s", scope.kind.as_str()),
        format,
        None,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `customer` or `employee`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub connection_id: Option<i64>,
    /// A record's number (ours or theirs): its history.
    #[serde(default)]
    pub number: Option<String>,
}

/// The audit trail, newest first (at most 500 entries).
#[utoipa::path(get, path = "/audit", tag = "window", security(("session" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_audit(
    _admin: Admin,
    State(state): State<AppState>,
    Params(q): Params<AuditQuery>,
) -> AppResult<Json<Vec<AuditEntry>>> {
    let kind = q
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(svc::kind_of)
        .transpose()?;
    Ok(Json(
        svc::audit(
            &state.store,
            kind,
            q.connection_id,
            q.number.as_deref().filter(|n| !n.is_empty()),
        )
        .await?,
    ))
}

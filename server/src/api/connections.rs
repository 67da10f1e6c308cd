//! `/connections`: administrators configure the systems Partnersync
//! synchronizes with.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sync::protocol::{ApiError, Connection, ConnectionInput, Versioned};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Id};
use crate::auth::Admin;
use crate::error::AppResult;
use crate::service::connections as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(get_connection, update_connection))
}

/// All connections, by name.
#[utoipa::path(get, path = "/connections", tag = "connections", security(("session" = [])),
    responses((status = 200, body = Vec<Connection>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_connections(
    _admin: Admin,
    State(state): State<AppState>,
) -> AppResult<Json<Vec<Connection>>> {
    Ok(Json(svc::list(&state.store).await?))
}

/// Creates a connection; settings left out get the defaults.
#[utoipa::path(post, path = "/connections", tag = "connections", security(("session" = [])),
    request_body = ConnectionInput,
    responses((status = 201, body = Connection), (status = 422, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_connection(
    _admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<ConnectionInput>,
) -> AppResult<(StatusCode, Json<Connection>)> {
    Ok((
        StatusCode::CREATED,
        Json(svc::create(&state.store, &state.vault, input).await?),
    ))
}

/// One connection.
#[utoipa::path(get, path = "/connections/{connection_id}", tag = "connections", security(("session" = [])),
    params(("connection_id" = i64, Path)),
    responses((status = 200, body = Connection), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_connection(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Connection>> {
    Ok(Json(svc::get(&state.store, id).await?))
}

/// Replaces a connection's name and settings if the version is current.
#[utoipa::path(put, path = "/connections/{connection_id}", tag = "connections", security(("session" = [])),
    params(("connection_id" = i64, Path)), request_body = Versioned<ConnectionInput>,
    responses((status = 200, body = Connection), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_connection(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<Versioned<ConnectionInput>>,
) -> AppResult<Json<Connection>> {
    Ok(Json(
        svc::update(&state.store, &state.vault, id, body.version, body.fields).await?,
    ))
}

//! Health and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use sync::protocol::Health;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Whether the server runs and reaches its database. Needs no sign-in.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 500, body = sync::protocol::ApiError)))]
pub async fn health(State(state): State<AppState>) -> AppResult<Json<Health>> {
    state.store.count_users().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: state.store.backend.name().into(),
    }))
}

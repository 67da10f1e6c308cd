//! `/users`: administrators manage who may sign in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sync::protocol::{ApiError, NewUser, User, UserPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Id};
use crate::auth::Admin;
use crate::error::AppResult;
use crate::service::users;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
}

/// All users.
#[utoipa::path(get, path = "/users", tag = "users", security(("session" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_users(
    _admin: Admin,
    State(state): State<AppState>,
) -> AppResult<Json<Vec<User>>> {
    Ok(Json(users::list(&state.store).await?))
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "users", security(("session" = [])), request_body = NewUser,
    responses((status = 201, body = User), (status = 422, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_user(
    _admin: Admin,
    State(state): State<AppState>,
    Body(new): Body<NewUser>,
) -> AppResult<(StatusCode, Json<User>)> {
    let u = users::add(&state.store, state.config.argon2_memory_kib, new).await?;
    Ok((StatusCode::CREATED, Json(u)))
}

/// Changes a user's role, disables or enables them, or resets their password.
#[utoipa::path(patch, path = "/users/{user_id}", tag = "users", security(("session" = [])),
    params(("user_id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = User), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_user(
    Admin(admin): Admin,
    State(state): State<AppState>,
    Id(user_id): Id,
    Body(patch): Body<UserPatch>,
) -> AppResult<Json<User>> {
    Ok(Json(
        users::update(
            &state.store,
            state.config.argon2_memory_kib,
            Some(admin.user_id),
            user_id,
            patch,
        )
        .await?,
    ))
}

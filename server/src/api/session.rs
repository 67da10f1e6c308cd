//! `/session` (sign in, who am I, sign out) and `/setup` (first run).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync::protocol::{ApiError, SessionInfo, SetupRequest, SetupStatus, SignIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Body;
use crate::auth::{CurrentUser, Peer, client_addr, is_https, session_cookie};
use crate::error::{AppError, AppResult};
use crate::service::session::{self, NewSession};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_session, sign_in, sign_out))
        .routes(routes!(get_setup, post_setup))
}

fn with_cookie(state: &AppState, headers: &HeaderMap, s: NewSession) -> AppResult<Response> {
    let cookie = session_cookie(
        Some(&s.token),
        state.config.session_max.as_secs(),
        is_https(state, headers),
    );
    let mut r = Json(s.info).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.into()))?,
    );
    Ok(r)
}

/// The signed-in user.
#[utoipa::path(get, path = "/session", tag = "session", security(("session" = [])),
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)))]
pub async fn get_session(user: CurrentUser) -> Json<SessionInfo> {
    Json(session::info(&user))
}

/// Signs in and sets the session cookie (HttpOnly, SameSite=Strict). A new
/// session id is issued at every sign-in.
#[utoipa::path(post, path = "/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionInfo, description = "Signed in; the cookie is set"),
        (status = 401, body = ApiError, description = "Wrong user name or password"),
        (status = 429, body = ApiError, description = "Too many attempts")))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Peer(peer): Peer,
    Body(req): Body<SignIn>,
) -> AppResult<Response> {
    // Whoever held a session before gets a fresh one: end the old.
    if let Some(old) = crate::auth::cookie(&headers, crate::auth::SESSION_COOKIE) {
        let sid = crate::auth::session_id(&state.secret, old);
        state.store.delete_session(&sid).await?;
    }
    let client = client_addr(&state, &headers, peer);
    let s = session::sign_in(&state, &client, req).await?;
    with_cookie(&state, &headers, s)
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session", security(("session" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
) -> AppResult<Response> {
    session::sign_out(&state, &user).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session_cookie(None, 0, is_https(&state, &headers)))
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    Ok(r)
}

/// Whether the first administrator still has to be created.
#[utoipa::path(get, path = "/setup", tag = "session",
    responses((status = 200, body = SetupStatus)))]
pub async fn get_setup(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        needed: session::setup_needed(&state).await?,
    }))
}

/// Creates the first administrator (with the set-up token from the server
/// log) and signs them in. Refused once any user exists.
#[utoipa::path(post, path = "/setup", tag = "session", request_body = SetupRequest,
    responses((status = 200, body = SessionInfo), (status = 409, body = ApiError),
        (status = 422, body = ApiError)))]
pub async fn post_setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(req): Body<SetupRequest>,
) -> AppResult<Response> {
    let s = session::setup(&state, req).await?;
    with_cookie(&state, &headers, s)
}

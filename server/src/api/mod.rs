//! The REST API under `/api/v1`. Each module has its own routes; the
//! OpenAPI document is generated from the same declarations that build the
//! router, so a route cannot exist without being documented.

pub mod connections;
pub mod registers;
pub mod runs;
pub mod session;
pub mod system;
pub mod users;
pub mod window;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Partnersync API",
        description = "The REST API of Partnersync. The browser app uses exactly this API. \
            Sign in with `POST /api/v1/session`; the answer sets the `partnersync_session` cookie, \
            which every other call sends. State-changing calls from browsers must be same-origin.",
    ),
    modifiers(&SessionCookie),
    tags(
        (name = "system", description = "Health and this document"),
        (name = "session", description = "Signing in and out, first-run set-up"),
        (name = "users", description = "Who may sign in (administrators only)"),
        (name = "customers", description = "Our customer register"),
        (name = "employees", description = "Our employee register"),
        (name = "connections", description = "The other systems Partnersync synchronizes with (administrators only)"),
        (name = "window", description = "The synchronization window of a connection and kind: imports, categories, actions, pending changes, audit (administrators only)"),
        (name = "runs", description = "Integrated systems: test, run, reports, outbox, value mappings (administrators only)"),
    )
)]
pub struct ApiDoc;

struct SessionCookie;

impl utoipa::Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::auth::SESSION_COOKIE,
                ))),
            );
        }
    }
}

/// The API's routes and their OpenAPI document, paths relative to `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::router())
        .merge(session::router())
        .merge(users::router())
        .merge(registers::router())
        .merge(connections::router())
        .merge(window::router())
        .merge(runs::router())
}

/// A JSON body whose rejections are answered in the API's error format.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge {
                    limit: body_limit(),
                },
                _ => AppError::BadRequest(rejection.body_text()),
            }),
        }
    }
}

/// Query parameters whose rejections are answered in the API's error format.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|r| AppError::BadRequest(r.body_text()))
    }
}

/// An id in the path whose rejections are answered in the API's error format.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|_| AppError::BadRequest("The id in the path must be a whole number.".into()))
    }
}

static BODY_LIMIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Remembers the configured body limit for error messages.
pub fn set_body_limit(limit: usize) {
    BODY_LIMIT.store(limit, std::sync::atomic::Ordering::Relaxed);
}

fn body_limit() -> usize {
    BODY_LIMIT.load(std::sync::atomic::Ordering::Relaxed)
}

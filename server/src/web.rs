//! The whole HTTP surface: the API under `/api/v1`, the app's shell rendered
//! with leptos_axum, the site's static files, and the layers every request
//! passes (tracing, CSRF guard, body limit, security headers).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("partnersync")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build()
}

async fn api_not_found() -> AppError {
    AppError::NotFound("API route")
}

pub fn router(state: AppState) -> Router {
    crate::api::set_body_limit(state.config.max_body_bytes);
    let (api, mut openapi) = OpenApiRouter::new()
        .nest("/api/v1", crate::api::router())
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    let openapi_json = serde_json::to_string_pretty(&openapi).unwrap_or_else(|_| "{}".into());

    let api = api
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .route("/api/v1", axum::routing::any(api_not_found))
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // The preview fingerprint of a million records is tens of MB; rows
        // and exports compress well too.
        .layer(tower_http::compression::CompressionLayer::new());

    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(app::App);
    let shell_options = leptos_options.clone();
    let web: Router<AppState> = Router::new()
        .leptos_routes(&state, routes, move || app::shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ));

    api.merge(web)
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::csrf::guard))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("referrer-policy", "same-origin"))
        .layer(TraceLayer::new_for_http())
}

fn header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

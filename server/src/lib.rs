//! Partnersync's server: the REST API under `/api/v1`, the service layer
//! behind it, the store (SQLite or PostgreSQL), the command line, and the
//! app's server-rendered shell.
//!
//! Layering: `api` (HTTP) and `cli` translate requests into calls of
//! `service`; `service` holds the use cases and calls `store`; only `store`
//! speaks SQL. Domain computations that the browser must repeat exactly live
//! in the `sync` crate, never here. Nothing depends on this crate.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connector;
pub mod csrf;
pub mod error;
pub mod rate_limit;
pub mod secret;
pub mod service;
pub mod state;
pub mod store;
pub mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::rate_limit::RateLimiter;
use crate::state::{AppState, Inner};
use crate::store::Store;

/// Connects the store, prepares the state and builds the whole router.
pub async fn build(config: Config) -> anyhow::Result<(Router, AppState)> {
    let store = Store::connect(&config).await?;
    let secret = secret::load_or_create(&config)?;
    let setup_token = if store.count_users().await? == 0 {
        let token = config.setup_token.clone().unwrap_or_else(auth::new_token);
        announce_setup_token(&token, &config);
        Some(token)
    } else {
        None
    };
    let dummy_hash = auth::hash_password("no user has this password", config.argon2_memory_kib)?;
    let state = AppState {
        inner: Arc::new(Inner {
            limiter: RateLimiter::new(
                config.login_window,
                config.login_max_per_account,
                config.login_max_per_client,
            ),
            leptos_options: web::leptos_options(&config),
            store,
            setup_token: Mutex::new(setup_token),
            vault: secret::Vault::new(&secret),
            instance: format!("instance-{}", auth::new_token()),
            secret,
            dummy_hash,
            config,
        }),
    };
    Ok((web::router(state.clone()), state))
}

fn announce_setup_token(token: &str, config: &Config) {
    tracing::warn!(
        "No user exists yet. Open http://{}/setup and enter the set-up token {token} \
         (or run `partnersync user add NAME --role admin`).",
        config.addr
    );
}

/// Serves until Ctrl-C or SIGTERM, then closes the database cleanly.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.addr;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let (router, state) = build(config).await?;
    tracing::info!("Partnersync listens on http://{}", listener.local_addr()?);
    let cleaner = tokio::spawn(clean_sessions(state.clone()));
    let every = state.config.scheduler_every;
    let scheduler =
        (!every.is_zero()).then(|| service::runs::spawn_scheduler(state.clone(), every));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    cleaner.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    state.store.close().await;
    Ok(())
}

async fn clean_sessions(state: AppState) {
    let idle = i64::try_from(state.config.session_idle.as_millis()).unwrap_or(i64::MAX / 2);
    loop {
        if let Err(e) = state
            .store
            .delete_expired_sessions(auth::now_ms(), idle)
            .await
        {
            tracing::warn!(error = %e, "could not remove expired sessions");
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Logging to standard error; `RUST_LOG` overrides the default level.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

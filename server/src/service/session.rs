//! Signing in and out, and the one-time first-run set-up.

use std::time::Instant;

use sync::protocol::{SessionInfo, SetupRequest, SignIn, validate_credentials};

use crate::auth::{
    CurrentUser, hash_password_blocking, new_token, now_ms, session_id, verify_password_blocking,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::users::username_key;

/// A new session: the token goes into the cookie, the info to the caller.
pub struct NewSession {
    pub token: String,
    pub info: SessionInfo,
}

/// Signs in. A wrong password and an unknown or disabled user get the same
/// answer after the same work (an argon2 verification either way).
pub async fn sign_in(state: &AppState, client: &str, req: SignIn) -> AppResult<NewSession> {
    if req.username.len() > 256 || req.password.len() > 4096 {
        return Err(AppError::BadCredentials);
    }
    let account = username_key(&req.username);
    state
        .limiter
        .attempt(client, &account, Instant::now())
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let user = state.store.find_user_by_name(&req.username).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    let ok = verify_password_blocking(req.password, hash).await?;
    let user = match user {
        Some(u) if ok && u.disabled == 0 => u,
        _ => {
            state.limiter.failed(&account, Instant::now());
            return Err(AppError::BadCredentials);
        }
    };
    state.limiter.succeeded(&account);
    start_session(state, user.app_user_id, user.username.clone(), user.role()).await
}

async fn start_session(
    state: &AppState,
    user_id: i64,
    username: String,
    role: sync::protocol::Role,
) -> AppResult<NewSession> {
    let token = new_token();
    let now = now_ms();
    let max_ms = i64::try_from(state.config.session_max.as_millis()).unwrap_or(i64::MAX / 2);
    let expires_at = now.saturating_add(max_ms);
    state
        .store
        .insert_session(&session_id(&state.secret, &token), user_id, now, expires_at)
        .await?;
    Ok(NewSession {
        token,
        info: SessionInfo {
            user_id,
            username,
            role,
            expires_at,
        },
    })
}

pub async fn sign_out(state: &AppState, user: &CurrentUser) -> AppResult<()> {
    state.store.delete_session(&user.session_id).await?;
    Ok(())
}

pub fn info(user: &CurrentUser) -> SessionInfo {
    SessionInfo {
        user_id: user.user_id,
        username: user.username.clone(),
        role: user.role,
        expires_at: user.expires_at,
    }
}

pub async fn setup_needed(state: &AppState) -> AppResult<bool> {
    Ok(state.store.count_users().await? == 0)
}

/// Creates the first administrator with the token from the server log and
/// signs them in. Refused once any user exists.
pub async fn setup(state: &AppState, req: SetupRequest) -> AppResult<NewSession> {
    if !setup_needed(state).await? {
        return Err(AppError::Conflict(
            "Partnersync is already set up; sign in instead.".into(),
        ));
    }
    let expected = state
        .setup_token
        .lock()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("set-up token lock poisoned")))?
        .clone();
    let token_ok = expected
        .as_deref()
        .is_some_and(|t| constant_time_eq(t.as_bytes(), req.token.trim().as_bytes()));
    if !token_ok {
        return Err(AppError::field(
            "token",
            "This is not the set-up token printed in the server log.",
        ));
    }
    let errors = validate_credentials(Some(&req.username), Some(&req.password));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let hash = hash_password_blocking(req.password, state.config.argon2_memory_kib).await?;
    let user = state
        .store
        .insert_first_admin(&req.username, &hash, now_ms())
        .await?
        .ok_or_else(|| {
            AppError::Conflict("Partnersync is already set up; sign in instead.".into())
        })?;
    if let Ok(mut t) = state.setup_token.lock() {
        *t = None;
    }
    start_session(state, user.app_user_id, user.username.clone(), user.role()).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

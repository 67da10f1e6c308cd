//! Authentication: argon2id password hashes, session tokens and cookies, and
//! the extractors that own the role check of every route.
//!
//! A handler that takes [`CurrentUser`] answers 401 to anonymous callers; one
//! that takes [`Admin`] also answers 403 to supervisors. No handler checks
//! roles by hand.

use std::net::SocketAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sync::protocol::Role;

use crate::error::AppError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "partnersync_session";

/// Touch `last_seen_at` at most this often, so reads do not all become writes.
const TOUCH_EVERY_MS: i64 = 60_000;

fn argon2(memory_kib: u32) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(memory_kib, 2, 1, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id (a fresh random salt each time).
pub fn hash_password(password: &str, memory_kib: u32) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = argon2(memory_kib)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string. The parameters come from
/// the string itself, so older hashes keep verifying after a config change.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Hashing is deliberately slow: keep it off the async workers.
pub async fn hash_password_blocking(password: String, memory_kib: u32) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password, memory_kib))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing task: {e}")))?
        .map_err(AppError::Internal)
}

pub async fn verify_password_blocking(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("verifying task: {e}")))
}

/// A random 256-bit token, URL-safe.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The id a session is stored under: a keyed hash of the cookie's token.
pub fn session_id(secret: &[u8; 32], token: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// The value of one cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session token (or its removal when `None`).
pub fn session_cookie(token: Option<&str>, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Whether the request reached us over HTTPS (directly or via a trusted proxy).
pub fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || (state.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

/// The client's address for rate limiting.
pub fn client_addr(
    state: &AppState,
    parts_headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    if state.config.trust_proxy
        && let Some(first) = parts_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return first.trim().to_string();
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub session_id: String,
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(u.clone());
        }
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthorized)?;
        let sid = session_id(&state.secret, token);
        let row = state
            .store
            .find_session(&sid)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let now = now_ms();
        let idle_ms = i64::try_from(state.config.session_idle.as_millis()).unwrap_or(i64::MAX);
        if row.disabled != 0 || now >= row.expires_at || now - row.last_seen_at >= idle_ms {
            state.store.delete_session(&sid).await?;
            return Err(AppError::Unauthorized);
        }
        if now - row.last_seen_at >= TOUCH_EVERY_MS {
            state.store.touch_session(&sid, now).await?;
        }
        let user = CurrentUser {
            user_id: row.app_user_id,
            username: row.username.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Supervisor),
            session_id: sid,
            expires_at: row.expires_at,
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role == Role::Admin {
            Ok(Admin(user))
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// The peer address, when the server was started with connect info.
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash_password("correct horse battery", 1024).expect("hash");
        let b = hash_password("correct horse battery", 1024).expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salts differ");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; partnersync_session=tok; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        let set = session_cookie(Some("t"), 60, true);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure")
        );
    }
}

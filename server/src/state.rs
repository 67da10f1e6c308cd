//! The state every request handler shares.

use std::sync::{Arc, Mutex};

use leptos::config::LeptosOptions;

use crate::config::Config;
use crate::rate_limit::RateLimiter;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub limiter: RateLimiter,
    /// The one-time token that guards first-run set-up; `None` once a user exists.
    pub setup_token: Mutex<Option<String>>,
    /// Keys the hashes of session tokens.
    pub secret: [u8; 32],
    /// This process's name in leases (random per start).
    pub instance: String,
    /// Encrypts integrated systems' credentials.
    pub vault: crate::secret::Vault,
    /// A real argon2id hash that unknown user names are checked against, so
    /// a wrong name costs the same time as a wrong password.
    pub dummy_hash: String,
    pub leptos_options: LeptosOptions,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

//! Managing who may sign in.

use sync::protocol::{NewUser, User, UserPatch, validate_credentials};

use crate::auth::{hash_password_blocking, now_ms};
use crate::error::{AppError, AppResult};
use crate::store::Store;

pub async fn list(store: &Store) -> AppResult<Vec<User>> {
    Ok(store
        .list_users()
        .await?
        .iter()
        .map(|u| u.to_user())
        .collect())
}

pub async fn add(store: &Store, argon2_memory_kib: u32, new: NewUser) -> AppResult<User> {
    let errors = validate_credentials(Some(&new.username), Some(&new.password));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let hash = hash_password_blocking(new.password, argon2_memory_kib).await?;
    match store
        .insert_user(&new.username, &hash, new.role, now_ms())
        .await?
    {
        Some(u) => Ok(u.to_user()),
        None => Err(AppError::field(
            "username",
            format!("The user name {} is taken.", new.username.trim()),
        )),
    }
}

/// Changes a user's role, disabled flag or password. `acting_user_id` may not
/// disable or demote themselves, and the last active administrator stays.
pub async fn update(
    store: &Store,
    argon2_memory_kib: u32,
    acting_user_id: Option<i64>,
    user_id: i64,
    patch: UserPatch,
) -> AppResult<User> {
    if store.get_user(user_id).await?.is_none() {
        return Err(AppError::NotFound("user"));
    }
    if acting_user_id == Some(user_id) {
        if patch.disabled == Some(true) {
            return Err(AppError::field("disabled", "You cannot disable yourself."));
        }
        if patch.role.is_some_and(|r| r != sync::protocol::Role::Admin) {
            return Err(AppError::field("role", "You cannot demote yourself."));
        }
    }
    let errors = validate_credentials(None, patch.password.as_deref());
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let hash = match patch.password {
        Some(p) => Some(hash_password_blocking(p, argon2_memory_kib).await?),
        None => None,
    };
    let ok = store
        .update_user(
            user_id,
            patch.role,
            patch.disabled,
            hash.as_deref(),
            now_ms(),
        )
        .await?;
    if !ok {
        return Err(AppError::Conflict(
            "At least one active administrator must remain.".into(),
        ));
    }
    store
        .get_user(user_id)
        .await?
        .map(|u| u.to_user())
        .ok_or(AppError::NotFound("user"))
}

/// Disables a user by name (the CLI's `user disable`).
pub async fn disable_by_name(store: &Store, username: &str) -> AppResult<User> {
    let u = store
        .find_user_by_name(username)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    update(
        store,
        0,
        None,
        u.app_user_id,
        UserPatch {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .await
}

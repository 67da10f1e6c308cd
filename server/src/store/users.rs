//! Users who sign in.

use sqlx::FromRow;
use sync::protocol::{Role, User};
use tracing::instrument;

use super::Store;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub app_user_id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: i64,
    pub created_at: i64,
}

impl UserRow {
    pub fn role(&self) -> Role {
        // The column has a check constraint; an unknown value is treated as the
        // least privileged role.
        Role::parse(&self.role).unwrap_or(Role::Supervisor)
    }

    pub fn to_user(&self) -> User {
        User {
            user_id: self.app_user_id,
            username: self.username.clone(),
            role: self.role(),
            disabled: self.disabled != 0,
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "app_user_id, username, password_hash, role, disabled, created_at";

pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Store {
    #[instrument(skip_all, err)]
    pub async fn count_users(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("select count(*) from app_user")
            .fetch_one(&self.read)
            .await
    }

    #[instrument(skip_all, err)]
    pub async fn count_active_admins(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("select count(*) from app_user where role = 'admin' and disabled = 0")
            .fetch_one(&self.read)
            .await
    }

    /// Inserts a user; `Ok(None)` when the name is taken.
    #[instrument(skip_all, err)]
    pub async fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> sqlx::Result<Option<UserRow>> {
        let r = sqlx::query_as::<_, UserRow>(&format!(
            "insert into app_user (username, username_key, password_hash, role, disabled, created_at, updated_at) \
             values ($1, $2, $3, $4, 0, $5, $5) returning {COLUMNS}"
        ))
        .bind(username.trim())
        .bind(username_key(username))
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&self.write)
        .await;
        match r {
            Ok(u) => Ok(Some(u)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Inserts the first administrator only if there is no user at all, in
    /// one statement, so two set-up requests cannot both succeed.
    #[instrument(skip_all, err)]
    pub async fn insert_first_admin(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as::<_, UserRow>(&format!(
            "insert into app_user (username, username_key, password_hash, role, disabled, created_at, updated_at) \
             select $1, $2, $3, 'admin', 0, $4, $4 where not exists (select 1 from app_user) \
             returning {COLUMNS}"
        ))
        .bind(username.trim())
        .bind(username_key(username))
        .bind(password_hash)
        .bind(now)
        .fetch_optional(&self.write)
        .await
    }

    #[instrument(skip_all, err)]
    pub async fn find_user_by_name(&self, username: &str) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as(&format!(
            "select {COLUMNS} from app_user where username_key = $1"
        ))
        .bind(username_key(username))
        .fetch_optional(&self.read)
        .await
    }

    #[instrument(skip_all, err)]
    pub async fn get_user(&self, user_id: i64) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as(&format!(
            "select {COLUMNS} from app_user where app_user_id = $1"
        ))
        .bind(user_id)
        .fetch_optional(&self.read)
        .await
    }

    #[instrument(skip_all, err)]
    pub async fn list_users(&self) -> sqlx::Result<Vec<UserRow>> {
        sqlx::query_as(&format!(
            "select {COLUMNS} from app_user order by username_key"
        ))
        .fetch_all(&self.read)
        .await
    }

    /// Changes role, disabled flag and/or password hash in one transaction.
    /// Refuses (returns `Ok(false)`) when the change would leave no active
    /// administrator. Ends the user's sessions when they are disabled or get
    /// a new password.
    #[instrument(skip_all, err)]
    pub async fn update_user(
        &self,
        user_id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
        password_hash: Option<&str>,
        now: i64,
    ) -> sqlx::Result<bool> {
        let mut tx = self.write.begin().await?;
        if let Some(role) = role {
            sqlx::query("update app_user set role = $1, updated_at = $2 where app_user_id = $3")
                .bind(role.as_str())
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(d) = disabled {
            sqlx::query(
                "update app_user set disabled = $1, updated_at = $2 where app_user_id = $3",
            )
            .bind(super::flag(d))
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(h) = password_hash {
            sqlx::query(
                "update app_user set password_hash = $1, updated_at = $2 where app_user_id = $3",
            )
            .bind(h)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        let admins: i64 = sqlx::query_scalar(
            "select count(*) from app_user where role = 'admin' and disabled = 0",
        )
        .fetch_one(&mut *tx)
        .await?;
        if admins == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if disabled == Some(true) || password_hash.is_some() {
            sqlx::query("delete from session where app_user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

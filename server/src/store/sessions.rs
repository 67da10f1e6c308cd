//! Server-side sessions, keyed by the hash of the cookie's token.

use sqlx::FromRow;
use tracing::instrument;

use super::Store;

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub session_id: String,
    pub app_user_id: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub username: String,
    pub role: String,
    pub disabled: i64,
}

impl Store {
    #[instrument(skip_all, err)]
    pub async fn insert_session(
        &self,
        session_id: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "insert into session (session_id, app_user_id, created_at, last_seen_at, expires_at) \
             values ($1, $2, $3, $3, $4)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    #[instrument(skip_all, err)]
    pub async fn find_session(&self, session_id: &str) -> sqlx::Result<Option<SessionRow>> {
        sqlx::query_as(
            "select s.session_id, s.app_user_id, s.last_seen_at, s.expires_at, \
                    u.username, u.role, u.disabled \
             from session s join app_user u on u.app_user_id = s.app_user_id \
             where s.session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.read)
        .await
    }

    #[instrument(skip_all, err)]
    pub async fn touch_session(&self, session_id: &str, now: i64) -> sqlx::Result<()> {
        sqlx::query("update session set last_seen_at = $1 where session_id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    #[instrument(skip_all, err)]
    pub async fn delete_session(&self, session_id: &str) -> sqlx::Result<()> {
        sqlx::query("delete from session where session_id = $1")
            .bind(session_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Removes sessions past their absolute or idle end.
    #[instrument(skip_all, err)]
    pub async fn delete_expired_sessions(&self, now: i64, idle_ms: i64) -> sqlx::Result<u64> {
        let r = sqlx::query("delete from session where expires_at <= $1 or last_seen_at <= $2")
            .bind(now)
            .bind(now - idle_ms)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected())
    }
}

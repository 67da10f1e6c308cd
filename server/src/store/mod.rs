//! The store: the one place that speaks SQL.
//!
//! Both databases are reached through sqlx's `Any` driver with the same SQL
//! text (numbered `$n` parameters, `bigint`-compatible integers for times and
//! flags), so there is one implementation to test instead of two that drift.
//! SQLite gets WAL, foreign keys, a busy timeout and a single writer
//! connection: every write goes through `write`, so concurrent read-then-write
//! transactions queue instead of failing with "database is locked".
//! PostgreSQL uses one pool for both.

pub mod connections;
pub mod registers;
pub mod runs;
pub mod sessions;
pub mod sync;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};

use crate::config::{Config, redact_url};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// For reads (several connections).
    pub(crate) read: AnyPool,
    /// For writes: one connection on SQLite, the same pool as `read` on PostgreSQL.
    pub(crate) write: AnyPool,
    pub backend: Backend,
    /// Computed values the service keeps between requests, keyed by what
    /// they were computed from (see `service::sync`). Not SQL, but it lives
    /// and dies with the database handle it describes.
    pub memo: Memo,
}

/// `($1,$2,..),($n+1,..)` for a multi-row insert of `rows` rows of `cols`
/// values each.
///
/// On SQLite the placeholders are plain `?`, bound in order: a numbered
/// `$n` makes the driver look each parameter's name up in SQLite's list of
/// names, one scan of the list per parameter, so a statement of thousands
/// of parameters took most of a million-row import's time.
pub(crate) fn row_placeholders(c: &AnyConnection, rows: usize, cols: usize) -> String {
    let numbered = c.backend_name() != "SQLite";
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            if numbered {
                sql.push_str(&format!("${}", r * cols + c + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// A small cache of computed values by key.
pub type Memo = std::sync::Arc<
    std::sync::Mutex<Vec<(String, std::sync::Arc<dyn std::any::Any + Send + Sync>)>>,
>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Connects (creating a SQLite file and its folder if needed) and applies
    /// the migrations of that database.
    pub async fn connect(config: &Config) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let url = config.database_url.as_str();
        let store = if url.starts_with("sqlite:") {
            let url = sqlite_url(url)?;
            let opts = AnyConnectOptions::from_str(&url)
                .with_context(|| format!("bad DATABASE_URL {}", redact_url(&url)))?;
            let make = |max: u32| {
                AnyPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA synchronous = NORMAL",
                            ] {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
            };
            let write = make(1)
                .connect_with(opts.clone())
                .await
                .with_context(|| format!("cannot open {}", redact_url(&url)))?;
            SQLITE_MIGRATIONS
                .run(&write)
                .await
                .context("applying SQLite migrations")?;
            let read = make(8).connect_with(opts).await?;
            Store {
                read,
                write,
                backend: Backend::Sqlite,
                memo: Memo::default(),
            }
        } else if config.is_postgres() {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .context("applying PostgreSQL migrations")?;
            Store {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
                memo: Memo::default(),
            }
        } else {
            anyhow::bail!(
                "DATABASE_URL must start with sqlite: or postgres:// (got {})",
                redact_url(url)
            );
        };
        Ok(store)
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Makes sure the SQLite file may be created and its folder exists.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let file = path.split('?').next().unwrap_or_default();
    if !file.is_empty()
        && file != ":memory:"
        && let Some(dir) = std::path::Path::new(file).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Turns a `LIKE` pattern's special characters into literals (escape `\`).
pub(crate) fn like_contains(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// SQL booleans are 0/1 integers on both databases.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

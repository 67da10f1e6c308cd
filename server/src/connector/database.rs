//! The database connector: the other system's PostgreSQL or SQLite database,
//! one table per kind. Reads every column as text; writes a change in one
//! transaction together with its idempotency key in a small ledger table
//! (`partnersync_applied`) in their database, so a change sent again after
//! a crash is recognized and applied once.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use sync::protocol::Connection;
use sync::schema::{Field, Kind};
use sync::state::PendingChange;

use super::{ConnectorError, ConnectorResult, Table, change_values};

/// The ledger of applied idempotency keys kept in their database.
pub const LEDGER: &str = "partnersync_applied";

pub struct DatabaseConnector {
    pool: AnyPool,
    postgres: bool,
    tables: [String; 2],
    /// Tables described once per connector (one delivery round).
    described: std::sync::Mutex<std::collections::HashMap<String, Vec<Column>>>,
    /// Whether the ledger table is known to exist.
    ledger: tokio::sync::OnceCell<()>,
}

/// A column of theirs: its name and (PostgreSQL) its type's name.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    udt: Option<String>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn quote_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
}

fn plain(e: &sqlx::Error) -> ConnectorError {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            ConnectorError::Transient(format!("The database cannot be reached: {e}."))
        }
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            match code.as_ref() {
                "28P01" | "28000" => {
                    ConnectorError::Config("The database refused the user name or password.".into())
                }
                "3D000" => ConnectorError::Config("That database does not exist.".into()),
                "42P01" => ConnectorError::Config(format!("A table is missing: {}.", d.message())),
                "42703" => ConnectorError::Config(format!("A column is missing: {}.", d.message())),
                "53300" | "57P03" | "40001" | "40P01" => {
                    ConnectorError::Transient(format!("The database is busy: {}.", d.message()))
                }
                _ if d.message().contains("unable to open database file") => {
                    ConnectorError::Config(
                        "The database file does not exist or cannot be opened.".into(),
                    )
                }
                _ if d.message().contains("database is locked") => {
                    ConnectorError::Transient("The database is busy (locked).".into())
                }
                _ => ConnectorError::Rejected(format!("The database refused: {}.", d.message())),
            }
        }
        _ => ConnectorError::Transient(format!("Database error: {e}.")),
    }
}

impl DatabaseConnector {
    pub async fn open(url: &str, c: &Connection) -> ConnectorResult<DatabaseConnector> {
        let url = url.trim();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !postgres && !url.starts_with("sqlite:") {
            return Err(ConnectorError::Config(
                "The database URL starts with postgres:// or sqlite:// (e.g. postgres://user:password@host:5432/erp).".into(),
            ));
        }
        sqlx::any::install_default_drivers();
        let opts = AnyConnectOptions::from_str(url).map_err(|e| {
            ConnectorError::Config(format!("The database URL cannot be used: {e}."))
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| plain(&e))?;
        Ok(DatabaseConnector {
            pool,
            postgres,
            tables: [
                c.endpoint.customers.table.trim().to_string(),
                c.endpoint.employees.table.trim().to_string(),
            ],
            described: Default::default(),
            ledger: tokio::sync::OnceCell::new(),
        })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }

    fn table(&self, kind: Kind) -> ConnectorResult<&str> {
        super::source(&self.tables, kind, "table")
    }

    async fn columns(&self, table: &str) -> ConnectorResult<Vec<Column>> {
        let cols: Vec<Column> = if self.postgres {
            let (schema, name) = match table.rsplit_once('.') {
                Some((s, n)) => (Some(s.to_string()), n.to_string()),
                None => (None, table.to_string()),
            };
            sqlx::query(
                "select cast(column_name as text) as name, cast(udt_name as text) as udt \
                 from information_schema.columns \
                 where table_schema = coalesce($1, current_schema()) and table_name = $2 \
                 order by ordinal_position",
            )
            .bind(schema)
            .bind(name)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| plain(&e))?
            .iter()
            .map(|r| Column {
                name: r.try_get("name").unwrap_or_default(),
                udt: r.try_get("udt").ok(),
            })
            .collect()
        } else {
            let name = table.rsplit('.').next().unwrap_or(table);
            sqlx::query("select name from pragma_table_info($1) order by cid")
                .bind(name)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| plain(&e))?
                .iter()
                .map(|r| Column {
                    name: r.try_get("name").unwrap_or_default(),
                    udt: None,
                })
                .collect()
        };
        if cols.is_empty() {
            return Err(ConnectorError::Config(format!(
                "The table {table} does not exist in that database (or has no columns)."
            )));
        }
        Ok(cols)
    }

    pub async fn pull(&self, kind: Kind) -> ConnectorResult<Table> {
        let table = self.table(kind)?;
        let columns = self.columns(table).await?;
        let select = columns
            .iter()
            .map(|c| format!("cast({} as text)", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("select {select} from {}", quote_table(table));
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| plain(&e))?;
        let n = columns.len();
        let rows = rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .ok()
                            .flatten()
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        Ok(Table {
            columns: columns.into_iter().map(|c| c.name).collect(),
            rows,
        })
    }

    /// `$n`, cast to the column's type on PostgreSQL.
    fn param(&self, n: usize, col: Option<&Column>) -> String {
        match col.and_then(|c| c.udt.as_deref()) {
            Some(udt) if self.postgres && !is_text(udt) => format!("cast(${n} as {})", quote(udt)),
            _ => format!("${n}"),
        }
    }

    pub async fn write(
        &self,
        kind: Kind,
        columns: &BTreeMap<Field, String>,
        change: &PendingChange,
        key: &str,
    ) -> ConnectorResult<()> {
        let table = self.table(kind)?;
        let cached = self
            .described
            .lock()
            .map(|m| m.get(table).cloned())
            .unwrap_or(None);
        let described = match cached {
            Some(d) => d,
            None => {
                let d = self.columns(table).await?;
                if let Ok(mut m) = self.described.lock() {
                    m.insert(table.to_string(), d.clone());
                }
                d
            }
        };
        let (number_column, values) = change_values(columns, change)?;
        let col = |name: &str| described.iter().find(|c| c.name == name);
        for (c, _) in &values {
            if col(c).is_none() {
                return Err(ConnectorError::Config(format!(
                    "The column {c} is missing in {table}."
                )));
            }
        }
        self.ledger
            .get_or_try_init(|| async {
                sqlx::query(&format!(
                    "create table if not exists {LEDGER} (idem_key text primary key, applied_at bigint not null)"
                ))
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| plain(&e))
            })
            .await?;

        let mut tx = self.pool.begin().await.map_err(|e| plain(&e))?;
        let fresh = sqlx::query(&format!(
            "insert into {LEDGER} (idem_key, applied_at) values ($1, $2) on conflict (idem_key) do nothing"
        ))
        .bind(key)
        .bind(crate::auth::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| plain(&e))?
        .rows_affected()
            == 1;
        if !fresh {
            // Applied before (the answer was lost): nothing to do.
            return Ok(());
        }
        let value = |v: &str, c: Option<&Column>| -> Option<String> {
            let typed = c
                .and_then(|c| c.udt.as_deref())
                .is_some_and(|u| !is_text(u));
            if v.is_empty() && typed {
                None
            } else {
                Some(v.to_string())
            }
        };
        let affected = match change {
            PendingChange::Create { .. } => {
                let names = values
                    .iter()
                    .map(|(c, _)| quote(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                let params = values
                    .iter()
                    .enumerate()
                    .map(|(i, (c, _))| self.param(i + 1, col(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "insert into {} ({names}) values ({params})",
                    quote_table(table)
                );
                let mut q = sqlx::query(&sql);
                for (c, v) in &values {
                    q = q.bind(value(v, col(c)));
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(|e| plain(&e))?
                    .rows_affected()
            }
            PendingChange::Set { number, .. } => {
                let (c, v) = &values[0];
                // The key compared in its own type, so their index serves
                // (a cast of the column would scan the whole table).
                let sql = format!(
                    "update {} set {} = {} where {} = {}",
                    quote_table(table),
                    quote(c),
                    self.param(1, col(c)),
                    quote(&number_column),
                    self.param(2, col(&number_column))
                );
                sqlx::query(&sql)
                    .bind(value(v, col(c)))
                    .bind(number.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| plain(&e))?
                    .rows_affected()
            }
        };
        if affected == 0 {
            return Err(ConnectorError::Rejected(format!(
                "Their record {} was not found, so it was not updated.",
                change.number()
            )));
        }
        tx.commit().await.map_err(|e| plain(&e))?;
        Ok(())
    }
}

fn is_text(udt: &str) -> bool {
    matches!(udt, "text" | "varchar" | "bpchar" | "name" | "citext")
}

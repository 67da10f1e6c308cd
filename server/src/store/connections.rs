//! Connections to other systems. The per-kind settings are stored as JSON
//! text and parsed into `sync::protocol::RegisterSettings` on the way out.

use sqlx::FromRow;
use sync::protocol::{Connection, RegisterSettings, SystemKind};
use tracing::instrument;

use super::Store;
use super::registers::WriteOutcome;

#[derive(Debug, Clone, FromRow)]
struct ConnectionRow {
    connection_id: i64,
    name: String,
    system: String,
    customer_settings: String,
    employee_settings: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// What a connection row holds besides its id and times.
pub struct ConnectionValues {
    pub name: String,
    pub system: SystemKind,
    pub customers: RegisterSettings,
    pub employees: RegisterSettings,
}

fn decode(row: ConnectionRow) -> sqlx::Result<Connection> {
    let settings = |text: &str| {
        serde_json::from_str::<RegisterSettings>(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    let system = serde_json::from_value::<SystemKind>(serde_json::Value::String(row.system))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Connection {
        connection_id: row.connection_id,
        name: row.name,
        system,
        customers: settings(&row.customer_settings)?,
        employees: settings(&row.employee_settings)?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_json<T: serde::Serialize>(x: &T) -> sqlx::Result<String> {
    serde_json::to_string(x).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn encode(v: &ConnectionValues) -> sqlx::Result<(String, String, String)> {
    Ok((
        to_json(&v.system)?.trim_matches('"').to_string(),
        to_json(&v.customers)?,
        to_json(&v.employees)?,
    ))
}

const COLUMNS: &str = "connection_id, name, system, customer_settings, employee_settings, version, created_at, updated_at";

impl Store {
    #[instrument(skip_all, err)]
    pub async fn list_connections(&self) -> sqlx::Result<Vec<Connection>> {
        let rows: Vec<ConnectionRow> =
            sqlx::query_as(&format!("select {COLUMNS} from connection order by name"))
                .fetch_all(&self.read)
                .await?;
        rows.into_iter().map(decode).collect()
    }

    #[instrument(skip_all, err)]
    pub async fn get_connection(&self, id: i64) -> sqlx::Result<Option<Connection>> {
        let row: Option<ConnectionRow> = sqlx::query_as(&format!(
            "select {COLUMNS} from connection where connection_id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.map(decode).transpose()
    }

    #[instrument(skip_all, err)]
    pub async fn insert_connection(
        &self,
        v: &ConnectionValues,
        now: i64,
    ) -> sqlx::Result<WriteOutcome<Connection>> {
        let (system, customers, employees) = encode(v)?;
        let r = sqlx::query_as::<_, ConnectionRow>(&format!(
            "insert into connection (name, system, customer_settings, employee_settings, version, created_at, updated_at) \
             values ($1, $2, $3, $4, 1, $5, $5) returning {COLUMNS}"
        ))
        .bind(&v.name)
        .bind(system)
        .bind(customers)
        .bind(employees)
        .bind(now)
        .fetch_one(&self.write)
        .await;
        match r {
            Ok(row) => Ok(WriteOutcome::Written(decode(row)?)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(WriteOutcome::Duplicate),
            Err(e) => Err(e),
        }
    }

    #[instrument(skip_all, err)]
    pub async fn update_connection(
        &self,
        id: i64,
        version: i64,
        v: &ConnectionValues,
        now: i64,
    ) -> sqlx::Result<WriteOutcome<Connection>> {
        let (system, customers, employees) = encode(v)?;
        let r = sqlx::query_as::<_, ConnectionRow>(&format!(
            "update connection set name = $1, system = $2, customer_settings = $3, employee_settings = $4, \
             updated_at = $5, version = version + 1 where connection_id = $6 and version = $7 returning {COLUMNS}"
        ))
        .bind(&v.name)
        .bind(system)
        .bind(customers)
        .bind(employees)
        .bind(now)
        .bind(id)
        .bind(version)
        .fetch_optional(&self.write)
        .await;
        match r {
            Ok(Some(row)) => Ok(WriteOutcome::Written(decode(row)?)),
            Ok(None) => Ok(match self.get_connection(id).await? {
                Some(c) => WriteOutcome::Stale(c),
                None => WriteOutcome::NotFound,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(WriteOutcome::Duplicate),
            Err(e) => Err(e),
        }
    }
}

/// Saves the column mapping of one kind's settings, in the caller's
/// transaction.
pub async fn save_mapping(
    c: &mut sqlx::AnyConnection,
    id: i64,
    kind: sync::schema::Kind,
    mapping: &[sync::read::MappingEntry],
    now: i64,
) -> sqlx::Result<()> {
    let column = match kind {
        sync::schema::Kind::Customer => "customer_settings",
        sync::schema::Kind::Employee => "employee_settings",
    };
    let text: String = sqlx::query_scalar(&format!(
        "select {column} from connection where connection_id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *c)
    .await?;
    let mut settings: RegisterSettings =
        serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    settings.mapping = mapping.to_vec();
    sqlx::query(&format!(
        "update connection set {column} = $1, updated_at = $2, version = version + 1 where connection_id = $3"
    ))
    .bind(to_json(&settings)?)
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

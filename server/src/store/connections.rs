//! Connections to other systems. The per-kind settings are stored as JSON
//! text and parsed into `sync::protocol::RegisterSettings` on the way out.

use sqlx::FromRow;
use sync::protocol::{Connection, Endpoint, RegisterSettings, SystemKind};
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
    endpoint: String,
    has_secret: i64,
    next_run_at: Option<i64>,
    last_full_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// What an edit does to the stored credentials (already sealed).
pub enum SecretChange {
    Keep,
    Clear,
    Set(String),
}

/// What a connection row holds besides its id and times.
pub struct ConnectionValues {
    pub name: String,
    pub system: SystemKind,
    pub customers: RegisterSettings,
    pub employees: RegisterSettings,
    pub endpoint: Endpoint,
    pub secret: SecretChange,
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
        endpoint: serde_json::from_str(&row.endpoint)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        has_secret: row.has_secret != 0,
        next_run_at: row.next_run_at,
        last_full_at: row.last_full_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_json<T: serde::Serialize>(x: &T) -> sqlx::Result<String> {
    serde_json::to_string(x).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn encode(v: &ConnectionValues) -> sqlx::Result<(String, String, String, String)> {
    Ok((
        to_json(&v.system)?.trim_matches('"').to_string(),
        to_json(&v.customers)?,
        to_json(&v.employees)?,
        to_json(&v.endpoint)?,
    ))
}

/// The secret column's new value and whether to write it.
fn secret_of(v: &ConnectionValues) -> (bool, Option<&str>) {
    match &v.secret {
        SecretChange::Keep => (false, None),
        SecretChange::Clear => (true, None),
        SecretChange::Set(s) => (true, Some(s)),
    }
}

const COLUMNS: &str = "connection_id, name, system, customer_settings, employee_settings, endpoint, \
     case when secret is null then 0 else 1 end as has_secret, next_run_at, last_full_at, version, created_at, updated_at";

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
        let (system, customers, employees, endpoint) = encode(v)?;
        let (_, secret) = secret_of(v);
        let r = sqlx::query_as::<_, ConnectionRow>(&format!(
            "insert into connection (name, system, customer_settings, employee_settings, endpoint, secret, next_run_at, version, created_at, updated_at) \
             values ($1, $2, $3, $4, $6, $7, $5, 1, $5, $5) returning {COLUMNS}"
        ))
        .bind(&v.name)
        .bind(system)
        .bind(customers)
        .bind(employees)
        .bind(now)
        .bind(endpoint)
        .bind(secret)
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
        let (system, customers, employees, endpoint) = encode(v)?;
        let (write_secret, secret) = secret_of(v);
        let r = sqlx::query_as::<_, ConnectionRow>(&format!(
            "update connection set name = $1, system = $2, customer_settings = $3, employee_settings = $4, \
             updated_at = $5, endpoint = $8, \
             secret = case when $9 = 1 then $10 else secret end, \
             version = version + 1 where connection_id = $6 and version = $7 returning {COLUMNS}"
        ))
        .bind(&v.name)
        .bind(system)
        .bind(customers)
        .bind(employees)
        .bind(now)
        .bind(id)
        .bind(version)
        .bind(endpoint)
        .bind(i64::from(write_secret))
        .bind(secret)
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

impl Store {
    /// The sealed credentials of a connection, if any.
    #[instrument(skip_all, err)]
    pub async fn connection_secret(&self, id: i64) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar::<_, Option<String>>(
            "select secret from connection where connection_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map(Option::flatten)
    }

    /// Integrated connections whose next run is due at `now`.
    #[instrument(skip_all, err)]
    pub async fn due_connections(&self, now: i64) -> sqlx::Result<Vec<i64>> {
        sqlx::query_scalar(
            "select connection_id from connection \
             where system <> 'file' and next_run_at is not null and next_run_at <= $1 \
             order by next_run_at",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await
    }

    /// Sets when a connection runs next (and, after a full refresh, when it
    /// ran one). Not a settings edit: the version stays.
    #[instrument(skip_all, err)]
    pub async fn schedule_connection(
        &self,
        id: i64,
        next_run_at: Option<i64>,
        full_at: Option<i64>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "update connection set next_run_at = $1, \
             last_full_at = coalesce($2, last_full_at) where connection_id = $3",
        )
        .bind(next_run_at)
        .bind(full_at)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

impl Store {
    /// The fields of our record `number` that integrated systems it is
    /// linked to own, with the owning connection's name.
    #[instrument(skip_all, err)]
    pub async fn owners_of(
        &self,
        kind: sync::schema::Kind,
        number: &str,
    ) -> sqlx::Result<Vec<(sync::schema::Field, String)>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select c.name, c.customer_settings, c.employee_settings from connection c \
             where c.system <> 'file' and exists (select 1 from sync_link l \
             where l.connection_id = c.connection_id and l.kind = $1 and l.our_number = $2 and l.active = 1) \
             order by c.name",
        )
        .bind(kind.as_str())
        .bind(number)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for (name, customers, employees) in rows {
            let text = match kind {
                sync::schema::Kind::Customer => customers,
                sync::schema::Kind::Employee => employees,
            };
            let settings: RegisterSettings =
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            out.extend(settings.owned.into_iter().map(|f| (f, name.clone())));
        }
        Ok(out)
    }
}

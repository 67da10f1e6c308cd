//! Connections to other systems: each holds, per kind of record, the other
//! system's number rules, the required fields of both sides and the saved
//! column mapping of its files.

use sync::protocol::{Connection, ConnectionInput};

use crate::auth::now_ms;
use crate::error::{AppError, AppResult};
use crate::secret::Vault;
use crate::store::Store;
use crate::store::connections::{ConnectionValues, SecretChange};
use crate::store::registers::WriteOutcome;

pub async fn list(store: &Store) -> AppResult<Vec<Connection>> {
    Ok(store.list_connections().await?)
}

pub async fn get(store: &Store, id: i64) -> AppResult<Connection> {
    store
        .get_connection(id)
        .await?
        .ok_or(AppError::NotFound("connection"))
}

fn checked(vault: &Vault, input: ConnectionInput) -> AppResult<ConnectionValues> {
    let errors = input.validate();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let secret = match input.secret.as_deref().map(str::trim) {
        None => SecretChange::Keep,
        Some("") => SecretChange::Clear,
        Some(s) => SecretChange::Set(vault.seal(s).map_err(AppError::Internal)?),
    };
    let endpoint = input.endpoint.clone().unwrap_or_default();
    let (name, system, customers, employees) = input.complete();
    Ok(ConnectionValues {
        name,
        system,
        customers,
        employees,
        endpoint,
        secret,
    })
}

fn outcome(o: WriteOutcome<Connection>, name: &str) -> AppResult<Connection> {
    match o {
        WriteOutcome::Written(c) => Ok(c),
        WriteOutcome::Duplicate => Err(AppError::field(
            "name",
            format!("Another connection is already called {name}."),
        )),
        WriteOutcome::NotFound | WriteOutcome::MissingReference => {
            Err(AppError::NotFound("connection"))
        }
        WriteOutcome::Stale(_) => Err(AppError::Conflict(
            "This connection was changed by someone else since you opened it. Reload to see the new settings."
                .into(),
        )),
    }
}

pub async fn create(store: &Store, vault: &Vault, input: ConnectionInput) -> AppResult<Connection> {
    let values = checked(vault, input)?;
    outcome(
        store.insert_connection(&values, now_ms()).await?,
        &values.name,
    )
}

pub async fn update(
    store: &Store,
    vault: &Vault,
    id: i64,
    version: i64,
    input: ConnectionInput,
) -> AppResult<Connection> {
    let values = checked(vault, input)?;
    outcome(
        store
            .update_connection(id, version, &values, now_ms())
            .await?,
        &values.name,
    )
}

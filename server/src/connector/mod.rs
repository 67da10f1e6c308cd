//! Connectors to integrated systems: read a kind's full data set as a table
//! of text cells, and write one pending change with its idempotency key.
//!
//! A pulled table goes through the same reader as an uploaded file (it is
//! written as UTF-8 CSV and read with the connection's column mapping), so
//! the aliases, explicit mappings, row errors and limits are the file
//! path's, and the window re-reads a run's data exactly like an import.

mod database;
mod rest;

use std::collections::BTreeMap;

use sync::protocol::{Connection, SystemKind};
use sync::read::{ColumnMapping, Format, ReadOptions, ReadOutput};
use sync::schema::{Field, Kind};
use sync::state::PendingChange;

pub use database::DatabaseConnector;
pub use rest::RestConnector;

/// A kind's data as the other system holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// What went wrong talking to the other system, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Settings or credentials are wrong (bad credentials, missing table or
    /// column, a URL that names nothing): retrying will not help until an
    /// administrator changes something.
    #[error("{0}")]
    Config(String),
    /// Unreachable, timed out, overloaded: worth retrying later.
    #[error("{0}")]
    Transient(String),
    /// The system refused this one write.
    #[error("{0}")]
    Rejected(String),
}

impl ConnectorError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Transient(_))
    }
}

pub type ConnectorResult<T> = Result<T, ConnectorError>;

/// A connection's way to its system.
pub enum Connector {
    Database(DatabaseConnector),
    Rest(RestConnector),
}

impl Connector {
    /// Opens the connector of an integrated connection with its (decrypted)
    /// credentials.
    pub async fn open(c: &Connection, secret: Option<&str>) -> ConnectorResult<Connector> {
        match c.system {
            SystemKind::File => Err(ConnectorError::Config(
                "This connection exchanges files; it has no system to connect to.".into(),
            )),
            SystemKind::Database => {
                let url = secret.filter(|s| !s.is_empty()).ok_or_else(|| {
                    ConnectorError::Config(
                        "Enter the database's URL (e.g. postgres://user:password@host/erp).".into(),
                    )
                })?;
                Ok(Connector::Database(DatabaseConnector::open(url, c).await?))
            }
            SystemKind::Rest => Ok(Connector::Rest(RestConnector::new(c, secret)?)),
        }
    }

    /// The kind's whole data set.
    pub async fn pull(&self, kind: Kind) -> ConnectorResult<Table> {
        match self {
            Connector::Database(d) => d.pull(kind).await,
            Connector::Rest(r) => r.pull(kind).await,
        }
    }

    /// Writes one change, identified by `key`: the system applies a key
    /// once however often it is sent.
    pub async fn write(
        &self,
        kind: Kind,
        columns: &BTreeMap<Field, String>,
        change: &PendingChange,
        key: &str,
    ) -> ConnectorResult<()> {
        match self {
            Connector::Database(d) => d.write(kind, columns, change, key).await,
            Connector::Rest(r) => r.write(kind, columns, change, key).await,
        }
    }

    /// Closes pools and clients.
    pub async fn close(self) {
        if let Connector::Database(d) = self {
            d.close().await;
        }
    }
}

/// The table or path of `kind` among `[customers, employees]`; `what`
/// names it in the error when it is not set.
pub(crate) fn source<'a>(
    sources: &'a [String; 2],
    kind: Kind,
    what: &str,
) -> ConnectorResult<&'a str> {
    let s = match kind {
        Kind::Customer => &sources[0],
        Kind::Employee => &sources[1],
    };
    if s.is_empty() {
        return Err(ConnectorError::Config(format!(
            "No {what} is set for {}s.",
            kind.as_str()
        )));
    }
    Ok(s)
}

/// The table as UTF-8 CSV with a header row: what is stored as the run's
/// import and read back by the window.
pub fn to_csv(table: &Table) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(table.rows.len() * 64 + 256));
    // Writing to a Vec cannot fail.
    let _ = w.write_record(&table.columns);
    for r in &table.rows {
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

/// The reader's options for a pulled table: CSV as `to_csv` writes it, with
/// the connection's explicit mapping.
pub fn read_options(mapping: &[sync::read::MappingEntry]) -> ReadOptions {
    ReadOptions {
        format: Some(Format::Csv),
        encoding: Some("UTF-8".into()),
        delimiter: Some(','),
        has_header: Some(true),
        mapping: mapping.to_vec(),
        ..ReadOptions::default()
    }
}

/// Reads a pulled table into records and row errors, as a file would be.
pub fn read_table(
    table: &Table,
    kind: Kind,
    mapping: &[sync::read::MappingEntry],
) -> Result<(Vec<u8>, ReadOutput), String> {
    let bytes = to_csv(table);
    let out = crate::service::read_file(&bytes, Some("pulled.csv"), kind, &read_options(mapping))
        .map_err(|e| e.to_string())?;
    Ok((bytes, out))
}

/// Which of their columns holds each field: the reader's own mapping of
/// the column names (aliases and the explicit mapping).
pub fn columns_of(
    columns: &[String],
    kind: Kind,
    mapping: &[sync::read::MappingEntry],
) -> Vec<ColumnMapping> {
    let header = Table {
        columns: columns.to_vec(),
        rows: Vec::new(),
    };
    match sync::read::read(&to_csv(&header), None, kind, &read_options(mapping)) {
        Ok(out) => out.mapping,
        Err(_) => Vec::new(),
    }
}

/// Field -> their column, for writing.
pub fn field_columns(mapped: &[ColumnMapping]) -> BTreeMap<Field, String> {
    mapped.iter().map(|m| (m.field, m.header.clone())).collect()
}

/// The values a change writes, by their column names; fields they have no
/// column for are left out.
pub(crate) fn change_values(
    columns: &BTreeMap<Field, String>,
    change: &PendingChange,
) -> ConnectorResult<(String, Vec<(String, String)>)> {
    let number_column = columns.get(&Field::Number).ok_or_else(|| {
        ConnectorError::Config("No column of theirs holds the record number.".into())
    })?;
    let values = match change {
        PendingChange::Create { number, values } => {
            let mut v = vec![(number_column.clone(), number.clone())];
            v.extend(
                values
                    .iter()
                    .filter(|(f, _)| **f != Field::Number)
                    .filter_map(|(f, val)| columns.get(f).map(|c| (c.clone(), val.clone()))),
            );
            v
        }
        PendingChange::Set { field, to, .. } => match columns.get(field) {
            Some(c) => vec![(c.clone(), to.clone())],
            None => {
                return Err(ConnectorError::Rejected(format!(
                    "Their system has no column for {}.",
                    field.as_str()
                )));
            }
        },
    };
    Ok((number_column.clone(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_read_like_files_and_map_columns_back() {
        let table = Table {
            columns: vec!["KundeNr".into(), "Navn".into(), "E-post".into()],
            rows: vec![
                vec![
                    "00123".into(),
                    "Fjord AS; Bergen".into(),
                    "post@fjord.no".into(),
                ],
                vec!["".into(), "No number".into(), "".into()],
            ],
        };
        let (_, out) = read_table(&table, Kind::Customer, &[]).expect("reads");
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].number(), "00123");
        assert_eq!(out.records[0].get(Field::Name), "Fjord AS; Bergen");
        assert_eq!(
            out.errors.len(),
            1,
            "the row without a number is a row error"
        );
        let cols = field_columns(&columns_of(&table.columns, Kind::Customer, &[]));
        assert_eq!(
            cols.get(&Field::Number).map(String::as_str),
            Some("KundeNr")
        );
        assert_eq!(cols.get(&Field::Email).map(String::as_str), Some("E-post"));
        let (num, values) = change_values(
            &cols,
            &PendingChange::Set {
                number: "00123".into(),
                field: Field::Email,
                from: "a".into(),
                to: "b@fjord.no".into(),
            },
        )
        .expect("mapped");
        assert_eq!(num, "KundeNr");
        assert_eq!(
            values,
            vec![("E-post".to_string(), "b@fjord.no".to_string())]
        );
    }
}

//! The browser's preview of an import, as a plain function: read the file
//! with the `sync` crate, decode the server's fingerprint, and categorize.
//! The Web Worker (`public/preview-worker.js` calling the bundle's
//! `preview_file`) runs it off the main thread; tests call it natively.

use serde::{Deserialize, Serialize};
use sync::fingerprint::Fingerprint;
use sync::protocol::{CategoryCounts, ImportOptions, ImportRowError};
use sync::read::{RecordSink, read_into};
use sync::schema::{Field, Kind};

/// A column and the field it is mapped to (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewColumn {
    pub column: u32,
    pub header: String,
    pub field: Option<Field>,
}

/// What the reader detected and what the import would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewResult {
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<char>,
    pub sheet: Option<String>,
    pub sheets: Vec<String>,
    pub has_header: bool,
    pub columns: Vec<PreviewColumn>,
    pub record_count: u32,
    pub row_errors: Vec<ImportRowError>,
    pub notes: Vec<String>,
    pub counts: CategoryCounts,
    /// The fingerprint's revision, sent back with the upload.
    pub revision: String,
    /// Milliseconds spent reading and previewing, when the caller measured.
    #[serde(default)]
    pub millis: Option<f64>,
}

/// Reads `bytes` as the import would and previews the categories against
/// the server's fingerprint.
pub fn preview_bytes(
    bytes: &[u8],
    file_name: &str,
    kind: Kind,
    options: &ImportOptions,
    fingerprint: &[u8],
) -> Result<PreviewResult, String> {
    let fp = Fingerprint::decode(fingerprint).map_err(|e| e.to_string())?;
    preview_with(bytes.to_vec(), file_name, kind, options, &fp)
}

/// `preview_bytes` against a fingerprint decoded already (the worker keeps
/// the one it was last sent, for as long as the server says it is current).
/// Takes the file's bytes so that they are freed once read, before the
/// categories are counted.
pub fn preview_with(
    bytes: Vec<u8>,
    file_name: &str,
    kind: Kind,
    options: &ImportOptions,
    fp: &Fingerprint,
) -> Result<PreviewResult, String> {
    if fp.kind != kind {
        return Err(format!(
            "The server's state is of {} records, not {kind}; reload the page.",
            fp.kind
        ));
    }
    let read_options = options.read_options(&[]);
    // The reader hands each record to the fingerprint's hasher as it reads
    // it: a million-row file is never held as records.
    let (out, hashed) = read_into(&bytes, Some(file_name), kind, &read_options, fp.hashed())
        .map_err(|e| format!("The file cannot be read: {e}."))?;
    drop(bytes);
    let record_count = hashed.len() as u32;
    let counts = fp.counts(hashed);
    let mut columns: Vec<PreviewColumn> = out
        .mapping
        .iter()
        .map(|m| PreviewColumn {
            column: m.column,
            header: m.header.clone(),
            field: Some(m.field),
        })
        .chain(out.unmapped.iter().map(|u| PreviewColumn {
            column: u.column,
            header: u.header.clone(),
            field: None,
        }))
        .collect();
    columns.sort_by_key(|c| c.column);
    Ok(PreviewResult {
        format: format!("{:?}", out.format).to_lowercase(),
        encoding: out.encoding,
        delimiter: out.delimiter,
        sheet: out.sheet,
        sheets: out.sheets,
        has_header: out.has_header,
        columns,
        record_count,
        row_errors: out
            .errors
            .iter()
            .map(|e| ImportRowError {
                line: e.line,
                reason: e.reason.clone(),
            })
            .collect(),
        notes: out.notes,
        counts,
        revision: format!("{:016x}", fp.revision),
        millis: None,
    })
}

/// Row errors as a CSV file people can open (line;reason).
pub fn row_errors_csv(errors: &[ImportRowError]) -> String {
    let mut s = String::from("\u{feff}line;reason\r\n");
    for e in errors {
        let reason = e.reason.replace('"', "\"\"");
        let reason = match reason.chars().next() {
            Some('=' | '+' | '-' | '@') => format!("'{reason}"),
            _ => reason,
        };
        s.push_str(&format!("{};\"{}\"\r\n", e.line, reason));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync::schema::Record;
    use sync::state::State;

    #[test]
    fn previews_a_semicolon_file_against_a_fingerprint() {
        let mut state = State::new(Kind::Customer);
        state.ours = vec![Record::from_pairs(
            Kind::Customer,
            &[(Field::Number, "1"), (Field::Name, "A")],
        )];
        let fp = Fingerprint::from_state(&state, sync::schema::Side::Theirs).with_revision(7);
        let file = b"Kundenummer;Navn\r\n1;A\r\n2;B\r\n;C\r\n";
        let p = preview_bytes(
            file,
            "k.csv",
            Kind::Customer,
            &ImportOptions::default(),
            &fp.encode(),
        )
        .expect("previews");
        assert_eq!(p.delimiter, Some(';'));
        assert_eq!(p.record_count, 2);
        assert_eq!(p.row_errors.len(), 1);
        assert_eq!(p.row_errors[0].line, 4);
        assert_eq!(
            p.counts.new, 3,
            "ours:1, theirs:1 (equal numbers are not linked), theirs:2"
        );
        assert_eq!(p.revision, "0000000000000007");
        assert_eq!(p.columns[0].field, Some(Field::Number));
        let csv = row_errors_csv(&p.row_errors);
        assert!(csv.contains("4;\""), "{csv}");
    }

    #[test]
    fn a_damaged_fingerprint_or_file_is_an_error() {
        assert!(
            preview_bytes(
                b"x",
                "k.csv",
                Kind::Customer,
                &ImportOptions::default(),
                b"nope"
            )
            .is_err()
        );
    }
}

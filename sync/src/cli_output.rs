//! The serializable answers of the `inspect`, `preview` and `diff` commands,
//! as pure functions of bytes and options, so the server binary only reads
//! files and prints JSON, and the browser could show the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::categorize::{Category, FieldConflict, PlannedUpdate, Reason, Row, categorize};
use crate::read::{
    ColumnMapping, Format, RawRow, ReadError, ReadOptions, RowError, UnmappedColumn, read,
};
use crate::rules::NumberRules;
use crate::schema::{Field, Kind, Record, RequiredFields};
use crate::state::PendingIndex;
use crate::state::{Deactivation, Link, PendingChange, State};
use crate::track::{Snapshot, diff as track_diff};

/// Why a command could not produce its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CommandError {
    #[error("{file}: {error}")]
    Read { file: String, error: ReadError },
    #[error("links file: {0}")]
    Links(String),
}

/// A record as the commands print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOut {
    pub line: u32,
    pub number: String,
    pub name: String,
    pub active: bool,
    /// Every field of the kind but `active`, by documented name.
    pub values: BTreeMap<Field, String>,
}

impl RecordOut {
    pub fn of(r: &Record) -> RecordOut {
        RecordOut {
            line: r.line,
            number: r.number().to_string(),
            name: r.display_name(),
            active: r.active(),
            values: r
                .kind
                .fields()
                .iter()
                .filter(|f| **f != Field::Active)
                .map(|f| (*f, r.get(*f).to_string()))
                .collect(),
        }
    }
}

/// The answer of `inspect FILE --kind K`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectOutput {
    pub format: Format,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    pub sheets: Vec<String>,
    pub has_header: bool,
    pub header: Vec<String>,
    pub mapping: Vec<ColumnMapping>,
    pub unmapped: Vec<UnmappedColumn>,
    /// Data rows: records plus row errors.
    pub row_count: u32,
    pub blank_rows: u32,
    pub record_count: u32,
    pub errors: Vec<RowError>,
    pub notes: Vec<String>,
    /// Raw cells of every row, header included.
    pub rows: Vec<Vec<String>>,
    pub records: Vec<RecordOut>,
}

/// `inspect`: what the reader detected and produced for one file.
pub fn inspect(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
) -> Result<InspectOutput, CommandError> {
    let options = ReadOptions {
        keep_rows: true,
        ..options.clone()
    };
    let out = read(bytes, name, kind, &options).map_err(|error| CommandError::Read {
        file: name.unwrap_or("input").to_string(),
        error,
    })?;
    Ok(InspectOutput {
        format: out.format,
        encoding: out.encoding,
        delimiter: out.delimiter.map(|d| d.to_string()),
        sheet: out.sheet,
        sheets: out.sheets,
        has_header: out.has_header,
        header: out.header,
        mapping: out.mapping,
        unmapped: out.unmapped,
        row_count: out.row_count,
        blank_rows: out.blank_rows,
        record_count: out.records.len() as u32,
        errors: out.errors,
        notes: out.notes,
        rows: out
            .rows
            .unwrap_or_default()
            .into_iter()
            .map(|r: RawRow| r.cells)
            .collect(),
        records: out.records.iter().map(RecordOut::of).collect(),
    })
}

/// The links file of `preview --links FILE`: the state besides the records.
/// Every key is optional; a bare JSON array is read as `links`.
///
/// ```json
/// {
///   "links": [
///     {"our_number": "00123", "their_number": "123", "active": true,
///      "base": {"name": "Acme AS", "city": "Oslo"}, "version": 3}
///   ],
///   "deactivated": [{"side": "ours", "number": "00125"}],
///   "pending": [
///     {"type": "set", "number": "123", "field": "name", "from": "Acme", "to": "Acme AS"},
///     {"type": "create", "number": "130", "values": {"name": "New Co"}}
///   ],
///   "rules": {"max_len": 10, "digits_only": true, "strip_leading_zeros": true},
///   "required": {"ours": ["number", "name"], "theirs": ["number", "name", "email"]}
/// }
/// ```
///
/// `active: false` marks a stopped link; `base` holds the synced values at
/// the last synchronization (a field left out has no common value, so any
/// difference in it is a conflict).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinksFile {
    pub links: Vec<Link>,
    pub deactivated: Vec<Deactivation>,
    pub pending: Vec<PendingChange>,
    pub rules: Option<NumberRules>,
    pub required: Option<RequiredFields>,
}

impl LinksFile {
    /// Parses the JSON form described above.
    pub fn parse(bytes: &[u8]) -> Result<LinksFile, CommandError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| CommandError::Links(e.to_string()))?;
        let value = if value.is_array() {
            serde_json::json!({ "links": value })
        } else {
            value
        };
        serde_json::from_value(value).map_err(|e| CommandError::Links(e.to_string()))
    }
}

/// A category's rows with their count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section<T> {
    pub count: u32,
    pub rows: Vec<T>,
}

impl<T> Section<T> {
    fn of(rows: Vec<T>) -> Section<T> {
        Section {
            count: rows.len() as u32,
            rows,
        }
    }
}

/// Row errors of each file read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileErrors {
    pub ours: Vec<RowError>,
    pub theirs: Vec<RowError>,
}

/// The answer of `preview --kind K --ours FILE --theirs FILE [--links FILE]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewOutput {
    pub conflicts: Section<PreviewRow>,
    pub new: Section<PreviewRow>,
    pub deleted: Section<PreviewRow>,
    pub deactivated: Section<PreviewRow>,
    pub synchronized: Section<PreviewRow>,
    pub inactive: Section<PreviewRow>,
    pub errors: FileErrors,
}

/// A row of `preview`: a window's `Row` with its key, numbers and name
/// written out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub key: String,
    pub category: Category,
    pub reason: Option<Reason>,
    pub our_number: Option<String>,
    pub their_number: Option<String>,
    pub name: String,
    pub our_index: Option<u32>,
    /// `None` for a partner only a pending change created.
    pub their_index: Option<u32>,
    pub link_index: Option<u32>,
    pub no_import: bool,
    pub no_export: bool,
    pub skipped_multiple: bool,
    pub suggestion: Option<String>,
    pub conflicts: Vec<FieldConflict>,
    pub planned: Vec<PlannedUpdate>,
}

impl PreviewRow {
    fn of(state: &State, pending: &PendingIndex, row: Row) -> PreviewRow {
        PreviewRow {
            key: row.key(state),
            category: row.category,
            reason: row.reason,
            our_number: row.our_number(state).map(str::to_string),
            their_number: row.their_number(state).map(str::to_string),
            name: row.name(state, pending).into_owned(),
            our_index: row.our_index(),
            their_index: row.their_index(),
            link_index: row.link_index(),
            no_import: row.no_import(state, pending),
            no_export: row.no_export(state),
            skipped_multiple: row.skipped_multiple,
            suggestion: row.suggestion().map(str::to_string),
            conflicts: row.conflicts().to_vec(),
            planned: row.planned().to_vec(),
        }
    }
}

/// One input file of a command.
pub struct InputFile<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    pub options: ReadOptions,
}

fn read_file(f: &InputFile<'_>, kind: Kind) -> Result<crate::read::ReadOutput, CommandError> {
    read(f.bytes, Some(f.name), kind, &f.options).map_err(|error| CommandError::Read {
        file: f.name.to_string(),
        error,
    })
}

/// The state a preview runs on: both files' records and the links file.
pub fn preview_state(
    kind: Kind,
    ours: &InputFile<'_>,
    theirs: &InputFile<'_>,
    links: Option<&[u8]>,
) -> Result<(State, FileErrors), CommandError> {
    let o = read_file(ours, kind)?;
    let t = read_file(theirs, kind)?;
    let extra = match links {
        Some(b) => LinksFile::parse(b)?,
        None => LinksFile::default(),
    };
    let mut state = State::new(kind);
    state.ours = o.records;
    state.missing = t.missing_fields();
    state.theirs = t.records;
    state.links = extra.links;
    state.deactivated = extra.deactivated;
    state.pending = extra.pending;
    if let Some(r) = extra.rules {
        state.rules = r;
    }
    if let Some(r) = extra.required {
        state.required = r;
    }
    Ok((
        state,
        FileErrors {
            ours: o.errors,
            theirs: t.errors,
        },
    ))
}

/// `preview`: the six categories for two files and a links file.
pub fn preview(
    kind: Kind,
    ours: &InputFile<'_>,
    theirs: &InputFile<'_>,
    links: Option<&[u8]>,
) -> Result<PreviewOutput, CommandError> {
    let (state, errors) = preview_state(kind, ours, theirs, links)?;
    let mut c = categorize(&state);
    let pending = state.pending_index();
    let mut take = |cat: Category| {
        let rows = std::mem::take(match cat {
            Category::Conflicts => &mut c.conflicts,
            Category::New => &mut c.new,
            Category::Deleted => &mut c.deleted,
            Category::Deactivated => &mut c.deactivated,
            Category::Synchronized => &mut c.synchronized,
            Category::Inactive => &mut c.inactive,
        });
        Section::of(
            rows.into_iter()
                .map(|r| PreviewRow::of(&state, &pending, r))
                .collect(),
        )
    };
    Ok(PreviewOutput {
        conflicts: take(Category::Conflicts),
        new: take(Category::New),
        deleted: take(Category::Deleted),
        deactivated: take(Category::Deactivated),
        synchronized: take(Category::Synchronized),
        inactive: take(Category::Inactive),
        errors,
    })
}

/// A record of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    pub number: String,
    pub name: String,
}

/// One changed field, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: Field,
    pub before: String,
    pub after: String,
}

/// A changed record of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedRow {
    pub number: String,
    pub name: String,
    pub fields: Vec<FieldDiff>,
}

/// The answer of `diff OLD NEW --kind K`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffOutput {
    pub added: Section<DiffRow>,
    pub changed: Section<ChangedRow>,
    pub removed: Section<DiffRow>,
    pub unchanged: Section<DiffRow>,
    /// Records of NEW repeating an earlier record's number (not compared).
    pub duplicates: Section<DiffRow>,
    pub errors: FileErrors,
}

/// `diff`: what changed from OLD to NEW, matched by number (with `rules`'
/// key, so `00123` and `123` meet when zeros are stripped).
pub fn diff(
    kind: Kind,
    old: &InputFile<'_>,
    new: &InputFile<'_>,
    rules: &NumberRules,
) -> Result<DiffOutput, CommandError> {
    let o = read_file(old, kind)?;
    let n = read_file(new, kind)?;
    let snapshot = Snapshot::of(kind, rules, &o.records);
    let d = track_diff(&snapshot, &n.records);
    let mut old_by_key: BTreeMap<String, &Record> = BTreeMap::new();
    for r in &o.records {
        old_by_key.entry(rules.key(r.number())).or_insert(r);
    }
    let row = |r: &Record| DiffRow {
        number: r.number().to_string(),
        name: r.display_name(),
    };
    let at = |i: u32| n.records.get(i as usize);
    let changed = d
        .changed
        .iter()
        .filter_map(|c| {
            let after = at(c.index)?;
            let before = old_by_key.get(&c.key)?;
            Some(ChangedRow {
                number: after.number().to_string(),
                name: after.display_name(),
                fields: c
                    .fields
                    .iter()
                    .map(|f| FieldDiff {
                        field: *f,
                        before: before.get(*f).to_string(),
                        after: after.get(*f).to_string(),
                    })
                    .collect(),
            })
        })
        .collect();
    let changed_or_added: std::collections::BTreeSet<u32> = d
        .changed
        .iter()
        .map(|c| c.index)
        .chain(d.added.iter().copied())
        .chain(d.duplicates.iter().copied())
        .collect();
    let unchanged = n
        .records
        .iter()
        .enumerate()
        .filter(|(i, _)| !changed_or_added.contains(&(*i as u32)))
        .map(|(_, r)| row(r))
        .collect();
    Ok(DiffOutput {
        added: Section::of(d.added.iter().filter_map(|i| at(*i)).map(row).collect()),
        changed: Section::of(changed),
        removed: Section::of(
            d.removed
                .iter()
                .filter_map(|k| old_by_key.get(k))
                .map(|r| row(r))
                .collect(),
        ),
        unchanged: Section::of(unchanged),
        duplicates: Section::of(
            d.duplicates
                .iter()
                .filter_map(|i| at(*i))
                .map(row)
                .collect(),
        ),
        errors: FileErrors {
            ours: o.errors,
            theirs: n.errors,
        },
    })
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn file<'a>(name: &'a str, bytes: &'a [u8]) -> InputFile<'a> {
        InputFile {
            name,
            bytes,
            options: ReadOptions::default(),
        }
    }

    #[test]
    fn inspect_reports_detection_rows_and_records() {
        let out = inspect(
            b"Kundenr;Navn;Kommentar\n007;Bond AS;x\n;Nameless;y\n",
            Some("k.csv"),
            Kind::Customer,
            &ReadOptions::default(),
        )
        .expect("reads");
        let v = serde_json::to_value(&out).expect("serializes");
        assert_eq!(v["delimiter"], ";");
        assert_eq!(v["encoding"], "UTF-8");
        assert_eq!(v["header"][0], "Kundenr");
        assert_eq!(v["rows"][1][0], "007");
        assert_eq!(v["records"][0]["number"], "007");
        assert_eq!(v["records"][0]["values"]["name"], "Bond AS");
        assert_eq!(v["mapping"][0]["field"], "number");
        assert_eq!(v["unmapped"][0]["header"], "Kommentar");
        assert_eq!(v["errors"][0]["line"], 3);
        assert_eq!(v["row_count"], 2);
    }

    #[test]
    fn preview_with_links_file() {
        let ours = b"number;name\n00123;Acme AS\n00124;Bolt\n00125;Cog\n";
        let theirs = b"number,name\n123,Acme\n124,Bolt\n";
        let links = br#"{
            "links": [{"our_number": "00123", "their_number": "123", "base": {"name": "Acme"}}],
            "deactivated": [{"side": "ours", "number": "00125"}],
            "rules": {"strip_leading_zeros": true}
        }"#;
        let out = preview(
            Kind::Customer,
            &file("ours.csv", ours),
            &file("theirs.csv", theirs),
            Some(links),
        )
        .expect("previews");
        let v = serde_json::to_value(&out).expect("serializes");
        assert_eq!(v["synchronized"]["count"], 1);
        assert_eq!(v["synchronized"]["rows"][0]["planned"][0]["side"], "theirs");
        assert_eq!(v["new"]["count"], 2);
        assert_eq!(v["new"]["rows"][0]["suggestion"], "124");
        assert_eq!(v["deactivated"]["count"], 1);
        for k in ["conflicts", "deleted", "inactive"] {
            assert_eq!(v[k]["count"], 0, "{k}");
        }
        // A bare array is a list of links; bad JSON is a clear error.
        assert_eq!(
            LinksFile::parse(br#"[{"our_number":"1","their_number":"1"}]"#)
                .expect("parses")
                .links
                .len(),
            1
        );
        assert!(matches!(
            LinksFile::parse(b"{"),
            Err(CommandError::Links(_))
        ));
    }

    #[test]
    fn diff_of_two_files() {
        let old = b"number;name;city\n1;A;Oslo\n2;B;Oslo\n3;C;Oslo\n";
        let new = b"number;name;city\n1;A;Oslo\n2;B;Bergen\n4;D;Oslo\n";
        let out = diff(
            Kind::Customer,
            &file("old.csv", old),
            &file("new.csv", new),
            &NumberRules::default(),
        )
        .expect("diffs");
        let v = serde_json::to_value(&out).expect("serializes");
        assert_eq!(v["added"]["count"], 1);
        assert_eq!(v["added"]["rows"][0]["number"], "4");
        assert_eq!(v["removed"]["rows"][0]["number"], "3");
        assert_eq!(v["unchanged"]["count"], 1);
        assert_eq!(v["changed"]["rows"][0]["fields"][0]["field"], "city");
        assert_eq!(v["changed"]["rows"][0]["fields"][0]["before"], "Oslo");
        assert_eq!(v["changed"]["rows"][0]["fields"][0]["after"], "Bergen");
        let err = diff(
            Kind::Customer,
            &file("old.csv", b"name\nx\n"),
            &file("new.csv", new),
            &NumberRules::default(),
        );
        assert!(matches!(err, Err(CommandError::Read { file, .. }) if file == "old.csv"));
    }
}

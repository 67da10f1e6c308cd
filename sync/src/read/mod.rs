//! Reading files: bytes in, records and row errors out.
//!
//! This module owns format detection (xlsx by its zip magic or name, CSV
//! otherwise), the options a caller may override, the limits, and the step
//! shared by both formats that turns raw rows into `Record`s: picking the
//! header, mapping columns to fields, and checking each value. Every data row
//! ends as a record or as a `RowError` with its 1-based line number; nothing
//! is dropped silently (blank rows are counted in `blank_rows`).
//!
//! Where the records go is the caller's choice (`RecordSink`): `read` keeps
//! them as `Record`s; the browser's preview hands each one to
//! `fingerprint::Hashed`, which keeps only its key and hashes, so a
//! million-row file is never held as records.

pub mod csv;
pub mod mapping;
pub mod parts;
pub mod xlsx;

use serde::{Deserialize, Serialize};

use crate::normalize::LATIN1_LEAD;
use crate::schema::{Field, Kind, MAX_VALUES, Record, TextBlocks};

/// The file formats Partnersync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// Detects the format by magic bytes first (a zip local header means
    /// xlsx), then by the file name's extension; CSV otherwise.
    pub fn detect(bytes: &[u8], name: Option<&str>) -> Format {
        if bytes.starts_with(b"PK\x03\x04") {
            return Format::Xlsx;
        }
        let lower = name.map(str::to_ascii_lowercase).unwrap_or_default();
        if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }
}

/// A column named by its 0-based index or by its header text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ColumnRef {
    Index(u32),
    Header(String),
}

/// One entry of an explicit mapping the caller passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingEntry {
    pub column: ColumnRef,
    pub field: Field,
}

/// Size limits; exceeding one is a clear error rather than a long stall or
/// an out-of-memory in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest input file, in bytes.
    pub max_file_bytes: u64,
    /// Most data rows (not counting the header and blank rows).
    pub max_rows: u32,
    /// Most columns in any row.
    pub max_columns: u32,
    /// Longest value of a mapped field, in characters (a longer one is a row
    /// error).
    pub max_field_chars: u32,
    /// Most entries in an xlsx (zip) file.
    pub max_zip_entries: u32,
    /// Most bytes all xlsx entries may inflate to, declared or actual.
    pub max_uncompressed_bytes: u64,
    /// Highest inflated/compressed ratio of an xlsx entry larger than 1 MiB.
    pub max_compression_ratio: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 * 1024 * 1024,
            max_rows: 2_000_000,
            max_columns: 512,
            max_field_chars: crate::protocol::MAX_FIELD_CHARS as u32,
            max_zip_entries: 10_000,
            max_uncompressed_bytes: 1024 * 1024 * 1024,
            max_compression_ratio: 250,
        }
    }
}

/// What the caller may decide instead of the reader's guesses. `None` means
/// "detect".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadOptions {
    pub format: Option<Format>,
    /// An encoding label (`utf-8`, `windows-1252`, `utf-16le`, ...).
    pub encoding: Option<String>,
    /// One character: `,` `;` tab `|` or any other single-byte delimiter.
    pub delimiter: Option<char>,
    pub has_header: Option<bool>,
    /// Sheet name, for xlsx; the first sheet otherwise.
    pub sheet: Option<String>,
    /// Explicit column to field mapping; unnamed columns are still guessed.
    pub mapping: Vec<MappingEntry>,
    /// Keep every raw row (cells as strings) in the output.
    pub keep_rows: bool,
    pub limits: Limits,
}

/// A row as read: its 1-based line in the file and its cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawRow {
    pub line: u32,
    pub cells: Vec<String>,
}

/// A data row that did not become a record, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line (CSV: where the record starts; xlsx: the sheet row).
    pub line: u32,
    pub reason: String,
}

/// A column mapped to a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    pub column: u32,
    pub header: String,
    pub field: Field,
}

/// A column no field was mapped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmappedColumn {
    pub column: u32,
    pub header: String,
}

/// Everything a read found out and produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOutput {
    pub kind: Kind,
    pub format: Format,
    /// The encoding used (CSV): `UTF-8`, `windows-1252`, `UTF-16LE`, ...
    pub encoding: Option<String>,
    /// The delimiter used (CSV).
    pub delimiter: Option<char>,
    /// The sheet read (xlsx) and all sheet names.
    pub sheet: Option<String>,
    pub sheets: Vec<String>,
    pub has_header: bool,
    pub header: Vec<String>,
    pub mapping: Vec<ColumnMapping>,
    pub unmapped: Vec<UnmappedColumn>,
    /// Data rows seen (records + row errors).
    pub row_count: u32,
    pub blank_rows: u32,
    pub records: Vec<Record>,
    pub errors: Vec<RowError>,
    /// Raw rows, when `keep_rows` was asked for (header row included).
    pub rows: Option<Vec<RawRow>>,
    /// Notes on guesses the reader made that a person may want to know.
    pub notes: Vec<String>,
}

impl ReadOutput {
    /// The fields of the kind (the number aside) that no column maps: the
    /// file does not say what they hold, so the window neither compares
    /// them nor takes them over (`State::missing`).
    pub fn missing_fields(&self) -> Vec<Field> {
        self.kind
            .fields()
            .iter()
            .copied()
            .filter(|f| *f != Field::Number && !self.mapping.iter().any(|m| m.field == *f))
            .collect()
    }
}

/// Why a whole file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ReadError {
    #[error("the file is {size} bytes; at most {max} bytes can be read")]
    FileTooLarge { size: u64, max: u64 },
    #[error("the file has more than {max} data rows")]
    TooManyRows { max: u32 },
    #[error("line {line} has {count} columns; at most {max} are allowed")]
    TooManyColumns { line: u32, count: u32, max: u32 },
    #[error("unknown encoding {0:?}")]
    UnknownEncoding(String),
    #[error("the delimiter {0:?} is not a single-byte character")]
    BadDelimiter(char),
    #[error("the file has no rows")]
    Empty,
    #[error(
        "no column holds the record number (expected a header such as \"number\" or \"Kundenummer\")"
    )]
    NoNumberColumn,
    #[error("the mapping names column {0:?}, which the file does not have")]
    UnknownColumn(String),
    #[error("the CSV file cannot be read: {0}")]
    Csv(String),
    #[error("the spreadsheet cannot be read: {0}")]
    Xlsx(String),
    #[error("the spreadsheet has no sheet named {0:?}")]
    NoSuchSheet(String),
    #[error("the spreadsheet looks like a zip bomb or is damaged: {0}")]
    ZipLimit(String),
}

/// Where the reader puts the records it builds, one at a time, in file
/// order.
pub trait RecordSink {
    /// Takes a record: its 1-based line and its values by slot of
    /// `kind.fields()` (every slot present; `active` as `"true"` or
    /// `"false"`), the values `Record` would hold.
    fn record(&mut self, line: u32, values: &[&str]);
    /// `record`, of values of which those the reader did not change but
    /// trim (cells without doubled quotes) are slices of `text`, the
    /// CSV text the row was read from: a sink may copy them from there at
    /// once.
    fn record_from_text(&mut self, line: u32, values: &[&str], _text: &str) {
        self.record(line, values);
    }
    /// How many records were taken.
    fn len(&self) -> usize;
    /// True when none was taken.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// About `rows` records will come.
    fn expect(&mut self, _rows: usize) {}
    /// The fields the file has a column for, before any record comes; the
    /// others' values are empty (and `active` true) because the file does
    /// not say, not because they are.
    fn mapped(&mut self, _fields: &[Field]) {}
    /// All records were taken (before any `activate`).
    fn end(&mut self) {}
    /// Record `index` (counted from 0 in the order taken) is active after
    /// all: its `active` cell was empty, and so was that whole column.
    fn activate(&mut self, index: usize);
    /// The file's shape, once its columns are mapped and before any record
    /// comes: a hash of what makes a row's text read as the same record in
    /// two files (the kind, the delimiter, the header, the mapping of
    /// columns to fields and the limits a value is checked against). Two
    /// files of one shape read a row of the same text alike (a row whose
    /// `active` cell is empty aside: see `RowHashes`), whatever their
    /// encodings: the text is the decoded one.
    fn shape(&mut self, _shape: u64) {}
    /// Whether the sink wants each data row's text first (`row_text`).
    fn wants_rows(&self) -> bool {
        false
    }
    /// The text of the CSV data row about to be taken (its lines, without
    /// the line break that ends it). `true`: the sink knows the row and
    /// has taken it as the record it reads as (`fingerprint::KnownRows`),
    /// so no `record` comes for it. Only asked when `wants_rows`, and never
    /// of an xlsx file's rows.
    fn row_text(&mut self, _text: &str) -> bool {
        false
    }
    /// The record about to come had an empty `active` cell: it reads as
    /// inactive unless the whole column turns out empty (`activate`).
    fn empty_active(&mut self) {}
}

/// Hash of a data row's text as `RecordSink::row_text` gets it: the value
/// hash of its bytes (never 0).
pub fn row_hash(text: &str) -> u64 {
    crate::normalize::value_hash(text)
}

/// The hashes of the rows that became records (`RecordSink::row_text`), in
/// record order: 0 for a record whose text the reader did not hand over
/// (the first row of a file without a header; any row of an xlsx file),
/// and for one whose `active` cell was empty (what it reads as depends on
/// the other rows' cells).
/// The server keeps them for the stored import its state has, and the
/// preview fingerprint tells the browser which rows it may take as known
/// (`fingerprint::KnownRows`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowHashes {
    /// The file's shape (`RecordSink::shape`).
    pub shape: u64,
    pub hashes: Vec<u64>,
    /// Some record was made active because the whole `active` column was
    /// empty: a row's record then depends on the other rows.
    pub activated: bool,
    /// The fields the file has a column for.
    pub mapped: Vec<Field>,
    pending: u64,
}

impl RecordSink for RowHashes {
    fn record(&mut self, _line: u32, _values: &[&str]) {
        self.hashes.push(std::mem::take(&mut self.pending));
    }
    fn len(&self) -> usize {
        self.hashes.len()
    }
    fn expect(&mut self, rows: usize) {
        self.hashes.reserve(rows);
    }
    fn mapped(&mut self, fields: &[Field]) {
        self.mapped = fields.to_vec();
    }
    fn activate(&mut self, _index: usize) {
        self.activated = true;
    }
    fn shape(&mut self, shape: u64) {
        self.shape = shape;
    }
    fn wants_rows(&self) -> bool {
        true
    }
    fn row_text(&mut self, text: &str) -> bool {
        self.pending = row_hash(text);
        false
    }
    fn empty_active(&mut self) {
        self.pending = 0;
    }
}

/// The sink `read` uses: the records themselves, their text gathered in
/// shared blocks.
pub struct Records {
    blocks: TextBlocks,
    pub records: Vec<Record>,
}

impl Records {
    pub fn new(kind: Kind) -> Records {
        Records {
            blocks: TextBlocks::new(kind),
            records: Vec::new(),
        }
    }
}

impl RecordSink for Records {
    fn record(&mut self, line: u32, values: &[&str]) {
        self.blocks.push(line, values, &mut self.records);
    }
    fn record_from_text(&mut self, line: u32, values: &[&str], text: &str) {
        self.blocks
            .push_from_row(line, values, text, &mut self.records);
    }
    fn len(&self) -> usize {
        self.records.len() + self.blocks.pending()
    }
    fn expect(&mut self, rows: usize) {
        // Room up front, so the list is not copied as it doubles (on wasm32
        // a copy briefly holds both lists).
        self.records.reserve(rows);
    }
    fn end(&mut self) {
        self.blocks.flush(&mut self.records);
    }
    fn activate(&mut self, index: usize) {
        if let Some(r) = self.records.get_mut(index) {
            r.set_active(true);
        }
    }
}

/// A sink that hands every record on to `sink` and keeps the hashes of
/// their rows besides (`RowHashes`): one read for both, as the server reads
/// a stored import.
pub struct WithRowHashes<S> {
    pub sink: S,
    pub rows: RowHashes,
}

impl<S: RecordSink> WithRowHashes<S> {
    pub fn new(sink: S) -> WithRowHashes<S> {
        WithRowHashes {
            sink,
            rows: RowHashes::default(),
        }
    }
}

impl<S: RecordSink> RecordSink for WithRowHashes<S> {
    fn record(&mut self, line: u32, values: &[&str]) {
        self.rows.record(line, values);
        self.sink.record(line, values);
    }
    fn record_from_text(&mut self, line: u32, values: &[&str], text: &str) {
        self.rows.record(line, values);
        self.sink.record_from_text(line, values, text);
    }
    fn len(&self) -> usize {
        self.sink.len()
    }
    fn expect(&mut self, rows: usize) {
        self.rows.expect(rows);
        self.sink.expect(rows);
    }
    fn mapped(&mut self, fields: &[Field]) {
        self.rows.mapped(fields);
        self.sink.mapped(fields);
    }
    fn end(&mut self) {
        self.sink.end();
    }
    fn activate(&mut self, index: usize) {
        self.rows.activate(index);
        self.sink.activate(index);
    }
    fn shape(&mut self, shape: u64) {
        self.rows.shape(shape);
        self.sink.shape(shape);
    }
    fn wants_rows(&self) -> bool {
        true
    }
    fn row_text(&mut self, text: &str) -> bool {
        self.rows.row_text(text);
        let taken = self.sink.wants_rows() && self.sink.row_text(text);
        if taken {
            // No record comes: the row's hash stands for the one taken.
            self.rows.record(0, &[]);
        }
        taken
    }
    fn empty_active(&mut self) {
        self.rows.empty_active();
        self.sink.empty_active();
    }
}

/// Reads a CSV or xlsx file of `kind` records.
pub fn read(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
) -> Result<ReadOutput, ReadError> {
    let (mut out, sink) = read_into(bytes, name, kind, options, Records::new(kind))?;
    out.records = sink.records;
    Ok(out)
}

/// Reads a CSV or xlsx file of `kind` records into `sink`; the output's
/// `records` stay empty.
pub fn read_into<S: RecordSink>(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
    sink: S,
) -> Result<(ReadOutput, S), ReadError> {
    let size = bytes.len() as u64;
    if size > options.limits.max_file_bytes {
        return Err(ReadError::FileTooLarge {
            size,
            max: options.limits.max_file_bytes,
        });
    }
    match options
        .format
        .unwrap_or_else(|| Format::detect(bytes, name))
    {
        Format::Csv => csv::read_csv(bytes, kind, options, sink),
        Format::Xlsx => xlsx::read_xlsx(bytes, kind, options, sink),
    }
}

/// A row's cells as text, as the readers hold them: CSV cells are slices of
/// the file's text, xlsx cells a list of strings. The builder reads only
/// the cells it maps, so a reader need not build a list per row.
pub(crate) trait Cells {
    /// How many cells the row has.
    fn count(&self) -> usize;
    /// Cell `i`, or `""` past the end.
    fn cell(&self, i: usize) -> &str;
    /// True when every cell is empty or white space.
    fn is_blank(&self) -> bool {
        (0..self.count()).all(|i| trim(self.cell(i)).is_empty())
    }
    /// The text that cells not changed by reading are slices of, if any
    /// (`RecordSink::record_from_text`).
    fn text(&self) -> Option<&str> {
        None
    }
}

impl Cells for [&str] {
    fn count(&self) -> usize {
        self.len()
    }
    fn cell(&self, i: usize) -> &str {
        self.get(i).copied().unwrap_or("")
    }
}

/// `str::trim`, with a shortcut for the usual cell, which starts and ends
/// with a visible ASCII character or a Latin-1 letter (æ, ø, å, é, ...:
/// `normalize::LATIN1_LEAD` and a continuation byte, none of them white
/// space) and so has nothing to trim.
/// Nordic names and towns often end in one ("Tromsø"); `str::trim` would
/// decode it and look it up in Unicode's white-space table.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let start_kept = match b.first() {
        Some(&f) => f.is_ascii_graphic() || f == LATIN1_LEAD,
        None => return s,
    };
    let end_kept = match b {
        [.., l] if l.is_ascii_graphic() => true,
        [.., lead, 0x80..=0xbf] => *lead == LATIN1_LEAD,
        _ => false,
    };
    if start_kept && end_kept {
        s
    } else {
        trim_slowly(s)
    }
}

#[cold]
fn trim_slowly(s: &str) -> &str {
    s.trim()
}

/// Turns raw rows into records, one row at a time, so a million-row file is
/// never held twice. Both readers feed it; it feeds the sink.
pub(crate) struct Builder<'o, S> {
    kind: Kind,
    options: &'o ReadOptions,
    /// The mapped columns as (column, slot in `kind.fields()`, its field),
    /// in column order; `None` until the first row. The field is
    /// `kind.fields()[slot]`, kept beside it so that a row's loop over its
    /// cells does not look it up (measured: about 2 ms of a million rows).
    columns: Option<Vec<(usize, usize, Field)>>,
    active_column: Option<usize>,
    out: ReadOutput,
    /// Lines of rows whose `active` cell was empty, in case the whole column
    /// turns out empty (then it is ignored rather than making all inactive).
    empty_active: Vec<u32>,
    any_active_value: bool,
    sink: S,
}

impl<'o, S: RecordSink> Builder<'o, S> {
    pub(crate) fn new(kind: Kind, format: Format, options: &'o ReadOptions, sink: S) -> Self {
        Builder {
            kind,
            options,
            columns: None,
            active_column: None,
            out: ReadOutput {
                kind,
                format,
                encoding: None,
                delimiter: None,
                sheet: None,
                sheets: Vec::new(),
                has_header: false,
                header: Vec::new(),
                mapping: Vec::new(),
                unmapped: Vec::new(),
                row_count: 0,
                blank_rows: 0,
                records: Vec::new(),
                errors: Vec::new(),
                rows: if options.keep_rows {
                    Some(Vec::new())
                } else {
                    None
                },
                notes: Vec::new(),
            },
            empty_active: Vec::new(),
            any_active_value: false,
            sink,
        }
    }

    pub(crate) fn output_mut(&mut self) -> &mut ReadOutput {
        &mut self.out
    }

    /// About `rows` records will come (never more than the row limit
    /// allows), so the sink can make room once.
    pub(crate) fn expect_rows(&mut self, rows: usize) {
        let max = self.options.limits.max_rows as usize;
        self.sink.expect(rows.min(max));
    }

    /// Takes one row. The cells are borrowed: they are copied only into
    /// records (and into `rows` when kept), so a million-row file does not
    /// allocate every cell twice.
    pub(crate) fn push<C: Cells + ?Sized>(
        &mut self,
        line: u32,
        cells: &C,
    ) -> Result<(), ReadError> {
        let limits = &self.options.limits;
        let count = u32::try_from(cells.count()).unwrap_or(u32::MAX);
        if count > limits.max_columns {
            return Err(ReadError::TooManyColumns {
                line,
                count,
                max: limits.max_columns,
            });
        }
        if self.columns.is_none() {
            if cells.is_blank() {
                self.out.blank_rows += 1;
                return Ok(());
            }
            let cells: Vec<&str> = (0..cells.count()).map(|i| cells.cell(i)).collect();
            return self.first_row(line, &cells);
        }
        self.data_row(line, cells)
    }

    fn first_row(&mut self, line: u32, cells: &[&str]) -> Result<(), ReadError> {
        if self.configure(cells)? {
            if let Some(rows) = self.out.rows.as_mut() {
                rows.push(RawRow {
                    line,
                    cells: cells.iter().map(|c| c.to_string()).collect(),
                });
            }
            Ok(())
        } else {
            self.data_row(line, cells)
        }
    }

    /// Maps the columns from the file's first row (`cells`); returns whether
    /// it is a header. A part of a file read in parts (`parts`) is
    /// configured this way from the file's first row, which it does not
    /// hold.
    pub(crate) fn configure(&mut self, cells: &[&str]) -> Result<bool, ReadError> {
        let kind = self.kind;
        let guessed: Vec<Option<Field>> = cells
            .iter()
            .map(|c| mapping::field_for_header(kind, c))
            .collect();
        // A header is assumed when any cell names a field we know: data rows
        // rarely contain the word "Kundenummer".
        let has_header = self
            .options
            .has_header
            .unwrap_or_else(|| guessed.iter().any(Option::is_some));
        self.out.has_header = has_header;
        let width = cells.len();
        let header: Vec<String> = if has_header {
            cells.iter().map(|c| c.trim().to_string()).collect()
        } else {
            Vec::new()
        };

        let mut slots: Vec<Option<Field>> = vec![None; width];
        let mut taken: Vec<Field> = Vec::new();
        for entry in &self.options.mapping {
            let col = match &entry.column {
                // An index past the column limit names nothing (and must not
                // make the slot table huge).
                ColumnRef::Index(i) if *i >= self.options.limits.max_columns => {
                    return Err(ReadError::UnknownColumn(i.to_string()));
                }
                ColumnRef::Index(i) => *i as usize,
                ColumnRef::Header(h) => {
                    let folded = mapping::fold_header(h);
                    header
                        .iter()
                        .position(|x| mapping::fold_header(x) == folded)
                        .ok_or_else(|| ReadError::UnknownColumn(h.clone()))?
                }
            };
            if kind.index_of(entry.field).is_none() {
                continue;
            }
            if col >= slots.len() {
                slots.resize(col + 1, None);
            }
            slots[col] = Some(entry.field);
            taken.push(entry.field);
        }
        let explicit: Vec<bool> = slots.iter().map(Option::is_some).collect();
        if has_header {
            for (i, g) in guessed.iter().enumerate() {
                if explicit.get(i).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(f) = g
                    && !taken.contains(f)
                {
                    slots[i] = Some(*f);
                    taken.push(*f);
                }
            }
        } else if self.options.mapping.is_empty() {
            // No header and no mapping: the documented column order.
            for (i, f) in kind.fields().iter().enumerate().take(width) {
                slots[i] = Some(*f);
            }
            self.out
                .notes
                .push("no header row: columns read in the documented order".to_string());
        }
        if !slots.contains(&Some(Field::Number)) {
            return Err(ReadError::NoNumberColumn);
        }
        let header_at = |i: usize| header.get(i).cloned().unwrap_or_default();
        for (i, s) in slots.iter().enumerate() {
            match s {
                Some(f) => self.out.mapping.push(ColumnMapping {
                    column: i as u32,
                    header: header_at(i),
                    field: *f,
                }),
                None => self.out.unmapped.push(UnmappedColumn {
                    column: i as u32,
                    header: header_at(i),
                }),
            }
        }
        let mapped: Vec<Field> = slots.iter().flatten().copied().collect();
        self.sink.mapped(&mapped);
        self.active_column = slots.iter().position(|s| *s == Some(Field::Active));
        self.columns = Some(
            slots
                .iter()
                .enumerate()
                .filter_map(|(col, s)| {
                    let f = (*s)?;
                    Some((col, kind.index_of(f)?, f))
                })
                .collect(),
        );
        self.out.header = header;
        let shape = self.shape();
        self.sink.shape(shape);
        Ok(has_header)
    }

    /// The file's shape (`RecordSink::shape`), once its columns are mapped.
    fn shape(&self) -> u64 {
        use crate::normalize::fnv1a_continue as fnv;
        let out = &self.out;
        let limits = &self.options.limits;
        let mut h = crate::normalize::fnv1a(self.kind.as_str().as_bytes());
        h = fnv(h, &out.delimiter.map_or(0, u32::from).to_le_bytes());
        h = fnv(h, &[u8::from(out.has_header)]);
        for cell in &out.header {
            h = fnv(h, &(cell.len() as u64).to_le_bytes());
            h = fnv(h, cell.as_bytes());
        }
        for (col, slot, _) in self.columns.as_deref().unwrap_or(&[]) {
            h = fnv(h, &(*col as u64).to_le_bytes());
            h = fnv(h, &(*slot as u64).to_le_bytes());
        }
        h = fnv(h, &limits.max_field_chars.to_le_bytes());
        fnv(h, &limits.max_columns.to_le_bytes())
    }

    /// Whether the reader is to offer the next data row's text to the sink
    /// (`offer_row`): once the columns are mapped, when the sink wants
    /// rows and the raw rows are not kept.
    pub(crate) fn takes_rows(&self) -> bool {
        self.columns.is_some() && self.out.rows.is_none() && self.sink.wants_rows()
    }

    /// Offers a data row's text to the sink (`RecordSink::row_text`);
    /// `true` when the sink took it as known, and the row is counted. The
    /// sink knows only rows whose `active` cell (with an active column)
    /// held a value (`RowHashes`), so such a row makes the column not
    /// empty, and no record is made active afterwards (`activate`).
    pub(crate) fn offer_row(&mut self, text: &str) -> Result<bool, ReadError> {
        if !self.sink.row_text(text) {
            return Ok(false);
        }
        self.out.row_count += 1;
        if self.out.row_count > self.options.limits.max_rows {
            return Err(ReadError::TooManyRows {
                max: self.options.limits.max_rows,
            });
        }
        if self.active_column.is_some() {
            self.any_active_value = true;
        }
        Ok(true)
    }

    /// Takes a row after the first (or a first that is not a header): a
    /// blank row is counted as one; every other row becomes a record or a
    /// row error.
    fn data_row<C: Cells + ?Sized>(&mut self, line: u32, cells: &C) -> Result<(), ReadError> {
        let kind = self.kind;
        let fields = kind.fields();
        let max_chars = self.options.limits.max_field_chars as usize;
        // The record's values by slot, borrowed from the row until they are
        // copied into a text block; unmapped slots keep `Record::new`'s
        // defaults (empty, and active).
        let mut values = [""; MAX_VALUES];
        if let Some(last) = values[..fields.len()].last_mut() {
            *last = "true";
        }
        let mut problems: Vec<String> = Vec::new();
        let mut active_was_empty = false;
        let columns = self.columns.as_deref().unwrap_or(&[]);
        let number_limit = max_chars.min(crate::protocol::MAX_NUMBER_CHARS);
        for &(col, slot, field) in columns {
            let raw = cells.cell(col);
            if field == Field::Active {
                match mapping::parse_active(raw) {
                    Some(a) => {
                        if trim(raw).is_empty() {
                            active_was_empty = true;
                        } else {
                            self.any_active_value = true;
                        }
                        values[slot] = if a { "true" } else { "false" };
                    }
                    None => problems.push(format!(
                        "active: {raw:?} is not a yes/no value (yes, no, ja, nei, nej, kyllä, ei, true, false, 1, 0, x or empty)"
                    )),
                }
                continue;
            }
            let value = trim(raw);
            if field == Field::Number && value.is_empty() {
                // Perhaps a blank row: only a row without a number can be.
                if cells.is_blank() {
                    self.out.blank_rows += 1;
                    return Ok(());
                }
                problems.push("number: empty".to_string());
                continue;
            }
            let limit = if field == Field::Number {
                number_limit
            } else {
                max_chars
            };
            // A value has at most as many characters as bytes: count them
            // only when the byte length is over the limit.
            if raw.len() > limit {
                let chars = raw.chars().count();
                if chars > limit {
                    problems.push(format!(
                        "{field}: {chars} characters; at most {limit} are allowed"
                    ));
                    continue;
                }
            }
            values[slot] = value;
        }
        self.out.row_count += 1;
        if self.out.row_count > self.options.limits.max_rows {
            return Err(ReadError::TooManyRows {
                max: self.options.limits.max_rows,
            });
        }
        if problems.is_empty() {
            if active_was_empty {
                self.empty_active
                    .push(u32::try_from(self.sink.len()).unwrap_or(u32::MAX));
                self.sink.empty_active();
            }
            let values = &values[..fields.len()];
            match cells.text() {
                Some(text) => self.sink.record_from_text(line, values, text),
                None => self.sink.record(line, values),
            }
        } else {
            self.out.errors.push(RowError {
                line,
                reason: problems.join("; "),
            });
        }
        if let Some(rows) = self.out.rows.as_mut() {
            rows.push(RawRow {
                line,
                cells: (0..cells.count())
                    .map(|i| cells.cell(i).to_string())
                    .collect(),
            });
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<(ReadOutput, S), ReadError> {
        let (meta, sink) = self.finish_part()?;
        Ok(parts::finish(meta, sink))
    }

    /// Ends a part of a file read in parts: everything `finish` does that
    /// does not need the other parts.
    pub(crate) fn finish_part(mut self) -> Result<(parts::PartMeta, S), ReadError> {
        if self.columns.is_none() {
            return Err(ReadError::Empty);
        }
        self.sink.end();
        let meta = parts::PartMeta {
            out: self.out,
            newlines: 0,
            clean_end: true,
            utf8: None,
            empty_active: self.empty_active,
            any_active_value: self.any_active_value,
            has_active_column: self.active_column.is_some(),
        };
        Ok((meta, self.sink))
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn trim_is_str_trim() {
        let samples = [
            "",
            " ",
            "x",
            "Tromsø",
            "Ørsta",
            "ø",
            "Bodø ",
            " Bodø",
            "\u{a0}Bodø",
            "Bodø\u{a0}",
            "ø\u{85}",
            "\u{3000}x",
            "x\u{2003}",
            "é\té",
            "\tx",
            "x\r\n",
            "ŠKODA",
            "Oy Š",
            "Ω",
        ];
        for s in samples {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn detects_format_by_magic_then_name() {
        assert_eq!(
            Format::detect(b"PK\x03\x04rest", Some("a.csv")),
            Format::Xlsx
        );
        assert_eq!(Format::detect(b"number;name", Some("a.XLSX")), Format::Xlsx);
        assert_eq!(Format::detect(b"number;name", Some("a.csv")), Format::Csv);
        assert_eq!(Format::detect(b"number;name", None), Format::Csv);
    }
}

//! Reading a large CSV file in parts, each by a worker of its own (the
//! browser's preview runs one per core), with exactly the result of reading
//! it whole.
//!
//! `plan` looks at the file's first bytes only: the encoding, the
//! delimiter, and the first row, which maps the columns. The caller cuts the
//! file just past line feeds (`cut`) and reads each part (`read_part`): the
//! first as a file's start, the others from their first line, mapped by the
//! planned first row, with their lines counted from 1. `merge` puts the
//! parts together (lines renumbered, record indices moved on) and finishes
//! the read, or answers `Whole` when the parts cannot give the whole file's
//! answer, and the caller reads the file whole:
//! - a cut fell inside a quoted cell (a quoted line break), which shows as a
//!   part that ends inside quotes;
//! - the file looked like UTF-8 at its start but a part is not (the whole
//!   file is then Windows-1252), or the other way round;
//! - a part failed: the whole read gives the error with its true line.
//!
//! Why the cuts are safe otherwise: a part that starts where a record starts
//! and ends outside quotes ends where a record ends, so by induction from
//! the file's start every part starts at a record, and each record is read
//! from the same text with the same mapping as in one pass. The property
//! test `parts_read_as_the_whole_file` holds `read_in_parts` to `read` on
//! generated files cut at every kind of place.

use serde::{Deserialize, Serialize};

use super::{Format, ReadError, ReadOptions, ReadOutput, RecordSink, Records, csv};
use crate::schema::Kind;

/// How much of a file `plan` needs: room for the delimiter guess's sample
/// and a first row.
pub const HEAD_BYTES: usize = 256 * 1024;

/// How a CSV file's parts are read, decided from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPlan {
    /// The encoding's label; `None`: UTF-8 if every part is valid UTF-8,
    /// else Windows-1252, as a whole read decides.
    pub encoding: Option<String>,
    pub delimiter: u8,
    /// The cells of the file's first non-blank row, which map the columns.
    pub first_row: Vec<String>,
    /// The file's offset just past the line feed that ends its first
    /// non-blank row: the first part holds everything before, so no part
    /// may start earlier (`may_start_at`).
    #[serde(default)]
    pub data_start: u64,
}

impl PartPlan {
    /// Whether a part may start at `at` (just past a line feed): not
    /// before the first row's end, or the first part would hold no first
    /// row and the next would read it as data.
    pub fn may_start_at(&self, at: u64) -> bool {
        at >= self.data_start
    }

    /// The bounds of the parts of a file of `len` bytes cut at `starts`:
    /// 0, the starts inside the file that may start a part, then `len`.
    pub fn bounds(&self, starts: impl IntoIterator<Item = usize>, len: usize) -> Vec<usize> {
        let mut bounds = vec![0];
        bounds.extend(
            starts
                .into_iter()
                .filter(|s| *s > 0 && *s < len && self.may_start_at(*s as u64)),
        );
        bounds.push(len);
        bounds
    }
}

/// What a part's read found, besides its records: the read's output so far
/// (its lines counted from the part's start) and what the merge needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMeta {
    pub out: ReadOutput,
    /// Line breaks in the part (a carriage return alone counts, as in
    /// the splitter): the next part's lines come after them.
    pub newlines: u32,
    /// The part did not end inside quotes.
    pub clean_end: bool,
    /// Under `PartPlan::encoding` `None`: whether the part is UTF-8.
    pub utf8: Option<bool>,
    /// Records (counted from the part's first) whose `active` cell was
    /// empty.
    pub empty_active: Vec<u32>,
    pub any_active_value: bool,
    pub has_active_column: bool,
}

/// A part read into its sink.
pub struct Part<S> {
    pub meta: PartMeta,
    pub sink: S,
}

/// A sink whose parts can be put together in file order.
pub trait PartSink: RecordSink {
    /// Appends the records of `other`, the next part, whose lines are
    /// `lines` further down the file than it counted.
    fn append(&mut self, other: Self, lines: u32);
}

impl PartSink for super::RowHashes {
    fn append(&mut self, other: super::RowHashes, _lines: u32) {
        self.hashes.extend(other.hashes);
        self.activated |= other.activated;
    }
}

impl<S: PartSink> PartSink for super::WithRowHashes<S> {
    fn append(&mut self, other: super::WithRowHashes<S>, lines: u32) {
        self.sink.append(other.sink, lines);
        self.rows.append(other.rows, lines);
    }
}

/// How many records `Records::append` moves between shrinking the part
/// it takes them from.
const SHRINK_EVERY: usize = 1 << 15;

impl PartSink for Records {
    /// Takes the records from the back of `other`, whose vector shrinks as
    /// it empties, and puts them in order after: a large file's records
    /// are never held twice over (moving them all at once kept the later
    /// part's vector beside its copy, a tenth more of a server run's peak
    /// memory at a million records).
    fn append(&mut self, mut other: Records, lines: u32) {
        let start = self.records.len();
        self.records.reserve_exact(other.records.len());
        let mut moved = 0;
        while let Some(mut r) = other.records.pop() {
            r.line = r.line.saturating_add(lines);
            self.records.push(r);
            moved += 1;
            if moved % SHRINK_EVERY == 0 {
                other.records.shrink_to_fit();
            }
        }
        self.records[start..].reverse();
    }
}

/// Why the parts cannot stand for the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Whole {
    #[error("a part failed to read")]
    Failed,
    #[error("a cut fell inside a quoted cell")]
    CutInQuotes,
    #[error("the parts disagree on the encoding")]
    Encoding,
    #[error("the parts disagree on the layout")]
    Layout,
    #[error("the parts hold more rows than the limit")]
    TooManyRows,
}

/// The plan for reading the file that starts with `head` (its first
/// `HEAD_BYTES`, or all of it) in parts, or `None` when it is read whole:
/// a file no longer than its head, an xlsx file, raw rows asked for, or
/// anything `csv::plan` leaves to a whole read.
pub fn plan(
    head: &[u8],
    file_len: u64,
    name: Option<&str>,
    options: &ReadOptions,
) -> Option<PartPlan> {
    let format = options.format.unwrap_or_else(|| Format::detect(head, name));
    if options.keep_rows
        || format != Format::Csv
        || file_len <= head.len() as u64
        || file_len > options.limits.max_file_bytes
    {
        return None;
    }
    csv::plan(head, options)
}

/// Where to cut, in `chunk` (the file's bytes from some offset on), so that
/// the part before ends a line: just past the first line feed.
pub fn cut(chunk: &[u8]) -> Option<usize> {
    chunk.iter().position(|b| *b == b'\n').map(|i| i + 1)
}

/// Reads one part: `first` is the file's start.
pub fn read_part<S: RecordSink>(
    plan: &PartPlan,
    first: bool,
    bytes: &[u8],
    kind: Kind,
    options: &ReadOptions,
    sink: S,
) -> Result<Part<S>, ReadError> {
    csv::read_csv_part(plan, first, bytes, kind, options, sink)
        .map(|(meta, sink)| Part { meta, sink })
}

/// Puts the parts, in file order, together as one read of the whole file.
pub fn merge<S: PartSink>(
    parts: Vec<Result<Part<S>, ReadError>>,
    options: &ReadOptions,
) -> Result<(ReadOutput, S), Whole> {
    let mut parts: Vec<Part<S>> = parts
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|_| Whole::Failed)?;
    if parts.is_empty() {
        return Err(Whole::Failed);
    }
    let last = parts.len() - 1;
    if parts[..last].iter().any(|p| !p.meta.clean_end) {
        return Err(Whole::CutInQuotes);
    }
    let utf8 = parts[0].meta.utf8;
    if parts.iter().any(|p| p.meta.utf8 != utf8) {
        return Err(Whole::Encoding);
    }
    let rows: u64 = parts.iter().map(|p| u64::from(p.meta.out.row_count)).sum();
    if rows > u64::from(options.limits.max_rows) {
        return Err(Whole::TooManyRows);
    }
    let mut rest = parts.split_off(1).into_iter();
    let Some(Part { mut meta, mut sink }) = parts.pop() else {
        return Err(Whole::Failed);
    };
    let mut lines = meta.newlines;
    // Room for the later parts' records at once, not as the list doubles.
    sink.expect(rest.as_slice().iter().map(|p| p.sink.len()).sum());
    for p in rest.by_ref() {
        let o = &p.meta.out;
        if o.encoding != meta.out.encoding
            || o.delimiter != meta.out.delimiter
            || o.mapping != meta.out.mapping
            || o.has_header != meta.out.has_header
        {
            return Err(Whole::Layout);
        }
        let records = u32::try_from(sink.len()).unwrap_or(u32::MAX);
        let PartMeta {
            out,
            newlines,
            empty_active,
            any_active_value,
            ..
        } = p.meta;
        meta.out.row_count = meta.out.row_count.saturating_add(out.row_count);
        meta.out.blank_rows = meta.out.blank_rows.saturating_add(out.blank_rows);
        meta.out.errors.extend(out.errors.into_iter().map(|mut e| {
            e.line = e.line.saturating_add(lines);
            e
        }));
        meta.empty_active
            .extend(empty_active.into_iter().map(|i| i.saturating_add(records)));
        meta.any_active_value |= any_active_value;
        sink.append(p.sink, lines);
        lines = lines.saturating_add(newlines);
    }
    Ok(finish(meta, sink))
}

/// Ends a read: an `active` column with no value at all is an unused
/// column, not a list of inactive records.
pub(crate) fn finish<S: RecordSink>(mut meta: PartMeta, mut sink: S) -> (ReadOutput, S) {
    if meta.has_active_column && !meta.any_active_value && !meta.empty_active.is_empty() {
        for i in std::mem::take(&mut meta.empty_active) {
            sink.activate(i as usize);
        }
        meta.out.notes.push(
            "the active column is empty in every row: all records read as active".to_string(),
        );
    }
    (meta.out, sink)
}

/// Where to cut `bytes` into at most `parts` parts of about equal size:
/// the starts of the parts after the first.
pub fn cuts(bytes: &[u8], parts: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut last = 0;
    for k in 1..parts.max(1) {
        let at = (bytes.len() / parts * k).max(last);
        if let Some(c) = cut(&bytes[at..]) {
            let start = at + c;
            if start > last && start < bytes.len() {
                starts.push(start);
                last = start;
            }
        }
    }
    starts
}

/// `read::read`, with a file of 1 MiB or more read in `threads` parts at
/// once, one thread each (natively; the browser has workers instead): the
/// same answer, sooner. The server reads imports this way.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_threaded(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
    threads: usize,
) -> Result<ReadOutput, ReadError> {
    read_threaded_into(bytes, name, kind, options, threads, || Records::new(kind)).map(
        |(mut out, sink)| {
            out.records = sink.records;
            out
        },
    )
}

/// `read_threaded` into the sinks `sink` makes, one per part, put together.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_threaded_into<S: PartSink + Send>(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
    threads: usize,
    sink: impl Fn() -> S + Sync,
) -> Result<(ReadOutput, S), ReadError> {
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    if threads > 1
        && bytes.len() >= 4 * HEAD_BYTES
        && let Some(plan) = plan(head, bytes.len() as u64, name, options)
    {
        let bounds = plan.bounds(cuts(bytes, threads), bytes.len());
        let (plan, sink) = (&plan, &sink);
        let parts: Vec<Result<Part<S>, ReadError>> = std::thread::scope(|s| {
            let running: Vec<_> = bounds
                .windows(2)
                .enumerate()
                .map(|(i, w)| {
                    let part = &bytes[w[0]..w[1]];
                    s.spawn(move || read_part(plan, i == 0, part, kind, options, sink()))
                })
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(ReadError::Csv("a part's reader failed".into())))
                })
                .collect()
        });
        if let Ok(done) = merge(parts, options) {
            return Ok(done);
        }
    }
    super::read_into(bytes, name, kind, options, sink())
}

/// Reads `bytes` in parts, one after another, at the given part starts
/// (each just past a line feed), or whole when they cannot stand for it:
/// what the browser's workers do together, in one place, for tests and
/// for callers with the whole file at hand.
pub fn read_in_parts<S: PartSink>(
    bytes: &[u8],
    name: Option<&str>,
    kind: Kind,
    options: &ReadOptions,
    starts: &[usize],
    mut sink: impl FnMut() -> S,
) -> Result<(ReadOutput, S), ReadError> {
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    if let Some(plan) = plan(head, bytes.len() as u64, name, options) {
        let bounds = plan.bounds(starts.iter().copied(), bytes.len());
        if bounds.windows(2).all(|w| w[0] < w[1]) {
            let parts = bounds
                .windows(2)
                .enumerate()
                .map(|(i, w)| read_part(&plan, i == 0, &bytes[w[0]..w[1]], kind, options, sink()))
                .collect();
            if let Ok(done) = merge(parts, options) {
                return Ok(done);
            }
        }
    }
    super::read_into(bytes, name, kind, options, sink())
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::read::read;

    /// A semicolon file past `HEAD_BYTES`: `rows` customers, row `odd`
    /// (if any) holding `odd_bytes` in its name.
    fn file(rows: usize, odd: Option<(usize, &[u8])>) -> Vec<u8> {
        let mut f = b"Kundenummer;Navn;Poststed;Aktiv\r\n".to_vec();
        for i in 0..rows {
            f.extend_from_slice(format!("{i:06};Kunde {i}").as_bytes());
            if let Some((at, bytes)) = odd
                && at == i
            {
                f.extend_from_slice(bytes);
            }
            f.extend_from_slice(b";Oslo;");
            f.extend_from_slice(if i % 5 == 0 { b"" } else { b"ja" });
            f.extend_from_slice(b"\r\n");
        }
        f
    }

    fn whole_and_parts(
        bytes: &[u8],
        n: usize,
    ) -> (ReadOutput, Result<(ReadOutput, Records), Whole>) {
        let options = ReadOptions::default();
        let whole = read(bytes, Some("k.csv"), Kind::Customer, &options).expect("reads");
        let plan = plan(
            &bytes[..HEAD_BYTES],
            bytes.len() as u64,
            Some("k.csv"),
            &options,
        )
        .expect("planned");
        (whole, read_parts_at(&plan, bytes, &cuts(bytes, n)))
    }

    /// `bytes` read in parts starting at `starts` (after the first), put
    /// together.
    fn read_parts_at(
        plan: &PartPlan,
        bytes: &[u8],
        starts: &[usize],
    ) -> Result<(ReadOutput, Records), Whole> {
        let options = ReadOptions::default();
        let parts = plan
            .bounds(starts.iter().copied(), bytes.len())
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                read_part(
                    plan,
                    i == 0,
                    &bytes[w[0]..w[1]],
                    Kind::Customer,
                    &options,
                    Records::new(Kind::Customer),
                )
            })
            .collect();
        merge(parts, &options)
    }

    fn records(done: Result<(ReadOutput, Records), Whole>) -> Result<ReadOutput, Whole> {
        done.map(|(mut out, sink)| {
            out.records = sink.records;
            out
        })
    }

    /// Found by `parts_read_as_the_whole_file`: a cut just past a `sep=`
    /// line left the first part without its first row, and the next part
    /// read the header as data (the read then fell back to the whole
    /// file). No part starts before the first row ends.
    #[test]
    fn no_part_starts_before_the_first_row_ends() {
        let header = "Kundenummer;\"Navn\r\nog linje\";Poststed;Aktiv\r\n";
        let cases: [(&[u8], usize); 5] = [
            (b"sep=;\n", 6),
            (b"\xEF\xBB\xBF", 3),
            (b"\r\n\r\n", 4),
            (b"", 0),
            (b"sep=;\r\n\r\n", 9),
        ];
        let options = ReadOptions::default();
        for (preamble, before) in cases {
            let mut f = preamble.to_vec();
            f.extend_from_slice(header.as_bytes());
            f.extend_from_slice(&file(12_000, Some((3, b" \xd8st")))[33..]);
            let plan = plan(&f[..HEAD_BYTES], f.len() as u64, Some("k.csv"), &options);
            let Some(plan) = plan else {
                panic!("{preamble:?}: no plan")
            };
            let end = (before + header.len()) as u64;
            assert_eq!(plan.data_start, end, "{preamble:?}");
            assert!(plan.may_start_at(end) && !plan.may_start_at(end - 1));
            // Read at every line feed up to the first data row: the
            // parts that may start are read as parts, and give the
            // whole read.
            let whole = read(&f, Some("k.csv"), Kind::Customer, &options);
            let half = f.len() / 2;
            let mid = half + cut(&f[half..]).unwrap_or(0);
            for at in (1..=end as usize).filter(|i| f[i - 1] == b'\n') {
                let merged = records(read_parts_at(&plan, &f, &[at, mid]));
                let (Ok(merged), Ok(whole)) = (merged, whole.clone()) else {
                    panic!("{preamble:?} cut at {at}: a read failed");
                };
                assert!(merged == whole, "{preamble:?} cut at {at}");
            }
        }
    }

    #[test]
    fn windows_1252_reads_in_parts_as_whole() {
        let f = file(12_000, Some((20, b" \xd8st")));
        let (whole, parts) = whole_and_parts(&f, 3);
        assert_eq!(whole.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(
            whole.records[20].get(crate::schema::Field::Name),
            "Kunde 20 Øst"
        );
        assert_eq!(records(parts), Ok(whole));
    }

    #[test]
    fn a_part_that_is_not_utf8_makes_the_file_read_whole() {
        // UTF-8 at the start, a Windows-1252 byte near the end: the whole
        // file is Windows-1252, which the first part cannot know.
        let f = file(12_000, Some((11_000, b" \xd8st")));
        let (whole, parts) = whole_and_parts(&f, 2);
        assert_eq!(whole.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(parts.err(), Some(Whole::Encoding));
        let starts = cuts(&f, 2);
        let again = read_in_parts(
            &f,
            Some("k.csv"),
            Kind::Customer,
            &ReadOptions::default(),
            &starts,
            || Records::new(Kind::Customer),
        );
        assert_eq!(records(again.map_err(|_| Whole::Failed)), Ok(whole));
    }

    #[test]
    fn small_files_xlsx_and_kept_rows_are_read_whole() {
        let f = file(100, None);
        let options = ReadOptions::default();
        assert_eq!(plan(&f, f.len() as u64, Some("k.csv"), &options), None);
        let big = file(12_000, None);
        let head = &big[..HEAD_BYTES];
        assert!(plan(head, big.len() as u64, Some("k.csv"), &options).is_some());
        let keep = ReadOptions {
            keep_rows: true,
            ..ReadOptions::default()
        };
        assert_eq!(plan(head, big.len() as u64, Some("k.csv"), &keep), None);
        let xlsx = ReadOptions {
            format: Some(Format::Xlsx),
            ..ReadOptions::default()
        };
        assert_eq!(plan(head, big.len() as u64, Some("k.csv"), &xlsx), None);
    }
}

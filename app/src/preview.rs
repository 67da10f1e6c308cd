//! The browser's preview of an import, as plain functions: read the file
//! with the `sync` crate, decode the server's fingerprint, and categorize.
//! The Web Worker (`public/preview-worker.js` calling the bundle's
//! `preview_file`) runs them off the main thread; tests call them natively.
//!
//! A large CSV file is read in parts, one per core (`sync::read::parts`):
//! helper workers each read a part into hashes (`preview_part`) and hand
//! the bytes of `encode_part` to the previewing worker, which reads the
//! first part itself and puts them all together (`preview_parts`, which
//! also takes several parts of the worker's own). Only that
//! worker holds the fingerprint; the helpers get its `HashSpec`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use sync::fingerprint::{Fingerprint, HashSpec, Hashed, KnownRows, Prepared};
use sync::protocol::{CategoryCounts, ImportOptions, ImportRowError};
use sync::read::parts::{self, Part, PartMeta, PartPlan};
use sync::read::{ReadError, ReadOutput, RecordSink, read_into};
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
    /// How many workers read the file together (1: one read it whole).
    #[serde(default = "one")]
    pub parts: u32,
    /// How many records were rows as in the import the server has: taken
    /// as they were, not read again (`sync::fingerprint::KnownRows`).
    #[serde(default)]
    pub known: u32,
}

fn one() -> u32 {
    1
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
    let (record_count, known) = (hashed.len() as u32, hashed.known_taken() as u32);
    let mut result = result_of(out, record_count, fp.counts(hashed), fp, 1);
    result.known = known;
    Ok(result)
}

/// The plan for previewing a file that starts with `head` in parts, as
/// JSON for the helpers, or `None` when it is read whole.
pub fn plan_parts(
    head: &[u8],
    file_len: u64,
    file_name: &str,
    options: &ImportOptions,
) -> Option<PartPlan> {
    parts::plan(head, file_len, Some(file_name), &options.read_options(&[]))
}

/// A helper's work: part `bytes` (not the file's first) read into hashes
/// as `spec` says, encoded for the previewing worker (`encode_part`).
pub fn preview_part(
    plan: &PartPlan,
    bytes: &[u8],
    kind: Kind,
    options: &ImportOptions,
    spec: &HashSpec,
    known: Option<Arc<KnownRows>>,
) -> Result<Vec<u8>, String> {
    let part =
        read_own_part(plan, false, bytes, kind, options, spec, known).map_err(|e| e.to_string())?;
    Ok(encode_part(&part))
}

/// A part as bytes: the length of its metadata's JSON (4 bytes,
/// little-endian), that JSON, then the hashes (`Hashed::encode`).
pub fn encode_part(part: &Part<Hashed>) -> Vec<u8> {
    let meta = serde_json::to_vec(&part.meta).unwrap_or_default();
    let hashed = part.sink.encode();
    let mut w = Vec::with_capacity(4 + meta.len() + hashed.len());
    w.extend_from_slice(&u32::try_from(meta.len()).unwrap_or(u32::MAX).to_le_bytes());
    w.extend_from_slice(&meta);
    w.extend_from_slice(&hashed);
    w
}

/// Reads `encode_part`'s bytes back.
pub fn decode_part(bytes: &[u8], spec: &HashSpec) -> Result<Part<Hashed>, String> {
    let len = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("a part is cut short")?;
    let meta = bytes
        .get(4..4usize.saturating_add(len))
        .ok_or("a part is cut short")?;
    let meta: PartMeta = serde_json::from_slice(meta).map_err(|e| e.to_string())?;
    let sink = Hashed::decode(spec, &bytes[4 + len..]).map_err(|e| e.to_string())?;
    Ok(Part { meta, sink })
}

/// A part of a read in parts (`first`: the file's first) read into the
/// hashes `spec` describes: the previewing worker's own, while the helpers
/// read theirs, and each helper's before it is encoded (`preview_part`).
/// With `known`, the rows of the server's stored import are taken as they
/// were (`KnownRows`).
pub fn read_own_part(
    plan: &PartPlan,
    first: bool,
    bytes: &[u8],
    kind: Kind,
    options: &ImportOptions,
    spec: &HashSpec,
    known: Option<Arc<KnownRows>>,
) -> Result<Part<Hashed>, ReadError> {
    parts::read_part(
        plan,
        first,
        bytes,
        kind,
        &options.read_options(&[]),
        Hashed::new(spec).with_known(known),
    )
}

/// The previewing worker's side of a read in parts: its own parts (`own`,
/// the file's first ones, from `read_own_part`) and the helpers' (`others`,
/// in file order, each `None` where a helper failed) put together and
/// counted against `fp`, whose side of the input the worker made while the
/// helpers read (`prepared`); `spec` is what the parts were hashed by and
/// `workers` how many workers read them. `Ok(None)`: the parts cannot stand
/// for the whole file (a cut inside quotes, say) and it must be read whole.
#[allow(clippy::too_many_arguments)]
pub fn preview_parts(
    own: Vec<Result<Part<Hashed>, ReadError>>,
    others: Vec<Option<Vec<u8>>>,
    workers: u32,
    kind: Kind,
    options: &ImportOptions,
    fp: &Fingerprint,
    spec: &HashSpec,
    prepared: Prepared<'_>,
) -> Result<Option<PreviewResult>, String> {
    if fp.kind != kind {
        return Err(format!(
            "The server's state is of {} records, not {kind}; reload the page.",
            fp.kind
        ));
    }
    let read_options = options.read_options(&[]);
    let mut all = own;
    for o in others {
        match o.map(|b| decode_part(&b, spec)) {
            Some(Ok(part)) => all.push(Ok(part)),
            _ => return Ok(None),
        }
    }
    Ok(parts::merge(all, &read_options).ok().map(|(out, hashed)| {
        let (record_count, known) = (hashed.len() as u32, hashed.known_taken() as u32);
        let counts = fp.counts_prepared(prepared, hashed);
        let mut result = result_of(out, record_count, counts, fp, workers);
        result.known = known;
        result
    }))
}

/// The preview of a read's output and counts.
fn result_of(
    out: ReadOutput,
    record_count: u32,
    counts: CategoryCounts,
    fp: &Fingerprint,
    parts: u32,
) -> PreviewResult {
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
    PreviewResult {
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
        parts,
        known: 0,
    }
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

    /// A file past `parts::HEAD_BYTES`, and the server's state: half its
    /// customers, linked, one changed since.
    fn big_file_and_state(quoted_break_at: Option<usize>) -> (Vec<u8>, Fingerprint) {
        let mut file = String::from("Kundenummer;Navn;Poststed;Aktiv\r\n");
        let mut state = State::new(Kind::Customer);
        for i in 0..12_000usize {
            let name = if quoted_break_at == Some(i) {
                format!("\"Kunde {i}\r\navd. nord\"")
            } else {
                format!("Kunde {i}")
            };
            let active = if i % 9 == 0 { "nei" } else { "ja" };
            file.push_str(&format!("{i:06};{name};Tromsø;{active}\r\n"));
            if i % 2 == 0 {
                let r = Record::from_pairs(
                    Kind::Customer,
                    &[
                        (Field::Number, &format!("{i:06}")),
                        (Field::Name, &format!("Kunde {i}")),
                        (Field::City, "Tromsø"),
                        (Field::Active, active),
                    ],
                );
                let mut base = sync::base::Base::of(&r, &state.synced);
                if i % 1000 == 0 {
                    // Changed on their side since the last sync.
                    base.insert(Field::City, "Bodø");
                }
                state.links.push(sync::state::Link {
                    our_number: r.number().to_string(),
                    their_number: r.number().to_string(),
                    active: true,
                    base,
                    version: 1,
                });
                state.ours.push(r);
            }
        }
        let fp = Fingerprint::from_state(&state, sync::schema::Side::Theirs).with_revision(3);
        (file.into_bytes(), fp)
    }

    /// What two workers do together, in one thread: the file cut at
    /// `starts`, the first `own` parts read as the previewing worker reads
    /// them, the others read and encoded as its helper would.
    fn preview_in_parts(
        file: &[u8],
        fp: &Fingerprint,
        starts: &[usize],
        own: usize,
    ) -> Option<PreviewResult> {
        let options = ImportOptions::default();
        let head = &file[..parts::HEAD_BYTES];
        let plan = plan_parts(head, file.len() as u64, "k.csv", &options).expect("planned");
        let mut bounds = vec![0];
        bounds.extend(starts);
        bounds.push(file.len());
        let spec = fp.hash_spec();
        // The helper gets the known rows as bytes.
        let sent = fp.known.as_ref().map(|k| k.to_bytes());
        let helper_known = sent.map(|b| Arc::new(KnownRows::from_bytes(&b).expect("decodes")));
        let own_parts = bounds
            .windows(2)
            .take(own)
            .enumerate()
            .map(|(i, w)| {
                read_own_part(
                    &plan,
                    i == 0,
                    &file[w[0]..w[1]],
                    Kind::Customer,
                    &options,
                    &spec,
                    fp.known.clone(),
                )
            })
            .collect();
        let others = bounds
            .windows(2)
            .skip(own)
            .map(|w| {
                let part = &file[w[0]..w[1]];
                let known = helper_known.clone();
                preview_part(&plan, part, Kind::Customer, &options, &spec, known).ok()
            })
            .collect();
        preview_parts(
            own_parts,
            others,
            2,
            Kind::Customer,
            &options,
            fp,
            &spec,
            fp.prepare(),
        )
        .expect("no error")
    }

    #[test]
    fn a_file_read_in_parts_previews_as_read_whole() {
        let (file, fp) = big_file_and_state(None);
        let whole = preview_with(
            file.clone(),
            "k.csv",
            Kind::Customer,
            &ImportOptions::default(),
            &fp,
        )
        .expect("previews");
        assert_eq!(whole.parts, 1);
        assert_eq!(whole.record_count, 12_000);
        assert!(whole.counts.conflicts + whole.counts.synchronized > 0);
        for n in [2, 3, 4, 8] {
            let starts = parts::cuts(&file, n);
            assert_eq!(starts.len(), n - 1);
            // The worker's own parts: the first, or all but the last.
            for own in [1, n / 2, n - 1] {
                let mut parted = preview_in_parts(&file, &fp, &starts, own).expect("read in parts");
                assert_eq!(parted.parts, 2);
                parted.parts = 1;
                assert_eq!(parted, whole, "{n} parts, {own} of them the worker's own");
            }
        }
    }

    /// With the rows of the import the server has, a file previews as read
    /// row by row, whole or in parts, and says how many rows it knew.
    #[test]
    fn known_rows_preview_as_every_row_read() {
        use sync::read::{ReadOptions, RowHashes, read, read_into};
        let (file, fp) = big_file_and_state(None);
        // The last import: the same customers, two named otherwise then.
        let old = String::from_utf8(file.clone())
            .expect("text")
            .replace(";Kunde 10;", ";Kunde ti;")
            .replace(";Kunde 7000;", ";Kunde sju tusen;");
        let (kind, options) = (Kind::Customer, ReadOptions::default());
        let records = read(old.as_bytes(), Some("k.csv"), kind, &options)
            .expect("reads")
            .records;
        let (_, rows) = read_into(
            old.as_bytes(),
            Some("k.csv"),
            kind,
            &options,
            RowHashes::default(),
        )
        .expect("reads");
        let known = fp.clone().with_known_rows(&records, &rows);
        let whole = |fp: &Fingerprint| {
            preview_with(file.clone(), "k.csv", kind, &ImportOptions::default(), fp)
                .expect("previews")
        };
        let every_row = whole(&fp);
        assert_eq!(every_row.known, 0);
        let mut with_known = whole(&known);
        // Rows 10 and 7000 changed; ours changed since the last sync at
        // every 1000th (12, 7000 among them), which the rules compare field
        // by field: read as usual.
        assert_eq!(with_known.known, 12_000 - 13);
        with_known.known = 0;
        assert_eq!(with_known, every_row);
        for n in [2, 3] {
            let starts = parts::cuts(&file, n);
            let mut parted = preview_in_parts(&file, &known, &starts, 1).expect("in parts");
            assert_eq!(parted.known, 12_000 - 13, "{n} parts");
            (parted.known, parted.parts) = (0, 1);
            assert_eq!(parted, every_row, "{n} parts");
        }
    }

    #[test]
    fn a_cut_inside_quotes_reads_the_file_whole() {
        // Cut just past a quoted line break.
        let (file, fp) = big_file_and_state(Some(6000));
        let cut = file
            .windows(9)
            .position(|w| w == b"avd. nord")
            .expect("the quoted break");
        assert_eq!(file[cut - 1], b'\n');
        assert_eq!(preview_in_parts(&file, &fp, &[cut], 1), None);
        // Between two of the worker's own parts as well.
        let three_quarters = parts::cuts(&file, 4)[2];
        assert!(three_quarters > cut);
        assert_eq!(
            preview_in_parts(&file, &fp, &[cut, three_quarters], 2),
            None
        );
        // Cut elsewhere, the same file reads in parts.
        let starts = parts::cuts(&file, 2);
        assert!(preview_in_parts(&file, &fp, &starts, 1).is_some());
    }

    #[test]
    fn a_damaged_part_is_an_error_not_a_panic() {
        let spec = big_file_and_state(None).1.hash_spec();
        for bytes in [
            &b""[..],
            b"\x05\0\0\0{}",
            b"\x02\0\0\0{}PSHP\xff\xff\xff\x7f",
        ] {
            assert!(decode_part(bytes, &spec).is_err());
        }
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

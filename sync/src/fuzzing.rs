//! What must hold for any input to the engine's parsers of untrusted bytes.
//!
//! The cargo-fuzz targets in `sync/fuzz` call these, and so does the test
//! that replays every input kept in `sync/fuzz/regressions`, so a crash
//! found once stays fixed. Each function panics when an invariant breaks;
//! an input the parser rejects with an error is fine.

use crate::fingerprint::{Fingerprint, KnownRows};
use crate::read::{Format, ReadOptions, ReadOutput, RowHashes, read, read_into};
use crate::schema::{Field, Kind, Side};
use crate::state::State;

/// Any bytes read as CSV of either kind: an error, or every data row ends as
/// a record or a row error, and every record holds its row's cells as they
/// are mapped; and read again with its own rows known (`KnownRows`), the
/// same output and categories as reading every row.
pub fn read_csv(data: &[u8]) {
    let options = ReadOptions {
        format: Some(Format::Csv),
        keep_rows: true,
        ..Default::default()
    };
    for kind in [Kind::Customer, Kind::Employee] {
        if let Ok(out) = read(data, None, kind, &options) {
            assert_eq!(
                out.row_count as usize,
                out.records.len() + out.errors.len(),
                "a data row went missing"
            );
            records_hold_their_cells(&out);
        }
    }
    known_rows(data);
}

/// Each record (read with its raw rows kept) holds the cells of its row
/// that are mapped to fields, trimmed, whatever the layout its text took;
/// `active` aside, which is read as a yes or no.
fn records_hold_their_cells(out: &ReadOutput) {
    let Some(rows) = &out.rows else {
        return;
    };
    let holds = |r: &crate::schema::Record, row: &crate::read::RawRow| {
        row.line == r.line
            && out
                .mapping
                .iter()
                .filter(|m| m.field != Field::Active)
                .all(|m| {
                    r.get(m.field) == row.cells.get(m.column as usize).map_or("", |c| c.trim())
                })
    };
    // Records and rows are both in the file's order; rows that became row
    // errors lie between.
    let mut rows = rows.iter();
    for r in &out.records {
        assert!(
            rows.by_ref().any(|row| holds(r, row)),
            "no row of line {} holds the record's values: {r:?}",
            r.line
        );
        // Equal to the record of the same values made apart.
        let values: Vec<&str> = r.values().collect();
        let apart = crate::schema::Record::from_values(r.kind, r.line, &values);
        assert!(r.same_values(&apart) && apart.same_values(r), "{r:?}");
    }
}

/// `data` read with the rows of an import of the same bytes known, against
/// a state that links every record: what reading every row gives.
fn known_rows(data: &[u8]) {
    // Four reads and a state: kept to small inputs, so the campaign's
    // time goes to the reader itself.
    if data.len() > 16 * 1024 {
        return;
    }
    let kind = Kind::Customer;
    let options = ReadOptions {
        format: Some(Format::Csv),
        ..Default::default()
    };
    let (Ok(out), Ok((_, rows))) = (
        read(data, None, kind, &options),
        read_into(data, None, kind, &options, RowHashes::default()),
    ) else {
        return;
    };
    assert_eq!(
        rows.hashes.len(),
        out.records.len(),
        "a record without its row"
    );
    let state = State::synchronized(kind, out.records.clone());
    let every_row = Fingerprint::from_state(&state, Side::Theirs);
    let known = every_row.clone().with_known_rows(&out.records, &rows);
    let with = read_into(data, None, kind, &options, known.hashed());
    let without = read_into(data, None, kind, &options, every_row.hashed());
    match (with, without) {
        (Ok((a, with)), Ok((b, without))) => {
            assert_eq!(a, b, "known rows read otherwise");
            assert_eq!(
                known.counts(with),
                every_row.counts(without),
                "known rows count otherwise"
            );
        }
        (Err(_), Err(_)) => {}
        _ => panic!("known rows read where every row did not, or the other way"),
    }
}

/// Any bytes read as XLSX: an error or records, never a panic; small limits
/// keep a run fast while the checks stay the same.
pub fn read_xlsx(data: &[u8]) {
    let mut options = ReadOptions {
        format: Some(Format::Xlsx),
        ..Default::default()
    };
    options.limits.max_uncompressed_bytes = 16 * 1024 * 1024;
    if let Ok(out) = read(data, Some("fuzz.xlsx"), Kind::Customer, &options) {
        assert_eq!(
            out.row_count as usize,
            out.records.len() + out.errors.len(),
            "a data row went missing"
        );
    }
}

/// Any bytes decoded as a preview fingerprint: an error, or a fingerprint
/// that encodes back to itself and previews without panicking; and as
/// known rows (`KnownRows::from_bytes`): an error, or rows that do too.
pub fn fingerprint_decode(data: &[u8]) {
    if let Ok(fp) = Fingerprint::decode(data) {
        let _ = fp.preview(&[]);
        let again = Fingerprint::decode(&fp.encode());
        assert_eq!(again.as_ref(), Ok(&fp), "decode(encode(x)) != x");
    }
    // The known rows as a helper worker gets them.
    if let Ok(known) = KnownRows::from_bytes(data) {
        let again = KnownRows::from_bytes(&known.to_bytes());
        assert_eq!(again.as_ref(), Ok(&known), "from_bytes(to_bytes(x)) != x");
    }
}

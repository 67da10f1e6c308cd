//! What must hold for any input to the engine's parsers of untrusted bytes.
//!
//! The cargo-fuzz targets in `sync/fuzz` call these, and so does the test
//! that replays every input kept in `sync/fuzz/regressions`, so a crash
//! found once stays fixed. Each function panics when an invariant breaks;
//! an input the parser rejects with an error is fine.

use crate::fingerprint::Fingerprint;
use crate::read::{Format, ReadOptions, read};
use crate::schema::Kind;

/// Any bytes read as CSV of either kind: an error, or every data row ends as
/// a record or a row error.
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
        }
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
/// that encodes back to itself and previews without panicking.
pub fn fingerprint_decode(data: &[u8]) {
    if let Ok(fp) = Fingerprint::decode(data) {
        let _ = fp.preview(&[]);
        let again = Fingerprint::decode(&fp.encode());
        assert_eq!(again.as_ref(), Ok(&fp), "decode(encode(x)) != x");
    }
}

//! Any bytes read as a CSV file of either kind: an error or records, never a
//! panic, and every data row accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync::read::{Format, ReadOptions, read};
use sync::schema::Kind;

fuzz_target!(|data: &[u8]| {
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
});

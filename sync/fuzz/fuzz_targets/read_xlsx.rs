//! Any bytes read as an xlsx file: an error or records, never a panic or an
//! allocation past the limits (run with `-rss_limit_mb=512`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync::read::{Format, ReadOptions, read};
use sync::schema::Kind;

fuzz_target!(|data: &[u8]| {
    let mut options = ReadOptions {
        format: Some(Format::Xlsx),
        ..Default::default()
    };
    // Small limits keep each run fast; the checks are the same.
    options.limits.max_uncompressed_bytes = 16 * 1024 * 1024;
    let _ = read(data, Some("fuzz.xlsx"), Kind::Customer, &options);
});

//! Any bytes read as an xlsx file: an error or records, never a panic or an
//! allocation past the limits (run with `-rss_limit_mb=512`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sync::fuzzing::read_xlsx(data));

//! Any bytes read as a CSV file of either kind: an error or records, never a
//! panic, and every data row accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sync::fuzzing::read_csv(data));

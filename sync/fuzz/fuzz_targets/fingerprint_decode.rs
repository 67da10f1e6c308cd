//! Any bytes decoded as a preview fingerprint: an error, or a fingerprint
//! that encodes back to the same bytes and previews without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sync::fuzzing::fingerprint_decode(data));

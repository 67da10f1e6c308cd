//! Any bytes decoded as a preview fingerprint: an error, or a fingerprint
//! that encodes back to the same bytes and previews without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync::fingerprint::Fingerprint;

fuzz_target!(|data: &[u8]| {
    if let Ok(fp) = Fingerprint::decode(data) {
        let _ = fp.preview(&[]);
        let again = Fingerprint::decode(&fp.encode());
        assert_eq!(again.as_ref(), Ok(&fp));
    }
});

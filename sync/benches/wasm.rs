//! The same engine work natively and compiled to wasm32: the browser's
//! preview (decode the fingerprint, hash the import, categorize) and the
//! reader, on generated customers. `scripts/bench-engine` runs both and
//! prints the wasm/native ratio.
//!
//! Natively (`WASM_BENCH_ROWS=… cargo bench -p sync --bench wasm`) this prints
//! one JSON line of timings. Built for wasm32 it exports `setup`, `preview`,
//! `parse`, `from_file` and `from_file_1252` through wasm-bindgen for
//! `benches/js/wasm-run.js`, which times them in Node (the crate has no
//! clock on wasm32).

mod common;

use std::cell::RefCell;

use sync::fingerprint::Fingerprint;
use sync::schema::Record;

use common::{IMPORTED, new_csv, old_csv, parse, state_of};

/// What the timed calls work on, made once.
struct Setup {
    import: Vec<u8>,
    /// The same file in Windows-1252, as Excel writes it here (and as the
    /// browser bench's file is): the read transcodes it first.
    import_1252: Vec<u8>,
    records: Vec<Record>,
    fingerprint: Vec<u8>,
    /// The fingerprint decoded, for the stages timed on their own.
    decoded: Option<Fingerprint>,
}

thread_local! {
    static SETUP: RefCell<Option<Setup>> = const { RefCell::new(None) };
}

fn make(n: usize) -> Setup {
    // The fingerprint needs only the fixed side and the links; the state is
    // dropped before the import is read, so a million records fit in
    // wasm32's 4 GB.
    let fingerprint = {
        let state = state_of(parse(old_csv(n).as_bytes()), Vec::new());
        Fingerprint::from_state(&state, IMPORTED).encode()
    };
    let text = new_csv(n);
    let import_1252 = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
    let import = text.into_bytes();
    let records = parse(&import);
    let decoded = Fingerprint::decode(&fingerprint).ok();
    Setup {
        import,
        import_1252,
        records,
        fingerprint,
        decoded,
    }
}

fn run_preview(s: &Setup) -> u32 {
    Fingerprint::decode(&s.fingerprint)
        .map(|f| f.preview_counts(&s.records).synchronized)
        .unwrap_or(0)
}

fn run_parse(s: &Setup) -> u32 {
    parse(&s.import).len() as u32
}

/// The browser's path: the fingerprint decoded, the file read into its
/// hasher (no records kept), the counts.
fn run_from_file(s: &Setup) -> u32 {
    from_file(s, &s.import)
}

/// `run_from_file` on the Windows-1252 file.
fn run_from_file_1252(s: &Setup) -> u32 {
    from_file(s, &s.import_1252)
}

fn from_file(s: &Setup, import: &[u8]) -> u32 {
    let Ok(fp) = Fingerprint::decode(&s.fingerprint) else {
        return 0;
    };
    sync::read::read_into(
        import,
        Some("kunder.csv"),
        sync::schema::Kind::Customer,
        &sync::read::ReadOptions::default(),
        fp.hashed(),
    )
    .map_or(0, |(_, h)| fp.counts(h).synchronized)
}

/// The browser's path in stages: the fingerprint's decoding alone.
fn run_decode(s: &Setup) -> u32 {
    Fingerprint::decode(&s.fingerprint).map_or(0, |f| f.keys.len() as u32)
}

/// The import read into the hasher of the decoded fingerprint.
fn read_held(s: &Setup) -> Option<(&Fingerprint, sync::fingerprint::Hashed)> {
    let fp = s.decoded.as_ref()?;
    sync::read::read_into(
        &s.import,
        Some("kunder.csv"),
        sync::schema::Kind::Customer,
        &sync::read::ReadOptions::default(),
        fp.hashed(),
    )
    .ok()
    .map(|(_, h)| (fp, h))
}

/// The file read into the hasher alone, against a decoded fingerprint.
fn run_hash(s: &Setup) -> u32 {
    read_held(s).map_or(0, |(_, h)| sync::read::RecordSink::len(&h) as u32)
}

/// Read into the hasher and counted, against a decoded fingerprint: what a
/// second preview does (the worker holds the fingerprint).
fn run_held(s: &Setup) -> u32 {
    read_held(s).map_or(0, |(fp, h)| fp.counts(h).synchronized)
}

fn with<T>(f: impl FnOnce(&Setup) -> T) -> Option<T> {
    SETUP.with(|s| s.borrow().as_ref().map(f))
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use wasm_bindgen::prelude::wasm_bindgen;

    /// Generates `n` customers and their fingerprint.
    #[wasm_bindgen]
    pub fn setup(n: u32) {
        let s = super::make(n as usize);
        super::SETUP.with(|cell| *cell.borrow_mut() = Some(s));
    }

    /// Decode + preview; returns the synchronized count.
    #[wasm_bindgen]
    pub fn preview() -> u32 {
        super::with(super::run_preview).unwrap_or(0)
    }

    /// Reads the import file; returns the record count.
    #[wasm_bindgen]
    pub fn parse() -> u32 {
        super::with(super::run_parse).unwrap_or(0)
    }

    /// Decode + read into the hasher + counts; returns the synchronized count.
    #[wasm_bindgen]
    pub fn from_file() -> u32 {
        super::with(super::run_from_file).unwrap_or(0)
    }

    /// `from_file` on the Windows-1252 file.
    #[wasm_bindgen]
    pub fn from_file_1252() -> u32 {
        super::with(super::run_from_file_1252).unwrap_or(0)
    }

    /// The fingerprint's decoding alone.
    #[wasm_bindgen]
    pub fn decode() -> u32 {
        super::with(super::run_decode).unwrap_or(0)
    }

    /// The file read into the hasher alone.
    #[wasm_bindgen]
    pub fn hash() -> u32 {
        super::with(super::run_hash).unwrap_or(0)
    }

    /// Read into the hasher and counted, the fingerprint held.
    #[wasm_bindgen]
    pub fn held() -> u32 {
        super::with(super::run_held).unwrap_or(0)
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;
    let n = std::env::var("WASM_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000usize);
    SETUP.with(|cell| *cell.borrow_mut() = Some(make(n)));
    // As `benches/js/wasm-run.js` times the wasm build: each call once
    // untimed, then five rounds of all of them in turn, the best of each
    // counting (the machine is shared; the fastest round is the least
    // disturbed, and rounds in turn spread a disturbance over all).
    let runs: [fn(&Setup) -> u32; 7] = [
        run_preview,
        run_parse,
        run_from_file,
        run_from_file_1252,
        run_decode,
        run_hash,
        run_held,
    ];
    for f in runs {
        std::hint::black_box(with(f));
    }
    let mut best = [f64::MAX; 7];
    for _ in 0..5 {
        for (f, b) in runs.iter().zip(best.iter_mut()) {
            let t = Instant::now();
            std::hint::black_box(with(*f));
            *b = b.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let [
        preview_ms,
        parse_ms,
        from_file_ms,
        from_file_1252_ms,
        decode_ms,
        hash_ms,
        held_ms,
    ] = best;
    println!(
        "{{\"rows\":{n},\"preview_ms\":{preview_ms:.3},\"parse_ms\":{parse_ms:.3},\"from_file_ms\":{from_file_ms:.3},\"from_file_1252_ms\":{from_file_1252_ms:.3},\"decode_ms\":{decode_ms:.3},\"hash_ms\":{hash_ms:.3},\"held_ms\":{held_ms:.3}}}"
    );
}

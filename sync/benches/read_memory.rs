//! Peak heap while reading the generated customer file, beside the file's
//! size (the goal: at most 3x). A counting allocator sees every
//! allocation; the figure is the highest the heap rose above what it held
//! before `read` was called (the input itself is not counted), with the
//! output still alive. The allocator copies on every `realloc`, so a list
//! that grows counts both its old and new buffer at once, as on wasm32.
//!
//! `cargo bench -p sync --bench read_memory` (set `PARSE_ROWS` for another
//! size; the file is the one `benches/parse.rs` generates, in UTF-8, and
//! then the same file in Windows-1252 as Excel writes it).

use std::hint::black_box;

use peak_alloc::PeakAlloc;
use sync::read::{ReadOptions, read};
use sync::schema::Kind;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

mod common;

fn main() {
    let rows = common::rows();
    let utf8 = common::customer_file(rows);
    let (windows_1252, _, _) =
        encoding_rs::WINDOWS_1252.encode(std::str::from_utf8(&utf8).unwrap_or_default());
    let windows_1252 = windows_1252.into_owned();
    for (encoding, bytes) in [("UTF-8", utf8), ("windows-1252", windows_1252)] {
        measure(rows, encoding, &bytes);
    }
}

fn measure(rows: usize, encoding: &str, bytes: &[u8]) {
    let input = bytes.len() as f64;
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let out = read(
        black_box(bytes),
        Some("kunder.csv"),
        Kind::Customer,
        &ReadOptions::default(),
    );
    let peak = HEAP.peak_usage().saturating_sub(before) as f64;
    let kept = HEAP.current_usage().saturating_sub(before) as f64;
    let records = out.as_ref().map(|o| o.records.len()).unwrap_or(0);
    println!(
        "{rows} rows, {:.1} MB {encoding}: read's peak heap {:.1} MB, {:.2}x the input \
         (goal <= 3x); the output keeps {:.1} MB ({:.2}x); {records} records",
        input / 1e6,
        peak / 1e6,
        peak / input,
        kept / 1e6,
        kept / input,
    );
    drop(out);
}

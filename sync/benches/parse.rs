//! Parsing a generated customer file: Partnersync's reader (encoding and
//! delimiter detection, header mapping, per-row checks, records) beside the
//! `csv` crate's own `ByteRecord` loop over the same bytes, which is what a
//! user would otherwise write. Prints both times and the ratio of speeds at
//! the end (the goal: at least 0.75x the csv loop's speed).
//!
//! `cargo bench -p sync --bench parse` (set `PARSE_ROWS` for another size,
//! `PARSE_SIDE_BY_SIDE_ONLY=1` to skip criterion's samples).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sync::read::{ReadOptions, RecordSink, read, read_into};
use sync::schema::Kind;

mod common;
use common::{customer_file, rows};

/// The `partnersync` binary's allocator: the reader is timed as the server
/// and the command line run it (glibc's malloc returns a freed large block
/// to the system, so each read pays page faults for its memory again).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn csv_loop(bytes: &[u8]) -> usize {
    let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    let mut cells = 0;
    while rdr.read_byte_record(&mut rec).unwrap_or(false) {
        cells += rec.len();
    }
    cells
}

fn ours(bytes: &[u8]) -> usize {
    read(
        bytes,
        Some("kunder.csv"),
        Kind::Customer,
        &ReadOptions::default(),
    )
    .map(|o| o.records.len())
    .unwrap_or(0)
}

/// The reader with a sink that builds no records, only counts them: the
/// decoding, splitting, mapping and checks alone, to show what of the read's
/// time is making the records themselves.
struct Tally(usize);

impl RecordSink for Tally {
    fn record(&mut self, _line: u32, values: &[&str]) {
        self.0 += usize::from(!values.is_empty());
    }
    fn len(&self) -> usize {
        self.0
    }
    fn activate(&mut self, _index: usize) {}
}

fn tally(bytes: &[u8]) -> usize {
    read_into(
        bytes,
        Some("kunder.csv"),
        Kind::Customer,
        &ReadOptions::default(),
        Tally(0),
    )
    .map(|(_, t)| t.0)
    .unwrap_or(0)
}

/// The server's read: the same reader, a large file in parts on its cores.
fn threaded(bytes: &[u8]) -> usize {
    common::server_parse(bytes).len()
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("PARSE_SIDE_BY_SIDE_ONLY").is_some() {
        return;
    }
    let bytes = customer_file(rows());
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("csv_byte_record_loop", |b| {
        b.iter(|| csv_loop(black_box(&bytes)))
    });
    group.bench_function("partnersync_read", |b| b.iter(|| ours(black_box(&bytes))));
    group.finish();
}

/// Side by side, as a person would compare them: the two run in turns and
/// the best round of each counts, since the machine is shared and the
/// fastest round is the one least disturbed by other work.
fn side_by_side() {
    let bytes = customer_file(rows());
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        black_box(f());
        start.elapsed().as_secs_f64()
    };
    let (mut base, mut full, mut parts, mut counted) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..9 {
        base = base.min(time(&|| csv_loop(&bytes)));
        full = full.min(time(&|| ours(&bytes)));
        parts = parts.min(time(&|| threaded(&bytes)));
        counted = counted.min(time(&|| tally(&bytes)));
    }
    println!(
        "{} rows, {:.1} MB (the partnersync binary's allocator, mimalloc): read {:.3} s, csv ByteRecord loop {:.3} s, ratio {:.2}x its speed (goal >= 0.75x)",
        rows(),
        bytes.len() as f64 / 1e6,
        full,
        base,
        base / full
    );
    println!(
        "  of which the reader building no records (decode, split, map, check): {:.3} s, {:.2}x the csv loop's speed; making the {} records: {:.3} s",
        counted,
        base / counted,
        rows(),
        full - counted
    );
    let cores = common::server_threads();
    println!(
        "  the server's read, in parts on {cores} threads: {:.3} s, {:.2}x the csv loop's speed (one thread), {:.2}x the single read's",
        parts,
        base / parts,
        full / parts
    );
}

criterion_group!(benches, bench);
criterion_main!(benches, side_by_side);

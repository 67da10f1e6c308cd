//! Parsing a generated customer file: Partnersync's reader (encoding and
//! delimiter detection, header mapping, per-row checks, records) beside the
//! `csv` crate's own `ByteRecord` loop over the same bytes, which is what a
//! user would otherwise write. Prints the ratio at the end.
//!
//! `cargo bench -p sync --bench parse` (set `PARSE_ROWS` for another size).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sync::read::{ReadOptions, read};
use sync::schema::Kind;

fn rows() -> usize {
    std::env::var("PARSE_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// A semicolon export with Nordic headers and a quoted field now and then.
fn customer_file(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 90);
    s.push_str("Kundenummer;Navn;Org.nr;Gateadresse;Postnr;Poststed;E-post;Telefon;Aktiv\r\n");
    for i in 0..n {
        let name = if i % 17 == 0 {
            format!("\"Kunde {i}; avd. Øst\"")
        } else {
            format!("Kunde {i} AS")
        };
        s.push_str(&format!(
            "{:07};{name};9{:08};Storgata {};{:04};Tromsø;post{i}@kunde.no;+47 {:08};Ja\r\n",
            i,
            i,
            i % 200,
            i % 9000,
            i
        ));
    }
    s.into_bytes()
}

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

fn bench(c: &mut Criterion) {
    let bytes = customer_file(rows());
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("csv_byte_record_loop", |b| {
        b.iter(|| csv_loop(black_box(&bytes)))
    });
    group.bench_function("partnersync_read", |b| b.iter(|| ours(black_box(&bytes))));
    group.finish();

    // Side by side, as a person would compare them.
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        for _ in 0..3 {
            black_box(f());
        }
        start.elapsed().as_secs_f64() / 3.0
    };
    let base = time(&|| csv_loop(&bytes));
    let full = time(&|| ours(&bytes));
    println!(
        "{} rows, {:.1} MB: csv ByteRecord loop {:.1} ms, Partnersync read {:.1} ms, ratio {:.2}x",
        rows(),
        bytes.len() as f64 / 1e6,
        base * 1e3,
        full * 1e3,
        full / base
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

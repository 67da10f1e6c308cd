//! Change tracking on generated files: Partnersync's diff of a new export
//! against the stored snapshot of the old one, beside the `csv-diff` crate
//! and daff (JavaScript, run with Node) on the same two files. Partnersync
//! reads and diffs on the machine's cores as the server does; csv-diff uses
//! them too. Prints a table and the ratios.
//!
//! `DIFF_ROWS=1000000 cargo bench -p sync --bench diff` (default 100k). The
//! files go to `DIFF_DIR` (default: a folder in the system's temp dir).
//! daff runs when `node` and `sync/benches/js/node_modules` are there
//! (`scripts/bench-engine` installs them); on more than `DAFF_MAX_ROWS` rows
//! (default 1M) or when a 100k trial predicts more than two minutes, it runs
//! on the first 100k rows of both files only, and the table says so.

mod common;

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use csv_diff::csv::Csv;
use csv_diff::csv_diff::CsvByteDiffLocal;
use sync::schema::Kind;
use sync::schema::Record;
use sync::track::{Snapshot, diff_threaded};

use common::{new_csv, old_csv, server_parse as parse, server_threads as threads};

/// The diff as the server runs it.
fn diff(snapshot: &Snapshot, records: &[Record]) -> sync::track::Diff {
    diff_threaded(snapshot, records, threads())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn best<T>(reps: u32, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..reps {
        let start = Instant::now();
        let v = black_box(f());
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

/// Partnersync: read the stored snapshot and the new file, parse, diff.
/// Returns (decode s, parse s, diff s, changes found).
fn ours_from_snapshot(snapshot: &Path, new: &Path) -> (f64, f64, f64, usize) {
    let t = Instant::now();
    let snap = fs::read(snapshot)
        .ok()
        .and_then(|b| Snapshot::decode_owned(b).ok())
        .expect("the snapshot written above");
    let t_decode = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let records = parse(&fs::read(new).unwrap_or_default());
    let t_parse = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let d = diff(&snap, &records);
    let t_diff = t.elapsed().as_secs_f64();
    let found = d.added.len() + d.changed.len() + d.removed.len();
    (t_decode, t_parse, t_diff, found)
}

/// Partnersync from two files, as csv-diff and daff work: parse both,
/// snapshot the old one, diff.
fn ours_from_files(old: &Path, new: &Path) -> usize {
    let old_records = parse(&fs::read(old).unwrap_or_default());
    let snap = Snapshot::of(Kind::Customer, &Default::default(), &old_records);
    drop(old_records);
    let records = parse(&fs::read(new).unwrap_or_default());
    let d = diff(&snap, &records);
    d.added.len() + d.changed.len() + d.removed.len()
}

fn csv_diff_crate(old: &Path, new: &Path) -> usize {
    let differ = CsvByteDiffLocal::new().expect("csv-diff's thread pool");
    let (Ok(a), Ok(b)) = (fs::File::open(old), fs::File::open(new)) else {
        return 0;
    };
    differ
        .diff(Csv::with_reader_seek(a), Csv::with_reader_seek(b))
        .map(|d| d.as_slice().len())
        .unwrap_or(0)
}

struct Daff {
    rows: usize,
    parse: f64,
    diff: f64,
    found: usize,
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/js")
}

fn daff(old: &Path, new: &Path) -> Option<Daff> {
    let out = Command::new("node")
        .arg(js_dir().join("daff-diff.js"))
        .arg(old)
        .arg(new)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("daff failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    Some(Daff {
        rows: n("rows") as usize,
        parse: n("parse_ms") / 1e3,
        diff: n("diff_ms") / 1e3,
        found: (n("inserts") + n("deletes") + n("updates")) as usize,
    })
}

fn main() {
    let n = env_usize("DIFF_ROWS", 100_000);
    let dir = std::env::var_os("DIFF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("partnersync-bench"));
    fs::create_dir_all(&dir).expect("a folder for the generated files");
    let old = dir.join(format!("customers-{n}-old.csv"));
    let new = dir.join(format!("customers-{n}-new.csv"));
    let snap_path = dir.join(format!("customers-{n}-old.snapshot"));
    let old_text = old_csv(n);
    fs::write(&old, &old_text).expect("writing the old file");
    fs::write(&new, new_csv(n)).expect("writing the new file");
    let input_mb = old_text.len() as f64 / 1e6;
    drop(old_text);

    // The previous run stores the snapshot; not part of the diff's time.
    let t = Instant::now();
    let old_records = parse(&fs::read(&old).unwrap_or_default());
    let snap = Snapshot::of(Kind::Customer, &Default::default(), &old_records);
    let bytes = snap.encode();
    let t_store = t.elapsed().as_secs_f64();
    drop(old_records);
    fs::write(&snap_path, &bytes).expect("writing the snapshot");
    let snap_per_record = bytes.len() as f64 / n as f64;
    drop((snap, bytes));

    let reps = if n >= 500_000 { 3 } else { 5 };
    let (_, (t_decode, t_parse, t_diff, ours_found)) =
        best(reps, || ours_from_snapshot(&snap_path, &new));
    // `best` keeps the last run's parts; take the best of each instead.
    let mut parts = (t_decode, t_parse, t_diff);
    for _ in 1..reps {
        let (a, b, c, _) = ours_from_snapshot(&snap_path, &new);
        parts = (parts.0.min(a), parts.1.min(b), parts.2.min(c));
    }
    let (t_decode, t_parse, t_diff) = parts;
    let ours_total = t_decode + t_parse + t_diff;
    let (t_files, _) = best(reps, || ours_from_files(&old, &new));
    let (t_csv_diff, csv_diff_found) = best(reps, || csv_diff_crate(&old, &new));

    // daff: a 100k trial decides whether the full files are worth its time.
    let trial_rows = n.min(100_000);
    let (trial_old, trial_new) = if trial_rows < n {
        let (o, w) = (
            dir.join(format!("customers-{n}-old-first100k.csv")),
            dir.join(format!("customers-{n}-new-first100k.csv")),
        );
        let head = |src: &Path, dst: &Path| {
            let text = fs::read_to_string(src).unwrap_or_default();
            let lines: Vec<&str> = text.lines().take(trial_rows + 1).collect();
            fs::write(dst, lines.join("\n") + "\n").expect("writing a subset");
        };
        head(&old, &o);
        head(&new, &w);
        (o, w)
    } else {
        (old.clone(), new.clone())
    };
    let has_daff = js_dir().join("node_modules/daff").exists();
    let trial = if has_daff {
        daff(&trial_old, &trial_new)
    } else {
        None
    };
    let max_rows = env_usize("DAFF_MAX_ROWS", 1_000_000);
    let full = match &trial {
        Some(t) if trial_rows < n && n <= max_rows => {
            let predicted = (t.parse + t.diff) * n as f64 / trial_rows as f64;
            if predicted <= 120.0 {
                daff(&old, &new)
            } else {
                println!(
                    "daff: {trial_rows} rows took {:.1} s; {n} rows would take about {predicted:.0} s, so daff runs on the first {trial_rows} rows only",
                    t.parse + t.diff
                );
                None
            }
        }
        Some(t) if trial_rows == n => Some(Daff { ..*t }),
        _ => None,
    };
    // Partnersync on the daff trial's rows, for a same-size ratio.
    let ours_trial = if trial_rows < n {
        let p = dir.join(format!("customers-{n}-first100k.snapshot"));
        let recs = parse(&fs::read(&trial_old).unwrap_or_default());
        let s = Snapshot::of(Kind::Customer, &Default::default(), &recs);
        fs::write(&p, s.encode()).expect("writing the subset snapshot");
        let (_, (a, b, c, _)) = best(reps, || ours_from_snapshot(&p, &trial_new));
        a + b + c
    } else {
        ours_total
    };

    println!();
    println!(
        "diff, {n} rows ({input_mb:.1} MB per file; new file: 1% changed, 0.5% removed, 0.5% added), best of {reps}:"
    );
    println!(
        "  Partnersync, stored snapshot ({snap_per_record:.1} bytes/record; storing it took {:.0} ms, not counted):",
        t_store * 1e3
    );
    println!(
        "    decode snapshot                {:9.1} ms",
        t_decode * 1e3
    );
    println!(
        "    parse new file ({} threads)     {:9.1} ms",
        threads(),
        t_parse * 1e3
    );
    println!(
        "    diff ({} threads)               {:9.1} ms",
        threads(),
        t_diff * 1e3
    );
    println!(
        "    total                          {:9.1} ms   ({ours_found} changes)",
        ours_total * 1e3
    );
    println!(
        "  Partnersync, two files (parse both, snapshot old, diff) {:9.1} ms",
        t_files * 1e3
    );
    println!(
        "  csv-diff crate (two files, {} threads)   {:9.1} ms   ({csv_diff_found} changes)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        t_csv_diff * 1e3
    );
    match (&full, &trial) {
        (Some(d), _) => println!(
            "  daff (Node), {} rows: parse {:.1} ms, diff {:.1} ms, total {:.1} ms ({} changes)",
            d.rows,
            d.parse * 1e3,
            d.diff * 1e3,
            (d.parse + d.diff) * 1e3,
            d.found
        ),
        (None, Some(d)) => println!(
            "  daff (Node), first {} rows only: parse {:.1} ms, diff {:.1} ms, total {:.1} ms ({} changes)",
            d.rows,
            d.parse * 1e3,
            d.diff * 1e3,
            (d.parse + d.diff) * 1e3,
            d.found
        ),
        (None, None) => println!(
            "  daff: skipped (needs node and `npm ci` in sync/benches/js; scripts/bench-engine does it)"
        ),
    }
    println!(
        "  ratio csv-diff / Partnersync (snapshot, incl. parse)   {:6.2}x (goal >= 1: not slower)",
        t_csv_diff / ours_total
    );
    println!(
        "  ratio csv-diff / Partnersync (two files)               {:6.2}x",
        t_csv_diff / t_files
    );
    match (&full, &trial) {
        (Some(d), _) => println!(
            "  ratio daff / Partnersync (snapshot, incl. parse)       {:6.2}x (goal >= 8), same {n} rows",
            (d.parse + d.diff) / ours_total
        ),
        (None, Some(d)) => println!(
            "  ratio daff / Partnersync (snapshot, incl. parse)       {:6.2}x (goal >= 8), both on the first {} rows",
            (d.parse + d.diff) / ours_trial,
            d.rows
        ),
        (None, None) => {}
    }
}

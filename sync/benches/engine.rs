//! The engine's hot paths on a generated customer file: parse, categorize
//! (the server), fingerprint and preview (the browser), snapshot and diff
//! (change tracking), suggestions. Prints one figure per step, the sizes of
//! the compact encodings per record, and the ratios.
//!
//! `ENGINE_ROWS=1000000 cargo bench -p sync --bench engine` (default 100k).
//! `ENGINE_CRITERION=1` adds criterion's statistics on a 20k-row subset;
//! `ENGINE_PEAK_ONLY=1` prints the peak memory figures alone.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::Criterion;
use sync::categorize::categorize;
use sync::fingerprint::{Fingerprint, Hashed};
use sync::protocol::CategoryCounts;
use sync::read::{ReadOptions, RecordSink, read_into};
use sync::suggest::suggest;
use sync::track::{Snapshot, diff};

use common::{IMPORTED, new_csv, old_csv, parse, state_of};

fn rows() -> usize {
    std::env::var("ENGINE_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Best of `reps` runs, in seconds: the machine is shared, the minimum is the
/// least disturbed figure. A step is timed until its answer is made; freeing
/// the answer afterwards is not timed (as criterion's
/// `iter_with_large_drop`): a step answering with a count has freed what it
/// made inside the time.
fn best<T>(reps: u32, mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..reps {
        let start = Instant::now();
        let answer = black_box(f());
        best = best.min(start.elapsed().as_secs_f64());
        drop(answer);
    }
    best
}

fn report(n: usize) {
    let reps = if n >= 500_000 { 2 } else { 5 };
    let old = old_csv(n);
    let new = new_csv(n);
    let t_parse = best(reps, || parse(new.as_bytes()));
    let ours = parse(old.as_bytes());
    let theirs = parse(new.as_bytes());
    let state = state_of(ours.clone(), theirs.clone());

    let t_input = best(reps, || state.to_input());
    let t_categorize = best(reps, || categorize(&state));
    let categorized = categorize(&state);
    let t_suggest = best(1, || suggest(&state, &categorized, 3).len());

    let t_fp_build = best(reps, || {
        Fingerprint::from_state(&state, IMPORTED).fixed.len()
    });
    let fp = Fingerprint::from_state(&state, IMPORTED);
    let fp_bytes = fp.encode();
    let t_fp_encode = best(reps, || fp.encode().len());
    let t_fp_decode = best(reps, || {
        Fingerprint::decode(&fp_bytes).map(|f| f.fixed.len())
    });
    let t_preview_keys = best(reps, || {
        Fingerprint::decode(&fp_bytes).map(|f| f.preview(&theirs).new.len())
    });
    let preview_ok = Fingerprint::decode(&fp_bytes).map(|f| f.preview(&theirs))
        == Ok(categorized.summary(&state));
    // What the browser runs: counts only.
    let t_preview = best(reps, || {
        Fingerprint::decode(&fp_bytes).map(|f| f.preview_counts(&theirs).new)
    });
    let counts_ok = Fingerprint::decode(&fp_bytes).map(|f| f.preview_counts(&theirs))
        == Ok(CategoryCounts::of_summary(&categorized.summary(&state)));
    // What the browser runs since the reader hashes as it reads: the file's
    // bytes and the fingerprint in, counts out, no records kept.
    let t_from_file = best(reps, || preview_file(new.as_bytes(), &fp_bytes));
    let file_ok = preview_file(new.as_bytes(), &fp_bytes)
        == Some(CategoryCounts::of_summary(&categorized.summary(&state)));
    let t_read_null = best(reps, || {
        read_into(
            new.as_bytes(),
            Some("kunder.csv"),
            sync::schema::Kind::Customer,
            &ReadOptions::default(),
            Tally(0),
        )
        .map(|(_, t)| t.0)
    });
    let t_read_hashed = {
        let fp = Fingerprint::decode(&fp_bytes).ok();
        best(reps, || {
            fp.as_ref()
                .and_then(|fp| read_hashed(new.as_bytes(), fp).map(|h| h.len()))
        })
    };
    // The same when the server knows the rows of the last import (the old
    // file): the new file's rows of the same text are taken as known.
    let t_row_hashes = best(reps, || row_hashes(old.as_bytes()).hashes.len());
    let fp_known = fp
        .clone()
        .with_known_rows(&ours, &row_hashes(old.as_bytes()));
    let known_bytes = fp_known.encode();
    let t_known_decode = best(reps, || {
        Fingerprint::decode(&known_bytes).map(|f| f.fixed.len())
    });
    let held = |bytes: &[u8]| Fingerprint::decode(bytes).ok();
    let (fp_plain, fp_held) = (held(&fp_bytes), held(&known_bytes));
    let counts_held = |fp: &Option<Fingerprint>| {
        let fp = fp.as_ref()?;
        read_hashed(new.as_bytes(), fp).map(|h| fp.counts(h))
    };
    let t_held = best(reps, || counts_held(&fp_plain));
    let t_held_known = best(reps, || counts_held(&fp_held));
    let known_ok =
        counts_held(&fp_held) == Some(CategoryCounts::of_summary(&categorized.summary(&state)));
    // The counts alone, from the file read into hashes beforehand.
    let t_counts_only = {
        let mut t = f64::MAX;
        for _ in 0..reps {
            let fp = fp_plain.as_ref();
            if let (Some(fp), Some(h)) = (fp, fp.and_then(|fp| read_hashed(new.as_bytes(), fp))) {
                let start = Instant::now();
                black_box(fp.counts(h));
                t = t.min(start.elapsed().as_secs_f64());
            }
        }
        t
    };
    // A connection's first import: our records, no link yet.
    let first = {
        let mut s = state.clone();
        s.links.clear();
        s.theirs.clear();
        Fingerprint::from_state(&s, IMPORTED)
    };
    let t_first = best(reps, || {
        read_hashed(new.as_bytes(), &first).map(|h| first.counts(h))
    });
    let taken = fp_held
        .as_ref()
        .and_then(|fp| read_hashed(new.as_bytes(), fp))
        .map_or(0, |h| h.known_taken());

    let t_snap = best(reps, || Snapshot::of(state.kind, &state.rules, &ours).len());
    let snap = Snapshot::of(state.kind, &state.rules, &ours);
    let snap_bytes = snap.encode();
    let t_snap_encode = best(reps, || snap.encode().len());
    let t_snap_decode = best(reps, || Snapshot::decode(&snap_bytes).map(|s| s.len()));
    let t_diff = best(reps, || diff(&snap, &theirs).changed.len());
    let d = diff(&snap, &theirs);

    let ms = |t: f64| format!("{:9.1} ms", t * 1e3);
    println!();
    println!(
        "engine, {n} rows ({:.1} MB import file), best of {reps}:",
        new.len() as f64 / 1e6
    );
    println!("  parse (import file)                {}", ms(t_parse));
    println!("  state.to_input                     {}", ms(t_input));
    println!("  categorize(&State)                 {}", ms(t_categorize));
    println!("  suggest (New rows, max 3)          {}", ms(t_suggest));
    println!("  Fingerprint::from_state            {}", ms(t_fp_build));
    println!("  Fingerprint::encode                {}", ms(t_fp_encode));
    println!("  Fingerprint::decode                {}", ms(t_fp_decode));
    println!(
        "  decode + preview(&records)         {}   (row keys; equals categorize: {preview_ok})",
        ms(t_preview_keys)
    );
    println!(
        "  decode + preview_counts(&records)  {}   (parsed records hashed, then counted; equals categorize: {counts_ok})",
        ms(t_preview)
    );
    println!(
        "  read_into(a tally)                 {}   (the reader alone: decode, split, map, check)",
        ms(t_read_null)
    );
    println!(
        "  read_into(fingerprint.hashed())    {}   (the reader hashing as it reads, no records)",
        ms(t_read_hashed)
    );
    println!(
        "  preview from the file              {}   (decode + read_into + counts, the browser's; equals categorize: {file_ok})",
        ms(t_from_file)
    );
    println!(
        "  read_into(RowHashes)               {}   (the server, once per stored import: the rows' text hashes)",
        ms(t_row_hashes)
    );
    println!(
        "  preview, fingerprint held          {}   (read_into + counts: what the browser times)",
        ms(t_held)
    );
    println!(
        "  of which counts(hashed)            {}   (the categories from the hashes)",
        ms(t_counts_only)
    );
    println!(
        "  preview, held, known rows          {}   ({taken} rows known from the last import; equals categorize: {known_ok}) = {:.2}x faster",
        ms(t_held_known),
        t_held / t_held_known
    );
    println!(
        "  preview, held, first import        {}   (no link yet: no value hashed)",
        ms(t_first)
    );
    println!(
        "  fingerprint with known rows        {:.1} MB, decode {}",
        known_bytes.len() as f64 / 1e6,
        ms(t_known_decode)
    );
    println!("  Snapshot::of                       {}", ms(t_snap));
    println!("  Snapshot::encode                   {}", ms(t_snap_encode));
    println!("  Snapshot::decode                   {}", ms(t_snap_decode));
    println!(
        "  diff(&snapshot, &records)          {}   ({} added, {} changed, {} removed)",
        ms(t_diff),
        d.added.len(),
        d.changed.len(),
        d.removed.len()
    );
    println!(
        "  fingerprint {:.1} bytes/record ({:.1} MB), snapshot {:.1} bytes/record ({:.1} MB)",
        fp_bytes.len() as f64 / n as f64,
        fp_bytes.len() as f64 / 1e6,
        snap_bytes.len() as f64 / n as f64,
        snap_bytes.len() as f64 / 1e6
    );
    println!(
        "  ratio parse+categorize / parse     {:9.2}x (the system allocator, whose page faults vary it run to run; the goal's figure is the server's: the window bench)",
        (t_parse + t_categorize) / t_parse
    );
    println!(
        "  ratio parse+preview_counts / parse {:9.2}x (records parsed first, then hashed: not a path the app takes; the browser's is the next line)",
        (t_parse + t_preview) / t_parse
    );
    println!(
        "  ratio preview from the file / parse{:9.2}x (goal <= 2.5x; the browser's path, reading included)",
        t_from_file / t_parse
    );
}

/// A sink that only counts: what the reader costs by itself.
struct Tally(usize);

impl RecordSink for Tally {
    fn record(&mut self, _line: u32, values: &[&str]) {
        self.0 += black_box(values).len();
    }
    fn len(&self) -> usize {
        self.0
    }
    fn activate(&mut self, _index: usize) {}
}

/// The file read into the fingerprint's hasher.
fn read_hashed(bytes: &[u8], fp: &Fingerprint) -> Option<Hashed> {
    read_into(
        bytes,
        Some("kunder.csv"),
        sync::schema::Kind::Customer,
        &ReadOptions::default(),
        fp.hashed(),
    )
    .ok()
    .map(|(_, h)| h)
}

/// What the server keeps of a stored import's rows.
fn row_hashes(bytes: &[u8]) -> sync::read::RowHashes {
    read_into(
        bytes,
        Some("kunder.csv"),
        sync::schema::Kind::Customer,
        &ReadOptions::default(),
        sync::read::RowHashes::default(),
    )
    .map(|(_, r)| r)
    .unwrap_or_default()
}

/// The browser's preview: the fingerprint decoded, the file read into its
/// hasher, the counts.
fn preview_file(file: &[u8], fp_bytes: &[u8]) -> Option<CategoryCounts> {
    let fp = Fingerprint::decode(fp_bytes).ok()?;
    let hashed = read_hashed(file, &fp)?;
    Some(fp.counts(hashed))
}

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The child process of `peak_memory`: does one path from files on disk
/// and prints its peak memory, so nothing the parent generated counts.
fn peak_child(dir: &Path, what: &str) {
    let before = peak_rss().unwrap_or(0);
    let read_import = || std::fs::read(dir.join("import.csv")).unwrap_or_default();
    let found = match what {
        "preview" => {
            // As the browser does it: the fingerprint first (it arrives before
            // the file is read), then the file read into its hasher.
            let fp_bytes = std::fs::read(dir.join("state.fingerprint")).unwrap_or_default();
            let Ok(fp) = Fingerprint::decode(&fp_bytes) else {
                return;
            };
            drop(fp_bytes);
            let import = read_import();
            let hashed = read_hashed(&import, &fp);
            drop(import);
            hashed.map_or(0, |h| fp.counts(h).synchronized as usize)
        }
        _ => {
            // As the server's run does it (service::runs): the new data
            // read first, then the previous snapshot loaded and decoded
            // (its field hashes left in its bytes).
            let import = read_import();
            let records = common::server_parse(&import);
            drop(import);
            let snap = std::fs::read(dir.join("old.snapshot")).unwrap_or_default();
            let Ok(snapshot) = Snapshot::decode_owned(snap) else {
                return;
            };
            sync::track::diff_threaded(&snapshot, &records, common::server_threads())
                .changed
                .len()
        }
    };
    let peak = peak_rss().unwrap_or(0);
    println!("{} {} {found}", peak, peak.saturating_sub(before));
}

/// Peak memory of the browser's preview (decode the fingerprint, read the
/// file into its hasher, count) and of the diff (parse, decode the snapshot, diff),
/// each in a fresh process, against the import file's size.
fn peak_memory(n: usize) {
    let dir = std::env::temp_dir().join(format!("partnersync-peak-{n}"));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let new = new_csv(n);
    let ours = parse(old_csv(n).as_bytes());
    let theirs = parse(new.as_bytes());
    let snap = Snapshot::of(sync::schema::Kind::Customer, &Default::default(), &ours).encode();
    let state = state_of(ours, theirs);
    let fp = Fingerprint::from_state(&state, IMPORTED).encode();
    drop(state);
    let ok = std::fs::write(dir.join("import.csv"), &new).is_ok()
        && std::fs::write(dir.join("state.fingerprint"), &fp).is_ok()
        && std::fs::write(dir.join("old.snapshot"), &snap).is_ok();
    if !ok {
        return;
    }
    let size = new.len() as f64;
    for what in ["preview", "diff"] {
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let out = std::process::Command::new(exe)
            .env("ENGINE_PEAK_CHILD", what)
            .env("ENGINE_PEAK_DIR", &dir)
            .output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
        let nums: Vec<f64> = text
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [peak, _, _] = nums[..] {
            println!(
                "  peak memory, {what:<7} from files  {:9.1} MB = {:.2}x the {:.1} MB import file (goal <= 3x)",
                peak / 1e6,
                peak / size,
                size / 1e6
            );
        }
    }
}

fn main() {
    if let (Some(what), Some(dir)) = (
        std::env::var_os("ENGINE_PEAK_CHILD"),
        std::env::var_os("ENGINE_PEAK_DIR"),
    ) {
        peak_child(Path::new(&dir), &what.to_string_lossy());
        return;
    }
    // ENGINE_PEAK_ONLY=1: the peak memory figures alone (they do not
    // depend on a quiet machine).
    if std::env::var_os("ENGINE_PEAK_ONLY").is_none() {
        report(rows());
    }
    peak_memory(rows());
    if std::env::var_os("ENGINE_CRITERION").is_some() {
        let n = 20_000;
        let ours = parse(old_csv(n).as_bytes());
        let theirs = parse(new_csv(n).as_bytes());
        let state = state_of(ours.clone(), theirs.clone());
        let fp = Fingerprint::from_state(&state, IMPORTED).encode();
        let snap = Snapshot::of(state.kind, &state.rules, &ours);
        let mut c = Criterion::default().sample_size(10).configure_from_args();
        let mut g = c.benchmark_group("engine_20k");
        g.bench_function("categorize", |b| b.iter(|| categorize(black_box(&state))));
        g.bench_function("decode_preview", |b| {
            b.iter(|| Fingerprint::decode(black_box(&fp)).map(|f| f.preview(&theirs)))
        });
        g.bench_function("snapshot_of", |b| {
            b.iter(|| Snapshot::of(state.kind, &state.rules, black_box(&ours)))
        });
        g.bench_function("diff", |b| b.iter(|| diff(black_box(&snap), &theirs)));
        g.finish();
        c.final_summary();
    }
}

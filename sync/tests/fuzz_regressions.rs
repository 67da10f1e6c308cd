//! Replays every input kept in `sync/fuzz/regressions/<target>/` through the
//! same checks the fuzz targets run (`sync::fuzzing`). A crash the fuzzer
//! finds is copied there by `./scripts/fuzz` and stays fixed from then on.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

type Check = fn(&[u8]);

const TARGETS: &[(&str, Check)] = &[
    ("read_csv", sync::fuzzing::read_csv),
    ("read_xlsx", sync::fuzzing::read_xlsx),
    ("fingerprint_decode", sync::fuzzing::fingerprint_decode),
];

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).expect("readable input");
            (path.display().to_string(), bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_kept_input_passes_its_target_checks() {
    for (target, check) in TARGETS {
        let kept = inputs(target);
        assert!(!kept.is_empty(), "no regression inputs for {target}");
        for (name, bytes) in kept {
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(outcome.is_ok(), "{name} breaks {target}");
        }
    }
}

#[test]
fn hostile_files_are_errors_not_records() {
    use sync::read::{Format, ReadOptions, read};
    use sync::schema::Kind;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/read_xlsx");
    for name in [
        "zip-bomb-64mib.xlsx",
        "truncated-local-header.xlsx",
        "no-workbook.xlsx",
    ] {
        let bytes = std::fs::read(dir.join(name)).expect("kept input");
        let mut options = ReadOptions {
            format: Some(Format::Xlsx),
            ..Default::default()
        };
        options.limits.max_uncompressed_bytes = 16 * 1024 * 1024;
        let r = read(&bytes, Some(name), Kind::Customer, &options);
        assert!(r.is_err(), "{name} was read as a workbook");
    }
}

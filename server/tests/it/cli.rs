//! The `partnersync` binary's user commands, run as a person would from a
//! shell, against the same kind of database as the rest of the suite.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::fresh_database_url;

fn partnersync(
    data_dir: &std::path::Path,
    db: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_partnersync"))
        .args(args)
        .env("PARTNERSYNC_DATA_DIR", data_dir)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run partnersync");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn user_add_list_and_disable_from_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(dir.path()).await;
    let run = |args: &[&str], stdin: Option<&str>| partnersync(dir.path(), &db, args, stdin);

    // The password comes from standard input when it is not a terminal.
    let (ok, out, err) = run(
        &["user", "add", "anna", "--role", "admin"],
        Some("a long enough password\n"),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("Added anna (Administrator)"), "{out}");
    let (ok, out, err) = run(
        &[
            "user",
            "add",
            "sven",
            "--role",
            "supervisor",
            "--password",
            "another long one",
        ],
        None,
    );
    assert!(ok, "{out}{err}");

    // Bad input: a clear message and a failing exit code.
    let (ok, _, err) = run(
        &["user", "add", "x", "--role", "admin", "--password", "short"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("at least 10 characters"), "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "y",
            "--role",
            "boss",
            "--password",
            "long enough pw",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("unknown role boss"), "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "ANNA",
            "--role",
            "admin",
            "--password",
            "long enough pw",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("taken"), "{err}");

    let (ok, out, _) = run(&["user", "disable", "sven"], None);
    assert!(ok);
    assert!(out.contains("Disabled sven"));
    let (ok, out, _) = run(&["user", "list"], None);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("anna")
            && lines[1].contains("Administrator")
            && lines[1].ends_with("active")
    );
    assert!(lines[2].starts_with("sven") && lines[2].ends_with("disabled"));

    // The last administrator cannot be disabled.
    let (ok, _, err) = run(&["user", "disable", "anna"], None);
    assert!(!ok);
    assert!(err.contains("At least one active administrator"), "{err}");
    let (ok, _, err) = run(&["user", "disable", "nobody"], None);
    assert!(!ok);
    assert!(err.contains("No such user"), "{err}");
}

/// An Excel-style export: semicolons, Windows-1252 (æ ø å), CRLF, leading zeros.
fn excel_export(rows: &[&str]) -> Vec<u8> {
    let text = rows.join("\r\n") + "\r\n";
    text.chars()
        .map(|c| match c {
            'æ' => 0xE6,
            'ø' => 0xF8,
            'å' => 0xE5,
            'Ø' => 0xD8,
            c if c.is_ascii() => c as u8,
            c => panic!("not in the test's code page: {c}"),
        })
        .collect()
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn inspect_preview_and_diff_read_real_looking_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p.display().to_string()
    };
    let ours = write(
        "ours.csv",
        &excel_export(&[
            "Kundenummer;Navn;Poststed;E-post",
            "00123;Blåbær AS;Tromsø;post@blabaer.no",
            "00124;Ørn Regnskap;Bodø;",
            "00125;Solo AS;Oslo;solo@solo.no",
        ]),
    );
    let theirs = write(
        "theirs.csv",
        &excel_export(&[
            "Kundenummer;Navn;Poststed;E-post",
            "00123;Blåbær AS;Tromsø;post@blabaer.no",
            "00999;Bare hos dem;Bergen;",
        ]),
    );
    let db = "sqlite::memory:";
    let run = |args: &[&str]| partnersync(dir.path(), db, args, None);

    let (ok, out, err) = run(&["inspect", &ours, "--json"]);
    assert!(ok, "{err}");
    let v = json_of(&out);
    assert_eq!(v["encoding"], "windows-1252");
    assert_eq!(v["delimiter"], ";");
    assert_eq!(v["header"][1], "Navn");
    assert_eq!(v["rows"][1][0], "00123", "leading zeros stay");
    assert_eq!(v["rows"][1][1], "Blåbær AS");
    assert_eq!(v["records"].as_array().expect("records").len(), 3);
    assert_eq!(v["errors"].as_array().expect("errors").len(), 0);

    let (ok, out, err) = run(&["inspect", &ours]);
    assert!(ok, "{err}");
    assert!(
        out.contains("windows-1252") && out.contains("3 records"),
        "{out}"
    );

    let (ok, out, err) = run(&[
        "preview", "--kind", "customer", "--ours", &ours, "--theirs", &theirs, "--json",
    ]);
    assert!(ok, "{err}");
    let v = json_of(&out);
    let count = |k: &str| {
        v[k]["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} missing: {v}"))
    };
    // Nothing is linked yet: equal numbers are suggestions, never links.
    // Three of ours and two of theirs: five lone rows, all New.
    assert_eq!(count("new"), 5, "{v}");
    let blabaer = v["new"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["our_number"] == "00123")
        .expect("00123");
    assert_eq!(
        blabaer["suggestion"], "00123",
        "the equal number is the top suggestion"
    );
    assert_eq!(
        count("conflicts")
            + count("deleted")
            + count("deactivated")
            + count("synchronized")
            + count("inactive"),
        0
    );

    let newer = write(
        "newer.csv",
        &excel_export(&[
            "Kundenummer;Navn;Poststed;E-post",
            "00123;Blåbær AS;Harstad;post@blabaer.no",
            "00125;Solo AS;Oslo;solo@solo.no",
            "00126;Ny Kunde;Oslo;",
        ]),
    );
    let (ok, out, err) = run(&["diff", &ours, &newer, "--kind", "customer", "--json"]);
    assert!(ok, "{err}");
    let v = json_of(&out);
    assert_eq!(v["added"]["count"], 1);
    assert_eq!(v["removed"]["count"], 1);
    assert_eq!(v["unchanged"]["count"], 1);
    assert_eq!(v["changed"]["count"], 1);
    assert_eq!(v["changed"]["rows"][0]["number"], "00123");
    assert_eq!(v["changed"]["rows"][0]["fields"][0]["after"], "Harstad");

    // A missing file and a bad kind: a sentence and a failing exit code.
    let (ok, _, err) = run(&["inspect", "/no/such/file.csv"]);
    assert!(
        !ok && err.contains("cannot open /no/such/file.csv"),
        "{err}"
    );
    let (ok, _, err) = run(&["diff", &ours, &newer, "--kind", "vendor"]);
    assert!(!ok && err.contains("unknown kind vendor"), "{err}");
}

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

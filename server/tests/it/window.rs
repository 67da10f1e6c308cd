//! The synchronization window over HTTP: imports (with the browser's
//! preview computed from the fingerprint), categories, partner actions,
//! conflict resolution, version checks, idempotency keys, pending changes
//! and the audit trail.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sync::fingerprint::Fingerprint;
use sync::protocol::CategoryCounts;
use sync::read::{ReadOptions, read, read_into};
use sync::schema::Kind;

use crate::helpers::{TestApp, spawn_app};

/// An Excel-style export: semicolons, Windows-1252 (`Ø` is one byte).
fn their_file(rows: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut text = String::from("Kundenummer;Navn;E-post;Poststed\r\n");
    for (n, name, email, city) in rows {
        text.push_str(&format!("{n};{name};{email};{city}\r\n"));
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    bytes.into_owned()
}

async fn create_customer(app: &TestApp, c: &Client, number: &str, name: &str, email: &str) {
    let (s, b) = app
        .call(
            c,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"number": number, "name": name, "email": email, "city": "Bergen"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn connection(app: &TestApp, c: &Client, rules: Value) -> String {
    let (s, conn) = app
        .call(
            c,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "Visma", "customers": {"rules": rules,
                "required": {"ours": ["number", "name"], "theirs": ["number", "name"]}, "mapping": []}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    format!("/api/v1/connections/{}/customer", conn["connection_id"])
}

/// `GET {base}/fingerprint` with one request header.
async fn fingerprint_with(
    app: &TestApp,
    c: &Client,
    base: &str,
    (name, value): (&str, &str),
) -> reqwest::Response {
    c.get(app.url(&format!("{base}/fingerprint")))
        .header(name, value)
        .send()
        .await
        .expect("fingerprint")
}

/// What the browser does: fetch the fingerprint, read the file with the
/// same crate, preview. Returns the counts and the revision.
async fn browser_preview(
    app: &TestApp,
    c: &Client,
    base: &str,
    file: &[u8],
) -> (CategoryCounts, String) {
    let (counts, revision, _) = browser_preview_known(app, c, base, file).await;
    (counts, revision)
}

/// `browser_preview`, and how many rows it took as known from the stored
/// import (`KnownRows`).
async fn browser_preview_known(
    app: &TestApp,
    c: &Client,
    base: &str,
    file: &[u8],
) -> (CategoryCounts, String, usize) {
    let r = c
        .get(app.url(&format!("{base}/fingerprint")))
        .send()
        .await
        .expect("fingerprint");
    assert_eq!(r.status(), StatusCode::OK);
    let revision = r.headers()["x-preview-revision"]
        .to_str()
        .expect("revision")
        .to_string();
    let bytes = r.bytes().await.expect("bytes");
    let fp = Fingerprint::decode(&bytes).expect("decodes");
    let (_, hashed) = read_into(
        file,
        Some("kunder.csv"),
        Kind::Customer,
        &ReadOptions::default(),
        fp.hashed(),
    )
    .expect("reads");
    let known = hashed.known_taken();
    (fp.counts(hashed), revision, known)
}

async fn import(
    app: &TestApp,
    c: &Client,
    base: &str,
    file: Vec<u8>,
    revision: Option<&str>,
) -> (StatusCode, Value) {
    let mut url = app.url(&format!("{base}/imports?file_name=kunder.csv"));
    if let Some(r) = revision {
        url.push_str(&format!("&preview_revision={r}"));
    }
    let r = c.post(url).body(file).send().await.expect("import");
    let s = r.status();
    (
        s,
        serde_json::from_str(&r.text().await.expect("body")).expect("json"),
    )
}

/// Carries out the planned updates of the row `key`; our customers found
/// by `q` after it.
async fn apply_planned(app: &TestApp, c: &Client, base: &str, key: &str, q: &str) -> Value {
    let (s, r) = act(app, c, base, json!({"op": "apply_planned", "keys": [key]})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, list) = app
        .call(c, Method::GET, &format!("/api/v1/customers?q={q}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list
}

/// Imports `file` and accepts every suggested partner; the action's answer.
async fn import_and_accept(app: &TestApp, c: &Client, base: &str, file: Vec<u8>) -> Value {
    assert_eq!(
        import(app, c, base, file, None).await.0,
        StatusCode::CREATED
    );
    let (s, r) = act(app, c, base, json!({"op": "accept_suggestions"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r
}

async fn rows(app: &TestApp, c: &Client, base: &str, category: &str) -> Vec<Value> {
    let (s, page) = app
        .call(
            c,
            Method::GET,
            &format!("{base}/window/{category}?limit=1000"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["rows"].as_array().expect("rows").clone()
}

fn row<'r>(rows: &'r [Value], key: &str) -> &'r Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows:?}"))
}

async fn act(app: &TestApp, c: &Client, base: &str, body: Value) -> (StatusCode, Value) {
    app.call(c, Method::POST, &format!("{base}/actions"), Some(body))
        .await
}

async fn counts(app: &TestApp, c: &Client, base: &str) -> Value {
    let (s, w) = app
        .call(c, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    w["counts"].clone()
}

/// The fingerprint lists the rows of the stored import, and a preview of
/// the next export takes the rows whose text did not change as they were:
/// the same categories as the import then computes.
#[tokio::test]
async fn a_reimport_previews_the_rows_it_knows_as_they_were() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    create_customer(&app, &admin, "100", "Alpha AS", "post@alpha.no").await;
    create_customer(&app, &admin, "101", "Beta AS", "post@beta.no").await;
    create_customer(&app, &admin, "102", "Gamma AS", "").await;
    let monday = [
        ("100", "Alpha AS", "post@alpha.no", "Bergen"),
        ("101", "Beta AS", "post@beta.no", "Bergen"),
        ("102", "Gamma AS", "", "Bergen"),
        ("200", "\"Delta; Øst AS\"", "", "Tromsø"),
        ("201", "Epsilon AS", "", "Oslo"),
    ];
    let (first, _, known) = browser_preview_known(&app, &admin, &base, &their_file(&monday)).await;
    assert_eq!(known, 0, "nothing is stored yet");
    import_and_accept(&app, &admin, &base, their_file(&monday)).await;
    let fp = fingerprint_with(&app, &admin, &base, ("accept", "*/*")).await;
    let fp = Fingerprint::decode(&fp.bytes().await.expect("body")).expect("decodes");
    assert_eq!(fp.known.map(|k| k.texts.len()), Some(5));
    assert_eq!(first.new, 3 + 5);

    // Tuesday's export: Gamma moved, Delta gone, Zeta new.
    let tuesday = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "Bergen"),
        ("101", "Beta AS", "post@beta.no", "Bergen"),
        ("102", "Gamma AS", "", "Molde"),
        ("201", "Epsilon AS", "", "Oslo"),
        ("300", "Zeta AS", "", "Oslo"),
    ]);
    let (preview, revision, known) = browser_preview_known(&app, &admin, &base, &tuesday).await;
    assert_eq!(known, 3, "Alpha, Beta and Epsilon as on Monday");
    let (s, result) = import(&app, &admin, &base, tuesday.clone(), Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED, "{result}");
    let server: CategoryCounts = serde_json::from_value(result["counts"].clone()).expect("counts");
    assert_eq!(server, preview, "the import's categories equal the preview");
    assert_eq!((server.deleted, server.new, server.synchronized), (0, 2, 3));

    // Now Tuesday's rows are the known ones.
    let (again, _, known) = browser_preview_known(&app, &admin, &base, &tuesday).await;
    assert_eq!((again, known), (server, 5));
}

/// A value mapping (their code, our value) is laid over their records
/// wherever they are read: the window shows it at once, and the browser's
/// preview lays it over the next file as the import's categories do.
#[tokio::test]
async fn value_mappings_read_alike_in_the_window_the_preview_and_the_import() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    // Our cities are Bergen.
    create_customer(&app, &admin, "100", "Alpha AS", "post@alpha.no").await;
    create_customer(&app, &admin, "101", "Beta AS", "post@beta.no").await;
    let monday = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "BGO"),
        ("101", "Beta AS", "post@beta.no", "Bergen"),
    ]);
    import_and_accept(&app, &admin, &base, monday).await;
    // Their code BGO is not our Bergen yet: Alpha conflicts on the city.
    let c = counts(&app, &admin, &base).await;
    assert_eq!(
        (&c["conflicts"], &c["synchronized"]),
        (&json!(1), &json!(1)),
        "{c}"
    );

    let (s, impact) = app
        .call(
            &admin,
            Method::PUT,
            &format!("{base}/value-mappings"),
            Some(json!({"field": "city", "their_value": "BGO", "our_value": "Bergen"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{impact}");
    assert_eq!(impact["affected"], 1);
    let c = counts(&app, &admin, &base).await;
    assert_eq!(
        (&c["conflicts"], &c["synchronized"]),
        (&json!(0), &json!(2)),
        "the window reads the mapping at once: {c}"
    );
    // `active` and the number are never mapped.
    for field in ["active", "number"] {
        let (s, e) = app
            .call(
                &admin,
                Method::PUT,
                &format!("{base}/value-mappings"),
                Some(json!({"field": field, "their_value": "true", "our_value": "false"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
    }

    // Tuesday's export still says BGO, and has a new customer there.
    let tuesday = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "BGO"),
        ("101", "Beta AS", "post@beta.no", "Bergen"),
        ("200", "Gamma AS", "", "BGO"),
    ]);
    let (preview, revision, known) = browser_preview_known(&app, &admin, &base, &tuesday).await;
    assert!(known >= 1, "Monday's rows are known, and hashed mapped");
    let (s, result) = import(&app, &admin, &base, tuesday, Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED, "{result}");
    let server: CategoryCounts = serde_json::from_value(result["counts"].clone()).expect("counts");
    assert_eq!(server, preview, "the import's categories equal the preview");
    assert_eq!(
        (server.conflicts, server.synchronized, server.new),
        (0, 2, 1)
    );
    let window: CategoryCounts =
        serde_json::from_value(counts(&app, &admin, &base).await).expect("counts");
    assert_eq!(window, server, "the window equals the import's categories");
}

#[tokio::test]
async fn the_import_equals_the_browser_preview_and_a_stale_preview_is_redone() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    create_customer(&app, &admin, "100", "Alpha AS", "post@alpha.no").await;
    create_customer(&app, &admin, "101", "Beta AS", "post@beta.no").await;
    create_customer(&app, &admin, "102", "Gamma AS", "").await;

    // A blank window before any import: our three records are New.
    let c = counts(&app, &admin, &base).await;
    assert_eq!(c["new"], 3, "{c}");

    let file = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "Bergen"),
        ("101", "Beta Øst AS", "post@beta.no", "Bergen"),
        ("200", "Delta AS", "", "Tromsø"),
        ("201", "Epsilon AS", "", "Oslo"),
        ("201", "Epsilon AS (copy)", "", "Oslo"),
        ("", "No number", "", ""),
    ]);
    let (preview, revision) = browser_preview(&app, &admin, &base, &file).await;
    let (s, result) = import(&app, &admin, &base, file.clone(), Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED, "{result}");
    let server: CategoryCounts = serde_json::from_value(result["counts"].clone()).expect("counts");
    assert_eq!(
        server, preview,
        "the server's categories equal the browser's preview"
    );
    assert_eq!(
        server.new, 8,
        "every record of both sides: equal numbers are not linked by themselves"
    );
    assert_eq!(result["import"]["record_count"], 5);
    assert_eq!(
        result["row_errors"][0]["line"], 7,
        "the row without a number, by line"
    );
    assert_eq!(result["import"]["sha256"].as_str().map(str::len), Some(64));

    // The fingerprint travels compressed to browsers that accept it.
    let r = fingerprint_with(&app, &admin, &base, ("accept-encoding", "gzip")).await;
    assert_eq!(r.headers()["content-encoding"], "gzip");
    // A caller that holds the current fingerprint gets 304 and no body;
    // one that holds an older one gets the new fingerprint.
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            r.headers()["x-preview-revision"]
                .to_str()
                .expect("revision")
        )
    );
    let held = fingerprint_with(&app, &admin, &base, ("if-none-match", &etag)).await;
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(held.headers()["etag"].to_str().ok(), Some(etag.as_str()));
    assert!(held.bytes().await.expect("body").is_empty());
    let other = fingerprint_with(
        &app,
        &admin,
        &base,
        ("if-none-match", "\"0000000000000000\""),
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
    assert!(Fingerprint::decode(&other.bytes().await.expect("body")).is_ok());

    // Multiple matches are listed and flagged, never matched.
    let new = rows(&app, &admin, &base, "new").await;
    let flagged: Vec<_> = new
        .iter()
        .filter(|r| r["skipped_multiple"] == true)
        .collect();
    assert_eq!(flagged.len(), 2);
    assert_eq!(row(&new, "ours:100")["suggestion"], "100");
    assert_eq!(row(&new, "theirs:200")["theirs"][1], "Delta AS");

    // Someone changes our register after a preview: the preview is
    // outdated, the import is refused and nothing is stored.
    let (_, revision) = browser_preview(&app, &admin, &base, &file).await;
    create_customer(&app, &admin, "103", "Eta AS", "").await;
    let (s, stale) = import(&app, &admin, &base, file.clone(), Some(&revision)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["code"], "stale_preview");
    let (_, list) = app
        .call(&admin, Method::GET, &format!("{base}/imports"), None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Redone against the new fingerprint, it passes and still agrees.
    let (again, revision) = browser_preview(&app, &admin, &base, &file).await;
    assert_eq!(again.new, preview.new + 1);
    let (s, result) = import(&app, &admin, &base, file, Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED);
    let server: CategoryCounts = serde_json::from_value(result["counts"].clone()).expect("counts");
    assert_eq!(server, again);

    // Bad files get clear errors and change nothing.
    let (s, bad) = import(
        &app,
        &admin,
        &base,
        b"Navn;E-post\r\nAlpha AS;post@alpha.no\r\n".to_vec(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["fields"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("cannot be read"),
        "{bad}"
    );
    let zip_bomb_like = b"PK\x03\x04garbage".to_vec();
    let (s, _) = import(&app, &admin, &base, zip_bomb_like, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = app
        .call(&admin, Method::GET, &format!("{base}/imports"), None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    // The window is for administrators only.
    let (s, _) = app
        .call(&sup, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn partner_actions_resolve_and_write_to_both_sides() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    // Their system keeps 6 digits and strips leading zeros.
    let base = connection(
        &app,
        &admin,
        json!({"max_len": 6, "digits_only": true, "strip_leading_zeros": true}),
    )
    .await;
    create_customer(&app, &admin, "100", "Alpha AS", "post@alpha.no").await;
    create_customer(&app, &admin, "101", "Beta AS", "post@beta.no").await;
    create_customer(&app, &admin, "000102", "Gamma AS", "gamma@x.no").await;
    create_customer(&app, &admin, "103", "Eta AS", "").await;
    let file = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "Bergen"),
        ("101", "Beta Øst AS", "post@beta.no", "Bergen"),
        ("300", "Theta AS", "theta@x.no", "Oslo"),
        ("301", "Iota AS", "", "Oslo"),
    ]);
    let (s, _) = import(&app, &admin, &base, file, None).await;
    assert_eq!(s, StatusCode::CREATED);

    // Accept the suggested partners (equal numbers) for all New rows.
    let (s, r) = act(&app, &admin, &base, json!({"op": "accept_suggestions"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["applied"], 2);
    assert_eq!(r["counts"]["synchronized"], 1, "{r}");
    assert_eq!(
        r["counts"]["conflicts"], 1,
        "a fresh pair conflicts on every difference"
    );

    // Resolve the conflict field by field: take their name.
    let conflicts = rows(&app, &admin, &base, "conflicts").await;
    let beta = row(&conflicts, "link:101:101").clone();
    assert_eq!(beta["conflicts"][0]["field"], "name");
    assert_eq!(beta["conflicts"][0]["ours"], "Beta AS");
    assert_eq!(beta["conflicts"][0]["theirs"], "Beta Øst AS");
    let resolve = json!({"op": "take_side", "keys": ["link:101:101"], "field": "name", "side": "theirs",
        "expect": [{"key": "link:101:101", "token": beta["token"]}]});

    // Two administrators resolve the same conflict at once: one wins, the
    // other is told the row changed and sees it as it is now.
    let admin2 = app
        .sign_in(crate::helpers::ADMIN.0, crate::helpers::ADMIN.1)
        .await
        .0;
    let (a, b) = tokio::join!(
        act(&app, &admin, &base, resolve.clone()),
        act(&app, &admin2, &base, resolve.clone())
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        a.1
    } else {
        b.1
    };
    assert_eq!(loser["code"], "rows_changed");
    assert_eq!(loser["rows"][0]["category"], "synchronized");
    // The chosen value is in our register now.
    let (_, list) = app
        .call(&admin, Method::GET, "/api/v1/customers?q=101", None)
        .await;
    assert_eq!(list["items"][0]["name"], "Beta Øst AS");

    // Create partner: 000102 becomes 102 on their side (zeros stripped),
    // as the number check says before anything is done.
    let (_, check) = app
        .call(
            &admin,
            Method::GET,
            &format!("{base}/number-check?number=000102"),
            None,
        )
        .await;
    assert_eq!(check["result"], "102");
    assert_eq!(check["zeros_stripped"], true);
    assert_eq!(check["taken"], false);
    let (_, check) = app
        .call(
            &admin,
            Method::GET,
            &format!("{base}/number-check?number=1234567"),
            None,
        )
        .await;
    assert!(
        check["error"].is_string(),
        "too long for their side: {check}"
    );
    let (_, check) = app
        .call(
            &admin,
            Method::GET,
            &format!("{base}/number-check?number=300"),
            None,
        )
        .await;
    assert_eq!(check["taken"], true);

    let (s, r) = act(
        &app,
        &admin,
        &base,
        json!({"op": "plan", "actions": [{"action": "create", "side": "theirs", "from_number": "000102", "number": "000102"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let synced = rows(&app, &admin, &base, "synchronized").await;
    let gamma = synced
        .iter()
        .find(|r| r["our_number"] == "000102")
        .expect("gamma synced");
    assert_eq!(gamma["their_number"], "102");

    // Create partners in bulk: the New records of their side get records
    // in our register, numbered from a series.
    let (s, r) = act(
        &app,
        &admin,
        &base,
        json!({"op": "create_partners", "keys": ["theirs:300", "theirs:301"], "numbering": {"type": "series", "first": "K-0001"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["applied"], 2);
    let (_, list) = app
        .call(&admin, Method::GET, "/api/v1/customers?q=theta", None)
        .await;
    assert_eq!(list["items"][0]["number"], "K-0001");
    assert_eq!(list["items"][0]["email"], "theta@x.no");

    // Don't synchronize, then resume.
    let (s, r) = act(
        &app,
        &admin,
        &base,
        json!({"op": "plan", "actions": [{"action": "deactivate", "side": "ours", "number": "103"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let deact = rows(&app, &admin, &base, "deactivated").await;
    assert_eq!(row(&deact, "ours:103")["reason"], "dont_synchronize");
    let (s, _) = act(
        &app,
        &admin,
        &base,
        json!({"op": "plan", "actions": [{"action": "resume", "side": "ours", "number": "103"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        rows(&app, &admin, &base, "new")
            .await
            .iter()
            .any(|r| r["key"] == "ours:103")
    );

    // Stop and start a pair.
    let stop = json!({"op": "plan", "actions": [{"action": "stop", "our_number": "100", "their_number": "100"}]});
    assert_eq!(act(&app, &admin, &base, stop).await.0, StatusCode::OK);
    let deact = rows(&app, &admin, &base, "deactivated").await;
    assert_eq!(row(&deact, "link:100:100")["link_active"], false);
    let start = json!({"op": "plan", "actions": [{"action": "start", "our_number": "100", "their_number": "100"}]});
    assert_eq!(act(&app, &admin, &base, start).await.0, StatusCode::OK);

    // A plan the engine refuses changes nothing.
    let before = counts(&app, &admin, &base).await;
    let (s, r) = act(
        &app,
        &admin,
        &base,
        json!({"op": "plan", "actions": [
            {"action": "deactivate", "side": "ours", "number": "103"},
            {"action": "link", "our_number": "999", "their_number": "100"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(counts(&app, &admin, &base).await, before);

    // The pending change (the partner created on their side) downloads in
    // their format, spreadsheet-safe, and is marked delivered.
    let r = admin
        .get(app.url(&format!("{base}/pending/export")))
        .send()
        .await
        .expect("export");
    assert_eq!(r.status(), StatusCode::OK);
    let through = r.headers()["x-pending-through"]
        .to_str()
        .expect("through")
        .to_string();
    let text = r.text().await.expect("csv");
    assert!(text.starts_with('\u{feff}'), "UTF-8 with BOM for Excel");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("change;number;name"), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("create;102;Gamma AS;")),
        "{text}"
    );
    // The same as a workbook: every cell text, read back by our own reader.
    let r = admin
        .get(app.url(&format!("{base}/pending/export?format=xlsx")))
        .send()
        .await
        .expect("xlsx");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains(".xlsx")
    );
    let book = r.bytes().await.expect("bytes");
    let out = read(
        &book,
        Some("pending.xlsx"),
        Kind::Customer,
        &ReadOptions::default(),
    )
    .expect("reads");
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].number(), "102");
    assert_eq!(out.records[0].get(sync::schema::Field::Name), "Gamma AS");
    let (s, marked) = app
        .call(
            &admin,
            Method::POST,
            &format!("{base}/pending/delivered"),
            Some(json!({"through": through.parse::<i64>().expect("id")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(marked, 1);
    let (_, w) = app
        .call(&admin, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(w["undelivered"], 0);
    assert_eq!(w["pending"], 1, "still pending until an import shows it");

    // Their next export shows the partner: the pending change is dropped
    // and the pair stays synchronized.
    let file = their_file(&[
        ("100", "Alpha AS", "post@alpha.no", "Bergen"),
        ("101", "Beta Øst AS", "post@beta.no", "Bergen"),
        ("102", "Gamma AS", "gamma@x.no", "Bergen"),
        ("300", "Theta AS", "theta@x.no", "Oslo"),
        ("301", "Iota AS", "", "Oslo"),
    ]);
    let (s, r) = import(&app, &admin, &base, file, None).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, w) = app
        .call(&admin, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(w["pending"], 0, "{w}");
    assert_eq!(w["counts"]["synchronized"], 5, "{w}");
    assert_eq!(w["counts"]["new"], 1, "103 is left: {w}");

    // The audit trail has who, when, which records, before and after.
    let (_, history) = app
        .call(&admin, Method::GET, "/api/v1/audit?number=101", None)
        .await;
    let history = history.as_array().expect("entries");
    let set = history
        .iter()
        .find(|e| e["action"] == "set")
        .expect("the resolution");
    assert_eq!(set["username"], crate::helpers::ADMIN.0);
    assert_eq!(set["detail"]["before"]["ours"]["name"], "Beta AS");
    assert_eq!(set["detail"]["after"]["ours"]["name"], "Beta Øst AS");
    assert!(history.iter().any(|e| e["action"] == "link"));
}

#[tokio::test]
async fn a_replayed_idempotency_key_gets_the_first_answer_and_changes_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    create_customer(&app, &admin, "1", "One AS", "").await;
    create_customer(&app, &admin, "2", "Two AS", "").await;
    let send = |key: &'static str, body: Value| {
        let admin = admin.clone();
        let url = app.url(&format!("{base}/actions"));
        async move {
            let r = admin
                .post(url)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .expect("action");
            let s = r.status();
            (s, r.json::<Value>().await.expect("json"))
        }
    };
    let dont =
        json!({"op": "plan", "actions": [{"action": "deactivate", "side": "ours", "number": "1"}]});
    let first = send("k-1", dont.clone()).await;
    assert_eq!(first.0, StatusCode::OK, "{:?}", first.1);
    let (_, w1) = app
        .call(&admin, Method::GET, &format!("{base}/window"), None)
        .await;
    let replay = send("k-1", dont.clone()).await;
    assert_eq!(replay, first, "the same answer");
    let (_, w2) = app
        .call(&admin, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(w1["revision"], w2["revision"], "nothing was done again");
    // The key with another request is refused.
    let other =
        json!({"op": "plan", "actions": [{"action": "deactivate", "side": "ours", "number": "2"}]});
    let (s, e) = send("k-1", other).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["code"], "idempotency_key_reused");
    assert_eq!(counts(&app, &admin, &base).await["deactivated"], 1);
    // Without a key a repeat is harmless: applying the same plan again
    // changes nothing.
    let (s, r) = act(&app, &admin, &base, dont).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["counts"]["deactivated"], 1);
}

#[tokio::test]
async fn supervisors_create_customers_with_each_sync_choice() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;
    let base = connection(
        &app,
        &admin,
        json!({"max_len": 5, "strip_leading_zeros": true}),
    )
    .await;
    let (s, targets) = app
        .call(&sup, Method::GET, "/api/v1/sync-targets", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let id = targets[0]["connection_id"].clone();
    assert_eq!(targets[0]["rules"]["max_len"], 5);

    let new = |number: &str, name: &str, decision: &str, their: Option<&str>| {
        json!({"number": number, "name": name, "city": "Bergen",
            "sync": {"connection_id": id, "decision": decision, "their_number": their}})
    };
    // Synchronize: the partner is created (a pending change for a file
    // connection) with the number after their rules.
    let (s, c) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/customers",
            Some(new("00777", "Sync AS", "synchronize", None)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["number"], "00777", "our number keeps its zeros");
    let (s, c) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/customers",
            Some(new("778", "Skip AS", "do_not_synchronize", None)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, c) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/customers",
            Some(new("779", "Later AS", "choose_later", None)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    // A number their side cannot hold: refused, nothing created.
    let (s, e) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/customers",
            Some(new("780", "Long AS", "synchronize", Some("1234567"))),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["fields"][0]["field"], "sync.their_number");
    let (_, list) = app
        .call(&sup, Method::GET, "/api/v1/customers?q=780", None)
        .await;
    assert_eq!(list["total"], 0);

    let synced = rows(&app, &admin, &base, "synchronized").await;
    assert_eq!(synced.len(), 1, "{synced:?}");
    assert_eq!(synced[0]["our_number"], "00777");
    assert_eq!(
        synced[0]["their_number"], "777",
        "zeros stripped by their rules"
    );
    let (_, pending) = app
        .call(&admin, Method::GET, &format!("{base}/pending"), None)
        .await;
    assert_eq!(pending[0]["change"]["type"], "create");
    assert_eq!(pending[0]["change"]["number"], "777");
    let deact = rows(&app, &admin, &base, "deactivated").await;
    assert_eq!(deact[0]["key"], "ours:778");
    let new_rows = rows(&app, &admin, &base, "new").await;
    assert_eq!(new_rows[0]["key"], "ours:779");
    // The supervisor's choices are in the audit trail.
    let (_, history) = app
        .call(&admin, Method::GET, "/api/v1/audit?number=00777", None)
        .await;
    assert_eq!(history[0]["action"], "create_customer");
    assert_eq!(history[0]["username"], crate::helpers::SUPERVISOR.0);
    // Only administrators see the window.
    let (s, _) = app
        .call(&sup, Method::GET, &format!("{base}/window/new"), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_sided_changes_flow_over_and_links_can_be_removed() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    create_customer(&app, &admin, "1", "One AS", "one@x.no").await;
    create_customer(&app, &admin, "2", "Two AS", "two@x.no").await;
    let first = their_file(&[
        ("1", "One AS", "one@x.no", "Bergen"),
        ("2", "Two AS", "two@x.no", "Bergen"),
    ]);
    let r = import_and_accept(&app, &admin, &base, first).await;
    assert_eq!(r["counts"]["synchronized"], 2);

    // Their next export changed One's email: a one-sided change is not a
    // conflict but a planned update of our side.
    let second = their_file(&[
        ("1", "One AS", "billing@one.no", "Bergen"),
        ("2", "Two AS", "two@x.no", "Bergen"),
    ]);
    assert_eq!(
        import(&app, &admin, &base, second, None).await.0,
        StatusCode::CREATED
    );
    let synced = rows(&app, &admin, &base, "synchronized").await;
    let one = row(&synced, "link:1:1");
    assert_eq!(one["planned"][0]["field"], "email");
    assert_eq!(one["planned"][0]["side"], "ours");
    assert_eq!(one["planned"][0]["to"], "billing@one.no");
    let list = apply_planned(&app, &admin, &base, "link:1:1", "one").await;
    assert_eq!(list["items"][0]["email"], "billing@one.no");
    let synced = rows(&app, &admin, &base, "synchronized").await;
    assert_eq!(row(&synced, "link:1:1")["planned"], json!([]));

    // Removing a link puts both records back under New.
    let (s, r) = act(
        &app,
        &admin,
        &base,
        json!({"op": "plan", "actions": [{"action": "unlink", "our_number": "2", "their_number": "2"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let new = rows(&app, &admin, &base, "new").await;
    assert_eq!(row(&new, "ours:2")["suggestion"], "2");
    row(&new, "theirs:2");

    // Unknown connection, kind and category answer clearly.
    let (s, _) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/connections/999/customer/window",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            &admin,
            Method::GET,
            &base.replace("customer", "supplier"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .call(
            &admin,
            Method::GET,
            &format!("{base}/window/everything"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = act(&app, &admin, &base, json!({"op": "launch_rockets"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

/// A file has columns for some fields only. Our register knows the others
/// (street, phone, country); the file says nothing about them, so they are
/// neither conflicts nor updates of our side (their empty cells would
/// otherwise blank our values), until a file with such a column comes.
#[tokio::test]
async fn columns_the_file_lacks_are_neither_compared_nor_taken_over() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;
    let base = connection(&app, &admin, json!({})).await;
    for (n, name, email, phone) in [
        ("1", "One AS", "one@x.no", "+47 55 00 00 01"),
        ("2", "Two AS", "two@x.no", "+47 55 00 00 02"),
    ] {
        let (s, b) = app
            .call(
                &admin,
                Method::POST,
                "/api/v1/customers",
                Some(
                    json!({"number": n, "name": name, "email": email, "city": "Bergen",
                    "street": "Kaien 1", "phone": phone, "country": "Norge"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    // Number, name, email and city only.
    let first = their_file(&[
        ("1", "One AS", "one@x.no", "Bergen"),
        ("2", "Two AS", "two@x.no", "Bergen"),
    ]);
    // Fresh pairs conflict on every difference, but not on what the file
    // cannot say.
    let r = import_and_accept(&app, &admin, &base, first).await;
    assert_eq!(r["counts"]["synchronized"], 2, "{r}");
    assert_eq!(r["counts"]["conflicts"], 0, "{r}");

    // Their next export changed One's email: that flows over, and nothing
    // else. The browser's preview says the same as the server.
    let second = their_file(&[
        ("1", "One AS", "billing@one.no", "Bergen"),
        ("2", "Two AS", "two@x.no", "Bergen"),
    ]);
    let (preview, revision) = browser_preview(&app, &admin, &base, &second).await;
    assert_eq!(preview.synchronized, 2);
    assert_eq!(preview.conflicts, 0);
    let (s, imported) = import(&app, &admin, &base, second, Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED, "{imported}");
    let server: CategoryCounts =
        serde_json::from_value(counts(&app, &admin, &base).await).expect("counts");
    assert_eq!(server, preview);
    let synced = rows(&app, &admin, &base, "synchronized").await;
    let one = row(&synced, "link:1:1");
    assert_eq!(
        one["planned"],
        json!([{"field": "email", "side": "ours", "from": "one@x.no", "to": "billing@one.no"}]),
        "{one}"
    );
    assert_eq!(row(&synced, "link:2:2")["planned"], json!([]));
    // Search matches names, numbers and both sides' values, in any case.
    for (q, keys) in [
        ("ONE%20as", vec!["link:1:1"]),
        ("BILLING%40one", vec!["link:1:1"]),
        ("norge", vec!["link:1:1", "link:2:2"]),
        ("55%2000%2000%2002", vec!["link:2:2"]),
        ("nobody", vec![]),
    ] {
        let (s, page) = app
            .call(
                &admin,
                Method::GET,
                &format!("{base}/window/synchronized?q={q}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let got: Vec<&str> = page["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["key"].as_str())
            .collect();
        assert_eq!(got, keys, "q={q}");
        assert_eq!(page["total"], keys.len(), "q={q}");
    }
    // The row says which of their fields the data does not carry.
    let missing = one["their_missing"].as_array().expect("their_missing");
    assert!(missing.contains(&json!("phone")), "{one}");
    assert!(!missing.contains(&json!("email")), "{one}");
    let list = apply_planned(&app, &admin, &base, "link:1:1", "one").await;
    let one = &list["items"][0];
    assert_eq!(one["email"], "billing@one.no");
    assert_eq!(one["phone"], "+47 55 00 00 01");
    assert_eq!(one["street"], "Kaien 1");
    assert_eq!(one["country"], "Norge");

    // A file with a phone column does say something about phones: Two's
    // differs, and no base knows the phone, so it is a conflict.
    let mut text = String::from("Kundenummer;Navn;E-post;Poststed;Telefon\r\n");
    text.push_str("1;One AS;billing@one.no;Bergen;+47 55 00 00 01\r\n");
    text.push_str("2;Two AS;two@x.no;Bergen;+47 99 99 99 99\r\n");
    let third = text.into_bytes();
    let (preview, revision) = browser_preview(&app, &admin, &base, &third).await;
    let (s, imported) = import(&app, &admin, &base, third, Some(&revision)).await;
    assert_eq!(s, StatusCode::CREATED, "{imported}");
    let server: CategoryCounts =
        serde_json::from_value(counts(&app, &admin, &base).await).expect("counts");
    assert_eq!(server, preview);
    assert_eq!((server.synchronized, server.conflicts), (1, 1));
    let conflicts = rows(&app, &admin, &base, "conflicts").await;
    let two = row(&conflicts, "link:2:2");
    assert_eq!(two["conflicts"].as_array().map(Vec::len), Some(1), "{two}");
    assert_eq!(two["conflicts"][0]["field"], "phone");
}

//! Integrated systems over HTTP: a real database standing in for the ERP
//! (PostgreSQL when the suite runs on PostgreSQL, else a SQLite file), a
//! small ERP REST server started by the test, runs with change tracking and
//! reports, the outbox applying each write once, the deletion threshold,
//! value mappings, and two server instances sharing one database.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::{get, patch};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Connection, Executor, Row};

use crate::helpers::{TestApp, fresh_postgres_database, spawn_app, spawn_on};

/// A database for the ERP: (the URL Partnersync is given, a connection for
/// the test to look with).
pub async fn erp_database(dir: &std::path::Path) -> (String, AnyConnection) {
    sqlx::any::install_default_drivers();
    match fresh_postgres_database().await {
        Some(url) => {
            let c = AnyConnection::connect(&url).await.expect("erp pg");
            (url, c)
        }
        None => {
            let path = dir.join("erp.db");
            let c = AnyConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
                .await
                .expect("erp sqlite");
            (format!("sqlite://{}", path.display()), c)
        }
    }
}

async fn erp_table(erp: &mut AnyConnection) {
    erp.execute(
        "create table kunder (kundenr varchar(20) primary key, navn text not null, epost text, \
         telefon text, selger text, aktiv boolean not null default true, kredittdager integer)",
    )
    .await
    .expect("erp table");
    erp.execute(
        "insert into kunder (kundenr, navn, epost, telefon, selger, aktiv, kredittdager) values \
         ('100', 'Alpha AS', 'post@alpha.no', '', null, true, 30), \
         ('101', 'Beta AS', 'post@beta.no', '', null, true, 14), \
         ('300', 'Theirs Only AS', 'post@theirs.no', '', 'S01', true, null)",
    )
    .await
    .expect("erp rows");
}

async fn erp_rows(erp: &mut AnyConnection) -> BTreeMap<String, (String, String)> {
    sqlx::query("select kundenr, navn, coalesce(epost, '') as epost from kunder")
        .fetch_all(&mut *erp)
        .await
        .expect("erp select")
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("kundenr"),
                (r.get::<String, _>("navn"), r.get::<String, _>("epost")),
            )
        })
        .collect()
}

async fn customer(app: &TestApp, c: &Client, number: &str, name: &str, email: &str) {
    let (s, b) = app
        .call(
            c,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"number": number, "name": name, "email": email})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn ours(app: &TestApp, c: &Client, number: &str) -> Value {
    let (_, list) = app
        .call(
            c,
            Method::GET,
            &format!("/api/v1/customers?q={number}"),
            None,
        )
        .await;
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["number"] == number)
        .cloned()
        .unwrap_or(Value::Null)
}

fn settings() -> Value {
    json!({"rules": {}, "required": {"ours": ["number", "name"], "theirs": ["number", "name"]}})
}

/// With their sales rep column mapped to ours.
fn settings_with_rep() -> Value {
    json!({"rules": {}, "required": {"ours": ["number", "name"], "theirs": ["number", "name"]},
        "mapping": [{"column": "selger", "field": "sales_rep_code"}]})
}

async fn run(app: &TestApp, c: &Client, id: &Value, body: Value) -> Vec<Value> {
    let (s, runs) = app
        .call(
            c,
            Method::POST,
            &format!("/api/v1/connections/{id}/runs"),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    runs.as_array().expect("runs").clone()
}

async fn window(app: &TestApp, c: &Client, base: &str) -> Value {
    let (s, w) = app
        .call(c, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    w
}

fn count(run: &Value, outcome: &str) -> u64 {
    run["counts"][outcome].as_u64().unwrap_or(0)
}

/// The counts add up to the records seen.
fn adds_up(run: &Value) {
    let total: u64 = run["counts"]
        .as_object()
        .expect("counts")
        .values()
        .map(|v| v.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, run["records_seen"].as_u64().unwrap_or(0), "{run}");
}

#[tokio::test]
async fn a_database_system_is_tested_run_written_and_reported() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let dir = tempfile::tempdir().expect("dir");
    let (url, mut erp) = erp_database(dir.path()).await;
    erp_table(&mut erp).await;
    customer(&app, &admin, "100", "Alpha AS", "post@alpha.no").await;
    customer(&app, &admin, "101", "Beta AS", "post@beta.no").await;
    customer(&app, &admin, "200", "Ours Only AS", "post@ours.no").await;

    // Credentials are stored encrypted and never shown back.
    let (s, conn) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "ERP", "system": "database", "secret": url,
                "endpoint": {"customers": {"table": "kunder"}},
                "customers": {"rules": {}, "required": {"ours": ["number", "name"], "theirs": ["number", "name"]},
                    "owned": ["email"]}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["connection_id"].clone();
    assert_eq!(conn["has_secret"], true);
    assert!(
        !conn.to_string().contains(&url),
        "the URL is never sent back"
    );
    let (_, listed) = app
        .call(&admin, Method::GET, "/api/v1/connections", None)
        .await;
    assert!(!listed.to_string().contains(&url));

    // Test connection: what it read, in plain words.
    let (s, t) = app
        .call(
            &admin,
            Method::POST,
            &format!("/api/v1/connections/{id}/test"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["sources"][0]["records"], 3);
    assert!(
        t["message"]
            .as_str()
            .expect("message")
            .contains("3 customers")
    );

    // The first run: everything is new to the window; nothing linked yet.
    let first = run(&app, &admin, &id, json!({})).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["status"], "done", "{}", first[0]);
    assert_eq!(
        first[0]["full_refresh"], true,
        "the first run is a full refresh"
    );
    assert_eq!(first[0]["changes"]["added"], 3);
    adds_up(&first[0]);
    let base = format!("/api/v1/connections/{id}/customer");
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["new"], 6, "three lone records a side: {w}");

    // Link the equal numbers, then change one field on each side.
    let (s, r) = app
        .call(
            &admin,
            Method::POST,
            &format!("{base}/actions"),
            Some(json!({"op": "accept_suggestions"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let a_run = run(&app, &admin, &id, json!({})).await;
    assert_eq!(a_run[0]["full_refresh"], false);
    assert_eq!(a_run[0]["changes"]["unchanged"], 3, "{}", a_run[0]);
    erp.execute("update kunder set epost = 'ny@alpha.no' where kundenr = '100'")
        .await
        .expect("erp change");
    let beta = ours(&app, &admin, "101").await;
    let mut edit = beta.clone();
    edit["name"] = json!("Beta Holding AS");
    let (s, b) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/customers/{}", beta["customer_id"]),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let changed = run(&app, &admin, &id, json!({})).await;
    let r = &changed[0];
    assert_eq!(r["status"], "done", "{r}");
    assert_eq!(r["changes"]["changed"], 1, "{r}");
    assert_eq!(count(r, "updated"), 2, "{r}");
    adds_up(r);
    // Their change reached our register; ours reached their database.
    assert_eq!(ours(&app, &admin, "100").await["email"], "ny@alpha.no");
    let rows = erp_rows(&mut erp).await;
    assert_eq!(rows["101"].0, "Beta Holding AS", "{rows:?}");
    let (_, outbox) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/connections/{id}/outbox"),
            None,
        )
        .await;
    assert_eq!(outbox.as_array().map(Vec::len), Some(0), "{outbox}");

    // The ERP owns email: a manual edit of it is refused, not overwritten
    // later without a word.
    let alpha = ours(&app, &admin, "100").await;
    let mut edit = alpha.clone();
    edit["email"] = json!("manual@alpha.no");
    let (s, refused) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/customers/{}", alpha["customer_id"]),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.to_string().contains("ERP owns this field"),
        "{refused}"
    );
    // The form asks which fields are owned, to show them read-only.
    let (s, owned) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/customers/{}/owned-fields", alpha["customer_id"]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{owned}");
    assert_eq!(owned, json!([{"field": "email", "connection": "ERP"}]));

    // The report's details: one line per record, filterable, exportable.
    let run_id = r["run_id"].clone();
    let (_, d) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs/{run_id}/details?outcome=updated"),
            None,
        )
        .await;
    assert_eq!(d["total"], 2, "{d}");
    let alpha = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["number"] == "100")
        .expect("alpha updated")
        .clone();
    assert_eq!(alpha["changes"][0]["after"], "ny@alpha.no", "{alpha}");
    assert_eq!(alpha["whose"], "pair", "{alpha}");
    let csv = admin
        .get(app.url(&format!("/api/v1/runs/{run_id}/details/export")))
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    assert!(
        csv.contains("Beta Holding AS") && csv.contains("updated"),
        "{csv}"
    );
    let (s, bad) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs/{run_id}/details?outcome=nonsense"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");

    // The next run sees our write arrived in their database: a side
    // changed, the pair agrees ("no difference"). After that, nothing new.
    let arrived = run(&app, &admin, &id, json!({})).await;
    assert_eq!(count(&arrived[0], "no_difference"), 1, "{}", arrived[0]);
    assert_eq!(count(&arrived[0], "no_new_changes"), 1, "{}", arrived[0]);
    assert_eq!(count(&arrived[0], "updated"), 0);
    let quiet = run(&app, &admin, &id, json!({})).await;
    assert_eq!(count(&quiet[0], "no_new_changes"), 2, "{}", quiet[0]);
    adds_up(&quiet[0]);

    // Create a partner in their database from the window: it arrives once.
    let (s, r) = app
        .call(
            &admin,
            Method::POST,
            &format!("{base}/actions"),
            Some(json!({"op": "create_partners", "keys": ["ours:200"], "numbering": {"type": "keep"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    run(&app, &admin, &id, json!({})).await;
    let rows = erp_rows(&mut erp).await;
    assert_eq!(
        rows["200"],
        ("Ours Only AS".to_string(), "post@ours.no".to_string())
    );
    let applied: i64 = sqlx::query_scalar("select count(*) from partnersync_applied")
        .fetch_one(&mut erp)
        .await
        .expect("ledger");
    assert_eq!(applied, 2, "one ledger entry per write");

    // Bad settings are a validation error in plain words.
    for (secret, table, words) in [
        (url.as_str(), "mangler", "does not exist"),
        (
            "postgres://erp:feil@127.0.0.1:1/erp",
            "kunder",
            "cannot be reached",
        ),
        (
            "mysql://x",
            "kunder",
            "starts with postgres:// or sqlite://",
        ),
    ] {
        let (_, bad) = app
            .call(
                &admin,
                Method::POST,
                "/api/v1/connections",
                Some(
                    json!({"name": format!("Bad {words}"), "system": "database", "secret": secret,
                    "endpoint": {"customers": {"table": table}}}),
                ),
            )
            .await;
        let (_, t) = app
            .call(
                &admin,
                Method::POST,
                &format!("/api/v1/connections/{}/test", bad["connection_id"]),
                None,
            )
            .await;
        assert_eq!(t["ok"], false, "{t}");
        assert!(t["message"].as_str().unwrap_or("").contains(words), "{t}");
        // A run of it fails with the same words and changes nothing.
        let r = run(&app, &admin, &bad["connection_id"], json!({})).await;
        assert_eq!(r[0]["status"], "failed");
        assert!(r[0]["message"].as_str().unwrap_or("").contains(words));
    }
}

#[tokio::test]
async fn a_full_refresh_that_deletes_too_much_waits_and_ordinary_runs_never_delete() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let dir = tempfile::tempdir().expect("dir");
    let (url, mut erp) = erp_database(dir.path()).await;
    erp_table(&mut erp).await;
    for n in ["100", "101", "300"] {
        customer(&app, &admin, n, &format!("Kunde {n}"), "").await;
    }
    let (_, conn) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "ERP", "system": "database", "secret": url,
                "endpoint": {"customers": {"table": "kunder"}, "delete_max_count": 1, "delete_max_percent": 50},
                "customers": settings()})),
        )
        .await;
    let id = conn["connection_id"].clone();
    run(&app, &admin, &id, json!({})).await;
    let base = format!("/api/v1/connections/{id}/customer");
    app.call(
        &admin,
        Method::POST,
        &format!("{base}/actions"),
        Some(json!({"op": "accept_suggestions"})),
    )
    .await;
    erp.execute("delete from kunder where kundenr in ('100', '101')")
        .await
        .expect("erp delete");

    // An ordinary run keeps what the listing left out.
    let r = run(&app, &admin, &id, json!({})).await;
    assert_eq!(r[0]["changes"]["removed"], 0, "{}", r[0]);
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["deleted"], 0, "{w}");

    // The full refresh would delete two: more than allowed, so it waits.
    let r = run(&app, &admin, &id, json!({"full_refresh": true})).await;
    assert_eq!(r[0]["status"], "waiting", "{}", r[0]);
    assert_eq!(r[0]["changes"]["removed"], 2);
    assert!(r[0]["message"].as_str().unwrap_or("").contains("2 of 3"));
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["deleted"], 0, "nothing changed while it waits");

    // Confirmed: the deletions are proposed in the window.
    let (s, done) = app
        .call(
            &admin,
            Method::POST,
            &format!("/api/v1/runs/{}/confirm", r[0]["run_id"]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "done");
    assert_eq!(count(&done, "deleted"), 2, "{done}");
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["deleted"], 2, "{w}");
    let (_, waiting) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs/{}", r[0]["run_id"]),
            None,
        )
        .await;
    assert_eq!(waiting["status"], "cancelled");
}

/// A small ERP REST API: paged listing, bearer token, writes applied once
/// per Idempotency-Key, and a switch that makes it fail.
#[derive(Default)]
struct Erp {
    records: Vec<Value>,
    applied: BTreeMap<String, u32>,
    /// Requests answered 503 before it works again.
    fail_next: u32,
    /// Every write fails with 503.
    down: bool,
    writes_seen: u32,
}

type Shared = Arc<Mutex<Erp>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer erp-token")
}

async fn list(
    State(erp): State<Shared>,
    h: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> (AxStatus, axum::Json<Value>) {
    if !authorized(&h) {
        return (
            AxStatus::UNAUTHORIZED,
            axum::Json(json!({"error": "token"})),
        );
    }
    let mut e = erp.lock().expect("erp");
    if e.fail_next > 0 {
        e.fail_next -= 1;
        return (
            AxStatus::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "busy"})),
        );
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(50);
    let items: Vec<Value> = e
        .records
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .cloned()
        .collect();
    (AxStatus::OK, axum::Json(json!({"items": items})))
}

fn write(erp: &Shared, h: &HeaderMap, apply: impl FnOnce(&mut Erp)) -> AxStatus {
    if !authorized(h) {
        return AxStatus::UNAUTHORIZED;
    }
    let mut e = erp.lock().expect("erp");
    e.writes_seen += 1;
    if e.down {
        return AxStatus::SERVICE_UNAVAILABLE;
    }
    let Some(key) = h.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return AxStatus::BAD_REQUEST;
    };
    let seen = e.applied.entry(key.to_string()).or_default();
    *seen += 1;
    if *seen == 1 {
        apply(&mut e);
    }
    AxStatus::OK
}

async fn create(
    State(erp): State<Shared>,
    h: HeaderMap,
    axum::Json(v): axum::Json<Value>,
) -> AxStatus {
    write(&erp, &h, |e| e.records.push(v))
}

async fn update(
    State(erp): State<Shared>,
    h: HeaderMap,
    Path(nr): Path<String>,
    axum::Json(v): axum::Json<Value>,
) -> AxStatus {
    write(&erp, &h, |e| {
        if let Some(r) = e.records.iter_mut().find(|r| r["kundenr"] == nr.as_str())
            && let (Some(r), Some(v)) = (r.as_object_mut(), v.as_object())
        {
            for (k, x) in v {
                r.insert(k.clone(), x.clone());
            }
        }
    })
}

async fn erp_api(records: Vec<Value>) -> (String, Shared) {
    let erp: Shared = Arc::new(Mutex::new(Erp {
        records,
        ..Default::default()
    }));
    let router = axum::Router::new()
        .route("/api/customers", get(list).post(create))
        .route("/api/customers/{nr}", patch(update))
        .with_state(erp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("erp serve");
    });
    (format!("http://{addr}/api"), erp)
}

#[tokio::test]
async fn a_rest_system_is_paged_retried_and_applies_each_write_once() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let records: Vec<Value> = (1..=7)
        .map(|i| json!({"kundenr": format!("{}", 500 + i), "navn": format!("Kunde {i}"), "epost": "", "selger": "S01", "aktiv": true}))
        .collect();
    let (base_url, erp) = erp_api(records).await;
    for i in 1..=7 {
        let (s, b) = app
            .call(
                &admin,
                Method::POST,
                "/api/v1/customers",
                Some(
                    json!({"number": format!("{}", 500 + i), "name": format!("Kunde {i}"),
                    "sales_rep_code": "anna.admin"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, conn) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "ERP API", "system": "rest", "secret": "erp-token",
                "endpoint": {"base_url": base_url, "customers": {"table": "/customers"}, "page_size": 3},
                "customers": settings_with_rep()})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["connection_id"].clone();

    // Paged listing (3 per page), through two failures (retried).
    erp.lock().expect("erp").fail_next = 2;
    let first = run(&app, &admin, &id, json!({})).await;
    assert_eq!(first[0]["status"], "done", "{}", first[0]);
    assert_eq!(first[0]["changes"]["added"], 7);
    let base = format!("/api/v1/connections/{id}/customer");
    app.call(
        &admin,
        Method::POST,
        &format!("{base}/actions"),
        Some(json!({"op": "accept_suggestions"})),
    )
    .await;
    // Their code S01 is not our anna.admin yet: every pair conflicts.
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["conflicts"], 7, "{w}");

    // A value mapping: their S01 is our anna.admin. The dry run counts.
    let mapping =
        json!({"field": "sales_rep_code", "their_value": "S01", "our_value": "anna.admin"});
    let (s, impact) = app
        .call(
            &admin,
            Method::PUT,
            &format!("{base}/value-mappings?dry_run=true"),
            Some(mapping.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{impact}");
    assert_eq!(impact["affected"], 7);
    assert!(impact["run_id"].is_null());
    assert_eq!(erp.lock().expect("erp").writes_seen, 0);
    let (s, impact) = app
        .call(
            &admin,
            Method::PUT,
            &format!("{base}/value-mappings"),
            Some(mapping),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{impact}");
    let (_, r) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs/{}", impact["run_id"]),
            None,
        )
        .await;
    assert_eq!(
        r["changes"]["changed"], 7,
        "exactly the mapped records: {r}"
    );
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["synchronized"], 7, "{w}");
    assert_eq!(erp.lock().expect("erp").writes_seen, 0, "nothing went back");

    // Our change goes out with an idempotency key; the ERP is down, so it
    // is retried and at last needs attention, with the error.
    let c = ours(&app, &admin, "502").await;
    let mut edit = c.clone();
    edit["email"] = json!("ny@kunde2.no");
    app.call(
        &admin,
        Method::PUT,
        &format!("/api/v1/customers/{}", c["customer_id"]),
        Some(edit),
    )
    .await;
    erp.lock().expect("erp").down = true;
    run(&app, &admin, &id, json!({})).await;
    let (_, outbox) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/connections/{id}/outbox"),
            None,
        )
        .await;
    let item = outbox[0].clone();
    assert_eq!(item["attempts"], 1, "{outbox}");
    assert!(
        item["last_error"].as_str().unwrap_or("").contains("503"),
        "{item}"
    );
    assert_eq!(item["needs_attention"], false);
    // Each delivery round tries three times (backoff) before giving up.
    assert_eq!(erp.lock().expect("erp").writes_seen, 3);

    // Back up: a retry sends it; sending it again applies nothing twice.
    erp.lock().expect("erp").down = false;
    let (s, after) = app
        .call(
            &admin,
            Method::POST,
            &format!(
                "/api/v1/connections/{id}/outbox/{}/retry",
                item["pending_id"]
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after.as_array().map(Vec::len), Some(0), "{after}");
    let key = item["idempotency_key"].as_str().expect("key").to_string();
    {
        let e = erp.lock().expect("erp");
        assert_eq!(e.applied.get(&key), Some(&1));
        let r = e
            .records
            .iter()
            .find(|r| r["kundenr"] == "502")
            .expect("502");
        assert_eq!(r["epost"], "ny@kunde2.no");
    }
    let sent_again = admin
        .patch(format!("{base_url}/customers/502"))
        .header("authorization", "Bearer erp-token")
        .header("idempotency-key", &key)
        .json(&json!({"epost": "again@kunde2.no"}))
        .send()
        .await
        .expect("resend");
    assert!(sent_again.status().is_success());
    {
        let e = erp.lock().expect("erp");
        assert_eq!(e.applied.get(&key), Some(&2), "seen twice");
        let r = e
            .records
            .iter()
            .find(|r| r["kundenr"] == "502")
            .expect("502");
        assert_eq!(r["epost"], "ny@kunde2.no", "applied once");
    }

    // The next run sees it arrived: in sync, nothing pending.
    let r = run(&app, &admin, &id, json!({})).await;
    assert_eq!(count(&r[0], "field_conflict"), 0, "{}", r[0]);
    let w = window(&app, &admin, &base).await;
    assert_eq!(w["counts"]["synchronized"], 7, "{w}");

    // A wrong token is a validation error in plain words.
    let (_, bad) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(
                json!({"name": "Wrong token", "system": "rest", "secret": "nope",
                "endpoint": {"base_url": base_url, "customers": {"table": "/customers"}}}),
            ),
        )
        .await;
    let (_, t) = app
        .call(
            &admin,
            Method::POST,
            &format!("/api/v1/connections/{}/test", bad["connection_id"]),
            None,
        )
        .await;
    assert_eq!(t["ok"], false);
    assert!(
        t["message"]
            .as_str()
            .unwrap_or("")
            .contains("refused the token"),
        "{t}"
    );
}

#[tokio::test]
async fn two_instances_on_one_database_never_run_a_connection_twice() {
    server::init_tracing();
    let one = spawn_app().await;
    let admin = one.setup_admin().await;
    let two = spawn_on(&one.database_url).await;
    let dir = tempfile::tempdir().expect("dir");
    let (url, mut erp) = erp_database(dir.path()).await;
    erp_table(&mut erp).await;
    let (_, conn) = one
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "ERP", "system": "database", "secret": url,
                "endpoint": {"customers": {"table": "kunder"}}, "customers": settings()})),
        )
        .await;
    let id = conn["connection_id"].as_i64().expect("id");
    // Due now (a new connection is due at once): both schedulers tick at
    // the same moment, several times.
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            server::service::runs::tick(&one.state),
            server::service::runs::tick(&two.state)
        );
        a.expect("tick one");
        b.expect("tick two");
    }
    let (_, runs) = one
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs?connection_id={id}"),
            None,
        )
        .await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    // Run now on both at once: one runs, the other is told it is running
    // (or runs after it; never both at the same time).
    let path = format!("/api/v1/connections/{id}/runs");
    let (ra, rb) = tokio::join!(
        one.call(&admin, Method::POST, &path, Some(json!({}))),
        two.call(&admin, Method::POST, &path, Some(json!({}))),
    );
    for (s, b) in [&ra, &rb] {
        assert!(
            *s == StatusCode::OK || (*s == StatusCode::CONFLICT && b["code"] == "run_in_progress"),
            "{s} {b}"
        );
    }
    let (_, runs) = one
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/runs?connection_id={id}"),
            None,
        )
        .await;
    let runs = runs.as_array().expect("runs").clone();
    let mut spans: Vec<(i64, i64)> = runs
        .iter()
        .map(|r| {
            (
                r["started_at"].as_i64().expect("start"),
                r["finished_at"].as_i64().expect("end"),
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlapped: {spans:?}");
    }
}

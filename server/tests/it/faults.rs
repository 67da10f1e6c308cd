//! The fault test: the real `partnersync` binary is killed (SIGKILL) at a
//! random moment while its scheduler sends pending writes to a database ERP
//! and a run may be going on, then started again. Every write must arrive
//! exactly once (the ERP table has no key, so a second insert would show as
//! a duplicate row) and the window must end with every pair synchronized.
//!
//! `FAULT_TRIALS` sets the number of trials (20 in the test command; the
//! campaign in `scripts/fuzz` runs hundreds).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Executor};

use crate::helpers::{client, fresh_database_url};

const SETUP_TOKEN: &str = "fault-test-set-up-token";
const CUSTOMERS: usize = 40;

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start(dir: &std::path::Path, database_url: &str) -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_partnersync"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PARTNERSYNC_DATA_DIR", dir)
        .env("DATABASE_URL", database_url)
        .env("PARTNERSYNC_SETUP_TOKEN", SETUP_TOKEN)
        .env("PARTNERSYNC_SECRET_KEY", "5".repeat(64))
        .env("PARTNERSYNC_SCHEDULER_SECONDS", "1")
        // A killed instance's lease runs out soon.
        .env("PARTNERSYNC_LEASE_SECONDS", "3")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start partnersync");
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{base}/api/v1/health")).send().await
            && r.status() == StatusCode::OK
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("partnersync did not start");
}

/// A failing trial must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn kill(self) {
        drop(self);
    }

    async fn call(
        &self,
        c: &Client,
        m: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = c.request(m, format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        match rb.send().await {
            Ok(r) => {
                let s = r.status();
                let t = r.text().await.unwrap_or_default();
                (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
            }
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Value::String(e.to_string()),
            ),
        }
    }

    async fn sign_in(&self) -> Client {
        let c = client();
        let (s, b) = self
            .call(
                &c,
                Method::POST,
                "/api/v1/session",
                Some(json!({"username": "fault.admin", "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        c
    }
}

async fn erp(dir: &std::path::Path) -> (String, AnyConnection) {
    let (url, mut c) = crate::integrations::erp_database(dir).await;
    // No key: a write applied twice would show as a second row.
    c.execute("create table kunder (kundenr text not null, navn text not null, epost text)")
        .await
        .expect("erp table");
    (url, c)
}

async fn one_trial(trial: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let database_url = fresh_database_url(dir.path()).await;
    let (erp_url, mut erp) = erp(dir.path()).await;

    // Set up: customers of ours, a database connection, a first run.
    let server = start(dir.path(), &database_url).await;
    let c = client();
    let (s, b) = server
        .call(
            &c,
            Method::POST,
            "/api/v1/setup",
            Some(json!({"token": SETUP_TOKEN, "username": "fault.admin", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for i in 0..CUSTOMERS {
        let (s, b) = server
            .call(
                &c,
                Method::POST,
                "/api/v1/customers",
                Some(
                    json!({"number": format!("{}", 1000 + i), "name": format!("Kunde {i}"),
                    "email": format!("k{i}@example.no")}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, conn) = server
        .call(
            &c,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "ERP", "system": "database", "secret": erp_url,
                "endpoint": {"customers": {"table": "kunder"}},
                "customers": {"rules": {}, "required": {"ours": ["number", "name"], "theirs": ["number", "name"]}}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let id = conn["connection_id"].clone();
    let (s, b) = server
        .call(
            &c,
            Method::POST,
            &format!("/api/v1/connections/{id}/runs"),
            Some(json!({})),
        )
        .await;
    // The scheduler may be running it already.
    assert!(s == StatusCode::OK || s == StatusCode::CONFLICT, "{b}");

    // Every customer gets a partner in the ERP: pending writes. Then, at a
    // random moment while the scheduler sends them (and a run may start),
    // the process is killed.
    let base = format!("/api/v1/connections/{id}/customer");
    let keys: Vec<String> = (0..CUSTOMERS)
        .map(|i| format!("ours:{}", 1000 + i))
        .collect();
    let (s, b) = server
        .call(
            &c,
            Method::POST,
            &format!("{base}/actions"),
            Some(json!({"op": "create_partners", "keys": keys, "numbering": {"type": "keep"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let wait = rand::thread_rng().gen_range(0..1800);
    if trial % 2 == 1 {
        let runner = c.clone();
        let url = format!("{}/api/v1/connections/{id}/runs", server.base);
        tokio::spawn(async move {
            let _ = runner.post(url).json(&json!({})).send().await;
        });
    }
    tokio::time::sleep(Duration::from_millis(wait)).await;
    server.kill();

    // Restarted, it finishes the work by itself.
    let server = start(dir.path(), &database_url).await;
    let c = server.sign_in().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, outbox) = server
            .call(
                &c,
                Method::GET,
                &format!("/api/v1/connections/{id}/outbox"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let items = outbox.as_array().expect("outbox");
        assert!(
            items.iter().all(|x| x["needs_attention"] == false),
            "trial {trial}: {outbox}"
        );
        if items.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "trial {trial}: the outbox never emptied: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select kundenr, count(*) from kunder group by kundenr order by kundenr")
            .fetch_all(&mut erp)
            .await
            .expect("erp rows");
    assert_eq!(
        rows.len(),
        CUSTOMERS,
        "trial {trial} (killed after {wait} ms): every write arrived"
    );
    assert!(
        rows.iter().all(|(_, n)| *n == 1),
        "trial {trial} (killed after {wait} ms): a write arrived twice: {rows:?}"
    );
    // A run shows them arrived: every pair synchronized, nothing pending.
    loop {
        let (s, b) = server
            .call(
                &c,
                Method::POST,
                &format!("/api/v1/connections/{id}/runs"),
                Some(json!({})),
            )
            .await;
        if s == StatusCode::OK {
            break;
        }
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, w) = server
        .call(&c, Method::GET, &format!("{base}/window"), None)
        .await;
    assert_eq!(w["counts"]["synchronized"], CUSTOMERS, "trial {trial}: {w}");
    assert_eq!(w["counts"]["new"], 0, "trial {trial}: {w}");
    assert_eq!(w["pending"], 0, "trial {trial}: {w}");
    server.kill();
}

#[tokio::test]
async fn a_server_killed_at_random_points_loses_no_write_and_sends_none_twice() {
    let trials: usize = std::env::var("FAULT_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(20);
    for trial in 0..trials {
        one_trial(trial).await;
    }
}

//! The integrated-system benchmark: a run over `BENCH_ROWS` customers
//! (default 1M) in a database ERP, after 1% of the rows changed on their
//! side and 1% on ours, beside a plain bulk insert of the same rows into
//! the same kind of database in the same process (the baseline a user
//! would compare with: loading the data set at all).
//!
//! Prints, side by side: the bulk insert; the first (full) run; the
//! change-tracking run (pull, compare with the snapshot, carry 1% over to
//! our register); the writes of 1% to their system through the outbox
//! (one transaction with its idempotency key each); rows per second and
//! the ratios to the baseline.
//!
//! `cargo run --release -p server --example bench_run` (SQLite files in a
//! temporary folder). `BENCH_DATABASE_URL=postgres://...` runs both our
//! database and the ERP's on that PostgreSQL server instead (fresh
//! databases, dropped at the end).

use std::time::Instant;

use anyhow::Context;
use server::config::Config;
use server::service::runs;
use sqlx::{AnyConnection, Connection, Executor};
use sync::protocol::{
    ConnectionInput, Endpoint, RegisterSettings, RunNow, RunTrigger, Source, SystemKind,
};
use sync::schema::Kind;

const CHUNK: usize = 500;

fn name(i: u64) -> String {
    format!("Kunde {i} AS")
}
fn email(i: u64) -> String {
    format!("post{i}@kunde.no")
}
fn phone(i: u64) -> String {
    format!("+47 {i:08}")
}
fn city(i: u64) -> String {
    format!("By {}", i % 400)
}

/// 1 in 100 rows changed on their side; another 1 in 100 on ours.
fn theirs_changed(i: u64) -> bool {
    i % 100 == 7
}
fn ours_changed(i: u64) -> bool {
    i % 100 == 42
}

async fn fresh_pg(server: &str, name: &str) -> anyhow::Result<String> {
    let mut c = AnyConnection::connect(server).await?;
    c.execute(format!("drop database if exists {name}").as_str())
        .await?;
    c.execute(format!("create database {name}").as_str())
        .await?;
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    Ok(format!("{base}/{name}"))
}

/// A value to bind.
enum Cell {
    T(String),
    I(i64),
}

/// Multi-row inserts of `rows` in one transaction.
async fn bulk_insert(
    c: &mut AnyConnection,
    head: &str,
    rows: u64,
    cols: usize,
    row: impl Fn(u64) -> Vec<Cell>,
) -> anyhow::Result<()> {
    let mut tx = c.begin().await?;
    let all: Vec<u64> = (0..rows).collect();
    for chunk in all.chunks(CHUNK) {
        let mut sql = String::from(head);
        sql.push_str(" values ");
        for (k, _) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..cols {
                if j > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", k * cols + j + 1));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for &i in chunk {
            for v in row(i) {
                q = match v {
                    Cell::T(s) => q.bind(s),
                    Cell::I(n) => q.bind(n),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn rate(rows: u64, secs: f64) -> String {
    format!("{:>10.0} rows/s", rows as f64 / secs.max(1e-9))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let pg = std::env::var("BENCH_DATABASE_URL").ok();
    let (ours_url, erp_url, erp_create) = match &pg {
        Some(server) => {
            let o = fresh_pg(server, "ps_bench_ours").await?;
            let e = fresh_pg(server, "ps_bench_erp").await?;
            (o, e.clone(), e)
        }
        None => {
            let e = dir.path().join("erp.db");
            (
                format!("sqlite://{}", dir.path().join("partnersync.db").display()),
                format!("sqlite://{}", e.display()),
                format!("sqlite://{}?mode=rwc", e.display()),
            )
        }
    };
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("{rows} customers, {backend}, 1% changed on each side");

    // The baseline: a plain bulk insert of the data set into their table.
    let mut erp = AnyConnection::connect(&erp_create)
        .await
        .context("ERP database")?;
    erp.execute(
        "create table kunder (kundenr text not null, navn text not null, epost text, telefon text, poststed text)",
    )
    .await?;
    let t = Instant::now();
    bulk_insert(
        &mut erp,
        "insert into kunder (kundenr, navn, epost, telefon, poststed)",
        rows,
        5,
        |i| {
            vec![
                Cell::T(format!("{i:07}")),
                Cell::T(name(i)),
                Cell::T(email(i)),
                Cell::T(phone(i)),
                Cell::T(city(i)),
            ]
        },
    )
    .await?;
    let baseline = t.elapsed().as_secs_f64();
    erp.execute("create index kunder_nr on kunder (kundenr)")
        .await?;

    // Partnersync with the same customers in its register.
    let mut config = Config::defaults(dir.path().to_path_buf());
    config.database_url = ours_url.clone();
    config.argon2_memory_kib = 1024;
    let (_router, state) = server::build(config).await?;
    let mut ours = AnyConnection::connect(&ours_url).await?;
    bulk_insert(
        &mut ours,
        "insert into customer (number, name, email, phone, city, active, search_text, version, created_at, updated_at)",
        rows,
        10,
        |i| {
            vec![
                Cell::T(format!("{i:07}")),
                Cell::T(name(i)),
                Cell::T(email(i)),
                Cell::T(phone(i)),
                Cell::T(city(i)),
                Cell::I(1),
                Cell::T(String::new()),
                Cell::I(1),
                Cell::I(0),
                Cell::I(0),
            ]
        },
    )
    .await
    .context("seeding our register")?;
    let settings = RegisterSettings::defaults(Kind::Customer);
    let conn = server::service::connections::create(
        &state.store,
        &state.vault,
        ConnectionInput {
            name: "ERP".into(),
            system: SystemKind::Database,
            customers: Some(settings),
            employees: None,
            endpoint: Some(Endpoint {
                customers: Source {
                    table: "kunder".into(),
                },
                interval_minutes: 0,
                ..Endpoint::default()
            }),
            secret: Some(erp_url.clone()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = conn.connection_id;

    // The first run: everything read and compared, snapshots taken.
    let t = Instant::now();
    let first = runs::run(&state, None, id, RunTrigger::Manual, &RunNow::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let first_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        first[0].status == sync::protocol::RunStatus::Done,
        "{:?}",
        first[0]
    );

    // Link the pairs as an administrator would (accept the suggestions).
    let admin = server::service::users::add(
        &state.store,
        1024,
        sync::protocol::NewUser {
            username: "bench.admin".into(),
            role: sync::protocol::Role::Admin,
            password: "bench password 1".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let actor = server::service::sync::Actor {
        user_id: admin.user_id,
        username: admin.username,
    };
    let t = Instant::now();
    server::service::sync::act(
        &state.store,
        &actor,
        id,
        Kind::Customer,
        &sync::protocol::WindowAction {
            op: sync::protocol::WindowOp::AcceptSuggestions { keys: None },
            expect: Vec::new(),
        },
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let link_secs = t.elapsed().as_secs_f64();
    runs::run(&state, None, id, RunTrigger::Manual, &RunNow::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // 1% changes on each side.
    let changed_theirs: Vec<u64> = (0..rows).filter(|i| theirs_changed(*i)).collect();
    let changed_ours: Vec<u64> = (0..rows).filter(|i| ours_changed(*i)).collect();
    let mut tx = erp.begin().await?;
    for i in &changed_theirs {
        sqlx::query("update kunder set epost = $1 where kundenr = $2")
            .bind(format!("ny{i}@kunde.no"))
            .bind(format!("{i:07}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let mut tx = ours.begin().await?;
    for i in &changed_ours {
        sqlx::query("update customer set phone = $1 where number = $2")
            .bind(format!("+47 9{i:07}"))
            .bind(format!("{i:07}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    // The measured run: change tracking, then the outbox's writes.
    let t = Instant::now();
    let run = runs::run(&state, None, id, RunTrigger::Manual, &RunNow::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let total = t.elapsed().as_secs_f64();
    let r = &run[0];
    let tracking = (r.finished_at.unwrap_or(r.started_at) - r.started_at) as f64 / 1000.0;
    let writes = (total - tracking).max(1e-9);
    let outbox = runs::outbox(&state.store, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(outbox.is_empty(), "{} writes not sent", outbox.len());
    let seen_changed = r.changes.changed;

    println!(
        "  plain bulk insert into their table {baseline:>8.2} s  {}",
        rate(rows, baseline)
    );
    println!(
        "  first run (full read and compare)  {first_secs:>8.2} s  {}",
        rate(rows, first_secs)
    );
    println!("  accepting {rows} suggested links    {link_secs:>8.2} s");
    println!(
        "  change tracking run ({seen_changed} of theirs changed, {} of ours) {tracking:>8.2} s  {}   {:.2}x the bulk insert's time",
        changed_ours.len(),
        rate(rows, tracking),
        tracking / baseline
    );
    println!(
        "  writes to their system ({} via the outbox) {writes:>8.2} s  {:>10.0} writes/s",
        changed_ours.len(),
        changed_ours.len() as f64 / writes
    );
    println!(
        "  report: {}",
        serde_json::to_string(&r.counts).unwrap_or_default()
    );
    state.store.close().await;
    Ok(())
}

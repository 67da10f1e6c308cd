//! Seeds a benchmark installation: `rows` customers in our register, each
//! linked to the same number on their side (as after an earlier import),
//! and writes the file their system would export today, the way Excel
//! writes it (semicolons, Windows-1252, CRLF, leading-zero numbers).
//!
//! Used by `scripts/bench-browser` only. It writes straight into the SQLite
//! database of a fresh data folder whose schema the server has created
//! (a million rows through the REST API would take hours); the server must
//! not be running while it writes.
//!
//! `cargo run --release -p server --example bench_seed -- DB_FILE CONNECTION_ID ROWS OUT_CSV [LAST_CSV]`
//!
//! With `LAST_CSV`, it also writes the export of the last synchronization
//! (every customer as both sides had it then), for the benchmark to import
//! as the import the server has before it previews today's file.
//!
//! The file differs from the register the way a real one does: 1 in 100
//! rows has a new name on their side, 1 in 500 has a name changed on both
//! sides (a conflict), 1 in 1000 of our records is missing from it and as
//! many records are new there, so the file has exactly `ROWS` rows.

use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Sqlite};
use sync::base::Base;
use sync::schema::Field;

/// One customer as both sides hold it at the last synchronization.
struct Customer {
    number: String,
    name: String,
    organisation_number: String,
    street: String,
    postal_code: String,
    city: String,
    email: String,
    phone: String,
}

fn customer(i: u64) -> Customer {
    Customer {
        number: format!("{i:07}"),
        name: if i.is_multiple_of(17) {
            format!("Kunde {i}; avd. Øst")
        } else {
            format!("Kunde {i} AS")
        },
        organisation_number: format!("9{i:08}"),
        street: format!("Storgata {}", i % 200),
        postal_code: format!("{:04}", i % 9000),
        city: "Tromsø".to_string(),
        email: format!("post{i}@kunde.no"),
        phone: format!("+47 {i:08}"),
    }
}

/// 1 in 500: both sides changed the name since the last synchronization.
fn both_changed(i: u64) -> bool {
    i % 500 == 3
}

/// 1 in 100: only their side changed the name.
fn they_changed(i: u64) -> bool {
    i % 100 == 1
}

/// 1 in 1000: in our register but no longer in their file.
fn gone_from_file(i: u64) -> bool {
    i % 1000 == 5
}

/// Rows inserted per statement (SQLite allows 32766 parameters).
const CHUNK: usize = 1000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (db, connection_id, rows, out, last) = match args.as_slice() {
        [db, c, rows, out] => (db, c, rows, out, None),
        [db, c, rows, out, last] => (db, c, rows, out, Some(last)),
        _ => bail!("usage: bench_seed DB_FILE CONNECTION_ID ROWS OUT_CSV [LAST_CSV]"),
    };
    let connection_id: i64 = connection_id.parse().context("CONNECTION_ID")?;
    let rows: u64 = rows.parse().context("ROWS")?;

    let started = Instant::now();
    write_file(out, rows)?;
    if let Some(last) = last {
        write_last_file(last, rows)?;
    }
    eprintln!(
        "wrote {out} ({rows} rows) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    // The bulk load alone may skip the journal's durability: a failed
    // seed is thrown away with its data folder.
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{db}"))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {db}"))?;
    seed(&mut conn, connection_id, rows).await?;
    conn.close().await?;
    eprintln!(
        "seeded {rows} customers and links in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn seed(conn: &mut SqliteConnection, connection_id: i64, rows: u64) -> anyhow::Result<()> {
    let now = 1_700_000_000_000_i64;
    let mut tx = conn.begin().await?;
    let all: Vec<u64> = (0..rows).collect();
    for chunk in all.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "insert into customer (number, name, organisation_number, street, postal_code, \
             city, email, phone, active, search_text, version, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, &i| {
            let mut c = customer(i);
            if both_changed(i) {
                c.name = format!("Kunde {i} Holding");
            }
            let search = [
                c.number.as_str(),
                &c.name,
                &c.organisation_number,
                &c.email,
                &c.phone,
                &c.city,
            ]
            .join(" ")
            .to_lowercase();
            b.push_bind(c.number)
                .push_bind(c.name)
                .push_bind(c.organisation_number)
                .push_bind(c.street)
                .push_bind(c.postal_code)
                .push_bind(c.city)
                .push_bind(c.email)
                .push_bind(c.phone)
                .push_bind(1_i64)
                .push_bind(search)
                .push_bind(1_i64)
                .push_bind(now)
                .push_bind(now);
        });
        q.build().execute(&mut *tx).await?;

        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "insert into sync_link (connection_id, kind, our_number, their_number, active, base, version) ",
        );
        let mut bases = Vec::with_capacity(chunk.len());
        for &i in chunk {
            bases.push(base_json(&customer(i))?);
        }
        q.push_values(chunk.iter().zip(bases), |mut b, (&i, base)| {
            let number = format!("{i:07}");
            b.push_bind(connection_id)
                .push_bind("customer")
                .push_bind(number.clone())
                .push_bind(number)
                .push_bind(1_i64)
                .push_bind(base)
                .push_bind(1_i64);
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The link's base: the synced fields' values at the last synchronization,
/// as the server stores them (`sync::base::Base`: keys in field order).
fn base_json(c: &Customer) -> anyhow::Result<String> {
    let base = Base::from_pairs([
        (Field::Name, c.name.as_str()),
        (Field::OrganisationNumber, &c.organisation_number),
        (Field::Street, &c.street),
        (Field::PostalCode, &c.postal_code),
        (Field::City, &c.city),
        (Field::Country, ""),
        (Field::Email, &c.email),
        (Field::Phone, &c.phone),
        (Field::ContactPerson, ""),
        (Field::SalesRepCode, ""),
        (Field::Active, "true"),
    ]);
    Ok(serde_json::to_string(&base)?)
}

/// Their export: our customers as of the last synchronization with their
/// changes since, then the customers only they have.
fn write_file(out: &str, rows: u64) -> anyhow::Result<()> {
    let mut s = String::with_capacity(rows as usize * 110);
    s.push_str(HEADER);
    let mut push = |c: Customer| excel_row(&mut s, c);
    let mut written = 0;
    for i in 0..rows {
        if gone_from_file(i) {
            continue;
        }
        let mut c = customer(i);
        if both_changed(i) {
            c.name = format!("Kunde {i} Gruppen");
        } else if they_changed(i) {
            c.name = format!("Kunde {i} ASA");
        }
        push(c);
        written += 1;
    }
    for i in rows..rows + (rows - written) {
        push(customer(i));
    }
    write_windows_1252(out, &s)
}

/// The export of the last synchronization: every customer as both sides
/// had it then.
fn write_last_file(out: &str, rows: u64) -> anyhow::Result<()> {
    let mut s = String::with_capacity(rows as usize * 110);
    s.push_str(HEADER);
    for i in 0..rows {
        excel_row(&mut s, customer(i));
    }
    write_windows_1252(out, &s)
}

const HEADER: &str = "Kundenummer;Navn;Org.nr;Gateadresse;Postnr;Poststed;E-post;Telefon;Aktiv\r\n";

/// A customer as Excel writes a row: a cell quoted only when it holds the
/// delimiter or a quote.
fn excel_row(s: &mut String, c: Customer) {
    let name = if c.name.contains(';') || c.name.contains('"') {
        format!("\"{}\"", c.name.replace('"', "\"\""))
    } else {
        c.name
    };
    s.push_str(&format!(
        "{};{name};{};{};{};{};{};{};Ja\r\n",
        c.number, c.organisation_number, c.street, c.postal_code, c.city, c.email, c.phone
    ));
}

fn write_windows_1252(out: &str, s: &str) -> anyhow::Result<()> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(s);
    if unmappable {
        bail!("the generated file has characters Windows-1252 lacks");
    }
    std::fs::write(out, &bytes).with_context(|| format!("writing {out}"))?;
    Ok(())
}

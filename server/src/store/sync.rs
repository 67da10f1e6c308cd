//! The synchronization window's tables: scopes (one per connection and
//! kind), imports, links, "Don't synchronize" marks, pending changes, the
//! audit trail and idempotency answers.
//!
//! Reads take a `&mut AnyConnection` so the service can run them inside the
//! transaction that also writes; `Store::sync_reader` gives one for reads
//! outside a transaction.

use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row};
use sync::protocol::AuditEntry;
use sync::read::{RecordSink, Records};
use sync::schema::{Field, Kind, MAX_VALUES, Record, Side};
use sync::state::{Deactivation, Link, PendingChange};

use super::{Store, flag};

fn json<T: serde::Serialize>(x: &T) -> sqlx::Result<String> {
    serde_json::to_string(x).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> sqlx::Result<T> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// An import as stored, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub import_id: i64,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub options: String,
    pub record_count: i64,
    pub error_count: i64,
    pub summary: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// What a new import row holds.
pub struct NewImport<'a> {
    pub connection_id: i64,
    pub kind: Kind,
    pub file_name: &'a str,
    pub content: &'a [u8],
    pub sha256: &'a str,
    pub options: &'a str,
    pub record_count: i64,
    pub error_count: i64,
    pub summary: &'a str,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// A pending change with its row's id and delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub pending_id: i64,
    pub change: PendingChange,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A new audit entry.
pub struct NewAudit<'a> {
    pub at: i64,
    pub user_id: i64,
    pub username: &'a str,
    pub connection_id: Option<i64>,
    pub kind: Kind,
    pub action: &'a str,
    pub our_number: Option<&'a str>,
    pub their_number: Option<&'a str>,
    pub detail: &'a serde_json::Value,
}

/// An answer kept for an idempotency key.
#[derive(Debug, Clone)]
pub struct KeptAnswer {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

const IMPORT_COLUMNS: &str = "i.import_id, i.file_name, i.sha256, i.size_bytes, i.options, \
     i.record_count, i.error_count, i.summary, u.username as created_by, i.created_at";

fn import_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ImportRow> {
    Ok(ImportRow {
        import_id: r.try_get("import_id")?,
        file_name: r.try_get("file_name")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        options: r.try_get("options")?,
        record_count: r.try_get("record_count")?,
        error_count: r.try_get("error_count")?,
        summary: r.try_get("summary")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The register table and value columns of a kind, in `kind.fields()` order
/// (`active` is an integer flag there).
pub fn register_table(kind: Kind) -> &'static str {
    match kind {
        Kind::Customer => "customer",
        Kind::Employee => "employee",
    }
}

impl Store {
    /// A connection from the read pool, for loads outside a transaction.
    pub async fn sync_reader(&self) -> sqlx::Result<PoolConnection<Any>> {
        self.read.acquire().await
    }

    /// Begins a write transaction.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Any>> {
        self.write.begin().await
    }
}

/// Creates the scope's row if needed and moves its revision forward. Run
/// first in a write transaction: on PostgreSQL the row lock it takes makes
/// the writers of one scope wait for each other.
pub async fn bump_revision(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<i64> {
    sqlx::query(
        "insert into sync_scope (connection_id, kind, revision) values ($1, $2, 0) \
         on conflict (connection_id, kind) do nothing",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .execute(&mut *c)
    .await?;
    sqlx::query_scalar(
        "update sync_scope set revision = revision + 1 where connection_id = $1 and kind = $2 \
         returning revision",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_one(&mut *c)
    .await
}

/// The scope's revision and the register's, read in one statement.
pub async fn revision(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "select coalesce((select revision from sync_scope where connection_id = $1 and kind = $2), 0) as scope, \
         (select revision from register_revision where kind = $2) as register",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_one(&mut *c)
    .await?;
    Ok((
        row.try_get("scope")?,
        row.try_get::<Option<i64>, _>("register")?.unwrap_or(0),
    ))
}

/// Records that our register of `kind` changed.
pub async fn bump_register(c: &mut AnyConnection, kind: Kind) -> sqlx::Result<()> {
    sqlx::query("update register_revision set revision = revision + 1 where kind = $1")
        .bind(kind.as_str())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Our register's records of `kind`, by number.
pub async fn load_ours(c: &mut AnyConnection, kind: Kind) -> sqlx::Result<Vec<Record>> {
    let fields = kind.fields();
    let cols: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    let sql = format!(
        "select {} from {} order by number",
        cols.join(", "),
        register_table(kind)
    );
    // Row by row, as they come: a million rows are not all held at once,
    // and their values are copied once, into the text blocks that records
    // read together share (as the reader builds a file's records).
    let mut rows = sqlx::query(&sql).fetch(&mut *c);
    let mut out = Records::new(kind);
    while let Some(row) = rows.try_next().await? {
        let mut values = [""; MAX_VALUES];
        // Columns by position: the select lists the fields in order.
        for ((i, f), value) in fields.iter().enumerate().zip(values.iter_mut()) {
            *value = if *f == Field::Active {
                if row.try_get::<i64, _>(i)? != 0 {
                    "true"
                } else {
                    "false"
                }
            } else {
                row.try_get::<&str, _>(i)?
            };
        }
        out.record(0, &values[..fields.len()]);
    }
    out.end();
    Ok(out.records)
}

fn bind_record<'q>(
    sql: &'q str,
    fields: &[Field],
    record: &Record,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for f in fields {
        q = if *f == Field::Active {
            q.bind(flag(record.active()))
        } else {
            q.bind(record.get(*f).to_string())
        };
    }
    q
}

/// Writes one of our records (by number): updates the row that has the
/// number, or inserts one. `search_text` is what list searches match.
pub async fn upsert_ours(
    c: &mut AnyConnection,
    record: &Record,
    search_text: &str,
    now: i64,
) -> sqlx::Result<()> {
    let kind = record.kind;
    let fields: Vec<Field> = kind.fields().to_vec();
    let table = register_table(kind);
    let sets: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} = ${}", f.as_str(), i + 1))
        .collect();
    let n = fields.len();
    let sql = format!(
        "update {table} set {}, search_text = ${}, updated_at = ${}, version = version + 1 \
         where number = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    );
    let done = bind_record(&sql, &fields, record)
        .bind(search_text.to_string())
        .bind(now)
        .bind(record.number().to_string())
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        let cols: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        let params: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let sql = format!(
            "insert into {table} ({}, search_text, version, created_at, updated_at) \
             values ({}, ${}, 1, ${}, ${})",
            cols.join(", "),
            params.join(", "),
            n + 1,
            n + 2,
            n + 2
        );
        bind_record(&sql, &fields, record)
            .bind(search_text.to_string())
            .bind(now)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn load_links(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Vec<Link>> {
    let mut rows = sqlx::query(
        "select our_number, their_number, active, base, version from sync_link \
         where connection_id = $1 and kind = $2 order by our_number, their_number",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch(&mut *c);
    let mut out = Vec::new();
    // Row by row, columns by position (as selected).
    while let Some(r) = rows.try_next().await? {
        out.push(Link {
            our_number: r.try_get(0)?,
            their_number: r.try_get(1)?,
            active: r.try_get::<i64, _>(2)? != 0,
            base: parse(r.try_get::<&str, _>(3)?)?,
            version: r.try_get::<i64, _>(4)? as u32,
        });
    }
    Ok(out)
}

pub async fn load_deactivations(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Vec<Deactivation>> {
    let rows = sqlx::query(
        "select side, number from sync_deactivation where connection_id = $1 and kind = $2 \
         order by side, number",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let side: String = r.try_get("side")?;
            Ok(Deactivation {
                side: if side == "ours" {
                    Side::Ours
                } else {
                    Side::Theirs
                },
                number: r.try_get("number")?,
            })
        })
        .collect()
}

pub async fn load_pending(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Vec<PendingRow>> {
    let rows = sqlx::query(
        "select pending_id, change, created_at, delivered_at from sync_pending \
         where connection_id = $1 and kind = $2 order by pending_id",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingRow {
                pending_id: r.try_get("pending_id")?,
                change: parse(&r.try_get::<String, _>("change")?)?,
                created_at: r.try_get("created_at")?,
                delivered_at: r.try_get("delivered_at")?,
            })
        })
        .collect()
}

/// The newest imports of a scope, newest first.
pub async fn list_imports(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    limit: i64,
) -> sqlx::Result<Vec<ImportRow>> {
    let sql = format!(
        "select {IMPORT_COLUMNS} from sync_import i left join app_user u on u.app_user_id = i.created_by \
         where i.connection_id = $1 and i.kind = $2 order by i.import_id desc limit $3"
    );
    let rows = sqlx::query(&sql)
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(import_row).collect()
}

/// The newest import: their side of the window.
pub async fn latest_import(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Option<ImportRow>> {
    Ok(list_imports(c, connection_id, kind, 1).await?.pop())
}

pub async fn import_content(c: &mut AnyConnection, import_id: i64) -> sqlx::Result<Vec<u8>> {
    sqlx::query_scalar("select content from sync_import where import_id = $1")
        .bind(import_id)
        .fetch_one(&mut *c)
        .await
}

pub async fn insert_import(c: &mut AnyConnection, i: &NewImport<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into sync_import (connection_id, kind, file_name, content, sha256, size_bytes, options, \
         record_count, error_count, summary, created_by, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning import_id",
    )
    .bind(i.connection_id)
    .bind(i.kind.as_str())
    .bind(i.file_name.to_string())
    .bind(i.content.to_vec())
    .bind(i.sha256.to_string())
    .bind(i.content.len() as i64)
    .bind(i.options.to_string())
    .bind(i.record_count)
    .bind(i.error_count)
    .bind(i.summary.to_string())
    .bind(i.created_by)
    .bind(i.created_at)
    .fetch_one(&mut *c)
    .await
}

/// Writes the differences between two lists of links.
pub async fn save_links(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    before: &[Link],
    after: &[Link],
) -> sqlx::Result<()> {
    // Both lists by pair, walked side by side: a million links, mostly
    // unchanged, without a map or a copied key each.
    fn key<'a>(l: &&'a Link) -> (&'a str, &'a str) {
        (l.our_number.as_str(), l.their_number.as_str())
    }
    fn sorted(links: &[Link]) -> Vec<&Link> {
        let mut v: Vec<&Link> = links.iter().collect();
        v.sort_by(|a, b| key(a).cmp(&key(b)));
        // A pair twice (a fault of an older state) counts once, the later
        // one, as in a map of the pairs.
        v.reverse();
        v.dedup_by(|a, b| key(a) == key(b));
        v.reverse();
        v
    }
    let (old, new) = (sorted(before), sorted(after));
    let (mut gone, mut changed, mut inserts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if key(o) == key(n) => {
                if o != n {
                    changed.push(*n);
                }
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if key(o) < key(n) => {
                gone.push(*o);
                i += 1;
            }
            (Some(o), None) => {
                gone.push(*o);
                i += 1;
            }
            (_, Some(n)) => {
                inserts.push(*n);
                j += 1;
            }
            (None, None) => break,
        }
    }
    for l in gone {
        sqlx::query(
            "delete from sync_link where connection_id = $1 and kind = $2 and our_number = $3 \
             and their_number = $4",
        )
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(l.our_number.clone())
        .bind(l.their_number.clone())
        .execute(&mut *c)
        .await?;
    }
    for l in changed {
        sqlx::query(
            "update sync_link set active = $1, base = $2, version = $3 where connection_id = $4 \
             and kind = $5 and our_number = $6 and their_number = $7",
        )
        .bind(flag(l.active))
        .bind(json(&l.base)?)
        .bind(l.version as i64)
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(l.our_number.clone())
        .bind(l.their_number.clone())
        .execute(&mut *c)
        .await?;
    }
    // New links many rows per statement: accepting a million suggestions
    // must not be a million round trips.
    for chunk in inserts.chunks(500) {
        let sql = format!(
            "insert into sync_link (connection_id, kind, our_number, their_number, active, base, version) values {}",
            super::row_placeholders(c, chunk.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for l in chunk {
            q = q
                .bind(connection_id)
                .bind(kind.as_str())
                .bind(l.our_number.clone())
                .bind(l.their_number.clone())
                .bind(flag(l.active))
                .bind(json(&l.base)?)
                .bind(l.version as i64);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

pub async fn save_deactivations(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    before: &[Deactivation],
    after: &[Deactivation],
) -> sqlx::Result<()> {
    for d in before.iter().filter(|d| !after.contains(d)) {
        sqlx::query(
            "delete from sync_deactivation where connection_id = $1 and kind = $2 and side = $3 and number = $4",
        )
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(d.side.as_str())
        .bind(d.number.clone())
        .execute(&mut *c)
        .await?;
    }
    for d in after.iter().filter(|d| !before.contains(d)) {
        sqlx::query(
            "insert into sync_deactivation (connection_id, kind, side, number) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(d.side.as_str())
        .bind(d.number.clone())
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Writes the differences between the stored pending changes and `after`:
/// rows whose change is gone are deleted (first match first), new changes
/// are appended in order. Returns how many were appended.
pub async fn save_pending(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    before: &[PendingRow],
    after: &[PendingChange],
    now: i64,
) -> sqlx::Result<u32> {
    let mut unmatched: Vec<&PendingChange> = after.iter().collect();
    let mut delete = Vec::new();
    for row in before {
        if let Some(i) = unmatched.iter().position(|p| **p == row.change) {
            unmatched.remove(i);
        } else {
            delete.push(row.pending_id);
        }
    }
    for id in delete {
        sqlx::query("delete from sync_pending where pending_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    for p in &unmatched {
        sqlx::query(
            "insert into sync_pending (connection_id, kind, change, created_at, delivered_at) \
             values ($1, $2, $3, $4, null)",
        )
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(json(p)?)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(unmatched.len() as u32)
}

/// Marks undelivered pending changes up to `through` delivered.
pub async fn mark_delivered(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    through: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update sync_pending set delivered_at = $1 where connection_id = $2 and kind = $3 \
         and pending_id <= $4 and delivered_at is null",
    )
    .bind(now)
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(through)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected())
}

pub async fn insert_audit(c: &mut AnyConnection, a: &NewAudit<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_event (at, app_user_id, username, connection_id, kind, action, our_number, \
         their_number, detail) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(a.at)
    .bind(a.user_id)
    .bind(a.username.to_string())
    .bind(a.connection_id)
    .bind(a.kind.as_str())
    .bind(a.action.to_string())
    .bind(a.our_number.map(str::to_string))
    .bind(a.their_number.map(str::to_string))
    .bind(json(a.detail)?)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The audit trail, newest first: of one record (ours or theirs, by number)
/// when `number` is given, of a connection when `connection_id` is.
pub async fn list_audit(
    c: &mut AnyConnection,
    kind: Option<Kind>,
    connection_id: Option<i64>,
    number: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "select audit_id, at, username, connection_id, kind, action, our_number, their_number, detail \
         from audit_event where ($1 = '' or kind = $1) and ($2 = 0 or connection_id = $2) \
         and ($3 = '' or our_number = $3 or their_number = $3) order by audit_id desc limit $4",
    )
    .bind(kind.map(|k| k.as_str()).unwrap_or("").to_string())
    .bind(connection_id.unwrap_or(0))
    .bind(number.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                audit_id: r.try_get("audit_id")?,
                at: r.try_get("at")?,
                username: r.try_get("username")?,
                connection_id: r.try_get("connection_id")?,
                kind: r.try_get("kind")?,
                action: r.try_get("action")?,
                our_number: r.try_get("our_number")?,
                their_number: r.try_get("their_number")?,
                detail: parse(&r.try_get::<String, _>("detail")?)?,
            })
        })
        .collect()
}

pub async fn kept_answer(
    c: &mut AnyConnection,
    user_id: i64,
    key: &str,
) -> sqlx::Result<Option<KeptAnswer>> {
    let row = sqlx::query(
        "select request_hash, status, body from idempotency where app_user_id = $1 and idem_key = $2",
    )
    .bind(user_id)
    .bind(key.to_string())
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok(KeptAnswer {
            request_hash: r.try_get("request_hash")?,
            status: r.try_get::<i64, _>("status")? as u16,
            body: r.try_get("body")?,
        })
    })
    .transpose()
}

/// Keeps an answer; `false` when another request with the key got there
/// first (its transaction must then be rolled back).
pub async fn keep_answer(
    c: &mut AnyConnection,
    user_id: i64,
    key: &str,
    answer: &KeptAnswer,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into idempotency (app_user_id, idem_key, request_hash, status, body, created_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
    )
    .bind(user_id)
    .bind(key.to_string())
    .bind(answer.request_hash.clone())
    .bind(answer.status as i64)
    .bind(answer.body.clone())
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

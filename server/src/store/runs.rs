//! Runs and their reports, change-tracking snapshots, the per-connection
//! lease, the outbox state of pending changes and value mappings.

use sqlx::{AnyConnection, FromRow};
use sync::protocol::{ChangeCounts, OutboxItem, RunDetail, RunInfo, RunStatus, RunTrigger};
use sync::schema::{Field, Kind, Side};
use sync::state::PendingChange;

use super::Store;

fn json<T: serde::Serialize>(x: &T) -> sqlx::Result<String> {
    serde_json::to_string(x).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> sqlx::Result<T> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn word<T: serde::de::DeserializeOwned>(s: &str) -> sqlx::Result<T> {
    parse(&format!("\"{s}\""))
}

pub fn word_of<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string(x)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

pub struct NewRun<'a> {
    pub connection_id: i64,
    pub kind: Kind,
    pub trigger: RunTrigger,
    pub full_refresh: bool,
    pub started_at: i64,
    pub created_by: Option<i64>,
    pub status: RunStatus,
    pub message: Option<&'a str>,
}

pub async fn insert_run(c: &mut AnyConnection, r: &NewRun<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into sync_run (connection_id, kind, trigger_kind, full_refresh, status, started_at, created_by, message) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning run_id",
    )
    .bind(r.connection_id)
    .bind(r.kind.as_str())
    .bind(word_of(&r.trigger))
    .bind(i64::from(r.full_refresh))
    .bind(word_of(&r.status))
    .bind(r.started_at)
    .bind(r.created_by)
    .bind(r.message)
    .fetch_one(&mut *c)
    .await
}

/// A run's end.
pub struct Finished<'a> {
    pub status: RunStatus,
    pub finished_at: i64,
    pub records_seen: i64,
    pub counts: &'a std::collections::BTreeMap<sync::report::Outcome, u32>,
    pub changes: &'a ChangeCounts,
    pub columns: &'a std::collections::BTreeMap<Field, String>,
    pub message: Option<&'a str>,
    pub import_id: Option<i64>,
}

pub async fn finish_run(c: &mut AnyConnection, run_id: i64, f: &Finished<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "update sync_run set status = $1, finished_at = $2, records_seen = $3, counts = $4, \
         changes = $5, columns = $6, message = $7, import_id = $8 where run_id = $9",
    )
    .bind(word_of(&f.status))
    .bind(f.finished_at)
    .bind(f.records_seen)
    .bind(json(f.counts)?)
    .bind(json(f.changes)?)
    .bind(json(f.columns)?)
    .bind(f.message)
    .bind(f.import_id)
    .bind(run_id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Ends a run that failed before it changed anything.
pub async fn fail_run(store: &Store, run_id: i64, now: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update sync_run set status = 'failed', finished_at = $1, message = $2 where run_id = $3",
    )
    .bind(now)
    .bind(message)
    .bind(run_id)
    .execute(&store.write)
    .await?;
    Ok(())
}

/// Sets a run's status (and message) alone.
pub async fn set_run_status(
    store: &Store,
    run_id: i64,
    status: RunStatus,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("update sync_run set status = $1, finished_at = coalesce(finished_at, $2) where run_id = $3")
        .bind(word_of(&status))
        .bind(now)
        .bind(run_id)
        .execute(&store.write)
        .await?;
    Ok(())
}

/// A line of a report to store.
pub struct NewDetail {
    pub outcome: sync::report::Outcome,
    pub whose: sync::report::Whose,
    pub number: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub changes: Vec<sync::report::FieldChange>,
    pub message: Option<String>,
}

/// Stores a report's lines, many rows per statement.
pub async fn insert_details(
    c: &mut AnyConnection,
    run_id: i64,
    details: &[NewDetail],
) -> sqlx::Result<()> {
    const PER_STATEMENT: usize = 300;
    for (chunk_no, chunk) in details.chunks(PER_STATEMENT).enumerate() {
        let sql = format!(
            "insert into sync_run_detail (run_id, seq, outcome, whose, number, name, email, phone, changes, message) values {}",
            super::row_placeholders(c, chunk.len(), 10)
        );
        let mut q = sqlx::query(&sql);
        for (i, d) in chunk.iter().enumerate() {
            q = q
                .bind(run_id)
                .bind((chunk_no * PER_STATEMENT + i + 1) as i64)
                .bind(word_of(&d.outcome))
                .bind(d.whose.as_str())
                .bind(d.number.clone())
                .bind(d.name.clone())
                .bind(d.email.clone())
                .bind(d.phone.clone())
                .bind(json(&d.changes)?)
                .bind(d.message.clone());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct RunRow {
    run_id: i64,
    connection_id: i64,
    connection_name: String,
    kind: String,
    trigger_kind: String,
    full_refresh: i64,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    records_seen: i64,
    counts: String,
    changes: String,
    message: Option<String>,
    started_by: Option<String>,
}

const RUN_COLUMNS: &str = "r.run_id, r.connection_id, c.name as connection_name, r.kind, r.trigger_kind, \
     r.full_refresh, r.status, r.started_at, r.finished_at, r.records_seen, r.counts, r.changes, r.message, \
     u.username as started_by";
const RUN_FROM: &str = "from sync_run r join connection c on c.connection_id = r.connection_id \
     left join app_user u on u.app_user_id = r.created_by";

fn run_info(r: RunRow) -> sqlx::Result<RunInfo> {
    Ok(RunInfo {
        run_id: r.run_id,
        connection_id: r.connection_id,
        connection_name: r.connection_name,
        kind: Kind::parse(&r.kind).unwrap_or(Kind::Customer),
        trigger: word(&r.trigger_kind)?,
        full_refresh: r.full_refresh != 0,
        status: word(&r.status)?,
        started_at: r.started_at,
        finished_at: r.finished_at,
        records_seen: r.records_seen,
        counts: parse(&r.counts)?,
        changes: parse(&r.changes)?,
        message: r.message,
        started_by: r.started_by,
    })
}

pub async fn list_runs(
    c: &mut AnyConnection,
    connection_id: Option<i64>,
    kind: Option<Kind>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<RunInfo>> {
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "select {RUN_COLUMNS} {RUN_FROM} where ($1 is null or r.connection_id = $1) \
         and ($2 is null or r.kind = $2) and ($3 is null or r.run_id < $3) \
         order by r.run_id desc limit $4"
    ))
    .bind(connection_id)
    .bind(kind.map(Kind::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.into_iter().map(run_info).collect()
}

pub async fn get_run(c: &mut AnyConnection, run_id: i64) -> sqlx::Result<Option<RunInfo>> {
    let row: Option<RunRow> = sqlx::query_as(&format!(
        "select {RUN_COLUMNS} {RUN_FROM} where r.run_id = $1"
    ))
    .bind(run_id)
    .fetch_optional(&mut *c)
    .await?;
    row.map(run_info).transpose()
}

/// The columns a run read (field -> their column).
pub async fn run_columns(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Option<std::collections::BTreeMap<Field, String>>> {
    let text: Option<String> = sqlx::query_scalar(
        "select columns from sync_run where connection_id = $1 and kind = $2 and status = 'done' \
         and trigger_kind <> 'import' order by run_id desc limit 1",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_optional(&mut *c)
    .await?;
    text.map(|t| parse(&t)).transpose()
}

#[derive(FromRow)]
struct DetailRow {
    seq: i64,
    outcome: String,
    whose: Option<String>,
    number: String,
    name: String,
    email: String,
    phone: String,
    changes: String,
    message: Option<String>,
}

pub async fn run_details(
    c: &mut AnyConnection,
    run_id: i64,
    outcome: Option<&str>,
    after: i64,
    limit: i64,
) -> sqlx::Result<(Vec<RunDetail>, i64)> {
    let rows: Vec<DetailRow> = sqlx::query_as(
        "select seq, outcome, whose, number, name, email, phone, changes, message from sync_run_detail \
         where run_id = $1 and ($2 is null or outcome = $2) and seq > $3 order by seq limit $4",
    )
    .bind(run_id)
    .bind(outcome)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "select count(*) from sync_run_detail where run_id = $1 and ($2 is null or outcome = $2)",
    )
    .bind(run_id)
    .bind(outcome)
    .fetch_one(&mut *c)
    .await?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(RunDetail {
                seq: r.seq,
                outcome: word(&r.outcome)?,
                whose: r.whose.as_deref().and_then(sync::report::Whose::parse),
                number: r.number,
                name: r.name,
                email: r.email,
                phone: r.phone,
                changes: parse(&r.changes)?,
                message: r.message,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok((items, total))
}

pub async fn load_snapshot(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    side: Side,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar(
        "select content from sync_snapshot where connection_id = $1 and kind = $2 and side = $3",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(side.as_str())
    .fetch_optional(&mut *c)
    .await
}

pub async fn save_snapshot(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    side: Side,
    content: &[u8],
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into sync_snapshot (connection_id, kind, side, content, created_at) values ($1, $2, $3, $4, $5) \
         on conflict (connection_id, kind, side) do update set content = excluded.content, created_at = excluded.created_at",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(side.as_str())
    .bind(content.to_vec())
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Drops the content of a scope's imports older than the newest `keep`
/// (integrated systems re-read only the newest; the report stays).
pub async fn prune_imports(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    keep: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update sync_import set content = $1 where connection_id = $2 and kind = $3 and import_id < \
         coalesce((select min(import_id) from (select import_id from sync_import where connection_id = $2 \
         and kind = $3 order by import_id desc limit $4) newest), 0)",
    )
    .bind(Vec::<u8>::new())
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(keep)
    .execute(&mut *c)
    .await?;
    Ok(())
}

impl Store {
    /// Takes (or renews) the lease of a connection for `holder` until
    /// `now + ttl_ms`; false when another holder's lease has not expired.
    pub async fn take_lease(
        &self,
        connection_id: i64,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "insert into sync_lease (connection_id, holder, expires_at) values ($1, $2, $3) \
             on conflict (connection_id) do update set holder = excluded.holder, expires_at = excluded.expires_at \
             where sync_lease.expires_at < $4 or sync_lease.holder = excluded.holder",
        )
        .bind(connection_id)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn release_lease(&self, connection_id: i64, holder: &str) -> sqlx::Result<()> {
        sqlx::query("delete from sync_lease where connection_id = $1 and holder = $2")
            .bind(connection_id)
            .bind(holder)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Integrated connections with changes due for sending.
    pub async fn outbox_due(&self, now: i64, max_attempts: i64) -> sqlx::Result<Vec<i64>> {
        sqlx::query_scalar(
            "select distinct p.connection_id from sync_pending p join connection c on c.connection_id = p.connection_id \
             where c.system <> 'file' and p.delivered_at is null and p.attempts < $2 \
             and (p.next_attempt_at is null or p.next_attempt_at <= $1) order by p.connection_id",
        )
        .bind(now)
        .bind(max_attempts)
        .fetch_all(&self.read)
        .await
    }

    pub async fn outbox(
        &self,
        connection_id: i64,
        only_due: Option<(i64, i64)>,
    ) -> sqlx::Result<Vec<OutboxRow>> {
        let (now, max) = only_due.unwrap_or((i64::MAX, i64::MAX));
        let rows: Vec<OutboxDb> = sqlx::query_as(
            "select pending_id, connection_id, kind, change, created_at, attempts, next_attempt_at, last_error \
             from sync_pending where connection_id = $1 and delivered_at is null and attempts < $3 \
             and (next_attempt_at is null or next_attempt_at <= $2) order by pending_id",
        )
        .bind(connection_id)
        .bind(now)
        .bind(max)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OutboxRow {
                    pending_id: r.pending_id,
                    connection_id: r.connection_id,
                    kind: Kind::parse(&r.kind).unwrap_or(Kind::Customer),
                    change: parse(&r.change)?,
                    created_at: r.created_at,
                    attempts: r.attempts,
                    next_attempt_at: r.next_attempt_at,
                    last_error: r.last_error,
                })
            })
            .collect()
    }

    /// Marks a change sent; false when it is gone or was sent already.
    pub async fn outbox_sent(&self, pending_id: i64, now: i64) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "update sync_pending set delivered_at = $1, last_error = null where pending_id = $2 and delivered_at is null",
        )
        .bind(now)
        .bind(pending_id)
        .execute(&self.write)
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn outbox_failed(
        &self,
        pending_id: i64,
        attempts: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "update sync_pending set attempts = $1, next_attempt_at = $2, last_error = $3 where pending_id = $4",
        )
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(pending_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Sends a change that needs attention again from the start.
    pub async fn outbox_retry(&self, connection_id: i64, pending_id: i64) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "update sync_pending set attempts = 0, next_attempt_at = null where pending_id = $1 \
             and connection_id = $2 and delivered_at is null",
        )
        .bind(pending_id)
        .bind(connection_id)
        .execute(&self.write)
        .await?
        .rows_affected()
            == 1)
    }
}

pub async fn value_mappings(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
) -> sqlx::Result<Vec<sync::protocol::ValueMapping>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select field, their_value, our_value from value_mapping where connection_id = $1 and kind = $2 \
         order by field, their_value",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(f, t, o)| {
            Field::parse(&f).map(|field| sync::protocol::ValueMapping {
                field,
                their_value: t,
                our_value: o,
            })
        })
        .collect())
}

/// Saves (or, with an empty value of ours, removes) a value mapping.
pub async fn save_value_mapping(
    c: &mut AnyConnection,
    connection_id: i64,
    kind: Kind,
    m: &sync::protocol::ValueMapping,
) -> sqlx::Result<()> {
    sqlx::query(
        "delete from value_mapping where connection_id = $1 and kind = $2 and field = $3 and their_value = $4",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(m.field.as_str())
    .bind(&m.their_value)
    .execute(&mut *c)
    .await?;
    if !m.our_value.is_empty() {
        sqlx::query(
            "insert into value_mapping (connection_id, kind, field, their_value, our_value) values ($1, $2, $3, $4, $5)",
        )
        .bind(connection_id)
        .bind(kind.as_str())
        .bind(m.field.as_str())
        .bind(&m.their_value)
        .bind(&m.our_value)
        .execute(&mut *c)
        .await?;
    }
    // Mappings change what their records say: cached windows must go.
    sqlx::query("update connection set version = version + 1 where connection_id = $1")
        .bind(connection_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct OutboxDb {
    pending_id: i64,
    connection_id: i64,
    kind: String,
    change: String,
    created_at: i64,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
}

/// A change waiting to be written to an integrated system.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub pending_id: i64,
    pub connection_id: i64,
    pub kind: Kind,
    pub change: PendingChange,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
}

impl OutboxRow {
    /// The key their system applies once: stable across retries and
    /// restarts, unique per change.
    pub fn idempotency_key(&self) -> String {
        format!("partnersync-{}-{}", self.connection_id, self.pending_id)
    }

    pub fn item(&self, max_attempts: i64) -> OutboxItem {
        OutboxItem {
            pending_id: self.pending_id,
            connection_id: self.connection_id,
            kind: self.kind,
            change: self.change.clone(),
            idempotency_key: self.idempotency_key(),
            created_at: self.created_at,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error.clone(),
            needs_attention: self.attempts >= max_attempts,
        }
    }
}

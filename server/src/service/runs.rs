//! Runs of integrated systems: pull their full data set, track what changed
//! since the previous run, carry one-sided changes over (ours to our
//! register, theirs to the outbox), leave conflicts to the window, and
//! report every record. Also the outbox (sending pending changes with their
//! idempotency keys, retried with backoff), the per-connection lease that
//! keeps runs from overlapping across server instances, value mappings and
//! the scheduler's tick.
//!
//! REST handlers, the CLI and the scheduler call these functions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sync::categorize::{Categorized, categorize};
use sync::plan::{Action, apply, planned_updates};
use sync::protocol::{
    ChangeCounts, Connection, ConnectionTest, MappingImpact, OutboxItem, RunDetailPage,
    RunDetailQuery, RunInfo, RunNow, RunQuery, RunStatus, RunTrigger, TestedSource, ValueMapping,
};
use sync::report::{Outcome, RunFacts, Whose, report};
use sync::schema::{Field, Kind, Record, Side};
use sync::track::{DeleteGuard, Snapshot};

use crate::auth::now_ms;
use crate::connector::{self, Connector, ConnectorError};
use crate::error::{AppError, AppResult};
use crate::service::diff;
use crate::service::sync::{Actor, Loaded, connection, invalid_ours, load, write_state};
use crate::state::AppState;
use crate::store::Store;
use crate::store::runs::{self as db, Finished, NewDetail, NewRun, OutboxRow};
use crate::store::sync as syncdb;

/// Failed sends of a change before it needs attention.
pub const MAX_ATTEMPTS: i64 = 5;
/// A full refresh at least this often.
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// Who is running: a person, or the scheduler.
fn by(actor: Option<&Actor>) -> Option<i64> {
    actor.map(|a| a.user_id)
}

fn integrated(c: &Connection) -> AppResult<()> {
    if c.system.is_integrated() {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "This connection exchanges files: import a file instead of running it.".into(),
        ))
    }
}

async fn open(state: &AppState, c: &Connection) -> Result<Connector, ConnectorError> {
    let secret = match state.store.connection_secret(c.connection_id).await {
        Ok(Some(sealed)) => Some(
            state
                .vault
                .open(&sealed)
                .map_err(|e| ConnectorError::Config(e.to_string()))?,
        ),
        Ok(None) => None,
        Err(e) => return Err(ConnectorError::Transient(format!("Our database: {e}"))),
    };
    Connector::open(c, secret.as_deref()).await
}

fn kinds(c: &Connection, only: Option<Kind>) -> Vec<Kind> {
    [Kind::Customer, Kind::Employee]
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == *k))
        .filter(|k| !c.endpoint.source(*k).table.trim().is_empty())
        .collect()
}

/// "Test connection": connects, reads each kind, and says in plain words
/// what works or what is wrong. Changes nothing.
pub async fn test(state: &AppState, id: i64) -> AppResult<ConnectionTest> {
    let c = connection(&state.store, id).await?;
    integrated(&c)?;
    let connector = match open(state, &c).await {
        Ok(x) => x,
        Err(e) => {
            return Ok(ConnectionTest {
                ok: false,
                message: e.to_string(),
                sources: Vec::new(),
            });
        }
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for kind in kinds(&c, None) {
        match connector.pull(kind).await {
            Ok(table) => {
                let mapped = connector::columns_of(&table.columns, kind, &c.settings(kind).mapping);
                let fields: Vec<Field> = mapped.iter().map(|m| m.field).collect();
                let missing: Vec<&str> = c
                    .settings(kind)
                    .required
                    .theirs
                    .iter()
                    .chain(std::iter::once(&Field::Number))
                    .filter(|f| !fields.contains(f))
                    .map(|f| f.as_str())
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!(
                        "{}s: no column for {} (columns: {})",
                        kind.as_str(),
                        missing.join(", "),
                        table.columns.join(", ")
                    ));
                }
                sources.push(TestedSource {
                    kind,
                    columns: table.columns.clone(),
                    mapped,
                    records: table.rows.len() as u32,
                });
            }
            Err(e) => problems.push(format!("{}s: {e}", kind.as_str())),
        }
    }
    connector.close().await;
    let ok = problems.is_empty();
    Ok(ConnectionTest {
        ok,
        message: if ok {
            sources
                .iter()
                .map(|s| format!("{} {}s read", s.records, s.kind.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
                + "; the connection works."
        } else {
            format!("Validation error: {}", problems.join("; "))
        },
        sources,
    })
}

/// Holds a connection's lease while it lives: renewed in the background,
/// released when done.
struct Lease {
    store: Store,
    id: i64,
    holder: String,
    renew: tokio::task::JoinHandle<()>,
}

impl Lease {
    async fn take(state: &AppState, id: i64) -> AppResult<Option<Lease>> {
        let holder = state.instance.clone();
        let ttl = i64::try_from(state.config.lease_ttl.as_millis()).unwrap_or(30_000);
        if !state.store.take_lease(id, &holder, now_ms(), ttl).await? {
            return Ok(None);
        }
        let (store, h) = (state.store.clone(), holder.clone());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis((ttl / 3) as u64)).await;
                if let Err(e) = store.take_lease(id, &h, now_ms(), ttl).await {
                    tracing::warn!("renewing the lease of connection {id}: {e}");
                }
            }
        });
        Ok(Some(Lease {
            store: state.store.clone(),
            id,
            holder,
            renew,
        }))
    }

    async fn release(self) {
        self.renew.abort();
        if let Err(e) = self.store.release_lease(self.id, &self.holder).await {
            tracing::warn!("releasing the lease of connection {}: {e}", self.id);
        }
    }
}

fn busy() -> AppError {
    AppError::Coded {
        status: axum::http::StatusCode::CONFLICT,
        code: "run_in_progress",
        message: "A run of this connection is in progress (on this or another server); try again when it has finished.".into(),
    }
}

/// Runs a connection now: every kind it reads (or one), then sends the
/// outbox. With several server instances on one database, the lease lets
/// exactly one of them run a connection at a time.
pub async fn run(
    state: &AppState,
    actor: Option<&Actor>,
    id: i64,
    trigger: RunTrigger,
    req: &RunNow,
) -> AppResult<Vec<RunInfo>> {
    let c = connection(&state.store, id).await?;
    integrated(&c)?;
    let Some(lease) = Lease::take(state, id).await? else {
        return Err(busy());
    };
    let result = run_leased(state, actor, id, trigger, req, false).await;
    lease.release().await;
    result
}

async fn run_leased(
    state: &AppState,
    actor: Option<&Actor>,
    id: i64,
    trigger: RunTrigger,
    req: &RunNow,
    allow_deletions: bool,
) -> AppResult<Vec<RunInfo>> {
    let store = &state.store;
    // Read again under the lease: another instance may have just run it.
    let c = connection(store, id).await?;
    let now = now_ms();
    if trigger == RunTrigger::Schedule && c.next_run_at.is_none_or(|t| t > now) {
        return Ok(Vec::new());
    }
    let full = req.full_refresh || c.last_full_at.is_none_or(|t| now - t >= WEEK_MS);
    let mut runs = Vec::new();
    let connector = open(state, &c).await;
    let mut all_full = full;
    for kind in kinds(&c, req.kind) {
        let run_id = start(store, actor, &c, kind, trigger, full).await?;
        let failed = match &connector {
            Ok(conn) => {
                match run_kind(state, actor, &c, conn, run_id, kind, full, allow_deletions).await {
                    Ok(()) => None,
                    // Nothing of the run was written (one transaction).
                    Err(e) => {
                        tracing::error!(error = ?e, "run {run_id} of connection {id}");
                        Some(format!("Processing error: {e}"))
                    }
                }
            }
            Err(e) => Some(format!("Validation error: {e}")),
        };
        if let Some(m) = failed {
            db::fail_run(store, run_id, now_ms(), &m).await?;
        }
        let info = get_run(store, run_id).await?;
        if info.status != RunStatus::Done {
            all_full = false;
        }
        runs.push(info);
    }
    if let Ok(conn) = connector {
        if let Err(e) = deliver(state, &c, &conn).await {
            tracing::warn!("sending the outbox of connection {id}: {e}");
        }
        conn.close().await;
    }
    let next = (c.endpoint.interval_minutes > 0)
        .then(|| now_ms() + i64::from(c.endpoint.interval_minutes) * 60_000);
    store
        .schedule_connection(id, next, all_full.then_some(now))
        .await?;
    Ok(runs)
}

async fn start(
    store: &Store,
    actor: Option<&Actor>,
    c: &Connection,
    kind: Kind,
    trigger: RunTrigger,
    full: bool,
) -> AppResult<i64> {
    let mut w = store.write.acquire().await?;
    Ok(db::insert_run(
        &mut w,
        &NewRun {
            connection_id: c.connection_id,
            kind,
            trigger,
            full_refresh: full,
            started_at: now_ms(),
            created_by: by(actor),
            status: RunStatus::Running,
            message: None,
        },
    )
    .await?)
}

pub async fn get_run(store: &Store, run_id: i64) -> AppResult<RunInfo> {
    let mut c = store.sync_reader().await?;
    db::get_run(&mut c, run_id)
        .await?
        .ok_or(AppError::NotFound("run"))
}

/// The previous run's records of theirs whose keys are in `removed`, as rows
/// of `columns` (an ordinary run never deletes: a record missing from a
/// listing is kept as it was until the weekly full refresh).
fn carried_rows(
    previous: &[u8],
    columns: &[String],
    number_column: &str,
    rules: &sync::rules::NumberRules,
    removed: &HashSet<String>,
) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().from_reader(previous);
    let Ok(header) = r.headers().cloned() else {
        return Vec::new();
    };
    let Some(num) = header.iter().position(|h| h == number_column) else {
        return Vec::new();
    };
    let at: Vec<Option<usize>> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == c))
        .collect();
    r.records()
        .filter_map(Result::ok)
        .filter(|row| {
            removed.contains(
                &sync::normalize::match_key(rules, row.get(num).unwrap_or("")).into_owned(),
            )
        })
        .map(|row| {
            at.iter()
                .map(|i| i.and_then(|i| row.get(i)).unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

fn change_counts(d: &sync::track::Diff) -> ChangeCounts {
    ChangeCounts {
        added: d.added.len() as u32,
        changed: d.changed.len() as u32,
        removed: d.removed.len() as u32,
        unchanged: d.unchanged,
    }
}

/// Keys of `records` that the diff calls added or changed.
fn changed_keys(
    state: &sync::state::State,
    records: &[Record],
    d: &sync::track::Diff,
) -> HashSet<String> {
    d.added
        .iter()
        .map(|i| state.key(records[*i as usize].number()))
        .chain(d.changed.iter().map(|c| c.key.clone()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn run_kind(
    state: &AppState,
    actor: Option<&Actor>,
    c: &Connection,
    connector: &Connector,
    run_id: i64,
    kind: Kind,
    full: bool,
    allow_deletions: bool,
) -> AppResult<()> {
    let store = &state.store;
    let id = c.connection_id;
    let fail = |m: String| async move {
        db::fail_run(store, run_id, now_ms(), &m).await?;
        Ok(())
    };
    let mut table = match connector.pull(kind).await {
        Ok(t) => t,
        Err(e) => return fail(format!("Validation error: {e}")).await,
    };
    let set = c.settings(kind);
    let mapped = connector::columns_of(&table.columns, kind, &set.mapping);
    let columns = connector::field_columns(&mapped);
    let Some(number_column) = columns.get(&Field::Number).cloned() else {
        return fail(format!(
            "Validation error: no column of theirs holds the record number (columns: {}).",
            table.columns.join(", ")
        ))
        .await;
    };

    let (mut bytes, mut out) = match connector::read_table(&table, kind, &set.mapping) {
        Ok(x) => x,
        Err(e) => return fail(format!("Validation error: {e}")).await,
    };
    let maps = {
        let mut r = store.sync_reader().await?;
        db::value_mappings(&mut r, id, kind).await?
    };
    sync::rules::map_values(&mut out.records, &maps);

    // Change tracking against the previous run's snapshot of their side.
    let (prev_theirs, prev_ours, prev_import) = {
        let mut r = store.sync_reader().await?;
        let t = db::load_snapshot(&mut r, id, kind, Side::Theirs).await?;
        let o = db::load_snapshot(&mut r, id, kind, Side::Ours).await?;
        let i = syncdb::latest_import(&mut r, id, kind).await?;
        (t, o, i)
    };
    let decode = |b: Option<Vec<u8>>| b.and_then(|b| Snapshot::decode_owned(b).ok());
    let (prev_theirs, prev_ours) = (decode(prev_theirs), decode(prev_ours));
    let mut d = match &prev_theirs {
        Some(s) => diff(s, &out.records),
        None => sync::track::Diff {
            added: (0..out.records.len() as u32).collect(),
            ..Default::default()
        },
    };
    if !d.removed.is_empty() {
        if full {
            let guard = DeleteGuard {
                max_fraction: Some(f64::from(c.endpoint.delete_max_percent) / 100.0),
                max_count: Some(c.endpoint.delete_max_count),
            };
            if let (Some(s), false) = (&prev_theirs, allow_deletions)
                && let Err(tripped) = guard.check(s, &d)
            {
                let mut w = store.write.acquire().await?;
                db::finish_run(
                    &mut w,
                    run_id,
                    &Finished {
                        status: RunStatus::Waiting,
                        finished_at: now_ms(),
                        records_seen: 0,
                        counts: &BTreeMap::new(),
                        changes: &change_counts(&d),
                        columns: &columns,
                        message: Some(&format!(
                            "Waiting for confirmation: {tripped}. Confirm to apply the deletions, or cancel."
                        )),
                        import_id: None,
                    },
                )
                .await?;
                return Ok(());
            }
        } else if let Some(prev) = &prev_import {
            // Keep what the listing left out until the weekly full refresh.
            let content = {
                let mut r = store.sync_reader().await?;
                syncdb::import_content(&mut r, prev.import_id).await?
            };
            let removed: HashSet<String> = d.removed.iter().cloned().collect();
            let rules = &set.rules;
            table.rows.extend(carried_rows(
                &content,
                &table.columns,
                &number_column,
                rules,
                &removed,
            ));
            (bytes, out) = match connector::read_table(&table, kind, &set.mapping) {
                Ok(x) => x,
                Err(e) => return fail(format!("Validation error: {e}")).await,
            };
            sync::rules::map_values(&mut out.records, &maps);
            d = match &prev_theirs {
                Some(s) => diff(s, &out.records),
                None => d,
            };
        }
    }
    let changes = change_counts(&d);

    // One transaction: the new data, the plan, the report.
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    syncdb::bump_revision(&mut tx, id, kind).await?;
    let mut l: Loaded = load(&mut tx, c.clone(), kind).await?;
    l.state.theirs = out.records.clone();
    l.state.missing = out.missing_fields();
    let mut settled = l.state.clone();
    settled.settle_pending_in_place();
    let cat = categorize(&settled);

    // Only what changed since the previous run is carried over (all on a
    // full refresh, or when there is no previous run).
    let their_changed = changed_keys(&settled, &settled.theirs, &d);
    let our_changed: Option<HashSet<String>> = prev_ours.as_ref().map(|s| {
        let od = diff(s, &settled.ours);
        changed_keys(&settled, &settled.ours, &od)
    });
    let everything = full || prev_theirs.is_none() || our_changed.is_none();
    let rows = cat
        .synchronized
        .iter()
        .filter(|r| !r.planned().is_empty())
        .filter(|r| {
            everything
                || r.their_number(&settled)
                    .is_some_and(|n| their_changed.contains(&settled.key(n)))
                || r.our_number(&settled).is_some_and(|n| {
                    our_changed
                        .as_ref()
                        .is_some_and(|o| o.contains(&settled.key(n)))
                })
        })
        .cloned()
        .collect();
    let only = Categorized {
        synchronized: rows,
        ..Default::default()
    };
    let mut plan = planned_updates(&settled, &only);
    // Rows whose update our register would refuse are left out (and
    // reported as unable to update) instead of failing the whole run.
    let mut refused: HashMap<String, String> = HashMap::new();
    let next = loop {
        let next = apply(&settled, &plan)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the run's plan: {e}")))?;
        let invalid = invalid_ours(&settled, &next);
        if invalid.is_empty() {
            break next;
        }
        for (n, m) in invalid {
            refused.insert(n, m);
        }
        plan.actions.retain(|a| match a {
            Action::Set {
                side: Side::Ours,
                number,
                ..
            } => !refused.contains_key(number),
            _ => true,
        });
    };
    // `write_state` compares with what was loaded: the pending changes it
    // sees settled are deleted, the plan's new ones added.
    write_state(&mut tx, &l, &next, now).await?;

    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let options = serde_json::to_string(&connector::read_options(&set.mapping))
        .map_err(|e| AppError::Internal(e.into()))?;
    let summary = serde_json::to_string(&sync::protocol::CategoryCounts::of_window(&cat))
        .map_err(|e| AppError::Internal(e.into()))?;
    let file_name = format!("{} run {run_id}.csv", c.name);
    let import_id = syncdb::insert_import(
        &mut tx,
        &syncdb::NewImport {
            connection_id: id,
            kind,
            file_name: &file_name,
            content: &bytes,
            sha256: &sha,
            options: &options,
            record_count: out.records.len() as i64,
            error_count: out.errors.len() as i64,
            summary: &summary,
            created_by: by(actor),
            created_at: now,
        },
    )
    .await?;
    write_report(
        &mut tx,
        &Reported {
            run_id,
            connection_id: id,
            settled: &settled,
            cat: &cat,
            plan: &plan,
            next_ours: &next.ours,
            previous: (prev_ours.as_ref(), prev_theirs.as_ref()),
            errors: &out.errors,
            refused: &refused,
            changes: &changes,
            columns: &columns,
            import_id,
        },
        now,
    )
    .await?;
    db::prune_imports(&mut tx, id, kind, 2).await?;
    tx.commit().await?;
    Ok(())
}

/// What a finished run's report is written from.
pub(crate) struct Reported<'a> {
    pub run_id: i64,
    pub connection_id: i64,
    /// Their new data, pending changes settled, before the plan.
    pub settled: &'a sync::state::State,
    pub cat: &'a Categorized,
    pub plan: &'a sync::plan::Plan,
    /// Our records after the plan (the next run compares against them).
    pub next_ours: &'a [Record],
    /// The previous run's snapshots (ours, theirs).
    pub previous: (Option<&'a Snapshot>, Option<&'a Snapshot>),
    pub errors: &'a [sync::read::RowError],
    pub refused: &'a HashMap<String, String>,
    pub changes: &'a ChangeCounts,
    pub columns: &'a BTreeMap<Field, String>,
    pub import_id: i64,
}

/// Writes a run's report (counts and one line per record), the snapshots
/// the next run compares against, and ends the run as done; in the
/// caller's transaction.
pub(crate) async fn write_report(
    tx: &mut sqlx::AnyConnection,
    r: &Reported<'_>,
    now: i64,
) -> AppResult<()> {
    let kind = r.settled.kind;
    let rep = report(&RunFacts {
        state: r.settled,
        categorized: r.cat,
        plan: r.plan,
        previous: match r.previous {
            (Some(o), Some(t)) => Some((o, t)),
            _ => None,
        },
        errors: r.errors,
    });
    db::save_snapshot(
        tx,
        r.connection_id,
        kind,
        Side::Theirs,
        &Snapshot::of(kind, &r.settled.rules, &r.settled.theirs).encode(),
        now,
    )
    .await?;
    db::save_snapshot(
        tx,
        r.connection_id,
        kind,
        Side::Ours,
        &Snapshot::of(kind, &r.settled.rules, r.next_ours).encode(),
        now,
    )
    .await?;
    let details = details_of(r.settled, &rep, r.refused);
    let mut counts = rep.counts.clone();
    let moved = details
        .iter()
        .filter(|d| d.message.as_deref().is_some_and(|m| m.starts_with(REFUSED)))
        .count() as u32;
    if moved > 0 {
        *counts.entry(Outcome::Updated).or_default() -= moved;
        *counts.entry(Outcome::UnableToUpdate).or_default() += moved;
    }
    db::insert_details(tx, r.run_id, &details).await?;
    db::finish_run(
        tx,
        r.run_id,
        &Finished {
            status: RunStatus::Done,
            finished_at: now_ms(),
            records_seen: i64::from(rep.records_seen),
            counts: &counts,
            changes: r.changes,
            columns: r.columns,
            message: None,
            import_id: Some(r.import_id),
        },
    )
    .await?;
    Ok(())
}

const REFUSED: &str = "Our register refused the update: ";

/// A report's lines with each record's email and phone; rows our register
/// refused to update are marked so.
fn details_of(
    state: &sync::state::State,
    rep: &sync::report::Report,
    refused: &HashMap<String, String>,
) -> Vec<NewDetail> {
    fn contacts(records: &[sync::schema::Record]) -> HashMap<&str, (&str, &str)> {
        records
            .iter()
            .map(|r| (r.number(), (r.get(Field::Email), r.get(Field::Phone))))
            .collect()
    }
    let (ours, theirs) = (contacts(&state.ours), contacts(&state.theirs));
    rep.details
        .iter()
        .map(|d| {
            let whose = d.whose();
            let n = d.number.as_str();
            let (email, phone) = match whose {
                Whose::Ours => ours.get(n),
                Whose::Theirs => theirs.get(n),
                Whose::Pair => ours.get(n).or_else(|| theirs.get(n)),
            }
            .copied()
            .unwrap_or(("", ""));
            let refused = refused
                .get(&d.number)
                .filter(|_| d.outcome == Outcome::Updated);
            NewDetail {
                whose,
                outcome: if refused.is_some() {
                    Outcome::UnableToUpdate
                } else {
                    d.outcome
                },
                number: d.number.clone(),
                name: d.name.clone(),
                email: email.to_string(),
                phone: phone.to_string(),
                changes: if refused.is_some() {
                    Vec::new()
                } else {
                    d.changes.clone()
                },
                message: refused
                    .map(|m| format!("{REFUSED}{m}"))
                    .or_else(|| d.message.clone()),
            }
        })
        .collect()
}

/// Sends a connection's due outbox entries (the caller holds its lease).
/// Returns how many arrived.
async fn deliver(state: &AppState, c: &Connection, connector: &Connector) -> AppResult<u32> {
    let store = &state.store;
    let now = now_ms();
    let due = store
        .outbox(c.connection_id, Some((now, MAX_ATTEMPTS)))
        .await?;
    let mut sent = 0;
    let mut columns: HashMap<Kind, Option<BTreeMap<Field, String>>> = HashMap::new();
    let mut maps: HashMap<Kind, Vec<ValueMapping>> = HashMap::new();
    for row in due {
        if let std::collections::hash_map::Entry::Vacant(slot) = columns.entry(row.kind) {
            let mut r = store.sync_reader().await?;
            slot.insert(db::run_columns(&mut r, c.connection_id, row.kind).await?);
            maps.insert(
                row.kind,
                db::value_mappings(&mut r, c.connection_id, row.kind).await?,
            );
        }
        let result = match columns.get(&row.kind).and_then(Option::as_ref) {
            Some(cols) => {
                let change = their_codes(
                    &row.change,
                    maps.get(&row.kind).map(Vec::as_slice).unwrap_or(&[]),
                );
                connector
                    .write(row.kind, cols, &change, &row.idempotency_key())
                    .await
            }
            None => Err(ConnectorError::Transient(
                "Their columns are not known yet: the change is sent after the first run.".into(),
            )),
        };
        match result {
            Ok(()) => {
                if store.outbox_sent(row.pending_id, now_ms()).await? {
                    sent += 1;
                }
            }
            Err(e) => {
                let attempts = if matches!(e, ConnectorError::Rejected(_)) {
                    MAX_ATTEMPTS
                } else {
                    row.attempts + 1
                };
                let next = (attempts < MAX_ATTEMPTS).then(|| now_ms() + backoff_ms(attempts));
                store
                    .outbox_failed(row.pending_id, attempts, next, &e.to_string())
                    .await?;
            }
        }
    }
    Ok(sent)
}

/// Wait before the next attempt after `attempts` failures: 30 s, doubling,
/// at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    (30_000i64 << attempts.clamp(0, 7)).min(3_600_000)
}

/// Our values back to their codes, by the value mappings.
fn their_codes(
    change: &sync::state::PendingChange,
    maps: &[ValueMapping],
) -> sync::state::PendingChange {
    use sync::state::PendingChange;
    let back = |field: Field, v: &str| -> String {
        maps.iter()
            .find(|m| m.field == field && m.our_value == v)
            .map(|m| m.their_value.clone())
            .unwrap_or_else(|| v.to_string())
    };
    match change {
        PendingChange::Create { number, values } => PendingChange::Create {
            number: number.clone(),
            values: values.iter().map(|(f, v)| (*f, back(*f, v))).collect(),
        },
        PendingChange::Set {
            number,
            field,
            from,
            to,
        } => PendingChange::Set {
            number: number.clone(),
            field: *field,
            from: back(*field, from),
            to: back(*field, to),
        },
    }
}

/// Sends the outbox of every integrated connection with changes due.
pub async fn deliver_due(state: &AppState) -> AppResult<u32> {
    let mut sent = 0;
    for id in state.store.outbox_due(now_ms(), MAX_ATTEMPTS).await? {
        let Some(lease) = Lease::take(state, id).await? else {
            continue;
        };
        let result = async {
            let c = connection(&state.store, id).await?;
            match open(state, &c).await {
                Ok(conn) => {
                    let n = deliver(state, &c, &conn).await;
                    conn.close().await;
                    n
                }
                Err(e) => {
                    tracing::warn!("connection {id}: {e}");
                    Ok(0)
                }
            }
        }
        .await;
        lease.release().await;
        sent += result?;
    }
    Ok(sent)
}

/// One tick of the scheduler: runs the connections that are due, then
/// sends due outbox entries. Safe to call from several instances at once.
pub async fn tick(state: &AppState) -> AppResult<()> {
    for id in state.store.due_connections(now_ms()).await? {
        match run(state, None, id, RunTrigger::Schedule, &RunNow::default()).await {
            Ok(_) => {}
            Err(AppError::Coded {
                code: "run_in_progress",
                ..
            }) => {}
            Err(e) => tracing::warn!("scheduled run of connection {id}: {e}"),
        }
    }
    deliver_due(state).await?;
    Ok(())
}

/// Runs the scheduler until the process ends.
pub fn spawn_scheduler(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = tick(&state).await {
                tracing::warn!("scheduler: {e}");
            }
        }
    })
}

/// Confirms a run that waits for deletions to be confirmed: runs a full
/// refresh with deletions allowed.
pub async fn confirm(state: &AppState, actor: &Actor, run_id: i64) -> AppResult<RunInfo> {
    let waiting = get_run(&state.store, run_id).await?;
    if waiting.status != RunStatus::Waiting {
        return Err(AppError::Conflict(
            "This run is not waiting for confirmation.".into(),
        ));
    }
    let id = waiting.connection_id;
    let Some(lease) = Lease::take(state, id).await? else {
        return Err(busy());
    };
    let req = RunNow {
        kind: Some(waiting.kind),
        full_refresh: true,
    };
    let result = run_leased(state, Some(actor), id, RunTrigger::Manual, &req, true).await;
    lease.release().await;
    db::set_run_status(&state.store, run_id, RunStatus::Cancelled, now_ms()).await?;
    result?.into_iter().next().ok_or(AppError::NotFound("run"))
}

pub async fn cancel(state: &AppState, run_id: i64) -> AppResult<RunInfo> {
    let waiting = get_run(&state.store, run_id).await?;
    if waiting.status != RunStatus::Waiting {
        return Err(AppError::Conflict(
            "Only a run waiting for confirmation can be cancelled.".into(),
        ));
    }
    db::set_run_status(&state.store, run_id, RunStatus::Cancelled, now_ms()).await?;
    get_run(&state.store, run_id).await
}

pub async fn list(store: &Store, q: &RunQuery) -> AppResult<Vec<RunInfo>> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(crate::service::sync::kind_of(k)?),
    };
    let limit = i64::from(q.limit.unwrap_or(50).clamp(1, 500));
    let mut c = store.sync_reader().await?;
    Ok(db::list_runs(&mut c, q.connection_id, kind, q.before, limit).await?)
}

fn outcome_of(s: Option<&str>) -> AppResult<Option<String>> {
    match s {
        None | Some("") => Ok(None),
        Some(o) => serde_json::from_value::<Outcome>(serde_json::Value::String(o.to_string()))
            .map(|_| Some(o.to_string()))
            .map_err(|_| AppError::BadRequest(format!("{o} is not an action of a report."))),
    }
}

pub async fn details(store: &Store, run_id: i64, q: &RunDetailQuery) -> AppResult<RunDetailPage> {
    get_run(store, run_id).await?;
    let outcome = outcome_of(q.outcome.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let mut c = store.sync_reader().await?;
    let (items, total) = db::run_details(
        &mut c,
        run_id,
        outcome.as_deref(),
        q.after.unwrap_or(0),
        limit,
    )
    .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|d| d.seq))
        .flatten();
    Ok(RunDetailPage { items, total, next })
}

/// A run's details as spreadsheet-safe CSV (BOM, semicolons, formula-like
/// cells neutralized).
pub async fn details_csv(store: &Store, run_id: i64, outcome: Option<&str>) -> AppResult<Vec<u8>> {
    get_run(store, run_id).await?;
    let outcome = outcome_of(outcome)?;
    let mut c = store.sync_reader().await?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let safe = |s: &str| crate::service::sync::neutralize(s).into_owned();
    w.write_record([
        "record", "number", "name", "email", "phone", "action", "changes", "message",
    ])
    .map_err(|e| AppError::Internal(e.into()))?;
    let mut after = 0;
    loop {
        let (items, _) = db::run_details(&mut c, run_id, outcome.as_deref(), after, 5000).await?;
        let Some(last) = items.last() else { break };
        after = last.seq;
        for d in &items {
            let changes = d
                .changes
                .iter()
                .map(|ch| {
                    format!(
                        "{} ({}): {} -> {}",
                        ch.field.as_str(),
                        ch.side.as_str(),
                        ch.before,
                        ch.after
                    )
                })
                .collect::<Vec<_>>()
                .join(" | ");
            w.write_record([
                d.whose.map(|w| w.as_str()).unwrap_or("").to_string(),
                safe(&d.number),
                safe(&d.name),
                safe(&d.email),
                safe(&d.phone),
                crate::store::runs::word_of(&d.outcome),
                safe(&changes),
                safe(d.message.as_deref().unwrap_or("")),
            ])
            .map_err(|e| AppError::Internal(e.into()))?;
        }
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))
}

pub async fn outbox(store: &Store, id: i64) -> AppResult<Vec<OutboxItem>> {
    connection(store, id).await?;
    Ok(store
        .outbox(id, None)
        .await?
        .iter()
        .map(|r: &OutboxRow| r.item(MAX_ATTEMPTS))
        .collect())
}

pub async fn retry(state: &AppState, id: i64, pending_id: i64) -> AppResult<Vec<OutboxItem>> {
    if !state.store.outbox_retry(id, pending_id).await? {
        return Err(AppError::NotFound("pending change"));
    }
    deliver_due(state).await?;
    outbox(&state.store, id).await
}

pub async fn value_mappings(store: &Store, id: i64, kind: Kind) -> AppResult<Vec<ValueMapping>> {
    connection(store, id).await?;
    let mut c = store.sync_reader().await?;
    Ok(db::value_mappings(&mut c, id, kind).await?)
}

/// Edits a value mapping. A dry run counts the records of theirs it affects
/// (their newest data holding that code, or the value it mapped to); else
/// it is saved and, for an integrated system, a run re-synchronizes
/// exactly those records (change tracking sees their values change).
pub async fn edit_mapping(
    state: &AppState,
    actor: &Actor,
    id: i64,
    kind: Kind,
    m: &ValueMapping,
    dry_run: bool,
) -> AppResult<MappingImpact> {
    let c = connection(&state.store, id).await?;
    if kind.index_of(m.field).is_none() || !sync::rules::mappable(m.field) {
        return Err(AppError::field(
            "field",
            format!(
                "{} is not a field of a {} that can be mapped.",
                m.field.as_str(),
                kind.as_str()
            ),
        ));
    }
    let their = m.their_value.trim();
    if their.is_empty() || their.chars().count() > 200 || m.our_value.chars().count() > 200 {
        return Err(AppError::field(
            "their_value",
            "Their code has 1 to 200 characters; our value at most 200.",
        ));
    }
    // Their records as read (before any mapping) holding the code.
    let affected: Vec<String> = {
        let mut r = state.store.sync_reader().await?;
        match syncdb::latest_import(&mut r, id, kind).await? {
            Some(i) => {
                let content = syncdb::import_content(&mut r, i.import_id).await?;
                let options: sync::read::ReadOptions =
                    serde_json::from_str(&i.options).map_err(|e| AppError::Internal(e.into()))?;
                match super::read_file(&content, Some(&i.file_name), kind, &options) {
                    Ok(out) => out
                        .records
                        .iter()
                        .filter(|r| r.get(m.field) == their)
                        .map(|r| r.number().to_string())
                        .collect(),
                    Err(_) => Vec::new(),
                }
            }
            None => Vec::new(),
        }
    };
    let mut impact = MappingImpact {
        affected: affected.len() as u32,
        sample: affected.iter().take(20).cloned().collect(),
        run_id: None,
    };
    if dry_run {
        return Ok(impact);
    }
    let mut tx = state.store.begin_write().await?;
    db::save_value_mapping(
        &mut tx,
        id,
        kind,
        &ValueMapping {
            field: m.field,
            their_value: their.to_string(),
            our_value: m.our_value.trim().to_string(),
        },
    )
    .await?;
    syncdb::insert_audit(
        &mut tx,
        &syncdb::NewAudit {
            at: now_ms(),
            user_id: actor.user_id,
            username: &actor.username,
            connection_id: Some(id),
            kind,
            action: "value_mapping",
            our_number: None,
            their_number: None,
            detail: &serde_json::json!({"mapping": m, "affected": impact.affected}),
        },
    )
    .await?;
    tx.commit().await?;
    if c.system.is_integrated() && impact.affected > 0 {
        let req = RunNow {
            kind: Some(kind),
            full_refresh: false,
        };
        let runs = run(state, Some(actor), id, RunTrigger::Manual, &req).await?;
        impact.run_id = runs.first().map(|r| r.run_id);
    }
    Ok(impact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(0), 30_000);
        assert_eq!(backoff_ms(1), 60_000);
        assert_eq!(backoff_ms(3), 240_000);
        assert_eq!(backoff_ms(10), 3_600_000);
    }

    #[test]
    fn codes_go_back_to_theirs_on_writes() {
        use sync::state::PendingChange;
        let maps = vec![ValueMapping {
            field: Field::SalesRepCode,
            their_value: "S01".into(),
            our_value: "anna.admin".into(),
        }];
        let c = their_codes(
            &PendingChange::Set {
                number: "1".into(),
                field: Field::SalesRepCode,
                from: "".into(),
                to: "anna.admin".into(),
            },
            &maps,
        );
        assert!(matches!(c, PendingChange::Set { to, .. } if to == "S01"));
    }
}

//! The synchronization window of a connection and kind ("scope"): its state
//! assembled from the database, imports of their files, the categories and
//! rows, partner suggestions, actions (one transaction each, with version
//! checks and idempotency keys), pending changes and the audit trail.
//!
//! Every computation is the `sync` crate's: this module loads, checks and
//! stores. Our side is our register; their side, for file connections, is
//! the newest import, parsed again with the options it was stored with.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sync::categorize::{Categorized, Category, Row, categorize};
use sync::fingerprint::Fingerprint;
use sync::plan::{Action, Plan, apply, pending_partner, planned_updates, resolve};
use sync::protocol::{
    ActionResult, AuditEntry, CategoryCounts, Connection, Customer, CustomerInput, EmployeeInput,
    Expect, FieldDiff, ImportInfo, ImportOptions, ImportQuery, ImportResult, ImportRowError,
    NewCustomer, NumberCheck, Numbering, PartnerCandidate, PartnerSuggestions, PendingItem,
    PlannedChange, SyncDecision, SyncTarget, WindowAction, WindowOp, WindowPage, WindowQuery,
    WindowRow, WindowSummary,
};
use sync::read::{ReadOptions, RowHashes};
use sync::schema::{Field, Kind, Record, Side};
use sync::state::{PendingChange, State};

use crate::auth::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::store::registers::{Customers, Employees, Register, WriteOutcome};
use crate::store::sync::{self as db, ImportRow, NewAudit, NewImport, PendingRow};

/// Who acts.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
}

impl Actor {
    /// An audit entry by this actor on a connection's scope; the caller
    /// names the action, the records and the detail.
    fn audit(&self, now: i64, connection_id: i64, kind: Kind) -> NewAudit<'_> {
        NewAudit {
            at: now,
            user_id: self.user_id,
            username: &self.username,
            connection_id: Some(connection_id),
            kind,
            action: "",
            our_number: None,
            their_number: None,
            detail: &serde_json::Value::Null,
        }
    }
}

/// The state of a scope with what it was loaded from.
pub struct Loaded {
    pub connection: Connection,
    pub state: State,
    pub import: Option<ImportRow>,
    pub pending_rows: Vec<PendingRow>,
    /// The scope's revision when loaded.
    pub revision: i64,
    /// Our register's revision when loaded.
    pub register_revision: i64,
    /// What the stored import of their side says, as read (before value
    /// mappings): the fingerprint lists its rows (`KnownRows`).
    their: Option<Arc<TheirData>>,
    /// The value mappings laid over their records (`state.theirs`); the
    /// fingerprint carries them so that the browser's preview lays them
    /// over the file it reads.
    pub value_maps: Vec<sync::protocol::ValueMapping>,
}

/// A scope's state with its categories, kept between requests while
/// nothing it was computed from changed.
pub struct Computed {
    pub loaded: Loaded,
    pub cat: Categorized,
    pub index: sync::state::PendingIndex,
    fingerprint: std::sync::OnceLock<(Vec<u8>, String)>,
}

/// How many computed windows a server keeps (one per scope).
const COMPUTED_KEPT: usize = 4;

/// The `id:kind:` part of a `memo_key`.
fn memo_scope(key: &str) -> &str {
    let mut colons = key.match_indices(':').map(|(i, _)| i);
    match colons.nth(1) {
        Some(i) => &key[..=i],
        None => key,
    }
}

fn memo_key(id: i64, kind: Kind, version: i64, revisions: (i64, i64)) -> String {
    format!(
        "{id}:{}:{version}:{}:{}",
        kind.as_str(),
        revisions.0,
        revisions.1
    )
}

/// The scope's state and categories: from the cache when the scope, our
/// register and the connection's settings are as they were, else loaded
/// and computed. Revisions are read before the data, so a cached value is
/// never older than its key.
pub async fn computed(store: &Store, id: i64, kind: Kind) -> AppResult<Arc<Computed>> {
    let conn = connection(store, id).await?;
    let version = conn.version;
    let revisions = {
        let mut c = store.sync_reader().await?;
        db::revision(&mut c, id, kind).await?
    };
    let key = memo_key(id, kind, version, revisions);
    if let Some(hit) = memo_get(store, &key) {
        return Ok(hit);
    }
    let loaded = {
        let mut c = store.sync_reader().await?;
        load(&mut c, conn, kind).await?
    };
    let key = memo_key(
        id,
        kind,
        version,
        (loaded.revision, loaded.register_revision),
    );
    let cat = categorize(&loaded.state);
    Ok(memo_put(store, key, Computed::new(loaded, cat)))
}

impl Loaded {
    /// A copy with no records of theirs (about to be replaced).
    fn without_theirs(&self) -> Loaded {
        let s = &self.state;
        Loaded {
            connection: self.connection.clone(),
            state: State {
                kind: s.kind,
                rules: s.rules.clone(),
                required: s.required.clone(),
                synced: s.synced.clone(),
                ours: s.ours.clone(),
                theirs: Vec::new(),
                missing: s.missing.clone(),
                links: s.links.clone(),
                deactivated: s.deactivated.clone(),
                pending: s.pending.clone(),
            },
            import: self.import.clone(),
            pending_rows: self.pending_rows.clone(),
            revision: self.revision,
            register_revision: self.register_revision,
            their: None,
            value_maps: self.value_maps.clone(),
        }
    }
}

impl Computed {
    fn new(loaded: Loaded, cat: Categorized) -> Computed {
        let index = loaded.state.pending_index();
        Computed {
            loaded,
            cat,
            index,
            fingerprint: std::sync::OnceLock::new(),
        }
    }

    /// The preview fingerprint (binary) and its revision, made once.
    fn fingerprint(&self) -> &(Vec<u8>, String) {
        self.fingerprint.get_or_init(|| {
            let fp = fingerprint_of(&self.loaded);
            (fp.encode(), format!("{:016x}", fp.revision))
        })
    }

    fn key(&self) -> String {
        let l = &self.loaded;
        memo_key(
            l.connection.connection_id,
            l.state.kind,
            l.connection.version,
            (l.revision, l.register_revision),
        )
    }
}

fn memo_get(store: &Store, key: &str) -> Option<Arc<Computed>> {
    store
        .memo
        .lock()
        .expect("memo lock")
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.clone().downcast::<Computed>().ok())
}

/// Keeps `value` as the scope's computed window, in place of any other of
/// the same scope: at a million records one takes a gigabyte, and an older
/// revision is not asked for again.
fn memo_put(store: &Store, key: String, value: Computed) -> Arc<Computed> {
    let value = Arc::new(value);
    let scope = memo_scope(&key);
    let mut memo = store.memo.lock().expect("memo lock");
    memo.retain(|(k, _)| memo_scope(k) != scope);
    memo.push((key, value.clone()));
    if memo.len() > COMPUTED_KEPT {
        memo.remove(0);
    }
    value
}

/// Puts a state's lists in one order (byte order of the numbers, whatever
/// the database's collation): `load` gives them so, and a state an action
/// computed is put so before it is kept as what a load would give.
fn in_load_order(s: &mut State) {
    s.ours.sort_by(|a, b| a.number().cmp(b.number()));
    s.links
        .sort_by(|a, b| (&a.our_number, &a.their_number).cmp(&(&b.our_number, &b.their_number)));
    s.deactivated
        .sort_by(|a, b| (a.side, &a.number).cmp(&(b.side, &b.number)));
}

/// The window's computed state for the revision before this transaction
/// bumped the scope's to `revision`, when it is kept: the bump holds the
/// scope's lock, so nothing wrote to the scope since. Actions and imports
/// start from it instead of loading (seconds at a million records).
async fn kept_before_bump(
    store: &Store,
    tx: &mut AnyConnection,
    conn: &Connection,
    kind: Kind,
    revision: i64,
) -> AppResult<Option<Arc<Computed>>> {
    let id = conn.connection_id;
    let (_, register) = db::revision(tx, id, kind).await?;
    Ok(memo_get(
        store,
        &memo_key(id, kind, conn.version, (revision - 1, register)),
    ))
}

/// `state` (its lists in load order) as a load after this transaction's
/// writes gives it: the pending rows read again (for their ids), the newest
/// import and the revisions; `value_maps` are those laid over `state`'s
/// records of theirs. Debug builds load again and assert they agree.
async fn as_loaded(
    tx: &mut AnyConnection,
    connection: Connection,
    mut state: State,
    their: Option<Arc<TheirData>>,
    value_maps: Vec<sync::protocol::ValueMapping>,
) -> AppResult<Loaded> {
    let (id, kind) = (connection.connection_id, state.kind);
    let pending_rows = db::load_pending(tx, id, kind).await?;
    state.pending = pending_rows.iter().map(|p| p.change.clone()).collect();
    let (revision, register_revision) = db::revision(tx, id, kind).await?;
    let import = db::latest_import(tx, id, kind).await?;
    let kept = Loaded {
        connection,
        state,
        import,
        pending_rows,
        revision,
        register_revision,
        their,
        value_maps,
    };
    #[cfg(debug_assertions)]
    {
        let loaded = load(tx, kept.connection.clone(), kind).await?;
        assert_eq!(
            loaded.state, kept.state,
            "the kept state is what a load gives"
        );
        assert_eq!(loaded.pending_rows, kept.pending_rows);
        assert_eq!(loaded.import, kept.import);
        assert_eq!(loaded.value_maps, kept.value_maps);
        assert_eq!(
            (loaded.revision, loaded.register_revision),
            (kept.revision, kept.register_revision)
        );
    }
    Ok(kept)
}

/// Parsed imports by content and options: imports never change, so the
/// cache is right for any database. A few are kept.
type TheirsCache = Mutex<Vec<(String, Arc<TheirData>)>>;
static THEIRS: TheirsCache = Mutex::new(Vec::new());
const THEIRS_KEPT: usize = 4;

pub fn kind_of(s: &str) -> AppResult<Kind> {
    Kind::parse(s).ok_or(AppError::NotFound("kind (use customer or employee)"))
}

pub(crate) async fn connection(store: &Store, id: i64) -> AppResult<Connection> {
    store
        .get_connection(id)
        .await?
        .ok_or(AppError::NotFound("connection"))
}

fn read_failed(e: sync::read::ReadError) -> AppError {
    AppError::field("file", format!("The file cannot be read: {e}."))
}

/// What a stored import says of their side.
struct TheirData {
    records: Vec<Record>,
    /// The fields it has no column for (`State::missing`).
    missing: Vec<sync::schema::Field>,
    /// What the reader said of its rows (a CSV file's).
    rows: Option<RowHashes>,
}

/// The cache key of an import's records: its content and reader options.
fn their_key(kind: Kind, sha256: &str, options: &str) -> String {
    format!("{}:{}:{}", kind.as_str(), sha256, options)
}

/// Keeps an import's records as `their_records` reads them.
fn their_records_keep(cache_key: String, data: TheirData) -> Arc<TheirData> {
    let data = Arc::new(data);
    let mut cache = THEIRS.lock().expect("cache lock");
    cache.retain(|(k, _)| *k != cache_key);
    cache.push((cache_key, data.clone()));
    if cache.len() > THEIRS_KEPT {
        cache.remove(0);
    }
    data
}

/// Their records of a stored import.
async fn their_records(
    c: &mut AnyConnection,
    kind: Kind,
    import: &ImportRow,
) -> AppResult<Arc<TheirData>> {
    let cache_key = their_key(kind, &import.sha256, &import.options);
    if let Some((_, r)) = THEIRS
        .lock()
        .expect("cache lock")
        .iter()
        .find(|(k, _)| *k == cache_key)
    {
        return Ok(r.clone());
    }
    let content = db::import_content(c, import.import_id).await?;
    let options: ReadOptions = serde_json::from_str(&import.options)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored import options: {e}")))?;
    let (out, rows) = super::read_file_with_rows(&content, Some(&import.file_name), kind, &options)
        .map_err(read_failed)?;
    Ok(their_records_keep(
        cache_key,
        TheirData {
            missing: out.missing_fields(),
            records: out.records,
            rows,
        },
    ))
}

/// Loads the state of a scope through `c` (a transaction's connection when
/// the caller will write).
pub async fn load(c: &mut AnyConnection, connection: Connection, kind: Kind) -> AppResult<Loaded> {
    let id = connection.connection_id;
    let (revision, register_revision) = db::revision(c, id, kind).await?;
    let set = connection.settings(kind).clone();
    let mut state = State::new(kind);
    state.rules = set.rules.clone();
    state.required = set.required.clone();
    state.ours = db::load_ours(c, kind).await?;
    let import = db::latest_import(c, id, kind).await?;
    let value_maps = crate::store::runs::value_mappings(c, id, kind).await?;
    let mut their_data = None;
    if let Some(i) = &import {
        let their = their_records(c, kind, i).await?;
        state.theirs = their.records.clone();
        state.missing = their.missing.clone();
        sync::rules::map_values(&mut state.theirs, &value_maps);
        their_data = Some(their);
    }
    state.links = db::load_links(c, id, kind).await?;
    state.deactivated = db::load_deactivations(c, id, kind).await?;
    let pending_rows = db::load_pending(c, id, kind).await?;
    state.pending = pending_rows.iter().map(|p| p.change.clone()).collect();
    in_load_order(&mut state);
    Ok(Loaded {
        connection,
        state,
        import,
        pending_rows,
        revision,
        register_revision,
        their: their_data,
        value_maps,
    })
}

fn counts(cat: &Categorized) -> CategoryCounts {
    CategoryCounts::of_window(cat)
}

fn import_info(i: &ImportRow) -> ImportInfo {
    ImportInfo {
        import_id: i.import_id,
        file_name: i.file_name.clone(),
        sha256: i.sha256.clone(),
        size_bytes: i.size_bytes,
        record_count: i.record_count,
        error_count: i.error_count,
        counts: serde_json::from_str(&i.summary).unwrap_or_default(),
        created_by: i.created_by.clone(),
        created_at: i.created_at,
    }
}

pub async fn summary(store: &Store, id: i64, kind: Kind) -> AppResult<WindowSummary> {
    let c = computed(store, id, kind).await?;
    let l = &c.loaded;
    Ok(WindowSummary {
        connection_id: id,
        kind,
        revision: l.revision,
        counts: counts(&c.cat),
        import: l.import.as_ref().map(import_info),
        undelivered: l
            .pending_rows
            .iter()
            .filter(|p| p.delivered_at.is_none())
            .count() as u32,
        pending: l.pending_rows.len() as u32,
        fields: kind.fields().to_vec(),
    })
}

/// The fingerprint, with the rows of the stored import (`KnownRows`), so
/// that a browser previewing the next export takes the rows that did not
/// change as they were. Its revision is a hash of its content, so any
/// change of the state the preview depends on gives another revision.
fn fingerprint_of(l: &Loaded) -> Fingerprint {
    let mut fp = Fingerprint::from_state(&l.state, Side::Theirs).with_value_maps(&l.value_maps);
    if let Some(their) = &l.their
        && let Some(rows) = &their.rows
    {
        fp = fp.with_known_rows(&their.records, rows);
    }
    let revision = sync::normalize::fnv1a(&fp.encode());
    fp.with_revision(revision)
}

/// The preview fingerprint (binary) and its revision.
pub async fn fingerprint(store: &Store, id: i64, kind: Kind) -> AppResult<(Vec<u8>, String)> {
    Ok(computed(store, id, kind).await?.fingerprint().clone())
}

/// The revision of a state's fingerprint, as `fingerprint` sends it.
fn fingerprint_revision(l: &Loaded) -> String {
    format!("{:016x}", fingerprint_of(l).revision)
}

fn values(r: &Record) -> Vec<String> {
    r.kind
        .fields()
        .iter()
        .map(|f| r.get(*f).to_string())
        .collect()
}

/// Their record of a row, with pending changes laid over it.
fn their_record(state: &State, index: &sync::state::PendingIndex, row: &Row) -> Option<Record> {
    match row.their_index() {
        Some(i) => state
            .effective_theirs_cow(sync::categorize::Source::Record(i), index)
            .map(|c| c.into_owned()),
        None => row
            .their_number(state)
            .and_then(|n| pending_partner(state, n)),
    }
}

fn window_row(state: &State, index: &sync::state::PendingIndex, row: &Row) -> WindowRow {
    let ours = row
        .our_index()
        .and_then(|i| state.ours.get(i as usize))
        .map(values);
    let theirs = their_record(state, index, row).map(|r| values(&r));
    let link_active = row
        .link_index()
        .and_then(|i| state.links.get(i as usize))
        .map(|l| l.active);
    // A partner a pending change creates carries every field.
    let their_missing = if row.their_index().is_some() {
        state.missing.clone()
    } else {
        Vec::new()
    };
    let mut w = WindowRow {
        their_missing,
        key: row.key(state),
        category: row.category,
        reason: row.reason.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        }),
        our_number: row.our_number(state).map(str::to_string),
        their_number: row.their_number(state).map(str::to_string),
        name: row.name(state, index).into_owned(),
        ours,
        theirs,
        link_active,
        no_import: row.no_import(state, index),
        no_export: row.no_export(state),
        skipped_multiple: row.skipped_multiple,
        suggestion: row.suggestion().map(str::to_string),
        conflicts: row
            .conflicts()
            .iter()
            .map(|c| FieldDiff {
                field: c.field,
                ours: c.ours.clone(),
                theirs: c.theirs.clone(),
                base: c.base.clone(),
            })
            .collect(),
        planned: row
            .planned()
            .iter()
            .map(|p| PlannedChange {
                field: p.field,
                side: p.side,
                from: p.from.clone(),
                to: p.to.clone(),
            })
            .collect(),
        token: String::new(),
    };
    let text = serde_json::to_vec(&w).unwrap_or_default();
    w.token = format!("{:016x}", sync::normalize::fnv1a(&text));
    w
}

/// Whether `text` contains `q` (already lower-case), ignoring case:
/// `text.to_lowercase().contains(q)`, without a copy for ASCII text.
fn contains_folded(text: &str, q: &str) -> bool {
    if text.is_ascii() && q.is_ascii() {
        let (t, q) = (text.as_bytes(), q.as_bytes());
        q.is_empty() || t.windows(q.len()).any(|w| w.eq_ignore_ascii_case(q))
    } else {
        text.to_lowercase().contains(q)
    }
}

/// Whether a row's name, numbers or either side's values contain `q`: what
/// its `WindowRow` shows, read from the records without building it (a
/// search tests every row of a category, a million at most).
fn row_matches(state: &State, index: &sync::state::PendingIndex, row: &Row, q: &str) -> bool {
    let hit = |s: &str| contains_folded(s, q);
    if hit(&row.name(state, index))
        || row.our_number(state).is_some_and(hit)
        || row.their_number(state).is_some_and(hit)
    {
        return true;
    }
    if let Some(r) = row.our_index().and_then(|i| state.ours.get(i as usize))
        && r.values().any(hit)
    {
        return true;
    }
    match row.their_index() {
        Some(i) => state
            .effective_theirs_cow(sync::categorize::Source::Record(i), index)
            .is_some_and(|r| r.values().any(hit)),
        None => their_record(state, index, row).is_some_and(|r| r.values().any(hit)),
    }
}

pub fn category_of(s: &str) -> AppResult<Category> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        AppError::NotFound(
            "category (use conflicts, new, deleted, deactivated, synchronized or inactive)",
        )
    })
}

pub async fn rows(
    store: &Store,
    id: i64,
    kind: Kind,
    category: Category,
    query: &WindowQuery,
) -> AppResult<WindowPage> {
    let c = computed(store, id, kind).await?;
    let (l, cat, index) = (&c.loaded, &c.cat, &c.index);
    let q = query
        .q
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    // Search and sort work on the cheap fields first; values are built only
    // for the rows of the page (and, when searching, the rows tested).
    let mut picked: Vec<&Row> = match &q {
        None => cat.rows(category).iter().collect(),
        Some(q) => cat
            .rows(category)
            .iter()
            .filter(|r| row_matches(&l.state, index, r, q))
            .collect(),
    };
    let s = &l.state;
    match query.sort.as_deref().unwrap_or("key") {
        "our_number" => picked.sort_by_key(|r| r.our_number(s).unwrap_or("")),
        "their_number" => picked.sort_by_key(|r| r.their_number(s).unwrap_or("")),
        "name" => picked.sort_by_cached_key(|r| r.name(s, index).to_lowercase()),
        "key" => {}
        other => {
            return Err(AppError::field(
                "sort",
                format!(
                    "Rows cannot be sorted by {other:?}; use key, our_number, their_number or name."
                ),
            ));
        }
    }
    if query.dir.as_deref() == Some("desc") {
        picked.reverse();
    }
    let offset = query.offset.unwrap_or(0);
    let rows = picked
        .iter()
        .skip(offset as usize)
        .take(query.limit() as usize)
        .map(|r| window_row(&l.state, index, r))
        .collect();
    Ok(WindowPage {
        category,
        total: picked.len() as u32,
        offset,
        revision: l.revision,
        rows,
    })
}

fn find_row<'c>(state: &State, cat: &'c Categorized, key: &str) -> Option<&'c Row> {
    cat.find(state, key)
}

pub async fn suggestions(
    store: &Store,
    id: i64,
    kind: Kind,
    key: &str,
) -> AppResult<PartnerSuggestions> {
    let c = computed(store, id, kind).await?;
    let (l, cat) = (&c.loaded, &c.cat);
    let row = find_row(&l.state, cat, key).ok_or(AppError::NotFound("row"))?;
    if row.category != Category::New || row.link_index().is_some() {
        return Err(AppError::BadRequest(
            "Partners are suggested for New records only.".into(),
        ));
    }
    let (side, record) = match (row.our_index(), row.their_number(&l.state)) {
        (Some(i), _) => (Side::Ours, l.state.ours.get(i as usize).cloned()),
        (None, Some(_)) => (Side::Theirs, their_record(&l.state, &c.index, row)),
        _ => (Side::Ours, None),
    };
    let record = record.ok_or(AppError::NotFound("row"))?;
    // Candidates: the lone New records of the other side, with their rows.
    let mut eligible = Vec::new();
    let mut row_keys = HashMap::new();
    for r in cat.rows(Category::New) {
        if r.skipped_multiple || r.link_index().is_some() {
            continue;
        }
        let i = match side.other() {
            Side::Ours => r.our_index(),
            Side::Theirs => r.their_index(),
        };
        if let Some(i) = i {
            eligible.push(i);
            row_keys.insert(i, r.key(&l.state));
        }
    }
    let index = sync::suggest::Index::new(&l.state, side.other(), &eligible);
    let candidates = index
        .candidates(&record, 10)
        .into_iter()
        .map(|c| PartnerCandidate {
            row_key: row_keys.get(&c.index).cloned().unwrap_or_default(),
            number: c.number,
            name: c.name,
            score: c.score,
            agreeing: c.agreeing,
        })
        .collect();
    Ok(PartnerSuggestions {
        key: key.to_string(),
        side,
        number: record.number().to_string(),
        candidates,
    })
}

pub async fn check_number(
    store: &Store,
    id: i64,
    kind: Kind,
    side: Side,
    number: &str,
) -> AppResult<NumberCheck> {
    let c = computed(store, id, kind).await?;
    Ok(number_check(&c.loaded.state, side, number))
}

fn number_check(state: &State, side: Side, number: &str) -> NumberCheck {
    let (result, shortened, zeros_stripped, error) = match side {
        Side::Theirs => {
            let p = state.rules.preview(number);
            (
                p.result,
                p.shortened,
                p.zeros_stripped,
                p.error.map(|e| e.to_string()),
            )
        }
        Side::Ours => {
            let n = number.trim().to_string();
            if n.is_empty() {
                (None, false, false, Some("the number is empty".to_string()))
            } else {
                (Some(n), false, false, None)
            }
        }
    };
    let taken = result.as_deref().is_some_and(|r| {
        let key = match side {
            Side::Theirs => state.key(r),
            Side::Ours => r.to_string(),
        };
        let on_side = state.records(side).iter().any(|x| match side {
            Side::Theirs => state.key(x.number()) == key,
            Side::Ours => x.number() == key,
        });
        on_side || (side == Side::Theirs && pending_partner(state, r).is_some())
    });
    NumberCheck {
        input: number.to_string(),
        result,
        shortened,
        zeros_stripped,
        error,
        taken,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores an import of their file and answers with the categories after it.
pub async fn import(
    store: &Store,
    actor: &Actor,
    id: i64,
    kind: Kind,
    query: &ImportQuery,
    bytes: &[u8],
) -> AppResult<ImportResult> {
    let conn = connection(store, id).await?;
    let file_name = query.file_name.trim();
    if file_name.is_empty() || file_name.len() > 255 {
        return Err(AppError::field(
            "file_name",
            "Name the file (at most 255 characters).",
        ));
    }
    if bytes.is_empty() {
        return Err(AppError::field("file", "The file is empty."));
    }
    let options: ImportOptions = match query.options.as_deref() {
        None | Some("") => ImportOptions::default(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| AppError::field("options", format!("The options are not valid: {e}.")))?,
    };
    let mut read_options = options.read_options(&conn.settings(kind).mapping);
    read_options.keep_rows = false;
    let (out, row_hashes) = super::read_file_with_rows(bytes, Some(file_name), kind, &read_options)
        .map_err(read_failed)?;
    // Stored with what the reader decided, so a re-read gives the same records.
    let mut stored = read_options.clone();
    stored.encoding = out.encoding.clone();
    stored.delimiter = out.delimiter;
    stored.sheet = out.sheet.clone();
    stored.has_header = Some(out.has_header);
    let options_json = serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.into()))?;
    let sha = sha256_hex(bytes);
    let now = now_ms();

    let mut tx = store.begin_write().await?;
    let revision = db::bump_revision(&mut tx, id, kind).await?;
    // The kept state (and its fingerprint, when the browser fetched it for
    // the preview), else a load. Their old records are not copied.
    let cached = kept_before_bump(store, &mut tx, &conn, kind, revision).await?;
    let mut l = match &cached {
        Some(c) => c.loaded.without_theirs(),
        None => load(&mut tx, conn.clone(), kind).await?,
    };
    // Only an import that names the preview's revision needs it.
    if let Some(seen) = query.preview_revision.as_deref()
        && seen
            != match &cached {
                Some(c) => c.fingerprint().1.clone(),
                None => fingerprint_revision(&l),
            }
    {
        return Err(AppError::Coded {
            status: axum::http::StatusCode::CONFLICT,
            code: "stale_preview",
            message:
                "The data changed since the preview was computed; the preview is computed again."
                    .into(),
        });
    }
    let before_pending = l.pending_rows.clone();
    // Their records as a load gives them: the value mappings laid over
    // (the kept state's are current: editing one changes the connection's
    // version, which the kept state is found by).
    l.state.theirs = out.records.clone();
    sync::rules::map_values(&mut l.state.theirs, &l.value_maps);
    l.state.missing = out.missing_fields();
    l.state.settle_pending_in_place();
    db::save_pending(&mut tx, id, kind, &before_pending, &l.state.pending, now).await?;
    let cat = categorize(&l.state);
    let counts = counts(&cat);
    let summary = serde_json::to_string(&counts).map_err(|e| AppError::Internal(e.into()))?;
    let import_id = db::insert_import(
        &mut tx,
        &NewImport {
            connection_id: id,
            kind,
            file_name,
            content: bytes,
            sha256: &sha,
            options: &options_json,
            record_count: out.records.len() as i64,
            error_count: out.errors.len() as i64,
            summary: &summary,
            created_by: Some(actor.user_id),
            created_at: now,
        },
    )
    .await?;
    db::insert_audit(
        &mut tx,
        &NewAudit {
            action: "import",
            detail: &serde_json::json!({
                "import_id": import_id, "file_name": file_name, "sha256": sha,
                "records": out.records.len(), "row_errors": out.errors.len(), "counts": counts,
                "pending_settled": before_pending.len() - l.state.pending.len(),
            }),
            ..actor.audit(now, id, kind)
        },
    )
    .await?;
    // The import is a run too: its report lists every record.
    {
        use crate::store::runs as rdb;
        let run_id = rdb::insert_run(
            &mut tx,
            &rdb::NewRun {
                connection_id: id,
                kind,
                trigger: sync::protocol::RunTrigger::Import,
                full_refresh: true,
                started_at: now,
                created_by: Some(actor.user_id),
                status: sync::protocol::RunStatus::Running,
                message: Some(file_name),
            },
        )
        .await?;
        let snapshot =
            |b: Option<Vec<u8>>| b.and_then(|b| sync::track::Snapshot::decode_owned(b).ok());
        let prev_ours = snapshot(rdb::load_snapshot(&mut tx, id, kind, Side::Ours).await?);
        let prev_theirs = snapshot(rdb::load_snapshot(&mut tx, id, kind, Side::Theirs).await?);
        let changes = match &prev_theirs {
            Some(s) => {
                let d = super::diff(s, &l.state.theirs);
                sync::protocol::ChangeCounts {
                    added: d.added.len() as u32,
                    changed: d.changed.len() as u32,
                    removed: d.removed.len() as u32,
                    unchanged: d.unchanged,
                }
            }
            None => sync::protocol::ChangeCounts {
                added: l.state.theirs.len() as u32,
                ..Default::default()
            },
        };
        crate::service::runs::write_report(
            &mut tx,
            &crate::service::runs::Reported {
                run_id,
                connection_id: id,
                settled: &l.state,
                cat: &cat,
                plan: &Plan::default(),
                next_ours: &l.state.ours,
                previous: (prev_ours.as_ref(), prev_theirs.as_ref()),
                errors: &out.errors,
                refused: &HashMap::new(),
                changes: &changes,
                columns: &Default::default(),
                import_id,
            },
            now,
        )
        .await?;
    }
    if query.save_mapping == Some(true) && !options.mapping.is_empty() {
        crate::store::connections::save_mapping(&mut tx, id, kind, &options.mapping, now).await?;
    }
    // What a load after the import gives, kept for the window (a load
    // would read the state and parse the stored file again): their records
    // as read are kept for the next load, mapped in the state. The lists
    // are in load order already (loaded, or kept so), and `cat`'s indices
    // point into them as they are.
    let record_count = out.records.len() as i64;
    let their = their_records_keep(
        their_key(kind, &sha, &options_json),
        TheirData {
            missing: l.state.missing.clone(),
            records: out.records,
            rows: row_hashes,
        },
    );
    let kept = as_loaded(&mut tx, l.connection, l.state, Some(their), l.value_maps).await?;
    tx.commit().await?;
    let kept = Computed::new(kept, cat);
    let kept = memo_put(store, kept.key(), kept);
    // The next preview (the next export) asks for the fingerprint, with
    // the rows of this import in it: made now, off the request, rather
    // than then (seconds at a million records).
    tokio::task::spawn_blocking(move || {
        kept.fingerprint();
    });
    let row = ImportRow {
        import_id,
        file_name: file_name.to_string(),
        sha256: sha,
        size_bytes: bytes.len() as i64,
        options: options_json,
        record_count,
        error_count: out.errors.len() as i64,
        summary,
        created_by: Some(actor.username.clone()),
        created_at: now,
    };
    Ok(ImportResult {
        import: import_info(&row),
        row_errors: out
            .errors
            .iter()
            .map(|e| ImportRowError {
                line: e.line,
                reason: e.reason.clone(),
            })
            .collect(),
        counts,
        revision,
    })
}

pub async fn imports(store: &Store, id: i64, kind: Kind) -> AppResult<Vec<ImportInfo>> {
    connection(store, id).await?;
    let mut c = store.sync_reader().await?;
    Ok(db::list_imports(&mut c, id, kind, 200)
        .await?
        .iter()
        .map(import_info)
        .collect())
}

/// The rows `keys` names in `category` (all of the category when `None`);
/// a named row that is not there is an error.
fn rows_named<'c>(
    state: &State,
    cat: &'c Categorized,
    category: Category,
    keys: &Option<Vec<String>>,
) -> AppResult<Vec<&'c Row>> {
    let rows = cat.rows(category);
    match keys {
        None => Ok(rows.iter().collect()),
        Some(keys) => {
            let by_key = rows_by_key(state, rows, keys.iter().map(String::as_str));
            keys.iter()
                .map(|k| {
                    by_key.get(k.as_str()).copied().ok_or_else(|| {
                        AppError::Conflict(format!(
                            "The row {k} is no longer under {}; reload to see it as it is now.",
                            category.label()
                        ))
                    })
                })
                .collect()
        }
    }
}

/// The rows of `rows` whose keys are among `keys`, by key: one pass that
/// writes each row's key once (rows hold no key text).
fn rows_by_key<'c, 'k>(
    state: &State,
    rows: impl IntoIterator<Item = &'c Row>,
    keys: impl IntoIterator<Item = &'k str>,
) -> HashMap<String, &'c Row> {
    let named: HashSet<&str> = keys.into_iter().collect();
    rows.into_iter()
        .map(|r| (r.key(state), r))
        .filter(|(k, _)| named.contains(k.as_str()))
        .collect()
}

/// The next free number of a series starting at `first` (digits keep their
/// width: 000100 is followed by 000101).
fn next_free(
    state: &State,
    current: &mut String,
    used: &mut std::collections::HashSet<String>,
) -> AppResult<String> {
    for _ in 0..1_000_000 {
        let candidate = current.clone();
        *current = increment(current).ok_or_else(|| {
            AppError::field(
                "numbering.first",
                "A series starts at a number that ends in digits.",
            )
        })?;
        let Ok(n) = state.rules.apply(&candidate) else {
            return Err(AppError::field(
                "numbering.first",
                format!("{candidate} does not pass their number rules."),
            ));
        };
        let key = state.key(&n);
        if used.insert(key) {
            return Ok(n);
        }
    }
    Err(AppError::field(
        "numbering.first",
        "No free number found in the series.",
    ))
}

fn increment(s: &str) -> Option<String> {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (prefix, num) = s.split_at(s.len() - digits);
    let next: u128 = num.parse::<u128>().ok()? + 1;
    Some(format!("{prefix}{next:0width$}", width = digits))
}

/// Turns a window operation into an engine plan.
fn plan_of(state: &State, cat: &Categorized, op: &WindowOp) -> AppResult<Plan> {
    let mut actions = Vec::new();
    match op {
        WindowOp::Plan { actions: a } => actions.extend(a.iter().cloned()),
        WindowOp::AcceptSuggestions { keys } => {
            for r in rows_named(state, cat, Category::New, keys)? {
                let Some(partner) = r.suggestion() else {
                    if keys.is_some() {
                        return Err(AppError::BadRequest(format!(
                            "The row {} has no suggested partner with the same number.",
                            r.key(state)
                        )));
                    }
                    continue;
                };
                // Lone records only: each pair once, from our side.
                if let Some(our) = r.our_number(state) {
                    actions.push(Action::Link {
                        our_number: our.to_string(),
                        their_number: partner.to_string(),
                    });
                } else if keys.is_some()
                    && let Some(their) = r.their_number(state)
                {
                    actions.push(Action::Link {
                        our_number: partner.to_string(),
                        their_number: their.to_string(),
                    });
                }
            }
            actions.dedup();
        }
        WindowOp::CreatePartners { keys, numbering } => {
            let mut series = match numbering {
                Numbering::Keep => None,
                Numbering::Series { first } => Some(first.trim().to_string()),
            };
            let mut used_theirs: std::collections::HashSet<String> =
                state.theirs.iter().map(|r| state.key(r.number())).collect();
            for p in &state.pending {
                used_theirs.insert(state.key(p.number()));
            }
            let mut used_ours: std::collections::HashSet<String> =
                state.ours.iter().map(|r| r.number().to_string()).collect();
            for r in rows_named(state, cat, Category::New, keys)? {
                if r.skipped_multiple || r.link_index().is_some() {
                    if keys.is_some() {
                        return Err(AppError::BadRequest(format!(
                            "The row {} cannot get a partner: its number is on several records.",
                            r.key(state)
                        )));
                    }
                    continue;
                }
                let (side, from) = match (r.our_number(state), r.their_number(state)) {
                    (Some(o), None) => (Side::Theirs, o.to_string()),
                    (None, Some(t)) => (Side::Ours, t.to_string()),
                    _ => continue,
                };
                let number = match (&mut series, side) {
                    (Some(cur), Side::Theirs) => next_free(state, cur, &mut used_theirs)?,
                    (Some(cur), Side::Ours) => {
                        let mut n = cur.clone();
                        while !used_ours.insert(n.clone()) {
                            n = increment(&n).ok_or_else(|| {
                                AppError::field(
                                    "numbering.first",
                                    "A series starts at a number that ends in digits.",
                                )
                            })?;
                        }
                        *cur = increment(&n).unwrap_or_default();
                        n
                    }
                    (None, _) => from.clone(),
                };
                actions.push(Action::Create {
                    side,
                    from_number: from,
                    number,
                });
            }
        }
        WindowOp::TakeSide { keys, field, side } => {
            for r in rows_named(state, cat, Category::Conflicts, keys)? {
                let mut p = resolve(state, r, *side);
                if let Some(f) = field {
                    p.actions
                        .retain(|a| matches!(a, Action::Set { field, .. } if field == f));
                }
                actions.extend(p.actions);
            }
        }
        WindowOp::ApplyPlanned { keys } => {
            let rows = rows_named(state, cat, Category::Synchronized, keys)?;
            let only = Categorized {
                synchronized: rows.into_iter().cloned().collect(),
                ..Default::default()
            };
            actions.extend(planned_updates(state, &only).actions);
        }
    }
    if actions.is_empty() {
        return Err(AppError::BadRequest(
            "There is nothing to do for these rows.".into(),
        ));
    }
    Ok(Plan { actions })
}

fn op_name(op: &WindowOp) -> &'static str {
    match op {
        WindowOp::Plan { .. } => "plan",
        WindowOp::AcceptSuggestions { .. } => "accept_suggestions",
        WindowOp::CreatePartners { .. } => "create_partners",
        WindowOp::TakeSide { .. } => "take_side",
        WindowOp::ApplyPlanned { .. } => "apply_planned",
    }
}

fn action_numbers(a: &Action) -> (Option<String>, Option<String>, &'static str) {
    let pair = |o: &String, t: &String| (Some(o.clone()), Some(t.clone()));
    let one = |side: Side, n: &String| match side {
        Side::Ours => (Some(n.clone()), None),
        Side::Theirs => (None, Some(n.clone())),
    };
    let ((our, their), name) = match a {
        Action::Link {
            our_number,
            their_number,
        } => (pair(our_number, their_number), "link"),
        Action::Unlink {
            our_number,
            their_number,
        } => (pair(our_number, their_number), "unlink"),
        Action::Stop {
            our_number,
            their_number,
        } => (pair(our_number, their_number), "stop"),
        Action::Start {
            our_number,
            their_number,
        } => (pair(our_number, their_number), "start"),
        Action::Create {
            side,
            from_number,
            number,
        } => (
            match side {
                Side::Theirs => pair(from_number, number),
                Side::Ours => pair(number, from_number),
            },
            "create_partner",
        ),
        Action::Set { side, number, .. } => (one(*side, number), "set"),
        Action::Deactivate { side, number } => (one(*side, number), "dont_synchronize"),
        Action::Resume { side, number } => (one(*side, number), "resume"),
    };
    (our, their, name)
}

fn search_text(r: &Record) -> String {
    match r.kind {
        Kind::Customer => Customers::search_text(&customer_input(r)),
        Kind::Employee => Employees::search_text(&employee_input(r)),
    }
}

fn customer_input(r: &Record) -> CustomerInput {
    CustomerInput {
        number: r.get(Field::Number).to_string(),
        name: r.get(Field::Name).to_string(),
        organisation_number: r.get(Field::OrganisationNumber).to_string(),
        street: r.get(Field::Street).to_string(),
        postal_code: r.get(Field::PostalCode).to_string(),
        city: r.get(Field::City).to_string(),
        country: r.get(Field::Country).to_string(),
        email: r.get(Field::Email).to_string(),
        phone: r.get(Field::Phone).to_string(),
        contact_person: r.get(Field::ContactPerson).to_string(),
        sales_rep_code: r.get(Field::SalesRepCode).to_string(),
        assigned_user_id: None,
        active: r.active(),
    }
}

fn employee_input(r: &Record) -> EmployeeInput {
    EmployeeInput {
        number: r.get(Field::Number).to_string(),
        first_name: r.get(Field::FirstName).to_string(),
        last_name: r.get(Field::LastName).to_string(),
        email: r.get(Field::Email).to_string(),
        phone: r.get(Field::Phone).to_string(),
        street: r.get(Field::Street).to_string(),
        postal_code: r.get(Field::PostalCode).to_string(),
        city: r.get(Field::City).to_string(),
        active: r.active(),
    }
}

/// Field-level problems of a record about to be written to our register.
fn validate_ours(r: &Record) -> Vec<sync::protocol::FieldError> {
    match r.kind {
        Kind::Customer => customer_input(r).validate(),
        Kind::Employee => employee_input(r).validate(),
    }
}

/// Our records that `next` creates or changes and that our register would
/// refuse, with the reasons.
pub(crate) fn invalid_ours(before: &State, next: &State) -> Vec<(String, String)> {
    let old: HashMap<&str, &Record> = before.ours.iter().map(|r| (r.number(), r)).collect();
    next.ours
        .iter()
        .filter(|r| !old.get(r.number()).is_some_and(|o| *o == *r))
        .filter_map(|r| {
            let errors = validate_ours(r);
            (!errors.is_empty()).then(|| {
                (
                    r.number().to_string(),
                    errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
        })
        .collect()
}

/// Writes what moved from `l`'s state to `next` (checked by
/// `invalid_ours` first): our register's created and changed records,
/// links, marks and pending changes; in the caller's transaction.
pub(crate) async fn write_state(
    tx: &mut AnyConnection,
    l: &Loaded,
    next: &State,
    now: i64,
) -> AppResult<()> {
    let id = l.connection.connection_id;
    let kind = l.state.kind;
    // A plan keeps our records where they were (new ones come after), so
    // each is compared with the one at its place; the lookup by number is
    // built only if one is not there.
    let mut by_number: Option<HashMap<&str, &Record>> = None;
    let mut ours_changed = false;
    for (i, r) in next.ours.iter().enumerate() {
        let old = match l.state.ours.get(i) {
            Some(o) if o.number() == r.number() => Some(o),
            _ => by_number
                .get_or_insert_with(|| l.state.ours.iter().map(|r| (r.number(), r)).collect())
                .get(r.number())
                .copied(),
        };
        if old.is_some_and(|o| o == r) {
            continue;
        }
        ours_changed = true;
        db::upsert_ours(tx, r, &search_text(r), now).await?;
    }
    if ours_changed {
        db::bump_register(tx, kind).await?;
    }
    db::save_links(tx, id, kind, &l.state.links, &next.links).await?;
    db::save_deactivations(tx, id, kind, &l.state.deactivated, &next.deactivated).await?;
    db::save_pending(tx, id, kind, &l.pending_rows, &next.pending, now).await?;
    Ok(())
}

/// The answer to an action, as kept for its idempotency key.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

fn request_hash(action: &WindowAction, id: i64, kind: Kind) -> String {
    let text = serde_json::to_vec(&(id, kind, action)).unwrap_or_default();
    sha256_hex(&text)
}

/// Carries out one window action in one transaction. With an idempotency
/// key, a repeat of the same request gets the first answer and changes
/// nothing; the key with another request is refused.
pub async fn act(
    store: &Store,
    actor: &Actor,
    id: i64,
    kind: Kind,
    action: &WindowAction,
    idempotency_key: Option<&str>,
) -> AppResult<Answer> {
    let hash = request_hash(action, id, kind);
    if let Some(key) = idempotency_key {
        if key.is_empty() || key.len() > 200 {
            return Err(AppError::BadRequest(
                "An Idempotency-Key has 1 to 200 characters.".into(),
            ));
        }
        let mut c = store.sync_reader().await?;
        if let Some(kept) = db::kept_answer(&mut c, actor.user_id, key).await? {
            return replay(kept, &hash);
        }
    }
    let conn = connection(store, id).await?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let revision = db::bump_revision(&mut tx, id, kind).await?;
    // The state before this action: the kept one, else loaded.
    let cached = kept_before_bump(store, &mut tx, &conn, kind, revision).await?;
    let fresh;
    let (l, cat): (&Loaded, &Categorized) = match &cached {
        Some(c) => (&c.loaded, &c.cat),
        None => {
            let l = load(&mut tx, conn, kind).await?;
            let cat = categorize(&l.state);
            fresh = (l, cat);
            (&fresh.0, &fresh.1)
        }
    };
    check_expected(&l.state, cat, &action.expect)?;
    let plan = plan_of(&l.state, cat, &action.op)?;
    let mut next =
        apply(&l.state, &plan).map_err(|e| AppError::field("actions", format!("{e}.")))?;

    let invalid = invalid_ours(&l.state, &next);
    if !invalid.is_empty() {
        return Err(AppError::field(
            "actions",
            format!(
                "Our register would get invalid values, so nothing was done: {}",
                invalid
                    .iter()
                    .map(|(n, m)| format!("{n}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
    write_state(&mut tx, l, &next, now).await?;

    let mut named: Named = Default::default();
    for a in &plan.actions {
        let (our, their, _) = action_numbers(a);
        named.0.extend(our);
        named.1.extend(their.map(|t| l.state.key(&t)));
    }
    let (pairs_before, pairs_after) = (
        Pairs::of(&l.state, Some(&named)),
        Pairs::of(&next, Some(&named)),
    );
    for a in &plan.actions {
        let (our, their, name) = action_numbers(a);
        let before = pairs_before.pair(our.as_deref(), their.as_deref());
        let after = pairs_after.pair(our.as_deref(), their.as_deref());
        db::insert_audit(
            &mut tx,
            &NewAudit {
                action: name,
                our_number: our.as_deref(),
                their_number: their.as_deref(),
                detail: &serde_json::json!({
                    "operation": op_name(&action.op),
                    "action": a,
                    "before": before,
                    "after": after,
                }),
                ..actor.audit(now, id, kind)
            },
        )
        .await?;
    }

    drop((pairs_before, pairs_after));
    // What a load after this action gives, kept for the window's next
    // request (and the next action) instead of loading it again.
    in_load_order(&mut next);
    let kept = as_loaded(
        &mut tx,
        l.connection.clone(),
        next,
        l.their.clone(),
        l.value_maps.clone(),
    )
    .await?;
    let next_cat = categorize(&kept.state);
    let result = ActionResult {
        applied: plan.actions.len() as u32,
        revision,
        counts: counts(&next_cat),
    };
    let kept = Computed::new(kept, next_cat);
    let body = serde_json::to_string(&result).map_err(|e| AppError::Internal(e.into()))?;
    if let Some(key) = idempotency_key {
        let kept = db::KeptAnswer {
            request_hash: hash.clone(),
            status: 200,
            body: body.clone(),
        };
        if !db::keep_answer(&mut tx, actor.user_id, key, &kept, now).await? {
            // Another request with this key finished first: give its answer.
            drop(tx);
            let mut c = store.sync_reader().await?;
            if let Some(kept) = db::kept_answer(&mut c, actor.user_id, key).await? {
                return replay(kept, &hash);
            }
            return Err(AppError::Conflict(
                "A request with this Idempotency-Key is in progress.".into(),
            ));
        }
    }
    tx.commit().await?;
    memo_put(store, kept.key(), kept);
    Ok(Answer { status: 200, body })
}

fn replay(kept: db::KeptAnswer, hash: &str) -> AppResult<Answer> {
    if kept.request_hash != hash {
        return Err(AppError::Coded {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            code: "idempotency_key_reused",
            message: "This Idempotency-Key was used for another request; use a new key for a new request.".into(),
        });
    }
    Ok(Answer {
        status: kept.status,
        body: kept.body,
    })
}

/// Both records' values as the audit trail shows them, looked up through
/// indexes built once per state (an action may touch a million pairs).
struct Pairs<'s> {
    state: &'s State,
    ours: HashMap<&'s str, &'s Record>,
    theirs: HashMap<String, u32>,
    links: HashMap<(&'s str, String), &'s sync::state::Link>,
    index: sync::state::PendingIndex,
    /// Partners created on their side that their data does not show yet.
    created: HashMap<String, &'s PendingChange>,
}

/// Our numbers and their keys an action's audit entries name.
type Named = (HashSet<String>, HashSet<String>);

impl<'s> Pairs<'s> {
    fn new(state: &'s State) -> Pairs<'s> {
        Pairs::of(state, None)
    }

    /// With `named`, only those records and links are indexed: an action on
    /// a few rows of a million need not index them all.
    fn of(state: &'s State, named: Option<&Named>) -> Pairs<'s> {
        let ours_named = |n: &str| named.is_none_or(|(o, _)| o.contains(n));
        let theirs_named = |k: &str| named.is_none_or(|(_, t)| t.contains(k));
        Pairs {
            state,
            ours: state
                .ours
                .iter()
                .filter(|r| ours_named(r.number()))
                .map(|r| (r.number(), r))
                .collect(),
            theirs: state
                .theirs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let k = sync::normalize::match_key(&state.rules, r.number());
                    theirs_named(&k).then(|| (k.into_owned(), i as u32))
                })
                .collect(),
            links: state
                .links
                .iter()
                .filter(|l| ours_named(&l.our_number))
                .map(|l| ((l.our_number.as_str(), state.key(&l.their_number)), l))
                .collect(),
            index: state.pending_index(),
            created: state
                .pending
                .iter()
                .filter(|p| matches!(p, PendingChange::Create { .. }))
                .map(|p| (state.key(p.number()), p))
                .rev()
                .collect(),
        }
    }

    fn pair(&self, our: Option<&str>, their: Option<&str>) -> serde_json::Value {
        let state = self.state;
        let fields = state.kind.fields();
        let obj = |r: &Record| -> serde_json::Value {
            fields
                .iter()
                .map(|f| {
                    (
                        f.as_str().to_string(),
                        serde_json::Value::String(r.get(*f).to_string()),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let ours = our.and_then(|n| self.ours.get(n)).map(|r| obj(r));
        let theirs = their.and_then(|n| {
            self.theirs
                .get(&state.key(n))
                .and_then(|i| {
                    state.effective_theirs_with(sync::categorize::Source::Record(*i), &self.index)
                })
                .or_else(|| match self.created.get(&state.key(n)) {
                    Some(PendingChange::Create { number, values }) => {
                        Some(sync::state::pending_record(state.kind, number, values))
                    }
                    _ => None,
                })
                .map(|r| obj(&r))
        });
        let link = match (our, their) {
            (Some(o), Some(t)) => self
                .links
                .get(&(o, state.key(t)))
                .map(|l| serde_json::json!({"active": l.active, "version": l.version})),
            _ => None,
        };
        serde_json::json!({ "ours": ours, "theirs": theirs, "link": link })
    }
}

fn record_pair(state: &State, our: Option<&str>, their: Option<&str>) -> serde_json::Value {
    Pairs::new(state).pair(our, their)
}

/// Refuses the action when a row the caller saw changed.
fn check_expected(state: &State, cat: &Categorized, expect: &[Expect]) -> AppResult<()> {
    if expect.is_empty() {
        return Ok(());
    }
    let index = state.pending_index();
    let mut changed = false;
    let mut now = Vec::new();
    // Rows by key when many are named (a search through a million rows
    // each otherwise).
    let by_key = (expect.len() > 4)
        .then(|| rows_by_key(state, cat.all(), expect.iter().map(|e| e.key.as_str())));
    for e in expect {
        let found = match &by_key {
            Some(m) => m.get(e.key.as_str()).copied(),
            None => find_row(state, cat, &e.key),
        };
        match found {
            Some(r) => {
                let w = window_row(state, &index, r);
                if w.token != e.token {
                    changed = true;
                }
                now.push(w);
            }
            None => changed = true,
        }
    }
    if changed {
        return Err(AppError::RowsChanged(now));
    }
    Ok(())
}

pub async fn pending(store: &Store, id: i64, kind: Kind) -> AppResult<Vec<PendingItem>> {
    connection(store, id).await?;
    let mut c = store.sync_reader().await?;
    Ok(db::load_pending(&mut c, id, kind)
        .await?
        .into_iter()
        .map(|p| PendingItem {
            pending_id: p.pending_id,
            change: p.change,
            created_at: p.created_at,
            delivered_at: p.delivered_at,
        })
        .collect())
}

pub async fn mark_delivered(
    store: &Store,
    actor: &Actor,
    id: i64,
    kind: Kind,
    through: i64,
) -> AppResult<u64> {
    connection(store, id).await?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    db::bump_revision(&mut tx, id, kind).await?;
    let n = db::mark_delivered(&mut tx, id, kind, through, now).await?;
    db::insert_audit(
        &mut tx,
        &NewAudit {
            action: "pending_delivered",
            detail: &serde_json::json!({ "through": through, "marked": n }),
            ..actor.audit(now, id, kind)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// A file format for exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Semicolon-separated UTF-8 with a byte-order mark, cells that a
    /// spreadsheet would run as formulas neutralized.
    Csv,
    /// Comma-separated UTF-8, exact values (for machines).
    Machine,
    /// An Excel workbook, every cell text.
    Xlsx,
}

/// Their records as they should be after the pending changes: created
/// partners and records with values set. `undelivered_only` limits it to
/// changes not yet marked delivered. Also answers the id of the last
/// change included (to mark delivered).
pub async fn export_pending(
    store: &Store,
    id: i64,
    kind: Kind,
    format: ExportFormat,
    undelivered_only: bool,
) -> AppResult<(Vec<u8>, Option<i64>)> {
    let c = computed(store, id, kind).await?;
    let l = &c.loaded;
    let rows: Vec<&PendingRow> = l
        .pending_rows
        .iter()
        .filter(|p| !undelivered_only || p.delivered_at.is_none())
        .collect();
    let last = rows.iter().map(|p| p.pending_id).max();
    // One line per record, with the change kind and every field.
    let mut numbers: Vec<(String, &'static str)> = Vec::new();
    for p in &rows {
        let (n, what) = match &p.change {
            PendingChange::Create { number, .. } => (number.clone(), "create"),
            PendingChange::Set { number, .. } => (number.clone(), "update"),
        };
        if let Some(e) = numbers.iter_mut().find(|(x, _)| *x == n) {
            if what == "create" {
                e.1 = "create";
            }
        } else {
            numbers.push((n, what));
        }
    }
    let index = &c.index;
    let records: Vec<(&'static str, Record)> = numbers
        .into_iter()
        .filter_map(|(n, what)| {
            let key = l.state.key(&n);
            let r = l
                .state
                .theirs
                .iter()
                .position(|r| l.state.key(r.number()) == key)
                .and_then(|i| {
                    l.state
                        .effective_theirs_with(sync::categorize::Source::Record(i as u32), index)
                })
                .or_else(|| pending_partner(&l.state, &n))?;
            Some((what, r))
        })
        .collect();
    Ok((write_records(kind, format, &records, true)?, last))
}

/// Every one of our records (after the rules, as their side would hold
/// them), for a first full load of their system.
pub async fn export_all(
    store: &Store,
    id: i64,
    kind: Kind,
    format: ExportFormat,
) -> AppResult<Vec<u8>> {
    let c = computed(store, id, kind).await?;
    let records: Vec<(&'static str, Record)> = c
        .loaded
        .state
        .ours
        .iter()
        .map(|r| ("", r.clone()))
        .collect();
    write_records(kind, format, &records, false)
}

/// Makes a cell safe to open in a spreadsheet: a leading `=`, `+`, `-`,
/// `@`, tab or carriage return would be read as a formula, so it gets a
/// leading apostrophe.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write_records(
    kind: Kind,
    format: ExportFormat,
    records: &[(&'static str, Record)],
    with_change: bool,
) -> AppResult<Vec<u8>> {
    let fields = kind.fields();
    let mut header: Vec<String> = Vec::new();
    if with_change {
        header.push("change".into());
    }
    header.extend(fields.iter().map(|f| f.as_str().to_string()));
    let rows = records.iter().map(|(what, r)| {
        let mut row: Vec<String> = Vec::new();
        if with_change {
            row.push(what.to_string());
        }
        row.extend(fields.iter().map(|f| r.get(*f).to_string()));
        row
    });
    match format {
        ExportFormat::Xlsx => {
            // Every cell is written as text: numbers keep their leading
            // zeros and nothing is ever a formula.
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            let xlsx = |e: rust_xlsxwriter::XlsxError| {
                AppError::Internal(anyhow::anyhow!("writing xlsx: {e}"))
            };
            sheet
                .set_name(if kind == Kind::Customer {
                    "Customers"
                } else {
                    "Employees"
                })
                .map_err(xlsx)?;
            for (i, row) in std::iter::once(header).chain(rows).enumerate() {
                for (j, v) in row.iter().enumerate() {
                    sheet.write_string(i as u32, j as u16, v).map_err(xlsx)?;
                }
            }
            book.save_to_buffer().map_err(xlsx)
        }
        ExportFormat::Csv | ExportFormat::Machine => {
            let mut out = Vec::new();
            if format == ExportFormat::Csv {
                out.extend_from_slice("\u{feff}".as_bytes());
            }
            {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(if format == ExportFormat::Csv {
                        b';'
                    } else {
                        b','
                    })
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(&mut out);
                let csv_err =
                    |e: csv::Error| AppError::Internal(anyhow::anyhow!("writing csv: {e}"));
                w.write_record(&header).map_err(csv_err)?;
                for row in rows {
                    let row: Vec<String> = match format {
                        ExportFormat::Csv => {
                            row.iter().map(|v| neutralize(v).into_owned()).collect()
                        }
                        _ => row,
                    };
                    w.write_record(&row).map_err(csv_err)?;
                }
                w.flush().map_err(|e| AppError::Internal(e.into()))?;
            }
            Ok(out)
        }
    }
}

pub async fn audit(
    store: &Store,
    kind: Option<Kind>,
    connection_id: Option<i64>,
    number: Option<&str>,
) -> AppResult<Vec<AuditEntry>> {
    let mut c = store.sync_reader().await?;
    Ok(db::list_audit(&mut c, kind, connection_id, number, 500).await?)
}

/// The connections a new customer may be synchronized to (anyone who may
/// create customers may see these).
pub async fn targets(store: &Store) -> AppResult<Vec<SyncTarget>> {
    Ok(store
        .list_connections()
        .await?
        .into_iter()
        .map(|c| SyncTarget {
            connection_id: c.connection_id,
            name: c.name,
            rules: c.customers.rules,
        })
        .collect())
}

/// Creates a customer and, in the same transaction, carries out the sync
/// choice: a partner in the other system (a pending change, linked), a
/// "Don't synchronize" mark, or nothing yet. A refused choice creates
/// nothing.
pub async fn create_customer(
    store: &Store,
    actor: &Actor,
    new: NewCustomer,
) -> AppResult<Customer> {
    let Some(choice) = new.sync else {
        return crate::service::registers::create::<Customers>(store, new.fields).await;
    };
    let input = crate::service::registers::check::<Customers>(store, new.fields, None).await?;
    let conn = store
        .get_connection(choice.connection_id)
        .await?
        .ok_or_else(|| AppError::field("sync.connection_id", "No such connection."))?;
    let id = conn.connection_id;
    let their_number = choice
        .their_number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&input.number)
        .to_string();
    if choice.decision == SyncDecision::Synchronize
        && let Err(e) = conn.customers.rules.apply(&their_number)
    {
        return Err(AppError::field(
            "sync.their_number",
            format!("{their_number} cannot be their number: {e}."),
        ));
    }
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    db::bump_revision(&mut tx, id, Kind::Customer).await?;
    db::bump_register(&mut tx, Kind::Customer).await?;
    let customer =
        match crate::store::registers::insert_in::<Customers>(&mut tx, &input, now).await? {
            WriteOutcome::Written(c) => c,
            WriteOutcome::Duplicate => {
                return Err(AppError::field(
                    "number",
                    format!("Another customer already has the number {}.", input.number),
                ));
            }
            WriteOutcome::MissingReference => {
                return Err(AppError::field("assigned_user_id", "No such user."));
            }
            WriteOutcome::NotFound | WriteOutcome::Stale(_) => {
                return Err(AppError::NotFound("customer"));
            }
        };
    let l = load(&mut tx, conn, Kind::Customer).await?;
    let action = match choice.decision {
        SyncDecision::Synchronize => Some(Action::Create {
            side: Side::Theirs,
            from_number: input.number.clone(),
            number: their_number.clone(),
        }),
        SyncDecision::DoNotSynchronize => Some(Action::Deactivate {
            side: Side::Ours,
            number: input.number.clone(),
        }),
        SyncDecision::ChooseLater => None,
    };
    let plan = Plan {
        actions: action.iter().cloned().collect(),
    };
    let next = apply(&l.state, &plan)
        .map_err(|e| AppError::field("sync.their_number", format!("{e}.")))?;
    db::save_links(&mut tx, id, Kind::Customer, &l.state.links, &next.links).await?;
    db::save_deactivations(
        &mut tx,
        id,
        Kind::Customer,
        &l.state.deactivated,
        &next.deactivated,
    )
    .await?;
    db::save_pending(
        &mut tx,
        id,
        Kind::Customer,
        &l.pending_rows,
        &next.pending,
        now,
    )
    .await?;
    let (our, their) = match choice.decision {
        SyncDecision::Synchronize => (Some(input.number.as_str()), Some(their_number.as_str())),
        _ => (Some(input.number.as_str()), None),
    };
    db::insert_audit(
        &mut tx,
        &NewAudit {
            action: "create_customer",
            our_number: our,
            their_number: their,
            detail: &serde_json::json!({
                "decision": choice.decision,
                "action": action,
                "before": serde_json::Value::Null,
                "after": record_pair(&next, our, their),
            }),
            ..actor.audit(now, id, Kind::Customer)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(customer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_numbers_keep_their_width() {
        assert_eq!(increment("000100").as_deref(), Some("000101"));
        assert_eq!(increment("K-99").as_deref(), Some("K-100"));
        assert_eq!(increment("ABC"), None);
    }

    #[test]
    fn formulas_are_neutralized_in_spreadsheet_exports() {
        for bad in ["=1+1", "+47 1", "-2", "@SUM(A1)", "\tx"] {
            assert!(neutralize(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(neutralize("Kari"), "Kari");
    }

    #[test]
    fn folded_contains_is_lowercase_contains() {
        for text in [
            "Kunde 12 AS",
            "TROMSØ",
            "Tromsø",
            "post@X.no",
            "",
            "ÆØÅ æøå",
            "İstanbul",
        ] {
            for q in [
                "kunde",
                "12 as",
                "tromsø",
                "x.no",
                "",
                "æø",
                "ø",
                "i̇stanbul",
                "zz",
            ] {
                assert_eq!(
                    contains_folded(text, q),
                    text.to_lowercase().contains(q),
                    "{text:?} {q:?}"
                );
            }
        }
    }

    #[test]
    fn a_scope_keeps_one_computed_window() {
        let a = memo_key(1, Kind::Customer, 3, (10, 2));
        assert_eq!(memo_scope(&a), "1:customer:");
        assert_eq!(
            memo_scope(&memo_key(1, Kind::Customer, 4, (11, 2))),
            "1:customer:"
        );
        assert_ne!(
            memo_scope(&memo_key(1, Kind::Employee, 3, (10, 2))),
            "1:customer:"
        );
        assert_ne!(
            memo_scope(&memo_key(12, Kind::Customer, 3, (10, 2))),
            "1:customer:"
        );
    }
}

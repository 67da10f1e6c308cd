//! Change tracking between two reads of one data set: a compact snapshot
//! (per record its key, a row fingerprint and per-field fingerprints, all
//! 64-bit hashes of normalized values), the diff of a new read against it,
//! and a guard that stops a run that would delete too much.
//!
//! The guard exists because an export cut short (a filter left on in the ERP,
//! a half-written file) looks exactly like mass deletion.
//!
//! A snapshot is stored between runs in its compact binary form
//! (`Snapshot::encode`), about 45-60 bytes per customer instead of the
//! hundred-odd of the plain hashes. Layout (integers LEB128 varints, hashes 8
//! bytes little-endian): `"PSSN"`, format version, kind (0 customer,
//! 1 employee), rules (flags byte: 1 digits only, 2 strip zeros; then
//! max_len + 1, 0 for none), fields (count, codes as in `fingerprint`),
//! entry count; per entry, in key order: the length of the prefix shared with
//! the previous key, the rest of the key (length, bytes), then per field
//! either the varint `n + 1` for the n-th distinct hash already seen in that
//! field's column, or `0` and the new hash (the first 65,536 distinct hashes
//! of a column get numbers, later ones are always written out). A column's
//! values repeat a lot
//! (cities, empty fields, `active`), so most fields cost one byte. The row
//! hash is not stored: it is `combine` of the field hashes. Last comes a
//! checksum of every byte before it, so damage is detected rather than read
//! as a different data set: in format 2 a hash of the bytes eight at a time
//! (`checksum`), in format 1 (still read) their FNV-1a 64, which costs a
//! multiply per byte, a third of decoding a million records. Formats 1 and
//! 2 hashed values with FNV-1a, format 3 with `normalize::ValueHash`; a
//! snapshot keeps its format's value hash (`Snapshot::version`), so one
//! stored by an older build is diffed correctly and rewritten in format 3
//! by the next run.

use std::borrow::Cow;

use crate::normalize::FastMap;

use serde::{Deserialize, Serialize};

use crate::fingerprint::{Cursor, FingerprintError, Keys, code_field, field_code, put_varint};
use crate::normalize::{FnvValueHash, combine, fnv1a, hash_field, hash_field_with, match_key, mix};
use crate::rules::NumberRules;
use crate::schema::{Field, Kind, Record};

/// One record of a snapshot. Its field hashes are borrowed from a snapshot
/// made from records, and read from the stored bytes of a decoded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry<'a> {
    pub key: &'a str,
    pub row: u64,
    pub fields: Cow<'a, [u64]>,
}

/// A data set reduced to fingerprints, sorted by key. Stored flat (all keys
/// in one string, all hashes in one vector) rather than as a `String` and a
/// `Vec` per record: a million records are then a few allocations.
///
/// A decoded snapshot keeps its field hashes in the bytes it was decoded
/// from (`FieldHashes::Encoded`): a diff needs them only for the records
/// whose row hash changed, and the bytes are about half the size of the
/// hashes written out (a server run holds the new data set's records and
/// the previous snapshot at once, so that half is its peak memory's).
/// Equality compares entries, not how they are kept.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub kind: Kind,
    pub rules: NumberRules,
    /// The fields fingerprinted, in `SnapshotEntry::fields` order: every
    /// field of the kind but the number.
    pub fields: Vec<Field>,
    /// The keys, sorted and unique.
    keys: Keys,
    /// Per entry, `combine` of its field hashes.
    rows: Vec<u64>,
    /// Per entry, `fields.len()` field hashes.
    hashes: FieldHashes,
    /// The format whose value hash the hashes are: formats 1 and 2 hashed
    /// values with FNV-1a, format 3 with `normalize::ValueHash`. A diff
    /// hashes the new records the snapshot's way, so a snapshot stored by an
    /// older build still tells unchanged records from changed ones.
    version: u32,
}

/// Where a snapshot's field hashes are.
#[derive(Debug, Clone)]
enum FieldHashes {
    /// Written out, `fields.len()` per entry (a snapshot made from records).
    Plain(Vec<u64>),
    /// Left in the encoded bytes the snapshot was decoded from (checked
    /// whole by `decode`): per entry where its field codes start, and per
    /// column the hashes that codes number.
    Encoded {
        bytes: Vec<u8>,
        at: Vec<u32>,
        columns: Vec<Vec<u64>>,
    },
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.kind == other.kind
            && self.rules == other.rules
            && self.fields == other.fields
            && self.version == other.version
            && self.keys == other.keys
            && self.rows == other.rows
            && self.entries().eq(other.entries())
    }
}

impl Eq for Snapshot {}

/// A field hash at `r`: a column's number (`n + 1`) or `0` and the hash.
/// `column` holds the numbered hashes.
fn column_hash(r: &mut Cursor<'_>, column: &[u64]) -> Result<u64, SnapshotError> {
    match r.varint()? {
        0 => Ok(r.u64()?),
        id => numbered(id, column),
    }
}

/// The hash numbered `id` (1-based) in `column`.
fn numbered(id: u64, column: &[u64]) -> Result<u64, SnapshotError> {
    usize::try_from(id - 1)
        .ok()
        .and_then(|i| column.get(i))
        .copied()
        .ok_or_else(|| SnapshotError::Damaged("hash id".into()))
}

impl Snapshot {
    /// An empty snapshot with room for `capacity` keys and rows; its field
    /// hashes are set by whoever fills it.
    fn empty(kind: Kind, rules: NumberRules, fields: Vec<Field>, capacity: usize) -> Snapshot {
        Snapshot {
            kind,
            rules,
            fields,
            keys: {
                let mut k = Keys::default();
                k.reserve(capacity, 0);
                k
            },
            rows: Vec::with_capacity(capacity),
            hashes: FieldHashes::Plain(Vec::new()),
            version: SNAPSHOT_VERSION,
        }
    }

    /// Hash of `field`'s value `raw`, as this snapshot's format hashes it.
    fn hash(&self, field: Field, raw: &str) -> u64 {
        if self.version < 3 {
            hash_field_with::<FnvValueHash>(field, raw)
        } else {
            hash_field(field, raw)
        }
    }

    /// The field hashes of `record`, as this snapshot hashes them.
    fn record_hashes<'s>(&'s self, record: &'s Record) -> impl Iterator<Item = u64> + 's {
        self.fields.iter().map(|f| self.hash(*f, record.get(*f)))
    }

    /// Fingerprints `records`. A key on several records keeps its first
    /// record (the diff reports the others as duplicates).
    pub fn of(kind: Kind, rules: &NumberRules, records: &[Record]) -> Snapshot {
        Snapshot::of_format(kind, rules, records, SNAPSHOT_VERSION)
    }

    /// `of`, hashing the way format `version` does.
    fn of_format(kind: Kind, rules: &NumberRules, records: &[Record], version: u32) -> Snapshot {
        let fields = kind.synced_fields();
        let keys: Vec<Cow<'_, str>> = records
            .iter()
            .map(|r| match_key(rules, r.number()))
            .collect();
        let mut order: Vec<u32> = (0..records.len() as u32).collect();
        // Stable: the first record of a repeated key stays first. Exports
        // sorted by number need no sort at all.
        if !keys.is_sorted() {
            order.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
        }
        order.dedup_by(|later, earlier| keys[*later as usize] == keys[*earlier as usize]);
        let width = fields.len();
        let mut snap = Snapshot::empty(kind, rules.clone(), fields, order.len());
        snap.version = version;
        snap.keys
            .reserve(0, order.iter().map(|i| keys[*i as usize].len()).sum());
        let mut hashes: Vec<u64> = Vec::with_capacity(order.len() * width);
        for i in order {
            let start = hashes.len();
            hashes.extend(snap.record_hashes(&records[i as usize]));
            snap.keys.push(&keys[i as usize]);
            snap.rows.push(combine(hashes[start..].iter().copied()));
        }
        snap.hashes = FieldHashes::Plain(hashes);
        snap
    }

    pub fn len(&self) -> u32 {
        self.keys.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key of entry `i` ("" past the end).
    pub fn key(&self, i: usize) -> &str {
        u32::try_from(i).map_or("", |i| self.keys.get(i))
    }

    /// Entry `i`, if there is one.
    pub fn entry(&self, i: usize) -> Option<SnapshotEntry<'_>> {
        Some(SnapshotEntry {
            key: self.key(i),
            row: *self.rows.get(i)?,
            fields: self.fields_at(i)?,
        })
    }

    /// The field hashes of entry `i`.
    fn fields_at(&self, i: usize) -> Option<Cow<'_, [u64]>> {
        let width = self.fields.len();
        Some(match &self.hashes {
            FieldHashes::Plain(hashes) => Cow::Borrowed(hashes.get(i * width..(i + 1) * width)?),
            FieldHashes::Encoded { bytes, at, columns } => {
                let mut r = Cursor {
                    bytes,
                    at: *at.get(i)? as usize,
                };
                let fields: Result<Vec<u64>, _> =
                    columns.iter().map(|c| column_hash(&mut r, c)).collect();
                Cow::Owned(fields.ok()?)
            }
        })
    }

    /// The entries in key order.
    pub fn entries(&self) -> impl Iterator<Item = SnapshotEntry<'_>> {
        (0..self.keys.len()).filter_map(|i| self.entry(i))
    }

    /// The index of the entry with `key`.
    /// Whether `record` is in the snapshot with the same values: one
    /// lookup, no allocation (what a report asks of every row).
    pub fn unchanged(&self, record: &Record) -> bool {
        let key = match_key(&self.rules, record.number());
        let Some(old_row) = self.find(&key).and_then(|at| self.rows.get(at)) else {
            return false;
        };
        combine(self.record_hashes(record)) == *old_row
    }

    fn find(&self, key: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The compact binary form (see the module doc).
    pub fn encode(&self) -> Vec<u8> {
        let width = self.fields.len();
        let mut w = Vec::with_capacity(32 + self.keys.len() * (8 + 3 * width));
        w.extend_from_slice(SNAPSHOT_MAGIC);
        // A snapshot read from an older format keeps it: its hashes are
        // that format's.
        put_varint(&mut w, u64::from(self.version));
        w.push(match self.kind {
            Kind::Customer => 0,
            Kind::Employee => 1,
        });
        w.push(u8::from(self.rules.digits_only) | (u8::from(self.rules.strip_leading_zeros) << 1));
        put_varint(&mut w, self.rules.max_len.map_or(0, |m| u64::from(m) + 1));
        put_varint(&mut w, width as u64);
        for f in &self.fields {
            w.push(field_code(*f));
        }
        put_varint(&mut w, self.keys.len() as u64);
        // Per column: hash -> 1-based id, in order of first appearance.
        let mut columns: Vec<FastMap<u64, u64>> = vec![FastMap::default(); width];
        let mut prev: &[u8] = &[];
        for e in self.entries() {
            let key = e.key.as_bytes();
            let shared = key.iter().zip(prev).take_while(|(a, b)| a == b).count();
            put_varint(&mut w, shared as u64);
            put_varint(&mut w, (key.len() - shared) as u64);
            w.extend_from_slice(&key[shared..]);
            prev = key;
            for (column, h) in columns.iter_mut().zip(e.fields.iter()) {
                if let Some(id) = column.get(h) {
                    put_varint(&mut w, *id);
                    continue;
                }
                if column.len() < COLUMN_IDS {
                    column.insert(*h, column.len() as u64 + 1);
                }
                w.push(0);
                w.extend_from_slice(&h.to_le_bytes());
            }
        }
        let sum = checksum(self.version, &w);
        w.extend_from_slice(&sum.to_le_bytes());
        w
    }

    /// Reads the binary form; refuses other versions and damaged bytes.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        Snapshot::decode_owned(bytes.to_vec())
    }

    /// `decode`, keeping `bytes` for the field hashes rather than writing
    /// them out (see `Snapshot`): what a server run does with the stored
    /// snapshot it loaded.
    pub fn decode_owned(bytes: Vec<u8>) -> Result<Snapshot, SnapshotError> {
        let (mut snap, at, columns) = Snapshot::decode_index(&bytes)?;
        snap.hashes = FieldHashes::Encoded { bytes, at, columns };
        Ok(snap)
    }

    /// Checks `bytes` whole and reads the keys and row hashes; answers
    /// also where each entry's field codes start and the columns' numbered
    /// hashes.
    #[allow(clippy::type_complexity)]
    fn decode_index(bytes: &[u8]) -> Result<(Snapshot, Vec<u32>, Vec<Vec<u64>>), SnapshotError> {
        if bytes.len() < 4 || &bytes[..4] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let mut r = Cursor { bytes, at: 4 };
        let version = r.varint()?;
        let version = match u32::try_from(version) {
            Ok(v @ 1..=SNAPSHOT_VERSION) => v,
            _ => {
                return Err(SnapshotError::UnsupportedVersion {
                    found: u32::try_from(version).unwrap_or(u32::MAX),
                });
            }
        };
        let body_len = bytes.len().checked_sub(8).ok_or(SnapshotError::Truncated)?;
        if body_len < r.at {
            return Err(SnapshotError::Truncated);
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[body_len..]);
        if checksum(version, &bytes[..body_len]) != u64::from_le_bytes(sum) {
            return Err(SnapshotError::Damaged("checksum mismatch".into()));
        }
        let mut r = Cursor {
            bytes: &bytes[..body_len],
            at: r.at,
        };
        let kind = match r.byte()? {
            0 => Kind::Customer,
            1 => Kind::Employee,
            k => return Err(SnapshotError::Damaged(format!("kind {k}"))),
        };
        let flags = r.byte()?;
        let max_len = match r.varint()? {
            0 => None,
            n => Some(u32::try_from(n - 1).map_err(|_| SnapshotError::Damaged("max_len".into()))?),
        };
        let rules = NumberRules {
            max_len,
            digits_only: flags & 1 != 0,
            strip_leading_zeros: flags & 2 != 0,
        };
        let width = r.count(1)?;
        let mut fields = Vec::with_capacity(width);
        for _ in 0..width {
            let code = r.byte()?;
            fields.push(
                code_field(code)
                    .ok_or_else(|| SnapshotError::Damaged(format!("field code {code}")))?,
            );
        }
        // An entry is at least two key varints and a byte per field.
        let n = r.count(2 + width)?;
        let mut snap = Snapshot::empty(kind, rules, fields, n);
        snap.version = version;
        let mut at: Vec<u32> = Vec::with_capacity(n);
        let mut entry: Vec<u64> = Vec::with_capacity(width);
        let mut columns: Vec<Vec<u64>> = vec![Vec::new(); width];
        let mut key_buf: Vec<u8> = Vec::new();
        for _ in 0..n {
            let shared = usize::try_from(r.varint()?).map_err(|_| SnapshotError::Truncated)?;
            if shared > key_buf.len() {
                return Err(SnapshotError::Damaged("key prefix".into()));
            }
            key_buf.truncate(shared);
            let rest = r.count(1)?;
            key_buf.extend_from_slice(r.take(rest)?);
            let key = std::str::from_utf8(&key_buf)
                .map_err(|_| SnapshotError::Damaged("key is not UTF-8".into()))?;
            if !snap.is_empty() && snap.key(snap.keys.len() - 1) >= key {
                return Err(SnapshotError::Damaged("keys out of order".into()));
            }
            at.push(u32::try_from(r.at).map_err(|_| SnapshotError::Damaged("too large".into()))?);
            entry.clear();
            for column in &mut columns {
                let h = match r.varint()? {
                    0 => {
                        let h = r.u64()?;
                        if column.len() < COLUMN_IDS {
                            column.push(h);
                        }
                        h
                    }
                    id => numbered(id, column)?,
                };
                entry.push(h);
            }
            snap.keys.push(key);
            snap.rows.push(combine(entry.iter().copied()));
        }
        if r.at != r.bytes.len() {
            return Err(SnapshotError::Damaged("trailing bytes".into()));
        }
        Ok((snap, at, columns))
    }
}

/// The snapshot format version written by this build. It reads this one and
/// every earlier one (1 and 2 differ in the checksum, 3 in the value hash:
/// `Snapshot::version`); later ones are refused.
pub const SNAPSHOT_VERSION: u32 = 3;

/// The checksum of a snapshot's bytes in format `version`. Format 2 takes a
/// word of eight bytes per step, each step a bijection of the state for a
/// given word, so a change in any one word always changes the sum; the
/// length seeds it, so the zero padding of the last word cannot hide bytes.
fn checksum(version: u32, bytes: &[u8]) -> u64 {
    if version < 2 {
        return fnv1a(bytes);
    }
    let step = |h: u64, w: [u8; 8]| mix(h, u64::from_le_bytes(w));
    let mut h = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = step(h, w);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = step(h, w);
    }
    h ^ (h >> 29)
}

const SNAPSHOT_MAGIC: &[u8; 4] = b"PSSN";

/// The most distinct hashes a column numbers. Columns that repeat (cities,
/// postal codes, empty fields) stay well below it; in columns of unique
/// values (names, emails) numbering would save nothing and cost a map as
/// large as the data set, so hashes past it are written out. Part of the
/// format: the decoder numbers exactly the same hashes.
const COLUMN_IDS: usize = 1 << 16;

/// Why bytes are not a snapshot this build can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SnapshotError {
    #[error("not a snapshot")]
    BadMagic,
    #[error("snapshot format {found} is not supported (this build reads 1 to {SNAPSHOT_VERSION})")]
    UnsupportedVersion { found: u32 },
    #[error("the snapshot is cut short")]
    Truncated,
    #[error("the snapshot is damaged: {0}")]
    Damaged(String),
}

/// The snapshot's reader is the fingerprint's: the same varints, counts
/// and checks; its errors read as the snapshot's.
impl From<FingerprintError> for SnapshotError {
    fn from(e: FingerprintError) -> Self {
        match e {
            FingerprintError::Truncated => SnapshotError::Truncated,
            FingerprintError::Damaged(m) => SnapshotError::Damaged(m),
            other => SnapshotError::Damaged(other.to_string()),
        }
    }
}

/// A record whose values changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// Index into the new records.
    pub index: u32,
    pub key: String,
    pub fields: Vec<Field>,
}

/// What changed between a snapshot and a new read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// Indices into the new records.
    pub added: Vec<u32>,
    pub changed: Vec<Changed>,
    /// Keys of the snapshot no new record has.
    pub removed: Vec<String>,
    pub unchanged: u32,
    /// Indices of new records repeating an earlier record's key: not
    /// compared, since which one is "the" record would be a guess.
    pub duplicates: Vec<u32>,
}

/// Compares `records` with `snapshot`.
pub fn diff(snapshot: &Snapshot, records: &[Record]) -> Diff {
    diff_threaded(snapshot, records, 1)
}

/// `diff`, with the records' row hashes (most of its time) computed in
/// `threads` parts at once natively: the same answer, sooner. The server
/// diffs this way.
pub fn diff_threaded(snapshot: &Snapshot, records: &[Record], threads: usize) -> Diff {
    let rows = row_hashes(snapshot, records, threads);
    let mut out = Diff::default();
    // Keys the snapshot has are marked by position; only added keys need a
    // set of their own (for repeats).
    let mut seen = vec![false; snapshot.len() as usize];
    let mut added: FastMap<Cow<'_, str>, ()> = FastMap::default();
    let mut hashes: Vec<u64> = Vec::with_capacity(snapshot.fields.len());
    // Exports usually keep their order, so the next record's entry is
    // tried first, before a binary search.
    let mut next = 0usize;
    for (i, r) in records.iter().enumerate() {
        let key = match_key(&snapshot.rules, r.number());
        let found = if next < seen.len() && snapshot.key(next) == key {
            Some(next)
        } else {
            snapshot.find(&key)
        };
        let Some(at) = found else {
            if added.insert(key, ()).is_some() {
                out.duplicates.push(i as u32);
            } else {
                out.added.push(i as u32);
            }
            continue;
        };
        next = at + 1;
        if std::mem::replace(&mut seen[at], true) {
            out.duplicates.push(i as u32);
            continue;
        }
        if snapshot.rows.get(at) == rows.get(i) {
            out.unchanged += 1;
            continue;
        }
        // The field hashes only for a record that changed (a decoded
        // snapshot reads its old ones from its bytes).
        let Some(old_fields) = snapshot.fields_at(at) else {
            continue;
        };
        hashes.clear();
        hashes.extend(snapshot.record_hashes(r));
        let fields = snapshot
            .fields
            .iter()
            .zip(hashes.iter().zip(old_fields.iter()))
            .filter(|(_, (a, b))| a != b)
            .map(|(f, _)| *f)
            .collect();
        out.changed.push(Changed {
            index: i as u32,
            key: key.into_owned(),
            fields,
        });
    }
    // Snapshot order is key order, so `removed` comes out sorted.
    out.removed = seen
        .iter()
        .enumerate()
        .filter(|(_, seen)| !**seen)
        .map(|(i, _)| snapshot.key(i).to_string())
        .collect();
    out
}

/// The row hash of each of `records` as `snapshot` hashes them, in
/// `threads` parts at once (natively, for many records).
fn row_hashes(snapshot: &Snapshot, records: &[Record], threads: usize) -> Vec<u64> {
    let row = |r: &Record| combine(snapshot.record_hashes(r));
    let mut rows = vec![0u64; records.len()];
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && records.len() >= 1 << 16 {
        let per = records.len().div_ceil(threads);
        std::thread::scope(|s| {
            for (out, part) in rows.chunks_mut(per).zip(records.chunks(per)) {
                s.spawn(move || {
                    for (o, r) in out.iter_mut().zip(part) {
                        *o = row(r);
                    }
                });
            }
        });
        return rows;
    }
    #[cfg(target_arch = "wasm32")]
    let _ = threads;
    for (o, r) in rows.iter_mut().zip(records) {
        *o = row(r);
    }
    rows
}

/// Limits on deletions in one run: a fraction of the snapshot, a count, or
/// both (either one trips the guard).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteGuard {
    /// E.g. 0.2: at most a fifth of the records may go.
    pub max_fraction: Option<f64>,
    pub max_count: Option<u32>,
}

/// A diff the guard stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{removed} of {total} records would be deleted; {limit}")]
pub struct GuardTripped {
    pub removed: u32,
    pub total: u32,
    pub limit: String,
}

impl DeleteGuard {
    /// `Err` when `diff` deletes more than the guard allows.
    pub fn check(&self, snapshot: &Snapshot, diff: &Diff) -> Result<(), GuardTripped> {
        let removed = diff.removed.len() as u32;
        let total = snapshot.len();
        if let Some(max) = self.max_count
            && removed > max
        {
            return Err(GuardTripped {
                removed,
                total,
                limit: format!("at most {max} may be deleted in one run"),
            });
        }
        if let Some(f) = self.max_fraction
            && total > 0
            && f64::from(removed) > f * f64::from(total)
        {
            return Err(GuardTripped {
                removed,
                total,
                limit: format!("at most {:.0}% may be deleted in one run", f * 100.0),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::normalize::field_hashes;

    fn cust(n: &str, name: &str, city: &str) -> Record {
        Record::from_pairs(
            Kind::Customer,
            &[(Field::Number, n), (Field::Name, name), (Field::City, city)],
        )
    }

    #[test]
    fn diff_finds_added_changed_removed_unchanged() {
        let old = vec![
            cust("1", "A", "Oslo"),
            cust("2", "B", "Oslo"),
            cust("3", "C", "Oslo"),
        ];
        let snap = Snapshot::of(Kind::Customer, &NumberRules::default(), &old);
        let new = vec![
            cust("2", " B ", "Bergen"),
            cust("1", "A", "Oslo"),
            cust("4", "D", ""),
            cust("4", "D2", ""),
        ];
        let d = diff(&snap, &new);
        assert_eq!(d.added, vec![2]);
        assert_eq!(
            d.changed,
            vec![Changed {
                index: 0,
                key: "2".into(),
                fields: vec![Field::City]
            }]
        );
        assert_eq!(d.removed, vec!["3".to_string()]);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.duplicates, vec![3]);
    }

    #[test]
    fn snapshot_round_trips_compactly() {
        let old: Vec<Record> = (0..2_000)
            .map(|i| {
                cust(
                    &format!("{:07}", i),
                    &format!("Kunde {i} AS"),
                    ["Oslo", "Bergen"][i % 2],
                )
            })
            .chain([cust("ÅB-1", "Ærlig", ""), cust("", "No number", "Oslo")])
            .collect();
        let rules = NumberRules {
            max_len: Some(9),
            digits_only: false,
            strip_leading_zeros: true,
        };
        let snap = Snapshot::of(Kind::Customer, &rules, &old);
        let bytes = snap.encode();
        assert_eq!(Snapshot::decode(&bytes), Ok(snap.clone()));
        // Key, a new name hash and a byte for each repeating field.
        let per = bytes.len() as f64 / old.len() as f64;
        assert!(per < 24.0, "{per} bytes per record");
        let empty = Snapshot::of(Kind::Employee, &NumberRules::default(), &[]);
        assert_eq!(Snapshot::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn columns_past_the_numbering_limit_round_trip() {
        // Unique names overflow the name column's numbers; the cities
        // (repeating) keep theirs.
        let old: Vec<Record> = (0..COLUMN_IDS + 300)
            .map(|i| cust(&i.to_string(), &format!("N{i}"), ["A", "B", "C"][i % 3]))
            .collect();
        let snap = Snapshot::of(Kind::Customer, &NumberRules::default(), &old);
        assert_eq!(Snapshot::decode(&snap.encode()), Ok(snap));
    }

    #[test]
    fn damaged_or_foreign_snapshots_are_refused() {
        let old = vec![cust("1", "A", "Oslo"), cust("2", "B", "Bergen")];
        let bytes = Snapshot::of(Kind::Customer, &NumberRules::default(), &old).encode();
        assert_eq!(Snapshot::decode(b"PSFP\x01"), Err(SnapshotError::BadMagic));
        let mut v = bytes.clone();
        v[4] = 7;
        assert_eq!(
            Snapshot::decode(&v),
            Err(SnapshotError::UnsupportedVersion { found: 7 })
        );
        // Every prefix and every flipped bit is an error, never a panic or
        // a different snapshot.
        for cut in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 5..bytes.len() {
            for bit in 0..8 {
                let mut v = bytes.clone();
                v[i] ^= 1 << bit;
                assert!(Snapshot::decode(&v).is_err(), "byte {i} bit {bit}");
            }
        }
        // Bytes that pass the checksum but lie inside are damage too.
        let mut body = bytes[..bytes.len() - 8].to_vec();
        let at = body.len() - 1;
        body[at] = 0x7f; // A hash id no column has.
        let sum = checksum(SNAPSHOT_VERSION, &body);
        body.extend_from_slice(&sum.to_le_bytes());
        assert!(matches!(
            Snapshot::decode(&body),
            Err(SnapshotError::Damaged(_))
        ));
    }

    #[test]
    fn snapshots_of_older_formats_are_read_and_diffed_with_their_hash() {
        let rules = NumberRules::default();
        let old = vec![cust("1", "A", "Oslo"), cust("2", "B  AS", "Bergen")];
        let new = vec![cust("1", "A", "Oslo"), cust("2", "B AS", "Trondheim")];
        for version in [2, 3] {
            let bytes = Snapshot::of_format(Kind::Customer, &rules, &old, version).encode();
            assert_eq!(bytes[4], version as u8);
            let snap = Snapshot::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
            // Re-encoded, it stays in its format.
            assert_eq!(snap.encode(), bytes);
            assert!(snap.unchanged(&old[0]));
            let d = diff(&snap, &new);
            assert_eq!((d.unchanged, d.changed.len()), (1, 1), "format {version}");
            assert_eq!(d.changed[0].fields, vec![Field::City], "format {version}");
        }
        // The formats' value hashes differ, so a snapshot read in the wrong
        // one would find every record changed.
        assert_ne!(
            hash_field(Field::City, "Oslo"),
            hash_field_with::<FnvValueHash>(Field::City, "Oslo")
        );
    }

    #[test]
    fn snapshots_stored_in_format_1_are_still_read() {
        let old = vec![cust("1", "A", "Oslo"), cust("2", "B", "Bergen")];
        let snap = Snapshot::of_format(Kind::Customer, &NumberRules::default(), &old, 2);
        let bytes = snap.encode();
        assert_eq!(bytes[4], 2);
        // The same body as format 1 wrote it: version 1, FNV-1a checksum.
        let mut v1 = bytes[..bytes.len() - 8].to_vec();
        v1[4] = 1;
        let sum = fnv1a(&v1);
        v1.extend_from_slice(&sum.to_le_bytes());
        let read = Snapshot::decode(&v1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.version, 1);
        assert!(read.entries().eq(snap.entries()));
        assert_eq!(diff(&read, &old).unchanged, 2);
        // A format 1 body with a format 2 checksum is damage.
        let mut mixed = v1[..v1.len() - 8].to_vec();
        let sum = checksum(2, &mixed);
        mixed.extend_from_slice(&sum.to_le_bytes());
        assert!(Snapshot::decode(&mixed).is_err());
        // Bytes that differ only in trailing zeros have different sums.
        assert_ne!(checksum(2, b"abc"), checksum(2, b"abc\0"));
    }

    /// The diff written the plain way: a map from key to the first
    /// record's hashes, a set of seen keys.
    fn reference_diff(old: &[Record], rules: &NumberRules, new: &[Record]) -> Diff {
        use std::collections::{BTreeMap, BTreeSet};
        let fields = Kind::Customer.synced_fields();
        let mut snap: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for r in old {
            snap.entry(rules.key(r.number()))
                .or_insert_with(|| field_hashes(r, &fields));
        }
        let mut out = Diff::default();
        let mut seen = BTreeSet::new();
        for (i, r) in new.iter().enumerate() {
            let key = rules.key(r.number());
            if !seen.insert(key.clone()) {
                out.duplicates.push(i as u32);
                continue;
            }
            let Some(before) = snap.get(&key) else {
                out.added.push(i as u32);
                continue;
            };
            let now = field_hashes(r, &fields);
            if now == *before {
                out.unchanged += 1;
                continue;
            }
            out.changed.push(Changed {
                index: i as u32,
                key,
                fields: fields
                    .iter()
                    .zip(now.iter().zip(before))
                    .filter(|(_, (a, b))| a != b)
                    .map(|(f, _)| *f)
                    .collect(),
            });
        }
        out.removed = snap
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        out
    }

    #[test]
    fn diff_equals_the_plain_diff_on_shuffled_repeated_keys() {
        // A small linear congruential generator: the same cases everywhere.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) % m
        };
        let numbers = [
            "1", "01", "001", "2", "02", "10", " 3", "3 ", "a1", "A1", "Ø", "0", "00",
        ];
        let cities = ["Oslo", "Bergen", " Oslo", ""];
        for case in 0..300 {
            let rules = NumberRules {
                strip_leading_zeros: case % 2 == 0,
                ..NumberRules::default()
            };
            let gen_side = |next: &mut dyn FnMut(u64) -> u64| -> Vec<Record> {
                let len = next(12);
                (0..len)
                    .map(|_| {
                        let n = numbers[next(numbers.len() as u64) as usize];
                        let c = cities[next(cities.len() as u64) as usize];
                        cust(n, if next(3) == 0 { "B" } else { "A" }, c)
                    })
                    .collect()
            };
            let old = gen_side(&mut next);
            let new = gen_side(&mut next);
            let snap = Snapshot::of(Kind::Customer, &rules, &old);
            let got = diff(&snap, &new);
            assert_eq!(got, reference_diff(&old, &rules, &new), "case {case}");
            let decoded = Snapshot::decode(&snap.encode());
            assert_eq!(decoded.map(|s| diff(&s, &new)), Ok(got), "case {case}");
        }
    }

    /// A decoded snapshot reads its field hashes from its bytes only when
    /// asked: past a column's numbered hashes (written out) as well as
    /// within them, they are the hashes the snapshot was made with.
    #[test]
    fn a_decoded_snapshot_reads_field_hashes_from_its_bytes() {
        let n = COLUMN_IDS + 100;
        let old: Vec<Record> = (0..n)
            .map(|i| cust(&format!("{i:06}"), "A", &format!("City {i}")))
            .collect();
        let snap = Snapshot::of(Kind::Customer, &NumberRules::default(), &old);
        let bytes = snap.encode();
        let decoded = Snapshot::decode_owned(bytes.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(decoded.hashes, FieldHashes::Encoded { .. }));
        assert_eq!(decoded, snap);
        for i in [0, 1, COLUMN_IDS - 1, COLUMN_IDS, n - 1] {
            assert_eq!(decoded.entry(i), snap.entry(i), "entry {i}");
        }
        assert_eq!(decoded.encode(), bytes);
        let mut new = old.clone();
        new[n - 1] = cust(&format!("{:06}", n - 1), "A", "Elsewhere");
        new[3] = cust("000003", "B", "City 3");
        let d = diff(&decoded, &new);
        assert_eq!(d, diff(&snap, &new));
        assert_eq!(diff_threaded(&decoded, &new, 3), d);
        let changed: Vec<(u32, Vec<Field>)> = d
            .changed
            .iter()
            .map(|c| (c.index, c.fields.clone()))
            .collect();
        assert_eq!(
            changed,
            vec![(3, vec![Field::Name]), (n as u32 - 1, vec![Field::City])]
        );
    }

    #[test]
    fn guard_stops_mass_deletion() {
        let old: Vec<Record> = (0..10).map(|i| cust(&i.to_string(), "X", "")).collect();
        let snap = Snapshot::of(Kind::Customer, &NumberRules::default(), &old);
        let d = diff(&snap, &old[..7]);
        assert_eq!(d.removed.len(), 3);
        let check = |g: DeleteGuard, ok: bool| assert_eq!(g.check(&snap, &d).is_ok(), ok, "{g:?}");
        check(DeleteGuard::default(), true);
        check(
            DeleteGuard {
                max_fraction: Some(0.2),
                max_count: None,
            },
            false,
        );
        check(
            DeleteGuard {
                max_fraction: Some(0.5),
                max_count: Some(3),
            },
            true,
        );
        check(
            DeleteGuard {
                max_fraction: None,
                max_count: Some(2),
            },
            false,
        );
    }
}

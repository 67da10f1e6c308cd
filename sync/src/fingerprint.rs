//! The preview fingerprint: a compact, versioned form of the server's state
//! from which the browser computes, for a file it has just read, exactly the
//! categories (counts and row keys) the server will compute from the full
//! state with the same import.
//!
//! It holds the side that is not being imported (the "fixed" side) as keys
//! and 64-bit hashes of normalized values, plus the links, the "Don't
//! synchronize" marks and the pending changes, all hashed. Per-field hashes
//! are kept only where the row hash cannot decide a conflict (a linked record
//! that changed since its base, or one a pending change touches), so an
//! in-sync linked record costs about 24 bytes.
//!
//! Binary layout (all integers LEB128 varints unless noted; strings are a
//! varint length and UTF-8 bytes; hashes are 8 bytes little-endian):
//! `"PSFP"`, format version, revision, kind (0 customer, 1 employee),
//! imported side (0 ours, 1 theirs), rules (flags byte: 1 digits only,
//! 2 strip zeros; then max_len + 1, 0 for none), synced fields (count, codes);
//! fixed entries (count; each: key, flags byte: 1 active, 2 has fields; row
//! hash; field hashes if flagged); links (count; each: our key, flags byte:
//! 1 active, 2 their key equals our key, 4 base fields follow, 8 base row
//! equals the row of the fixed record with the link's key, the only one with
//! it; their key unless flagged; then, if 8 is flagged, where that record is
//! (zigzag varint: its index less one past the previous such link's record,
//! so links in record order take a byte each), else the base row; base
//! field hashes if flagged); marks (count of our keys, keys,
//! count of their keys, keys); pending (count; each: 0 create (key, active
//! byte, field hashes) or 1 set (key, field index + 1 or 0, from, to));
//! known rows (a byte: 0 none, 1 then the shape (8 bytes), the count, and
//! per row: a flags byte (1 active, 2 its key is the key of the only fixed
//! entry with it, 4 and so is its row hash), its text's hash; then where
//! that entry is, as for a link's base (a zigzag varint from the last such
//! row's entry, one past it), or else the key; its row hash unless flagged
//! 4). A record whose key is one of our records' takes ten bytes when
//! its row hash is that record's too, else eighteen (a field their file has
//! no column for hashes otherwise on their side).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::append::same_bytes;
use crate::normalize::{FastMap, HashedMap};

use serde::{Deserialize, Serialize};

use crate::categorize::{
    ABSENT, Entry, Input, KeyIndex, KeyList, LinkEntry, PendingEntry, Slot, Source, Summary,
    UNKNOWN, categorize_input, count_input, overlay,
};
use crate::normalize::{combine, hash_field, match_key};
use crate::protocol::{CategoryCounts, ValueMapping};
use crate::read::{RecordSink, RowHashes};
use crate::rules::{NumberRules, mappable, mapped_value};
use crate::schema::{Field, Kind, MAX_VALUES, Record, Side};
use crate::state::{State, hash_reusing};

/// The format version written by this build. A fingerprint of another
/// version is refused, so a browser never previews against a layout it
/// misreads.
pub const FORMAT_VERSION: u32 = 5;

const MAGIC: &[u8; 4] = b"PSFP";

/// A matching key as a fingerprint holds it: its place in
/// `Fingerprint::keys`.
pub type Key = u32;

/// Keys one after another in one string, with where each ends: a million
/// keys are a few allocations and twelve bytes or so each, and a link whose
/// two keys are equal names one key twice. Fingerprints, the preview's
/// hasher and snapshots keep their keys this way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    text: String,
    ends: Vec<u32>,
}

impl Keys {
    /// The keys as bytes, little-endian: the text's length (u32), the
    /// text, then where each key ends (u32 each).
    fn write_le(&self, w: &mut Vec<u8>) {
        let text_len = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        w.extend_from_slice(&text_len.to_le_bytes());
        w.extend_from_slice(self.text.as_bytes());
        for e in &self.ends {
            w.extend_from_slice(&e.to_le_bytes());
        }
    }

    /// Reads `n` keys as `write_le` wrote them. Sizes are checked against
    /// the bytes before anything is allocated; ends out of order, past the
    /// text or inside a character are damage.
    fn read_le(r: &mut Cursor<'_>, n: usize) -> Result<Keys, FingerprintError> {
        let b = r.take(4)?;
        let text_len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let text = std::str::from_utf8(r.take(text_len)?)
            .map_err(|_| FingerprintError::Damaged("keys are not UTF-8".into()))?;
        let ends: Vec<u32> = r
            .take(n.checked_mul(4).ok_or(FingerprintError::Truncated)?)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if !ends_fit(text, &ends) {
            return Err(FingerprintError::Damaged("key ends".into()));
        }
        Ok(Keys {
            text: text.to_string(),
            ends,
        })
    }

    /// Adds `key`; returns its place.
    pub fn push(&mut self, key: &str) -> Key {
        crate::append::push_str(&mut self.text, key);
        push_end(&mut self.ends, self.text.len())
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Room for `keys` more keys of `bytes` bytes in all.
    pub fn reserve(&mut self, keys: usize, bytes: usize) {
        self.ends.reserve(keys);
        self.text.reserve(bytes);
    }

    /// The key at `at` (empty past the end).
    pub fn get(&self, at: Key) -> &str {
        self.text.get(key_range(&self.ends, at)).unwrap_or("")
    }
}

/// Where key `at` is in the text of keys that end at `ends` (empty past
/// the end).
fn key_range(ends: &[u32], at: Key) -> std::ops::Range<usize> {
    let i = at as usize;
    let start = match i {
        0 => 0,
        _ => ends.get(i - 1).copied().unwrap_or(0) as usize,
    };
    start..ends.get(i).copied().unwrap_or(0) as usize
}

/// Ends a key at `text_len`; gives its place.
fn push_end(ends: &mut Vec<u32>, text_len: usize) -> Key {
    ends.push(u32::try_from(text_len).unwrap_or(u32::MAX));
    u32::try_from(ends.len() - 1).unwrap_or(u32::MAX)
}

/// True when `ends` can be where the keys of `text` end: in order, within
/// the text, each between two characters (then each key is UTF-8 by
/// itself).
fn ends_fit(text: &str, ends: &[u32]) -> bool {
    let mut last = 0u32;
    ends.iter().all(|&e| {
        let fits = e >= last && text.is_char_boundary(e as usize);
        last = e;
        fits
    })
}

/// `Keys` as a fingerprint's decoding reads them: bytes, checked as UTF-8
/// once all are read (`into_keys`) instead of one key at a time; a million
/// keys of a few bytes each made that check a tenth of decoding in the
/// browser.
#[derive(Default)]
struct RawKeys {
    text: Vec<u8>,
    ends: Vec<u32>,
}

impl RawKeys {
    #[inline]
    fn push(&mut self, key: &[u8]) -> Key {
        crate::append::extend(&mut self.text, key);
        push_end(&mut self.ends, self.text.len())
    }

    #[inline]
    fn get(&self, at: Key) -> &[u8] {
        self.text.get(key_range(&self.ends, at)).unwrap_or(&[])
    }

    /// Room for `n` more keys of a usual length (a customer number of a
    /// few digits), so the lists are not copied as they double; `n` is
    /// a count the bytes left could hold (`Cursor::count`).
    fn reserve(&mut self, n: usize) {
        self.ends.reserve(n);
        self.text.reserve(n.saturating_mul(8));
    }

    /// The keys, when their text is UTF-8 and each ends between two
    /// characters (`ends_fit`; pushed keys are in order and within it).
    fn into_keys(self) -> Result<Keys, FingerprintError> {
        let text = String::from_utf8(self.text)
            .map_err(|_| FingerprintError::Damaged("key is not UTF-8".into()))?;
        if !ends_fit(&text, &self.ends) {
            return Err(FingerprintError::Damaged("key is not UTF-8".into()));
        }
        Ok(Keys {
            text,
            ends: self.ends,
        })
    }
}

/// A record of the fixed side, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedEntry {
    pub key: Key,
    pub active: bool,
    pub row: u64,
    /// Its field hashes, as a slot of `Fingerprint::hashes`.
    pub fields: Option<Slot>,
}

/// The keys of the fixed entries, in their order: what the encoding's
/// links and known rows find their fixed entry by.
struct FixedKeys<'f> {
    keys: &'f Keys,
    fixed: &'f [FixedEntry],
}

impl KeyList for FixedKeys<'_> {
    fn count(&self) -> usize {
        self.fixed.len()
    }
    fn key_at(&self, i: usize) -> &str {
        self.fixed.get(i).map_or("", |e| self.keys.get(e.key))
    }
}

/// A link, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedLink {
    pub our_key: Key,
    pub their_key: Key,
    pub active: bool,
    pub base_row: u64,
    /// The base's field hashes, as a slot of `Fingerprint::hashes`.
    pub base_fields: Option<Slot>,
}

/// A pending change, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FixedPending {
    Create {
        key: String,
        active: bool,
        fields: Vec<u64>,
    },
    Set {
        key: String,
        field: Option<u32>,
        from: u64,
        to: u64,
    },
}

/// The server's state, reduced to what a preview needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub format_version: u32,
    /// The caller's revision of the state (e.g. a counter bumped on every
    /// change): a preview carries it back, so an outdated one is detected.
    pub revision: u64,
    pub kind: Kind,
    /// The side the browser will read a file for.
    pub imported: Side,
    pub rules: NumberRules,
    pub synced: Vec<Field>,
    /// The keys of `fixed` and `links`.
    pub keys: Keys,
    pub fixed: Vec<FixedEntry>,
    pub links: Vec<FixedLink>,
    /// The field hashes the entries and links keep, `synced.len()` per slot,
    /// in one vector rather than a vector each.
    pub hashes: Vec<u64>,
    pub deactivated_ours: Vec<String>,
    pub deactivated_theirs: Vec<String>,
    pub pending: Vec<FixedPending>,
    /// The rows of the import the state has, if the server knows them
    /// (`with_known_rows`). Shared with the hashers made from this
    /// fingerprint; not part of the serde form.
    #[serde(skip)]
    pub known: Option<Arc<KnownRows>>,
    /// The connection's value mappings, laid over the imported records of
    /// their side as the server lays them over their stored ones
    /// (`rules::mapped_value`); empty for an import of our side.
    pub value_maps: Vec<ValueMapping>,
}

/// The rows of the import the server's state has, by the hash of their
/// text (`read::row_hash`). A row of a new file with the same text, read in
/// the same shape (`read::RecordSink::shape`), reads as the same record, so
/// the preview takes its key and row hash from here instead of splitting
/// it into cells and hashing each value: a day's export differs from the
/// last one in a few rows of a thousand. A record whose `active` cell was
/// empty is not listed (see `read::RowHashes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownRows {
    pub shape: u64,
    /// Per row: the hash of its text, its matching key, its row hash and
    /// whether it is active.
    pub texts: Vec<u64>,
    pub keys: Keys,
    pub rows: Vec<u64>,
    pub active: Vec<bool>,
    /// The rows by their text's hash, made the first time a read needs it
    /// and kept for the next reads (the worker keeps the rows).
    index: TextIndex,
}

/// `KnownRows::index`: a cache, so not part of what the rows are.
#[derive(Clone, Default)]
struct TextIndex(std::sync::OnceLock<HashedMap<u32>>);

impl PartialEq for TextIndex {
    fn eq(&self, _: &TextIndex) -> bool {
        true
    }
}

impl Eq for TextIndex {}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "made"
        } else {
            "not made"
        })
    }
}

/// `Hashed::core`: keys' text and ends, `active`, row hashes, and the
/// field hashes the rules may compare by record.
#[cfg(test)]
type HashedCore<'a> = (
    &'a str,
    &'a [u32],
    &'a [bool],
    &'a [u64],
    Vec<(u32, &'a [u64])>,
);

/// The first bytes of `KnownRows::to_bytes`'s form.
const KNOWN_MAGIC: &[u8; 4] = b"PSKR";

/// How far ahead of the last row found `KnownRows::find` looks before it
/// takes an index of all the rows.
const KNOWN_AHEAD: usize = 8;

/// Rows not found one after another before `KnownRows::find` makes its
/// index (unless it found none yet): rows come mostly in the order they
/// came before, and a new or changed row is not in the index either.
const KNOWN_MISSES: u32 = 8;

/// Where `KnownRows::find` is: after which row, and how many rows in a row
/// it did not find.
#[derive(Default)]
struct KnownCursor {
    next: usize,
    misses: u32,
}

impl KnownRows {
    /// The known row whose text hashes to `text`, if any.
    fn find(&self, text: u64, at: &mut KnownCursor) -> Option<usize> {
        let end = (at.next + KNOWN_AHEAD).min(self.texts.len());
        let near = self
            .texts
            .get(at.next..end)
            .and_then(|near| near.iter().position(|t| *t == text).map(|i| at.next + i));
        let found = near.or_else(|| {
            // A part of a file read in parts starts anywhere: its first row
            // is looked up at once.
            if self.index.0.get().is_none() && at.misses < KNOWN_MISSES && at.next > 0 {
                return None;
            }
            let index = self.index.0.get_or_init(|| {
                let mut m =
                    HashedMap::with_capacity_and_hasher(self.texts.len(), Default::default());
                // The first of equal texts (they are the same record).
                for (i, t) in self.texts.iter().enumerate().rev() {
                    m.insert(*t, i as u32);
                }
                m
            });
            index.get(&text).map(|i| *i as usize)
        });
        match found {
            Some(i) => {
                at.next = i + 1;
                at.misses = 0;
            }
            None => at.misses = at.misses.saturating_add(1),
        }
        found
    }

    /// The rows as bytes on their own, for a helper worker that reads part
    /// of a file: little-endian `"PSKR"`, the shape (u64), the count n
    /// (u32), n text hashes and n row hashes (u64), n active bytes, the
    /// keys' text length (u32) and text, n key ends (u32).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.texts.len();
        let mut w = Vec::with_capacity(20 + n * 21 + self.keys.text.len());
        w.extend_from_slice(KNOWN_MAGIC);
        w.extend_from_slice(&self.shape.to_le_bytes());
        w.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        for x in self.texts.iter().chain(&self.rows) {
            w.extend_from_slice(&x.to_le_bytes());
        }
        w.extend(self.active.iter().map(|a| u8::from(*a)));
        self.keys.write_le(&mut w);
        w
    }

    /// Reads `to_bytes`'s form back; anything out of place is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<KnownRows, FingerprintError> {
        let mut r = Cursor { bytes, at: 0 };
        if r.take(4)? != KNOWN_MAGIC {
            return Err(FingerprintError::BadMagic);
        }
        let le32 = |r: &mut Cursor<'_>| -> Result<usize, FingerprintError> {
            let b = r.take(4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let shape = r.u64()?;
        let n = le32(&mut r)?;
        let words = |r: &mut Cursor<'_>| -> Result<Vec<u64>, FingerprintError> {
            let b = r.take(n.checked_mul(8).ok_or(FingerprintError::Truncated)?)?;
            Ok(b.chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect())
        };
        let texts = words(&mut r)?;
        let rows = words(&mut r)?;
        let active = r.take(n)?.iter().map(|b| *b != 0).collect();
        let keys = Keys::read_le(&mut r, n)?;
        if r.at != bytes.len() {
            return Err(FingerprintError::Damaged("trailing bytes".into()));
        }
        Ok(KnownRows {
            shape,
            texts,
            keys,
            rows,
            active,
            index: TextIndex::default(),
        })
    }

    /// Writes the rows (see the module's layout); `fixed_at`: the fixed
    /// entry of each key held by only one.
    fn encode(
        &self,
        w: &mut Vec<u8>,
        fixed_at: &impl Fn(&str) -> Option<u32>,
        fixed: &[FixedEntry],
    ) {
        w.extend_from_slice(&self.shape.to_le_bytes());
        put_varint(w, self.texts.len() as u64);
        let mut next = 0i64;
        for (i, (text, row)) in self.texts.iter().zip(&self.rows).enumerate() {
            let key = self.keys.get(i as Key);
            let at = fixed_at(key);
            let same_row = at.is_some_and(|f| fixed.get(f as usize).map(|e| e.row) == Some(*row));
            let active = self.active.get(i).copied().unwrap_or(true);
            w.push(u8::from(active) | (u8::from(at.is_some()) << 1) | (u8::from(same_row) << 2));
            w.extend_from_slice(&text.to_le_bytes());
            match at {
                Some(f) => {
                    put_varint(w, zigzag(i64::from(f) - next));
                    next = i64::from(f) + 1;
                }
                None => put_str(w, key),
            }
            if !same_row {
                w.extend_from_slice(&row.to_le_bytes());
            }
        }
    }

    /// Reads `encode`'s form, the fixed entries and their keys read already.
    fn decode(
        r: &mut Cursor<'_>,
        fixed: &[FixedEntry],
        keys: &Keys,
    ) -> Result<KnownRows, FingerprintError> {
        let shape = r.u64()?;
        let n = r.count(10)?;
        let mut k = KnownRows {
            shape,
            texts: Vec::with_capacity(n),
            keys: Keys::default(),
            rows: Vec::with_capacity(n),
            active: Vec::with_capacity(n),
            index: TextIndex::default(),
        };
        k.keys.reserve(n, 0);
        let mut next = 0i64;
        for _ in 0..n {
            let flags = r.byte()?;
            k.texts.push(r.u64()?);
            let entry = if flags & 2 != 0 {
                let at = next.saturating_add(unzigzag(r.varint()?));
                let e = usize::try_from(at)
                    .ok()
                    .and_then(|i| fixed.get(i))
                    .ok_or_else(|| FingerprintError::Damaged("known row names no record".into()))?;
                next = at + 1;
                k.keys.push(keys.get(e.key));
                Some(e)
            } else {
                k.keys.push(r.str()?);
                None
            };
            let row = match (flags & 4 != 0, entry) {
                (true, Some(e)) => e.row,
                (true, None) => return Err(FingerprintError::Damaged("known row".into())),
                (false, _) => r.u64()?,
            };
            k.rows.push(row);
            k.active.push(flags & 1 != 0);
        }
        Ok(k)
    }
}

/// Why bytes are not a fingerprint this build can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum FingerprintError {
    #[error("not a preview fingerprint")]
    BadMagic,
    #[error(
        "fingerprint format {found} is not supported (this build reads {FORMAT_VERSION}); reload the page"
    )]
    UnsupportedVersion { found: u32 },
    #[error("the fingerprint is cut short")]
    Truncated,
    #[error("the fingerprint is damaged: {0}")]
    Damaged(String),
}

impl Fingerprint {
    /// The fingerprint of `state` for a preview of an import of `imported`.
    pub fn from_state(state: &State, imported: Side) -> Fingerprint {
        let fixed_side = imported.other();
        let records = state.records(fixed_side);
        let width = state.synced.len();
        // Field hashes of the fixed records, then of the bases, in one
        // vector: most are only needed for their row hash.
        let mut hashes: Vec<u64> = Vec::with_capacity((records.len() + state.links.len()) * width);
        let mut rows: Vec<u64> = Vec::with_capacity(records.len());
        let keys: Vec<Cow<'_, str>> = records
            .iter()
            .map(|r| {
                let start = hashes.len();
                hashes.extend(
                    state
                        .synced
                        .iter()
                        .map(|f| state.side_hash(fixed_side, *f, r.get(*f))),
                );
                rows.push(combine(hashes[start..].iter().copied()));
                match_key(&state.rules, r.number())
            })
            .collect();
        let rules = &state.rules;
        fn fixed_key<'l>(
            rules: &NumberRules,
            fixed_side: Side,
            l: &'l crate::state::Link,
        ) -> Cow<'l, str> {
            match fixed_side {
                Side::Ours => match_key(rules, &l.our_number),
                Side::Theirs => match_key(rules, &l.their_number),
            }
        }
        let link_key = |l| fixed_key(rules, fixed_side, l);
        // A fixed record needs its field hashes when a base of one of its
        // links differs from it (the row hash cannot decide a conflict) or
        // a pending change names it (the overlay changes single fields).
        // In key order (as registers and files usually are) with no hash
        // map.
        let by_key = KeyIndex::new(keys.as_slice());
        let base_start = hashes.len();
        let mut base_rows: Vec<u64> = Vec::with_capacity(state.links.len());
        // A base mostly repeats its fixed record's values: a value equal (as
        // raw text) to the record's has the record's hash, so it is copied
        // instead of hashed, and a base equal in every field has its row.
        for l in &state.links {
            let start = hashes.len();
            let like = by_key.get(link_key(l).as_ref()).map(|(i, _)| i as usize);
            let mut all_same = like.is_some();
            for (k, f) in state.synced.iter().enumerate() {
                let partner =
                    like.and_then(|i| Some((records.get(i)?, *hashes.get(i * width + k)?)));
                let h = match l.base.get(*f) {
                    None => UNKNOWN,
                    Some(v) => hash_reusing(*f, v, partner),
                };
                all_same &= partner.is_some_and(|(_, p)| p == h);
                hashes.push(h);
            }
            base_rows.push(match like {
                Some(i) if all_same => rows[i],
                _ => combine(hashes[start..].iter().copied()),
            });
        }
        // The slots kept, copied from `hashes` into the fingerprint's own.
        let mut kept: Vec<u64> = Vec::new();
        let mut keep = |at: usize| {
            let slot = Slot::next(&kept, width);
            kept.extend_from_slice(&hashes[at * width..(at + 1) * width]);
            slot
        };
        let mut detailed = vec![false; records.len()];
        // Bases of keys on several records, checked per record below.
        let mut shared_bases: FastMap<String, Vec<u64>> = FastMap::default();
        for (l, b) in state.links.iter().zip(&base_rows) {
            let k = link_key(l);
            match by_key.get(k.as_ref()) {
                Some((i, 1)) if rows[i as usize] != *b => detailed[i as usize] = true,
                Some((_, 1)) | None => {}
                Some(_) => shared_bases.entry(k.into_owned()).or_default().push(*b),
            }
        }
        let pending_keys: BTreeSet<String> = if fixed_side == Side::Theirs {
            state
                .pending
                .iter()
                .map(|p| state.key(p.number()))
                .collect()
        } else {
            BTreeSet::new()
        };
        for (i, k) in keys.iter().enumerate() {
            if (!shared_bases.is_empty()
                && shared_bases
                    .get(k.as_ref())
                    .is_some_and(|bs| bs.iter().any(|b| *b != rows[i])))
                || (!pending_keys.is_empty() && pending_keys.contains(k.as_ref()))
            {
                detailed[i] = true;
            }
        }
        // Links of a key with a pending change, or of a detailed record,
        // need their base in detail: the overlay may change (or create) the
        // record the base is compared with.
        let mut detailed_keys: FastMap<&str, ()> =
            pending_keys.iter().map(|k| (k.as_str(), ())).collect();
        for (i, k) in keys.iter().enumerate() {
            if detailed[i] {
                detailed_keys.insert(k.as_ref(), ());
            }
        }
        let mut fp_keys = Keys::default();
        let fixed: Vec<FixedEntry> = records
            .iter()
            .enumerate()
            .map(|(i, r)| FixedEntry {
                key: fp_keys.push(&keys[i]),
                active: r.active(),
                row: rows[i],
                fields: detailed[i].then(|| keep(i)),
            })
            .collect();
        let links = state
            .links
            .iter()
            .zip(base_rows)
            .enumerate()
            .map(|(li, (l, br))| {
                let detailed =
                    !detailed_keys.is_empty() && detailed_keys.contains_key(link_key(l).as_ref());
                let ours = match_key(rules, &l.our_number);
                let theirs = match_key(rules, &l.their_number);
                let our_key = fp_keys.push(&ours);
                FixedLink {
                    our_key,
                    their_key: if theirs == ours {
                        our_key
                    } else {
                        fp_keys.push(&theirs)
                    },
                    active: l.active,
                    base_row: br,
                    base_fields: detailed.then(|| keep(base_start / width.max(1) + li)),
                }
            })
            .collect();
        let input_pending = state.pending_entries();
        Fingerprint {
            format_version: FORMAT_VERSION,
            revision: 0,
            kind: state.kind,
            imported,
            rules: state.rules.clone(),
            synced: state.synced.clone(),
            keys: fp_keys,
            fixed,
            links,
            hashes: kept,
            deactivated_ours: state.deactivated_keys(Side::Ours).into_iter().collect(),
            deactivated_theirs: state.deactivated_keys(Side::Theirs).into_iter().collect(),
            pending: input_pending
                .into_iter()
                .map(|p| match p {
                    PendingEntry::Create {
                        key,
                        active,
                        fields,
                    } => FixedPending::Create {
                        key,
                        active,
                        fields,
                    },
                    PendingEntry::Set {
                        key,
                        field,
                        from,
                        to,
                    } => FixedPending::Set {
                        key,
                        field,
                        from,
                        to,
                    },
                })
                .collect(),
            known: None,
            value_maps: Vec::new(),
        }
    }

    /// This fingerprint with the connection's value mappings (`maps`), which
    /// the server has laid over their records: the preview lays them over
    /// the imported ones. Set it before `with_known_rows`, whose rows are
    /// hashed with them. Ignored for an import of our side.
    pub fn with_value_maps(mut self, maps: &[ValueMapping]) -> Fingerprint {
        if self.imported == Side::Theirs {
            self.value_maps = maps.iter().filter(|m| mappable(m.field)).cloned().collect();
        }
        self
    }

    /// The field hashes in `slot` of `hashes`.
    pub fn fields_of(&self, slot: Option<Slot>) -> Option<&[u64]> {
        slot?.of(&self.hashes, self.synced.len())
    }

    /// The same fingerprint carrying the caller's state revision.
    pub fn with_revision(mut self, revision: u64) -> Fingerprint {
        self.revision = revision;
        self
    }

    /// A sink for the reader (`read::read_into`) that keeps of each
    /// imported record only what a preview against this fingerprint needs.
    /// It takes the rows this fingerprint knows (`KnownRows`) from it.
    pub fn hashed(&self) -> Hashed {
        let mut h = Hashed::new(&self.hash_spec());
        h.known = self.known.clone();
        h
    }

    /// This fingerprint with the rows of the import the state has
    /// (`KnownRows`): `records` as the reader read them from it (before any
    /// value mapping) and what it said of their rows (`rows`). Unchanged
    /// when the import's records depend on more than each row's text (a
    /// whole empty `active` column made them active), or the rows do not
    /// match the records.
    pub fn with_known_rows(mut self, records: &[Record], rows: &RowHashes) -> Fingerprint {
        if rows.activated || records.len() != rows.hashes.len() || self.imported != Side::Theirs {
            return self;
        }
        let mut h = Hashed::new(&self.hash_spec());
        h.mapped(&rows.mapped);
        h.take_records(records);
        let mut known = KnownRows {
            shape: rows.shape,
            ..KnownRows::default()
        };
        for (i, text) in rows.hashes.iter().enumerate() {
            if *text != 0 {
                known.texts.push(*text);
                known.keys.push(h.keys.get(i as Key));
                known.rows.push(h.rows[i]);
                known.active.push(h.active[i]);
            }
        }
        self.known = Some(Arc::new(known));
        self
    }

    /// `records`, hashed as `hashed` would take them from the reader.
    pub fn hash_records(&self, records: &[Record]) -> Hashed {
        let mut h = Hashed::new(&self.hash_spec());
        h.take_records(records);
        h
    }

    /// The hashed input for an import on the imported side.
    pub fn input<'a>(&'a self, imported: &'a Hashed) -> Input<'a> {
        let mut input = Input::new(self.synced.len());
        let entries = imported.entries(&imported.keys, &mut input);
        self.input_with(input, entries)
    }

    /// The input with the imported side's entries made already.
    fn input_with<'a>(&'a self, mut input: Input<'a>, imported: Vec<Entry<'a>>) -> Input<'a> {
        let fixed = self.fill_fixed(&mut input);
        let (ours, theirs) = match self.imported {
            Side::Ours => (imported, fixed),
            Side::Theirs => (fixed, imported),
        };
        input.ours = ours;
        input.theirs = theirs;
        overlay(&mut input);
        input
    }

    /// The fingerprint's side of a preview's input, made before the
    /// import's hashes are all there: a worker makes it while its helpers
    /// still read their parts (`counts_prepared` finishes it).
    pub fn prepare(&self) -> Prepared<'_> {
        let mut input = Input::new(self.synced.len());
        let fixed = self.fill_fixed(&mut input);
        match self.imported {
            Side::Ours => input.theirs = fixed,
            Side::Theirs => input.ours = fixed,
        }
        Prepared { input }
    }

    /// `counts`, with the fingerprint's side made beforehand (`prepare`).
    pub fn counts_prepared(&self, prepared: Prepared<'_>, mut imported: Hashed) -> CategoryCounts {
        let keys = std::mem::take(&mut imported.keys);
        let mut input = prepared.input;
        let entries = imported.entries(&keys, &mut input);
        drop(imported);
        match self.imported {
            Side::Ours => input.ours = entries,
            Side::Theirs => input.theirs = entries,
        }
        overlay(&mut input);
        CategoryCounts::of_counts(count_input(&input))
    }

    /// The fixed side's entries (their field hashes pushed into `input`),
    /// and the links, marks and pending changes set in `input`.
    fn fill_fixed<'a>(&'a self, input: &mut Input<'a>) -> Vec<Entry<'a>> {
        let mut fixed: Vec<Entry<'a>> = Vec::with_capacity(self.fixed.len());
        for (i, e) in self.fixed.iter().enumerate() {
            let fields = self
                .fields_of(e.fields)
                .map(|fs| input.push_fields(fs.iter().copied()));
            fixed.push(Entry {
                key: Cow::Borrowed(self.keys.get(e.key)),
                active: e.active,
                row: e.row,
                fields,
                source: Source::Record(i as u32),
                pending_conflict: false,
            });
        }
        let mut links = Vec::with_capacity(self.links.len());
        for l in &self.links {
            let base_fields = self
                .fields_of(l.base_fields)
                .map(|fs| input.push_fields(fs.iter().copied()));
            links.push(LinkEntry {
                our_key: Cow::Borrowed(self.keys.get(l.our_key)),
                their_key: Cow::Borrowed(self.keys.get(l.their_key)),
                active: l.active,
                base_row: l.base_row,
                base_fields,
            });
        }
        input.links = links;
        input.deactivated_ours = self.deactivated_ours.iter().cloned().collect();
        input.deactivated_theirs = self.deactivated_theirs.iter().cloned().collect();
        input.pending = self
            .pending
            .iter()
            .map(|p| match p {
                FixedPending::Create {
                    key,
                    active,
                    fields,
                } => PendingEntry::Create {
                    key: key.clone(),
                    active: *active,
                    fields: fields.clone(),
                },
                FixedPending::Set {
                    key,
                    field,
                    from,
                    to,
                } => PendingEntry::Set {
                    key: key.clone(),
                    field: *field,
                    from: *from,
                    to: *to,
                },
            })
            .collect();
        fixed
    }

    /// The categories an import of `records` will give: the same counts and
    /// row keys as `categorize` on the server's state with that import.
    pub fn preview(&self, records: &[Record]) -> Summary {
        Summary::from_core(categorize_input(&self.input(&self.hash_records(records))))
    }

    /// The counts of `preview` alone, which is all the browser shows before
    /// an import: no row keys are built.
    pub fn preview_counts(&self, records: &[Record]) -> CategoryCounts {
        self.counts(self.hash_records(records))
    }

    /// `preview_counts` of an import the reader hashed as it read it
    /// (`read::read_into(.., fingerprint.hashed())`): the browser's preview,
    /// which never holds the file's records.
    pub fn counts(&self, mut imported: Hashed) -> CategoryCounts {
        let keys = std::mem::take(&mut imported.keys);
        let mut input = Input::new(self.synced.len());
        let entries = imported.entries(&keys, &mut input);
        // The entries hold what the rules need and borrow only the keys:
        // the rest is freed before the fixed side's entries are made (at a
        // million records, the difference between peaks).
        drop(imported);
        CategoryCounts::of_counts(count_input(&self.input_with(input, entries)))
    }

    /// The compact binary form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(16 + self.fixed.len() * 24 + self.links.len() * 10);
        w.extend_from_slice(MAGIC);
        put_varint(&mut w, u64::from(self.format_version));
        put_varint(&mut w, self.revision);
        w.push(match self.kind {
            Kind::Customer => 0,
            Kind::Employee => 1,
        });
        w.push(side_code(self.imported));
        let flags =
            u8::from(self.rules.digits_only) | (u8::from(self.rules.strip_leading_zeros) << 1);
        w.push(flags);
        put_varint(&mut w, self.rules.max_len.map_or(0, |m| u64::from(m) + 1));
        put_varint(&mut w, self.synced.len() as u64);
        for f in &self.synced {
            w.push(field_code(*f));
        }
        put_varint(&mut w, self.fixed.len() as u64);
        for e in &self.fixed {
            let key = self.keys.get(e.key);
            put_str(&mut w, key);
            let fields = self.fields_of(e.fields);
            w.push(u8::from(e.active) | (u8::from(fields.is_some()) << 1));
            w.extend_from_slice(&e.row.to_le_bytes());
            if let Some(fs) = fields {
                for h in fs {
                    w.extend_from_slice(&h.to_le_bytes());
                }
            }
        }
        let fixed_keys = FixedKeys {
            keys: &self.keys,
            fixed: &self.fixed,
        };
        let fixed_index = KeyIndex::new(&fixed_keys);
        // A key on several records has no single record to point at.
        let fixed_at = |key: &str| match fixed_index.get(key) {
            Some((i, 1)) => Some(i),
            _ => None,
        };
        put_varint(&mut w, self.links.len() as u64);
        let mut next = 0i64;
        for l in &self.links {
            let (our_key, their_key) = (self.keys.get(l.our_key), self.keys.get(l.their_key));
            let fixed_key = match self.imported {
                Side::Ours => their_key,
                Side::Theirs => our_key,
            };
            let same_key = our_key == their_key;
            let base_fields = self.fields_of(l.base_fields);
            let base_at = fixed_at(fixed_key)
                .filter(|i| self.fixed.get(*i as usize).map(|e| e.row) == Some(l.base_row));
            let base_is_row = base_at.is_some();
            let flags = u8::from(l.active)
                | (u8::from(same_key) << 1)
                | (u8::from(base_fields.is_some()) << 2)
                | (u8::from(base_is_row) << 3);
            put_str(&mut w, our_key);
            w.push(flags);
            if !same_key {
                put_str(&mut w, their_key);
            }
            match base_at {
                Some(i) => {
                    put_varint(&mut w, zigzag(i64::from(i) - next));
                    next = i64::from(i) + 1;
                }
                None => w.extend_from_slice(&l.base_row.to_le_bytes()),
            }
            if let Some(bf) = base_fields {
                for h in bf {
                    w.extend_from_slice(&h.to_le_bytes());
                }
            }
        }
        for keys in [&self.deactivated_ours, &self.deactivated_theirs] {
            put_varint(&mut w, keys.len() as u64);
            for k in keys {
                put_str(&mut w, k);
            }
        }
        put_varint(&mut w, self.pending.len() as u64);
        for p in &self.pending {
            match p {
                FixedPending::Create {
                    key,
                    active,
                    fields,
                } => {
                    w.push(0);
                    put_str(&mut w, key);
                    w.push(u8::from(*active));
                    for h in fields {
                        w.extend_from_slice(&h.to_le_bytes());
                    }
                }
                FixedPending::Set {
                    key,
                    field,
                    from,
                    to,
                } => {
                    w.push(1);
                    put_str(&mut w, key);
                    put_varint(&mut w, field.map_or(0, |f| u64::from(f) + 1));
                    w.extend_from_slice(&from.to_le_bytes());
                    w.extend_from_slice(&to.to_le_bytes());
                }
            }
        }
        match &self.known {
            None => w.push(0),
            Some(k) => {
                w.push(1);
                k.encode(&mut w, &fixed_at, &self.fixed);
            }
        }
        put_varint(&mut w, self.value_maps.len() as u64);
        for m in &self.value_maps {
            w.push(field_code(m.field));
            put_str(&mut w, &m.their_value);
            put_str(&mut w, &m.our_value);
        }
        w
    }

    /// Reads the binary form.
    pub fn decode(bytes: &[u8]) -> Result<Fingerprint, FingerprintError> {
        let mut r = Cursor { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(FingerprintError::BadMagic);
        }
        let format_version = r.u32()?;
        if format_version != FORMAT_VERSION {
            return Err(FingerprintError::UnsupportedVersion {
                found: format_version,
            });
        }
        let revision = r.varint()?;
        let kind = match r.byte()? {
            0 => Kind::Customer,
            1 => Kind::Employee,
            k => return Err(FingerprintError::Damaged(format!("kind {k}"))),
        };
        let imported = match r.byte()? {
            0 => Side::Ours,
            1 => Side::Theirs,
            s => return Err(FingerprintError::Damaged(format!("side {s}"))),
        };
        let flags = r.byte()?;
        let max_len = match r.varint()? {
            0 => None,
            n => Some(
                u32::try_from(n - 1).map_err(|_| FingerprintError::Damaged("max_len".into()))?,
            ),
        };
        let rules = NumberRules {
            max_len,
            digits_only: flags & 1 != 0,
            strip_leading_zeros: flags & 2 != 0,
        };
        let n_synced = r.count(1)?;
        let mut synced = Vec::with_capacity(n_synced);
        for _ in 0..n_synced {
            let code = r.byte()?;
            synced.push(
                code_field(code)
                    .ok_or_else(|| FingerprintError::Damaged(format!("field code {code}")))?,
            );
        }
        let width = synced.len();
        let n_fixed = r.count(10)?;
        let mut fixed = Vec::with_capacity(n_fixed);
        let mut hashes: Vec<u64> = Vec::new();
        let mut slot_of = |r: &mut Cursor<'_>| -> Result<Slot, FingerprintError> {
            let slot = Slot::next(&hashes, width);
            // One record's hashes taken at once: one check of the length
            // rather than one per hash.
            let b = r.take(width * 8)?;
            hashes.extend(
                b.chunks_exact(8)
                    .map(|h| u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])),
            );
            Ok(slot)
        };
        // The keys' bytes, checked as UTF-8 once they are all read rather
        // than one by one (`RawKeys`).
        let mut keys = RawKeys::default();
        keys.reserve(n_fixed);
        for _ in 0..n_fixed {
            let key = keys.push(r.str_bytes()?);
            let flags = r.byte()?;
            let row = r.u64()?;
            let fields = if flags & 2 != 0 {
                Some(slot_of(&mut r)?)
            } else {
                None
            };
            fixed.push(FixedEntry {
                key,
                active: flags & 1 != 0,
                row,
                fields,
            });
        }
        let n_links = r.count(2)?;
        let mut links = Vec::with_capacity(n_links);
        keys.reserve(n_links);
        let mut next = 0i64;
        for _ in 0..n_links {
            let our = r.str_bytes()?;
            let our_key = keys.push(our);
            let flags = r.byte()?;
            // Equal keys are one key however they were written, so a
            // fingerprint decodes to the one its encoding gives back.
            let (their_key, their) = match flags & 2 {
                0 => match r.str_bytes()? {
                    same if same_bytes(same, our) => (our_key, our),
                    other => (keys.push(other), other),
                },
                _ => (our_key, our),
            };
            let fixed_key = match imported {
                Side::Ours => their,
                Side::Theirs => our,
            };
            let base_row = if flags & 8 != 0 {
                let at = next.saturating_add(unzigzag(r.varint()?));
                let named = usize::try_from(at).ok().and_then(|i| fixed.get(i));
                let e = named
                    .filter(|e| same_bytes(keys.get(e.key), fixed_key))
                    .ok_or_else(|| FingerprintError::Damaged("link base names no record".into()))?;
                next = at + 1;
                e.row
            } else {
                r.u64()?
            };
            let base_fields = if flags & 4 != 0 {
                Some(slot_of(&mut r)?)
            } else {
                None
            };
            links.push(FixedLink {
                our_key,
                their_key,
                active: flags & 1 != 0,
                base_row,
                base_fields,
            });
        }
        let keys = keys.into_keys()?;
        let mut marks = [Vec::new(), Vec::new()];
        for list in &mut marks {
            let n = r.count(1)?;
            for _ in 0..n {
                list.push(r.string()?);
            }
        }
        let [deactivated_ours, deactivated_theirs] = marks;
        let n_pending = r.count(2)?;
        let mut pending = Vec::with_capacity(n_pending);
        for _ in 0..n_pending {
            match r.byte()? {
                0 => {
                    let key = r.string()?;
                    let active = r.byte()? != 0;
                    let fields = r.hashes(width)?;
                    pending.push(FixedPending::Create {
                        key,
                        active,
                        fields,
                    });
                }
                1 => {
                    let key = r.string()?;
                    let field = match r.varint()? {
                        0 => None,
                        n => Some(
                            u32::try_from(n - 1)
                                .map_err(|_| FingerprintError::Damaged("field".into()))?,
                        ),
                    };
                    let from = r.u64()?;
                    let to = r.u64()?;
                    pending.push(FixedPending::Set {
                        key,
                        field,
                        from,
                        to,
                    });
                }
                t => return Err(FingerprintError::Damaged(format!("pending tag {t}"))),
            }
        }
        let known = match r.byte()? {
            0 => None,
            1 => Some(Arc::new(KnownRows::decode(&mut r, &fixed, &keys)?)),
            t => return Err(FingerprintError::Damaged(format!("known rows tag {t}"))),
        };
        let n_maps = r.count(3)?;
        let mut value_maps = Vec::with_capacity(n_maps);
        for _ in 0..n_maps {
            let code = r.byte()?;
            let field = code_field(code)
                .filter(|f| mappable(*f) && kind.index_of(*f).is_some())
                .ok_or_else(|| FingerprintError::Damaged(format!("value mapping field {code}")))?;
            value_maps.push(ValueMapping {
                field,
                their_value: r.string()?,
                our_value: r.string()?,
            });
        }
        if r.at != bytes.len() {
            return Err(FingerprintError::Damaged("trailing bytes".into()));
        }
        Ok(Fingerprint {
            format_version,
            revision,
            kind,
            imported,
            rules,
            synced,
            keys,
            fixed,
            links,
            hashes,
            deactivated_ours,
            deactivated_theirs,
            pending,
            known,
            value_maps,
        })
    }
}

/// The fingerprint's side of a preview's input (`Fingerprint::prepare`).
pub struct Prepared<'a> {
    input: Input<'a>,
}

/// What hashing an import needs of a fingerprint, without the fingerprint
/// itself: a helper worker that reads part of a file (`read::parts`) gets
/// this, a few bytes, rather than the server's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashSpec {
    pub kind: Kind,
    /// The side the import is of: only their data's missing columns hash
    /// as `ABSENT` (`State::missing`).
    pub imported: Side,
    pub synced: Vec<Field>,
    pub rules: NumberRules,
    /// The keys whose field hashes the rules may compare one by one (a link
    /// whose base the fingerprint has in detail, or a pending change).
    pub needs_fields: Vec<String>,
    /// Whether any record's row hash may be compared: only a linked one's
    /// is (a lone record's category is its key's and `active`'s), so with
    /// no link, as before a connection's first import, the values are
    /// not hashed at all (but for `needs_fields`).
    #[serde(default = "yes")]
    pub rows_compared: bool,
    /// `Fingerprint::value_maps`.
    #[serde(default)]
    pub value_maps: Vec<ValueMapping>,
}

fn yes() -> bool {
    true
}

impl Fingerprint {
    /// What `hashed` needs of this fingerprint.
    pub fn hash_spec(&self) -> HashSpec {
        let mut needs: BTreeSet<&str> = BTreeSet::new();
        for l in &self.links {
            if l.base_fields.is_some() {
                let k = match self.imported {
                    Side::Ours => l.our_key,
                    Side::Theirs => l.their_key,
                };
                needs.insert(self.keys.get(k));
            }
        }
        for p in &self.pending {
            let (FixedPending::Create { key, .. } | FixedPending::Set { key, .. }) = p;
            needs.insert(key.as_str());
        }
        HashSpec {
            kind: self.kind,
            imported: self.imported,
            synced: self.synced.clone(),
            rules: self.rules.clone(),
            needs_fields: needs.into_iter().map(str::to_string).collect(),
            rows_compared: !self.links.is_empty(),
            value_maps: self.value_maps.clone(),
        }
    }
}

/// An import reduced to what a preview needs, taken record by record from
/// the reader, so the records themselves are never kept: per record its
/// matching key (all keys in one string), `active` and row hash. Field
/// hashes are kept only for a key the rules may compare field by field (a
/// link whose base the fingerprint has in detail, or a pending change) and
/// for an inactive record, which the reader may still make active
/// (`RecordSink::activate`).
pub struct Hashed {
    synced: Vec<Field>,
    rules: NumberRules,
    /// Slot in `kind.fields()` of each synced field.
    slots: Vec<usize>,
    number_slot: usize,
    active_slot: usize,
    /// Position of `active` among the synced fields.
    active_at: Option<usize>,
    /// Per synced field: the file has no column for it (`RecordSink::mapped`),
    /// so it hashes as `ABSENT`, as `State::missing` makes the server do.
    absent: Vec<bool>,
    /// The import is of their side (see `HashSpec::imported`).
    their_side: bool,
    /// `HashSpec::rows_compared`.
    rows_compared: bool,
    /// `HashSpec::value_maps`, and per synced field whether any names it.
    value_maps: Vec<ValueMapping>,
    mapped_fields: Vec<bool>,
    needs_fields: FastMap<String, ()>,
    keys: Keys,
    active: Vec<bool>,
    rows: Vec<u64>,
    /// The records whose field hashes are kept, in record order.
    detail: Vec<Detail>,
    /// Their field hashes, `synced.len()` each.
    hashes: Vec<u64>,
    /// The rows the fingerprint knows, used when the file has their shape.
    known: Option<Arc<KnownRows>>,
    use_known: bool,
    known_at: KnownCursor,
    /// How many rows were taken as known.
    known_taken: usize,
}

struct Detail {
    record: u32,
    start: u32,
    /// The rules may compare this record field by field.
    needed: bool,
}

/// The row hash of a record no link compares (`HashSpec::rows_compared`).
const UNCOMPARED: u64 = 0;

/// The first bytes of `Hashed::encode`'s form.
const HASHED_MAGIC: &[u8; 4] = b"PSHP";

impl Hashed {
    /// An empty hasher for imports that `spec` describes.
    pub fn new(spec: &HashSpec) -> Hashed {
        let kind = spec.kind;
        Hashed {
            synced: spec.synced.clone(),
            rules: spec.rules.clone(),
            // A synced field is always one of the kind's (`Kind::synced_fields`).
            slots: spec
                .synced
                .iter()
                .map(|f| kind.index_of(*f).unwrap_or(usize::MAX))
                .collect(),
            number_slot: kind.index_of(Field::Number).unwrap_or(0),
            active_slot: kind.index_of(Field::Active).unwrap_or(usize::MAX),
            active_at: spec.synced.iter().position(|f| *f == Field::Active),
            absent: vec![false; spec.synced.len()],
            their_side: spec.imported == Side::Theirs,
            needs_fields: spec.needs_fields.iter().map(|k| (k.clone(), ())).collect(),
            rows_compared: spec.rows_compared,
            value_maps: spec.value_maps.clone(),
            mapped_fields: spec
                .synced
                .iter()
                .map(|f| mappable(*f) && spec.value_maps.iter().any(|m| m.field == *f))
                .collect(),
            keys: Keys::default(),
            active: Vec::new(),
            rows: Vec::new(),
            detail: Vec::new(),
            hashes: Vec::new(),
            known: None,
            use_known: false,
            known_at: KnownCursor::default(),
            known_taken: 0,
        }
    }

    /// This hasher taking the rows `known` lists as known (a helper worker's,
    /// made from a `HashSpec`, with the rows the previewing worker sent).
    pub fn with_known(mut self, known: Option<Arc<KnownRows>>) -> Hashed {
        self.known = known;
        self
    }

    /// How many records were rows the fingerprint knows (`KnownRows`):
    /// the same text as in the import the server has.
    pub fn known_taken(&self) -> usize {
        self.known_taken
    }

    /// What the categories are made of: keys, `active`, row hashes and the
    /// field hashes the rules may compare (not those kept for `activate`).
    #[cfg(test)]
    fn core(&self) -> HashedCore<'_> {
        let width = self.slots.len();
        let needed = self.detail.iter().filter(|d| d.needed);
        let fields = needed
            .map(|d| {
                (
                    d.record,
                    &self.hashes[d.start as usize..d.start as usize + width],
                )
            })
            .collect();
        (
            &self.keys.text,
            &self.keys.ends,
            &self.active,
            &self.rows,
            fields,
        )
    }

    /// Takes `records` as the reader would hand them over.
    fn take_records(&mut self, records: &[Record]) {
        let n = records.first().map_or(0, |r| r.kind.fields().len());
        let mut values = [""; MAX_VALUES];
        for r in records {
            for (i, v) in values[..n].iter_mut().enumerate() {
                *v = r.value_at(i);
            }
            self.record(r.line, &values[..n]);
        }
    }

    /// The imported side's entries, their keys borrowed from `keys` (this
    /// hasher's, possibly taken out of it), their kept field hashes pushed
    /// into `input`.
    fn entries<'k>(&self, keys: &'k Keys, input: &mut Input<'k>) -> Vec<Entry<'k>> {
        let width = self.slots.len();
        let mut entries = Vec::with_capacity(self.len());
        let mut detail = self.detail.iter().peekable();
        for i in 0..self.len() {
            let fields = match detail.next_if(|d| d.record as usize == i) {
                Some(d) => {
                    let at = d.start as usize;
                    d.needed
                        .then(|| input.push_fields(self.hashes[at..at + width].iter().copied()))
                }
                None => None,
            };
            entries.push(Entry {
                key: Cow::Borrowed(keys.get(i as u32)),
                active: self.active[i],
                row: self.rows[i],
                fields,
                source: Source::Record(i as u32),
                pending_conflict: false,
            });
        }
        entries
    }

    /// The hashed records as bytes, for a helper worker to hand its part of
    /// a file to the worker that previews (`decode` reads them back with
    /// the same spec). Little-endian: `"PSHP"`, records n (u32), the keys'
    /// text length (u32) and text, n key ends (u32), n active bytes, n row
    /// hashes (u64), detail count m (u32) and m times record (u32), start
    /// (u32) and needed (byte), field hash count h (u32) and h hashes (u64),
    /// and how many records were known rows (u32).
    pub fn encode(&self) -> Vec<u8> {
        let n = self.len();
        let m = self.detail.len();
        let h = self.hashes.len();
        let mut w = Vec::with_capacity(16 + self.keys.text.len() + n * 13 + m * 9 + h * 8);
        let u32 = |w: &mut Vec<u8>, v: usize| {
            w.extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes())
        };
        w.extend_from_slice(HASHED_MAGIC);
        u32(&mut w, n);
        self.keys.write_le(&mut w);
        w.extend(self.active.iter().map(|a| u8::from(*a)));
        for r in &self.rows {
            w.extend_from_slice(&r.to_le_bytes());
        }
        u32(&mut w, m);
        for d in &self.detail {
            w.extend_from_slice(&d.record.to_le_bytes());
            w.extend_from_slice(&d.start.to_le_bytes());
            w.push(u8::from(d.needed));
        }
        u32(&mut w, h);
        for x in &self.hashes {
            w.extend_from_slice(&x.to_le_bytes());
        }
        u32(&mut w, self.known_taken);
        w
    }

    /// Reads `encode`'s form back, for imports that `spec` describes.
    /// Anything out of place is an error, never a panic.
    pub fn decode(spec: &HashSpec, bytes: &[u8]) -> Result<Hashed, FingerprintError> {
        let mut h = Hashed::new(spec);
        let mut r = Cursor { bytes, at: 0 };
        if r.take(4)? != HASHED_MAGIC {
            return Err(FingerprintError::BadMagic);
        }
        let le32 = |r: &mut Cursor<'_>| -> Result<u32, FingerprintError> {
            let b = r.take(4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let le64 = |b: &[u8]| {
            let mut x = [0u8; 8];
            x.copy_from_slice(b);
            u64::from_le_bytes(x)
        };
        let n = le32(&mut r)? as usize;
        h.keys = Keys::read_le(&mut r, n)?;
        h.active = r.take(n)?.iter().map(|b| *b != 0).collect();
        let rows = r.take(n.checked_mul(8).ok_or(FingerprintError::Truncated)?)?;
        h.rows = rows.chunks_exact(8).map(le64).collect();
        let m = le32(&mut r)? as usize;
        let details = r.take(m.checked_mul(9).ok_or(FingerprintError::Truncated)?)?;
        let hn = {
            let mut probe = Cursor {
                bytes: r.bytes,
                at: r.at,
            };
            le32(&mut probe)? as usize
        };
        let width = h.slots.len();
        let mut previous: Option<u32> = None;
        for c in details.chunks_exact(9) {
            let record = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let start = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            let in_order = previous.is_none_or(|p| record > p);
            if !in_order
                || record as usize >= n
                || (start as usize).checked_add(width).is_none_or(|e| e > hn)
            {
                return Err(FingerprintError::Damaged("detail".into()));
            }
            previous = Some(record);
            h.detail.push(Detail {
                record,
                start,
                needed: c[8] != 0,
            });
        }
        le32(&mut r)?;
        let hashes = r.take(hn.checked_mul(8).ok_or(FingerprintError::Truncated)?)?;
        h.hashes = hashes.chunks_exact(8).map(le64).collect();
        h.known_taken = (le32(&mut r)? as usize).min(n);
        if r.at != bytes.len() {
            return Err(FingerprintError::Damaged("trailing bytes".into()));
        }
        Ok(h)
    }
}

impl crate::read::parts::PartSink for Hashed {
    fn append(&mut self, other: Hashed, _lines: u32) {
        self.known_taken += other.known_taken;
        let records = u32::try_from(self.len()).unwrap_or(u32::MAX);
        let hashes = u32::try_from(self.hashes.len()).unwrap_or(u32::MAX);
        let text = u32::try_from(self.keys.text.len()).unwrap_or(u32::MAX);
        self.keys.text.push_str(&other.keys.text);
        self.keys
            .ends
            .extend(other.keys.ends.iter().map(|e| e.saturating_add(text)));
        self.active.extend(other.active);
        self.rows.extend(other.rows);
        self.detail.extend(other.detail.into_iter().map(|d| Detail {
            record: d.record.saturating_add(records),
            start: d.start.saturating_add(hashes),
            needed: d.needed,
        }));
        self.hashes.extend(other.hashes);
    }
}

impl RecordSink for Hashed {
    fn record(&mut self, _line: u32, values: &[&str]) {
        let value = |slot: usize| values.get(slot).copied().unwrap_or("");
        let key = match_key(&self.rules, value(self.number_slot));
        // As `Record::active` reads it.
        let active = value(self.active_slot) != "false";
        let needed = !self.needs_fields.is_empty() && self.needs_fields.contains_key(key.as_ref());
        if !self.rows_compared && !needed {
            // No link compares it: the key and `active` are all it counts by.
            self.keys.push(&key);
            self.active.push(active);
            self.rows.push(UNCOMPARED);
            return;
        }
        // On the stack: most records keep only their row hash.
        let mut fields = [0u64; MAX_VALUES];
        let width = self.slots.len().min(MAX_VALUES);
        for (((h, s), f), absent) in fields
            .iter_mut()
            .zip(&self.slots)
            .zip(&self.synced)
            .zip(&self.absent)
        {
            *h = if *absent {
                ABSENT
            } else {
                hash_field(*f, value(*s))
            };
        }
        if !self.value_maps.is_empty() {
            for (i, f) in self.synced.iter().enumerate() {
                if self.mapped_fields[i] && !self.absent[i] {
                    fields[i] =
                        hash_field(*f, mapped_value(&self.value_maps, *f, value(self.slots[i])));
                }
            }
        }
        let fields = &fields[..width];
        let row = combine(fields.iter().copied());
        if needed || !active {
            self.detail.push(Detail {
                record: self.rows.len() as u32,
                start: self.hashes.len() as u32,
                needed,
            });
            self.hashes.extend_from_slice(fields);
        }
        self.keys.push(&key);
        self.active.push(active);
        self.rows.push(row);
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn mapped(&mut self, fields: &[Field]) {
        for (absent, f) in self.absent.iter_mut().zip(&self.synced) {
            *absent = self.their_side && !fields.contains(f);
        }
    }

    fn shape(&mut self, shape: u64) {
        self.use_known = self.known.as_ref().is_some_and(|k| k.shape == shape);
    }

    fn wants_rows(&self) -> bool {
        self.use_known
    }

    /// A known row is taken as the record it was: its key, row hash and
    /// `active`. A row whose key the rules may compare field by field is
    /// read as usual. An inactive record's field hashes are not kept: they
    /// are kept for `activate`, which never comes once a known row (whose
    /// `active` cell held a value) was read.
    fn row_text(&mut self, text: &str) -> bool {
        let Some(known) = self.known.as_deref() else {
            return false;
        };
        let Some(i) = known.find(crate::read::row_hash(text), &mut self.known_at) else {
            return false;
        };
        let key = known.keys.get(i as Key);
        if !self.needs_fields.is_empty() && self.needs_fields.contains_key(key) {
            return false;
        }
        self.keys.push(key);
        self.active.push(known.active[i]);
        self.rows.push(known.rows[i]);
        self.known_taken += 1;
        true
    }

    fn expect(&mut self, rows: usize) {
        self.keys.reserve(rows, 0);
        self.active.reserve(rows);
        self.rows.reserve(rows);
    }

    fn activate(&mut self, index: usize) {
        if let Some(a) = self.active.get_mut(index) {
            *a = true;
        }
        // Its row hash again, when it has one (`HashSpec::rows_compared`).
        let Ok(d) = self
            .detail
            .binary_search_by_key(&index, |d| d.record as usize)
        else {
            return;
        };
        let width = self.slots.len();
        let start = self.detail[d].start as usize;
        let Some(fields) = self.hashes.get_mut(start..start + width) else {
            return;
        };
        if let Some(a) = self.active_at {
            fields[a] = hash_field(Field::Active, "true");
        }
        self.rows[index] = combine(fields.iter().copied());
    }
}

fn side_code(s: Side) -> u8 {
    match s {
        Side::Ours => 0,
        Side::Theirs => 1,
    }
}

/// Field codes are part of the format: never renumber, only append.
const FIELD_CODES: [Field; 14] = [
    Field::Number,
    Field::Name,
    Field::FirstName,
    Field::LastName,
    Field::OrganisationNumber,
    Field::Street,
    Field::PostalCode,
    Field::City,
    Field::Country,
    Field::Email,
    Field::Phone,
    Field::ContactPerson,
    Field::SalesRepCode,
    Field::Active,
];

pub(crate) fn field_code(f: Field) -> u8 {
    FIELD_CODES.iter().position(|x| *x == f).unwrap_or(0) as u8
}

pub(crate) fn code_field(c: u8) -> Option<Field> {
    FIELD_CODES.get(c as usize).copied()
}

/// LEB128, as in protobuf and wasm.
pub fn put_varint(w: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            w.push(b);
            return;
        }
        w.push(b | 0x80);
    }
}

/// Signed to unsigned, small magnitudes small: 0, -1, 1, -2 -> 0, 1, 2, 3.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_varint(w, s.len() as u64);
    w.extend_from_slice(s.as_bytes());
}

/// Reads the compact encodings (also the snapshot's, in `track`).
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FingerprintError> {
        let end = self.at.checked_add(n).ok_or(FingerprintError::Truncated)?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or(FingerprintError::Truncated)?;
        self.at = end;
        Ok(s)
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, FingerprintError> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, FingerprintError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(FingerprintError::Damaged("varint too long".into()))
    }

    fn u32(&mut self) -> Result<u32, FingerprintError> {
        u32::try_from(self.varint()?).map_err(|_| FingerprintError::Damaged("u32".into()))
    }

    /// A count of items at least `min_bytes` each: more than the remaining
    /// bytes could hold is damage, not a reason to allocate.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize, FingerprintError> {
        let n = self.varint()?;
        let left = (self.bytes.len() - self.at) as u64;
        // `n * min_bytes > left`, without a 64-bit multiply's overflow
        // check (a 128-bit multiply, a library call on wasm32, for every
        // key of a million).
        if n > left / min_bytes.max(1) as u64 {
            return Err(FingerprintError::Truncated);
        }
        usize::try_from(n).map_err(|_| FingerprintError::Truncated)
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, FingerprintError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn hashes(&mut self, n: usize) -> Result<Vec<u64>, FingerprintError> {
        (0..n).map(|_| self.u64()).collect()
    }

    fn str(&mut self) -> Result<&'a str, FingerprintError> {
        let b = self.str_bytes()?;
        std::str::from_utf8(b).map_err(|_| FingerprintError::Damaged("key is not UTF-8".into()))
    }

    /// A string's bytes, not yet checked as UTF-8.
    #[inline]
    fn str_bytes(&mut self) -> Result<&'a [u8], FingerprintError> {
        let n = self.varint()?;
        // `take` checks the length against what is left.
        let n = usize::try_from(n).map_err(|_| FingerprintError::Truncated)?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, FingerprintError> {
        self.str().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::categorize::categorize;

    fn customers(n: u32) -> Vec<Record> {
        (0..n)
            .map(|i| {
                Record::from_pairs(
                    Kind::Customer,
                    &[
                        (Field::Number, &format!("{:06}", 100_000 + i)),
                        (Field::Name, &format!("Customer {i} AS")),
                        (Field::City, "Oslo"),
                        (Field::Email, &format!("post{i}@example.no")),
                    ],
                )
            })
            .collect()
    }

    /// `file` read as the browser reads it into `fp`'s hasher.
    fn hashed_of(fp: &Fingerprint, file: &str) -> Hashed {
        let options = crate::read::ReadOptions::default();
        crate::read::read_into(
            file.as_bytes(),
            Some("k.csv"),
            Kind::Customer,
            &options,
            fp.hashed(),
        )
        .map(|(_, h)| h)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn synced_state(n: u32) -> State {
        let mut s = State::synchronized(Kind::Customer, customers(n));
        s.theirs = customers(n);
        s
    }

    /// Found by `reading_a_file_into_the_fingerprint_counts_what_the_server_counts`:
    /// a base's email equal to the email of their record, in a field their
    /// data lacks, took that record's hash (`ABSENT`) instead of its own,
    /// and the preview of an import of ours counted a conflict where the
    /// server counts the pair synchronized.
    #[test]
    fn a_base_keeps_its_hash_of_a_field_their_data_lacks() {
        let customer = |number: &str, city: &str| {
            let mut r = Record::from_pairs(
                Kind::Customer,
                &[
                    (Field::Number, number),
                    (Field::Name, "Acme"),
                    (Field::City, city),
                    (Field::Email, "b@y.no"),
                ],
            );
            r.set_active(false);
            r
        };
        let mut s = State::new(Kind::Customer);
        s.theirs = vec![customer("1", "Oslo")];
        s.missing = vec![Field::Email];
        s.links = vec![crate::state::Link {
            our_number: "4".into(),
            their_number: "1".into(),
            active: true,
            base: crate::base::Base::of(&customer("4", ""), &s.synced),
            version: 1,
        }];
        s.pending = vec![crate::state::PendingChange::Set {
            number: "1".into(),
            field: Field::Email,
            from: String::new(),
            to: "b@y.no".into(),
        }];
        let fp = Fingerprint::from_state(&s, Side::Ours);
        let file = "Kundenummer;Navn;Poststed;Aktiv\r\n4;Acme;;nei\r\n";
        let mut server = s.clone();
        server.ours = crate::read::read(
            file.as_bytes(),
            Some("k.csv"),
            Kind::Customer,
            &crate::read::ReadOptions::default(),
        )
        .map(|o| o.records)
        .unwrap_or_else(|e| panic!("{e}"));
        let expect = CategoryCounts::of_summary(&categorize(&server).summary(&server));
        assert_eq!(expect.synchronized, 1, "{expect:?}");
        assert_eq!(fp.counts(hashed_of(&fp, file)), expect);
    }

    #[test]
    fn about_24_bytes_per_synchronized_record() {
        let s = synced_state(10_000);
        let fp = Fingerprint::from_state(&s, Side::Theirs).with_revision(42);
        let bytes = fp.encode();
        let per = bytes.len() as f64 / 10_000.0;
        assert!(per <= 32.0, "{per} bytes per record");
        assert_eq!(Fingerprint::decode(&bytes), Ok(fp.clone()));

        // An import that changes some records, drops one and adds one.
        let mut import = customers(10_000);
        import[5].set(Field::City, "Bergen");
        import.remove(7);
        import.push(
            customers(10_001)
                .pop()
                .unwrap_or_else(|| Record::new(Kind::Customer)),
        );
        let mut server = s.clone();
        server.theirs = import.clone();
        let expect = categorize(&server).summary(&server);
        assert_eq!(fp.preview(&import), expect);
        assert_eq!(expect.deleted.len(), 1);
        assert_eq!(expect.new.len(), 1);
    }

    #[test]
    fn reading_into_hashes_previews_what_the_records_preview() {
        use crate::read::{ReadOptions, read};
        let mut s = synced_state(6);
        // Our records 1 and 2 changed since their base: their links carry
        // field detail, so the import's records 1 and 2 keep field hashes.
        s.ours[1].set(Field::City, "Bergen");
        s.ours[2].set(Field::City, "Bergen");
        let fp = Fingerprint::from_state(&s, Side::Theirs);
        let line = |i: u32, city: &str, email: &str, active: &str| {
            format!(
                "{:06};Customer {i} AS;{city};{email};{active}\r\n",
                100_000 + i
            )
        };
        let mail = |i: u32| format!("post{i}@example.no");
        let header = "Kundenummer;Navn;Poststed;E-post;Aktiv\r\n";
        // 1: their email changed too (one-sided each: synchronized); 2: their
        // city changed otherwise (a conflict); 3: inactive; 4 gone; 9 new.
        let with_values = [
            header.to_string(),
            line(0, "Oslo", &mail(0), "ja"),
            line(1, "Oslo", "new@example.no", "ja"),
            line(2, "Trondheim", &mail(2), "ja"),
            line(3, "Oslo", &mail(3), "nei"),
            line(5, "Oslo", &mail(5), "ja"),
            line(9, "Oslo", &mail(9), "ja"),
        ]
        .concat();
        // An active column with no value at all: every record active.
        let all_empty = with_values
            .replace(";ja\r\n", ";\r\n")
            .replace(";nei\r\n", ";\r\n");
        for file in [with_values, all_empty] {
            let options = ReadOptions::default();
            let out = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options);
            let records = out.map(|o| o.records).unwrap_or_default();
            assert_eq!(records.len(), 6);
            let hashed = hashed_of(&fp, &file);
            let mut server = s.clone();
            server.theirs = records.clone();
            let expect = CategoryCounts::of_summary(&categorize(&server).summary(&server));
            assert_eq!(fp.counts(hashed), expect, "{file}");
            assert_eq!(fp.preview_counts(&records), expect);
            assert_eq!(expect.conflicts, 1);
            assert_eq!(expect.deleted, 1);
        }
    }

    /// A row the fingerprint knows by its text reads as the record it was:
    /// a new file read with the known rows gives the same hashes, byte for
    /// byte, and the same reader output as read without them.
    #[test]
    fn known_rows_read_as_the_records_they_were() {
        use crate::read::{ReadOptions, read, read_into};
        let line = |i: u32, city: &str, active: &str| {
            let name = match i % 50 {
                // A quoted name, with the delimiter in it.
                7 => format!("\"Customer {i}; AS\""),
                _ => format!("Customer {i} AS"),
            };
            format!(
                "{:06};{name};{city};post{i}@example.no;{active}\r\n",
                100_000 + i
            )
        };
        let active = |i: u32| match i % 40 {
            3 => "nei",
            // An empty cell in a column with values: inactive.
            9 => "",
            _ => "ja",
        };
        let header = "Kundenummer;Navn;Poststed;E-post;Aktiv\r\n";
        let old: String = std::iter::once(header.to_string())
            .chain((0..300).map(|i| line(i, "Oslo", active(i))))
            .collect();
        let options = ReadOptions::default();
        let read_old = read(old.as_bytes(), Some("k.csv"), Kind::Customer, &options);
        let records = read_old.map(|o| o.records).unwrap_or_default();
        let (_, rows) = read_into(
            old.as_bytes(),
            Some("k.csv"),
            Kind::Customer,
            &options,
            RowHashes::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.hashes.len(), 300);
        assert!(!rows.activated);

        let mut s = synced_state(300);
        s.theirs = records.clone();
        // Our record 1 changed since its base: the import's record 1 is
        // compared field by field, so its row is read as usual.
        s.ours[1].set(Field::City, "Bergen");
        let plain = Fingerprint::from_state(&s, Side::Theirs);
        let fp = plain.clone().with_known_rows(&records, &rows);
        let known = fp.known.clone().unwrap_or_default();
        // Every row but the 8 with an empty active cell.
        assert_eq!(known.texts.len(), 300 - 8);
        assert_eq!(known.active.iter().filter(|a| !**a).count(), 8);
        assert_eq!(Fingerprint::decode(&fp.encode()), Ok(fp.clone()));
        // A row costs its text's hash, its row hash (their side's: a field
        // their file lacks hashes otherwise than ours), a flags byte and a
        // byte or so for its key, which is our record's.
        let per_row = (fp.encode().len() - plain.encode().len()) as f64 / known.texts.len() as f64;
        assert!(per_row <= 19.0, "{per_row} bytes per known row");
        // As a helper worker gets them; cut short or damaged, an error.
        let bytes = known.to_bytes();
        assert_eq!(KnownRows::from_bytes(&bytes).as_ref(), Ok(known.as_ref()));
        assert!(KnownRows::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(KnownRows::from_bytes(&bytes[1..]).is_err());

        let edited: String = {
            let mut lines: Vec<String> = (0..300).map(|i| line(i, "Oslo", active(i))).collect();
            lines[5] = line(5, "Bergen", "ja");
            lines.remove(10);
            lines.insert(100, line(900, "Oslo", "ja"));
            // Rows 150 to 199 before 100 to 149; a row twice.
            let moved: Vec<String> = lines.drain(150..200).collect();
            lines.splice(100..100, moved);
            lines.push(line(20, "Oslo", "ja"));
            // Blank lines and a row without its line break at the end.
            lines.insert(40, "\r\n".to_string());
            std::iter::once(header.to_string())
                .chain(lines)
                .collect::<String>()
                .trim_end()
                .to_string()
        };
        let reordered = old.replace(
            "Kundenummer;Navn;Poststed;E-post;Aktiv",
            "Kundenummer;Navn;Poststed;E-post;Aktiv;Extra",
        );
        // The only rows with a value in the active column are known ones.
        let known_values_only: String = std::iter::once(header.to_string())
            .chain((0..300).map(|i| line(i, "Oslo", if i < 290 { active(i) } else { "" })))
            .collect();
        for (file, taken) in [
            (old.as_str(), known.texts.len() - 1),
            // Rows 1, 5 and 10, and the first few moved ones (before the
            // index of all rows is made).
            (
                edited.as_str(),
                known.texts.len() - 3 - KNOWN_MISSES as usize,
            ),
            (reordered.as_str(), 0),
            (known_values_only.as_str(), known.texts.len() - 11),
        ] {
            let read_with = |fp: &Fingerprint| {
                read_into(
                    file.as_bytes(),
                    Some("k.csv"),
                    Kind::Customer,
                    &options,
                    fp.hashed(),
                )
                .unwrap_or_else(|e| panic!("{e}"))
            };
            let (out_known, with_known) = read_with(&fp);
            let (out_plain, without) = read_with(&plain);
            assert!(with_known.known_taken() >= taken, "{file}");
            assert_eq!(without.known_taken(), 0);
            assert_eq!(out_known, out_plain);
            assert_eq!(with_known.core(), without.core(), "{file}");
            let mut server = s.clone();
            let read_new = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options);
            server.theirs = read_new.map(|o| o.records).unwrap_or_default();
            let expect = categorize(&server).summary(&server);
            assert_eq!(
                Summary::from_core(categorize_input(&fp.input(&with_known))),
                expect
            );
        }

        // An active column empty in every row makes every record active:
        // a record then depends on the other rows, and no row is known.
        let all_empty = old.replace(";ja\r\n", ";\r\n").replace(";nei\r\n", ";\r\n");
        let (_, rows) = read_into(
            all_empty.as_bytes(),
            Some("k.csv"),
            Kind::Customer,
            &options,
            RowHashes::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(rows.activated);
        assert_eq!(plain.clone().with_known_rows(&records, &rows).known, None);
    }

    /// Before a connection's first import no link compares a record, so the
    /// preview hashes no value (a lone record's category is its key's and
    /// `active`'s), and still counts what the server counts, an `active`
    /// column empty throughout included.
    #[test]
    fn without_links_no_value_is_hashed() {
        use crate::read::{ReadOptions, read};
        let mut s = synced_state(4);
        s.links.clear();
        let fp = Fingerprint::from_state(&s, Side::Theirs);
        assert!(!fp.hash_spec().rows_compared);
        let file =
            "Kundenummer;Navn;Aktiv\r\n100000;A;ja\r\n100001;B;nei\r\n100009;C;ja\r\n100009;D;\r\n";
        let all_empty = file
            .replace(";ja\r\n", ";\r\n")
            .replace(";nei\r\n", ";\r\n");
        for file in [file.to_string(), all_empty] {
            let options = ReadOptions::default();
            let hashed = hashed_of(&fp, &file);
            assert!(hashed.hashes.is_empty() && hashed.rows.iter().all(|r| *r == UNCOMPARED));
            let mut server = s.clone();
            server.theirs = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options)
                .map(|o| o.records)
                .unwrap_or_default();
            let expect = categorize(&server).summary(&server);
            assert_eq!(
                Summary::from_core(categorize_input(&fp.input(&hashed))),
                expect
            );
        }
    }

    /// A connection's value mappings turn their codes into our values
    /// wherever their records are read: the browser's preview lays them
    /// over the file as the server lays them over the stored import, so the
    /// two count alike, with known rows too.
    #[test]
    fn value_maps_preview_as_the_server_maps() {
        use crate::protocol::ValueMapping;
        use crate::read::{ReadOptions, read, read_into};
        use crate::rules::map_values;
        let map = |field, their: &str, our: &str| ValueMapping {
            field,
            their_value: their.to_string(),
            our_value: our.to_string(),
        };
        let maps = vec![
            map(Field::City, "OSL", "Oslo"),
            map(Field::City, "BGO", "Bergn"),
            // Laid over in order: BGO reads as Bergn, then as Bergen.
            map(Field::City, "Bergn", "Bergen"),
            // Never mapped: records are matched by their number, and
            // `active` is a yes/no field.
            map(Field::Number, "3", "1"),
            map(Field::Active, "false", "true"),
        ];
        let ours: Vec<Record> = [
            ("1", "A", "Oslo"),
            ("2", "B", "Bergen"),
            ("3", "C", "Hamar"),
        ]
        .iter()
        .map(|(n, name, city)| {
            Record::from_pairs(
                Kind::Customer,
                &[(Field::Number, n), (Field::Name, name), (Field::City, city)],
            )
        })
        .collect();
        let mut before = State::synchronized(Kind::Customer, ours);
        // Our city of 1 changed since the last sync: theirs, unchanged as
        // mapped, is to be updated; as a code it would be a conflict.
        before.ours[0].set(Field::City, "Oslo sentrum");
        let file = "Kundenummer;Navn;Poststed;Aktiv\r\n1;A;OSL;ja\r\n2;B;BGO;ja\r\n3;C;Hamar;nei\r\n4;D;OSL;ja\r\n";
        let options = ReadOptions::default();
        let records = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options)
            .map(|o| o.records)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut server = before.clone();
        server.theirs = records.clone();
        map_values(&mut server.theirs, &maps);
        assert_eq!(server.theirs[1].get(Field::City), "Bergen");
        assert_eq!(server.theirs[2].number(), "3");
        assert!(!server.theirs[2].active());
        let expect = categorize(&server).summary(&server);
        // 1 (our change planned for theirs) and 2 synchronized, their codes
        // being our cities; 3 too (made inactive on their side only: a
        // planned update of ours); 4 new.
        let counts = CategoryCounts::of_summary(&expect);
        assert_eq!(
            (counts.synchronized, counts.new, counts.conflicts),
            (3, 1, 0),
            "{counts:?}"
        );

        let fp = Fingerprint::from_state(&before, Side::Theirs).with_value_maps(&maps);
        assert_eq!(fp.value_maps.len(), 3, "number and active are never mapped");
        assert_eq!(Fingerprint::decode(&fp.encode()), Ok(fp.clone()));
        let hashed = hashed_of(&fp, file);
        assert_eq!(
            Summary::from_core(categorize_input(&fp.input(&hashed))),
            expect
        );
        // Without the mappings the preview would differ: the check has teeth.
        let plain = Fingerprint::from_state(&before, Side::Theirs);
        let hashed = hashed_of(&plain, file);
        assert_ne!(
            Summary::from_core(categorize_input(&plain.input(&hashed))),
            expect
        );

        // Known rows are hashed with the mappings too: the stored import's
        // records as read, before any mapping, as the server keeps them.
        let (_, rows) = read_into(
            file.as_bytes(),
            Some("k.csv"),
            Kind::Customer,
            &options,
            RowHashes::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let known = fp.clone().with_known_rows(&records, &rows);
        let hashed = hashed_of(&known, file);
        // All but 1, which the rules compare field by field (read as usual).
        assert_eq!(hashed.known_taken(), 3);
        assert_eq!(
            Summary::from_core(categorize_input(&known.input(&hashed))),
            expect
        );
        assert_eq!(Fingerprint::decode(&known.encode()), Ok(known.clone()));

        // Of our side's import, the mappings (of their side) are not laid.
        let ours = Fingerprint::from_state(&before, Side::Ours).with_value_maps(&maps);
        assert!(ours.value_maps.is_empty());
        // A mapping of the number in the binary form is damage.
        let mut bytes = fp.encode();
        // The same fingerprint without them ends with their count, 0.
        let at = plain.encode().len() - 1;
        assert_eq!(bytes[at], 3, "the mappings' count");
        bytes[at + 1] = field_code(Field::Number);
        assert!(Fingerprint::decode(&bytes).is_err());
    }

    #[test]
    fn outdated_or_damaged_fingerprints_are_refused() {
        let fp = Fingerprint::from_state(&synced_state(3), Side::Ours);
        let mut bytes = fp.encode();
        assert!(Fingerprint::decode(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(
            Fingerprint::decode(b"nope"),
            Err(FingerprintError::BadMagic)
        );
        bytes[4] = 9;
        assert_eq!(
            Fingerprint::decode(&bytes),
            Err(FingerprintError::UnsupportedVersion { found: 9 })
        );
        // Every prefix is an error, never a panic.
        let bytes = fp.encode();
        for cut in 0..bytes.len() {
            assert!(Fingerprint::decode(&bytes[..cut]).is_err());
        }
        // Any one byte changed: an error or a fingerprint, never a panic.
        for at in 0..bytes.len() {
            for v in [0u8, 1, 2, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] = v;
                let _ = Fingerprint::decode(&b);
            }
        }
    }

    /// Keys are checked as UTF-8 all at once: a key that is not is still
    /// damage, and so is a character split between two keys (their text
    /// together is UTF-8, each alone is not).
    #[test]
    fn keys_that_are_not_utf8_are_damage() {
        // No links, which would name these keys again.
        let mut state = synced_state(3);
        state.links.clear();
        let fp = Fingerprint::from_state(&state, Side::Ours);
        assert_eq!(fp.fixed.len(), 3);
        let bytes = fp.encode();
        assert_eq!(Fingerprint::decode(&bytes), Ok(fp.clone()));
        let at = |key: Key| {
            let k = fp.keys.get(key).as_bytes();
            bytes
                .windows(k.len())
                .position(|w| w == k)
                .unwrap_or_else(|| panic!("key {k:?} not found"))
        };
        let (first, second) = (fp.fixed[0].key, fp.fixed[1].key);
        let first_end = at(first) + fp.keys.get(first).len() - 1;
        let second_start = at(second);
        assert!(first_end < second_start);

        let mut invalid = bytes.clone();
        invalid[first_end] = 0xff;
        assert_eq!(
            Fingerprint::decode(&invalid),
            Err(FingerprintError::Damaged("key is not UTF-8".into()))
        );

        // "å" is 0xc3 0xa5: the first key ends with half of it, the second
        // starts with the other half.
        let mut split = bytes.clone();
        split[first_end] = 0xc3;
        split[second_start] = 0xa5;
        assert_eq!(
            Fingerprint::decode(&split),
            Err(FingerprintError::Damaged("key is not UTF-8".into()))
        );
        // Both halves in one key are a key.
        let mut whole = bytes.clone();
        whole[first_end - 1] = 0xc3;
        whole[first_end] = 0xa5;
        let decoded = Fingerprint::decode(&whole).unwrap_or_else(|e| panic!("{e}"));
        assert!(decoded.keys.get(first).ends_with('å'));
    }

    #[test]
    fn links_in_record_order_point_at_their_record_in_a_byte() {
        for v in [0i64, 1, -1, 2, -2, 300, -300, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        let s = synced_state(200);
        let fp = Fingerprint::from_state(&s, Side::Theirs);
        let bytes = fp.encode();
        assert_eq!(Fingerprint::decode(&bytes), Ok(fp.clone()));
        // Links out of record order step back and forth.
        let mut other = fp.clone();
        other.links.swap(0, 1);
        let swapped = other.encode();
        // (Its keys are then stored in another order: compared as encoded.)
        let decoded = Fingerprint::decode(&swapped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.encode(), swapped);
        assert_eq!(decoded.keys.get(decoded.links[0].our_key), "100001");
    }
}

//! The six categories of the synchronization window, and the rules that put
//! every record of both sides into exactly one row of exactly one category.
//!
//! The rules run on a hashed form of the state (`Input`: per record its
//! matching key, `active`, and hashes of its normalized synced fields) so that
//! the server, holding full records, and the browser, holding only the
//! preview fingerprint and an import, run the very same code and get the same
//! counts and row keys. `categorize(&State)` adds the details people read:
//! conflicting fields and planned updates in its rows, numbers and names
//! read from the state when asked.
//!
//! The rules, in order:
//! - a link whose key matches several records of a side cannot be followed:
//!   a conflict row of its own, while those records stay lone rows under
//!   New, flagged "Skipped (multiple matches)";
//! - a stopped link, or a linked record marked "Don't synchronize":
//!   Synchronization deactivated;
//! - a link with a record gone from either side: Deleted, until unlinked;
//! - a link whose sides differ in a field that changed differently on both
//!   sides since the base (or with no base), or whose pending change did not
//!   arrive as written: Synchronization conflicts; otherwise Synchronized, with
//!   one-sided changes listed as planned updates of the other side;
//! - a lone record: marked "Don't synchronize" → deactivated; inactive →
//!   Inactive; otherwise New. Equal numbers are never linked automatically:
//!   a lone record with an equal-key lone partner is New with a suggestion.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeSet;

use crate::append::{cmp_text, same_text};
use crate::normalize::FastMap;

use serde::{Deserialize, Serialize};

use crate::normalize::{combine, match_key, normalize};
use crate::schema::{Field, Record, Side};
use crate::state::{Link, PendingChange, PendingIndex, State};

/// Hash of "no known value" in a base.
pub const UNKNOWN: u64 = 0;

/// Hash of a field a side's data does not carry (its file has no column for
/// it; `State::missing`): it never differs from the other side's value, so
/// it is neither a conflict nor an update in either direction. A value's
/// hash equals it with a chance of 2^-64.
pub const ABSENT: u64 = 0x6162_7365_6e74_2121;

/// Where an entry's record lives: a record of the side, or (their side only)
/// a partner a pending change created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Source {
    Record(u32),
    Pending(u32),
}

/// One record, hashed. Keys borrow from the records (or the fingerprint)
/// whenever the matching key is the number itself, so a million entries cost
/// no allocation each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: Cow<'a, str>,
    pub active: bool,
    /// `combine` of the synced fields' hashes.
    pub row: u64,
    /// Per synced field, as a slot of `Input::hashes` (see `Input::fields`);
    /// the fingerprint leaves it out where the row hash is enough to decide.
    pub fields: Option<Slot>,
    pub source: Source,
    /// A pending change to this record did not arrive as written.
    pub pending_conflict: bool,
}

/// One link, hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry<'a> {
    pub our_key: Cow<'a, str>,
    pub their_key: Cow<'a, str>,
    pub active: bool,
    pub base_row: u64,
    /// A slot of `Input::hashes`, like `Entry::fields`.
    pub base_fields: Option<Slot>,
}

/// `Input::link_found` where nothing was found: the rules look.
pub(crate) const NOT_FOUND: u32 = u32::MAX;

/// `Input::link_found` where no entry has the key: the rules need not look.
pub(crate) const NO_ENTRY: u32 = u32::MAX - 1;

/// One pending change, hashed. `field` is the index among the synced fields
/// (`None`: a field not synced, which never affects categories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingEntry {
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

/// The hashed state the rules run on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input<'a> {
    pub ours: Vec<Entry<'a>>,
    pub theirs: Vec<Entry<'a>>,
    pub links: Vec<LinkEntry<'a>>,
    /// The number of synced fields: the length of every slot in `hashes`.
    pub width: usize,
    /// Per-field hashes of entries and bases, `width` per slot, in one
    /// vector rather than one allocation per record.
    pub hashes: Vec<u64>,
    pub deactivated_ours: BTreeSet<String>,
    pub deactivated_theirs: BTreeSet<String>,
    /// `ours` and `theirs` (in that order) are known to be in strictly
    /// increasing key order, as `State::to_input` finds while it builds
    /// them; `false` when not known, and then the rules look
    /// (`KeyIndex::known`).
    pub(crate) sorted: [bool; 2],
    /// `link_order(&links)` when `State::to_input` found it while it made
    /// the links; `None` when not known, and then the rules look.
    pub(crate) link_order: Option<(bool, bool)>,
    /// Per link, the one entry of ours and of theirs with its keys, as
    /// `State::to_input` found them while it looked at the links;
    /// `NO_ENTRY` where no entry has the key; `NOT_FOUND` where it did not
    /// tell (several entries), and then the rules look. Empty when not
    /// known. An index here is the one the rules would find: `overlay` only
    /// appends entries with keys no entry had, and when it does, their
    /// side's `NO_ENTRY`s become `NOT_FOUND`.
    /// Kept apart from the links so that finding them rewrites 8 bytes a
    /// link, not each link's cache line.
    pub(crate) link_found: Vec<[u32; 2]>,
    /// Per link, as `State::to_input` found: the link is active, neither
    /// of its keys is marked "Don't synchronize", and its records, the
    /// entries `link_found` has, are the same and the only ones with its
    /// keys, in no other link that compares them and no pending change
    /// (`State::marks`'s plain links). The rules make its row synchronized
    /// from that alone, unless an earlier link claimed a record (the same
    /// link twice), and read neither entry. Empty when not known.
    pub(crate) settled: Vec<bool>,
    pub pending: Vec<PendingEntry>,
    /// Filled by `overlay`: indices of pending changes their data shows
    /// arrived.
    pub arrived: Vec<u32>,
}

impl<'a> Input<'a> {
    /// An empty input over `width` synced fields.
    pub fn new(width: usize) -> Input<'a> {
        Input {
            width,
            ..Input::default()
        }
    }

    /// The entries of `side` by key, their order taken from `sorted` when
    /// known.
    pub(crate) fn index(&self, side: Side) -> KeyIndex<'_, [Entry<'a>]> {
        let (list, sorted) = match side {
            Side::Ours => (self.ours.as_slice(), self.sorted[0]),
            Side::Theirs => (self.theirs.as_slice(), self.sorted[1]),
        };
        if sorted {
            KeyIndex::known(list, true)
        } else {
            KeyIndex::new(list)
        }
    }

    /// The field hashes in `slot`.
    pub fn fields(&self, slot: Option<Slot>) -> Option<&[u64]> {
        slot?.of(&self.hashes, self.width)
    }

    /// Stores field hashes (exactly `width` of them) and returns their slot.
    pub fn push_fields(&mut self, fields: impl IntoIterator<Item = u64>) -> Slot {
        let slot = Slot::next(&self.hashes, self.width);
        self.hashes.extend(fields);
        slot
    }

    /// Hashes `width` fields into a new slot; returns it and the row hash.
    pub fn push_hashed(&mut self, fields: impl IntoIterator<Item = u64>) -> (Slot, u64) {
        let start = self.hashes.len();
        let slot = self.push_fields(fields);
        (slot, combine(self.hashes[start..].iter().copied()))
    }
}

/// Where a record's `width` field hashes are in a vector of them
/// (`Input::hashes`, `Fingerprint::hashes`). Kept as the slot's number plus
/// one, so that `Option<Slot>` takes four bytes: a million entries are
/// 8 MB smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slot(std::num::NonZeroU32);

impl Slot {
    /// The slot of the hashes that `hashes` will get next.
    pub fn next(hashes: &[u64], width: usize) -> Slot {
        Slot::at(hashes.len().checked_div(width).unwrap_or(0))
    }

    /// The `index`th slot.
    fn at(index: usize) -> Slot {
        let n = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
        Slot(std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MAX))
    }

    /// The hashes of this slot in `hashes`.
    pub fn of(self, hashes: &[u64], width: usize) -> Option<&[u64]> {
        hashes.get(self.range(width)?)
    }

    /// Where the slot is in a vector of `width` hashes per slot.
    fn range(self, width: usize) -> Option<std::ops::Range<usize>> {
        let start = (self.0.get() as usize - 1).checked_mul(width)?;
        Some(start..start.checked_add(width)?)
    }
}

/// Lays the pending changes over their entries: a `Set` whose old value is
/// still there replaces it, one whose new value is there has arrived, and
/// any other value marks a conflict; a `Create` with no record yet adds a
/// virtual record, one matching the record there has arrived, and a
/// different record marks a conflict.
pub fn overlay(input: &mut Input) {
    if input.pending.is_empty() {
        input.arrived.clear();
        return;
    }
    let before = input.theirs.len();
    // Only records a pending change names need finding.
    let named: BTreeSet<&str> = input
        .pending
        .iter()
        .map(|p| match p {
            PendingEntry::Create { key, .. } | PendingEntry::Set { key, .. } => key.as_str(),
        })
        .collect();
    let mut by_key: FastMap<String, Vec<usize>> = FastMap::default();
    for (i, e) in input.theirs.iter().enumerate() {
        if named.contains(e.key.as_ref()) {
            by_key.entry(e.key.to_string()).or_default().push(i);
        }
    }
    let mut arrived = Vec::new();
    // Creations first, then field changes, so a change of a created partner
    // applies whatever order the list has (and `State::effective_theirs`
    // lays them over the same way).
    let creates = input
        .pending
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, PendingEntry::Create { .. }));
    let sets = input
        .pending
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, PendingEntry::Set { .. }));
    // One change per field counts: the last (as `plan::apply` keeps it).
    let mut last_set: FastMap<(&str, Option<u32>), usize> = FastMap::default();
    for (pi, p) in input.pending.iter().enumerate() {
        if let PendingEntry::Set { key, field, .. } = p {
            last_set.insert((key.as_str(), *field), pi);
        }
    }
    let superseded: BTreeSet<usize> = input
        .pending
        .iter()
        .enumerate()
        .filter(|(pi, p)| match p {
            PendingEntry::Set { key, field, .. } => {
                last_set.get(&(key.as_str(), *field)) != Some(pi)
            }
            PendingEntry::Create { .. } => false,
        })
        .map(|(pi, _)| pi)
        .collect();
    for (pi, p) in creates.chain(sets) {
        if superseded.contains(&pi) {
            continue;
        }
        match p {
            PendingEntry::Set {
                key,
                field,
                from,
                to,
            } => {
                let Some(field) = field else {
                    arrived.push(pi as u32);
                    continue;
                };
                let Some([i]) = by_key.get(key).map(Vec::as_slice) else {
                    // Gone, or ambiguous: the link's own row says so.
                    continue;
                };
                let e = &mut input.theirs[*i];
                let Some(range) = e.fields.and_then(|s| s.range(input.width)) else {
                    continue;
                };
                let Some(&have) = input
                    .hashes
                    .get(range.clone())
                    .and_then(|fields| fields.get(*field as usize))
                else {
                    continue;
                };
                if have == *to {
                    arrived.push(pi as u32);
                } else if have == *from || have == ABSENT {
                    // Not there yet, or their data cannot show it (no
                    // column): the change stays pending and laid over, on
                    // a copy of the entry's hashes, since a slot may be
                    // shared with its partner's (`State::to_input`).
                    let copy = Slot::next(&input.hashes, input.width);
                    input.hashes.extend_from_within(range);
                    let Some(fields) = copy
                        .range(input.width)
                        .and_then(|r| input.hashes.get_mut(r))
                    else {
                        continue;
                    };
                    fields[*field as usize] = *to;
                    e.fields = Some(copy);
                    e.row = combine(fields.iter().copied());
                } else {
                    e.pending_conflict = true;
                }
            }
            PendingEntry::Create {
                key,
                active,
                fields,
            } => match by_key.get(key).map(Vec::as_slice) {
                None | Some([]) => {
                    by_key.insert(key.clone(), vec![input.theirs.len()]);
                    let slot = Slot::next(&input.hashes, input.width);
                    input.hashes.extend(
                        fields
                            .iter()
                            .copied()
                            .chain(std::iter::repeat(UNKNOWN))
                            .take(input.width),
                    );
                    // The entry goes at the end, whatever its key.
                    input.sorted[1] = false;
                    input.theirs.push(Entry {
                        key: Cow::Owned(key.clone()),
                        active: *active,
                        row: combine(fields.iter().copied()),
                        fields: Some(slot),
                        source: Source::Pending(pi as u32),
                        pending_conflict: false,
                    });
                }
                Some([i]) => {
                    let e = &input.theirs[*i];
                    // Fields their data does not carry cannot show it.
                    let same = match e.fields.and_then(|s| s.of(&input.hashes, input.width)) {
                        Some(have) if have.contains(&ABSENT) => have
                            .iter()
                            .zip(fields.iter().chain(std::iter::repeat(&UNKNOWN)))
                            .all(|(h, f)| h == f || *h == ABSENT),
                        _ => e.row == combine(fields.iter().copied()) && e.active == *active,
                    };
                    let e = &mut input.theirs[*i];
                    if same {
                        arrived.push(pi as u32);
                    } else {
                        e.pending_conflict = true;
                    }
                }
                Some(_) => {}
            },
        }
    }
    arrived.sort_unstable();
    input.arrived = arrived;
    // A partner a creation added may have the key a link found no entry
    // of theirs with.
    if input.theirs.len() > before {
        for found in &mut input.link_found {
            if found[1] == NO_ENTRY {
                found[1] = NOT_FOUND;
            }
        }
    }
}

/// The six categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Conflicts,
    New,
    Deleted,
    Deactivated,
    Synchronized,
    Inactive,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Conflicts,
        Category::New,
        Category::Deleted,
        Category::Deactivated,
        Category::Synchronized,
        Category::Inactive,
    ];

    /// The heading people see.
    pub fn label(self) -> &'static str {
        match self {
            Category::Conflicts => "Synchronization conflicts",
            Category::New => "New",
            Category::Deleted => "Deleted",
            Category::Deactivated => "Synchronization deactivated",
            Category::Synchronized => "Synchronized",
            Category::Inactive => "Inactive",
        }
    }
}

/// Why a row is where it is, when the category alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A side changed a field differently, or a fresh pair differs.
    FieldConflict,
    /// The link's key matches several records on a side.
    MultipleMatches,
    /// The record is already in an earlier link's row.
    AlreadyLinked,
    /// A pending change to their side arrived as something else.
    PendingMismatch,
    /// The link was stopped.
    Stopped,
    /// A record is marked "Don't synchronize".
    DontSynchronize,
    /// Our record of the link is gone.
    MissingOurs,
    /// Their record of the link is gone.
    MissingTheirs,
    /// Both records of the link are gone.
    MissingBoth,
}

/// A row as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRow {
    pub category: Category,
    /// Stable identity of the row: `link:<our key>:<their key>`,
    /// `ours:<key>` or `theirs:<key>`, with `#n` for the n-th repeat of a key.
    /// Written only by `categorize_input`; empty from `count_input` and
    /// inside `categorize`, whose rows give it from the state (`Row::key`).
    pub key: String,
    /// Which repeat of its key the row is: 1 for the first (no `#n`).
    pub repeat: u32,
    /// Indices into `Input::ours` / `Input::theirs`.
    pub ours: Option<u32>,
    pub theirs: Option<u32>,
    pub link: Option<u32>,
    pub reason: Option<Reason>,
    /// The key is on several records of this side: never matched.
    pub skipped_multiple: bool,
    /// A lone record of the other side has the same key.
    pub equal_number_partner: bool,
}

enum Pair {
    Same,
    OneSided,
    Conflict,
}

fn compare(input: &Input<'_>, o: &Entry<'_>, t: &Entry<'_>, link: &LinkEntry<'_>) -> Pair {
    if o.row == t.row {
        return Pair::Same;
    }
    if o.row == link.base_row || t.row == link.base_row {
        return Pair::OneSided;
    }
    match (
        input.fields(o.fields),
        input.fields(t.fields),
        input.fields(link.base_fields),
    ) {
        (Some(of), Some(tf), Some(bf)) => {
            let conflict = of.iter().zip(tf).zip(bf).any(|((o, t), b)| {
                o != t && *o != ABSENT && *t != ABSENT && (*b == UNKNOWN || (o != b && t != b))
            });
            if conflict {
                Pair::Conflict
            } else {
                Pair::OneSided
            }
        }
        // Not enough detail to tell: safer to ask a person.
        _ => Pair::Conflict,
    }
}

/// A list of keys, by position: what a `KeyIndex` indexes.
pub(crate) trait KeyList {
    fn count(&self) -> usize;
    /// The key at `i` (`i < count()`).
    fn key_at(&self, i: usize) -> &str;
}

impl KeyList for [Entry<'_>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn key_at(&self, i: usize) -> &str {
        self.get(i).map_or("", |e| e.key.as_ref())
    }
}

impl KeyList for [Cow<'_, str>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn key_at(&self, i: usize) -> &str {
        self.get(i).map_or("", |k| k.as_ref())
    }
}

/// Per key: the first entry with it and how many share it. Nothing more is
/// needed, since a key on several entries is never matched.
///
/// Files and registers usually come in key order. Then every key is unique
/// and a lookup tries the entry after the previous find, then a binary
/// search: no hash map, whose cache misses were most of the rules' time at
/// a million entries. Otherwise a hash map. The rules, `State::to_input`
/// and the fingerprint's making and encoding find records by key with it.
pub(crate) enum KeyIndex<'e, L: KeyList + ?Sized> {
    Sorted {
        list: &'e L,
        next: Cell<usize>,
    },
    Hashed {
        first: FastMap<&'e str, u32>,
        /// Per entry: the first entry with its key.
        first_of: Vec<u32>,
        /// Per first entry: how many entries share its key.
        count: Vec<u32>,
    },
}

impl<'e, L: KeyList + ?Sized> KeyIndex<'e, L> {
    pub(crate) fn new(list: &'e L) -> KeyIndex<'e, L> {
        let sorted =
            (1..list.count()).all(|i| cmp_text(list.key_at(i - 1), list.key_at(i)).is_lt());
        KeyIndex::known(list, sorted)
    }

    /// `new` for a list whose order is known: `sorted` says whether its
    /// keys strictly increase, and must be right (a list taken as sorted
    /// that is not answers wrongly).
    pub(crate) fn known(list: &'e L, sorted: bool) -> KeyIndex<'e, L> {
        let n = list.count();
        if sorted {
            return KeyIndex::Sorted {
                list,
                next: Cell::new(0),
            };
        }
        let mut first: FastMap<&str, u32> =
            FastMap::with_capacity_and_hasher(n, Default::default());
        let mut first_of = Vec::with_capacity(n);
        let mut count = vec![0u32; n];
        for i in 0..n {
            let f = *first.entry(list.key_at(i)).or_insert(i as u32);
            first_of.push(f);
            count[f as usize] += 1;
        }
        KeyIndex::Hashed {
            first,
            first_of,
            count,
        }
    }

    /// The first entry with `key` and how many have it.
    pub(crate) fn get(&self, key: &str) -> Option<(u32, u32)> {
        match self {
            KeyIndex::Sorted { list, next } => {
                let guess = next.get();
                let n = list.count();
                let at = if guess < n && same_text(list.key_at(guess), key) {
                    guess
                } else {
                    // Lookups mostly go forward a little, or back to a
                    // key just found: a key on either side of the guess is
                    // looked for in steps doubling from it, and only then
                    // by halves, so that a million lookups in order touch
                    // nearby entries, not twenty far ones each.
                    let (mut lo, mut hi) = (0, n);
                    if guess < n && cmp_text(list.key_at(guess), key).is_lt() {
                        lo = guess + 1;
                        let mut step = 1;
                        while let Some(probe) = guess.checked_add(step).filter(|p| *p < n) {
                            if cmp_text(list.key_at(probe), key).is_lt() {
                                lo = probe + 1;
                                step *= 2;
                            } else {
                                hi = probe + 1;
                                break;
                            }
                        }
                    } else if guess < n {
                        hi = guess;
                        let mut step = 1;
                        while let Some(probe) = guess.checked_sub(step) {
                            if cmp_text(list.key_at(probe), key).is_gt() {
                                hi = probe;
                                step *= 2;
                            } else {
                                lo = probe;
                                break;
                            }
                        }
                    }
                    loop {
                        if lo >= hi {
                            return None;
                        }
                        let mid = lo + (hi - lo) / 2;
                        match cmp_text(list.key_at(mid), key) {
                            std::cmp::Ordering::Less => lo = mid + 1,
                            std::cmp::Ordering::Greater => hi = mid,
                            std::cmp::Ordering::Equal => break mid,
                        }
                    }
                };
                next.set(at + 1);
                Some((at as u32, 1))
            }
            KeyIndex::Hashed { first, count, .. } => {
                let f = *first.get(key)?;
                Some((f, count[f as usize]))
            }
        }
    }

    /// Starts the next lookup's search at entry `at`: where a caller
    /// knows its key is, or nearly.
    pub(crate) fn seek(&self, at: usize) {
        if let KeyIndex::Sorted { next, .. } = self {
            next.set(at);
        }
    }

    /// How many entries share entry `i`'s key: no lookup.
    fn count_of(&self, i: usize) -> u32 {
        match self {
            KeyIndex::Sorted { .. } => 1,
            KeyIndex::Hashed {
                first_of, count, ..
            } => first_of
                .get(i)
                .and_then(|f| count.get(*f as usize))
                .copied()
                .unwrap_or(1),
        }
    }
}

/// A row key from its parts, with `#n` for a repeat: one allocation of the
/// right size (a million rows each get one).
fn row_key(parts: &[&str], repeat: Option<u32>) -> String {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut key = String::with_capacity(len + if repeat.is_some() { 11 } else { 0 });
    for p in parts {
        key.push_str(p);
    }
    if let Some(n) = repeat {
        key.push('#');
        key.push_str(&n.to_string());
    }
    key
}

/// Runs the rules. Rows come sorted by category, then key.
pub fn categorize_input(input: &Input<'_>) -> Vec<CoreRow> {
    let buckets = categorize_buckets(input);
    let mut out = Vec::with_capacity(buckets.iter().map(Vec::len).sum());
    for mut b in buckets {
        out.append(&mut b);
    }
    out
}

/// The rules' rows by category (indexed by `Category as usize`), each
/// sorted by key.
fn categorize_buckets(input: &Input<'_>) -> [Vec<CoreRow>; 6] {
    let mut rows: Vec<CoreRow> = Vec::with_capacity(input.ours.len() + input.theirs.len());
    rules(input, Keys::Text, &mut |row| rows.push(row));
    sort_rows(rows, false, |r| r.category, |x, y| x.key.cmp(&y.key))
}

/// How many rows each category holds (indexed by `Category as usize`): the
/// rules of `categorize_input` without building, keeping or sorting a row
/// key per row. The browser's preview needs only these, and at a million
/// rows the keys were most of its time and memory.
pub fn count_input(input: &Input<'_>) -> [u32; 6] {
    let mut counts = [0u32; 6];
    rules(input, Keys::None, &mut |row| {
        counts[row.category as usize] += 1
    });
    counts
}

/// What the rules give each row besides its category.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// Nothing: counting needs no more.
    None,
    /// The row's repeat number and equal-number flag, but no key text:
    /// `categorize` sorts by the input's keys and its rows give their key
    /// from the state.
    Parts,
    /// `Parts` and the row key's text.
    Text,
}

/// The rules: every row of the input handed to `emit` once, in no
/// particular order, with what `keys` asks for; without it the key is
/// empty, the repeat 1 and the equal-number flag unset, since none of them
/// changes a row's category.
///
/// Returns whether the link rows came in the order of their row keys'
/// texts (see `link_order`).
fn rules(input: &Input<'_>, keys: Keys, emit: &mut impl FnMut(CoreRow)) -> bool {
    let ours_by_key = input.index(Side::Ours);
    let theirs_by_key = input.index(Side::Theirs);
    let mut our_claimed = vec![false; input.ours.len()];
    let mut their_claimed = vec![false; input.theirs.len()];
    // A pair of keys on several links gets `#n` in its row keys. Links
    // usually come in key order, and a strictly increasing list repeats no
    // pair: then no map of a million pairs is built to find that out.
    let (increasing, in_text_order) = if keys == Keys::None {
        (true, false)
    } else {
        input.link_order.unwrap_or_else(|| link_order(&input.links))
    };
    let number_repeats = !increasing;
    let mut link_keys: FastMap<(&str, &str), u32> = FastMap::with_capacity_and_hasher(
        if number_repeats { input.links.len() } else { 0 },
        Default::default(),
    );

    for (li, l) in input.links.iter().enumerate() {
        let repeat = if number_repeats {
            let n = link_keys
                .entry((l.our_key.as_ref(), l.their_key.as_ref()))
                .or_insert(0);
            *n += 1;
            *n
        } else {
            1
        };
        let key = if keys == Keys::Text {
            row_key(
                &["link:", &l.our_key, ":", &l.their_key],
                (repeat > 1).then_some(repeat),
            )
        } else {
            String::new()
        };
        let mut row = CoreRow {
            category: Category::Conflicts,
            key,
            repeat,
            ours: None,
            theirs: None,
            link: Some(li as u32),
            reason: None,
            skipped_multiple: false,
            equal_number_partner: false,
        };
        let found = input.link_found.get(li).copied().unwrap_or([NOT_FOUND; 2]);
        // A plain link (usual after a sync): synchronized, with no look at
        // its entries.
        if input.settled.get(li) == Some(&true)
            && let [o, t] = found
            && !our_claimed.get(o as usize).is_none_or(|c| *c)
            && !their_claimed.get(t as usize).is_none_or(|c| *c)
        {
            our_claimed[o as usize] = true;
            their_claimed[t as usize] = true;
            row.ours = Some(o);
            row.theirs = Some(t);
            row.category = Category::Synchronized;
            emit(row);
            continue;
        }
        let find = |found: u32, index: &KeyIndex<'_, [Entry<'_>]>, key: &str| match found {
            NOT_FOUND => index.get(key),
            NO_ENTRY => None,
            i => Some((i, 1)),
        };
        let os = find(found[0], &ours_by_key, &l.our_key);
        let ts = find(found[1], &theirs_by_key, &l.their_key);
        if os.is_some_and(|x| x.1 > 1) || ts.is_some_and(|x| x.1 > 1) {
            row.reason = Some(Reason::MultipleMatches);
            emit(row);
            continue;
        }
        let o = os.map(|x| x.0);
        let t = ts.map(|x| x.0);
        if o.is_some_and(|i| our_claimed[i as usize])
            || t.is_some_and(|i| their_claimed[i as usize])
        {
            row.reason = Some(Reason::AlreadyLinked);
            emit(row);
            continue;
        }
        if let Some(i) = o {
            our_claimed[i as usize] = true;
        }
        if let Some(i) = t {
            their_claimed[i as usize] = true;
        }
        row.ours = o;
        row.theirs = t;
        let marked = dont_sync([&input.deactivated_ours, &input.deactivated_theirs], l);
        let (category, reason) = if !l.active {
            (Category::Deactivated, Some(Reason::Stopped))
        } else {
            match (o, t) {
                (None, None) => (Category::Deleted, Some(Reason::MissingBoth)),
                (None, Some(_)) => (Category::Deleted, Some(Reason::MissingOurs)),
                (Some(_), None) => (Category::Deleted, Some(Reason::MissingTheirs)),
                (Some(oi), Some(ti)) => {
                    let oe = &input.ours[oi as usize];
                    let te = &input.theirs[ti as usize];
                    if marked {
                        (Category::Deactivated, Some(Reason::DontSynchronize))
                    } else if te.pending_conflict {
                        (Category::Conflicts, Some(Reason::PendingMismatch))
                    } else {
                        match compare(input, oe, te, l) {
                            Pair::Conflict => (Category::Conflicts, Some(Reason::FieldConflict)),
                            Pair::Same | Pair::OneSided => (Category::Synchronized, None),
                        }
                    }
                }
            }
        };
        row.category = category;
        row.reason = reason;
        emit(row);
    }

    lone_rows(
        Side::Ours,
        &input.ours,
        &our_claimed,
        &ours_by_key,
        &theirs_by_key,
        &their_claimed,
        &input.deactivated_ours,
        keys,
        emit,
    );
    lone_rows(
        Side::Theirs,
        &input.theirs,
        &their_claimed,
        &theirs_by_key,
        &ours_by_key,
        &our_claimed,
        &input.deactivated_theirs,
        keys,
        emit,
    );
    in_text_order
}

/// Whether either of link `l`'s keys is marked "Don't synchronize"
/// (`deactivated`: the marked keys of ours, then of theirs).
#[inline]
pub(crate) fn dont_sync(deactivated: [&BTreeSet<String>; 2], l: &LinkEntry<'_>) -> bool {
    let marked = |keys: &BTreeSet<String>, key: &str| !keys.is_empty() && keys.contains(key);
    marked(deactivated[0], &l.our_key) || marked(deactivated[1], &l.their_key)
}

/// Whether the links strictly increase by their pair of keys (then no
/// pair repeats), and whether their row keys' texts do too: so they do
/// when besides every key of ours has one length (numbers of one width),
/// since `link:A:B` and `link:A':B'` then order as (A, B) and (A', B').
fn link_order(links: &[LinkEntry<'_>]) -> (bool, bool) {
    let mut order = LinkOrder::default();
    let mut last = None;
    for l in links {
        order.next(last, l);
        last = Some(l);
    }
    order.get()
}

/// `link_order` taken link by link, for `State::to_input` to find while it
/// makes the links.
#[derive(Default)]
pub(crate) struct LinkOrder {
    first_length: usize,
    out_of_order: bool,
    lengths_differ: bool,
}

impl LinkOrder {
    /// Takes `link`, which comes after `last` (`None` for the first).
    #[inline]
    pub(crate) fn next(&mut self, last: Option<&LinkEntry<'_>>, link: &LinkEntry<'_>) {
        match last {
            None => self.first_length = link.our_key.len(),
            Some(l) => {
                self.out_of_order |= cmp_text(&l.our_key, &link.our_key)
                    .then_with(|| cmp_text(&l.their_key, &link.their_key))
                    .is_ge();
                self.lengths_differ |= link.our_key.len() != self.first_length;
            }
        }
    }

    /// Whether the links strictly increase, and whether their row keys do.
    pub(crate) fn get(&self) -> (bool, bool) {
        if self.out_of_order {
            (false, false)
        } else {
            (true, !self.lengths_differ)
        }
    }
}

/// Sorts rows into their categories' buckets, each by key. Row keys are
/// unique (repeats carry `#n`), so any sort gives the same order. Each
/// bucket is sorted with the run-detecting stable sort: links and records
/// usually come in key order already, and then sorting costs a pass over
/// the rows instead of a million string comparisons. The largest category
/// (after a sync, nearly every row is synchronized) stays where it is in
/// `rows`, the others moved out of it: at a million rows, a second list
/// is 56 MB of fresh memory. The others are made exactly as long as they
/// will be, not grown by doubling. With `in_order` the rows came in key
/// order (see `categorize`) and are not sorted again; tests check that.
fn sort_rows<R>(
    mut rows: Vec<R>,
    in_order: bool,
    category: impl Fn(&R) -> Category,
    by_key: impl Fn(&R, &R) -> std::cmp::Ordering,
) -> [Vec<R>; 6] {
    let mut buckets: [Vec<R>; 6] = Default::default();
    let mut counts = [0usize; 6];
    for r in &rows {
        counts[category(r) as usize] += 1;
    }
    let largest = (0..6).max_by_key(|c| counts[*c]).unwrap_or(0);
    for (c, (b, n)) in buckets.iter_mut().zip(counts).enumerate() {
        if c != largest {
            b.reserve_exact(n);
        }
    }
    for r in rows.extract_if(.., |r| category(r) as usize != largest) {
        buckets[category(&r) as usize].push(r);
    }
    buckets[largest] = rows;
    for b in &mut buckets {
        if in_order {
            debug_assert!(b.is_sorted_by(|x, y| by_key(x, y).is_lt()));
        } else {
            b.sort_by(&by_key);
        }
    }
    buckets
}

#[allow(clippy::too_many_arguments)]
fn lone_rows(
    side: Side,
    entries: &[Entry<'_>],
    claimed: &[bool],
    own_index: &KeyIndex<'_, [Entry<'_>]>,
    other_index: &KeyIndex<'_, [Entry<'_>]>,
    other_claimed: &[bool],
    deactivated: &BTreeSet<String>,
    keys: Keys,
    emit: &mut impl FnMut(CoreRow),
) {
    let mut seen: FastMap<&str, u32> = FastMap::default();
    for (i, e) in entries.iter().enumerate() {
        let count = own_index.count_of(i);
        // The n-th record with a key keeps its number even when an earlier
        // one is linked, so row keys do not shift when links change. Only
        // repeated keys need counting.
        let n = if keys != Keys::None && count > 1 {
            let n = seen.entry(e.key.as_ref()).or_insert(0);
            *n += 1;
            *n
        } else {
            1
        };
        if claimed[i] {
            continue;
        }
        let key = if keys == Keys::Text {
            row_key(&[side.as_str(), ":", &e.key], (n > 1).then_some(n))
        } else {
            String::new()
        };
        let multiple = count > 1;
        // Records sharing a key are never claimed by a link, so a repeated
        // key always has an unclaimed record.
        // Counting needs no partner flag: it does not change the category.
        let partner = keys != Keys::None
            && other_index
                .get(e.key.as_ref())
                .is_some_and(|(first, count)| count > 1 || !other_claimed[first as usize]);
        let (category, reason) = if multiple {
            (Category::New, Some(Reason::MultipleMatches))
        } else if !deactivated.is_empty() && deactivated.contains(e.key.as_ref()) {
            (Category::Deactivated, Some(Reason::DontSynchronize))
        } else if !e.active {
            (Category::Inactive, None)
        } else {
            (Category::New, None)
        };
        let (ours, theirs) = match side {
            Side::Ours => (Some(i as u32), None),
            Side::Theirs => (None, Some(i as u32)),
        };
        emit(CoreRow {
            category,
            key,
            repeat: n,
            ours,
            theirs,
            link: None,
            reason,
            skipped_multiple: multiple,
            equal_number_partner: partner && !multiple,
        });
    }
}

/// Counts and row keys per category: all a preview must agree on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub conflicts: Vec<String>,
    pub new: Vec<String>,
    pub deleted: Vec<String>,
    pub deactivated: Vec<String>,
    pub synchronized: Vec<String>,
    pub inactive: Vec<String>,
}

impl Summary {
    pub fn from_rows(rows: &[CoreRow]) -> Summary {
        let mut s = Summary::default();
        for r in rows {
            s.list_mut(r.category).push(r.key.clone());
        }
        s
    }

    /// `from_rows`, moving the keys instead of copying them.
    pub fn from_core(rows: Vec<CoreRow>) -> Summary {
        let mut s = Summary::default();
        for r in rows {
            s.list_mut(r.category).push(r.key);
        }
        s
    }

    pub fn list(&self, c: Category) -> &[String] {
        match c {
            Category::Conflicts => &self.conflicts,
            Category::New => &self.new,
            Category::Deleted => &self.deleted,
            Category::Deactivated => &self.deactivated,
            Category::Synchronized => &self.synchronized,
            Category::Inactive => &self.inactive,
        }
    }

    fn list_mut(&mut self, c: Category) -> &mut Vec<String> {
        match c {
            Category::Conflicts => &mut self.conflicts,
            Category::New => &mut self.new,
            Category::Deleted => &mut self.deleted,
            Category::Deactivated => &mut self.deactivated,
            Category::Synchronized => &mut self.synchronized,
            Category::Inactive => &mut self.inactive,
        }
    }

    pub fn count(&self, c: Category) -> u32 {
        self.list(c).len() as u32
    }
}

/// A field whose value will be copied to the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedUpdate {
    pub field: Field,
    /// The side that will be written.
    pub side: Side,
    pub from: String,
    pub to: String,
}

/// A field in conflict, with both values and the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldConflict {
    pub field: Field,
    pub ours: String,
    pub theirs: String,
    pub base: Option<String>,
}

/// A row of the window: its category, the records and link it joins, and
/// what it flags. It holds none of the records' text: its key, numbers and
/// name are read from the state it was built from (`key`, `our_number`,
/// `their_number`, `name`), so that a window of a million rows is not
/// four million copies of text the state already holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub category: Category,
    pub reason: Option<Reason>,
    /// Which row with its key this is: 1 for the first; from the second
    /// on, the key ends in `#n`.
    pub repeat: u32,
    /// Index into `State::ours` (`our_index`).
    our_index: Ix,
    /// Index into `State::theirs` (`their_index`).
    their_index: Ix,
    /// Index into `State::pending` (`their_pending`).
    their_pending: Ix,
    /// Index into `State::links` (`link_index`).
    link_index: Ix,
    pub skipped_multiple: bool,
    /// What few rows have (`suggestion`, `conflicts`, `planned`), kept
    /// apart so that the other rows are the smaller.
    detail: Option<Box<RowDetail>>,
}

/// A row's suggestion, conflicting fields and planned updates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RowDetail {
    suggestion: Option<String>,
    conflicts: Vec<FieldConflict>,
    planned: Vec<PlannedUpdate>,
}

/// An index into one of the state's lists, or none: an `Option<u32>` in 4
/// bytes, so that a row takes 32 bytes rather than 48 (a window writes a
/// row for every record). `u32::MAX` is none; the lists are indexed by
/// `u32` and never that long. On the wire it is the `Option<u32>`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Ix(u32);

// What `Ix` is for.
const _: () = assert!(std::mem::size_of::<Row>() <= 32);

impl Ix {
    const NONE: Ix = Ix(u32::MAX);

    fn of(i: Option<u32>) -> Ix {
        i.map_or(Ix::NONE, Ix)
    }

    fn get(self) -> Option<u32> {
        (self != Ix::NONE).then_some(self.0)
    }
}

impl std::fmt::Debug for Ix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for Ix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ix, D::Error> {
        Option::<u32>::deserialize(d).map(Ix::of)
    }
}

impl Row {
    /// Index into `State::ours` of the row's record of ours.
    pub fn our_index(&self) -> Option<u32> {
        self.our_index.get()
    }

    /// Index into `State::theirs` of the row's record of theirs.
    pub fn their_index(&self) -> Option<u32> {
        self.their_index.get()
    }

    /// Index into `State::pending` of the creation that is the row's
    /// record of theirs, when only a pending change made it.
    pub fn their_pending(&self) -> Option<u32> {
        self.their_pending.get()
    }

    /// Index into `State::links` of the row's link.
    pub fn link_index(&self) -> Option<u32> {
        self.link_index.get()
    }

    /// The number of a lone partner with the same key: the top suggestion.
    pub fn suggestion(&self) -> Option<&str> {
        self.detail.as_ref()?.suggestion.as_deref()
    }

    /// The fields in conflict.
    pub fn conflicts(&self) -> &[FieldConflict] {
        self.detail.as_ref().map_or(&[], |d| &d.conflicts)
    }

    /// The one-sided changes to be copied to the other side.
    pub fn planned(&self) -> &[PlannedUpdate] {
        self.detail.as_ref().map_or(&[], |d| &d.planned)
    }

    /// Where the row's record of theirs lives, if it has one.
    pub fn their_source(&self) -> Option<Source> {
        self.their_index()
            .map(Source::Record)
            .or(self.their_pending().map(Source::Pending))
    }

    fn link<'s>(&self, state: &'s State) -> Option<&'s Link> {
        self.link_index().and_then(|i| state.links.get(i as usize))
    }

    fn our_record<'s>(&self, state: &'s State) -> Option<&'s Record> {
        self.our_index().and_then(|i| state.ours.get(i as usize))
    }

    /// The prefix of the row's key: a link's, else a lone record of ours',
    /// else one of theirs'. Found from the indices alone.
    fn prefix(&self, state: &State) -> &'static str {
        if self.link(state).is_some() {
            "link:"
        } else if self.our_record(state).is_some() {
            "ours:"
        } else {
            "theirs:"
        }
    }

    /// The key's parts as the rules join them (`row_key`): its prefix, the
    /// matching key, and for a link the matching key of theirs.
    fn key_parts<'s>(
        &self,
        state: &'s State,
    ) -> (&'static str, Cow<'s, str>, Option<Cow<'s, str>>) {
        let key = |number: &'s str| match_key(&state.rules, number);
        let prefix = self.prefix(state);
        match (self.link(state), self.our_record(state)) {
            (Some(l), _) => (prefix, key(&l.our_number), Some(key(&l.their_number))),
            (None, Some(r)) => (prefix, key(r.number()), None),
            (None, None) => (prefix, key(self.their_number(state).unwrap_or("")), None),
        }
    }

    /// The row's stable identity, as `categorize_input` writes it:
    /// `link:<our key>:<their key>`, `ours:<key>` or `theirs:<key>`, with
    /// `#n` for the n-th repeat of a key.
    pub fn key(&self, state: &State) -> String {
        let (prefix, key, theirs) = self.key_parts(state);
        let repeat = (self.repeat > 1).then_some(self.repeat);
        match theirs {
            Some(t) => row_key(&[prefix, &key, ":", &t], repeat),
            None => row_key(&[prefix, &key], repeat),
        }
    }

    /// Whether `self.key(state) == key`, without writing the key out.
    pub fn key_is(&self, state: &State, key: &str) -> bool {
        // The prefix first, from the indices alone: a search through a
        // million rows reads no record of the rows of another kind.
        if !key.starts_with(self.prefix(state)) {
            return false;
        }
        let (prefix, ours, theirs) = self.key_parts(state);
        let rest = key
            .strip_prefix(prefix)
            .and_then(|k| k.strip_prefix(ours.as_ref()));
        let rest = match (rest, &theirs) {
            (Some(k), Some(t)) => k.strip_prefix(':').and_then(|k| k.strip_prefix(t.as_ref())),
            (rest, None) => rest,
            (None, Some(_)) => None,
        };
        match rest.map(|k| k.strip_prefix('#')) {
            Some(None) => rest == Some("") && self.repeat <= 1,
            Some(Some(n)) => self.repeat > 1 && n == self.repeat.to_string(),
            None => false,
        }
    }

    /// "No import": their record, as the pending changes (`pending`:
    /// `State::pending_index`) will leave it, lacks a field we require.
    pub fn no_import(&self, state: &State, pending: &PendingIndex) -> bool {
        self.their_source()
            .and_then(|s| state.effective_theirs_cow(s, pending))
            .is_some_and(|r| state.required.no_import(&r))
    }

    /// "No export": our record lacks a field they require.
    pub fn no_export(&self, state: &State) -> bool {
        self.our_record(state)
            .is_some_and(|r| state.required.no_export(r))
    }

    /// Our record's number, or the link's when our record is gone.
    pub fn our_number<'s>(&self, state: &'s State) -> Option<&'s str> {
        match self.our_record(state) {
            Some(r) => Some(r.number()),
            None => self.link(state).map(|l| l.our_number.as_str()),
        }
    }

    /// Their record's number (the pending creation's, when only that made
    /// the record), or the link's when their record is gone. No pending
    /// change alters a number: numbers are never synced, and a plan sets
    /// none.
    pub fn their_number<'s>(&self, state: &'s State) -> Option<&'s str> {
        if let Some(r) = self
            .their_index()
            .and_then(|i| state.theirs.get(i as usize))
        {
            return Some(r.number());
        }
        if let Some(PendingChange::Create { number, .. }) = self
            .their_pending()
            .and_then(|i| state.pending.get(i as usize))
        {
            return Some(number);
        }
        self.link(state).map(|l| l.their_number.as_str())
    }

    /// The name people see: our record's, otherwise their record's as the
    /// pending changes (`pending`: `State::pending_index`) will leave it.
    pub fn name<'s>(&self, state: &'s State, pending: &PendingIndex) -> Cow<'s, str> {
        if let Some(r) = self.our_record(state) {
            return r.name_text();
        }
        match self
            .their_source()
            .and_then(|s| state.effective_theirs_cow(s, pending))
        {
            Some(Cow::Borrowed(r)) => r.name_text(),
            Some(Cow::Owned(r)) => Cow::Owned(r.display_name()),
            None => Cow::Borrowed(""),
        }
    }
}

/// What a row's key is made of: its link, or else its entry of ours, or
/// else its entry of theirs (indices of `Input`'s lists), and its repeat.
#[derive(Clone, Copy)]
struct KeyOf {
    link: Option<u32>,
    ours: Option<u32>,
    theirs: Option<u32>,
    repeat: u32,
}

/// A row's key before its repeat, from the input's keys: its prefix, its
/// first key and, for a link, the key of theirs.
fn key_parts_in<'i>(input: &'i Input<'_>, r: KeyOf) -> (&'static [u8], &'i [u8], Option<&'i [u8]>) {
    let entry_key = |list: &'i [Entry<'_>], i: Option<u32>| -> &'i [u8] {
        i.and_then(|i| list.get(i as usize))
            .map_or(&b""[..], |e| e.key.as_bytes())
    };
    match r.link.and_then(|i| input.links.get(i as usize)) {
        Some(l) => (b"link:", l.our_key.as_bytes(), Some(l.their_key.as_bytes())),
        None if r.ours.is_some() => (b"ours:", entry_key(&input.ours, r.ours), None),
        None => (b"theirs:", entry_key(&input.theirs, r.theirs), None),
    }
}

/// The pieces of a row's key as `row_key` joins them, read from the
/// input's keys, the `#n` of a repeat written into `digits`.
fn key_pieces<'i>(input: &'i Input<'_>, r: KeyOf, digits: &'i mut [u8; 11]) -> [&'i [u8]; 5] {
    let suffix: &[u8] = if r.repeat > 1 {
        let (mut n, mut at) = (r.repeat, digits.len());
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        at -= 1;
        digits[at] = b'#';
        &digits[at..]
    } else {
        b""
    };
    match key_parts_in(input, r) {
        (prefix, key, Some(theirs)) => [prefix, key, b":", theirs, suffix],
        (prefix, key, None) => [prefix, key, b"", b"", suffix],
    }
}

/// Orders two rows as their key texts order (`categorize_input` sorts by
/// them), comparing the pieces in place instead of writing a key per row.
fn cmp_row_keys(input: &Input<'_>, x: KeyOf, y: KeyOf) -> std::cmp::Ordering {
    // Most rows of a category are of one kind, their keys of one length
    // (numbers of one width): when those differ, their order is the
    // keys', whatever follows them.
    let ((px, a, _), (py, b, _)) = (key_parts_in(input, x), key_parts_in(input, y));
    if px == py && a.len() == b.len() && a != b {
        return a.cmp(b);
    }
    let (mut dx, mut dy) = ([0u8; 11], [0u8; 11]);
    cmp_joined(
        &key_pieces(input, x, &mut dx),
        &key_pieces(input, y, &mut dy),
    )
}

/// Compares the concatenations of two lists of pieces, as bytes.
fn cmp_joined(a: &[&[u8]], b: &[&[u8]]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.iter().copied(), b.iter().copied());
    let (mut x, mut y): (&[u8], &[u8]) = (b"", b"");
    loop {
        while x.is_empty() {
            match a.next() {
                Some(p) => x = p,
                None => break,
            }
        }
        while y.is_empty() {
            match b.next() {
                Some(p) => y = p,
                None => break,
            }
        }
        let n = x.len().min(y.len());
        if n == 0 {
            return x.len().cmp(&y.len());
        }
        match x[..n].cmp(&y[..n]) {
            Ordering::Equal => (x, y) = (&x[n..], &y[n..]),
            other => return other,
        }
    }
}

/// Every row of the window, by category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Categorized {
    pub conflicts: Vec<Row>,
    pub new: Vec<Row>,
    pub deleted: Vec<Row>,
    pub deactivated: Vec<Row>,
    pub synchronized: Vec<Row>,
    pub inactive: Vec<Row>,
}

impl Categorized {
    pub fn rows(&self, c: Category) -> &[Row] {
        match c {
            Category::Conflicts => &self.conflicts,
            Category::New => &self.new,
            Category::Deleted => &self.deleted,
            Category::Deactivated => &self.deactivated,
            Category::Synchronized => &self.synchronized,
            Category::Inactive => &self.inactive,
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &Row> {
        Category::ALL.into_iter().flat_map(|c| self.rows(c).iter())
    }

    pub fn count(&self, c: Category) -> u32 {
        self.rows(c).len() as u32
    }

    /// The keys per category, read from `state`, the state the rows were
    /// built from.
    pub fn summary(&self, state: &State) -> Summary {
        let mut s = Summary::default();
        for c in Category::ALL {
            *s.list_mut(c) = self.rows(c).iter().map(|r| r.key(state)).collect();
        }
        s
    }

    /// The row with `key` (`Row::key`), read from `state`, the state the
    /// rows were built from.
    pub fn find(&self, state: &State, key: &str) -> Option<&Row> {
        self.all().find(|r| r.key_is(state, key))
    }
}

/// Puts every record of the state into one row of one category.
pub fn categorize(state: &State) -> Categorized {
    let input = state.to_input();
    let ctx = DetailCtx {
        state,
        pending: state.pending_index(),
        by_key: std::cell::OnceCell::new(),
        input: &input,
    };
    // Each row is made as the rules give it, while its entries are at
    // hand. Rows have no key texts: they are sorted by the keys they would
    // have, and give their keys from the state when asked.
    let mut rows: Vec<Row> = Vec::with_capacity(input.ours.len() + input.theirs.len());
    // Rows come in key order when the links' keys do and each side's
    // records are in key order with no key twice: link rows first, then
    // lone rows of ours (`ours:` after `link:`), then of theirs.
    let in_order = rules(&input, Keys::Parts, &mut |cr| rows.push(detail(&ctx, cr)))
        && input.sorted == [true, true];
    // A row's entries are its records' (`to_input` makes one per record,
    // in order), but for a partner a pending creation made: its entry
    // comes after theirs (by pending change, so that a comparison finds
    // it at once).
    let mut pending_entry: Vec<Option<u32>> = vec![None; state.pending.len()];
    for j in state.theirs.len()..input.theirs.len() {
        if let Some(Source::Pending(p)) = input.theirs.get(j).map(|e| e.source)
            && let Some(slot) = pending_entry.get_mut(p as usize)
        {
            *slot = Some(j as u32);
        }
    }
    let key_of = |r: &Row| KeyOf {
        link: r.link_index(),
        ours: r.our_index(),
        theirs: r.their_index().or_else(|| {
            pending_entry
                .get(r.their_pending()? as usize)
                .copied()
                .flatten()
        }),
        repeat: r.repeat,
    };
    let [conflicts, new, deleted, deactivated, synchronized, inactive] = sort_rows(
        rows,
        in_order,
        |r| r.category,
        |x, y| cmp_row_keys(&input, key_of(x), key_of(y)),
    );
    Categorized {
        conflicts,
        new,
        deleted,
        deactivated,
        synchronized,
        inactive,
    }
}

/// What `detail` looks up for every row, built once.
struct DetailCtx<'a> {
    state: &'a State,
    input: &'a Input<'a>,
    pending: crate::state::PendingIndex,
    /// Entries of ours and theirs by key, as the rules find them; built
    /// when a row first has an equal-number partner.
    by_key: std::cell::OnceCell<[EntryIndex<'a>; 2]>,
}

/// A key index over one side's entries.
type EntryIndex<'a> = KeyIndex<'a, [Entry<'a>]>;

/// The window row of `cr` with its records where they are in the state
/// (`our_index`, `their_source`), and no detail yet.
#[inline(always)]
fn row_at(cr: &CoreRow, our_index: Option<u32>, their_source: Option<Source>) -> Row {
    Row {
        category: cr.category,
        reason: cr.reason,
        repeat: cr.repeat,
        our_index: Ix::of(our_index),
        their_index: Ix::of(match their_source {
            Some(Source::Record(i)) => Some(i),
            _ => None,
        }),
        their_pending: Ix::of(match their_source {
            Some(Source::Pending(i)) => Some(i),
            _ => None,
        }),
        link_index: Ix::of(cr.link),
        skipped_multiple: cr.skipped_multiple,
        detail: None,
    }
}

fn detail(ctx: &DetailCtx<'_>, cr: CoreRow) -> Row {
    let (state, input) = (ctx.state, ctx.input);
    // A settled link's row (`Input::settled`): its records are the
    // state's own at the entries' indices, the same, with nothing to tell.
    if cr.category == Category::Synchronized
        && let Some(li) = cr.link
        && input.settled.get(li as usize) == Some(&true)
        && let (Some(o), Some(t)) = (cr.ours, cr.theirs)
        && (o as usize) < state.ours.len()
        && (t as usize) < state.theirs.len()
    {
        debug_assert!(
            input.ours.get(o as usize).map(|e| e.source) == Some(Source::Record(o))
                && input.theirs.get(t as usize).map(|e| e.source) == Some(Source::Record(t))
        );
        return row_at(&cr, Some(o), Some(Source::Record(t)));
    }
    // Where the row's records are: found from the entries alone, since
    // most rows need no more (their records are read only for a
    // conflict's or a planned update's values).
    let our_entry = cr.ours.and_then(|i| input.ours.get(i as usize));
    let their_entry = cr.theirs.and_then(|i| input.theirs.get(i as usize));
    let our_index = our_entry.and_then(|e| match e.source {
        Source::Record(i) if (i as usize) < state.ours.len() => Some(i),
        _ => None,
    });
    let their_source = their_entry.map(|e| e.source).filter(|s| match s {
        Source::Record(i) => (*i as usize) < state.theirs.len(),
        Source::Pending(i) => matches!(
            state.pending.get(*i as usize),
            Some(PendingChange::Create { .. })
        ),
    });
    let mut row = row_at(&cr, our_index, their_source);
    let mut found = RowDetail::default();
    if cr.equal_number_partner {
        let [ours_by_key, theirs_by_key] = ctx
            .by_key
            .get_or_init(|| [input.index(Side::Ours), input.index(Side::Theirs)]);
        // The partner's own number is what people pick.
        let partner = match (cr.ours, cr.theirs) {
            (Some(i), None) => input
                .ours
                .get(i as usize)
                .and_then(|e| theirs_by_key.get(e.key.as_ref()))
                .and_then(|(j, _)| input.theirs.get(j as usize))
                .and_then(|e| state.effective_theirs_with(e.source, &ctx.pending))
                .map(|r| r.number().to_string()),
            (None, Some(i)) => input
                .theirs
                .get(i as usize)
                .and_then(|e| ours_by_key.get(e.key.as_ref()))
                .and_then(|(j, _)| input.ours.get(j as usize))
                .and_then(|e| match e.source {
                    Source::Record(k) => state.ours.get(k as usize).map(|r| r.number().to_string()),
                    Source::Pending(_) => None,
                }),
            _ => None,
        };
        found.suggestion = partner;
    }
    // Equal hashes mean equal normalized values: only fields whose hashes
    // differ are looked at (none in most rows), and a field their data
    // does not carry is compared by neither.
    let differing: Vec<usize> = match (our_entry, their_entry) {
        (Some(oe), Some(te)) if oe.row != te.row => {
            match (input.fields(oe.fields), input.fields(te.fields)) {
                (Some(oh), Some(th)) => (0..state.synced.len())
                    .filter(|k| match (oh.get(*k), th.get(*k)) {
                        (Some(a), Some(b)) => a != b && *b != ABSENT && *a != ABSENT,
                        _ => true,
                    })
                    .collect(),
                _ => (0..state.synced.len()).collect(),
            }
        }
        _ => Vec::new(),
    };
    let link = cr.link.and_then(|i| state.links.get(i as usize));
    if !differing.is_empty()
        && matches!(cr.category, Category::Conflicts | Category::Synchronized)
        && let Some(o) = our_index.and_then(|i| state.ours.get(i as usize))
        && let Some(t) = their_source.and_then(|s| state.effective_theirs_cow(s, &ctx.pending))
        && let Some(l) = link
    {
        for f in differing.iter().filter_map(|k| state.synced.get(*k)) {
            let ov = normalize(*f, o.get(*f));
            let tv = normalize(*f, t.get(*f));
            if ov == tv {
                continue;
            }
            let base = l.base.get(*f);
            let bv = base.map(|b| normalize(*f, b));
            match bv {
                Some(b) if b == ov => found.planned.push(PlannedUpdate {
                    field: *f,
                    side: Side::Ours,
                    from: o.get(*f).to_string(),
                    to: t.get(*f).to_string(),
                }),
                Some(b) if b == tv => found.planned.push(PlannedUpdate {
                    field: *f,
                    side: Side::Theirs,
                    from: t.get(*f).to_string(),
                    to: o.get(*f).to_string(),
                }),
                _ => found.conflicts.push(FieldConflict {
                    field: *f,
                    ours: o.get(*f).to_string(),
                    theirs: t.get(*f).to_string(),
                    base: base.map(str::to_string),
                }),
            }
        }
    }
    if found.suggestion.is_some() || !found.conflicts.is_empty() || !found.planned.is_empty() {
        row.detail = Some(Box::new(found));
    }
    row
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::base::Base;
    use crate::schema::{Kind, Record};
    use crate::state::{Deactivation, Link, PendingChange, base_of};

    fn cust(number: &str, name: &str) -> Record {
        Record::from_pairs(
            Kind::Customer,
            &[(Field::Number, number), (Field::Name, name)],
        )
    }

    fn link(state: &State, our: &str, their: &str, base: Option<&Record>) -> Link {
        Link {
            our_number: our.into(),
            their_number: their.into(),
            active: true,
            base: base.map(|r| Base::of(r, &state.synced)).unwrap_or_default(),
            version: 1,
        }
    }

    /// Categorizes and compares row keys per category, written as
    /// `"category: key, key"` lines.
    fn check(state: &State, expect: &[&str]) {
        let c = categorize(state);
        let mut got = Vec::new();
        for cat in Category::ALL {
            let keys: Vec<String> = c.rows(cat).iter().map(|r| r.key(state)).collect();
            if !keys.is_empty() {
                got.push(format!(
                    "{}: {}",
                    serde_json::to_value(cat)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or(""),
                    keys.join(", ")
                ));
            }
        }
        assert_eq!(got, expect, "{c:#?}");
        // The hashed rules alone give the same keys.
        assert_eq!(
            Summary::from_rows(&categorize_input(&state.to_input())),
            c.summary(state)
        );
        // Each row is found by its key.
        for r in c.all() {
            assert_eq!(c.find(state, &r.key(state)), Some(r));
        }
    }

    /// `categorize` sorts rows by their key pieces (`cmp_joined`) instead
    /// of key texts: the order must be the texts' order, also where a
    /// piece is a prefix of the other's (`1:` against `12:`).
    #[test]
    fn joined_pieces_order_as_their_texts() {
        const ALPHABET: &[u8] = b"12:#";
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let piece = |next: &mut dyn FnMut() -> u64| -> Vec<u8> {
            let len = (next() % 4) as usize;
            (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect()
        };
        for _ in 0..20_000 {
            let a: Vec<Vec<u8>> = (0..1 + next() % 4).map(|_| piece(&mut next)).collect();
            let b: Vec<Vec<u8>> = (0..1 + next() % 4).map(|_| piece(&mut next)).collect();
            let (pa, pb): (Vec<&[u8]>, Vec<&[u8]>) = (
                a.iter().map(Vec::as_slice).collect(),
                b.iter().map(Vec::as_slice).collect(),
            );
            assert_eq!(
                cmp_joined(&pa, &pb),
                a.concat().cmp(&b.concat()),
                "{a:?} against {b:?}"
            );
        }
    }

    /// Links in order of their keys are in order of their row keys' texts
    /// only when the keys of ours have one length: `link:12:12` comes
    /// before `link:1:1`. `categorize` skips sorting only then.
    #[test]
    fn rows_are_sorted_by_their_key_texts() {
        // Two numbers of two lengths sort as texts; of one length, as
        // they come.
        for ((first, second), synchronized) in [
            (("1", "12"), "synchronized: link:12:12, link:1:1"),
            (("11", "12"), "synchronized: link:11:11, link:12:12"),
        ] {
            let mut s = State::new(Kind::Customer);
            s.ours = vec![cust(first, "A"), cust(second, "B"), cust("3", "C")];
            s.theirs = vec![cust(first, "A"), cust(second, "B"), cust("4", "D")];
            s.links = vec![
                link(&s, first, first, Some(&cust(first, "A"))),
                link(&s, second, second, Some(&cust(second, "B"))),
            ];
            check(&s, &["new: ours:3, theirs:4", synchronized]);
        }
    }

    /// A row answers to its own key only: not to a key that has another
    /// repeat, a longer key or the other side's prefix.
    #[test]
    fn a_row_answers_to_its_key_only() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "A"), cust("1", "B"), cust("12", "C")];
        s.theirs = vec![cust("1", "A"), cust("2", "D")];
        s.links = vec![link(&s, "12", "1", None)];
        let c = categorize(&s);
        let keys: Vec<String> = c.all().map(|r| r.key(&s)).collect();
        assert_eq!(keys, ["link:12:1", "ours:1", "ours:1#2", "theirs:2"]);
        for r in c.all() {
            let key = r.key(&s);
            for other in [
                format!("{key}#1"),
                format!("{key}#2"),
                format!("{key}2"),
                format!("{key}:"),
                key[..key.len() - 1].to_string(),
                format!("x{key}"),
            ] {
                assert!(
                    !r.key_is(&s, &other) || other == key,
                    "{key} answers to {other}"
                );
            }
        }
        assert_eq!(c.find(&s, "ours:1#2").map(|r| r.our_index()), Some(Some(1)));
        assert_eq!(c.find(&s, "ours:1#1"), None);
        assert_eq!(
            c.find(&s, "link:12:1").map(|r| r.link_index()),
            Some(Some(0))
        );
        assert_eq!(c.find(&s, "link:12:1#1"), None);
    }

    #[test]
    fn lone_records_equal_numbers_are_only_suggested() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "A"), cust("2", "B")];
        s.theirs = vec![cust("1", "A"), cust("3", "C")];
        let mut inactive = cust("4", "D");
        inactive.set_active(false);
        s.theirs.push(inactive);
        check(
            &s,
            &[
                "new: ours:1, ours:2, theirs:1, theirs:3",
                "inactive: theirs:4",
            ],
        );
        let c = categorize(&s);
        assert_eq!(c.new[0].suggestion(), Some("1"));
        assert_eq!(c.new[1].suggestion(), None);
    }

    #[test]
    fn three_way_compare_against_base() {
        let mut s = State::new(Kind::Customer);
        let base = cust("1", "Acme");
        s.ours = vec![cust("1", "Acme AS"), cust("2", "Bolt"), cust("3", "Ours")];
        s.theirs = vec![cust("1", "Acme"), cust("2", "Bolt"), cust("3", "Theirs")];
        s.links = vec![
            link(&s, "1", "1", Some(&base)),
            link(&s, "2", "2", Some(&cust("2", "Bolt"))),
            link(&s, "3", "3", Some(&cust("3", "Base"))),
        ];
        check(
            &s,
            &["conflicts: link:3:3", "synchronized: link:1:1, link:2:2"],
        );
        let c = categorize(&s);
        assert_eq!(
            c.synchronized[0].planned(),
            vec![PlannedUpdate {
                field: Field::Name,
                side: Side::Theirs,
                from: "Acme".into(),
                to: "Acme AS".into()
            }]
        );
        assert_eq!(c.conflicts[0].conflicts().len(), 1);
        assert_eq!(c.conflicts[0].conflicts()[0].base.as_deref(), Some("Base"));

        // A fresh link (no base) conflicts on every difference.
        s.links[1] = link(&s, "2", "2", None);
        s.theirs[1].set(Field::City, "Oslo");
        check(
            &s,
            &["conflicts: link:2:2, link:3:3", "synchronized: link:1:1"],
        );
    }

    #[test]
    fn fields_their_file_lacks_are_neither_conflicts_nor_updates() {
        // Our register knows the country and the email; their file has no
        // column for either, so their records hold empty values there.
        let with = |n: &str, name: &str, country: &str, email: &str| {
            Record::from_pairs(
                Kind::Customer,
                &[
                    (Field::Number, n),
                    (Field::Name, name),
                    (Field::Country, country),
                    (Field::Email, email),
                ],
            )
        };
        let mut s = State::new(Kind::Customer);
        s.ours = vec![
            with("1", "Acme", "Norge", "post@acme.no"),
            with("2", "Bolt", "Norge", "ny@bolt.no"),
            with("3", "Cog", "Norge", ""),
        ];
        s.theirs = vec![
            with("1", "Acme", "", ""),
            with("2", "Bolt", "", ""),
            with("3", "Cog AS", "", ""),
        ];
        s.links = vec![
            // Fresh: no base, every difference would be a conflict.
            link(&s, "1", "1", None),
            // Our email changed since the base.
            link(
                &s,
                "2",
                "2",
                Some(&with("2", "Bolt", "Norge", "gammel@bolt.no")),
            ),
            // Their name changed since the base.
            link(&s, "3", "3", Some(&with("3", "Cog", "Norge", ""))),
        ];
        s.missing = vec![Field::Country, Field::Email];
        check(&s, &["synchronized: link:1:1, link:2:2, link:3:3"]);
        let c = categorize(&s);
        // The name still flows over; the missing fields flow nowhere.
        let planned: Vec<(String, Field, Side)> = c
            .synchronized
            .iter()
            .flat_map(|r| r.planned().iter().map(|p| (r.key(&s), p.field, p.side)))
            .collect();
        assert_eq!(
            planned,
            vec![("link:3:3".to_string(), Field::Name, Side::Ours)]
        );

        // A pending change of a field their data cannot show stays
        // pending, laid over, neither arrived nor a conflict.
        s.pending = vec![PendingChange::Set {
            number: "1".into(),
            field: Field::Email,
            from: "".into(),
            to: "post@acme.no".into(),
        }];
        let input = s.to_input();
        assert!(input.arrived.is_empty());
        check(&s, &["synchronized: link:1:1, link:2:2, link:3:3"]);

        // The same file with the columns, empty: now they say something,
        // and what they say is that their side emptied those fields.
        s.pending.clear();
        s.missing.clear();
        check(
            &s,
            &["conflicts: link:1:1, link:2:2", "synchronized: link:3:3"],
        );
        let c = categorize(&s);
        assert_eq!(c.conflicts[0].conflicts().len(), 2);
        assert!(
            c.synchronized[0]
                .planned()
                .iter()
                .any(|p| { p.field == Field::Country && p.side == Side::Ours && p.to.is_empty() })
        );
    }

    #[test]
    fn deleted_deactivated_and_multiple_matches() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![
            cust("1", "A"),
            cust("2", "B"),
            cust("5", "E"),
            cust("6", "F"),
        ];
        s.theirs = vec![
            cust("2", "B"),
            cust("6", "X"),
            cust("6", "Y"),
            cust("7", "G"),
        ];
        s.links = vec![
            link(&s, "1", "1", Some(&cust("1", "A"))),
            Link {
                active: false,
                ..link(&s, "2", "2", Some(&cust("2", "B")))
            },
            link(&s, "6", "6", None),
        ];
        s.deactivated = vec![
            Deactivation {
                side: Side::Ours,
                number: "5".into(),
            },
            Deactivation {
                side: Side::Theirs,
                number: "7".into(),
            },
        ];
        check(
            &s,
            &[
                "conflicts: link:6:6",
                "new: ours:6, theirs:6, theirs:6#2",
                "deleted: link:1:1",
                "deactivated: link:2:2, ours:5, theirs:7",
            ],
        );
        let c = categorize(&s);
        assert_eq!(c.conflicts[0].reason, Some(Reason::MultipleMatches));
        assert!(c.new[1].skipped_multiple && c.new[2].skipped_multiple);
        assert!(!c.new[0].skipped_multiple);
    }

    /// A pair of keys on two links: the second link's row is `#2`, and
    /// the first one claims the records, whether the links come in key
    /// order (the repeat next to it), or not; links in strictly increasing
    /// order are numbered without a map, all as the first of their pair.
    #[test]
    fn repeated_links_are_numbered_in_any_order() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "A"), cust("2", "B"), cust("3", "C")];
        s.theirs = s.ours.clone();
        let (l1, l2, l3) = (
            link(&s, "1", "1", Some(&s.ours[0])),
            link(&s, "2", "2", Some(&s.ours[1])),
            link(&s, "3", "3", Some(&s.ours[2])),
        );
        for links in [
            vec![l1.clone(), l1.clone(), l2.clone(), l3.clone()],
            vec![l2.clone(), l1.clone(), l3.clone(), l1.clone()],
        ] {
            s.links = links;
            check(
                &s,
                &[
                    "conflicts: link:1:1#2",
                    "synchronized: link:1:1, link:2:2, link:3:3",
                ],
            );
            let c = categorize(&s);
            assert_eq!(c.conflicts[0].reason, Some(Reason::AlreadyLinked));
        }
        s.links = vec![l1, l2, l3];
        check(&s, &["synchronized: link:1:1, link:2:2, link:3:3"]);
    }

    /// A key index answers as a scan of its list would (the first entry
    /// with the key and how many share it), whether the list is in key
    /// order (no map) or not, and whatever order the lookups come in,
    /// missing keys included.
    #[test]
    fn a_key_index_answers_as_a_scan_in_any_order() {
        let scan = |list: &[Cow<'_, str>], key: &str| {
            let first = list.iter().position(|k| k == key)?;
            let count = list.iter().filter(|k| *k == key).count();
            Some((first as u32, count as u32))
        };
        let sorted: Vec<Cow<'_, str>> = (0..300u32)
            .map(|i| Cow::Owned(format!("{:04}", i * 3)))
            .collect();
        // Out of order, with repeats.
        let mut shuffled = sorted.clone();
        let mut seed = 12345u32;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            shuffled.swap(i, (seed >> 8) as usize % (i + 1));
        }
        shuffled.extend_from_slice(&sorted[10..20]);
        for list in [&sorted, &shuffled] {
            let index = KeyIndex::new(list.as_slice());
            assert_eq!(
                matches!(index, KeyIndex::Sorted { .. }),
                std::ptr::eq(list, &sorted)
            );
            // In order, then every key and the ones between, out of it.
            let in_order = (0..900u32).map(|i| format!("{i:04}"));
            let scattered = (0..900u32).map(|i| format!("{:04}", (i * 7919) % 905));
            // Forward in ever longer jumps, then back to the start; back
            // from the end in ever longer jumps.
            let jumping = (0..31u32)
                .chain(0..31)
                .map(|i| format!("{:04}", i * i + i % 2))
                .chain((0..30u32).map(|i| format!("{:04}", 899 - i * i - i % 2)));
            for key in in_order
                .chain(scattered)
                .chain(jumping)
                .chain(["".into(), "x".into()])
            {
                assert_eq!(index.get(&key), scan(list, &key), "{key}");
            }
            // Wherever a search is told to start, past the end included.
            for at in [0, 1, 150, 298, 299, 300, 310, usize::MAX] {
                for key in ["0000", "0447", "0448", "0450", "0897", "0898", "1000", ""] {
                    index.seek(at);
                    assert_eq!(index.get(key), scan(list, key), "{key} from {at}");
                }
            }
        }
    }

    #[test]
    fn pending_changes_overlay_until_they_arrive() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "Acme AS"), cust("2", "New Co")];
        s.theirs = vec![cust("1", "Acme")];
        s.links = vec![
            link(&s, "1", "1", Some(&cust("1", "Acme AS"))),
            link(&s, "2", "2", Some(&cust("2", "New Co"))),
        ];
        s.pending = vec![
            PendingChange::Set {
                number: "1".into(),
                field: Field::Name,
                from: "Acme".into(),
                to: "Acme AS".into(),
            },
            PendingChange::Create {
                number: "2".into(),
                values: base_of(&cust("2", "New Co"), &s.synced),
            },
        ];
        check(&s, &["synchronized: link:1:1, link:2:2"]);
        assert_eq!(s.settle_pending().pending.len(), 2);

        // The import shows both arrived: dropped.
        let mut arrived = s.clone();
        arrived.theirs = vec![cust("1", "Acme AS"), cust("2", "New Co")];
        check(&arrived, &["synchronized: link:1:1, link:2:2"]);
        assert!(arrived.settle_pending().pending.is_empty());

        // The import shows something else: conflicts.
        let mut other = s.clone();
        other.theirs = vec![cust("1", "Acme Holding"), cust("2", "Other Co")];
        check(&other, &["conflicts: link:1:1, link:2:2"]);
        let c = categorize(&other);
        assert!(
            c.conflicts
                .iter()
                .all(|r| r.reason == Some(Reason::PendingMismatch))
        );
    }

    /// `to_input` finds their records in key order, but a partner a
    /// pending creation adds goes after them whatever its key: the rules
    /// must not take the list as ordered then.
    #[test]
    fn a_pending_partner_out_of_key_order_is_found() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "Acme"), cust("3", "Cog")];
        s.theirs = vec![cust("2", "Bolt"), cust("3", "Cog")];
        s.links = vec![
            link(&s, "1", "1", Some(&cust("1", "Acme"))),
            link(&s, "3", "3", Some(&cust("3", "Cog"))),
        ];
        s.pending = vec![PendingChange::Create {
            number: "1".into(),
            values: base_of(&cust("1", "Acme"), &s.synced),
        }];
        check(&s, &["new: theirs:2", "synchronized: link:1:1, link:3:3"]);
    }

    #[test]
    fn what_to_input_finds_for_the_links_is_what_the_rules_would() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![
            cust("1", "Acme"),
            cust("2", "Bolt"),
            cust("3", "Cog"),
            cust("3", "Cog 2"),
            cust("5", "Five"),
        ];
        s.theirs = vec![
            cust("1", "Acme"),
            cust("2", "Bolt AS"),
            cust("4", "Dent"),
            cust("4", "Dent 2"),
        ];
        s.links = vec![
            // Out of order, and its record of theirs only a pending creation
            // (appended by `overlay` after the links were looked at).
            link(&s, "5", "9", Some(&cust("5", "Five"))),
            link(&s, "1", "1", Some(&cust("1", "Acme"))),
            link(&s, "2", "2", Some(&cust("2", "Bolt"))),
            // Several records with the key on each side.
            link(&s, "3", "4", None),
            // Already linked.
            link(&s, "2", "2", Some(&cust("2", "Bolt"))),
            // Gone from both.
            link(&s, "7", "7", None),
        ];
        s.pending = vec![PendingChange::Create {
            number: "9".into(),
            values: base_of(&cust("9", "Five"), &s.synced),
        }];
        let input = s.to_input();
        assert_eq!(input.link_found.len(), s.links.len());
        assert_eq!(input.link_found[1], [0, 0]);
        assert_eq!(input.link_found[3], [NOT_FOUND; 2]);
        // Their "9" came with the pending creation, after the links were
        // looked at: the rules look for it, and for every key of theirs
        // that had no entry.
        assert_eq!(input.link_found[0], [4, NOT_FOUND]);
        assert_eq!(input.link_found[5], [NO_ENTRY, NOT_FOUND]);
        assert_eq!(input.link_order, Some((false, false)));
        let looked_up = Input {
            link_found: Vec::new(),
            link_order: None,
            ..input.clone()
        };
        let rows = categorize_input(&input);
        assert_eq!(rows, categorize_input(&looked_up));
        let at = |key: &str| rows.iter().find(|r| r.key == key);
        assert_eq!(
            at("link:5:9").map(|r| r.category),
            Some(Category::Synchronized)
        );
        assert_eq!(
            at("link:3:4").map(|r| r.reason),
            Some(Some(Reason::MultipleMatches))
        );
        assert_eq!(
            at("link:2:2#2").map(|r| r.reason),
            Some(Some(Reason::AlreadyLinked))
        );
        // With no creation pending, a key with no entry is not looked for
        // again.
        let mut settled = s.clone();
        settled.pending.clear();
        let input = settled.to_input();
        assert_eq!(input.link_found[0], [4, NO_ENTRY]);
        assert_eq!(input.link_found[5], [NO_ENTRY; 2]);
        let looked_up = Input {
            link_found: Vec::new(),
            ..input.clone()
        };
        assert_eq!(categorize_input(&input), categorize_input(&looked_up));
        assert_eq!(
            categorize_input(&input)
                .iter()
                .find(|r| r.key == "link:7:7")
                .map(|r| r.reason),
            Some(Some(Reason::MissingBoth))
        );
        // In order, with numbers of one length, the row keys are in order.
        s.links
            .retain(|l| matches!(l.our_number.as_str(), "1" | "2"));
        s.links.dedup_by(|a, b| a.our_number == b.our_number);
        assert_eq!(s.to_input().link_order, Some((true, true)));
    }

    #[test]
    fn a_row_keeps_its_indices_on_the_wire() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("1", "Acme"), cust("2", "Bolt")];
        s.theirs = vec![cust("2", "Bolt")];
        s.links = vec![link(&s, "2", "2", Some(&cust("2", "Bolt")))];
        let c = categorize(&s);
        let linked = c.find(&s, "link:2:2").expect("linked row");
        assert_eq!(
            (
                linked.our_index(),
                linked.their_index(),
                linked.link_index()
            ),
            (Some(1), Some(0), Some(0))
        );
        assert_eq!(linked.their_pending(), None);
        let lone = c.find(&s, "ours:1").expect("lone row");
        let json = serde_json::to_value(lone).expect("serializes");
        assert_eq!(json["our_index"], serde_json::json!(0));
        assert_eq!(json["their_index"], serde_json::Value::Null);
        assert_eq!(json["link_index"], serde_json::Value::Null);
        for row in [linked, lone] {
            let back: Row = serde_json::from_value(serde_json::to_value(row).expect("serializes"))
                .expect("deserializes");
            assert_eq!(&back, row);
        }
    }

    #[test]
    fn pending_order_does_not_matter() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("5", "Five AS")];
        s.links = vec![link(&s, "5", "5", Some(&cust("5", "Five")))];
        let create = PendingChange::Create {
            number: "5".into(),
            values: base_of(&cust("5", "Five"), &s.synced),
        };
        let set = PendingChange::Set {
            number: "5".into(),
            field: Field::Name,
            from: "Five".into(),
            to: "Five AS".into(),
        };
        s.pending = vec![create.clone(), set.clone()];
        let a = categorize(&s);
        s.pending = vec![set, create];
        let b = categorize(&s);
        assert_eq!(a.summary(&s), b.summary(&s));
        assert_eq!(a.synchronized.len(), 1);
        assert!(a.synchronized[0].planned().is_empty(), "{a:#?}");
    }

    #[test]
    fn required_fields_flag_rows() {
        let mut s = State::new(Kind::Customer);
        s.required.theirs.push(Field::Email);
        s.ours = vec![cust("1", "A")];
        s.theirs = vec![cust("2", "")];
        let c = categorize(&s);
        let pending = s.pending_index();
        assert!(c.new[0].no_export(&s) && !c.new[0].no_import(&s, &pending));
        assert!(c.new[1].no_import(&s, &pending));
    }
}

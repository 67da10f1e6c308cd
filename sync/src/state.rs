//! The synchronization state of one connection and kind: our records, theirs,
//! the links between them (with the base, the values at the last sync),
//! records marked "Don't synchronize", and pending changes to their side.
//!
//! Pending changes exist because writing to their system is not instant: a
//! partner we created there, or a value we chose in a conflict, shows up only
//! in a later export. Until it does, the change overlays their data; an
//! import that shows it arrived drops it (`settle_pending`), one that shows
//! something else makes the pair a conflict.
//!
//! This module also turns a state into the hashed form (`categorize::Input`)
//! that the categorizer and the preview fingerprint share.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::append::{cmp_text, same_text};
use crate::base::Base;
use crate::normalize::FastMap;

use serde::{Deserialize, Serialize};

use crate::categorize::{
    ABSENT, Entry, Input, KeyIndex, LinkEntry, LinkOrder, NO_ENTRY, NOT_FOUND, PendingEntry, Slot,
    Source, UNKNOWN, dont_sync, overlay,
};
use crate::normalize::{combine, field_hashes, hash_field, match_key, normalize};
use crate::rules::NumberRules;
use crate::schema::{Field, Kind, Record, RequiredFields, Side};

/// A link between one of our records and one of theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub our_number: String,
    pub their_number: String,
    /// `false` when synchronization of the pair was stopped.
    #[serde(default = "yes")]
    pub active: bool,
    /// The synced fields' values at the last synchronization. A field absent
    /// here has no known common value (a fresh link), so any difference in it
    /// is a conflict.
    #[serde(default)]
    pub base: Base,
    /// Increases whenever the base moves.
    #[serde(default)]
    pub version: u32,
}

fn yes() -> bool {
    true
}

/// A record marked "Don't synchronize" on one side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Deactivation {
    pub side: Side,
    pub number: String,
}

/// A change written (or to be written) to their side that their data does
/// not show yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PendingChange {
    /// A partner created on their side with these values.
    Create {
        number: String,
        values: BTreeMap<Field, String>,
    },
    /// A field of their record set from `from` to `to`.
    Set {
        number: String,
        field: Field,
        from: String,
        to: String,
    },
}

impl PendingChange {
    pub fn number(&self) -> &str {
        match self {
            PendingChange::Create { number, .. } | PendingChange::Set { number, .. } => number,
        }
    }
}

/// Everything the engine knows about one connection and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub kind: Kind,
    #[serde(default)]
    pub rules: NumberRules,
    pub required: RequiredFields,
    /// The fields compared between the sides, in a fixed order.
    pub synced: Vec<Field>,
    pub ours: Vec<Record>,
    pub theirs: Vec<Record>,
    /// Synced fields their data does not carry: the import had no column
    /// for them (`ReadOutput::missing_fields`). Their records hold empty
    /// values there, which say nothing: such a field is not compared
    /// (`categorize::ABSENT`), never a conflict and never written to either
    /// side from this data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Field>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub deactivated: Vec<Deactivation>,
    #[serde(default)]
    pub pending: Vec<PendingChange>,
}

impl State {
    /// An empty state with the kind's defaults.
    pub fn new(kind: Kind) -> State {
        State {
            kind,
            rules: NumberRules::default(),
            required: RequiredFields::defaults(kind),
            synced: kind.synced_fields(),
            ours: Vec::new(),
            theirs: Vec::new(),
            missing: Vec::new(),
            links: Vec::new(),
            deactivated: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Our records `ours`, each linked to the same number on their side
    /// with its values as the base: the state after they were synchronized,
    /// before their side's records are read again.
    pub fn synchronized(kind: Kind, ours: Vec<Record>) -> State {
        let mut s = State::new(kind);
        s.links = ours
            .iter()
            .map(|r| Link {
                our_number: r.number().to_string(),
                their_number: r.number().to_string(),
                active: true,
                base: Base::of(r, &s.synced),
                version: 1,
            })
            .collect();
        s.ours = ours;
        s
    }

    pub fn records(&self, side: Side) -> &[Record] {
        match side {
            Side::Ours => &self.ours,
            Side::Theirs => &self.theirs,
        }
    }

    pub fn records_mut(&mut self, side: Side) -> &mut Vec<Record> {
        match side {
            Side::Ours => &mut self.ours,
            Side::Theirs => &mut self.theirs,
        }
    }

    /// The matching key of a number.
    pub fn key(&self, number: &str) -> String {
        match_key(&self.rules, number).into_owned()
    }

    /// Hashes of the synced fields of a record.
    pub fn hashes(&self, record: &Record) -> Vec<u64> {
        field_hashes(record, &self.synced)
    }

    /// The hash of `value` of `field` on `side`: `ABSENT` for a field their
    /// data does not carry (`missing`).
    pub fn side_hash(&self, side: Side, field: Field, value: &str) -> u64 {
        if side == Side::Theirs && !self.missing.is_empty() && self.missing.contains(&field) {
            ABSENT
        } else {
            hash_field(field, value)
        }
    }

    /// Hashes of a base (0 for a field with no known value).
    pub fn base_hashes(&self, base: &Base) -> Vec<u64> {
        self.synced
            .iter()
            .map(|f| base.get(*f).map(|v| hash_field(*f, v)).unwrap_or(UNKNOWN))
            .collect()
    }

    /// Keys of the records marked "Don't synchronize" on `side`.
    pub fn deactivated_keys(&self, side: Side) -> BTreeSet<String> {
        self.deactivated
            .iter()
            .filter(|d| d.side == side)
            .map(|d| self.key(&d.number))
            .collect()
    }

    /// The entries of `side`'s records, not yet hashed: no slot, and the
    /// row `UNHASHED`. Also whether their keys strictly
    /// increase, found while each key is at hand rather than in another
    /// pass over a million of them.
    fn unhashed_entries(&self, side: Side) -> (Vec<Entry<'_>>, bool) {
        let records = self.records(side);
        let mut out: Vec<Entry<'_>> = Vec::with_capacity(records.len());
        let mut sorted = true;
        for (i, r) in records.iter().enumerate() {
            let key = match_key(&self.rules, r.number());
            if sorted && let Some(prev) = out.last() {
                sorted = cmp_text(&prev.key, &key).is_lt();
            }
            out.push(Entry {
                key,
                active: r.active(),
                row: UNHASHED,
                fields: None,
                source: Source::Record(i as u32),
                pending_conflict: false,
            });
        }
        (out, sorted)
    }

    /// Hashes our record `r` into a new slot of `input`: the slot and the
    /// row hash.
    fn hash_ours(&self, input: &mut Input<'_>, r: &Record) -> (Slot, u64) {
        input.push_hashed(
            self.synced
                .iter()
                .map(|f| self.side_hash(Side::Ours, *f, r.get(*f))),
        )
    }

    /// What `to_input` hashes, and the records it finds by key (the rules'
    /// own key index: in key order it follows the order, with no hash
    /// map).
    ///
    /// A link is plain when its two records have the same key, are each
    /// the only one with it, hold the same text in every synced field
    /// their data carries (`same_where_compared`), and neither is in
    /// another link that compares it or a pending change. Its pair is then
    /// the same by every hash the rules compare, so both are left
    /// unhashed, with the same row (`UNHASHED`), and the rules find them
    /// equal. Our records of the other links are hashed, and so is the
    /// record of ours whose hashes a record of theirs in such a link would
    /// take as its own (`like`); so is our record with the key of a
    /// pending change, which `overlay` compares with their record's
    /// hashes. A link whose record of theirs is gone, with no pending
    /// creation to bring it, compares nothing (`gone`): it marks nothing,
    /// and its base is not hashed. With `hash_all`, no link is plain or
    /// gone and every record of ours is hashed.
    fn marks(
        &self,
        (ours, our_order): (&[Entry<'_>], bool),
        (theirs, their_order): (&[Entry<'_>], bool),
        links: &[LinkEntry<'_>],
        hash_all: bool,
        deactivated: [&BTreeSet<String>; 2],
    ) -> Marks {
        let our_keys = KeyIndex::known(ours, our_order);
        let their_keys = KeyIndex::known(theirs, their_order);
        let first = |key: &str| our_keys.get(key).map(|(i, _)| i);
        let mut m = Marks {
            hashed: vec![hash_all; ours.len()],
            plain: vec![false; links.len()],
            settled: vec![false; links.len()],
            gone: vec![false; links.len()],
            same: vec![false; theirs.len()],
            like: vec![None; theirs.len()],
            link_ours: Vec::with_capacity(links.len()),
            link_found: Vec::with_capacity(links.len()),
        };
        let mut mark = |key: &str| {
            if let Some(h) = first(key).and_then(|i| m.hashed.get_mut(i as usize)) {
                *h = true;
            }
        };
        let pending: BTreeSet<String> = self.pending.iter().map(|p| self.key(p.number())).collect();
        for key in &pending {
            mark(key);
        }
        // A link that may be plain is marked so (and its record of theirs
        // as the same as ours) until the last pass below says otherwise.
        // The one entry with each of a link's keys is kept for the rules.
        let one = |found: Option<(u32, u32)>| match found {
            Some((i, 1)) => i,
            Some(_) => NOT_FOUND,
            None => NO_ENTRY,
        };
        for (li, l) in links.iter().enumerate() {
            let o = our_keys.get(&l.our_key);
            let t = their_keys.get(&l.their_key);
            m.link_found.push([one(o), one(t)]);
            m.link_ours.push(o.map(|(i, _)| i));
            let candidate = match (o, t) {
                (Some((i, 1)), Some((j, 1)))
                    if !hash_all
                        && l.our_key == l.their_key
                        && !pending.contains(l.their_key.as_ref())
                        && self
                            .ours
                            .get(i as usize)
                            .zip(self.theirs.get(j as usize))
                            .is_some_and(|(o, t)| self.same_where_compared(o, t)) =>
                {
                    Some((i, j))
                }
                _ => None,
            };
            match candidate {
                Some((i, j)) => {
                    m.plain[li] = true;
                    m.settled[li] = l.active && !dont_sync(deactivated, l);
                    m.same[j as usize] = true;
                    // The one record of ours with their record's key.
                    m.like[j as usize] = Some(i);
                }
                // Their record gone, and no pending creation to bring it:
                // the rules compare nothing of the link (deleted, or
                // stopped), so neither our record nor the base is hashed
                // for it.
                None if !hash_all && t.is_none() && !pending.contains(l.their_key.as_ref()) => {
                    m.gone[li] = true;
                }
                None => {
                    mark(&l.our_key);
                    mark(&l.their_key);
                }
            }
        }
        for (j, e) in theirs.iter().enumerate() {
            if m.same[j] {
                continue;
            }
            // Records of theirs in key order mostly have ours in the same
            // order: the search starts just after the record of ours like
            // the nearest record of theirs before this one in a plain link
            // (a guess, which `get` answers rightly wherever it points).
            let near = (j.saturating_sub(8)..j).rev().find(|k| m.same[*k]);
            if let Some(Some(i)) = near.map(|k| m.like[k]) {
                our_keys.seek(i as usize + 1);
            }
            m.like[j] = first(&e.key);
        }
        // A plain link's records are in no pending change and no other
        // link that compares them (a gone link marks nothing): our record
        // is not marked. A candidate whose record is
        // is not plain, and needs nothing more marked: its one key marks
        // just that record. (Rare: its record of theirs is looked up
        // again.)
        let marked = |hashed: &[bool], i: Option<u32>| {
            i.and_then(|i| hashed.get(i as usize)) != Some(&false)
        };
        for (li, l) in links.iter().enumerate() {
            if m.plain[li] && marked(&m.hashed, m.link_ours[li]) {
                m.plain[li] = false;
                m.settled[li] = false;
                if let Some((j, _)) = their_keys.get(&l.their_key) {
                    m.same[j as usize] = false;
                }
            }
        }
        m
    }

    /// Whether our record `o` and their record `t` hold the same text in
    /// every synced field their data carries: then every hash the rules
    /// compare is the same (a field their data lacks hashes as `ABSENT`
    /// on their side, which is never a conflict nor an update).
    fn same_where_compared(&self, o: &Record, t: &Record) -> bool {
        t.same_values(o)
            || self
                .synced
                .iter()
                .all(|f| self.missing.contains(f) || same_text(o.get(*f), t.get(*f)))
    }

    /// The pending changes in hashed form.
    pub fn pending_entries(&self) -> Vec<PendingEntry> {
        self.pending
            .iter()
            .map(|p| match p {
                PendingChange::Create { number, values } => {
                    let r = pending_record(self.kind, number, values);
                    PendingEntry::Create {
                        key: self.key(number),
                        active: r.active(),
                        fields: self.hashes(&r),
                    }
                }
                PendingChange::Set {
                    number,
                    field,
                    from,
                    to,
                } => PendingEntry::Set {
                    key: self.key(number),
                    field: self
                        .synced
                        .iter()
                        .position(|f| f == field)
                        .map(|i| i as u32),
                    from: hash_field(*field, from),
                    to: hash_field(*field, to),
                },
            })
            .collect()
    }

    /// The state in the hashed form the categorizer works on, with pending
    /// changes already laid over their side.
    ///
    /// Only what the rules compare is hashed. After a sync most links join
    /// two records with the same values (`marks`): their pair is the same
    /// by every hash, so its records are left unhashed and its base is not
    /// looked at. Such an entry has no slot and the row `UNHASHED`, which
    /// no hash has: the rules compare rows only within a link, and a link
    /// with a record left unhashed is plain, its other record unhashed too.
    /// `to_input_hashed` hashes everything; the categories are the same (a
    /// property test compares the two).
    pub fn to_input(&self) -> Input<'_> {
        self.input_with(false)
    }

    /// `to_input` with every record and base hashed.
    pub fn to_input_hashed(&self) -> Input<'_> {
        self.input_with(true)
    }

    fn input_with(&self, hash_all: bool) -> Input<'_> {
        let mut input = Input::new(self.synced.len());
        let width = self.synced.len();
        let (mut ours, our_order) = self.unhashed_entries(Side::Ours);
        let (mut theirs, their_order) = self.unhashed_entries(Side::Theirs);
        let mut links: Vec<LinkEntry<'_>> = Vec::with_capacity(self.links.len());
        // The rules' look at the links' order, taken while their keys are
        // at hand.
        let mut link_order = LinkOrder::default();
        for l in &self.links {
            let link = LinkEntry {
                our_key: match_key(&self.rules, &l.our_number),
                their_key: match_key(&self.rules, &l.their_number),
                active: l.active,
                // Set below unless the link is plain, and then never read:
                // the pair is the same.
                base_row: UNHASHED_BASE,
                base_fields: None,
            };
            link_order.next(links.last(), &link);
            links.push(link);
        }
        let deactivated = [
            self.deactivated_keys(Side::Ours),
            self.deactivated_keys(Side::Theirs),
        ];
        let m = self.marks(
            (&ours, our_order),
            (&theirs, their_order),
            &links,
            hash_all,
            [&deactivated[0], &deactivated[1]],
        );
        // Room for our hashed records, and for their records and bases
        // outside plain links (whose records and bases stay unhashed).
        let to_hash = m.hashed.iter().filter(|h| **h).count();
        let plains = m.plain.iter().filter(|p| **p).count();
        input.hashes.reserve(
            (to_hash + theirs.len().saturating_sub(plains) + links.len() - plains) * width,
        );
        // By the marks alone: at a million entries, a pass over the
        // entries to find the few hashed ones costs more than hashing them.
        for (i, _) in m.hashed.iter().enumerate().filter(|(_, h)| **h) {
            if let (Some(e), Some(r)) = (ours.get_mut(i), self.ours.get(i)) {
                let (slot, row) = self.hash_ours(&mut input, r);
                e.fields = Some(slot);
                e.row = row;
            }
        }
        // Their records and the bases mostly repeat our values: a value
        // equal (as raw text) to the same field of our record with the same
        // key has that record's hash, so it is copied instead of hashed.
        let partner = |i: Option<u32>| {
            let i = i? as usize;
            Some((self.ours.get(i)?, ours.get(i)?))
        };
        let hashed_partner =
            |i: Option<u32>| partner(i).and_then(|(o, e)| Some((o, e.fields?, e.row)));
        for (j, (e, r)) in theirs.iter_mut().zip(&self.theirs).enumerate() {
            // In a plain link (usual after a sync), the pair stays as made,
            // unhashed: a million entries are not written again.
            if m.same[j] {
                debug_assert!(e.row == UNHASHED && e.fields.is_none());
                debug_assert!(
                    m.like[j]
                        .and_then(|i| ours.get(i as usize))
                        .is_some_and(|oe| oe.row == UNHASHED)
                );
                continue;
            }
            (e.fields, e.row) = match partner(m.like[j]) {
                // Every value as our record's: its entry's slot and row,
                // with no field looked at.
                Some((o, oe)) if self.missing.is_empty() && o.same_values(r) => (oe.fields, oe.row),
                _ => {
                    let (slot, row) = push_reusing(
                        &mut input,
                        &self.synced,
                        &self.missing,
                        |f| Some(r.get(f)),
                        hashed_partner(m.like[j]),
                    );
                    (Some(slot), row)
                }
            };
        }
        let compared = m.plain.iter().zip(&m.gone).map(|(p, g)| !p && !g);
        for (li, _) in compared.enumerate().filter(|(_, c)| *c) {
            let (Some(e), Some(l)) = (links.get_mut(li), self.links.get(li)) else {
                continue;
            };
            let (slot, row) = push_reusing(
                &mut input,
                &self.synced,
                &[],
                |f| l.base.get(f),
                hashed_partner(m.link_ours[li]),
            );
            e.base_fields = Some(slot);
            e.base_row = row;
        }
        input.ours = ours;
        input.theirs = theirs;
        input.sorted = [our_order, their_order];
        input.links = links;
        input.link_order = Some(link_order.get());
        input.link_found = m.link_found;
        input.settled = m.settled;
        let [deactivated_ours, deactivated_theirs] = deactivated;
        input.deactivated_ours = deactivated_ours;
        input.deactivated_theirs = deactivated_theirs;
        input.pending = self.pending_entries();
        overlay(&mut input);
        input
    }

    /// Indices of pending `Set`s by their record's key, so that laying them
    /// over a million records does not scan the list for each.
    pub fn pending_index(&self) -> PendingIndex {
        // One change per field counts: the last, as `plan::apply` keeps it.
        let mut last: BTreeMap<(String, Field), u32> = BTreeMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            if let PendingChange::Set { number, field, .. } = p {
                last.insert((self.key(number), *field), i as u32);
            }
        }
        let mut sets: FastMap<String, Vec<u32>> = FastMap::default();
        for ((key, _), i) in last {
            sets.entry(key).or_default().push(i);
        }
        PendingIndex { sets }
    }

    /// Their record as it will be once the pending changes arrive: the record
    /// itself with pending `Set`s laid over it, or the record a pending
    /// `Create` describes.
    pub fn effective_theirs(&self, source: Source) -> Option<Record> {
        self.effective_theirs_with(source, &self.pending_index())
    }

    /// `effective_theirs` with a prepared `pending_index`.
    pub fn effective_theirs_with(&self, source: Source, index: &PendingIndex) -> Option<Record> {
        self.effective_theirs_cow(source, index)
            .map(Cow::into_owned)
    }

    /// `effective_theirs_with`, borrowing the record when no pending change
    /// touches it (nearly always).
    pub fn effective_theirs_cow(
        &self,
        source: Source,
        index: &PendingIndex,
    ) -> Option<Cow<'_, Record>> {
        // A field their data lacks shows the change laid over it, as
        // `categorize::overlay` lays it over the hashes; a partner only a
        // pending creation describes has every field.
        let (base, lacks): (Cow<'_, Record>, &[Field]) = match source {
            Source::Record(i) => (Cow::Borrowed(self.theirs.get(i as usize)?), &self.missing),
            Source::Pending(i) => match self.pending.get(i as usize)? {
                PendingChange::Create { number, values } => {
                    (Cow::Owned(pending_record(self.kind, number, values)), &[])
                }
                PendingChange::Set { .. } => return None,
            },
        };
        let sets = if index.sets.is_empty() {
            None
        } else {
            index.sets.get(&self.key(base.number()))
        };
        let Some(sets) = sets else {
            return Some(base);
        };
        let mut r = base.into_owned();
        for pi in sets {
            if let Some(PendingChange::Set {
                field, from, to, ..
            }) = self.pending.get(*pi as usize)
            {
                lay_set(&mut r, *field, from, to, lacks);
            }
        }
        Some(Cow::Owned(r))
    }

    /// Drops the pending changes that their data shows have arrived.
    pub fn settle_pending(&self) -> State {
        let mut next = self.clone();
        next.settle_pending_in_place();
        next
    }

    /// `settle_pending` without copying the state.
    pub fn settle_pending_in_place(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let arrived: BTreeSet<u32> = self.to_input().arrived.into_iter().collect();
        let mut i = 0u32;
        self.pending.retain(|_| {
            let keep = !arrived.contains(&i);
            i += 1;
            keep
        });
    }
}

/// What `State::marks` found: what to hash, and records found by key.
struct Marks {
    /// Per record of ours: whether it is hashed.
    hashed: Vec<bool>,
    /// Per link: plain (nothing of it hashed).
    plain: Vec<bool>,
    /// Per link: `Input::settled`.
    settled: Vec<bool>,
    /// Per link: its record of theirs is gone (and no pending creation
    /// brings one), so its base is not hashed.
    gone: Vec<bool>,
    /// Per record of theirs: in a plain link, so the same as ours.
    same: Vec<bool>,
    /// Per record of theirs: the (first) record of ours with its key.
    like: Vec<Option<u32>>,
    /// Per link: the (first) record of ours with its key of ours.
    link_ours: Vec<Option<u32>>,
    /// Per link: `Input::link_found`.
    link_found: Vec<[u32; 2]>,
}

/// Rows that are not hashes (a hash's only by a chance of 2^-64, like any
/// two hashes that meet): the row of every entry `State::to_input` leaves
/// unhashed, and the base row of a link whose base was not looked at.
const UNHASHED: u64 = 0x756e_6861_7368_6564;
const UNHASHED_BASE: u64 = 0x6e6f_2062_6173_6521;

/// Stores the hashes of the synced fields of `value` (`None`: no known
/// value; a field of `missing`: `ABSENT`) in a new slot of `input`; returns
/// the slot and the row hash. A
/// value equal to `like`'s (a record, its slot, its row hash) reuses that
/// record's hash, and when every field does, its slot and row hash too:
/// the same as hashing, since a hash depends on the raw text alone. Their
/// records and the bases mostly equal ours, so a million of each share one
/// million slots instead of taking two million more (160 MB at ten synced
/// fields). Slots are therefore read-only once stored: `overlay` lays a
/// change over a copy.
fn push_reusing<'v>(
    input: &mut Input<'_>,
    synced: &[Field],
    missing: &[Field],
    value: impl Fn(Field) -> Option<&'v str>,
    like: Option<(&Record, Slot, u64)>,
) -> (Slot, u64) {
    let width = synced.len();
    let start = input.hashes.len();
    let slot = Slot::next(&input.hashes, width);
    let mut all_same = like.is_some();
    for (k, f) in synced.iter().enumerate() {
        let partner = like
            .and_then(|(o, like_slot, _)| Some((o, *like_slot.of(&input.hashes, width)?.get(k)?)));
        let h = match value(*f) {
            _ if !missing.is_empty() && missing.contains(f) => ABSENT,
            None => UNKNOWN,
            Some(v) => hash_reusing(*f, v, partner),
        };
        all_same &= partner.is_some_and(|(_, p)| p == h);
        input.hashes.push(h);
    }
    match like {
        Some((_, like_slot, row)) if all_same => {
            input.hashes.truncate(start);
            (like_slot, row)
        }
        _ => (slot, combine(input.hashes[start..].iter().copied())),
    }
}

/// The hash of `v`, a value of field `f`: that of `partner` (a record and
/// its hash of `f`) when the record holds the same text there, which is
/// the same as hashing, since a hash depends on the raw text alone; but
/// never a partner's `ABSENT` (their data lacks the field), which no
/// value's hash is. `to_input` and the fingerprint copy their records'
/// and bases' hashes from a partner by this one rule.
#[inline]
pub(crate) fn hash_reusing(f: Field, v: &str, partner: Option<(&Record, u64)>) -> u64 {
    match partner {
        Some((r, h)) if h != ABSENT && same_text(r.get(f), v) => h,
        _ => hash_field(f, v),
    }
}

/// Pending `Set`s by record key; see `State::pending_index`.
#[derive(Debug, Clone, Default)]
pub struct PendingIndex {
    sets: FastMap<String, Vec<u32>>,
}

/// Lays a pending `Set` of `field` (`from` -> `to`) over `r` where `r`
/// still holds `from`, or where `r` comes from their data and that lacks
/// the field (`lacks`: `State::missing`; empty for a partner only a pending
/// creation describes): the record-level rule of `categorize::overlay`,
/// for the window's details and for plans.
pub(crate) fn lay_set(r: &mut Record, field: Field, from: &str, to: &str, lacks: &[Field]) {
    if lacks.contains(&field) || normalize(field, r.get(field)) == normalize(field, from) {
        r.set(field, to);
    }
}

/// The record a pending `Create` describes.
pub fn pending_record(kind: Kind, number: &str, values: &BTreeMap<Field, String>) -> Record {
    let mut r = Record::new(kind);
    for (f, v) in values {
        r.set(*f, v);
    }
    r.set(Field::Number, number);
    r
}

/// The synced values of a record, as a base.
pub fn base_of(record: &Record, synced: &[Field]) -> BTreeMap<Field, String> {
    synced
        .iter()
        .map(|f| (*f, record.get(*f).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn cust(number: &str, name: &str, city: &str) -> Record {
        Record::from_pairs(
            Kind::Customer,
            &[
                (Field::Number, number),
                (Field::Name, name),
                (Field::City, city),
            ],
        )
    }

    /// Reusing our hashes for equal values must give exactly the hashes of
    /// hashing every value: same field hashes, same rows, for their
    /// records (equal, changed, repeated, unmatched) and for bases
    /// (complete, partial, empty, of a missing record). `to_input` leaves
    /// the plain links (1, 4), a record the rules never compare, and the
    /// links whose record of theirs is gone (5, 7: deleted, nothing
    /// compared) unhashed; what it hashes is the same, and so are the
    /// categories.
    #[test]
    fn to_input_hashes_equal_plain_hashing() {
        let mut s = State::new(Kind::Customer);
        s.rules.strip_leading_zeros = true;
        s.ours = vec![
            cust("1", "A", "Oslo"),
            cust("02", "B", "Oslo"),
            cust("3", "C", " Oslo"),
            cust("3", "C2", "Oslo"),
            cust(" 4", "D", "Oslo"),
            cust("5", "E", "Oslo"),
        ];
        s.theirs = vec![
            cust("1", "A", "Oslo"),
            cust("2", "B", "Bergen"),
            cust("3", "C", "Oslo"),
            cust("4", "D", "Oslo"),
            cust("9", "Z", ""),
        ];
        let mut partial = base_of(&s.ours[1], &s.synced);
        partial.remove(&Field::City);
        s.links = vec![
            Link {
                our_number: "1".into(),
                their_number: "1".into(),
                active: true,
                base: Base::of(&s.ours[0], &s.synced),
                version: 1,
            },
            Link {
                our_number: "02".into(),
                their_number: "2".into(),
                active: true,
                base: Base::from(partial),
                version: 1,
            },
            Link {
                our_number: "3".into(),
                their_number: "3".into(),
                active: true,
                base: Base::of(&cust("3", "Old", "Oslo"), &s.synced),
                version: 1,
            },
            Link {
                our_number: " 4".into(),
                their_number: "4".into(),
                active: true,
                base: Base::default(),
                version: 1,
            },
            Link {
                our_number: "7".into(),
                their_number: "7".into(),
                active: true,
                base: Base::of(&cust("7", "Gone", "Oslo"), &s.synced),
                version: 1,
            },
            Link {
                our_number: "5".into(),
                their_number: "5".into(),
                active: true,
                base: Base::of(&cust("5", "E", "Oslo"), &s.synced),
                version: 1,
            },
        ];
        for (input, all) in [(s.to_input_hashed(), true), (s.to_input(), false)] {
            for (side, entries) in [(Side::Ours, &input.ours), (Side::Theirs, &input.theirs)] {
                for (e, r) in entries.iter().zip(s.records(side)) {
                    assert_eq!(e.key, s.key(r.number()));
                    // Left unhashed: the plain links' records (1, and 4,
                    // whose numbers differ but are not synced), the second
                    // of ours with key 3 (never matched), and ours whose
                    // partner is gone (5).
                    let unhashed =
                        matches!(r.number(), "1" | " 4" | "4" | "5") || r.get(Field::Name) == "C2";
                    if !all && unhashed {
                        assert_eq!(e.fields, None, "{side:?} {r:?}");
                        assert_ne!(e.row, crate::normalize::combine(s.hashes(r)));
                        continue;
                    }
                    let plain = s.hashes(r);
                    assert_eq!(
                        input.fields(e.fields),
                        Some(plain.as_slice()),
                        "{side:?} {r:?}"
                    );
                    assert_eq!(e.row, crate::normalize::combine(plain), "{side:?} {r:?}");
                }
            }
            for (e, l) in input.links.iter().zip(&s.links) {
                if !all && matches!(l.our_number.as_str(), "1" | " 4" | "5" | "7") {
                    assert_eq!(e.base_fields, None, "{l:?}");
                    continue;
                }
                let plain = s.base_hashes(&l.base);
                assert_eq!(input.fields(e.base_fields), Some(plain.as_slice()), "{l:?}");
                assert_eq!(e.base_row, crate::normalize::combine(plain), "{l:?}");
            }
            assert_eq!(
                crate::categorize::categorize_input(&input),
                crate::categorize::categorize_input(&s.to_input_hashed())
            );
        }
        // The fingerprint reuses the fixed side's hashes the same way.
        for side in [Side::Ours, Side::Theirs] {
            let fp = crate::fingerprint::Fingerprint::from_state(&s, side);
            for (fl, l) in fp.links.iter().zip(&s.links) {
                let plain = s.base_hashes(&l.base);
                assert_eq!(
                    fl.base_row,
                    crate::normalize::combine(plain.clone()),
                    "{l:?}"
                );
                if fl.base_fields.is_some() {
                    assert_eq!(
                        fp.fields_of(fl.base_fields),
                        Some(plain.as_slice()),
                        "{l:?}"
                    );
                }
            }
            for (fe, r) in fp.fixed.iter().zip(s.records(side.other())) {
                assert_eq!(fe.row, crate::normalize::combine(s.hashes(r)), "{r:?}");
            }
        }
    }

    /// Their data lacks the email. Their record 1 is the same as our 1 in
    /// every field it carries, but an earlier link pairs it with our 0,
    /// whose email differs. Compared with our 0 it must read with its own
    /// hashes (the email `ABSENT`, so no conflict), not with our 1's slot:
    /// the link 1-1 is not plain and their record is hashed.
    #[test]
    fn a_pair_that_another_link_compares_is_not_left_unhashed() {
        let email = |n: &str, e: &str| {
            let mut r = cust(n, "A", "Oslo");
            r.set(Field::Email, e);
            r
        };
        let mut s = State::synchronized(Kind::Customer, vec![email("1", "a@x.no")]);
        s.missing = vec![Field::Email];
        s.ours.insert(0, email("0", "b@y.no"));
        s.theirs = vec![email("1", "")];
        s.links.insert(
            0,
            Link {
                our_number: "0".into(),
                their_number: "1".into(),
                active: true,
                base: Base::of(&s.theirs[0], &s.synced),
                version: 1,
            },
        );
        let lazy = crate::categorize::categorize_input(&s.to_input());
        assert_eq!(
            lazy,
            crate::categorize::categorize_input(&s.to_input_hashed())
        );
        let synchronized: Vec<&str> = lazy
            .iter()
            .filter(|r| r.category == crate::categorize::Category::Synchronized)
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(synchronized, ["link:0:1"]);
        assert!(s.to_input().theirs[0].fields.is_some());
    }

    #[test]
    fn a_record_of_theirs_like_ours_shares_its_slot_unless_their_data_lacks_a_field() {
        let mut s = State::synchronized(Kind::Customer, vec![cust("1", "A", "Oslo")]);
        s.theirs = vec![cust("1", "A", "Oslo")];
        assert!(s.theirs[0].same_values(&s.ours[0]));
        let input = s.to_input_hashed();
        assert_eq!(input.theirs[0].fields, input.ours[0].fields);
        assert_eq!(input.theirs[0].row, input.ours[0].row);

        s.missing = vec![Field::City];
        // Their file lacks the city: the pair is still plain (the same in
        // every field their data carries), so nothing is hashed, and it
        // reads as the hashed form does.
        s.theirs[0].set(Field::City, "");
        let input = s.to_input();
        assert!(input.hashes.is_empty());
        assert_eq!(
            crate::categorize::categorize_input(&input),
            crate::categorize::categorize_input(&s.to_input_hashed())
        );
        let input = s.to_input_hashed();
        assert_ne!(input.theirs[0].fields, input.ours[0].fields);
        let city = s.synced.iter().position(|f| *f == Field::City);
        let theirs = input.fields(input.theirs[0].fields);
        assert_eq!(
            city.and_then(|k| theirs?.get(k).copied()),
            Some(crate::categorize::ABSENT)
        );
        let ours = input.fields(input.ours[0].fields);
        assert_eq!(
            city.and_then(|k| ours?.get(k).copied()),
            Some(s.side_hash(Side::Ours, Field::City, "Oslo"))
        );
    }

    /// Their record and the base, equal to ours, share our record's slot
    /// of hashes (not a copy of it); a pending change laid over their
    /// record changes theirs alone, so our side and the base still read as
    /// hashed, and the pair plans to copy the change to our side rather
    /// than reading both sides as already equal.
    #[test]
    fn a_change_laid_over_a_shared_slot_leaves_the_partner_as_it_was() {
        let mut s = State::synchronized(Kind::Customer, vec![cust("1", "A", "Oslo")]);
        s.theirs = vec![cust("1", "A", "Oslo")];
        let input = s.to_input_hashed();
        // One slot for all three: nothing was stored twice.
        assert_eq!(input.theirs[0].fields, input.ours[0].fields);
        assert_eq!(input.links[0].base_fields, input.ours[0].fields);
        assert_eq!(input.hashes.len(), s.synced.len());
        // A plain link: nothing is hashed, and the pair reads as the same.
        let input = s.to_input();
        assert!(input.hashes.is_empty());
        assert_eq!(input.theirs[0].fields, None);
        assert_eq!(input.theirs[0].row, input.ours[0].row);
        assert_eq!(
            crate::categorize::categorize_input(&input),
            crate::categorize::categorize_input(&s.to_input_hashed())
        );

        s.pending = vec![PendingChange::Set {
            number: "1".into(),
            field: Field::City,
            from: "Oslo".into(),
            to: "Bergen".into(),
        }];
        let input = s.to_input();
        let ours = s.hashes(&s.ours[0]);
        let mut changed = s.theirs[0].clone();
        changed.set(Field::City, "Bergen");
        let theirs = s.hashes(&changed);
        assert_ne!(ours, theirs);
        assert_eq!(input.fields(input.ours[0].fields), Some(ours.as_slice()));
        assert_eq!(
            input.fields(input.theirs[0].fields),
            Some(theirs.as_slice())
        );
        assert_eq!(input.theirs[0].row, crate::normalize::combine(theirs));
        assert_eq!(
            input.fields(input.links[0].base_fields),
            Some(s.base_hashes(&s.links[0].base).as_slice())
        );
        assert!(input.arrived.is_empty());
        let c = crate::categorize::categorize(&s);
        assert_eq!(c.count(crate::categorize::Category::Synchronized), 1);
        assert_eq!(
            c.synchronized[0].planned(),
            vec![crate::categorize::PlannedUpdate {
                field: Field::City,
                side: Side::Ours,
                from: "Oslo".into(),
                to: "Bergen".into(),
            }]
        );
    }
}

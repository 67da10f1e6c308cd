//! Plans: the actions a person (or a run) decides on, and `apply`, the pure
//! function that turns a state and a plan into the next state.
//!
//! Nothing is ever applied automatically: suggestions and planned updates
//! become actions only when a caller puts them in a plan (`resolve` and
//! `planned_updates` build such plans). Writing to their side is not done
//! here; it becomes a pending change that overlays their data until an
//! import shows it. `apply` also moves each link's base forward to the values
//! both sides now agree on, and applying the same plan twice changes nothing
//! the second time.

use std::collections::BTreeMap;

use crate::normalize::{FastMap, HashedMap, value_hash};

use serde::{Deserialize, Serialize};

use crate::base::Base;
use crate::categorize::{Categorized, Row};
use crate::normalize::{match_key, normalize};
use crate::rules::RuleViolation;
use crate::schema::{Field, Record, Side};
use crate::state::{Deactivation, Link, PendingChange, State, base_of, lay_set, pending_record};

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Link our record to theirs. Equal numbers are linked only this way.
    Link {
        our_number: String,
        their_number: String,
    },
    Unlink {
        our_number: String,
        their_number: String,
    },
    /// Create a partner on `side` with `number`, copying the record
    /// `from_number` of the other side, and link the two. On their side the
    /// number must pass the number rules (and is stored as they make it).
    /// When an unlinked record with that number already exists on `side`,
    /// it is linked instead of created, with only the values both records
    /// agree on as the base, so differences show as conflicts.
    Create {
        side: Side,
        from_number: String,
        number: String,
    },
    /// Set a field of the record `number` on `side`.
    Set {
        side: Side,
        number: String,
        field: Field,
        value: String,
    },
    /// Mark a record "Don't synchronize".
    Deactivate { side: Side, number: String },
    /// Take the "Don't synchronize" mark off.
    Resume { side: Side, number: String },
    /// Stop synchronizing a linked pair.
    Stop {
        our_number: String,
        their_number: String,
    },
    /// Start synchronizing a stopped pair again.
    Start {
        our_number: String,
        their_number: String,
    },
}

/// A list of actions applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub actions: Vec<Action>,
}

/// Why a plan cannot be applied. The state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    #[error("action {action}: no {side:?} record has the number {number:?}")]
    NoSuchRecord {
        action: u32,
        side: Side,
        number: String,
    },
    #[error("action {action}: several {side:?} records have the number {number:?}")]
    MultipleMatches {
        action: u32,
        side: Side,
        number: String,
    },
    #[error("action {action}: the {side:?} record {number:?} is already linked")]
    AlreadyLinked {
        action: u32,
        side: Side,
        number: String,
    },
    #[error("action {action}: the number {number:?} is taken on the {side:?} side")]
    NumberTaken {
        action: u32,
        side: Side,
        number: String,
    },
    #[error("action {action}: no link between {our_number:?} and {their_number:?}")]
    NoSuchLink {
        action: u32,
        our_number: String,
        their_number: String,
    },
    #[error(
        "action {action}: {field} cannot be set (the number changes only by creating a partner; the field must belong to the kind)"
    )]
    BadField { action: u32, field: Field },
    #[error("action {action}: {violation}")]
    Rule {
        action: u32,
        violation: RuleViolation,
    },
}

/// An empty map with room for `n` entries.
/// Indices (of records or links) by their matching key, without a `String`
/// or a list allocated per key: a million keys were seven million small
/// allocations per plan. Kept by the key's hash, so a list may hold an
/// index of another key with the same hash: `Work`'s lookups keep only the
/// indices whose key is the one asked for. In the order added.
#[derive(Default)]
struct ByKey(HashedMap<Indices>);

enum Indices {
    One(usize),
    Many(Vec<usize>),
}

impl ByKey {
    fn sized(n: usize) -> ByKey {
        ByKey(HashedMap::with_capacity_and_hasher(n, Default::default()))
    }

    fn push(&mut self, key: &str, i: usize) {
        match self.0.entry(value_hash(key)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Indices::One(i));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let list = e.get_mut();
                match list {
                    Indices::One(j) => *list = Indices::Many(vec![*j, i]),
                    Indices::Many(v) => v.push(i),
                }
            }
        }
    }

    fn remove(&mut self, key: &str, i: usize) {
        let h = value_hash(key);
        let empty = match self.0.get_mut(&h) {
            Some(Indices::One(j)) => *j == i,
            Some(Indices::Many(v)) => {
                v.retain(|j| *j != i);
                v.is_empty()
            }
            None => false,
        };
        if empty {
            self.0.remove(&h);
        }
    }

    /// The indices added with `key` (and any other key of its hash).
    fn candidates(&self, key: &str) -> &[usize] {
        match self.0.get(&value_hash(key)) {
            Some(Indices::One(i)) => std::slice::from_ref(i),
            Some(Indices::Many(v)) => v,
            None => &[],
        }
    }
}

/// Where a number was found on a side.
enum Found {
    Record(usize),
    /// Their side only: a partner a pending `Create` describes.
    Pending(usize),
}

/// The state being changed, with indexes by key so that a plan of many
/// actions over a million records stays linear. Links and pending changes
/// are slots (`None` once removed) and are compacted, in order, at the end.
struct Work {
    s: State,
    links: Vec<Option<Link>>,
    /// Links made by this plan: their base is what both sides agree on
    /// once the whole plan is applied, whatever order the actions came in.
    fresh: Vec<bool>,
    /// Fields of our records this plan set: our choice replaces a different
    /// value we had asked their side to hold for the partner.
    ours_set: std::collections::BTreeSet<(String, Field)>,
    /// Keys the plan's actions name, per side: the links of these keys get
    /// their base moved forward. Taken from the actions alone, so applying
    /// the plan again moves the same links.
    touched: std::collections::BTreeSet<(Side, String)>,
    /// Whether any action added or removed a link (then links are sorted).
    links_changed: bool,
    pending: Vec<Option<PendingChange>>,
    marks: BTreeMap<(Side, String), Deactivation>,
    /// Records by key, per side (`ByKey`).
    ours: ByKey,
    theirs: ByKey,
    creates: FastMap<String, Vec<usize>>,
    sets: FastMap<(String, Field), usize>,
    /// Links by our key and by their key (`ByKey`).
    by_our: ByKey,
    by_their: ByKey,
}

impl Work {
    fn new(state: &State) -> Work {
        let mut s = state.clone();
        let links = std::mem::take(&mut s.links);
        let pending = std::mem::take(&mut s.pending);
        let marks = std::mem::take(&mut s.deactivated);
        let mut w = Work {
            links: Vec::with_capacity(links.len()),
            fresh: Vec::with_capacity(links.len()),
            ours_set: std::collections::BTreeSet::new(),
            touched: std::collections::BTreeSet::new(),
            links_changed: false,
            pending: Vec::with_capacity(pending.len()),
            marks: BTreeMap::new(),
            // Sized up front: a million entries grown by doubling are
            // rehashed some twenty times.
            ours: ByKey::sized(s.ours.len()),
            theirs: ByKey::sized(s.theirs.len()),
            creates: FastMap::default(),
            sets: FastMap::default(),
            by_our: ByKey::sized(links.len()),
            by_their: ByKey::sized(links.len()),
            s,
        };
        for (i, r) in w.s.ours.iter().enumerate() {
            w.ours.push(&match_key(&w.s.rules, r.number()), i);
        }
        for (i, r) in w.s.theirs.iter().enumerate() {
            w.theirs.push(&match_key(&w.s.rules, r.number()), i);
        }
        for l in links {
            w.add_link(l, false);
        }
        for p in pending {
            w.add_pending(p);
        }
        for d in marks {
            // The first mark of a key stays, as a set would keep it.
            let k = (d.side, w.key(&d.number));
            w.marks.entry(k).or_insert(d);
        }
        w
    }

    fn key(&self, n: &str) -> String {
        match_key(&self.s.rules, n).into_owned()
    }

    fn add_link(&mut self, l: Link, fresh: bool) {
        let i = self.links.len();
        let rules = &self.s.rules;
        self.by_our.push(&match_key(rules, &l.our_number), i);
        self.by_their.push(&match_key(rules, &l.their_number), i);
        self.links.push(Some(l));
        self.fresh.push(fresh);
        if fresh {
            self.links_changed = true;
        }
    }

    fn remove_link(&mut self, i: usize) {
        let Some(l) = self.links.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.links_changed = true;
        let rules = &self.s.rules;
        self.by_our.remove(&match_key(rules, &l.our_number), i);
        self.by_their.remove(&match_key(rules, &l.their_number), i);
    }

    /// The records of `side` with `key`.
    fn records_of<'a>(&'a self, side: Side, key: &'a str) -> impl Iterator<Item = usize> + 'a {
        let (index, records) = match side {
            Side::Ours => (&self.ours, &self.s.ours),
            Side::Theirs => (&self.theirs, &self.s.theirs),
        };
        index
            .candidates(key)
            .iter()
            .copied()
            .filter(move |i| match_key(&self.s.rules, records[*i].number()) == key)
    }

    /// The links whose key on `side` is `key`, in the order they were
    /// added.
    fn links_of<'a>(&'a self, side: Side, key: &'a str) -> impl Iterator<Item = usize> + 'a {
        let index = match side {
            Side::Ours => &self.by_our,
            Side::Theirs => &self.by_their,
        };
        index.candidates(key).iter().copied().filter(move |i| {
            self.links[*i].as_ref().is_some_and(|l| {
                let number = match side {
                    Side::Ours => &l.our_number,
                    Side::Theirs => &l.their_number,
                };
                match_key(&self.s.rules, number) == key
            })
        })
    }

    fn add_pending(&mut self, p: PendingChange) {
        let i = self.pending.len();
        let key = self.key(p.number());
        match &p {
            PendingChange::Create { .. } => self.creates.entry(key).or_default().push(i),
            PendingChange::Set { field, .. } => {
                // One change per field: a later one (from an older state
                // that repeated it) replaces the earlier.
                if let Some(old) = self.sets.insert((key, *field), i)
                    && let Some(slot) = self.pending.get_mut(old)
                {
                    *slot = None;
                }
            }
        }
        self.pending.push(Some(p));
    }

    fn remove_pending(&mut self, i: usize) {
        let Some(p) = self.pending.get_mut(i).and_then(Option::take) else {
            return;
        };
        let key = self.key(p.number());
        match p {
            PendingChange::Create { .. } => {
                if let Some(v) = self.creates.get_mut(&key) {
                    v.retain(|j| *j != i);
                }
            }
            PendingChange::Set { field, .. } => {
                if self.sets.get(&(key.clone(), field)) == Some(&i) {
                    self.sets.remove(&(key, field));
                }
            }
        }
    }

    fn find(&self, side: Side, number: &str, action: u32) -> Result<Found, PlanError> {
        let key = self.key(number);
        let mut found = self.records_of(side, &key);
        match (found.next(), found.next()) {
            (Some(i), None) => Ok(Found::Record(i)),
            (None, _) => {
                if side == Side::Theirs
                    && let Some(p) = self.creates.get(&key).and_then(|v| v.first())
                {
                    return Ok(Found::Pending(*p));
                }
                Err(PlanError::NoSuchRecord {
                    action,
                    side,
                    number: number.to_string(),
                })
            }
            _ => Err(PlanError::MultipleMatches {
                action,
                side,
                number: number.to_string(),
            }),
        }
    }

    fn exists(&self, side: Side, number: &str) -> bool {
        matches!(
            self.find(side, number, 0),
            Ok(_) | Err(PlanError::MultipleMatches { .. })
        )
    }

    /// The first link of the pair (more than one is a fault of an older
    /// state).
    fn link_of(&self, our: &str, their: &str) -> Option<usize> {
        let (ok, tk) = (self.key(our), self.key(their));
        self.links_of(Side::Ours, &ok).find(|i| {
            self.links[*i]
                .as_ref()
                .is_some_and(|l| match_key(&self.s.rules, &l.their_number) == tk)
        })
    }

    fn linked_elsewhere(&self, side: Side, number: &str) -> bool {
        self.links_of(side, &self.key(number)).next().is_some()
    }

    fn set_active(&mut self, i: usize, active: bool) {
        if let Some(Some(l)) = self.links.get_mut(i) {
            l.active = active;
        }
    }

    /// Their record with the pending `Set`s laid over it, as
    /// `State::effective_theirs` does.
    fn effective_their_record(&self, i: usize) -> Record {
        let r = self.s.theirs[i].clone();
        let key = self.key(r.number());
        self.overlay_sets(r, &key, &self.s.missing)
    }

    /// Lays the pending `Set`s of `key` over `r` (`state::lay_set`).
    fn overlay_sets(&self, mut r: Record, key: &str, lacks: &[Field]) -> Record {
        for f in self.s.kind.fields() {
            if let Some(Some(PendingChange::Set { from, to, .. })) = self
                .sets
                .get(&(key.to_string(), *f))
                .and_then(|p| self.pending.get(*p))
            {
                lay_set(&mut r, *f, from, to, lacks);
            }
        }
        r
    }

    /// Their record with pending changes laid over it, whether it exists or
    /// only a pending creation describes it.
    fn effective_their(&self, found: &Found) -> Option<Record> {
        match found {
            Found::Record(i) => Some(self.effective_their_record(*i)),
            Found::Pending(p) => match self.pending.get(*p) {
                Some(Some(PendingChange::Create { number, values })) => {
                    let key = self.key(number);
                    // What we asked them to create: every field known.
                    let r =
                        self.overlay_sets(pending_record(self.s.kind, number, values), &key, &[]);
                    Some(r)
                }
                _ => None,
            },
        }
    }

    /// Records, for every followed link the plan touched, the values both
    /// sides now agree on as the new base. Links that are stopped, marked,
    /// missing a record or sharing a record with another link are left as
    /// they are, as the categories leave them out of synchronization.
    fn move_bases(&mut self) {
        let mut slots: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
        for (side, key) in &self.touched {
            slots.extend(self.links_of(*side, key));
        }
        let synced = self.s.synced.clone();
        for li in slots {
            let Some(Some(l)) = self.links.get(li) else {
                continue;
            };
            if !l.active {
                continue;
            }
            let (ok, tk) = (self.key(&l.our_number), self.key(&l.their_number));
            let single = |side: Side, k: &str| self.links_of(side, k).nth(1).is_none();
            if !single(Side::Ours, &ok)
                || !single(Side::Theirs, &tk)
                || self.marks.contains_key(&(Side::Ours, ok.clone()))
                || self.marks.contains_key(&(Side::Theirs, tk.clone()))
            {
                continue;
            }
            let Ok(Found::Record(oi)) = self.find(Side::Ours, &ok, 0) else {
                continue;
            };
            let Some(their) = self
                .find(Side::Theirs, &tk, 0)
                .ok()
                .and_then(|f| self.effective_their(&f))
            else {
                continue;
            };
            let our = &self.s.ours[oi];
            let agreed: Vec<(Field, String)> = synced
                .iter()
                .filter(|f| normalize(**f, our.get(**f)) == normalize(**f, their.get(**f)))
                .map(|f| (*f, our.get(*f).to_string()))
                .collect();
            let Some(Some(link)) = self.links.get_mut(li) else {
                continue;
            };
            if agreed
                .iter()
                .any(|(f, v)| link.base.get(*f) != Some(v.as_str()))
            {
                // One new base with every agreed value, not one per value.
                let next = Base::from_pairs(
                    link.base
                        .iter()
                        .chain(agreed.iter().map(|(f, v)| (*f, v.as_str()))),
                );
                link.base = next;
                link.version = link.version.saturating_add(1);
            }
        }
    }

    fn finish(mut self) -> State {
        for (ok, field) in std::mem::take(&mut self.ours_set) {
            let Ok(Found::Record(i)) = self.find(Side::Ours, &ok, 0) else {
                continue;
            };
            let ours = normalize(field, self.s.ours[i].get(field));
            let partners: Vec<String> = self
                .links_of(Side::Ours, &ok)
                .filter_map(|j| self.links[j].as_ref())
                .map(|l| self.key(&l.their_number))
                .collect();
            for partner in partners {
                if let Some(p) = self.sets.get(&(partner, field)).copied()
                    && let Some(Some(PendingChange::Set { to, .. })) = self.pending.get(p)
                    && normalize(field, to) != ours
                {
                    self.remove_pending(p);
                }
            }
        }
        // A link made by this plan starts from what both sides agree on
        // once the whole plan is applied, whatever order the actions came in.
        for (l, fresh) in self.links.iter_mut().zip(&self.fresh) {
            if let Some(l) = l
                && *fresh
            {
                l.base.clear();
                l.version = 0;
            }
        }
        self.move_bases();
        let links_changed = self.links_changed;
        let mut s = self.s;
        s.links = self.links.into_iter().flatten().collect();
        if links_changed {
            // Links are a set too: one order, whatever order the actions
            // made and removed them in.
            let rules = s.rules.clone();
            s.links.sort_by_cached_key(|l| {
                (
                    rules.key(&l.our_number),
                    rules.key(&l.their_number),
                    l.our_number.clone(),
                    l.their_number.clone(),
                )
            });
        }
        s.pending = self.pending.into_iter().flatten().collect();
        // Marks are a set, kept in key order, so the order of the actions
        // that add and remove them does not show in the state.
        s.deactivated = self.marks.into_values().collect();
        s
    }
}

/// Applies `plan` to `state`: a new state, or the first action that cannot be
/// applied.
pub fn apply(state: &State, plan: &Plan) -> Result<State, PlanError> {
    let mut w = Work::new(state);
    for (i, action) in plan.actions.iter().enumerate() {
        apply_one(&mut w, action, i as u32)?;
    }
    let mut next = w.finish();
    next.settle_pending_in_place();
    Ok(next)
}

fn apply_one(w: &mut Work, action: &Action, at: u32) -> Result<(), PlanError> {
    let touched: Vec<(Side, &str)> = match action {
        Action::Link {
            our_number,
            their_number,
        }
        | Action::Unlink {
            our_number,
            their_number,
        }
        | Action::Stop {
            our_number,
            their_number,
        }
        | Action::Start {
            our_number,
            their_number,
        } => vec![(Side::Ours, our_number), (Side::Theirs, their_number)],
        Action::Create {
            side,
            from_number,
            number,
        } => vec![(side.other(), from_number), (*side, number)],
        Action::Set { side, number, .. }
        | Action::Deactivate { side, number }
        | Action::Resume { side, number } => vec![(*side, number)],
    };
    for (side, n) in touched {
        let k = w.key(n);
        w.touched.insert((side, k));
    }
    match action {
        Action::Link {
            our_number,
            their_number,
        } => {
            w.find(Side::Ours, our_number, at)?;
            w.find(Side::Theirs, their_number, at)?;
            if let Some(i) = w.link_of(our_number, their_number) {
                // Linking a linked pair asks for it to be synchronized: a
                // stopped pair starts again, which keeps plans idempotent.
                w.set_active(i, true);
                return Ok(());
            }
            for (side, n) in [(Side::Ours, our_number), (Side::Theirs, their_number)] {
                if w.linked_elsewhere(side, n) {
                    return Err(PlanError::AlreadyLinked {
                        action: at,
                        side,
                        number: n.clone(),
                    });
                }
            }
            w.add_link(
                Link {
                    our_number: our_number.clone(),
                    their_number: their_number.clone(),
                    active: true,
                    base: Base::default(),
                    version: 0,
                },
                true,
            );
        }
        Action::Unlink {
            our_number,
            their_number,
        } => {
            if let Some(i) = w.link_of(our_number, their_number) {
                w.remove_link(i);
            }
        }
        Action::Stop {
            our_number,
            their_number,
        }
        | Action::Start {
            our_number,
            their_number,
        } => {
            // A pair that is not linked is neither synchronized nor stopped:
            // nothing to do (and a plan that unlinks it later stays
            // idempotent).
            if let Some(i) = w.link_of(our_number, their_number) {
                w.set_active(i, matches!(action, Action::Start { .. }));
            }
        }
        Action::Deactivate { side, number } => {
            let k = (*side, w.key(number));
            w.marks.entry(k).or_insert_with(|| Deactivation {
                side: *side,
                number: number.clone(),
            });
        }
        Action::Resume { side, number } => {
            let k = (*side, w.key(number));
            w.marks.remove(&k);
        }
        Action::Create {
            side,
            from_number,
            number,
        } => create(w, *side, from_number, number, at)?,
        Action::Set {
            side,
            number,
            field,
            value,
        } => set(w, *side, number, *field, value, at)?,
    }
    Ok(())
}

fn create(w: &mut Work, side: Side, from: &str, number: &str, at: u32) -> Result<(), PlanError> {
    let source = match (side, w.find(side.other(), from, at)?) {
        (Side::Theirs, Found::Record(i)) => w.s.ours[i].clone(),
        (Side::Ours, Found::Record(i)) => w.effective_their_record(i),
        (Side::Ours, Found::Pending(p)) => match w.pending.get(p) {
            Some(Some(PendingChange::Create { number, values })) => {
                pending_record(w.s.kind, number, values)
            }
            _ => Record::new(w.s.kind),
        },
        (Side::Theirs, Found::Pending(_)) => {
            return Err(PlanError::NoSuchRecord {
                action: at,
                side: Side::Ours,
                number: from.to_string(),
            });
        }
    };
    let number = match side {
        Side::Theirs => {
            w.s.rules
                .apply(number)
                .map_err(|violation| PlanError::Rule {
                    action: at,
                    violation,
                })?
        }
        Side::Ours => number.trim().to_string(),
    };
    let (our_number, their_number) = match side {
        Side::Theirs => (from.to_string(), number.clone()),
        Side::Ours => (number.clone(), from.to_string()),
    };
    if let Some(i) = w.link_of(&our_number, &their_number)
        && w.find(side, &number, at).is_ok()
    {
        // Created before: only make sure the pair is synchronized, as a
        // `Link` would.
        w.set_active(i, true);
        return Ok(());
    }
    let unlinked = !w.linked_elsewhere(side, &number) && !w.linked_elsewhere(side.other(), from);
    let mut wanted = source;
    wanted.set(Field::Number, &number);
    wanted.line = 0;
    match w.find(side, &number, at) {
        Ok(Found::Pending(p)) if side == Side::Theirs && unlinked => {
            // A partner we asked their side to create, since unlinked:
            // asking again reuses it rather than failing.
            // Its values stay as they are (a later `Set` may have changed
            // them); any difference from ours shows in the window.
            let values = match w.pending.get(p) {
                Some(Some(PendingChange::Create { values, .. })) => values.clone(),
                _ => base_of(&wanted, &w.s.synced),
            };
            w.add_link(
                Link {
                    our_number,
                    their_number,
                    active: true,
                    base: Base::from(values),
                    version: 1,
                },
                true,
            );
            return Ok(());
        }
        Ok(Found::Record(_)) if unlinked => {
            // A record with that number is already there and unlinked
            // (created by this plan before an unlink, or by hand on their
            // side): link it as `Link` would instead of failing. The base
            // starts empty and takes only what both sides agree on, so any
            // difference shows as a conflict; nothing is overwritten unasked.
            w.add_link(
                Link {
                    our_number,
                    their_number,
                    active: true,
                    base: Base::default(),
                    version: 0,
                },
                true,
            );
            return Ok(());
        }
        _ => {}
    }
    // A number a link still names (even for a deleted record) is taken too.
    if w.exists(side, &number) || w.linked_elsewhere(side, &number) {
        return Err(PlanError::NumberTaken {
            action: at,
            side,
            number,
        });
    }
    if w.linked_elsewhere(side.other(), from) {
        return Err(PlanError::AlreadyLinked {
            action: at,
            side: side.other(),
            number: from.to_string(),
        });
    }
    let base = base_of(&wanted, &w.s.synced);
    match side {
        Side::Ours => {
            let key = w.key(&number);
            w.ours.push(&key, w.s.ours.len());
            w.s.ours.push(wanted);
        }
        Side::Theirs => w.add_pending(PendingChange::Create {
            number: number.clone(),
            values: base.clone(),
        }),
    }
    w.add_link(
        Link {
            our_number,
            their_number,
            active: true,
            base: Base::from(base),
            version: 1,
        },
        true,
    );
    Ok(())
}

fn set(
    w: &mut Work,
    side: Side,
    number: &str,
    field: Field,
    value: &str,
    at: u32,
) -> Result<(), PlanError> {
    if field == Field::Number || w.s.kind.index_of(field).is_none() {
        return Err(PlanError::BadField { action: at, field });
    }
    let found = w.find(side, number, at)?;
    let key = w.key(number);
    match (side, found) {
        (Side::Ours, Found::Record(i)) => {
            w.s.ours[i].set(field, value);
            // Settled when the plan is done, against the links it leaves.
            w.ours_set.insert((key, field));
        }
        (Side::Ours, Found::Pending(_)) => {}
        (Side::Theirs, Found::Pending(_)) => {
            // Every creation of that number (one, unless an older state
            // repeated it) carries the value.
            for p in w.creates.get(&key).cloned().unwrap_or_default() {
                if let Some(Some(PendingChange::Create { values, .. })) = w.pending.get_mut(p) {
                    values.insert(field, value.to_string());
                }
            }
            // The creation now carries the value; an older `Set` of the
            // same field would contradict it.
            if let Some(old) = w.sets.get(&(key, field)).copied() {
                w.remove_pending(old);
            }
        }
        (Side::Theirs, Found::Record(i)) => {
            let current = w.s.theirs[i].get(field).to_string();
            // A real record supersedes a pending creation of it.
            for p in w.creates.get(&key).cloned().unwrap_or_default() {
                w.remove_pending(p);
            }
            let existing = w.sets.get(&(key.clone(), field)).copied();
            let wanted = PendingChange::Set {
                number: w.s.theirs[i].number().to_string(),
                field,
                from: current.clone(),
                to: value.to_string(),
            };
            // Replaced in place, so applying a plan twice keeps the order.
            match (
                existing,
                normalize(field, &current) == normalize(field, value),
            ) {
                (Some(p), true) => w.remove_pending(p),
                (Some(p), false) => w.pending[p] = Some(wanted),
                (None, true) => {}
                (None, false) => w.add_pending(wanted),
            }
        }
    }
    Ok(())
}

/// The plan that resolves a conflict row (of `state`'s window) by taking
/// `take`'s value for every conflicting field.
pub fn resolve(state: &State, row: &Row, take: Side) -> Plan {
    let mut actions = Vec::new();
    let (Some(our), Some(their)) = (row.our_number(state), row.their_number(state)) else {
        return Plan::default();
    };
    for c in row.conflicts() {
        let (side, number, value) = match take {
            Side::Ours => (Side::Theirs, their, &c.ours),
            Side::Theirs => (Side::Ours, our, &c.theirs),
        };
        actions.push(Action::Set {
            side,
            number: number.to_string(),
            field: c.field,
            value: value.clone(),
        });
    }
    Plan { actions }
}

/// The plan that carries out every planned (one-sided) update of the
/// synchronized rows of `state`'s window.
pub fn planned_updates(state: &State, categorized: &Categorized) -> Plan {
    let mut actions = Vec::new();
    for row in &categorized.synchronized {
        for u in row.planned() {
            let number = match u.side {
                Side::Ours => row.our_number(state),
                Side::Theirs => row.their_number(state),
            };
            if let Some(number) = number {
                actions.push(Action::Set {
                    side: u.side,
                    number: number.to_string(),
                    field: u.field,
                    value: u.to.clone(),
                });
            }
        }
    }
    Plan { actions }
}

/// The record a pending creation describes, for callers that show it.
pub fn pending_partner(state: &State, number: &str) -> Option<Record> {
    let key = state.key(number);
    state.pending.iter().find_map(|p| match p {
        PendingChange::Create { number: n, values } if state.key(n) == key => {
            Some(pending_record(state.kind, n, values))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::categorize::{Category, categorize};
    use crate::schema::{Kind, Record};

    fn cust(number: &str, name: &str) -> Record {
        Record::from_pairs(
            Kind::Customer,
            &[(Field::Number, number), (Field::Name, name)],
        )
    }

    fn state() -> State {
        let mut s = State::new(Kind::Customer);
        s.rules.strip_leading_zeros = true;
        s.rules.digits_only = true;
        s.ours = vec![cust("001", "Acme"), cust("002", "Bolt"), cust("003", "Cog")];
        s.theirs = vec![cust("1", "Acme AS"), cust("9", "Nine")];
        s
    }

    fn keys(s: &State, c: Category) -> Vec<String> {
        categorize(s).rows(c).iter().map(|r| r.key(s)).collect()
    }

    /// Found by `resolving_a_conflict_synchronizes_the_pair`: with their
    /// data lacking the email column, a pending change of their email is
    /// laid over its hash (so the pair is a conflict) but the row's details
    /// and the plan read their record's own value where the change was
    /// made from another, found no conflict, and resolving did nothing.
    #[test]
    fn a_pending_change_of_a_field_their_data_lacks_shows_in_the_details() {
        let with_email = |number: &str, email: &str| {
            let mut r = cust(number, "Acme");
            r.set(Field::Email, email);
            r
        };
        let mut s = State::new(Kind::Customer);
        s.ours = vec![cust("5", "Acme")];
        s.theirs = vec![with_email("2", "a@x.no")];
        s.missing = vec![Field::Email];
        s.links = vec![Link {
            our_number: "5".into(),
            their_number: "2".into(),
            active: true,
            base: Base::of(&with_email("5", "a@x.no"), &s.synced),
            version: 1,
        }];
        s.pending = vec![PendingChange::Set {
            number: "2".into(),
            field: Field::Email,
            from: String::new(),
            to: "b@y.no".into(),
        }];
        let c = categorize(&s);
        let row = &c.conflicts[0];
        assert_eq!(
            row.conflicts(),
            vec![crate::categorize::FieldConflict {
                field: Field::Email,
                ours: String::new(),
                theirs: "b@y.no".into(),
                base: Some("a@x.no".into()),
            }]
        );
        assert!(row.planned().is_empty());
        let next = apply(&s, &resolve(&s, row, Side::Ours)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(keys(&next, Category::Synchronized), vec![row.key(&s)]);
    }

    #[test]
    fn link_conflict_resolve_and_idempotence() {
        let s = state();
        assert_eq!(keys(&s, Category::New).len(), 5);
        let plan = Plan {
            actions: vec![Action::Link {
                our_number: "001".into(),
                their_number: "1".into(),
            }],
        };
        let linked = apply(&s, &plan).expect("applies");
        assert_eq!(keys(&linked, Category::Conflicts), vec!["link:1:1"]);
        assert_eq!(apply(&linked, &plan).expect("again"), linked);

        let row = categorize(&linked).conflicts[0].clone();
        let fix = resolve(&linked, &row, Side::Theirs);
        let fixed = apply(&linked, &fix).expect("resolves");
        assert_eq!(keys(&fixed, Category::Synchronized), vec!["link:1:1"]);
        assert_eq!(fixed.ours[0].get(Field::Name), "Acme AS");
        assert_eq!(fixed.links[0].base.get(Field::Name), Some("Acme AS"));
        assert_eq!(apply(&fixed, &fix).expect("again"), fixed);

        // Taking ours instead writes to their side: a pending change.
        let theirs_fixed = apply(&linked, &resolve(&linked, &row, Side::Ours)).expect("resolves");
        assert_eq!(theirs_fixed.pending.len(), 1);
        assert_eq!(
            keys(&theirs_fixed, Category::Synchronized),
            vec!["link:1:1"]
        );
        // Their next export shows it arrived: the pending change is dropped.
        let mut imported = theirs_fixed.clone();
        imported.theirs[0].set(Field::Name, "Acme");
        let settled = imported.settle_pending();
        assert!(settled.pending.is_empty());
        assert_eq!(keys(&settled, Category::Synchronized), vec!["link:1:1"]);
    }

    #[test]
    fn create_partner_obeys_number_rules() {
        let s = state();
        let ok = Plan {
            actions: vec![Action::Create {
                side: Side::Theirs,
                from_number: "002".into(),
                number: "002".into(),
            }],
        };
        let next = apply(&s, &ok).expect("creates");
        assert_eq!(next.links[0].their_number, "2");
        assert_eq!(keys(&next, Category::Synchronized), vec!["link:2:2"]);
        assert_eq!(apply(&next, &ok).expect("again"), next);
        assert!(pending_partner(&next, "2").is_some());

        let bad = Plan {
            actions: vec![Action::Create {
                side: Side::Theirs,
                from_number: "003".into(),
                number: "C3".into(),
            }],
        };
        assert!(matches!(
            apply(&s, &bad),
            Err(PlanError::Rule { action: 0, .. })
        ));

        // An unlinked record with that number is linked, not overwritten:
        // its differences show as conflicts.
        let existing = Plan {
            actions: vec![Action::Create {
                side: Side::Theirs,
                from_number: "003".into(),
                number: "9".into(),
            }],
        };
        let next = apply(&s, &existing).expect("links the existing record");
        assert_eq!(keys(&next, Category::Conflicts), vec!["link:3:9"]);
        assert_eq!(next.theirs[1].get(Field::Name), "Nine");

        // A number already linked to another record is taken.
        let taken = Plan {
            actions: vec![
                Action::Link {
                    our_number: "001".into(),
                    their_number: "1".into(),
                },
                Action::Create {
                    side: Side::Theirs,
                    from_number: "003".into(),
                    number: "1".into(),
                },
            ],
        };
        assert!(matches!(
            apply(&s, &taken),
            Err(PlanError::NumberTaken { action: 1, .. })
        ));

        let ours = Plan {
            actions: vec![Action::Create {
                side: Side::Ours,
                from_number: "9".into(),
                number: "0009".into(),
            }],
        };
        let next = apply(&s, &ours).expect("creates ours");
        assert_eq!(next.ours.len(), 4);
        assert_eq!(next.ours[3].get(Field::Name), "Nine");
        assert_eq!(keys(&next, Category::Synchronized), vec!["link:9:9"]);
    }

    #[test]
    fn deactivate_stop_and_errors() {
        let s = state();
        let plan = Plan {
            actions: vec![
                Action::Deactivate {
                    side: Side::Ours,
                    number: "3".into(),
                },
                Action::Link {
                    our_number: "002".into(),
                    their_number: "9".into(),
                },
                Action::Stop {
                    our_number: "2".into(),
                    their_number: "9".into(),
                },
            ],
        };
        let next = apply(&s, &plan).expect("applies");
        assert_eq!(
            keys(&next, Category::Deactivated),
            vec!["link:2:9", "ours:3"]
        );
        assert_eq!(apply(&next, &plan).expect("again"), next);
        let back = apply(
            &next,
            &Plan {
                actions: vec![
                    Action::Resume {
                        side: Side::Ours,
                        number: "003".into(),
                    },
                    Action::Start {
                        our_number: "2".into(),
                        their_number: "9".into(),
                    },
                ],
            },
        )
        .expect("applies");
        assert_eq!(keys(&back, Category::Deactivated), Vec::<String>::new());

        let err = apply(
            &s,
            &Plan {
                actions: vec![Action::Link {
                    our_number: "7".into(),
                    their_number: "1".into(),
                }],
            },
        );
        assert!(matches!(
            err,
            Err(PlanError::NoSuchRecord {
                side: Side::Ours,
                ..
            })
        ));
        let err = apply(
            &next,
            &Plan {
                actions: vec![Action::Link {
                    our_number: "1".into(),
                    their_number: "9".into(),
                }],
            },
        );
        assert!(matches!(
            err,
            Err(PlanError::AlreadyLinked {
                side: Side::Theirs,
                ..
            })
        ));
    }

    #[test]
    fn planned_updates_carry_one_sided_changes() {
        let mut s = state();
        s.links.push(Link {
            our_number: "001".into(),
            their_number: "1".into(),
            active: true,
            base: Base::of(&cust("1", "Acme"), &s.synced),
            version: 1,
        });
        let c = categorize(&s);
        assert_eq!(c.synchronized[0].planned().len(), 1);
        let plan = planned_updates(&s, &c);
        let next = apply(&s, &plan).expect("applies");
        assert_eq!(next.ours[0].get(Field::Name), "Acme AS");
        assert!(categorize(&next).synchronized[0].planned().is_empty());
        assert_eq!(next.links[0].version, 2);
    }
}

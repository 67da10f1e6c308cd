//! Suggestions for New records: ranked candidates from the other side that
//! may be the same customer or employee. Never applied automatically; a
//! person turns one into a `Link` action.
//!
//! Signals, strongest first: equal normalized number (100), equal
//! organisation number (95), equal email (90), equal phone (80), equal name
//! and postal code (75), a similar name in the same postal code (40-70, by
//! Jaro-Winkler). Each further field that agrees adds 5, up to 100.
//!
//! For a million records the lookups go through sorted `(hash, index)`
//! vectors, about 12 bytes per record and signal, and fuzzy names are
//! compared only within a postal-code block (capped), never across the whole
//! side.

use serde::{Deserialize, Serialize};

use crate::categorize::{Categorized, Category};
use crate::normalize::{fnv1a, hash_field, normalize};
use crate::schema::{Field, Record, Side};
use crate::state::State;

/// Most records of one postal-code block compared by fuzzy name.
const FUZZY_BLOCK_CAP: usize = 2_000;
/// Lowest Jaro-Winkler similarity taken as a similar name.
const FUZZY_MIN: f64 = 0.85;

/// One candidate partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Index into the other side's records.
    pub index: u32,
    pub number: String,
    pub name: String,
    /// 0..=100.
    pub score: u32,
    /// The fields whose normalized values are equal on both records.
    pub agreeing: Vec<Field>,
}

/// The candidates for one New record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestions {
    pub side: Side,
    /// Index into that side's records.
    pub index: u32,
    pub number: String,
    pub candidates: Vec<Candidate>,
}

/// A multimap from a 64-bit hash to record indices, as one sorted vector.
struct HashIndex(Vec<(u64, u32)>);

impl HashIndex {
    fn build(items: impl Iterator<Item = (u64, u32)>) -> HashIndex {
        let mut v: Vec<(u64, u32)> = items.collect();
        v.sort_unstable();
        HashIndex(v)
    }

    fn get(&self, h: u64) -> &[(u64, u32)] {
        let lo = self.0.partition_point(|(x, _)| *x < h);
        let hi = self.0.partition_point(|(x, _)| *x <= h);
        &self.0[lo..hi]
    }
}

/// Lower-cased, whitespace-collapsed name used for matching (the compare
/// rules keep case; matching people across systems should not).
fn match_name(r: &Record) -> String {
    normalize(Field::Name, &r.display_name()).to_lowercase()
}

fn nonempty_hash(s: &str) -> Option<u64> {
    (!s.is_empty()).then(|| fnv1a(s.as_bytes()))
}

/// Indexes over the records of one side that may be suggested.
pub struct Index<'s> {
    state: &'s State,
    side: Side,
    records: &'s [Record],
    key: HashIndex,
    org: HashIndex,
    email: HashIndex,
    phone: HashIndex,
    name_postal: HashIndex,
    postal: HashIndex,
    /// Match name and postal code of each indexed record, computed once
    /// rather than for every comparison in a postal block.
    prepared: crate::normalize::FastMap<u32, (String, String)>,
}

impl<'s> Index<'s> {
    /// Indexes the records of `side` at `eligible` indices.
    pub fn new(state: &'s State, side: Side, eligible: &[u32]) -> Index<'s> {
        let records = state.records(side);
        let get = |i: u32| records.get(i as usize);
        let build = |f: &dyn Fn(&Record) -> Option<u64>| {
            HashIndex::build(
                eligible
                    .iter()
                    .filter_map(|i| get(*i).and_then(f).map(|h| (h, *i))),
            )
        };
        Index {
            state,
            side,
            records,
            key: build(&|r| nonempty_hash(&state.key(r.number()))),
            org: build(&|r| {
                nonempty_hash(&normalize(
                    Field::OrganisationNumber,
                    r.get(Field::OrganisationNumber),
                ))
            }),
            email: build(&|r| nonempty_hash(&normalize(Field::Email, r.get(Field::Email)))),
            phone: build(&|r| {
                let p = normalize(Field::Phone, r.get(Field::Phone));
                (p.len() >= 6).then(|| fnv1a(p.as_bytes()))
            }),
            name_postal: build(&|r| {
                let n = match_name(r);
                let p = normalize(Field::PostalCode, r.get(Field::PostalCode));
                (!n.is_empty() && !p.is_empty()).then(|| fnv1a(format!("{n}\u{1f}{p}").as_bytes()))
            }),
            postal: build(&|r| {
                nonempty_hash(&normalize(Field::PostalCode, r.get(Field::PostalCode)))
            }),
            prepared: eligible
                .iter()
                .filter_map(|i| {
                    let r = get(*i)?;
                    let postal = normalize(Field::PostalCode, r.get(Field::PostalCode));
                    (!postal.is_empty()).then(|| (*i, (match_name(r), postal)))
                })
                .collect(),
        }
    }

    /// Ranked candidates for `record` (of the other side), at most `max`.
    pub fn candidates(&self, record: &Record, max: usize) -> Vec<Candidate> {
        let mut found: Vec<(u32, u32)> = Vec::new(); // (index, base score)
        let mut add = |hits: &[(u64, u32)], score: u32, same: &dyn Fn(&Record) -> bool| {
            for (_, i) in hits {
                // Hashes can collide: confirm with the values.
                if self.records.get(*i as usize).is_some_and(same) {
                    found.push((*i, score));
                }
            }
        };
        let state = self.state;
        let key = state.key(record.number());
        if let Some(h) = nonempty_hash(&key) {
            add(self.key.get(h), 100, &|r| state.key(r.number()) == key);
        }
        let pairs: [(Field, &HashIndex, u32); 3] = [
            (Field::OrganisationNumber, &self.org, 95),
            (Field::Email, &self.email, 90),
            (Field::Phone, &self.phone, 80),
        ];
        for (field, index, score) in pairs {
            let v = normalize(field, record.get(field));
            if field == Field::Phone && v.len() < 6 {
                continue;
            }
            if let Some(h) = nonempty_hash(&v) {
                add(index.get(h), score, &|r| {
                    normalize(field, r.get(field)) == v
                });
            }
        }
        let name = match_name(record);
        let postal = normalize(Field::PostalCode, record.get(Field::PostalCode));
        if !name.is_empty() && !postal.is_empty() {
            let h = fnv1a(format!("{name}\u{1f}{postal}").as_bytes());
            add(self.name_postal.get(h), 75, &|r| {
                match_name(r) == name
                    && normalize(Field::PostalCode, r.get(Field::PostalCode)) == postal
            });
            let block = self.postal.get(fnv1a(postal.as_bytes()));
            for (_, i) in block.iter().take(FUZZY_BLOCK_CAP) {
                let Some((other, other_postal)) = self.prepared.get(i) else {
                    continue;
                };
                if *other_postal != postal || *other == name || other.is_empty() {
                    continue;
                }
                let sim = strsim::jaro_winkler(&name, other);
                if sim >= FUZZY_MIN {
                    let score = 40 + ((sim - FUZZY_MIN) / (1.0 - FUZZY_MIN) * 30.0).round() as u32;
                    found.push((*i, score.min(70)));
                }
            }
        }
        let empty: Vec<u64> = state.synced.iter().map(|f| hash_field(*f, "")).collect();
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        found.dedup_by_key(|x| x.0);
        let mut out: Vec<Candidate> = found
            .into_iter()
            .filter_map(|(i, base)| {
                let r = self.records.get(i as usize)?;
                let mut agreeing = Vec::new();
                if state.key(r.number()) == key {
                    agreeing.push(Field::Number);
                }
                for (slot, f) in state.synced.iter().enumerate() {
                    if *f == Field::Active {
                        continue;
                    }
                    // Hashes of normalized values, to compare without
                    // building strings; the empty value never agrees.
                    let a = hash_field(*f, record.get(*f));
                    if a != empty[slot] && a == hash_field(*f, r.get(*f)) {
                        agreeing.push(*f);
                    }
                }
                let extra = (agreeing.len() as u32).saturating_sub(1) * 5;
                Some(Candidate {
                    index: i,
                    number: r.number().to_string(),
                    name: r.display_name(),
                    score: (base + extra).min(100),
                    agreeing,
                })
            })
            .collect();
        out.sort_by(|a, b| b.score.cmp(&a.score).then(a.index.cmp(&b.index)));
        out.truncate(max);
        out
    }

    pub fn side(&self) -> Side {
        self.side
    }
}

/// Candidates for every New record of both sides, from the New records of
/// the other side (records flagged "Skipped (multiple matches)" are neither
/// given nor offered suggestions).
pub fn suggest(state: &State, categorized: &Categorized, max: usize) -> Vec<Suggestions> {
    let lone = |side: Side| -> Vec<u32> {
        categorized
            .rows(Category::New)
            .iter()
            .filter(|r| !r.skipped_multiple && r.link_index().is_none())
            .filter_map(|r| match side {
                Side::Ours => r.our_index(),
                Side::Theirs => r.their_index(),
            })
            .collect()
    };
    let ours = lone(Side::Ours);
    let theirs = lone(Side::Theirs);
    let mut out = Vec::new();
    for (side, mine, others) in [(Side::Ours, &ours, &theirs), (Side::Theirs, &theirs, &ours)] {
        let index = Index::new(state, side.other(), others);
        for i in mine {
            let Some(r) = state.records(side).get(*i as usize) else {
                continue;
            };
            let candidates = index.candidates(r, max);
            if !candidates.is_empty() {
                out.push(Suggestions {
                    side,
                    index: *i,
                    number: r.number().to_string(),
                    candidates,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::categorize::categorize;
    use crate::schema::Kind;

    fn cust(pairs: &[(Field, &str)]) -> Record {
        Record::from_pairs(Kind::Customer, pairs)
    }

    /// Suggests for the first of our records and compares
    /// `(their number, score, agreeing fields)`.
    fn check(ours: Record, theirs: Vec<Record>, expect: &[(&str, u32, &[Field])]) {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![ours];
        s.theirs = theirs;
        let all = suggest(&s, &categorize(&s), 5);
        let got: Vec<(String, u32, Vec<Field>)> = all
            .iter()
            .filter(|x| x.side == Side::Ours)
            .flat_map(|x| x.candidates.iter())
            .map(|c| (c.number.clone(), c.score, c.agreeing.clone()))
            .collect();
        let want: Vec<(String, u32, Vec<Field>)> = expect
            .iter()
            .map(|(n, s, f)| (n.to_string(), *s, f.to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    use Field::*;

    #[test]
    fn ranks_candidates_by_signal() {
        let ours = cust(&[
            (Number, "100"),
            (Name, "Fjord Fisk AS"),
            (PostalCode, "5003"),
            (Email, "Post@FjordFisk.no"),
            (Phone, "+47 55 11 22 33"),
        ]);
        check(
            ours.clone(),
            vec![
                cust(&[(Number, "100"), (Name, "Other")]),
                cust(&[(Number, "7"), (Name, "X"), (Email, "post@fjordfisk.no")]),
                cust(&[(Number, "8"), (Name, "Y"), (Phone, "0047 55112233")]),
                cust(&[(Number, "9"), (Name, "fjord fisk as"), (PostalCode, "5003")]),
                cust(&[
                    (Number, "10"),
                    (Name, "Fjord Fisk A/S"),
                    (PostalCode, "5003"),
                ]),
                cust(&[
                    (Number, "11"),
                    (Name, "Fjord Fisk AS"),
                    (PostalCode, "9999"),
                ]),
            ],
            &[
                ("100", 100, &[Number]),
                ("7", 90, &[Email]),
                ("8", 80, &[Phone]),
                ("9", 75, &[PostalCode]),
                ("10", 67, &[PostalCode]),
            ],
        );
    }

    #[test]
    fn several_agreeing_fields_add_up_and_nothing_is_guessed() {
        let ours = cust(&[
            (Number, "1"),
            (Name, "Acme"),
            (Email, "a@acme.no"),
            (City, "Oslo"),
        ]);
        check(
            ours.clone(),
            vec![cust(&[
                (Number, "2"),
                (Name, "Acme"),
                (Email, "a@acme.no"),
                (City, "Oslo"),
            ])],
            &[("2", 100, &[Name, City, Email])],
        );
        check(ours, vec![cust(&[(Number, "3"), (Name, "Zeta")])], &[]);
    }

    #[test]
    fn large_side_uses_indexes() {
        // 50 000 records: runs in well under a second even unoptimized,
        // because nothing is compared pairwise outside a postal block.
        let mut s = State::new(Kind::Customer);
        s.theirs = (0..50_000)
            .map(|i| {
                cust(&[
                    (Number, &format!("T{i}")),
                    (Name, &format!("Company {i}")),
                    (PostalCode, &format!("{:04}", i % 5000)),
                ])
            })
            .collect();
        s.ours = vec![cust(&[
            (Number, "O1"),
            (Name, "Company 4242"),
            (PostalCode, "4242"),
        ])];
        let all = suggest(&s, &categorize(&s), 3);
        let mine: Vec<&Suggestions> = all.iter().filter(|x| x.side == Side::Ours).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].candidates[0].number, "T4242");
        assert_eq!(mine[0].candidates[0].score, 80);
    }
}

//! Run reports: one outcome for every record seen (every row of the window
//! and every row error of the files read), counted by outcome, with
//! per-record details. The counts always add up to the records seen: a
//! report that lost a record would hide exactly the one people need to see.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::categorize::{Categorized, Category, Reason, Row};
use crate::plan::{Action, Plan};
use crate::read::RowError;
use crate::schema::{Field, Side};
use crate::state::{PendingIndex, State};
use crate::track::Snapshot;

/// What happened to one record in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A field changed differently on both sides (or a fresh pair differs).
    FieldConflict,
    /// Neither side changed since the last run.
    NoNewChanges,
    /// A side changed, but the pair agrees on every synced field.
    NoDifference,
    /// A planned update cannot be written: the target side would lack a
    /// field it requires.
    UnableToUpdate,
    /// A record of theirs lacks a field we require.
    NoImport,
    /// A record of ours lacks a field they require.
    NoExport,
    /// Skipped: its number matches several records.
    Skipped,
    /// A row of a file that did not become a record.
    ValidationError,
    /// A link that cannot be followed (several matches, or a record already
    /// in another link).
    ProcessingError,
    /// A new record, to be created on the other side when a plan says so.
    Added,
    /// Planned updates carried to the other side.
    Updated,
    Deleted,
    /// Linked in this run.
    Linked,
    Deactivated,
    Inactive,
}

impl Outcome {
    pub const ALL: [Outcome; 15] = [
        Outcome::FieldConflict,
        Outcome::NoNewChanges,
        Outcome::NoDifference,
        Outcome::UnableToUpdate,
        Outcome::NoImport,
        Outcome::NoExport,
        Outcome::Skipped,
        Outcome::ValidationError,
        Outcome::ProcessingError,
        Outcome::Added,
        Outcome::Updated,
        Outcome::Deleted,
        Outcome::Linked,
        Outcome::Deactivated,
        Outcome::Inactive,
    ];
}

/// One field's change, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: Field,
    /// The side whose value changes.
    pub side: Side,
    pub before: String,
    pub after: String,
}

/// One record's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    pub number: String,
    pub name: String,
    pub outcome: Outcome,
    /// The window row, when the record made it into one.
    pub row_key: Option<String>,
    /// The file line, for a row error.
    pub line: Option<u32>,
    pub message: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// Whose record a report line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Whose {
    Ours,
    Theirs,
    /// A linked pair: our record and theirs.
    Pair,
}

impl Whose {
    pub fn as_str(self) -> &'static str {
        match self {
            Whose::Ours => "ours",
            Whose::Theirs => "theirs",
            Whose::Pair => "pair",
        }
    }

    pub fn parse(s: &str) -> Option<Whose> {
        [Whose::Ours, Whose::Theirs, Whose::Pair]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

impl Detail {
    /// Whose record this line is about: a window row says by its key; a
    /// row error is a line of their file.
    pub fn whose(&self) -> Whose {
        match self.row_key.as_deref() {
            Some(k) if k.starts_with("ours:") => Whose::Ours,
            Some(k) if k.starts_with("link:") => Whose::Pair,
            _ => Whose::Theirs,
        }
    }
}

/// A run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Every outcome, zero included.
    pub counts: BTreeMap<Outcome, u32>,
    pub records_seen: u32,
    pub details: Vec<Detail>,
}

/// What a report is built from.
pub struct RunFacts<'a> {
    pub state: &'a State,
    pub categorized: &'a Categorized,
    /// The plan the run applied (its links count as `linked`).
    pub plan: &'a Plan,
    /// Snapshots of both sides at the previous run, to tell "no new
    /// changes" from "no difference".
    pub previous: Option<(&'a Snapshot, &'a Snapshot)>,
    /// Row errors of the files read.
    pub errors: &'a [RowError],
}

fn changed_since(snapshot: &Snapshot, state: &State, side: Side, index: Option<u32>) -> bool {
    let Some(r) = index.and_then(|i| state.records(side).get(i as usize)) else {
        return false;
    };
    !snapshot.unchanged(r)
}

fn outcome(
    row: &Row,
    facts: &RunFacts<'_>,
    pending: &PendingIndex,
    linked: &[(String, String)],
) -> Outcome {
    let state = facts.state;
    let pair_key = |r: &Row| {
        (
            r.our_number(state).map(|n| state.key(n)),
            r.their_number(state).map(|n| state.key(n)),
        )
    };
    match row.category {
        Category::Conflicts => match row.reason {
            Some(Reason::MultipleMatches | Reason::AlreadyLinked) => Outcome::ProcessingError,
            _ => Outcome::FieldConflict,
        },
        Category::New => {
            if row.skipped_multiple {
                Outcome::Skipped
            } else if row.their_index().is_some() && row.no_import(state, pending) {
                Outcome::NoImport
            } else if row.our_index().is_some() && row.no_export(state) {
                Outcome::NoExport
            } else {
                Outcome::Added
            }
        }
        Category::Deleted => Outcome::Deleted,
        Category::Deactivated => Outcome::Deactivated,
        Category::Inactive => Outcome::Inactive,
        Category::Synchronized => {
            let (ok, tk) = pair_key(row);
            if let (Some(ok), Some(tk)) = (ok, tk)
                && linked.iter().any(|(a, b)| *a == ok && *b == tk)
            {
                return Outcome::Linked;
            }
            if !row.planned().is_empty() {
                let blocked = row.planned().iter().any(|u| match u.side {
                    Side::Theirs => row.no_export(state),
                    Side::Ours => row.no_import(state, pending),
                });
                return if blocked {
                    Outcome::UnableToUpdate
                } else {
                    Outcome::Updated
                };
            }
            match facts.previous {
                Some((ours, theirs))
                    if changed_since(ours, state, Side::Ours, row.our_index())
                        || changed_since(theirs, state, Side::Theirs, row.their_index()) =>
                {
                    Outcome::NoDifference
                }
                _ => Outcome::NoNewChanges,
            }
        }
    }
}

/// Builds the report of a run.
pub fn report(facts: &RunFacts<'_>) -> Report {
    let state = facts.state;
    let linked: Vec<(String, String)> = facts
        .plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Link {
                our_number,
                their_number,
            } => Some((state.key(our_number), state.key(their_number))),
            Action::Create {
                side,
                from_number,
                number,
            } => {
                let n = match side {
                    Side::Theirs => state.rules.apply(number).unwrap_or_else(|_| number.clone()),
                    Side::Ours => number.clone(),
                };
                Some(match side {
                    Side::Theirs => (state.key(from_number), state.key(&n)),
                    Side::Ours => (state.key(&n), state.key(from_number)),
                })
            }
            _ => None,
        })
        .collect();
    let mut counts: BTreeMap<Outcome, u32> = Outcome::ALL.iter().map(|o| (*o, 0)).collect();
    let mut details = Vec::new();
    let pending = state.pending_index();
    for row in facts.categorized.all() {
        let o = outcome(row, facts, &pending, &linked);
        *counts.entry(o).or_insert(0) += 1;
        let mut changes: Vec<FieldChange> = row
            .planned()
            .iter()
            .map(|u| FieldChange {
                field: u.field,
                side: u.side,
                before: u.from.clone(),
                after: u.to.clone(),
            })
            .collect();
        if o == Outcome::FieldConflict {
            // Both values of a conflict, as "ours before / theirs after".
            changes.extend(row.conflicts().iter().map(|c| FieldChange {
                field: c.field,
                side: Side::Ours,
                before: c.ours.clone(),
                after: c.theirs.clone(),
            }));
        }
        details.push(Detail {
            number: row
                .our_number(state)
                .or_else(|| row.their_number(state))
                .unwrap_or_default()
                .to_string(),
            name: row.name(state, &pending).into_owned(),
            outcome: o,
            row_key: Some(row.key(state)),
            line: None,
            message: row.reason.map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            }),
            changes,
        });
    }
    for e in facts.errors {
        *counts.entry(Outcome::ValidationError).or_insert(0) += 1;
        details.push(Detail {
            number: String::new(),
            name: String::new(),
            outcome: Outcome::ValidationError,
            row_key: None,
            line: Some(e.line),
            message: Some(e.reason.clone()),
            changes: Vec::new(),
        });
    }
    Report {
        counts,
        records_seen: details.len() as u32,
        details,
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::base::Base;
    use crate::categorize::categorize;
    use crate::plan::apply;
    use crate::schema::{Kind, Record};
    use crate::state::Link;
    use crate::track::Snapshot;

    fn cust(n: &str, name: &str) -> Record {
        Record::from_pairs(Kind::Customer, &[(Field::Number, n), (Field::Name, name)])
    }

    #[test]
    fn each_line_says_whose_record_it_is() {
        let line = |key: Option<&str>| Detail {
            number: "1".into(),
            name: String::new(),
            outcome: Outcome::Added,
            row_key: key.map(str::to_string),
            line: None,
            message: None,
            changes: Vec::new(),
        };
        assert_eq!(line(Some("ours:1")).whose(), Whose::Ours);
        assert_eq!(line(Some("theirs:1")).whose(), Whose::Theirs);
        assert_eq!(line(Some("link:1:1#2")).whose(), Whose::Pair);
        assert_eq!(
            line(None).whose(),
            Whose::Theirs,
            "a row error of their file"
        );
        for w in [Whose::Ours, Whose::Theirs, Whose::Pair] {
            assert_eq!(Whose::parse(w.as_str()), Some(w));
        }
    }

    #[test]
    fn totals_add_up_to_records_seen() {
        let mut s = State::new(Kind::Customer);
        s.ours = vec![
            cust("1", "A"),
            cust("2", "B"),
            cust("3", "C"),
            cust("4", ""),
            cust("5", "E"),
            cust("6", "F"),
        ];
        s.theirs = vec![
            cust("1", "A"),
            cust("2", "B2"),
            cust("3", "C3"),
            cust("7", ""),
            cust("8", "H"),
            cust("8", "H2"),
            cust("6", "F"),
        ];
        let before_ours = Snapshot::of(Kind::Customer, &s.rules, &s.ours);
        let before_theirs = Snapshot::of(Kind::Customer, &s.rules, &s.theirs);
        s.links = vec![
            Link {
                our_number: "1".into(),
                their_number: "1".into(),
                active: true,
                base: Base::of(&cust("1", "A"), &s.synced),
                version: 1,
            },
            Link {
                our_number: "2".into(),
                their_number: "2".into(),
                active: true,
                base: Base::of(&cust("2", "B"), &s.synced),
                version: 1,
            },
            Link {
                our_number: "3".into(),
                their_number: "3".into(),
                active: true,
                base: Base::of(&cust("3", "X"), &s.synced),
                version: 1,
            },
        ];
        let plan = Plan {
            actions: vec![Action::Link {
                our_number: "6".into(),
                their_number: "6".into(),
            }],
        };
        let s = apply(&s, &plan).expect("applies");
        let c = categorize(&s);
        let errors = vec![RowError {
            line: 9,
            reason: "number: empty".into(),
        }];
        let r = report(&RunFacts {
            state: &s,
            categorized: &c,
            plan: &plan,
            previous: Some((&before_ours, &before_theirs)),
            errors: &errors,
        });
        let total: u32 = r.counts.values().sum();
        assert_eq!(total, r.records_seen);
        assert_eq!(r.records_seen as usize, c.all().count() + errors.len());
        let count = |o: Outcome| r.counts.get(&o).copied().unwrap_or(0);
        assert_eq!(count(Outcome::NoNewChanges), 1, "{r:#?}");
        assert_eq!(count(Outcome::Updated), 1);
        assert_eq!(count(Outcome::FieldConflict), 1);
        assert_eq!(count(Outcome::Linked), 1);
        assert_eq!(count(Outcome::Skipped), 2);
        assert_eq!(count(Outcome::NoExport), 1);
        assert_eq!(count(Outcome::NoImport), 1);
        assert_eq!(count(Outcome::Added), 1);
        assert_eq!(count(Outcome::ValidationError), 1);
        let updated = r
            .details
            .iter()
            .find(|d| d.outcome == Outcome::Updated)
            .expect("an update");
        assert_eq!(
            updated.changes,
            vec![FieldChange {
                field: Field::Name,
                side: Side::Ours,
                before: "B".into(),
                after: "B2".into()
            }]
        );
    }
}

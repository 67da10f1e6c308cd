//! Change tracking between two reads of one data set: a compact snapshot
//! (per record its key, a row fingerprint and per-field fingerprints, all
//! 64-bit hashes of normalized values), the diff of a new read against it,
//! and a guard that stops a run that would delete too much.
//!
//! The guard exists because an export cut short (a filter left on in the ERP,
//! a half-written file) looks exactly like mass deletion.

use crate::normalize::FastMap;

use serde::{Deserialize, Serialize};

use crate::normalize::{combine, field_hashes};
use crate::rules::NumberRules;
use crate::schema::{Field, Kind, Record};

/// One record in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub key: String,
    pub row: u64,
    pub fields: Vec<u64>,
}

/// A data set reduced to fingerprints, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub kind: Kind,
    pub rules: NumberRules,
    /// The fields fingerprinted, in `SnapshotEntry::fields` order: every
    /// field of the kind but the number.
    pub fields: Vec<Field>,
    pub entries: Vec<SnapshotEntry>,
}

impl Snapshot {
    /// Fingerprints `records`. A key on several records keeps its first
    /// record (the diff reports the others as duplicates).
    pub fn of(kind: Kind, rules: &NumberRules, records: &[Record]) -> Snapshot {
        let fields = kind.synced_fields();
        let mut entries: Vec<SnapshotEntry> = records
            .iter()
            .map(|r| {
                let hashes = field_hashes(r, &fields);
                SnapshotEntry {
                    key: rules.key(r.number()),
                    row: combine(hashes.iter().copied()),
                    fields: hashes,
                }
            })
            .collect();
        // Stable: the first record of a repeated key stays first.
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries.dedup_by(|later, earlier| later.key == earlier.key);
        Snapshot {
            kind,
            rules: rules.clone(),
            fields,
            entries,
        }
    }

    pub fn len(&self) -> u32 {
        self.entries.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, key: &str) -> Option<&SnapshotEntry> {
        self.entries
            .binary_search_by(|e| e.key.as_str().cmp(key))
            .ok()
            .and_then(|i| self.entries.get(i))
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
    let mut out = Diff::default();
    let mut seen: FastMap<String, ()> =
        FastMap::with_capacity_and_hasher(records.len(), Default::default());
    for (i, r) in records.iter().enumerate() {
        let key = snapshot.rules.key(r.number());
        if seen.insert(key.clone(), ()).is_some() {
            out.duplicates.push(i as u32);
            continue;
        }
        let Some(old) = snapshot.find(&key) else {
            out.added.push(i as u32);
            continue;
        };
        let hashes = field_hashes(r, &snapshot.fields);
        if combine(hashes.iter().copied()) == old.row {
            out.unchanged += 1;
            continue;
        }
        let fields = snapshot
            .fields
            .iter()
            .zip(hashes.iter().zip(&old.fields))
            .filter(|(_, (a, b))| a != b)
            .map(|(f, _)| *f)
            .collect();
        out.changed.push(Changed {
            index: i as u32,
            key,
            fields,
        });
    }
    // Snapshot order is key order, so `removed` comes out sorted.
    out.removed = snapshot
        .entries
        .iter()
        .filter(|e| !seen.contains_key(&e.key))
        .map(|e| e.key.clone())
        .collect();
    out
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

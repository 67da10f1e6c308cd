//! Property tests of the engine's invariants: every record lands in exactly
//! one row, resolving a conflict synchronizes the pair, a plan applied twice
//! changes nothing the second time, no record is lost, and the preview
//! fingerprint agrees with the full state.

// proptest needs threads and a clock; the engine's unit tests cover wasm32.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use sync::categorize::{Category, Reason, categorize};
use sync::fingerprint::Fingerprint;
use sync::plan::{Action, Plan, apply, resolve};
use sync::protocol::CategoryCounts;
use sync::read::{ReadOptions, RecordSink, read, read_into};
use sync::schema::{Field, Kind, Record, Side};
use sync::state::{Deactivation, Link, PendingChange, State, base_of};

const NUMBERS: &[&str] = &["1", "01", "2", "3", "4", "5"];
const NAMES: &[&str] = &["Acme", "acme", "Bolt", " Bolt ", "Cog"];
const CITIES: &[&str] = &["", "Oslo", "Bergen"];

fn record() -> impl Strategy<Value = Record> {
    (
        prop::sample::select(NUMBERS),
        prop::sample::select(NAMES),
        prop::sample::select(CITIES),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(n, name, city, active)| {
            let mut r = Record::from_pairs(
                Kind::Customer,
                &[(Field::Number, n), (Field::Name, name), (Field::City, city)],
            );
            r.set_active(active);
            r
        })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Ours), Just(Side::Theirs)]
}

fn number() -> impl Strategy<Value = String> {
    prop::sample::select(NUMBERS).prop_map(String::from)
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::collection::vec(record(), 0..6),
        prop::collection::vec(record(), 0..6),
        prop::collection::vec(
            (
                number(),
                number(),
                any::<bool>(),
                prop::option::of(record()),
            ),
            0..4,
        ),
        prop::collection::vec((side(), number()), 0..2),
        any::<bool>(),
        prop::collection::vec(
            (
                number(),
                prop::sample::select(NAMES),
                prop::sample::select(NAMES),
                any::<bool>(),
            ),
            0..3,
        ),
    )
        .prop_map(|(ours, theirs, links, deact, strip, pending)| {
            let mut s = State::new(Kind::Customer);
            s.rules.strip_leading_zeros = strip;
            s.ours = ours;
            s.theirs = theirs;
            for (o, t, active, base) in links {
                s.links.push(Link {
                    our_number: o,
                    their_number: t,
                    active: active || base.is_some(),
                    base: base.map(|b| base_of(&b, &s.synced)).unwrap_or_default(),
                    version: 1,
                });
            }
            s.deactivated = deact
                .into_iter()
                .map(|(side, number)| Deactivation { side, number })
                .collect();
            s.pending = pending
                .into_iter()
                .map(|(number, from, to, create)| {
                    if create {
                        let r = Record::from_pairs(Kind::Customer, &[(Field::Name, to)]);
                        PendingChange::Create {
                            number,
                            values: base_of(&r, &s.synced),
                        }
                    } else {
                        PendingChange::Set {
                            number,
                            field: Field::Name,
                            from: from.to_string(),
                            to: to.to_string(),
                        }
                    }
                })
                .collect();
            s
        })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (number(), number()).prop_map(|(o, t)| Action::Link {
            our_number: o,
            their_number: t
        }),
        (number(), number()).prop_map(|(o, t)| Action::Unlink {
            our_number: o,
            their_number: t
        }),
        (side(), number(), number()).prop_map(|(side, from, n)| Action::Create {
            side,
            from_number: from,
            number: n
        }),
        (side(), number(), prop::sample::select(NAMES)).prop_map(|(side, n, v)| Action::Set {
            side,
            number: n,
            field: Field::Name,
            value: v.to_string()
        }),
        (side(), number()).prop_map(|(side, n)| Action::Deactivate { side, number: n }),
        (side(), number()).prop_map(|(side, n)| Action::Resume { side, number: n }),
        (number(), number()).prop_map(|(o, t)| Action::Stop {
            our_number: o,
            their_number: t
        }),
        (number(), number()).prop_map(|(o, t)| Action::Start {
            our_number: o,
            their_number: t
        }),
    ]
}

/// The state with each record in at most one link, as `apply` keeps it:
/// a plan over a state that already links a record twice may fail the
/// second time on that old fault.
fn consistent(mut s: State) -> State {
    let mut ours = std::collections::BTreeSet::new();
    let mut theirs = std::collections::BTreeSet::new();
    let rules = s.rules.clone();
    s.links.retain(|l| {
        let fresh = !ours.contains(&rules.key(&l.our_number))
            && !theirs.contains(&rules.key(&l.their_number));
        if fresh {
            ours.insert(rules.key(&l.our_number));
            theirs.insert(rules.key(&l.their_number));
        }
        fresh
    });
    s
}

/// Every record of both sides is in exactly one row.
fn assert_each_record_once(s: &State) -> Result<(), TestCaseError> {
    let c = categorize(s);
    let mut ours = vec![0u32; s.ours.len()];
    let mut theirs = vec![0u32; s.theirs.len()];
    for row in c.all() {
        if let Some(i) = row.our_index {
            ours[i as usize] += 1;
        }
        if let Some(i) = row.their_index {
            theirs[i as usize] += 1;
        }
    }
    prop_assert!(ours.iter().all(|n| *n == 1), "ours {:?} in {:#?}", ours, c);
    prop_assert!(
        theirs.iter().all(|n| *n == 1),
        "theirs {:?} in {:#?}",
        theirs,
        c
    );
    let total: u32 = Category::ALL.iter().map(|k| c.count(*k)).sum();
    prop_assert_eq!(total as usize, c.all().count());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn each_record_is_in_exactly_one_category(s in state()) {
        assert_each_record_once(&s)?;
    }

    #[test]
    fn resolving_a_conflict_synchronizes_the_pair(s in state(), take in side()) {
        let s = consistent(s);
        let c = categorize(&s);
        for row in c.conflicts.iter().filter(|r| r.reason == Some(Reason::FieldConflict)) {
            let next = apply(&s, &resolve(row, take));
            let next = match next {
                Ok(n) => n,
                Err(e) => return Err(TestCaseError::fail(format!("{e} for {row:#?}"))),
            };
            let after = categorize(&next);
            let keys: Vec<&str> = after.synchronized.iter().map(|r| r.key.as_str()).collect();
            prop_assert!(keys.contains(&row.key.as_str()), "{} not synchronized: {:#?}", row.key, after);
        }
    }

    #[test]
    fn applying_a_plan_twice_changes_nothing_more(
        s in state(),
        actions in prop::collection::vec(action(), 1..5),
    ) {
        let plan = Plan { actions };
        let s = consistent(s);
        if let Ok(once) = apply(&s, &plan) {
            let twice = apply(&once, &plan);
            prop_assert_eq!(twice.as_ref(), Ok(&once), "plan {:?}", plan);
        }
    }

    #[test]
    fn no_record_is_lost(s in state(), actions in prop::collection::vec(action(), 1..5)) {
        let plan = Plan { actions };
        if let Ok(next) = apply(&s, &plan) {
            prop_assert!(next.ours.len() >= s.ours.len());
            prop_assert_eq!(next.theirs.len(), s.theirs.len());
            for (a, b) in s.ours.iter().zip(&next.ours) {
                prop_assert_eq!(a.number(), b.number());
            }
            prop_assert_eq!(&next.theirs, &s.theirs);
            assert_each_record_once(&next)?;
        }
    }

    #[test]
    fn fingerprint_preview_matches_the_server(
        s in state(),
        import in prop::collection::vec(record(), 0..6),
        imported_side in side(),
    ) {
        let fp = Fingerprint::from_state(&s, imported_side);
        let bytes = fp.encode();
        let decoded = Fingerprint::decode(&bytes);
        prop_assert_eq!(decoded.as_ref(), Ok(&fp));
        let mut server = s.clone();
        *server.records_mut(imported_side) = import.clone();
        let expect = categorize(&server).summary();
        let got = fp.preview(&import);
        // The browser's counts-only preview counts the same rows.
        prop_assert_eq!(fp.preview_counts(&import), CategoryCounts::of_summary(&expect));
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn reading_a_file_into_the_fingerprint_counts_what_the_server_counts(
        s in state(),
        import in prop::collection::vec(record(), 0..6),
        imported_side in side(),
        empty_active in any::<bool>(),
    ) {
        // The import as a file, its active column empty throughout or not.
        let mut file = String::from("Kundenummer;Navn;Poststed;Aktiv\r\n");
        for r in &import {
            let active = match (empty_active, r.active()) {
                (true, _) => "",
                (false, true) => "ja",
                (false, false) => "nei",
            };
            file.push_str(&format!("{};{};{};{active}\r\n", r.number(), r.get(Field::Name), r.get(Field::City)));
        }
        let fp = Fingerprint::from_state(&s, imported_side);
        let options = ReadOptions::default();
        let read_records = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options)
            .map(|o| o.records);
        let hashed = read_into(file.as_bytes(), Some("k.csv"), Kind::Customer, &options, fp.hashed());
        let (Ok(records), Ok((_, hashed))) = (read_records, hashed) else {
            return Err(TestCaseError::fail("the file did not read"));
        };
        prop_assert_eq!(records.len(), import.len());
        prop_assert_eq!(hashed.len(), import.len());
        let mut server = s.clone();
        *server.records_mut(imported_side) = records;
        let expect = CategoryCounts::of_summary(&categorize(&server).summary());
        prop_assert_eq!(fp.counts(hashed), expect);
    }
}

//! Property tests of the engine's invariants: every record lands in exactly
//! one row, resolving a conflict synchronizes the pair, a plan applied twice
//! changes nothing the second time, no record is lost, and the preview
//! fingerprint agrees with the full state, a link's base is the map of
//! strings it replaced, and leaving plain links unhashed changes no
//! category.

// proptest needs threads and a clock; the engine's unit tests cover wasm32.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use sync::base::Base;
use sync::categorize::{Category, Reason, Summary, categorize, categorize_input};
use sync::fingerprint::Fingerprint;
use sync::plan::{Action, Plan, apply, resolve};
use sync::protocol::CategoryCounts;
use sync::read::{ReadOptions, RecordSink, read, read_into};
use sync::schema::{Field, Kind, Record, Side};
use sync::state::{Deactivation, Link, PendingChange, State, base_of};

const NUMBERS: &[&str] = &["1", "01", "2", "3", "4", "5"];
const NAMES: &[&str] = &["Acme", "acme", "Bolt", " Bolt ", "Cog"];
const CITIES: &[&str] = &["", "Oslo", "Bergen"];
const EMAILS: &[&str] = &["", "a@x.no", "A@X.no", "b@y.no"];

fn record() -> impl Strategy<Value = Record> {
    (
        prop::sample::select(NUMBERS),
        prop::sample::select(NAMES),
        prop::sample::select(CITIES),
        prop::sample::select(EMAILS),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(n, name, city, email, active)| {
            let mut r = Record::from_pairs(
                Kind::Customer,
                &[
                    (Field::Number, n),
                    (Field::Name, name),
                    (Field::City, city),
                    (Field::Email, email),
                ],
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
                prop::sample::select(EMAILS),
                prop::option::of(prop::sample::select(EMAILS)),
            ),
            0..3,
        ),
        // Their data has no email column (`State::missing`).
        prop::bool::weighted(0.3),
    )
        .prop_map(|(ours, theirs, links, deact, strip, pending, no_email)| {
            let mut s = State::new(Kind::Customer);
            s.rules.strip_leading_zeros = strip;
            if no_email {
                s.missing = vec![Field::Email];
            }
            s.ours = ours;
            s.theirs = theirs;
            for (o, t, active, base) in links {
                s.links.push(Link {
                    our_number: o,
                    their_number: t,
                    active: active || base.is_some(),
                    base: base.map(|b| Base::of(&b, &s.synced)).unwrap_or_default(),
                    version: 1,
                });
            }
            s.deactivated = deact
                .into_iter()
                .map(|(side, number)| Deactivation { side, number })
                .collect();
            s.pending = pending
                .into_iter()
                .map(|(number, from, to, create, email_from, email_to)| {
                    if create {
                        let r = Record::from_pairs(
                            Kind::Customer,
                            &[(Field::Name, to), (Field::Email, email_from)],
                        );
                        PendingChange::Create {
                            number,
                            values: base_of(&r, &s.synced),
                        }
                    } else if let Some(email_to) = email_to {
                        PendingChange::Set {
                            number,
                            field: Field::Email,
                            from: email_from.to_string(),
                            to: email_to.to_string(),
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

/// A state as after a sync: besides `state()`'s records and links, pairs
/// of our record and theirs with its number, linked or not, their record
/// the same as ours or another, the base ours or unknown; and links of
/// another number of ours to such a record of theirs, with its values as
/// the base; and pending changes of a pair's name, from its name or
/// another, to its name (arrived when their record holds it) or another.
/// Now and then a pair's link is stopped, made twice, or one of its
/// records marked "Don't synchronize". Most links are then plain
/// (`State::to_input`), some beside records with the same key.
fn synced_state() -> impl Strategy<Value = State> {
    (
        state(),
        prop::collection::vec(
            (
                record(),
                prop::option::of(record()),
                prop::bool::weighted(0.8),
                prop::bool::weighted(0.7),
                prop::option::weighted(
                    0.3,
                    (
                        prop::option::of(prop::sample::select(NAMES)),
                        prop::option::of(prop::sample::select(NAMES)),
                    ),
                ),
            ),
            0..6,
        ),
        prop::collection::vec((number(), 0..6usize), 0..2),
        prop::collection::vec((0..6usize, 0..4u8), 0..3),
    )
        .prop_map(|(mut s, pairs, cross, odd)| {
            let first = s.theirs.len();
            let first_link = s.links.len();
            for (ours, other, linked, base_known, pending) in pairs {
                if let Some((from, to)) = pending {
                    let name = ours.get(Field::Name);
                    s.pending.push(PendingChange::Set {
                        number: ours.number().to_string(),
                        field: Field::Name,
                        from: from.unwrap_or(name).to_string(),
                        to: to.unwrap_or(name).to_string(),
                    });
                }
                let mut theirs = other.unwrap_or_else(|| ours.clone());
                theirs.set(Field::Number, ours.number());
                // A field their data lacks is empty in their records.
                for f in &s.missing {
                    theirs.set(*f, "");
                }
                if linked {
                    s.links.push(Link {
                        our_number: ours.number().to_string(),
                        their_number: ours.number().to_string(),
                        active: true,
                        base: if base_known {
                            Base::of(&ours, &s.synced)
                        } else {
                            Base::default()
                        },
                        version: 1,
                    });
                }
                s.ours.push(ours);
                s.theirs.push(theirs);
            }
            for (our_number, k) in cross {
                if let Some(t) = s.theirs.get(first + k) {
                    s.links.push(Link {
                        our_number,
                        their_number: t.number().to_string(),
                        active: true,
                        base: Base::of(t, &s.synced),
                        version: 1,
                    });
                }
            }
            for (k, what) in odd {
                let Some(l) = s.links.get(first_link + k).cloned() else {
                    continue;
                };
                match what {
                    0 => s.links[first_link + k].active = false,
                    1 => s.links.push(l),
                    2 => s.deactivated.push(Deactivation {
                        side: Side::Ours,
                        number: l.our_number,
                    }),
                    _ => s.deactivated.push(Deactivation {
                        side: Side::Theirs,
                        number: l.their_number,
                    }),
                }
            }
            s
        })
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
        if let Some(i) = row.our_index() {
            ours[i as usize] += 1;
        }
        if let Some(i) = row.their_index() {
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
            let next = apply(&s, &resolve(&s, row, take));
            let next = match next {
                Ok(n) => n,
                Err(e) => return Err(TestCaseError::fail(format!("{e} for {row:#?}"))),
            };
            let after = categorize(&next);
            let keys: Vec<String> = after.synchronized.iter().map(|r| r.key(&next)).collect();
            let key = row.key(&s);
            prop_assert!(keys.contains(&key), "{} not synchronized: {:#?}", key, after);
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
    fn leaving_plain_links_unhashed_changes_no_category(s in synced_state()) {
        let lazy = s.to_input();
        let full = s.to_input_hashed();
        prop_assert_eq!(categorize_input(&lazy), categorize_input(&full));
        prop_assert_eq!(&lazy.arrived, &full.arrived);
        // The server's window, whose plain links' rows are made without a
        // look at their entries, has the same rows.
        prop_assert_eq!(
            categorize(&s).summary(&s),
            Summary::from_core(categorize_input(&full))
        );
        // The window built on the lazy form still holds every record once.
        assert_each_record_once(&s)?;
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
        if imported_side == Side::Theirs {
            // Records given as they are carry every field.
            server.missing.clear();
        }
        let expect = categorize(&server).summary(&server);
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
        with_email in any::<bool>(),
    ) {
        // The import as a file, its active column empty throughout or not,
        // with or without a column for the email (which the records have).
        let mut file = String::from(if with_email {
            "Kundenummer;Navn;Poststed;E-post;Aktiv\r\n"
        } else {
            "Kundenummer;Navn;Poststed;Aktiv\r\n"
        });
        for r in &import {
            let active = match (empty_active, r.active()) {
                (true, _) => "",
                (false, true) => "ja",
                (false, false) => "nei",
            };
            let email = if with_email {
                format!("{};", r.get(Field::Email))
            } else {
                String::new()
            };
            file.push_str(&format!("{};{};{};{email}{active}\r\n", r.number(), r.get(Field::Name), r.get(Field::City)));
        }
        let fp = Fingerprint::from_state(&s, imported_side);
        let options = ReadOptions::default();
        let read_records = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options)
            .map(|o| (o.missing_fields(), o.records));
        let hashed = read_into(file.as_bytes(), Some("k.csv"), Kind::Customer, &options, fp.hashed());
        let (Ok((missing, records)), Ok((_, hashed))) = (read_records, hashed) else {
            return Err(TestCaseError::fail("the file did not read"));
        };
        prop_assert_eq!(records.len(), import.len());
        prop_assert_eq!(hashed.len(), import.len());
        let mut server = s.clone();
        *server.records_mut(imported_side) = records;
        // The file has no column for most fields: the server leaves them
        // out of the comparison on their side (`State::missing`), as the
        // browser's hasher does.
        if imported_side == Side::Theirs {
            server.missing = missing;
        }
        let expect = CategoryCounts::of_summary(&categorize(&server).summary(&server));
        prop_assert_eq!(fp.counts(hashed), expect);
        // The same with the fingerprint's side made first, as the
        // previewing worker does while its helpers read.
        let Ok((_, again)) = read_into(file.as_bytes(), Some("k.csv"), Kind::Customer, &options, fp.hashed()) else {
            return Err(TestCaseError::fail("the file did not read"));
        };
        prop_assert_eq!(fp.counts_prepared(fp.prepare(), again), expect);
    }
}

/// A generated file of about 330 KB (past `parts::HEAD_BYTES`): plain rows,
/// with `specials` (a kind of awkward row each) put at the given rows.
fn awkward_file(specials: &[(usize, u8)], crlf: bool, start: u8, active_empty: bool) -> Vec<u8> {
    let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut f: Vec<u8> = Vec::new();
    match start {
        1 => f.extend_from_slice(b"\xEF\xBB\xBF"),
        2 => {
            f.extend_from_slice(b"sep=;");
            f.extend_from_slice(nl);
        }
        _ => {}
    }
    f.extend_from_slice(b"Kundenummer;Navn;Poststed;E-post;Aktiv");
    f.extend_from_slice(nl);
    for i in 0..9000usize {
        let active: &[u8] = if active_empty {
            b""
        } else if i % 7 == 0 {
            b"nei"
        } else {
            b"ja"
        };
        let special = specials.iter().find(|(at, _)| *at == i).map(|s| s.1);
        let row: Vec<u8> = match special {
            // A quoted line break (two, one a blank line) in the name.
            Some(0) => format!("{i:06};\"Kunde {i}\n\navd. nord\";Oslo;k{i}@x.no;").into_bytes(),
            // Quotes doubled inside, and text after the closing quote.
            Some(1) => format!("{i:06};\"Kunde \"\"{i}\"\"\" AS;Bergen;k{i}@x.no;").into_bytes(),
            // Blank lines and a row of empty cells.
            Some(2) => {
                let mut r = nl.repeat(2);
                r.extend_from_slice(b";;;;");
                r.extend_from_slice(nl);
                r.extend_from_slice(format!("{i:06};Kunde {i};Oslo;k{i}@x.no;").as_bytes());
                r
            }
            // A row error: no number.
            Some(3) => format!(";Kunde {i};Oslo;k{i}@x.no;").into_bytes(),
            // A Windows-1252 byte (not UTF-8).
            Some(4) => {
                let mut r = format!("{i:06};Kunde {i};Troms").into_bytes();
                r.push(0xF8);
                r.extend_from_slice(format!(";k{i}@x.no;").as_bytes());
                r
            }
            // UTF-8 letters.
            Some(5) => format!("{i:06};Kunde {i} Øst;Tromsø;k{i}@x.no;").into_bytes(),
            // A repeated number (the rules see it; the reader keeps both).
            Some(6) => format!("{:06};Kunde {i};Oslo;k{i}@x.no;", i.saturating_sub(1)).into_bytes(),
            // A quote left open to the end of the file.
            Some(7) => format!("{i:06};\"Kunde {i};Oslo;k{i}@x.no;").into_bytes(),
            // A row ended by a carriage return alone, as Excel for Mac
            // ends lines, and one inside a quoted name.
            Some(8) => format!(
                "{i:06};Kunde {i};Oslo;k{i}@x.no;nei\r{i:06}b;\"Kunde\r{i}\";Oslo;k{i}@x.no;"
            )
            .into_bytes(),
            _ => format!("{i:06};Kunde {i} AS;Oslo;k{i}@x.no;").into_bytes(),
        };
        f.extend_from_slice(&row);
        f.extend_from_slice(active);
        f.extend_from_slice(nl);
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Reading a file in parts cut anywhere gives exactly what reading it
    /// whole gives: records, row errors with their lines, counts, notes,
    /// and the preview's hashes.
    #[test]
    fn parts_read_as_the_whole_file(
        specials in prop::collection::vec((0usize..9000, 0u8..9), 0..6),
        crlf in any::<bool>(),
        start in 0u8..3,
        active_empty in prop::bool::weighted(0.2),
        cuts in prop::collection::vec(0.0f64..1.0, 1..4),
        s in state(),
    ) {
        use sync::read::parts::{self, HEAD_BYTES};
        let file = awkward_file(&specials, crlf, start, active_empty);
        let options = ReadOptions::default();
        let name = Some("k.csv");
        // Cut at random offsets, each moved just past the next line feed.
        let mut starts: Vec<usize> = cuts
            .iter()
            .filter_map(|c| {
                let at = (c * file.len() as f64) as usize;
                parts::cut(&file[at..]).map(|n| at + n)
            })
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let whole = read(&file, name, Kind::Customer, &options);
        let by_parts = parts::read_in_parts(&file, name, Kind::Customer, &options, &starts, || {
            sync::read::Records::new(Kind::Customer)
        })
        .map(|(mut out, sink)| {
            out.records = sink.records;
            out
        });
        prop_assert_eq!(&by_parts, &whole);
        // The same parts on threads, as the server reads.
        let threaded = parts::read_threaded(&file, name, Kind::Customer, &options, cuts.len() + 1);
        prop_assert_eq!(&threaded, &whole);
        // And with the rows' hashes taken in the same read, as the server
        // reads a stored import: the hashes of the whole read's rows.
        let with_rows = parts::read_threaded_into(&file, name, Kind::Customer, &options, cuts.len() + 1, || {
            sync::read::WithRowHashes::new(sync::read::Records::new(Kind::Customer))
        });
        let rows = read_into(&file, name, Kind::Customer, &options, sync::read::RowHashes::default());
        if let (Ok((out, both)), Ok((_, rows))) = (with_rows, rows) {
            prop_assert_eq!(Ok(&both.sink.records), whole.as_ref().map(|w| &w.records));
            prop_assert_eq!(out.row_count, rows.hashes.len() as u32 + out.errors.len() as u32);
            prop_assert_eq!(both.rows, rows);
        } else {
            prop_assert!(whole.is_err());
        }

        // The preview's hasher: the same hashes, byte for byte.
        let fp = Fingerprint::from_state(&s, Side::Theirs);
        let hashed_whole = read_into(&file, name, Kind::Customer, &options, fp.hashed())
            .map(|(out, h)| (out, h.encode()));
        let hashed_parts = parts::read_in_parts(&file, name, Kind::Customer, &options, &starts, || fp.hashed())
            .map(|(out, h)| (out, h.encode()));
        prop_assert_eq!(hashed_parts, hashed_whole);

        // Parts are really read as parts unless a reason says otherwise.
        let Some(plan) = parts::plan(&file[..HEAD_BYTES], file.len() as u64, name, &options) else {
            return Err(TestCaseError::fail("a plain semicolon file is planned in parts"));
        };
        // No part starts before the first row ends (a cut just past a
        // `sep=` line is dropped), as every reader in parts does.
        let bounds = plan.bounds(starts.iter().copied(), file.len());
        let read_parts: Vec<_> = bounds
            .windows(2)
            .enumerate()
            .map(|(i, w)| parts::read_part(&plan, i == 0, &file[w[0]..w[1]], Kind::Customer, &options, fp.hashed()))
            .collect();
        let quoted_break = specials.iter().any(|s| s.1 == 0 || s.1 == 7);
        let mixed_encoding = specials.iter().any(|s| s.1 == 4);
        match parts::merge(read_parts, &options) {
            Ok(_) => {}
            Err(parts::Whole::CutInQuotes) => prop_assert!(quoted_break),
            Err(parts::Whole::Encoding) => prop_assert!(mixed_encoding),
            Err(other) => prop_assert!(false, "merge refused: {other}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Rows the fingerprint knows from the import the server has (the
    /// same text, in a file of the same shape) read as the records they
    /// were: a file read with them gives the reader's output and the
    /// categories, row keys included, that reading every row gives, whole
    /// or in parts, whatever changed between the two files.
    #[test]
    fn known_rows_read_as_reading_every_row(
        before in prop::collection::vec((0usize..9000, 0u8..9), 0..6),
        after in prop::collection::vec((0usize..9000, 0u8..9), 0..6),
        crlf in any::<bool>(),
        start in 0u8..3,
        was_empty in prop::bool::weighted(0.2),
        now_empty in prop::bool::weighted(0.2),
        cut in 0.0f64..1.0,
        s in state(),
    ) {
        use sync::categorize::{Summary, categorize_input};
        use sync::fingerprint::Hashed;
        use sync::read::RowHashes;
        use sync::read::parts;
        let old = awkward_file(&before, crlf, start, was_empty);
        let new = awkward_file(&after, crlf, start, now_empty);
        let (options, name, kind) = (ReadOptions::default(), Some("k.csv"), Kind::Customer);
        let old_read = read(&old, name, kind, &options);
        let rows = read_into(&old, name, kind, &options, RowHashes::default());
        let (Ok(old_read), Ok((_, rows))) = (old_read, rows) else {
            return Err(TestCaseError::fail("the old file did not read"));
        };
        let mut server = s.clone();
        server.theirs = old_read.records.clone();
        let plain = Fingerprint::from_state(&server, Side::Theirs);
        let fp = plain.clone().with_known_rows(&old_read.records, &rows);
        prop_assert_eq!(fp.known.is_some(), !rows.activated);
        let with_known = read_into(&new, name, kind, &options, fp.hashed());
        let every_row = read_into(&new, name, kind, &options, plain.hashed());
        let (Ok((out_known, known)), Ok((out_every, every))) = (with_known, every_row) else {
            return Err(TestCaseError::fail("the new file did not read"));
        };
        prop_assert_eq!(out_known, out_every);
        // Rows are known unless a quote left open swallows the rest of a
        // file: the text is the decoded one, so a file in another encoding
        // (a Windows-1252 byte in one only) still has the rows of ASCII.
        let open_quote = before.iter().chain(&after).any(|s| s.1 == 7);
        if !was_empty && !now_empty && !open_quote {
            prop_assert!(known.known_taken() > 8000, "{} known", known.known_taken());
        }
        let summary = |fp: &Fingerprint, h: &Hashed| Summary::from_core(categorize_input(&fp.input(h)));
        prop_assert_eq!(summary(&fp, &known), summary(&plain, &every));
        let counts = plain.counts(every);
        prop_assert_eq!(fp.counts(known), counts);
        // In two parts: the first with the known rows, as the previewing
        // worker reads its own.
        let at = (cut * new.len() as f64) as usize;
        let starts: Vec<usize> = parts::cut(&new[at..]).map(|n| at + n).into_iter().collect();
        let mut first = true;
        let in_parts = parts::read_in_parts(&new, name, kind, &options, &starts, || {
            let h = if first { fp.hashed() } else { plain.hashed() };
            first = false;
            h
        });
        let Ok((_, in_parts)) = in_parts else {
            return Err(TestCaseError::fail("the new file did not read in parts"));
        };
        prop_assert_eq!(fp.counts(in_parts), counts);
    }
}

fn any_field() -> impl Strategy<Value = Field> {
    let all: Vec<Field> = Kind::Customer
        .fields()
        .iter()
        .chain(Kind::Employee.fields())
        .copied()
        .collect();
    prop::sample::select(all)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A link's base answers, writes and reads JSON (in any key order) as
    /// the map of strings it replaced, and a value set later keeps that so.
    #[test]
    fn a_base_is_the_map_it_replaced(
        map in prop::collection::btree_map(any_field(), "\\PC{0,12}", 0..10),
        set in (any_field(), "\\PC{0,6}"),
    ) {
        let mut map = map;
        let mut base = Base::from(map.clone());
        let check = |base: &Base, map: &std::collections::BTreeMap<Field, String>| {
            for f in Kind::Customer.fields().iter().chain(Kind::Employee.fields()) {
                prop_assert_eq!(base.get(*f), map.get(f).map(String::as_str));
            }
            let json = serde_json::to_string(map).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::to_string(base).ok(), Some(json));
            let reversed: Vec<String> = map
                .iter()
                .rev()
                .filter_map(|(f, v)| Some(format!("{}:{}", serde_json::to_string(f).ok()?, serde_json::to_string(v).ok()?)))
                .collect();
            let read: Option<Base> = serde_json::from_str(&format!("{{{}}}", reversed.join(","))).ok();
            prop_assert_eq!(read.as_ref(), Some(base));
            Ok(())
        };
        check(&base, &map)?;
        base.insert(set.0, &set.1);
        map.insert(set.0, set.1);
        check(&base, &map)?;
    }
}

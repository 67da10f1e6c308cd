//! Comparison normalization and the crate's one hash function.
//!
//! Two values are "the same" for synchronization when their normalized forms
//! are equal; raw values are never changed by this, they stay in the records
//! for display and writing. The hash is FNV-1a 64, written out here, because
//! the browser (wasm32) and the server must compute identical hashes and
//! std's `DefaultHasher` promises neither stability nor portability.
//!
//! The rules, per field:
//! - every field: trimmed, inner runs of whitespace collapsed to one space;
//! - `email`: ASCII- and Unicode-lower-cased (addresses are case-insensitive
//!   in practice);
//! - `phone`: digits only, and a leading `+` becomes `00` (so `+47 22 33 44 55`
//!   equals `0047 22334455`); national and international forms of one number
//!   stay different, since guessing a country would be wrong as often as right;
//! - `postal_code`, `organisation_number`: spaces, dots and hyphens removed,
//!   upper-cased (`NO 0150` equals `no0150`, `987 654 321` equals `987654321`);
//! - `active`: the canonical `true`/`false`;
//! - names, street, city and the rest: case-sensitive after trimming, because
//!   a corrected capital ("acme as" → "Acme AS") is a real change someone made.

use std::borrow::Cow;

use crate::rules::NumberRules;
use crate::schema::{Field, Record};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 over `bytes`, continuing from `state`.
pub fn fnv1a_continue(state: u64, bytes: &[u8]) -> u64 {
    let mut h = state;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_continue(FNV_OFFSET, bytes)
}

/// Hash of a normalized value. Never 0: 0 marks "no value" (e.g. an
/// unknown base) in the compact encodings.
pub fn value_hash(normalized: &str) -> u64 {
    match fnv1a(normalized.as_bytes()) {
        0 => 1,
        h => h,
    }
}

/// Hash of a sequence of field hashes (a row), order-sensitive. One
/// multiply per field (FNV over each hash's eight bytes took eight, and a
/// million rows are combined several times per window). Every step is a
/// bijection of the state for a given field hash, so two rows that differ
/// in one field never combine alike. Row hashes are never stored: snapshots
/// recompute them and fingerprints carry a format version.
pub fn combine(hashes: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = FNV_OFFSET;
    for x in hashes {
        h = mix(h, x);
    }
    match h {
        0 => 1,
        h => h,
    }
}

/// One step of `combine` (and of the snapshot checksum): a bijection of
/// `h` for a given word `x`, so a change in any one word always changes the
/// result.
pub(crate) fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A `Hasher` for the crate's internal hash maps: FNV-1a, several times
/// faster than std's SipHash on short keys such as record numbers. The maps
/// only answer lookups; no output ever depends on their iteration order.
/// (FNV is not flood-resistant, which matters little here: the keys come
/// from files the signed-in user chose.)
#[derive(Debug, Clone, Copy)]
pub struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(FNV_OFFSET)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a_continue(self.0, bytes);
    }
}

/// A `HashMap` keyed through `FnvHasher`.
pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FnvHasher>>;

/// Trims and collapses inner whitespace.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Phone numbers compare by digits; a leading `+` counts as `00`.
pub fn normalize_phone(s: &str) -> String {
    let t = s.trim();
    let mut out = String::with_capacity(t.len() + 1);
    if t.starts_with('+') {
        out.push_str("00");
    }
    out.extend(t.chars().filter(char::is_ascii_digit));
    out
}

/// The comparison form of `raw` as a value of `field` (see the module doc).
pub fn normalize(field: Field, raw: &str) -> String {
    match field {
        Field::Email => collapse_whitespace(raw).to_lowercase(),
        Field::Phone => normalize_phone(raw),
        Field::PostalCode | Field::OrganisationNumber => raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
            .flat_map(char::to_uppercase)
            .collect(),
        Field::Active => match crate::read::mapping::parse_active(raw) {
            Some(false) => "false".to_string(),
            _ => "true".to_string(),
        },
        _ => collapse_whitespace(raw),
    }
}

/// Whitespace as `char::is_whitespace` sees it, for ASCII bytes.
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// `value_hash(&normalize(field, raw))`, computed without building the
/// normalized string (a million records have a dozen fields each). Plain
/// text fields take any input this way; the fields whose rules change case
/// or trim take only ASCII input, so Unicode's case and space rules stay
/// exactly those of `normalize`.
pub fn hash_field(field: Field, raw: &str) -> u64 {
    let ascii = raw.is_ascii();
    let bytes = raw.as_bytes();
    let mut h = FNV_OFFSET;
    let mut feed = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    };
    match field {
        Field::Active => match raw {
            "true" => return value_hash("true"),
            "false" => return value_hash("false"),
            _ => return value_hash(&normalize(field, raw)),
        },
        Field::Phone | Field::PostalCode | Field::OrganisationNumber | Field::Email if !ascii => {
            return value_hash(&normalize(field, raw));
        }
        // `collapse_whitespace`, fed as it goes: words joined by one space.
        _ if !ascii => {
            let (mut fed, mut gap) = (false, false);
            let mut utf8 = [0u8; 4];
            for c in raw.chars() {
                if c.is_whitespace() {
                    gap = fed;
                    continue;
                }
                if gap {
                    feed(b' ');
                    gap = false;
                }
                for b in c.encode_utf8(&mut utf8).bytes() {
                    feed(b);
                }
                fed = true;
            }
        }
        Field::Phone => {
            let start = bytes
                .iter()
                .position(|b| !ascii_space(*b))
                .unwrap_or(bytes.len());
            if bytes.get(start) == Some(&b'+') {
                feed(b'0');
                feed(b'0');
            }
            for b in &bytes[start..] {
                if b.is_ascii_digit() {
                    feed(*b);
                }
            }
        }
        Field::PostalCode | Field::OrganisationNumber => {
            for b in bytes {
                if !ascii_space(*b) && *b != b'.' && *b != b'-' {
                    feed(b.to_ascii_uppercase());
                }
            }
        }
        // `collapse_whitespace` (and lower case for email) over ASCII.
        _ => {
            let lower = field == Field::Email;
            let (mut fed, mut gap) = (false, false);
            for &b in bytes {
                if ascii_space(b) {
                    gap = fed;
                    continue;
                }
                if gap {
                    feed(b' ');
                    gap = false;
                }
                feed(if lower { b.to_ascii_lowercase() } else { b });
                fed = true;
            }
        }
    }
    match h {
        0 => 1,
        h => h,
    }
}

/// `rules.key(number)`, borrowed from `number` when the key is the number
/// itself or a tail of it (no whitespace, no lower-case letters: nearly every
/// number), so that keying a million records allocates nothing.
pub fn match_key<'a>(rules: &NumberRules, number: &'a str) -> Cow<'a, str> {
    let bytes = number.as_bytes();
    let plain = bytes
        .iter()
        .all(|b| b.is_ascii() && !ascii_space(*b) && !b.is_ascii_lowercase());
    if !plain {
        return Cow::Owned(rules.key(number));
    }
    if rules.strip_leading_zeros && bytes.iter().all(u8::is_ascii_digit) {
        let t = number.trim_start_matches('0');
        if t.is_empty() && !number.is_empty() {
            // "000" is the number zero: its last character.
            return Cow::Borrowed(&number[number.len() - 1..]);
        }
        return Cow::Borrowed(t);
    }
    Cow::Borrowed(number)
}

/// Hash of `field`'s normalized value in `record`.
pub fn field_hash(record: &Record, field: Field) -> u64 {
    hash_field(field, record.get(field))
}

/// Hashes of `fields` of `record`, in that order.
pub fn field_hashes(record: &Record, fields: &[Field]) -> Vec<u64> {
    fields.iter().map(|f| field_hash(record, *f)).collect()
}

/// The 64-bit fingerprint of a record's normalized values over `fields`.
pub fn record_hash(record: &Record, fields: &[Field]) -> u64 {
    combine(fields.iter().map(|f| field_hash(record, *f)))
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn check(field: Field, cases: &[(&str, &str)]) {
        for (input, expect) in cases {
            assert_eq!(normalize(field, input), *expect, "{field} {input:?}");
        }
    }

    #[test]
    fn normalizes_per_field() {
        check(
            Field::Name,
            &[
                ("  Acme   AS ", "Acme AS"),
                ("acme as", "acme as"),
                ("Bø\tAS", "Bø AS"),
            ],
        );
        check(
            Field::Email,
            &[(" Post@Acme.NO ", "post@acme.no"), ("ÅSE@x.no", "åse@x.no")],
        );
        check(
            Field::Phone,
            &[
                ("+47 22 33 44 55", "004722334455"),
                ("0047-22334455", "004722334455"),
                ("(22) 33 44 55", "22334455"),
            ],
        );
        check(
            Field::PostalCode,
            &[("no 0150", "NO0150"), ("0150", "0150")],
        );
        check(Field::OrganisationNumber, &[("987 654.321", "987654321")]);
        check(
            Field::Active,
            &[
                ("Ja", "true"),
                ("nei", "false"),
                ("", "false"),
                ("x", "true"),
            ],
        );
    }

    #[test]
    fn fast_hash_equals_hash_of_normalized_value() {
        let samples = [
            "",
            " ",
            "Acme AS",
            "  Acme \t AS \r\n",
            "\x0bx\x0c",
            "POST@Acme.NO ",
            "+47 22 33",
            " +47-22",
            "0047 22",
            "no 0150",
            "987.654-321",
            "true",
            "false",
            "Ja",
            "nei",
            "x",
            "Bø AS",
            "ÅSE@x.no",
            "\u{a0}a\u{a0}",
            "ΣΑΣ",
            "+",
            "++1",
            "Kunde 7, avd. Øst",
            "  Tromsø\u{2003} by\u{3000}",
            "\u{2028}\u{a0}",
            "Ø \t Ø",
        ];
        for f in crate::schema::Kind::Customer.fields() {
            for s in samples {
                assert_eq!(
                    hash_field(*f, s),
                    value_hash(&normalize(*f, s)),
                    "{f} {s:?}"
                );
            }
        }
    }

    #[test]
    fn match_key_equals_rules_key() {
        let numbers = [
            "",
            "0",
            "000",
            "00123",
            "123",
            " 12 3 ",
            "ab-1",
            "AB-1",
            "0x1",
            "\u{a0}1",
            "ø1",
            "Ø1",
            "0\t0",
            "12\u{2003}3",
        ];
        for strip in [false, true] {
            let rules = NumberRules {
                strip_leading_zeros: strip,
                ..NumberRules::default()
            };
            for n in numbers {
                assert_eq!(match_key(&rules, n), rules.key(n), "{n:?} strip {strip}");
            }
        }
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors: the hash must never change, or
        // fingerprints stored by an older build would stop matching.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn record_hash_ignores_formatting_but_not_content() {
        use crate::schema::Kind;
        let fields = Kind::Customer.synced_fields();
        let a = Record::from_pairs(
            Kind::Customer,
            &[(Field::Name, "Acme AS"), (Field::Email, "POST@acme.no")],
        );
        let b = Record::from_pairs(
            Kind::Customer,
            &[(Field::Name, " Acme  AS"), (Field::Email, "post@acme.no ")],
        );
        let c = Record::from_pairs(Kind::Customer, &[(Field::Name, "Acme ASA")]);
        assert_eq!(record_hash(&a, &fields), record_hash(&b, &fields));
        assert_ne!(record_hash(&a, &fields), record_hash(&c, &fields));
    }
}

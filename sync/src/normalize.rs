//! Comparison normalization and the crate's hash functions.
//!
//! Two values are "the same" for synchronization when their normalized forms
//! are equal; raw values are never changed by this, they stay in the records
//! for display and writing. Values are hashed with `ValueHash` (8-byte words,
//! one multiply each), written out here, because the browser (wasm32) and
//! the server must compute identical hashes and std's `DefaultHasher`
//! promises neither stability nor portability. FNV-1a 64 (`fnv1a`) hashes
//! everything else (revisions, suggestion blocks) and the values of
//! snapshots stored in formats 1 and 2 (`FnvValueHash`).
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

use crate::rules::{NumberRules, strip_zeros};
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

/// Hash of a normalized value (`ValueHash`, the current value hash).
/// Never 0: 0 marks "no value" (e.g. an unknown base) in the compact
/// encodings.
pub fn value_hash(normalized: &str) -> u64 {
    ValueHash::of(normalized.as_bytes())
}

/// A hash of a normalized value, fed byte by byte (or a slice at a time)
/// as the normalization produces them, so a value's hash needs no
/// normalized copy of it.
pub trait ValueHasher: Sized {
    fn new() -> Self;
    fn byte(&mut self, b: u8);
    fn slice(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.byte(*b);
        }
    }
    /// The hash; never 0.
    fn finish(self) -> u64;
    fn of(bytes: &[u8]) -> u64 {
        let mut h = Self::new();
        h.slice(bytes);
        h.finish()
    }
    /// `of(bytes)` when `bytes` are text in normal form (no control byte,
    /// no space at either end or two together; with `lower`, lower-case
    /// ASCII), else `None`.
    fn of_normal(bytes: &[u8], lower: bool) -> Option<u64> {
        normal_hash(bytes, lower).map(|_| Self::of(bytes))
    }
}

/// The value hash: the bytes gathered into little-endian 8-byte words, one
/// `mix` per word, then the length. A byte costs a
/// shift and an or where FNV-1a spent a multiply on each. Every step is a
/// bijection of the state for a given word, so values of one length that
/// differ in one word never collide.
#[derive(Debug, Clone, Copy)]
pub struct ValueHash {
    h: u64,
    word: u64,
    shift: u32,
    words: u64,
}

impl ValueHasher for ValueHash {
    fn new() -> Self {
        ValueHash {
            h: FNV_OFFSET,
            word: 0,
            shift: 0,
            words: 0,
        }
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.put(u64::from(b), 8);
    }

    /// Eight bytes at a time, merged into the word under way at any
    /// offset: what `byte` would do for each, with a shift and a mix per
    /// eight.
    #[inline]
    fn slice(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8]));
            self.put(v, 64);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let v = rest
                .iter()
                .enumerate()
                .fold(0u64, |v, (i, b)| v | u64::from(*b) << (8 * i));
            self.put(v, rest.len() as u32 * 8);
        }
    }

    fn finish(self) -> u64 {
        value_finish(
            self.h,
            self.word,
            (self.words * 8 + u64::from(self.shift / 8)) as usize,
        )
    }

    /// A whole value at once, exactly what `slice` on a new hasher gives:
    /// its full words, then its last bytes as one word, read without a
    /// loop (`tail_word`). Most values are shorter than a word or two, so
    /// this is most of a value's hashing.
    #[inline]
    fn of(bytes: &[u8]) -> u64 {
        let mut h = FNV_OFFSET;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = mix(
                h,
                u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8])),
            );
        }
        value_finish(h, tail_word(bytes, chunks.remainder().len()), bytes.len())
    }

    fn of_normal(bytes: &[u8], lower: bool) -> Option<u64> {
        normal_hash(bytes, lower)
    }
}

/// The end of a value hash: the last (partial) word, then the length. No
/// final avalanche: the hashes are only ever compared for equality (and
/// most values are short, so a field's fixed cost is most of its cost).
#[inline(always)]
fn value_finish(h: u64, word: u64, len: usize) -> u64 {
    match mix(mix(h, word), len as u64) {
        0 => 1,
        h => h,
    }
}

/// The last `rest` (0 to 7) bytes of `bytes` as a little-endian word, from
/// a load or two that may overlap (the bytes they share are the same, so
/// or-ing them is exact).
#[inline(always)]
fn tail_word(bytes: &[u8], rest: usize) -> u64 {
    let n = bytes.len();
    let le = |at: usize, k: usize| {
        bytes[at..at + k]
            .iter()
            .rev()
            .fold(0u64, |v, b| v << 8 | u64::from(*b))
    };
    match rest {
        0 => 0,
        _ if n >= 8 => {
            let last = <[u8; 8]>::try_from(&bytes[n - 8..]).unwrap_or([0; 8]);
            u64::from_le_bytes(last) >> (8 * (8 - rest))
        }
        4..=7 => {
            let lo = u64::from(u32::from_le_bytes(
                <[u8; 4]>::try_from(&bytes[..4]).unwrap_or([0; 4]),
            ));
            let hi = u64::from(u32::from_le_bytes(
                <[u8; 4]>::try_from(&bytes[n - 4..]).unwrap_or([0; 4]),
            ));
            lo | hi << (8 * (n - 4))
        }
        2 | 3 => le(0, 2) | le(n - 2, 2) << (8 * (n - 2)),
        _ => le(0, 1),
    }
}

impl ValueHash {
    /// Appends the low `bits` (8 to 64, a whole number of bytes) of `v`.
    #[inline(always)]
    fn put(&mut self, v: u64, bits: u32) {
        // `shift` is below 64 here, so the shifts are in range.
        self.word |= v << self.shift;
        if self.shift + bits >= 64 {
            self.h = mix(self.h, self.word);
            self.words += 1;
            self.word = if self.shift == 0 {
                0
            } else {
                v >> (64 - self.shift)
            };
            self.shift = self.shift + bits - 64;
        } else {
            self.shift += bits;
        }
    }
}

/// FNV-1a 64 as a value hash: the value hash of snapshot formats 1 and 2,
/// kept to read them.
#[derive(Debug, Clone, Copy)]
pub struct FnvValueHash(u64);

impl ValueHasher for FnvValueHash {
    fn new() -> Self {
        FnvValueHash(FNV_OFFSET)
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(FNV_PRIME);
    }

    fn finish(self) -> u64 {
        match self.0 {
            0 => 1,
            h => h,
        }
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

/// A `Hasher` for keys that are hashes already: the value itself, spread
/// by one multiply (FNV would spend eight on the eight bytes).
#[derive(Default)]
pub(crate) struct HashHasher(u64);

impl std::hash::Hasher for HashHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a_continue(self.0, bytes);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A `HashMap` keyed by hashes (`HashHasher`).
pub(crate) type HashedMap<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<HashHasher>>;

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

/// The UTF-8 lead byte of Latin-1's letters (U+00C0 to U+00FF: æ, ø, å, ä,
/// ö, é, ...), none of which is white space: a value starting or ending
/// with one needs no Unicode white-space lookup there.
pub(crate) const LATIN1_LEAD: u8 = 0xc3;

/// True when UTF-8 `bytes` are already in `collapse_whitespace`'s form (no
/// control byte, no space at either end, no two spaces together) and, with
/// `lower`, are ASCII without a capital: the usual value, hashed as it is.
/// Beyond ASCII only Latin-1's letters are taken (`LATIN1_LEAD`), which
/// hold no white space; any other non-ASCII character
/// may be white space (U+00A0 and the like) and takes the careful path.
#[cfg(test)]
fn normal_text(bytes: &[u8], lower: bool) -> bool {
    normal_hash(bytes, lower).is_some()
}

/// `ValueHash::of(bytes)` when `bytes` are in normal form (`normal_text`),
/// else `None`: one pass that checks and hashes eight bytes at a time.
/// Every check is exact per byte, so no carry or borrow makes one byte's
/// answer another's.
fn normal_hash(bytes: &[u8], lower: bool) -> Option<u64> {
    const L: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = L * 0x80;
    match (bytes.first(), bytes.last()) {
        (None, _) => return Some(ValueHash::of(b"")),
        (Some(b' '), _) | (_, Some(b' ')) => return None,
        _ => {}
    }
    // The high bit of each byte of `x` that equals `b`, exactly.
    let equal = |x: u64, b: u8| {
        let d = x ^ (L * u64::from(b));
        !(((d & (L * 0x7f)) + L * 0x7f) | d) & HIGH
    };
    let mut odd = 0u64;
    // The space flag of the previous word's last byte, at byte 0's flag.
    let mut carry = 0u64;
    let mut check = |x: u64| {
        // A byte below 0x20.
        odd |= x.wrapping_sub(L * 0x20) & !x & HIGH;
        let spaces = equal(x, b' ');
        odd |= spaces & ((spaces << 8) | carry);
        carry = spaces >> 56;
        if lower {
            // A byte between '@' and '[': a capital.
            let low7 = x & (L * 0x7f);
            odd |= (L * (127 + 0x5b)).wrapping_sub(low7) & !x & (low7 + L * (127 - 0x40)) & HIGH;
            // Any byte beyond ASCII.
            odd |= x & HIGH;
        } else {
            // A lead byte (0xC0 and up: bits 7 and 6) other than Latin-1's.
            odd |= x & (x << 1) & HIGH & !equal(x, LATIN1_LEAD);
        }
    };
    let mut h = FNV_OFFSET;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8]));
        check(x);
        h = mix(h, x);
    }
    let rest = chunks.remainder().len();
    let word = tail_word(bytes, rest);
    if rest > 0 {
        // Padded with 'a', which none of the checks flags.
        check(word | (L * u64::from(b'a')) << (8 * rest));
    }
    (odd == 0).then(|| value_finish(h, word, bytes.len()))
}

/// Whitespace as `char::is_whitespace` sees it, for ASCII bytes.
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// `value_hash(&normalize(field, raw))`, computed without building the
/// normalized string (a million records have a dozen fields each).
pub fn hash_field(field: Field, raw: &str) -> u64 {
    hash_field_with::<ValueHash>(field, raw)
}

/// `H::of(normalize(field, raw))`, computed without building the normalized
/// string. Plain text fields take any input this way; the fields whose
/// rules change case or trim take only ASCII input, so Unicode's case and
/// space rules stay exactly those of `normalize`.
pub fn hash_field_with<H: ValueHasher>(field: Field, raw: &str) -> u64 {
    let bytes = raw.as_bytes();
    // An empty value stays empty in every field's normal form but
    // `active`'s (a file's missing columns: a few per record).
    if bytes.is_empty() && field != Field::Active {
        return H::of(b"");
    }
    match field {
        Field::Active => {
            return match raw {
                "true" => H::of(b"true"),
                "false" => H::of(b"false"),
                _ => H::of(normalize(field, raw).as_bytes()),
            };
        }
        Field::Phone | Field::PostalCode | Field::OrganisationNumber => {}
        // Text already in normal form (single inner spaces, no control
        // byte, no white space beyond ASCII's, and an email in lower-case
        // ASCII): hashed as it is, eight bytes at a time, without a pass
        // to see whether it is ASCII first.
        _ => {
            if let Some(h) = H::of_normal(bytes, field == Field::Email) {
                return h;
            }
        }
    }
    let ascii = raw.is_ascii();
    let mut h = H::new();
    match field {
        Field::Phone | Field::PostalCode | Field::OrganisationNumber | Field::Email if !ascii => {
            return H::of(normalize(field, raw).as_bytes());
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
                    h.byte(b' ');
                    gap = false;
                }
                h.slice(c.encode_utf8(&mut utf8).as_bytes());
                fed = true;
            }
        }
        // Short codes (nearly all) are normalized into a buffer and hashed
        // a word at a time; long ones byte by byte.
        Field::Phone | Field::PostalCode | Field::OrganisationNumber
            if bytes.len() <= SHORT_CODE =>
        {
            let mut buf = [0u8; SHORT_CODE + 2];
            let mut n = 0;
            code_bytes(field, bytes, |b| {
                buf[n] = b;
                n += 1;
            });
            return H::of(&buf[..n]);
        }
        Field::Phone | Field::PostalCode | Field::OrganisationNumber => {
            code_bytes(field, bytes, |b| h.byte(b));
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
                    h.byte(b' ');
                    gap = false;
                }
                h.byte(if lower { b.to_ascii_lowercase() } else { b });
                fed = true;
            }
        }
    }
    h.finish()
}

/// The longest phone number, postal code or organisation number that
/// `hash_field_with` normalizes into a buffer on the stack.
const SHORT_CODE: usize = 62;

/// The bytes of `normalize(field, raw)` for ASCII `bytes` of a phone
/// number, postal code or organisation number, handed to `put` in order:
/// a phone's digits (a leading `+` as `00`), a code without white space,
/// dots and dashes, in upper case.
#[inline(always)]
fn code_bytes(field: Field, bytes: &[u8], mut put: impl FnMut(u8)) {
    if field == Field::Phone {
        let start = bytes
            .iter()
            .position(|b| !ascii_space(*b))
            .unwrap_or(bytes.len());
        if bytes.get(start) == Some(&b'+') {
            put(b'0');
            put(b'0');
        }
        for b in &bytes[start..] {
            if b.is_ascii_digit() {
                put(*b);
            }
        }
    } else {
        for b in bytes {
            if !ascii_space(*b) && *b != b'.' && *b != b'-' {
                put(b.to_ascii_uppercase());
            }
        }
    }
}

/// `rules.key(number)`, borrowed from `number` when the key is the number
/// itself or a tail of it (no whitespace, no lower-case letters: nearly every
/// number), so that keying a million records allocates nothing.
#[inline]
pub fn match_key<'a>(rules: &NumberRules, number: &'a str) -> Cow<'a, str> {
    let bytes = number.as_bytes();
    if all_digits(bytes) {
        return Cow::Borrowed(if rules.strip_leading_zeros {
            strip_zeros(number)
        } else {
            number
        });
    }
    // Not all digits: no zeros are stripped, and the key is the number
    // unless it has whitespace or lower case (or is not ASCII).
    let plain = bytes
        .iter()
        .all(|b| b.is_ascii() && !ascii_space(*b) && !b.is_ascii_lowercase());
    if plain {
        Cow::Borrowed(number)
    } else {
        Cow::Owned(rules.key(number))
    }
}

/// Whether every byte is an ASCII digit: for the 4 to 16 bytes that
/// numbers mostly have, a test of two words rather than of each byte (a
/// million numbers are keyed for every window).
#[inline]
fn all_digits(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    // A digit is 0x30..=0x39: its high half is 3, and stays 3 once 6 is
    // added (no byte carries into the next: each is at most 0x3F).
    let digits = |w: u64| w & HIGH == THREES && w.wrapping_add(SIXES) & HIGH == THREES;
    let word = |c: &[u8; 8]| u64::from_le_bytes(*c);
    let half = |c: &[u8; 4]| u64::from(u32::from_le_bytes(*c));
    match (bytes.len(), bytes.first_chunk(), bytes.last_chunk()) {
        (8..=16, Some(first), Some(last)) => digits(word(first)) && digits(word(last)),
        (4..=7, _, _) => match (bytes.first_chunk(), bytes.last_chunk()) {
            (Some(first), Some(last)) => digits(half(first) | half(last) << 32),
            _ => false,
        },
        _ => bytes.iter().all(u8::is_ascii_digit),
    }
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
            "Storgata 12345678 B",
            "a  b",
            "a\x01 b",
            "a \x1f",
            "Post@X.no",
            "post@x.no",
            "12345678901234567",
            "Tromsø",
            "Ærlig Ørn Åsen i Müller Straße",
            "Bø\u{a0}AS",
            "a\u{85}b",
            "x\u{202f}y",
            "ŠKODA Oy",
            "Åse ",
            " Åse",
            "Æ  Å",
            "É\tx",
            "ÅSE@X.NO",
            "åse@x.no",
        ];
        for f in crate::schema::Kind::Customer.fields() {
            for s in samples {
                assert_eq!(
                    hash_field(*f, s),
                    value_hash(&normalize(*f, s)),
                    "{f} {s:?}"
                );
                // The hash of snapshot formats 1 and 2, over the same
                // normalization.
                assert_eq!(
                    hash_field_with::<FnvValueHash>(*f, s),
                    match fnv1a(normalize(*f, s).as_bytes()) {
                        0 => 1,
                        h => h,
                    },
                    "{f} {s:?}"
                );
            }
        }
    }

    #[test]
    fn all_digits_is_every_byte_a_digit() {
        for len in 0..=20usize {
            let digits: Vec<u8> = (0..len).map(|i| b'0' + (i * 7 % 10) as u8).collect();
            assert!(all_digits(&digits), "{len}");
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = digits.clone();
                    bytes[at] = b;
                    assert_eq!(
                        all_digits(&bytes),
                        b.is_ascii_digit(),
                        "{b:#x} at {at} of {len}"
                    );
                }
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
            "1000",
            "00A1",
            "0012a",
            "A001",
            "0123456",
            "01234567",
            "0123456789012345",
            "01234567890123456",
            "0000000000",
            "12:3",
            "12/3",
            "1234567\u{7f}",
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

    const PINNED: [u64; 3] = [
        0x618b_6410_79db_81ab,
        0xb233_38d9_c072_0d1b,
        0x1ac0_0449_dc79_5c50,
    ];

    /// A whole value hashed at once is the value fed a byte at a time, at
    /// every length around the word boundaries; so are short codes
    /// normalized into a buffer.
    #[test]
    fn a_value_hashed_at_once_is_the_value_fed_byte_by_byte() {
        let text: Vec<u8> = (0..40u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(0x81))
            .collect();
        for n in 0..=text.len() {
            for start in [0, 1, 3] {
                let v = &text[start.min(n)..n];
                let mut h = ValueHash::new();
                for b in v {
                    h.byte(*b);
                }
                assert_eq!(ValueHash::of(v), h.finish(), "bytes {start}..{n}");
            }
        }
        for (field, raw) in [
            (Field::Phone, " +47 22 33-44 55"),
            (Field::Phone, "0047 (22) 334455"),
            (Field::PostalCode, "se-123 45"),
            (Field::OrganisationNumber, "no 912.345.678 mva"),
            (Field::PostalCode, &"1-".repeat(40)),
            (Field::Phone, &"+1 ".repeat(30)),
        ] {
            assert_eq!(
                hash_field(field, raw),
                value_hash(&normalize(field, raw)),
                "{field}: {raw:?}"
            );
        }
    }

    #[test]
    fn normal_text_is_exactly_nothing_to_collapse() {
        // Every string of up to 6 bytes over an alphabet of the edge cases
        // (space, tab, a control byte, the bytes around the capitals), and
        // longer ones with the interesting byte at each position.
        let alphabet = [
            b' ', b'\t', 0x01, 0x1f, b'!', b'@', b'A', b'Z', b'[', b'a', 0xa0, 0xc2, 0xc3, 0xff,
        ];
        let naive = |b: &[u8], lower: bool| {
            !b.iter().any(|c| *c < b' ')
                && b.first() != Some(&b' ')
                && b.last() != Some(&b' ')
                && !b.windows(2).any(|w| w == b"  ")
                && !(lower && b.iter().any(u8::is_ascii_uppercase))
                && if lower {
                    b.is_ascii()
                } else {
                    !b.iter().any(|c| *c >= 0xc0 && *c != 0xc3)
                }
        };
        let check = |b: &[u8]| {
            for lower in [false, true] {
                assert_eq!(normal_text(b, lower), naive(b, lower), "{b:?} {lower}");
            }
        };
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut b = Vec::new();
                for _ in 0..len {
                    b.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                check(&b);
            }
        }
        for len in 7..=25 {
            for at in 0..len {
                for c in alphabet {
                    let mut b = vec![b'x'; len];
                    b[at] = c;
                    check(&b);
                    if at + 1 < len {
                        b[at + 1] = c;
                        check(&b);
                    }
                }
            }
        }
    }

    #[test]
    fn value_hash_is_stable_and_tells_lengths_apart() {
        // Snapshots store these hashes: they must never change within a
        // snapshot format.
        let pinned = [
            value_hash(""),
            value_hash("Oslo"),
            value_hash("Kunde 7, avd. Øst"),
        ];
        assert_eq!(pinned, PINNED);
        // Zero padding of the last word does not hide a length.
        assert_ne!(value_hash("a"), value_hash("a\0"));
        assert_ne!(value_hash("abcdefgh"), value_hash("abcdefgh\0"));
        // A slice at a time equals a byte at a time, at any offset.
        let text = "Storgata 12345678 B, 0150 Oslo";
        for split in 0..text.len() {
            let mut a = ValueHash::new();
            for b in &text.as_bytes()[..split] {
                a.byte(*b);
            }
            a.slice(&text.as_bytes()[split..]);
            assert_eq!(a.finish(), value_hash(text), "split at {split}");
        }
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors: the hash must never change, or
        // snapshots stored by an older build would stop matching.
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

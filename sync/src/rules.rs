//! Number rules of a connection and kind: what a record number must look like
//! on their side, and the normalized key both sides are matched by.
//!
//! A rule never cuts a number to fit: a number longer than `max_len` after
//! the allowed changes is a violation, because a truncated key would silently
//! point at a different record. The preview tells people in advance which
//! numbers lose leading zeros or fail.

use serde::{Deserialize, Serialize};

use crate::protocol::ValueMapping;
use crate::schema::{Field, Record};

/// The rules their system puts on record numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberRules {
    /// Longest number their side accepts, in characters.
    #[serde(default)]
    pub max_len: Option<u32>,
    /// Their side accepts only the digits 0-9.
    #[serde(default)]
    pub digits_only: bool,
    /// Their side stores numbers as integers, so `00123` becomes `123`.
    #[serde(default)]
    pub strip_leading_zeros: bool,
}

/// Why a number cannot be written to their side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RuleViolation {
    #[error("the number is empty")]
    Empty,
    #[error("the number {number:?} may contain only digits")]
    NotDigits { number: String },
    #[error("the number {number:?} has {len} characters; at most {max} are allowed")]
    TooLong { number: String, len: u32, max: u32 },
}

/// What the rules do to one number, for showing before a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberPreview {
    pub input: String,
    /// The number as their side will hold it, when it is allowed.
    pub result: Option<String>,
    /// The result is shorter than the (trimmed) input.
    pub shortened: bool,
    /// Leading zeros were removed.
    pub zeros_stripped: bool,
    pub error: Option<RuleViolation>,
}

/// `s` without its leading zeros (the rules' key, and `match_key`).
pub(crate) fn strip_zeros(s: &str) -> &str {
    let t = s.trim_start_matches('0');
    if t.is_empty() && !s.is_empty() {
        // "000" is the number zero, not an empty number.
        "0"
    } else {
        t
    }
}

impl NumberRules {
    /// The number as their side will hold it, or why it cannot.
    pub fn apply(&self, number: &str) -> Result<String, RuleViolation> {
        let t = number.trim();
        if t.is_empty() {
            return Err(RuleViolation::Empty);
        }
        if self.digits_only && !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(RuleViolation::NotDigits {
                number: t.to_string(),
            });
        }
        let out = if self.strip_leading_zeros && t.chars().all(|c| c.is_ascii_digit()) {
            strip_zeros(t)
        } else {
            t
        };
        let len = u32::try_from(out.chars().count()).unwrap_or(u32::MAX);
        if let Some(max) = self.max_len
            && len > max
        {
            return Err(RuleViolation::TooLong {
                number: out.to_string(),
                len,
                max,
            });
        }
        Ok(out.to_string())
    }

    /// The key records are matched by, on both sides: trimmed, inner
    /// whitespace removed, ASCII upper-cased, and without leading zeros when
    /// their side strips them (so our `00123` meets their `123`). Never fails;
    /// a number the rules reject still has a key.
    pub fn key(&self, number: &str) -> String {
        let compact: String = number
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if self.strip_leading_zeros && compact.chars().all(|c| c.is_ascii_digit()) {
            strip_zeros(&compact).to_string()
        } else {
            compact
        }
    }

    /// What `apply` does to `number`, spelled out.
    pub fn preview(&self, number: &str) -> NumberPreview {
        let t = number.trim();
        match self.apply(number) {
            Ok(result) => NumberPreview {
                input: number.to_string(),
                shortened: result.chars().count() < t.chars().count(),
                zeros_stripped: result.len() < t.len() && t.starts_with('0'),
                result: Some(result),
                error: None,
            },
            Err(e) => NumberPreview {
                input: number.to_string(),
                result: None,
                shortened: false,
                zeros_stripped: false,
                error: Some(e),
            },
        }
    }
}

/// Whether a value mapping may name `field`: not the number (records are
/// matched by it) nor `active` (a yes/no field, read as one).
pub fn mappable(field: Field) -> bool {
    !matches!(field, Field::Number | Field::Active)
}

/// `value` of `field` with the value mappings laid over it, in their
/// order: wherever their records are read (the server's state, the
/// browser's preview), a value equal to a mapping's `their_value` reads as
/// its `our_value`. Mappings of fields that are not `mappable` are ignored.
pub fn mapped_value<'a>(maps: &'a [ValueMapping], field: Field, value: &'a str) -> &'a str {
    let mut v = value;
    for m in maps {
        if m.field == field && v == m.their_value && mappable(field) {
            v = &m.our_value;
        }
    }
    v
}

/// Lays the value mappings over `records` (their side's), as
/// `mapped_value` reads each value.
pub fn map_values(records: &mut [Record], maps: &[ValueMapping]) {
    let mut fields: Vec<Field> = maps
        .iter()
        .map(|m| m.field)
        .filter(|f| mappable(*f))
        .collect();
    fields.sort();
    fields.dedup();
    if fields.is_empty() {
        return;
    }
    for r in records.iter_mut() {
        for f in &fields {
            let raw = r.get(*f);
            let v = mapped_value(maps, *f, raw);
            if v != raw {
                let v = v.to_string();
                r.set(*f, &v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn rules(max_len: Option<u32>, digits_only: bool, strip: bool) -> NumberRules {
        NumberRules {
            max_len,
            digits_only,
            strip_leading_zeros: strip,
        }
    }

    fn check(r: &NumberRules, cases: &[(&str, Result<&str, &str>)]) {
        for (input, expect) in cases {
            let got = r.apply(input);
            match (expect, &got) {
                (Ok(e), Ok(g)) => assert_eq!(g, e, "{input:?}"),
                (Err(e), Err(g)) => assert!(g.to_string().contains(e), "{input:?}: {g}"),
                _ => panic!("{input:?}: expected {expect:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn applies_rules() {
        check(
            &rules(Some(5), true, true),
            &[
                ("00123", Ok("123")),
                (" 000 ", Ok("0")),
                ("12345", Ok("12345")),
                ("0123456", Err("at most 5")),
                ("12A", Err("only digits")),
                ("", Err("empty")),
            ],
        );
        check(
            &NumberRules::default(),
            &[("00123", Ok("00123")), ("K-17", Ok("K-17"))],
        );
        check(&rules(None, false, true), &[("K-007", Ok("K-007"))]);
    }

    #[test]
    fn keys_meet_across_zero_stripping() {
        let r = rules(None, false, true);
        assert_eq!(r.key("00123"), r.key("123"));
        assert_eq!(r.key(" k 17 "), "K17");
        assert_ne!(NumberRules::default().key("00123"), "123");
    }

    #[test]
    fn preview_tells_what_happens() {
        let r = rules(Some(4), false, true);
        let p = r.preview("00123");
        assert_eq!(p.result.as_deref(), Some("123"));
        assert!(p.shortened && p.zeros_stripped && p.error.is_none());
        let p = r.preview("123456");
        assert!(p.result.is_none() && p.error.is_some());
        let p = r.preview("1234");
        assert!(!p.shortened && !p.zeros_stripped);
    }
}

//! A link's base: the synced fields' values at the last synchronization.
//!
//! A server holds a base per link, a million of them for a large register,
//! and compares every one with its records when the window is built. As a
//! `BTreeMap<Field, String>` a base of ten fields was eleven allocations
//! (a node and a string per value), each read by a pointer of its own. A
//! `Base` keeps its values in one text, in field order, with the end of
//! each value beside it: one allocation, read in one pass. It reads and
//! writes the same JSON object as the map did (`{"name": "Acme", ...}`,
//! keys in field order).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::schema::{ALL_FIELDS, Field, Record};

const FIELDS: usize = ALL_FIELDS.len();
// `Base::known` has a bit per field.
const _: () = assert!(FIELDS <= 16);

/// The values of some fields; a field without a value is unknown (which
/// differs from a known empty value).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Base {
    /// Bit `Field as usize` is set for a field with a value.
    known: u16,
    /// Where each field's value ends in `text` (by `Field as usize`); it
    /// starts where the previous field's ends. A field without a value
    /// ends where the previous one does, so equal bases are equal here.
    ends: [u32; FIELDS],
    text: String,
}

impl Base {
    /// The synced values of a record.
    pub fn of(record: &Record, synced: &[Field]) -> Base {
        Base::from_pairs(synced.iter().map(|f| (*f, record.get(*f))))
    }

    /// From `(field, value)` pairs in any order; of a repeated field the
    /// last value counts.
    pub fn from_pairs<'v>(pairs: impl IntoIterator<Item = (Field, &'v str)>) -> Base {
        let mut values: [Option<&str>; FIELDS] = [None; FIELDS];
        for (f, v) in pairs {
            values[f as usize] = Some(v);
        }
        Base::from_slots(&values)
    }

    fn from_slots(values: &[Option<&str>; FIELDS]) -> Base {
        let mut base = Base {
            text: String::with_capacity(values.iter().flatten().map(|v| v.len()).sum()),
            ..Base::default()
        };
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                base.known |= 1 << i;
                base.text.push_str(v);
            }
            base.ends[i] = u32::try_from(base.text.len()).unwrap_or(u32::MAX);
        }
        base
    }

    /// The value of `field`, if known.
    #[inline]
    pub fn get(&self, field: Field) -> Option<&str> {
        let i = field as usize;
        if self.known & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }

    /// Sets the value of `field`.
    pub fn insert(&mut self, field: Field, value: &str) {
        let mut values = self.slots();
        values[field as usize] = Some(value);
        *self = Base::from_slots(&values);
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        *self = Base::default();
    }

    pub fn is_empty(&self) -> bool {
        self.known == 0
    }

    /// How many fields have a value.
    pub fn len(&self) -> usize {
        self.known.count_ones() as usize
    }

    /// The known values, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, &str)> {
        ALL_FIELDS
            .iter()
            .filter_map(|f| self.get(*f).map(|v| (*f, v)))
    }

    fn slots(&self) -> [Option<&str>; FIELDS] {
        let mut values = [None; FIELDS];
        for (f, v) in self.iter() {
            values[f as usize] = Some(v);
        }
        values
    }
}

impl From<BTreeMap<Field, String>> for Base {
    fn from(map: BTreeMap<Field, String>) -> Base {
        Base::from_pairs(map.iter().map(|(f, v)| (*f, v.as_str())))
    }
}

impl From<&Base> for BTreeMap<Field, String> {
    fn from(base: &Base) -> BTreeMap<Field, String> {
        base.iter().map(|(f, v)| (f, v.to_string())).collect()
    }
}

impl fmt::Debug for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Base {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (f, v) in self.iter() {
            map.serialize_entry(&f, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Base {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Base, D::Error> {
        d.deserialize_map(BaseVisitor)
    }
}

struct BaseVisitor;

impl<'de> Visitor<'de> for BaseVisitor {
    type Value = Base;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of field names and text values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Base, A::Error> {
        // Values are appended to one text as they come. Stored bases come
        // in field order with each field once: that text is the base's.
        let mut text = String::new();
        let mut spans: [Option<(usize, usize)>; FIELDS] = [None; FIELDS];
        let mut in_order = true;
        let mut last: Option<usize> = None;
        while let Some(field) = map.next_key::<Field>()? {
            let i = field as usize;
            in_order &= last.is_none_or(|l| l < i);
            last = Some(i);
            let start = text.len();
            map.next_value_seed(Append(&mut text))?;
            spans[i] = Some((start, text.len()));
        }
        if in_order {
            let mut base = Base::default();
            let mut end = 0;
            for (i, span) in spans.iter().enumerate() {
                if let Some((_, e)) = span {
                    base.known |= 1 << i;
                    end = *e;
                }
                base.ends[i] = u32::try_from(end).unwrap_or(u32::MAX);
            }
            base.text = text;
            return Ok(base);
        }
        let mut values: [Option<&str>; FIELDS] = [None; FIELDS];
        for (v, span) in values.iter_mut().zip(spans) {
            *v = span.and_then(|(s, e)| text.get(s..e));
        }
        Ok(Base::from_slots(&values))
    }
}

/// Deserializes a string by appending it to a text.
struct Append<'t>(&'t mut String);

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Append<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn map(pairs: &[(Field, &str)]) -> BTreeMap<Field, String> {
        pairs.iter().map(|(f, v)| (*f, v.to_string())).collect()
    }

    #[test]
    fn a_base_answers_as_the_map_it_replaces() {
        let cases = [
            map(&[]),
            map(&[(Field::Name, "")]),
            map(&[(Field::Number, "007"), (Field::Active, "true")]),
            map(&[
                (Field::Name, "Acme «Øst»"),
                (Field::City, "Tromsø"),
                (Field::Email, ""),
                (Field::Phone, "+47 22 33 44 55"),
            ]),
        ];
        for m in cases {
            let b = Base::from(m.clone());
            for f in ALL_FIELDS {
                assert_eq!(b.get(*f), m.get(f).map(String::as_str), "{f:?} of {m:?}");
            }
            assert_eq!(b.len(), m.len());
            assert_eq!(b.is_empty(), m.is_empty());
            assert_eq!(BTreeMap::from(&b), m);
            // The same JSON as the map, both ways.
            let json = serde_json::to_string(&m).expect("map to json");
            assert_eq!(serde_json::to_string(&b).expect("base to json"), json);
            assert_eq!(serde_json::from_str::<Base>(&json).expect("json"), b);
            assert_eq!(format!("{b:?}"), format!("{m:?}"));
        }
    }

    #[test]
    fn a_base_read_in_any_order_equals_one_built_in_order() {
        let read: Base = serde_json::from_str(
            r#"{"city": "Oslo", "name": "First", "email": "a\"b@c.no", "name": "Last"}"#,
        )
        .expect("json");
        let built = Base::from(map(&[
            (Field::Name, "Last"),
            (Field::City, "Oslo"),
            (Field::Email, "a\"b@c.no"),
        ]));
        assert_eq!(read, built);
        assert_eq!(read.get(Field::Name), Some("Last"));
        assert!(serde_json::from_str::<Base>(r#"{"name": 1}"#).is_err());
        assert!(serde_json::from_str::<Base>(r#"{"nickname": "x"}"#).is_err());
        assert!(serde_json::from_str::<Base>("[]").is_err());
    }

    #[test]
    fn inserting_and_clearing_keep_one_form() {
        let mut b = Base::from(map(&[(Field::Name, "Acme"), (Field::City, "Oslo")]));
        b.insert(Field::Street, "Storgata 1");
        b.insert(Field::Name, "Acme AS");
        assert_eq!(
            b,
            Base::from(map(&[
                (Field::Name, "Acme AS"),
                (Field::Street, "Storgata 1"),
                (Field::City, "Oslo"),
            ]))
        );
        b.clear();
        assert_eq!(b, Base::default());
        assert_eq!(b.get(Field::Name), None);
    }
}

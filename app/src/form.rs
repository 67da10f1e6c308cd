//! Form logic shared by the register pages, as plain functions: which fields
//! a form has, how a record becomes form values, and how form values become
//! the API's input type. Components only render what these return.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sync::protocol::{ApiError, FieldError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Email,
    Tel,
    /// The `active` flag, a checkbox.
    Active,
    /// A user id or none; a select of users (administrators only).
    User,
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
}

pub const fn text(key: &'static str, label: &'static str, required: bool) -> FieldSpec {
    FieldSpec {
        key,
        label,
        kind: FieldKind::Text,
        required,
    }
}

pub const fn of(key: &'static str, label: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        key,
        label,
        kind,
        required: false,
    }
}

/// Form values by field key; checkboxes are `"true"`/`"false"`, a user select
/// holds the id or `""`.
pub type FormValues = BTreeMap<String, String>;

/// The form values of a record (or of a default input).
pub fn values_of<T: Serialize>(fields: &[FieldSpec], record: &T) -> FormValues {
    let v = serde_json::to_value(record).unwrap_or(Value::Null);
    fields
        .iter()
        .map(|f| {
            let s = match v.get(f.key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ if f.kind == FieldKind::Active => "true".into(),
                _ => String::new(),
            };
            (f.key.to_string(), s)
        })
        .collect()
}

/// The API input from form values, or the problems found on the way.
pub fn input_of<T: DeserializeOwned>(
    fields: &[FieldSpec],
    values: &FormValues,
) -> Result<T, Vec<FieldError>> {
    let mut obj = Map::new();
    let mut errors = Vec::new();
    for f in fields {
        let raw = values.get(f.key).map(String::as_str).unwrap_or("");
        let v = match f.kind {
            FieldKind::Active => Value::Bool(raw == "true"),
            FieldKind::User if raw.is_empty() => Value::Null,
            FieldKind::User => match raw.parse::<i64>() {
                Ok(id) => Value::from(id),
                Err(_) => {
                    errors.push(FieldError::new(f.key, "Choose a user from the list."));
                    Value::Null
                }
            },
            _ => Value::String(raw.to_string()),
        };
        obj.insert(f.key.to_string(), v);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| vec![FieldError::new("form", e.to_string())])
}

/// The message for one field among an error's field list.
pub fn field_message(errors: &[FieldError], key: &str) -> Option<String> {
    errors
        .iter()
        .filter(|e| e.field == key)
        .map(|e| e.message.clone())
        .reduce(|a, b| format!("{a} {b}"))
}

/// Field errors of an API error, with its sentence when there are none.
pub fn split_error(e: ApiError) -> (String, Vec<FieldError>) {
    (e.message, e.fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync::protocol::CustomerInput;

    const FIELDS: &[FieldSpec] = &[
        text("number", "Number", true),
        text("name", "Name", true),
        of("email", "Email", FieldKind::Email),
        of("assigned_user_id", "Assigned user", FieldKind::User),
        of("active", "Active", FieldKind::Active),
    ];

    #[test]
    fn record_round_trips_through_the_form() {
        let c = CustomerInput {
            number: "00042".into(),
            name: "Fjord AS".into(),
            email: "post@fjord.no".into(),
            assigned_user_id: Some(3),
            active: false,
            ..Default::default()
        };
        let values = values_of(FIELDS, &c);
        assert_eq!(values["number"], "00042");
        assert_eq!(values["active"], "false");
        assert_eq!(values["assigned_user_id"], "3");
        let back: CustomerInput = input_of(FIELDS, &values).expect("converts");
        assert_eq!(back, c);
    }

    #[test]
    fn a_bad_user_id_is_a_field_error() {
        let mut values = values_of(FIELDS, &CustomerInput::default());
        values.insert("assigned_user_id".into(), "x".into());
        let errors = input_of::<CustomerInput>(FIELDS, &values).expect_err("refused");
        assert_eq!(
            field_message(&errors, "assigned_user_id").as_deref(),
            Some("Choose a user from the list.")
        );
    }
}

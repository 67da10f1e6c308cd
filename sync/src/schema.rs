//! The record schema: which kinds of record Partnersync keeps in step
//! (customers, employees), their fields, the key, the fields each side
//! requires, and the `Record` that holds one row's raw values.
//!
//! Everything else in the crate names fields through `Field` and finds them in
//! a record by the kind's field list, so adding a field is a change here only.

use serde::{Deserialize, Serialize};

/// The kind of record a synchronization window works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Customer,
    Employee,
}

/// Every field of every kind. The serialized name is the documented
/// Partnersync column header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Number,
    Name,
    FirstName,
    LastName,
    OrganisationNumber,
    Street,
    PostalCode,
    City,
    Country,
    Email,
    Phone,
    ContactPerson,
    SalesRepCode,
    Active,
}

const CUSTOMER_FIELDS: &[Field] = &[
    Field::Number,
    Field::Name,
    Field::OrganisationNumber,
    Field::Street,
    Field::PostalCode,
    Field::City,
    Field::Country,
    Field::Email,
    Field::Phone,
    Field::ContactPerson,
    Field::SalesRepCode,
    Field::Active,
];

const EMPLOYEE_FIELDS: &[Field] = &[
    Field::Number,
    Field::FirstName,
    Field::LastName,
    Field::Email,
    Field::Phone,
    Field::Street,
    Field::PostalCode,
    Field::City,
    Field::Active,
];

const ALL_FIELDS: &[Field] = &[
    Field::Number,
    Field::Name,
    Field::FirstName,
    Field::LastName,
    Field::OrganisationNumber,
    Field::Street,
    Field::PostalCode,
    Field::City,
    Field::Country,
    Field::Email,
    Field::Phone,
    Field::ContactPerson,
    Field::SalesRepCode,
    Field::Active,
];

impl Field {
    /// The documented Partnersync column header of this field.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Number => "number",
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::OrganisationNumber => "organisation_number",
            Field::Street => "street",
            Field::PostalCode => "postal_code",
            Field::City => "city",
            Field::Country => "country",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::ContactPerson => "contact_person",
            Field::SalesRepCode => "sales_rep_code",
            Field::Active => "active",
        }
    }

    /// Parses a documented header (`number`, `first_name`, ...), exactly.
    pub fn parse(s: &str) -> Option<Field> {
        ALL_FIELDS.iter().copied().find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Employee => "employee",
        }
    }

    /// Parses `customer(s)` or `employee(s)`, case-insensitively.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "customer" | "customers" => Some(Kind::Customer),
            "employee" | "employees" => Some(Kind::Employee),
            _ => None,
        }
    }

    /// The fields of this kind, in the documented column order. The key
    /// (`number`) is always first and `active` always last.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Customer => CUSTOMER_FIELDS,
            Kind::Employee => EMPLOYEE_FIELDS,
        }
    }

    /// Position of a field in `fields()`, if the kind has it.
    pub fn index_of(self, field: Field) -> Option<usize> {
        self.fields().iter().position(|f| *f == field)
    }

    /// The fields compared between the sides: all but the key, which links
    /// records rather than being synchronized.
    pub fn synced_fields(self) -> Vec<Field> {
        self.fields()
            .iter()
            .copied()
            .filter(|f| *f != Field::Number)
            .collect()
    }

    /// The fields required on each side unless the connection says otherwise:
    /// the number and the name fields.
    pub fn default_required(self) -> Vec<Field> {
        match self {
            Kind::Customer => vec![Field::Number, Field::Name],
            Kind::Employee => vec![Field::Number, Field::FirstName, Field::LastName],
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side of a synchronization: our back office or their system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Ours,
    Theirs,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Ours => Side::Theirs,
            Side::Theirs => Side::Ours,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Theirs => "theirs",
        }
    }
}

/// The fields each side needs before a record may be written to it.
/// A record missing one of our required fields cannot be imported to us
/// ("No import"); one missing a field they require cannot be exported
/// to them ("No export").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequiredFields {
    pub ours: Vec<Field>,
    pub theirs: Vec<Field>,
}

impl RequiredFields {
    /// The defaults: the number and the name fields on both sides.
    pub fn defaults(kind: Kind) -> RequiredFields {
        RequiredFields {
            ours: kind.default_required(),
            theirs: kind.default_required(),
        }
    }

    pub fn for_side(&self, side: Side) -> &[Field] {
        match side {
            Side::Ours => &self.ours,
            Side::Theirs => &self.theirs,
        }
    }

    /// The fields of `side`'s requirement that `record` leaves empty.
    pub fn missing(&self, side: Side, record: &Record) -> Vec<Field> {
        self.for_side(side)
            .iter()
            .copied()
            .filter(|f| record.get(*f).trim().is_empty())
            .collect()
    }

    /// "No import": the record lacks a field we require.
    pub fn no_import(&self, record: &Record) -> bool {
        self.ours.iter().any(|f| record.get(*f).trim().is_empty())
    }

    /// "No export": the record lacks a field they require.
    pub fn no_export(&self, record: &Record) -> bool {
        self.theirs.iter().any(|f| record.get(*f).trim().is_empty())
    }
}

/// One record of one side: the raw value of every field of its kind (as read,
/// trimmed of nothing, for display and writing), in `kind.fields()` order.
/// `active` is kept canonically as `"true"`/`"false"` in its slot so that the
/// comparison treats it like any other field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub kind: Kind,
    pub values: Vec<String>,
    /// 1-based line of the file the record came from; 0 when it did not come
    /// from a file.
    #[serde(default)]
    pub line: u32,
}

impl Record {
    /// An empty, active record of `kind`.
    pub fn new(kind: Kind) -> Record {
        let mut values = vec![String::new(); kind.fields().len()];
        if let Some(last) = values.last_mut() {
            *last = "true".to_string();
        }
        Record {
            kind,
            values,
            line: 0,
        }
    }

    /// Builds a record from `(field, value)` pairs; fields the kind lacks are
    /// ignored and `active` defaults to true.
    pub fn from_pairs(kind: Kind, pairs: &[(Field, &str)]) -> Record {
        let mut r = Record::new(kind);
        for (f, v) in pairs {
            r.set(*f, v);
        }
        r
    }

    /// The raw value of `field`, or `""` when the kind lacks it.
    pub fn get(&self, field: Field) -> &str {
        self.kind
            .index_of(field)
            .and_then(|i| self.values.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Sets `field`'s raw value; a field the kind lacks is ignored.
    /// `active` is stored canonically (anything that does not parse as a
    /// yes/no keeps the record active).
    pub fn set(&mut self, field: Field, value: &str) {
        let Some(i) = self.kind.index_of(field) else {
            return;
        };
        let v = if field == Field::Active {
            crate::read::mapping::parse_active(value)
                .unwrap_or(true)
                .to_string()
        } else {
            value.to_string()
        };
        if let Some(slot) = self.values.get_mut(i) {
            *slot = v;
        }
    }

    pub fn number(&self) -> &str {
        self.get(Field::Number)
    }

    pub fn active(&self) -> bool {
        self.get(Field::Active) != "false"
    }

    pub fn set_active(&mut self, active: bool) {
        self.set(Field::Active, if active { "true" } else { "false" });
    }

    /// The name people see: the customer's name, or an employee's first and
    /// last name.
    pub fn display_name(&self) -> String {
        match self.kind {
            Kind::Customer => self.get(Field::Name).trim().to_string(),
            Kind::Employee => {
                let first = self.get(Field::FirstName).trim();
                let last = self.get(Field::LastName).trim();
                match (first.is_empty(), last.is_empty()) {
                    (false, false) => format!("{first} {last}"),
                    (false, true) => first.to_string(),
                    _ => last.to_string(),
                }
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

    #[test]
    fn fields_start_with_number_and_end_with_active() {
        for kind in [Kind::Customer, Kind::Employee] {
            assert_eq!(kind.fields().first(), Some(&Field::Number));
            assert_eq!(kind.fields().last(), Some(&Field::Active));
            for f in kind.fields() {
                assert_eq!(Field::parse(f.as_str()), Some(*f));
            }
        }
        assert_eq!(Kind::Customer.fields().len(), 12);
        assert_eq!(Kind::Employee.fields().len(), 9);
    }

    #[test]
    fn required_fields_flag_no_import_and_no_export() {
        let req = RequiredFields {
            ours: vec![Field::Number, Field::Name],
            theirs: vec![Field::Number, Field::Name, Field::Email],
        };
        let ok = Record::from_pairs(
            Kind::Customer,
            &[
                (Field::Number, "1"),
                (Field::Name, "A"),
                (Field::Email, "a@b.no"),
            ],
        );
        let no_email =
            Record::from_pairs(Kind::Customer, &[(Field::Number, "1"), (Field::Name, "A")]);
        let no_name =
            Record::from_pairs(Kind::Customer, &[(Field::Number, "1"), (Field::Name, " ")]);
        let check = |r: &Record, imp: bool, exp: bool| {
            assert_eq!((req.no_import(r), req.no_export(r)), (imp, exp), "{r:?}");
        };
        check(&ok, false, false);
        check(&no_email, false, true);
        check(&no_name, true, true);
    }

    #[test]
    fn employee_display_name_joins_first_and_last() {
        let e = Record::from_pairs(
            Kind::Employee,
            &[(Field::FirstName, "Kari"), (Field::LastName, "Nordmann")],
        );
        assert_eq!(e.display_name(), "Kari Nordmann");
        assert!(e.active());
        let mut e = e;
        e.set(Field::Active, "nei");
        assert!(!e.active());
        assert_eq!(e.get(Field::Name), "");
    }
}

//! Which column holds which field: the documented Partnersync headers, the
//! aliases real exports use (English and Nordic), and the yes/no words of the
//! `active` column.
//!
//! Headers match after folding case and dropping spaces, dots, underscores and
//! hyphens, so "Org.nr", "org_nr" and "ORG NR" are one header.

use crate::schema::{Field, Kind};

/// Folds a header for matching: lower case without spaces, dots,
/// underscores, hyphens or a byte-order mark.
pub fn fold_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '_' | '-' | '\u{feff}' | ':'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Aliases common to both kinds, already folded.
const SHARED: &[(&str, Field)] = &[
    ("street", Field::Street),
    ("address", Field::Street),
    ("streetaddress", Field::Street),
    ("address1", Field::Street),
    ("adresse", Field::Street),
    ("adresse1", Field::Street),
    ("adress", Field::Street),
    ("gateadresse", Field::Street),
    ("gatuadress", Field::Street),
    ("postadresse", Field::Street),
    ("postadress", Field::Street),
    ("osoite", Field::Street),
    ("katuosoite", Field::Street),
    ("postalcode", Field::PostalCode),
    ("postcode", Field::PostalCode),
    ("postnummer", Field::PostalCode),
    ("postnr", Field::PostalCode),
    ("zip", Field::PostalCode),
    ("zipcode", Field::PostalCode),
    ("postinumero", Field::PostalCode),
    ("city", Field::City),
    ("town", Field::City),
    ("poststed", Field::City),
    ("ort", Field::City),
    ("postort", Field::City),
    ("by", Field::City),
    ("postitoimipaikka", Field::City),
    ("kaupunki", Field::City),
    ("email", Field::Email),
    ("emailaddress", Field::Email),
    ("mail", Field::Email),
    ("epost", Field::Email),
    ("epostadresse", Field::Email),
    ("epostadress", Field::Email),
    ("sähköposti", Field::Email),
    ("phone", Field::Phone),
    ("phonenumber", Field::Phone),
    ("telephone", Field::Phone),
    ("tel", Field::Phone),
    ("tlf", Field::Phone),
    ("telefon", Field::Phone),
    ("telefonnummer", Field::Phone),
    ("mobile", Field::Phone),
    ("mobil", Field::Phone),
    ("puhelin", Field::Phone),
    ("puhelinnumero", Field::Phone),
    ("active", Field::Active),
    ("aktiv", Field::Active),
    ("aktiivinen", Field::Active),
    ("enabled", Field::Active),
];

const CUSTOMER: &[(&str, Field)] = &[
    ("number", Field::Number),
    ("no", Field::Number),
    ("nr", Field::Number),
    ("customernumber", Field::Number),
    ("customerno", Field::Number),
    ("customernr", Field::Number),
    ("customerid", Field::Number),
    ("accountnumber", Field::Number),
    ("kundenummer", Field::Number),
    ("kundenr", Field::Number),
    ("kundnummer", Field::Number),
    ("kundnr", Field::Number),
    ("asiakasnumero", Field::Number),
    ("asiakasnro", Field::Number),
    ("name", Field::Name),
    ("customername", Field::Name),
    ("companyname", Field::Name),
    ("navn", Field::Name),
    ("kundenavn", Field::Name),
    ("firmanavn", Field::Name),
    ("namn", Field::Name),
    ("kundnamn", Field::Name),
    ("företagsnamn", Field::Name),
    ("nimi", Field::Name),
    ("asiakkaannimi", Field::Name),
    ("organisationnumber", Field::OrganisationNumber),
    ("organizationnumber", Field::OrganisationNumber),
    ("orgnr", Field::OrganisationNumber),
    ("orgno", Field::OrganisationNumber),
    ("organisasjonsnummer", Field::OrganisationNumber),
    ("organisasjonsnr", Field::OrganisationNumber),
    ("organisationsnummer", Field::OrganisationNumber),
    ("vat", Field::OrganisationNumber),
    ("vatnumber", Field::OrganisationNumber),
    ("vatno", Field::OrganisationNumber),
    ("mvanummer", Field::OrganisationNumber),
    ("ytunnus", Field::OrganisationNumber),
    ("cvr", Field::OrganisationNumber),
    ("cvrnr", Field::OrganisationNumber),
    ("country", Field::Country),
    ("countrycode", Field::Country),
    ("land", Field::Country),
    ("landkode", Field::Country),
    ("maa", Field::Country),
    ("contactperson", Field::ContactPerson),
    ("contact", Field::ContactPerson),
    ("kontaktperson", Field::ContactPerson),
    ("kontakt", Field::ContactPerson),
    ("yhteyshenkilö", Field::ContactPerson),
    ("salesrepcode", Field::SalesRepCode),
    ("salesrep", Field::SalesRepCode),
    ("seller", Field::SalesRepCode),
    ("selger", Field::SalesRepCode),
    ("selgerkode", Field::SalesRepCode),
    ("säljare", Field::SalesRepCode),
    ("säljarkod", Field::SalesRepCode),
    ("sælger", Field::SalesRepCode),
    ("myyjä", Field::SalesRepCode),
];

const EMPLOYEE: &[(&str, Field)] = &[
    ("number", Field::Number),
    ("no", Field::Number),
    ("nr", Field::Number),
    ("employeenumber", Field::Number),
    ("employeeno", Field::Number),
    ("employeenr", Field::Number),
    ("employeeid", Field::Number),
    ("ansattnummer", Field::Number),
    ("ansattnr", Field::Number),
    ("anställningsnummer", Field::Number),
    ("anställningsnr", Field::Number),
    ("anstallningsnummer", Field::Number),
    ("medarbejdernummer", Field::Number),
    ("työntekijänumero", Field::Number),
    ("henkilönumero", Field::Number),
    ("firstname", Field::FirstName),
    ("givenname", Field::FirstName),
    ("fornavn", Field::FirstName),
    ("förnamn", Field::FirstName),
    ("etunimi", Field::FirstName),
    ("lastname", Field::LastName),
    ("surname", Field::LastName),
    ("familyname", Field::LastName),
    ("etternavn", Field::LastName),
    ("efternavn", Field::LastName),
    ("efternamn", Field::LastName),
    ("sukunimi", Field::LastName),
];

/// The field a header names for `kind`: the documented name first, then the
/// aliases. `None` when the header names nothing we know.
pub fn field_for_header(kind: Kind, header: &str) -> Option<Field> {
    let folded = fold_header(header);
    if folded.is_empty() {
        return None;
    }
    let documented = kind
        .fields()
        .iter()
        .copied()
        .find(|f| fold_header(f.as_str()) == folded);
    if documented.is_some() {
        return documented;
    }
    let specific = match kind {
        Kind::Customer => CUSTOMER,
        Kind::Employee => EMPLOYEE,
    };
    specific
        .iter()
        .chain(SHARED.iter())
        .find(|(alias, _)| *alias == folded)
        .map(|(_, f)| *f)
        .filter(|f| kind.index_of(*f).is_some())
}

/// Parses an `active` cell. An empty cell is `false`, as an unticked box in
/// a column of `x` marks; the reader ignores an `active` column that is empty
/// in every row. Anything unrecognized is `None` (a row error).
pub fn parse_active(s: &str) -> Option<bool> {
    // What nearly every row of a file holds, answered without folding.
    match s {
        "Ja" | "ja" | "Yes" | "yes" | "1" | "true" | "x" | "X" => return Some(true),
        "Nei" | "nei" | "Nej" | "nej" | "No" | "no" | "0" | "false" | "" => return Some(false),
        _ => {}
    }
    let t = super::trim(s);
    // The common words are short ASCII: fold them without allocating.
    let mut buf = [0u8; 8];
    let lower: String;
    let folded: &str = if t.is_ascii() && t.len() <= buf.len() {
        let b = &mut buf[..t.len()];
        b.copy_from_slice(t.as_bytes());
        b.make_ascii_lowercase();
        // Lower-cased ASCII is still valid UTF-8.
        std::str::from_utf8(b).unwrap_or("")
    } else {
        lower = t.to_lowercase();
        &lower
    };
    match folded {
        "yes" | "y" | "ja" | "j" | "kyllä" | "k" | "true" | "t" | "1" | "x" | "aktiv"
        | "active" | "on" => Some(true),
        "no" | "n" | "nei" | "nej" | "ei" | "false" | "f" | "0" | "" | "inaktiv" | "inactive"
        | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn headers_map_to_fields() {
        let cases: &[(Kind, &str, Option<Field>)] = &[
            (Kind::Customer, "Customer number", Some(Field::Number)),
            (Kind::Customer, "Customer no.", Some(Field::Number)),
            (Kind::Customer, "Kundenummer", Some(Field::Number)),
            (Kind::Customer, "KUNDNUMMER", Some(Field::Number)),
            (Kind::Customer, "Kundenr", Some(Field::Number)),
            (Kind::Customer, "Asiakasnumero", Some(Field::Number)),
            (Kind::Customer, "Navn", Some(Field::Name)),
            (Kind::Customer, "Namn", Some(Field::Name)),
            (Kind::Customer, "Nimi", Some(Field::Name)),
            (Kind::Customer, "Gateadresse", Some(Field::Street)),
            (Kind::Customer, "Adress", Some(Field::Street)),
            (Kind::Customer, "Post-nr", Some(Field::PostalCode)),
            (Kind::Customer, "Postal code", Some(Field::PostalCode)),
            (Kind::Customer, "Poststed", Some(Field::City)),
            (Kind::Customer, "Ort", Some(Field::City)),
            (Kind::Customer, "E-post", Some(Field::Email)),
            (Kind::Customer, "Sähköposti", Some(Field::Email)),
            (Kind::Customer, "Puhelin", Some(Field::Phone)),
            (Kind::Customer, "Org.nr", Some(Field::OrganisationNumber)),
            (
                Kind::Customer,
                "Organisationsnummer",
                Some(Field::OrganisationNumber),
            ),
            (Kind::Customer, "VAT", Some(Field::OrganisationNumber)),
            (Kind::Customer, "Säljare", Some(Field::SalesRepCode)),
            (Kind::Customer, "Sales rep", Some(Field::SalesRepCode)),
            (Kind::Customer, "sales_rep_code", Some(Field::SalesRepCode)),
            (Kind::Customer, "Aktiv", Some(Field::Active)),
            (Kind::Customer, "Fornavn", None),
            (Kind::Customer, "Kommentar", None),
            (Kind::Employee, "Ansattnummer", Some(Field::Number)),
            (Kind::Employee, "Anställningsnummer", Some(Field::Number)),
            (Kind::Employee, "Employee number", Some(Field::Number)),
            (Kind::Employee, "Förnamn", Some(Field::FirstName)),
            (Kind::Employee, "First name", Some(Field::FirstName)),
            (Kind::Employee, "Etternavn", Some(Field::LastName)),
            (Kind::Employee, "Efternamn", Some(Field::LastName)),
            (Kind::Employee, "Last_name", Some(Field::LastName)),
            (Kind::Employee, "Navn", None),
            (Kind::Employee, "Org.nr", None),
        ];
        for (kind, header, expect) in cases {
            assert_eq!(
                field_for_header(*kind, header),
                *expect,
                "{kind} {header:?}"
            );
        }
    }

    #[test]
    fn active_words_parse() {
        for yes in ["yes", "Ja", "JA", "kyllä", "true", "1", "x", "X"] {
            assert_eq!(parse_active(yes), Some(true), "{yes}");
        }
        for no in ["no", "nei", "Nej", "ei", "false", "0", "", "  "] {
            assert_eq!(parse_active(no), Some(false), "{no}");
        }
        for bad in ["maybe", "2", "ja!"] {
            assert_eq!(parse_active(bad), None, "{bad}");
        }
    }
}

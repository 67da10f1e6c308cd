//! The generated customer file both benches read; generated, never committed.

/// Rows to generate: `PARSE_ROWS`, or 100,000.
pub fn rows() -> usize {
    std::env::var("PARSE_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// A semicolon export with Nordic headers and a quoted field now and then.
pub fn customer_file(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 90);
    s.push_str("Kundenummer;Navn;Org.nr;Gateadresse;Postnr;Poststed;E-post;Telefon;Aktiv\r\n");
    for i in 0..n {
        let name = if i % 17 == 0 {
            format!("\"Kunde {i}; avd. Øst\"")
        } else {
            format!("Kunde {i} AS")
        };
        s.push_str(&format!(
            "{:07};{name};9{:08};Storgata {};{:04};Tromsø;post{i}@kunde.no;+47 {:08};Ja\r\n",
            i,
            i,
            i % 200,
            i % 9000,
            i
        ));
    }
    s.into_bytes()
}

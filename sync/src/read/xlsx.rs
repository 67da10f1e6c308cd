//! XLSX files: a zip-bomb guard, then calamine.
//!
//! calamine inflates entries itself and offers no cap, so before it sees the
//! bytes this module reads the zip central directory (entry count, declared
//! sizes, compression ratios) and inflates every entry once into a counter
//! through `Read::take`, because declared sizes can lie. Only a file that
//! passes is handed to calamine, whose own inflation is then bounded by what
//! was measured. Cells become text the way people typed them: a text `00123`
//! stays `00123`, a number 123 is `123` (not `123.0`), 1.5 stays `1.5`, and a
//! date is an ISO date.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};

use super::{Builder, Format, Limits, ReadError, ReadOptions, ReadOutput, RecordSink};
use crate::schema::Kind;

/// Entries smaller than this are not ratio-checked: tiny XML parts compress
/// extremely well and are harmless.
const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// Checks a zip archive against the limits without keeping anything it
/// inflates. Returns the total bytes actually inflated.
pub fn check_zip(bytes: &[u8], limits: &Limits) -> Result<u64, ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Xlsx(format!("not a valid xlsx (zip) file: {e}")))?;
    let entries = archive.len();
    if entries as u64 > u64::from(limits.max_zip_entries) {
        return Err(ReadError::ZipLimit(format!(
            "{entries} entries; at most {} are allowed",
            limits.max_zip_entries
        )));
    }
    // Declared sizes first: cheap, and catches honest bombs before any work.
    let mut declared_total: u64 = 0;
    for i in 0..entries {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| ReadError::Xlsx(format!("damaged zip entry {i}: {e}")))?;
        let size = f.size();
        declared_total = declared_total.saturating_add(size);
        check_ratio(&entry_name(&f, i), size, f.compressed_size(), limits)?;
    }
    if declared_total > limits.max_uncompressed_bytes {
        return Err(ReadError::ZipLimit(format!(
            "the entries declare {declared_total} bytes uncompressed; at most {} are allowed",
            limits.max_uncompressed_bytes
        )));
    }
    // Then the real thing: inflate each entry into a counter, never past the
    // remaining budget plus one byte (the byte that proves the overrun).
    let mut actual_total: u64 = 0;
    let mut sink = [0u8; 16 * 1024];
    for i in 0..entries {
        let mut f = archive
            .by_index(i)
            .map_err(|e| ReadError::Xlsx(format!("damaged zip entry {i}: {e}")))?;
        let name = entry_name(&f, i);
        let declared = f.size();
        let compressed = f.compressed_size();
        let budget =
            limits.max_uncompressed_bytes - actual_total.min(limits.max_uncompressed_bytes);
        let cap = budget.min(declared);
        let mut limited = (&mut f).take(cap.saturating_add(1));
        let mut produced: u64 = 0;
        loop {
            let n = limited
                .read(&mut sink)
                .map_err(|e| ReadError::Xlsx(format!("damaged zip entry {name:?}: {e}")))?;
            if n == 0 {
                break;
            }
            produced += n as u64;
        }
        if produced > cap {
            return Err(ReadError::ZipLimit(if produced > declared {
                format!("entry {name:?} inflates to more than its declared {declared} bytes")
            } else {
                format!(
                    "the entries inflate to more than {} bytes",
                    limits.max_uncompressed_bytes
                )
            }));
        }
        check_ratio(&name, produced, compressed, limits)?;
        actual_total += produced;
    }
    Ok(actual_total)
}

/// An entry's name for messages; a name that does not decode is shown by
/// its index.
fn entry_name<R: Read>(f: &zip::read::ZipFile<'_, R>, i: usize) -> String {
    f.name()
        .map(|n| n.into_owned())
        .unwrap_or_else(|_| format!("#{i}"))
}

fn check_ratio(name: &str, size: u64, compressed: u64, limits: &Limits) -> Result<(), ReadError> {
    if size < RATIO_FLOOR_BYTES {
        return Ok(());
    }
    let ratio = size / compressed.max(1);
    if ratio > u64::from(limits.max_compression_ratio) {
        return Err(ReadError::ZipLimit(format!(
            "entry {name:?} is compressed {ratio}:1; at most {}:1 is allowed",
            limits.max_compression_ratio
        )));
    }
    Ok(())
}

/// A cell as text. Numbers lose a trailing `.0`, dates become ISO dates
/// (with the time when there is one), booleans `true`/`false`.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => float_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            if dt.is_duration() {
                float_text(dt.as_f64())
            } else if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Whole floats print as integers (a customer number 123 is "123"); others
/// use Rust's shortest round-trip form, so 1.5 is "1.5".
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Reads an xlsx file.
pub fn read_xlsx<S: RecordSink>(
    bytes: &[u8],
    kind: Kind,
    options: &ReadOptions,
    sink: S,
) -> Result<(ReadOutput, S), ReadError> {
    check_zip(bytes, &options.limits)?;
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| ReadError::Xlsx(e.to_string()))?;
    let sheets = book.sheet_names();
    let sheet = match &options.sheet {
        Some(s) => sheets
            .iter()
            .find(|n| n.as_str() == s.as_str())
            .or_else(|| sheets.iter().find(|n| n.eq_ignore_ascii_case(s)))
            .cloned()
            .ok_or_else(|| ReadError::NoSuchSheet(s.clone()))?,
        None => sheets
            .first()
            .cloned()
            .ok_or_else(|| ReadError::Xlsx("the workbook has no sheets".to_string()))?,
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| ReadError::Xlsx(e.to_string()))?;

    let mut builder = Builder::new(kind, Format::Xlsx, options, sink);
    {
        let out = builder.output_mut();
        out.sheet = Some(sheet);
        out.sheets = sheets;
    }
    let (row0, col0) = range.start().unwrap_or((0, 0));
    // Column indices are the sheet's own (A = 0), so a mapping by index means
    // the same column people see in Excel.
    let pad = col0 as usize;
    for (i, row) in range.rows().enumerate() {
        let line = row0
            .saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
            .saturating_add(1);
        let mut cells = Vec::with_capacity(pad + row.len());
        cells.resize(pad, String::new());
        cells.extend(row.iter().map(cell_text));
        let borrowed: Vec<&str> = cells.iter().map(String::as_str).collect();
        builder.push(line, &borrowed[..])?;
    }
    builder.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::read::read;
    use crate::schema::Field;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    /// One cell of a hand-written sheet.
    pub(crate) enum Cell<'a> {
        Text(&'a str),
        Num(&'a str),
        /// A serial date with the built-in date format 14.
        Date(&'a str),
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    fn col_name(mut i: usize) -> String {
        let mut s = String::new();
        loop {
            s.insert(0, (b'A' + (i % 26) as u8) as char);
            if i < 26 {
                break;
            }
            i = i / 26 - 1;
        }
        s
    }

    /// A minimal OOXML workbook written by hand: inline strings, a styles
    /// part with a date format, one or more sheets.
    pub(crate) fn xlsx(sheets: &[(&str, Vec<Vec<Cell>>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut put = |name: &str, body: String| {
            zip.start_file(name, opts).expect("start");
            zip.write_all(body.as_bytes()).expect("write");
        };
        let mut overrides = String::new();
        let mut sheet_list = String::new();
        let mut rels = String::new();
        for (i, (name, _)) in sheets.iter().enumerate() {
            let n = i + 1;
            overrides.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
            sheet_list.push_str(&format!(
                r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#,
                escape(name)
            ));
            rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
        }
        let styles_id = sheets.len() + 1;
        rels.push_str(&format!(r#"<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>"#));
        put(
            "[Content_Types].xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{overrides}</Types>"#
            ),
        );
        put("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string());
        put(
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheet_list}</sheets></workbook>"#
            ),
        );
        put(
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
            ),
        );
        put("xl/styles.xml", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" xfId="0"/><xf numFmtId="14" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_string());
        for (i, (_, rows)) in sheets.iter().enumerate() {
            let mut data = String::new();
            for (r, row) in rows.iter().enumerate() {
                data.push_str(&format!(r#"<row r="{}">"#, r + 1));
                for (c, cell) in row.iter().enumerate() {
                    let at = format!("{}{}", col_name(c), r + 1);
                    match cell {
                        Cell::Text(t) => data.push_str(&format!(
                            r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#,
                            escape(t)
                        )),
                        Cell::Num(n) => data.push_str(&format!(r#"<c r="{at}"><v>{n}</v></c>"#)),
                        Cell::Date(n) => {
                            data.push_str(&format!(r#"<c r="{at}" s="1"><v>{n}</v></c>"#))
                        }
                    }
                }
                data.push_str("</row>");
            }
            put(
                &format!("xl/worksheets/sheet{}.xml", i + 1),
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>"#
                ),
            );
        }
        zip.finish().expect("finish").into_inner()
    }

    fn customers() -> Vec<u8> {
        use Cell::*;
        xlsx(&[
            ("Notes", vec![vec![Text("nothing here")]]),
            (
                "Kunder",
                vec![
                    vec![
                        Text("Kundenummer"),
                        Text("Navn"),
                        Text("Postnr"),
                        Text("Kommentar"),
                        Text("Aktiv"),
                    ],
                    vec![
                        Text("00123"),
                        Text("Blåbær AS"),
                        Text("0150"),
                        Num("1.5"),
                        Text("Ja"),
                    ],
                    vec![
                        Num("123"),
                        Text("Tall & Co"),
                        Num("150"),
                        Date("45943"),
                        Num("0"),
                    ],
                    vec![],
                    vec![
                        Text("00125"),
                        Text("Bad"),
                        Text(""),
                        Text(""),
                        Text("kanskje"),
                    ],
                ],
            ),
        ])
    }

    #[test]
    fn xlsx_keeps_text_numbers_and_formats_cells() {
        let bytes = customers();
        let options = ReadOptions {
            sheet: Some("kunder".into()),
            keep_rows: true,
            ..Default::default()
        };
        let out = match read(&bytes, Some("kunder.xlsx"), Kind::Customer, &options) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(out.format, Format::Xlsx);
        assert_eq!(out.sheet.as_deref(), Some("Kunder"));
        assert_eq!(out.sheets, vec!["Notes".to_string(), "Kunder".to_string()]);
        let numbers: Vec<&str> = out.records.iter().map(|r| r.number()).collect();
        assert_eq!(numbers, vec!["00123", "123"]);
        assert_eq!(out.records[1].get(Field::PostalCode), "150");
        assert!(out.records[0].active() && !out.records[1].active());
        let rows = out.rows.clone().unwrap_or_default();
        assert_eq!(rows[1].cells[3], "1.5");
        assert_eq!(rows[2].cells[3], "2025-10-13");
        assert_eq!(out.blank_rows, 1);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].line, 5);
        assert_eq!(out.unmapped.len(), 1);

        // The first sheet by default, and a sheet that does not exist.
        let first = read(&bytes, None, Kind::Customer, &ReadOptions::default());
        assert!(matches!(first, Ok(o) if o.sheet.as_deref() == Some("Notes") && !o.has_header));
        let options = ReadOptions {
            sheet: Some("Nope".into()),
            ..Default::default()
        };
        assert_eq!(
            read(&bytes, None, Kind::Customer, &options),
            Err(ReadError::NoSuchSheet("Nope".into()))
        );
    }

    fn bomb(uncompressed: usize) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        zip.start_file("xl/worksheets/sheet1.xml", opts)
            .expect("start");
        let zeros = vec![0u8; 1024 * 1024];
        let mut left = uncompressed;
        while left > 0 {
            let n = left.min(zeros.len());
            zip.write_all(&zeros[..n]).expect("write");
            left -= n;
        }
        zip.finish().expect("finish").into_inner()
    }

    #[test]
    fn zip_bomb_is_refused_before_inflating() {
        let bytes = bomb(16 * 1024 * 1024);
        assert!(bytes.len() < 1024 * 1024, "{}", bytes.len());
        let err = read(&bytes, None, Kind::Customer, &ReadOptions::default());
        match err {
            Err(ReadError::ZipLimit(m)) => assert!(m.contains(":1"), "{m}"),
            other => panic!("{other:?}"),
        }
        // With the ratio check relaxed, the size budget still holds.
        let mut options = ReadOptions::default();
        options.limits.max_compression_ratio = u32::MAX;
        options.limits.max_uncompressed_bytes = 8 * 1024 * 1024;
        match read(&bytes, None, Kind::Customer, &options) {
            Err(ReadError::ZipLimit(m)) => assert!(m.contains("declare"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lying_declared_sizes_are_caught_while_inflating() {
        let mut bytes = bomb(4 * 1024 * 1024);
        // Patch the declared uncompressed size (central directory and local
        // header) down to 1000 bytes: the inflater must notice the lie.
        let patch = |bytes: &mut Vec<u8>, sig: &[u8], off: usize| {
            let mut i = 0;
            while let Some(p) = bytes[i..].windows(4).position(|w| w == sig) {
                let at = i + p + off;
                bytes[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
                i = i + p + 4;
            }
        };
        patch(&mut bytes, b"PK\x01\x02", 24);
        patch(&mut bytes, b"PK\x03\x04", 22);
        let mut options = ReadOptions::default();
        options.limits.max_compression_ratio = u32::MAX;
        match read(&bytes, None, Kind::Customer, &options) {
            Err(ReadError::ZipLimit(m)) => assert!(m.contains("declared"), "{m}"),
            Err(ReadError::Xlsx(m)) => assert!(!m.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let good = customers();
        for cut in [4usize, 30, good.len() / 2, good.len() - 10] {
            let r = read(
                &good[..cut],
                Some("x.xlsx"),
                Kind::Customer,
                &ReadOptions::default(),
            );
            assert!(r.is_err(), "cut at {cut}");
        }
        let r = read(
            b"PK\x03\x04garbage",
            None,
            Kind::Customer,
            &ReadOptions::default(),
        );
        assert!(matches!(r, Err(ReadError::Xlsx(_))));
    }

    #[test]
    fn employee_sheet_with_offset_columns() {
        use Cell::*;
        let bytes = xlsx(&[(
            "Ansatte",
            vec![
                vec![
                    Text("Anställningsnummer"),
                    Text("Förnamn"),
                    Text("Efternamn"),
                    Text("Aktiv"),
                ],
                vec![Text("0042"), Text("Åsa"), Text("Öberg"), Text("x")],
                vec![Num("43"), Text("Kari"), Text("Nordmann"), Text("")],
            ],
        )]);
        let out = match read(
            &bytes,
            Some("ansatte.xlsx"),
            Kind::Employee,
            &ReadOptions::default(),
        ) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        let got: Vec<(String, String, bool)> = out
            .records
            .iter()
            .map(|r| (r.number().to_string(), r.display_name(), r.active()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("0042".to_string(), "Åsa Öberg".to_string(), true),
                ("43".to_string(), "Kari Nordmann".to_string(), false),
            ]
        );
    }

    #[test]
    fn cell_text_forms() {
        let cases = [
            (Data::Float(123.0), "123"),
            (Data::Float(1.5), "1.5"),
            (Data::Float(-0.25), "-0.25"),
            (Data::Int(7), "7"),
            (Data::String("00123".into()), "00123"),
            (Data::Bool(true), "true"),
            (Data::Empty, ""),
        ];
        for (cell, expect) in cases {
            assert_eq!(cell_text(&cell), expect, "{cell:?}");
        }
    }
}

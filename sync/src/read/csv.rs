//! CSV files: the encoding (UTF-8 with or without BOM, UTF-16 with a BOM or
//! by its zero bytes, otherwise Windows-1252 as Excel writes it), the
//! delimiter (`,` `;` tab `|`, or Excel's `sep=` line), and RFC 4180 quoting
//! with quoted newlines through the `csv` crate.
//!
//! The whole file is decoded to UTF-8 once and then parsed as bytes, so the
//! line numbers the `csv` crate reports are lines of the file as people see it.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::{Builder, Cells, Format, ReadError, ReadOptions, ReadOutput};
use crate::schema::Kind;

/// Delimiters tried, in order of preference on a tie: Nordic Excel writes
/// `;`, most other tools `,`.
const CANDIDATES: [u8; 4] = [b';', b',', b'\t', b'|'];

/// How much of the file the delimiter guess looks at.
const SNIFF_BYTES: usize = 64 * 1024;
const SNIFF_ROWS: usize = 50;

/// Picks the encoding: the caller's label, a BOM, UTF-16 by its zero bytes,
/// UTF-8 if the bytes are valid UTF-8, else Windows-1252.
pub fn detect_encoding(
    bytes: &[u8],
    label: Option<&str>,
) -> Result<(&'static Encoding, usize), ReadError> {
    if let Some(label) = label {
        let enc = Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| ReadError::UnknownEncoding(label.to_string()))?;
        // A BOM of the named encoding is still not content.
        let bom = match Encoding::for_bom(bytes) {
            Some((e, n)) if e == enc => n,
            _ => 0,
        };
        return Ok((enc, bom));
    }
    if let Some((enc, n)) = Encoding::for_bom(bytes) {
        return Ok((enc, n));
    }
    // UTF-16 without a BOM: ASCII text has a zero in every other byte.
    let sample = &bytes[..bytes.len().min(4096)];
    if sample.len() >= 4 {
        let pairs = sample.len() / 2;
        let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_zero = sample
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|b| **b == 0)
            .count();
        if odd_zero * 10 >= pairs * 7 && even_zero * 10 < pairs {
            return Ok((UTF_16LE, 0));
        }
        if even_zero * 10 >= pairs * 7 && odd_zero * 10 < pairs {
            return Ok((UTF_16BE, 0));
        }
    }
    if std::str::from_utf8(bytes).is_ok() {
        Ok((UTF_8, 0))
    } else {
        Ok((WINDOWS_1252, 0))
    }
}

/// Decodes the file to text with the detected or named encoding.
pub fn decode<'a>(
    bytes: &'a [u8],
    label: Option<&str>,
) -> Result<(Cow<'a, str>, &'static Encoding), ReadError> {
    let (enc, bom) = detect_encoding(bytes, label)?;
    let body = &bytes[bom..];
    // Malformed sequences become U+FFFD rather than failing the file: the
    // rows they are in will show it, and the rest is still readable.
    let (text, _had_errors) = enc.decode_without_bom_handling(body);
    Ok((text, enc))
}

/// Guesses the delimiter from the first rows: the candidate that splits the
/// most rows into the same number (at least two) of columns as the first row.
pub fn sniff_delimiter(text: &[u8]) -> u8 {
    let truncated = text.len() > SNIFF_BYTES;
    let sample = &text[..text.len().min(SNIFF_BYTES)];
    let mut best: (usize, usize, u8) = (0, 0, b',');
    for d in CANDIDATES {
        let mut rdr = ::csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut counts: Vec<usize> = Vec::new();
        let mut rec = ::csv::ByteRecord::new();
        while counts.len() < SNIFF_ROWS {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => {
                    if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    counts.push(rec.len());
                }
                _ => break,
            }
        }
        if truncated && counts.len() > 1 {
            // The last row of a cut sample may be cut too.
            counts.pop();
        }
        let Some(first) = counts.first().copied() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let consistent = counts.iter().filter(|c| **c == first).count();
        if (consistent, first) > (best.0, best.1) {
            best = (consistent, first, d);
        }
    }
    best.2
}

/// One CSV record as the builder sees it: cells are slices of the record's
/// joined text.
struct Row<'a> {
    rec: &'a ::csv::ByteRecord,
    text: &'a str,
}

impl Cells for Row<'_> {
    fn count(&self) -> usize {
        self.rec.len()
    }

    fn cell(&self, i: usize) -> &str {
        match self.rec.range(i) {
            Some(r) => self.text.get(r).unwrap_or("\u{fffd}"),
            None => "",
        }
    }

    // The joined cells are blank exactly when every cell is.
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// Counts line feeds; written over fixed chunks so the compiler vectorizes it.
fn count_newlines(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(32);
    let mut n = 0usize;
    for c in &mut chunks {
        n += c.iter().map(|b| usize::from(*b == b'\n')).sum::<usize>();
    }
    n + chunks.remainder().iter().filter(|b| **b == b'\n').count()
}

/// Guesses the number of rows from the line length of the file's start, a
/// little high, so the record list is allocated once.
fn estimate_rows(body: &[u8]) -> usize {
    let sample = &body[..body.len().min(SNIFF_BYTES)];
    let lines = count_newlines(sample).max(1);
    let rows = body.len() / sample.len().max(1) * lines
        + (body.len() % sample.len().max(1)) * lines / sample.len().max(1);
    rows + rows / 64 + 1
}

/// Reads a CSV file.
pub fn read_csv(bytes: &[u8], kind: Kind, options: &ReadOptions) -> Result<ReadOutput, ReadError> {
    let (text, enc) = decode(bytes, options.encoding.as_deref())?;
    let mut body = text.as_bytes();
    let mut first_line = 1u32;
    let mut delimiter = match options.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => return Err(ReadError::BadDelimiter(c)),
        None => None,
    };
    // Excel's "sep=;" first line names the delimiter and is not data.
    if body.len() >= 5 && body[..4].eq_ignore_ascii_case(b"sep=") {
        let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
        let line = String::from_utf8_lossy(&body[4..end]);
        let sep = line.trim_end_matches('\r');
        if sep.len() == 1 {
            if delimiter.is_none() {
                delimiter = sep.bytes().next();
            }
            body = &body[(end + 1).min(body.len())..];
            first_line = 2;
        }
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(body));

    let mut builder = Builder::new(kind, Format::Csv, options);
    {
        let out = builder.output_mut();
        out.encoding = Some(enc.name().to_string());
        out.delimiter = Some(delimiter as char);
    }
    builder.expect_rows(estimate_rows(body));
    let mut rdr = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    // One record buffer for the whole file: the csv crate refills it in
    // place, and the builder borrows cells from it.
    let mut rec = ::csv::ByteRecord::new();
    let mut scanned = 0usize;
    let mut newlines = 0usize;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(ReadError::Csv(e.to_string())),
        }
        // The csv crate's own line counter skips blank lines, and its byte
        // offset points at the blank lines before a record, so lines are
        // counted here from the offset, past any line breaks.
        let mut start = rec
            .position()
            .map(|p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .unwrap_or(scanned)
            .clamp(scanned, body.len());
        while start < body.len() && matches!(body[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += count_newlines(&body[scanned..start]);
        scanned = start;
        let line = u32::try_from(newlines)
            .unwrap_or(u32::MAX)
            .saturating_add(first_line);
        // The text is UTF-8 already and the delimiter is ASCII, so the
        // record's fields, joined, are valid UTF-8 and every field boundary
        // is a character boundary; validating the joined buffer once checks
        // that. The fallback only keeps this panic-free.
        let text = std::str::from_utf8(rec.as_slice()).unwrap_or("");
        builder.push(line, &Row { rec: &rec, text })?;
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::read::{ColumnRef, MappingEntry, ReadOutput, read};
    use crate::schema::Field;

    fn read_ok(bytes: &[u8], kind: Kind, options: &ReadOptions) -> ReadOutput {
        match read(bytes, Some("file.csv"), kind, options) {
            Ok(o) => o,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Reads `bytes` and compares what was detected and the records' values
    /// of the given fields, and the row errors' lines.
    fn check(
        bytes: &[u8],
        kind: Kind,
        encoding: &str,
        delimiter: char,
        fields: &[Field],
        expect: &[&[&str]],
        error_lines: &[u32],
    ) {
        let out = read_ok(bytes, kind, &ReadOptions::default());
        assert_eq!(out.encoding.as_deref(), Some(encoding));
        assert_eq!(out.delimiter, Some(delimiter));
        let got: Vec<Vec<String>> = out
            .records
            .iter()
            .map(|r| fields.iter().map(|f| r.get(*f).to_string()).collect())
            .collect();
        let want: Vec<Vec<String>> = expect
            .iter()
            .map(|row| row.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(got, want);
        let lines: Vec<u32> = out.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, error_lines, "{:?}", out.errors);
        assert_eq!(out.row_count as usize, out.records.len() + out.errors.len());
    }

    fn windows_1252(s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = WINDOWS_1252.encode(s);
        assert!(!unmappable);
        bytes.into_owned()
    }

    fn utf16(s: &str, le: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(if le { &[0xFF, 0xFE] } else { &[0xFE, 0xFF] });
        }
        for u in s.encode_utf16() {
            out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    const NF: &[Field] = &[Field::Number, Field::Name, Field::City];

    #[test]
    fn excel_semicolon_export_in_windows_1252() {
        let text = "Kundenummer;Navn;Poststed;Aktiv\r\n00123;Blåbær Sørensen AS;Tromsø;Ja\r\n;;;\r\n00124;Ærlig Øl;Århus;Nei\r\n";
        check(
            &windows_1252(text),
            Kind::Customer,
            "windows-1252",
            ';',
            NF,
            &[
                &["00123", "Blåbær Sørensen AS", "Tromsø"],
                &["00124", "Ærlig Øl", "Århus"],
            ],
            &[],
        );
        let out = read_ok(&windows_1252(text), Kind::Customer, &ReadOptions::default());
        assert_eq!(out.blank_rows, 1);
        assert!(out.records[0].active() && !out.records[1].active());
    }

    #[test]
    fn utf8_bom_and_commas() {
        let text = "\u{feff}number,name,city\n1,\"Acme, Inc.\",Oslo\n2,Bø AS,Bø\n";
        check(
            text.as_bytes(),
            Kind::Customer,
            "UTF-8",
            ',',
            NF,
            &[&["1", "Acme, Inc.", "Oslo"], &["2", "Bø AS", "Bø"]],
            &[],
        );
    }

    #[test]
    fn quoted_newlines_keep_line_numbers() {
        let text = "number;name;street;active\n1;\"Two\nLines AS\";\"Gate 1\nPostboks 2\";ja\n2;Bad;x;maybe\n\n3;Ok;;1\n";
        let out = read_ok(text.as_bytes(), Kind::Customer, &ReadOptions::default());
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[0].get(Field::Name), "Two\nLines AS");
        assert_eq!(out.records[0].line, 2);
        assert_eq!(out.errors.len(), 1);
        // Two quoted newlines put the second record on line 5.
        assert_eq!(out.errors[0].line, 5);
        assert!(out.errors[0].reason.contains("maybe"));
        assert_eq!(out.records[1].line, 7);
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = "number\tname\tcity\r\n7\tÅse Ås\tÅs\r\n";
        for (le, bom, name) in [
            (true, true, "UTF-16LE"),
            (false, true, "UTF-16BE"),
            (true, false, "UTF-16LE"),
        ] {
            check(
                &utf16(text, le, bom),
                Kind::Customer,
                name,
                '\t',
                NF,
                &[&["7", "Åse Ås", "Ås"]],
                &[],
            );
        }
    }

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252() {
        let mut bytes = b"number|name|city\n5|Caf".to_vec();
        bytes.push(0xE9); // é in Windows-1252, invalid alone in UTF-8
        bytes.extend_from_slice(b"|Paris\n");
        check(
            &bytes,
            Kind::Customer,
            "windows-1252",
            '|',
            NF,
            &[&["5", "Café", "Paris"]],
            &[],
        );
    }

    #[test]
    fn excel_sep_line_and_overrides() {
        let text = "sep=;\nnumber;name\n1;A\n";
        let out = read_ok(text.as_bytes(), Kind::Customer, &ReadOptions::default());
        assert_eq!(out.delimiter, Some(';'));
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].line, 3);

        // No header, explicit mapping by index, forced delimiter.
        let text = "x,1;Acme\ny,2;Bolt\n";
        let options = ReadOptions {
            delimiter: Some(';'),
            has_header: Some(false),
            mapping: vec![
                MappingEntry {
                    column: ColumnRef::Index(1),
                    field: Field::Name,
                },
                MappingEntry {
                    column: ColumnRef::Index(0),
                    field: Field::Number,
                },
            ],
            ..Default::default()
        };
        let out = read_ok(text.as_bytes(), Kind::Customer, &options);
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[1].number(), "y,2");
        assert_eq!(out.records[1].get(Field::Name), "Bolt");
    }

    #[test]
    fn mapping_by_header_and_unmapped_columns() {
        let text = "Kommentar;Kundenr;Firma\nhei;10;Acme\n";
        let options = ReadOptions {
            mapping: vec![MappingEntry {
                column: ColumnRef::Header("firma".into()),
                field: Field::Name,
            }],
            ..Default::default()
        };
        let out = read_ok(text.as_bytes(), Kind::Customer, &options);
        assert_eq!(out.records[0].get(Field::Name), "Acme");
        assert_eq!(out.unmapped.len(), 1);
        assert_eq!(out.unmapped[0].header, "Kommentar");
        assert_eq!(out.mapping.len(), 2);
    }

    #[test]
    fn limits_and_missing_number_are_clear_errors() {
        let text = "number;name\n1;A\n2;B\n3;C\n";
        let mut options = ReadOptions::default();
        options.limits.max_rows = 2;
        let err = read(text.as_bytes(), None, Kind::Customer, &options);
        assert_eq!(err, Err(ReadError::TooManyRows { max: 2 }));

        let mut options = ReadOptions::default();
        options.limits.max_file_bytes = 10;
        assert!(matches!(
            read(text.as_bytes(), None, Kind::Customer, &options),
            Err(ReadError::FileTooLarge { .. })
        ));

        let mut options = ReadOptions::default();
        options.limits.max_columns = 1;
        assert!(matches!(
            read(text.as_bytes(), None, Kind::Customer, &options),
            Err(ReadError::TooManyColumns { line: 1, .. })
        ));

        let err = read(
            b"name;city\nA;B\n",
            None,
            Kind::Customer,
            &ReadOptions::default(),
        );
        assert_eq!(err, Err(ReadError::NoNumberColumn));
        assert_eq!(
            read(b"\n\n", None, Kind::Customer, &ReadOptions::default()),
            Err(ReadError::Empty)
        );

        let long = format!("number;name\n1;{}\n;Nameless\n", "x".repeat(300));
        let out = read_ok(long.as_bytes(), Kind::Customer, &ReadOptions::default());
        assert_eq!(out.records.len(), 0);
        assert_eq!(out.errors.len(), 2);
        assert!(out.errors[0].reason.contains("300 characters"));
        assert!(out.errors[1].reason.contains("number: empty"));
    }

    #[test]
    fn mapping_past_the_column_limit_is_an_error() {
        let options = ReadOptions {
            mapping: vec![MappingEntry {
                column: ColumnRef::Index(u32::MAX),
                field: Field::Number,
            }],
            ..Default::default()
        };
        assert_eq!(
            read(b"a;b\n1;2\n", None, Kind::Customer, &options),
            Err(ReadError::UnknownColumn(u32::MAX.to_string()))
        );
    }

    #[test]
    fn empty_active_column_is_ignored() {
        let out = read_ok(
            b"number;name;active\n1;A;\n2;B;\n",
            Kind::Customer,
            &ReadOptions::default(),
        );
        assert!(out.records.iter().all(|r| r.active()));
        assert_eq!(out.notes.len(), 1);
    }

    #[test]
    fn employees_and_kept_rows() {
        let text = "Ansattnummer;Fornavn;Etternavn;E-post\n0042;Kari;Nordmann;KARI@x.no\n";
        let options = ReadOptions {
            keep_rows: true,
            ..Default::default()
        };
        let out = read_ok(text.as_bytes(), Kind::Employee, &options);
        assert_eq!(out.records[0].number(), "0042");
        assert_eq!(out.records[0].display_name(), "Kari Nordmann");
        let rows = out.rows.unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].cells[3], "KARI@x.no");
    }
}

//! CSV files: the encoding (UTF-8 with or without BOM, UTF-16 with a BOM or
//! by its zero bytes, otherwise Windows-1252 as Excel writes it), the
//! delimiter (`,` `;` tab `|`, or Excel's `sep=` line), and RFC 4180 quoting
//! with quoted newlines, by the `csv` crate's rules.
//!
//! The whole file is decoded to UTF-8 once (and checked once), so line
//! numbers are lines of the file as people see it. `Splitter` then cuts the
//! text into cells in place, by the rules the `csv` crate would apply (a
//! test holds the two to the same answers); the `csv` crate itself sniffs
//! the delimiter and reads files whose delimiter is a quote or a line break.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::parts::{PartMeta, PartPlan};
use super::{Builder, Cells, Format, ReadError, ReadOptions, ReadOutput, RecordSink};
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
    detect(bytes, label).map(|(enc, bom, _)| (enc, bom))
}

/// `detect_encoding`, and the text itself when the guess had to check that
/// the bytes are UTF-8, so that a file is validated once.
fn detect<'a>(
    bytes: &'a [u8],
    label: Option<&str>,
) -> Result<(&'static Encoding, usize, Option<&'a str>), ReadError> {
    if let Some(label) = label {
        let enc = Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| ReadError::UnknownEncoding(label.to_string()))?;
        // A BOM of the named encoding is still not content.
        let bom = match Encoding::for_bom(bytes) {
            Some((e, n)) if e == enc => n,
            _ => 0,
        };
        return Ok((enc, bom, None));
    }
    if let Some((enc, n)) = Encoding::for_bom(bytes) {
        return Ok((enc, n, None));
    }
    if let Some(enc) = utf16_by_zeros(bytes) {
        return Ok((enc, 0, None));
    }
    // encoding_rs checks UTF-8 several times faster than `str::from_utf8`.
    match UTF_8.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(Cow::Borrowed(text)) => Ok((UTF_8, 0, Some(text))),
        Some(Cow::Owned(_)) => Ok((UTF_8, 0, None)),
        None => Ok((WINDOWS_1252, 0, None)),
    }
}

/// UTF-16 without a BOM: ASCII text has a zero in every other byte. Looks
/// at the first 4 KiB.
fn utf16_by_zeros(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096)];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let odd_zero = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if odd_zero * 10 >= pairs * 7 && even_zero * 10 < pairs {
        return Some(UTF_16LE);
    }
    if even_zero * 10 >= pairs * 7 && odd_zero * 10 < pairs {
        return Some(UTF_16BE);
    }
    None
}

/// Decodes the file to text with the detected or named encoding.
pub fn decode<'a>(
    bytes: &'a [u8],
    label: Option<&str>,
) -> Result<(Cow<'a, str>, &'static Encoding), ReadError> {
    let (enc, bom, checked) = detect(bytes, label)?;
    if let Some(text) = checked {
        return Ok((Cow::Borrowed(text), enc));
    }
    let body = &bytes[bom..];
    if enc.is_single_byte() {
        return Ok((decode_single_byte(enc, body), enc));
    }
    // Malformed sequences become U+FFFD rather than failing the file: the
    // rows they are in will show it, and the rest is still readable.
    let (text, _had_errors) = enc.decode_without_bom_handling(body);
    Ok((text, enc))
}

/// Decodes a single-byte encoding (Windows-1252, as Excel writes it, and
/// the like) into a string sized from the bytes themselves: encoding_rs
/// sizes its output for the worst case, three times the input, which for a
/// large file would be most of the memory a read uses. A byte below 0x80 is
/// one byte of UTF-8 in these encodings and any other at most three.
fn decode_single_byte<'a>(enc: &'static Encoding, body: &'a [u8]) -> Cow<'a, str> {
    let high = body.iter().filter(|b| **b >= 0x80).count();
    if high == 0
        && let Ok(text) = std::str::from_utf8(body)
    {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(body.len() + 2 * high);
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut rest = body;
    loop {
        let (result, read, _had_errors) = decoder.decode_to_string(rest, &mut text, true);
        rest = &rest[read..];
        match result {
            encoding_rs::CoderResult::InputEmpty => break,
            // Only if the bound above were wrong: room for the rest.
            encoding_rs::CoderResult::OutputFull => text.reserve(rest.len() * 3 + 16),
        }
    }
    Cow::Owned(text)
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

/// Counts line breaks: a line feed, a carriage return and line feed
/// (one), and a carriage return alone, as Excel for Mac ends the lines of
/// its "CSV (Macintosh)" files (one at the very end counts: nothing
/// follows it here). The line feeds are counted over fixed chunks, which
/// the compiler vectorizes; the carriage returns only when there are any.
fn count_line_breaks(bytes: &[u8]) -> usize {
    let count = |byte: u8| {
        let mut chunks = bytes.chunks_exact(32);
        let mut n = 0usize;
        for c in &mut chunks {
            n += c.iter().map(|b| usize::from(*b == byte)).sum::<usize>();
        }
        n + chunks.remainder().iter().filter(|b| **b == byte).count()
    };
    let feeds = count(b'\n');
    if !bytes.contains(&b'\r') {
        return feeds;
    }
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    feeds + count(b'\r') - crlf
}

/// Whether the byte at `pos` ends a line: a line feed, or a carriage
/// return that no line feed follows (`count_line_breaks`).
fn ends_line(bytes: &[u8], pos: usize) -> bool {
    match bytes.get(pos) {
        Some(b'\n') => true,
        Some(b'\r') => bytes.get(pos + 1) != Some(&b'\n'),
        _ => false,
    }
}

/// Eight bytes at `pos` as one word, lowest address lowest.
fn word(bytes: &[u8], pos: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[pos..pos + 8]);
    u64::from_le_bytes(w)
}

/// A high bit in each byte of `w` that equals the byte in every lane of
/// `lanes`. A byte above a match may be flagged wrongly (a borrow), never
/// one below, so the lowest flag is always a true match.
fn flag_equal(w: u64, lanes: u64) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = w ^ lanes;
    x.wrapping_sub(LOW) & !x & HIGH
}

const fn lanes(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// Where an unquoted cell starting at `pos` ends: the next delimiter, `\r`
/// or `\n`, or the end. Cells are short, so this looks at sixteen bytes at
/// a time (`WIDE`) or eight, rather than testing each byte three times.
fn find_cell_end(bytes: &[u8], pos: usize, delimiter: u8) -> usize {
    find_cell_end_by(bytes, pos, delimiter, WIDE)
}

/// `find_cell_end`, sixteen bytes at a time first if `wide`.
#[inline]
fn find_cell_end_by(bytes: &[u8], mut pos: usize, delimiter: u8, wide: bool) -> usize {
    if wide {
        use simd::{eq, or, splat};
        let (d, cr, lf) = (splat(delimiter), splat(b'\r'), splat(b'\n'));
        match find_wide(bytes, pos, |v| or(eq(v, d), or(eq(v, cr), eq(v, lf)))) {
            Ok(at) => return at,
            Err(rest) => pos = rest,
        }
    }
    let (d, cr, lf) = (lanes(delimiter), lanes(b'\r'), lanes(b'\n'));
    while pos + 8 <= bytes.len() {
        let w = word(bytes, pos);
        let found = flag_equal(w, d) | flag_equal(w, cr) | flag_equal(w, lf);
        if found != 0 {
            return pos + (found.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < bytes.len() && !matches!(bytes[pos], b'\r' | b'\n') && bytes[pos] != delimiter {
        pos += 1;
    }
    pos
}

/// How the splitter finds a row's special bytes (delimiter, quote, `\r`,
/// `\n`): `STEP` bytes at a time, from `pos`. `flags` gives a bit for each
/// special byte, and the delimiters' bits alone; a byte's offset from `pos`
/// is its bit's index `>> SHIFT`. None past the end of the bytes.
trait SpecialBytes: Sized {
    const STEP: usize;
    const SHIFT: u32;
    fn new(delimiter: u8) -> Self;
    fn flags(&self, bytes: &[u8], pos: usize) -> (u64, u64);
}

/// `SpecialBytes` eight at a time in a 64-bit word: byte `k` of the word
/// at `pos` is flagged by bit `8k + 7` (`SHIFT` 3). The splitter's unless
/// the processor compares sixteen bytes at once (`WIDE`).
struct WordLanes {
    delimiter: u64,
}

impl SpecialBytes for WordLanes {
    const STEP: usize = 8;
    const SHIFT: u32 = 3;

    fn new(delimiter: u8) -> Self {
        WordLanes {
            delimiter: lanes(delimiter),
        }
    }

    /// The high bit of each of the eight bytes at `pos` that may be special:
    /// every delimiter, quote, `\r` and `\n` is flagged (exactly, without
    /// carries between bytes), and so are the other bytes 0x08 to 0x0F,
    /// which the caller skips: testing the two line breaks as one range
    /// saves a test per word. Second, the flags of the delimiters alone
    /// (exact), the most common special byte, which the caller then need
    /// not read.
    #[inline]
    fn flags(&self, bytes: &[u8], pos: usize) -> (u64, u64) {
        if pos + 8 <= bytes.len() {
            self.flags_of(word(bytes, pos))
        } else {
            self.flags_of_tail(bytes, pos)
        }
    }
}

impl WordLanes {
    #[inline]
    fn flags_of(&self, w: u64) -> (u64, u64) {
        const SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        // A byte's high bit is clear in `nonzero(x)` exactly when it is 0.
        let nonzero = |x: u64| ((x & SEVEN) + SEVEN) | x;
        let not_delimiter = nonzero(w ^ self.delimiter);
        let all =
            not_delimiter & nonzero(w ^ lanes(b'"')) & nonzero((w | lanes(0x07)) ^ lanes(0x0f));
        (!all & !SEVEN, !not_delimiter & !SEVEN)
    }

    #[cold]
    fn flags_of_tail(&self, bytes: &[u8], pos: usize) -> (u64, u64) {
        let n = bytes.len().saturating_sub(pos);
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&bytes[pos.min(bytes.len())..]);
        let (all, delimiters) = self.flags_of(u64::from_le_bytes(w));
        let within = (1u64 << (8 * n)) - 1;
        (all & within, delimiters & within)
    }
}

/// Whether the processor compares sixteen bytes at once (x86_64 with SSE2,
/// WebAssembly with SIMD): then the splitter finds special bytes with
/// `WideLanes` rather than `WordLanes`, and the searches for a cell's end
/// or a quote go sixteen bytes at a time too. Both ways are built
/// everywhere (the one not taken is left out by the optimizer), so the
/// tests try each.
const WIDE: bool = cfg!(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
));

/// The sixteen bytes at `pos`, if there are as many.
#[inline]
fn sixteen_at(bytes: &[u8], pos: usize) -> Option<&[u8; 16]> {
    bytes.get(pos..pos + 16)?.try_into().ok()
}

/// From `pos`, sixteen bytes at a time: `Ok` with the first byte that
/// `found` flags (in `simd`'s terms), or `Err` with where fewer than
/// sixteen bytes are left to look at.
#[inline]
fn find_wide(
    bytes: &[u8],
    mut pos: usize,
    found: impl Fn(simd::Bytes) -> simd::Bytes,
) -> Result<usize, usize> {
    while let Some(sixteen) = sixteen_at(bytes, pos) {
        let flags = simd::mask(found(simd::load(sixteen)));
        if flags != 0 {
            return Ok(pos + flags.trailing_zeros() as usize);
        }
        pos += 16;
    }
    Err(pos)
}

/// `SpecialBytes` sixteen at a time with 128-bit SIMD: four byte-wise
/// compares and one bitmask give bit `k` for byte `k` (`SHIFT` 0), exactly
/// the delimiters, quotes, `\r` and `\n`. Under WebAssembly (`i8x16.eq`,
/// `i8x16.bitmask`) V8 runs the word arithmetic of `WordLanes` as written,
/// one operation after another. On x86_64 (SSE2's `pcmpeqb`, `pmovmskb`)
/// this takes a third of the word arithmetic's instructions per byte: the
/// splitter was a third of reading a file, and reading got 15% faster.
/// Elsewhere `simd` does the same sixteen compares one by one, which only
/// the tests run.
struct WideLanes {
    delimiter: simd::Bytes,
}

impl SpecialBytes for WideLanes {
    const STEP: usize = 16;
    const SHIFT: u32 = 0;

    fn new(delimiter: u8) -> Self {
        WideLanes {
            delimiter: simd::splat(delimiter),
        }
    }

    #[inline]
    fn flags(&self, bytes: &[u8], pos: usize) -> (u64, u64) {
        match sixteen_at(bytes, pos) {
            Some(sixteen) => self.flags_of(sixteen),
            None => self.flags_of_tail(bytes, pos),
        }
    }
}

impl WideLanes {
    #[inline]
    fn flags_of(&self, sixteen: &[u8; 16]) -> (u64, u64) {
        use simd::{eq, mask, or, splat};
        let v = simd::load(sixteen);
        let delimiters = eq(v, self.delimiter);
        let special = or(
            or(delimiters, eq(v, splat(b'"'))),
            or(eq(v, splat(b'\r')), eq(v, splat(b'\n'))),
        );
        (mask(special), mask(delimiters))
    }

    #[cold]
    fn flags_of_tail(&self, bytes: &[u8], pos: usize) -> (u64, u64) {
        let n = bytes.len().saturating_sub(pos);
        let mut w = [0u8; 16];
        w[..n].copy_from_slice(&bytes[pos.min(bytes.len())..]);
        let (all, delimiters) = self.flags_of(&w);
        let within = (1u64 << n) - 1;
        (all & within, delimiters & within)
    }
}

/// The four operations of `WideLanes` on x86_64 (SSE2, through
/// `safe_arch`'s safe functions).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd {
    pub(super) type Bytes = safe_arch::m128i;

    #[inline(always)]
    pub(super) fn load(sixteen: &[u8; 16]) -> Bytes {
        safe_arch::load_unaligned_m128i(sixteen)
    }
    #[inline(always)]
    pub(super) fn splat(b: u8) -> Bytes {
        safe_arch::set_splat_i8_m128i(b as i8)
    }
    #[inline(always)]
    pub(super) fn eq(a: Bytes, b: Bytes) -> Bytes {
        safe_arch::cmp_eq_mask_i8_m128i(a, b)
    }
    #[inline(always)]
    pub(super) fn or(a: Bytes, b: Bytes) -> Bytes {
        safe_arch::bitor_m128i(a, b)
    }
    /// Bit `k` for each byte `k` whose high bit is set.
    #[inline(always)]
    pub(super) fn mask(a: Bytes) -> u64 {
        // `pmovmskb` sets the low sixteen bits alone.
        u64::from(safe_arch::move_mask_i8_m128i(a) as u16)
    }
}

/// The four operations of `WideLanes` without SIMD, a byte at a time:
/// only the tests use them (`WIDE` is false there).
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod simd {
    pub(super) type Bytes = [u8; 16];

    pub(super) fn load(sixteen: &[u8; 16]) -> Bytes {
        *sixteen
    }
    pub(super) fn splat(b: u8) -> Bytes {
        [b; 16]
    }
    pub(super) fn eq(a: Bytes, b: Bytes) -> Bytes {
        std::array::from_fn(|i| if a[i] == b[i] { 0xff } else { 0 })
    }
    pub(super) fn or(a: Bytes, b: Bytes) -> Bytes {
        std::array::from_fn(|i| a[i] | b[i])
    }
    pub(super) fn mask(a: Bytes) -> u64 {
        a.iter()
            .enumerate()
            .fold(0, |m, (i, b)| m | (u64::from(b >> 7) << i))
    }
}

/// The four operations of `WideLanes` under WebAssembly with SIMD.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{i8x16_eq, u8x16_bitmask, u8x16_splat, u64x2, v128, v128_or};

    pub(super) type Bytes = v128;

    #[inline(always)]
    pub(super) fn load(sixteen: &[u8; 16]) -> Bytes {
        u64x2(super::word(sixteen, 0), super::word(sixteen, 8))
    }
    #[inline(always)]
    pub(super) fn splat(b: u8) -> Bytes {
        u8x16_splat(b)
    }
    #[inline(always)]
    pub(super) fn eq(a: Bytes, b: Bytes) -> Bytes {
        i8x16_eq(a, b)
    }
    #[inline(always)]
    pub(super) fn or(a: Bytes, b: Bytes) -> Bytes {
        v128_or(a, b)
    }
    #[inline(always)]
    pub(super) fn mask(a: Bytes) -> u64 {
        u64::from(u8x16_bitmask(a))
    }
}

/// The next `byte` at or after `pos`, or the end.
fn find_byte(bytes: &[u8], pos: usize, byte: u8) -> usize {
    find_byte_by(bytes, pos, byte, WIDE)
}

/// `find_byte`, sixteen bytes at a time first if `wide`.
#[inline]
fn find_byte_by(bytes: &[u8], mut pos: usize, byte: u8, wide: bool) -> usize {
    if wide {
        let b = simd::splat(byte);
        match find_wide(bytes, pos, |v| simd::eq(v, b)) {
            Ok(at) => return at,
            Err(rest) => pos = rest,
        }
    }
    let b = lanes(byte);
    while pos + 8 <= bytes.len() {
        let found = flag_equal(word(bytes, pos), b);
        if found != 0 {
            return pos + (found.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < bytes.len() && bytes[pos] != byte {
        pos += 1;
    }
    pos
}

/// Guesses the number of rows from the line length of the file's start, a
/// little high, so the record list is allocated once.
fn estimate_rows(body: &[u8]) -> usize {
    let sample = &body[..body.len().min(SNIFF_BYTES)];
    let lines = count_line_breaks(sample).max(1);
    let rows = body.len() / sample.len().max(1) * lines
        + (body.len() % sample.len().max(1)) * lines / sample.len().max(1);
    rows + rows / 64 + 1
}

/// The delimiter the caller named, if any.
fn named_delimiter(options: &ReadOptions) -> Result<Option<u8>, ReadError> {
    match options.delimiter {
        Some(c) if c.is_ascii() => Ok(Some(c as u8)),
        Some(c) => Err(ReadError::BadDelimiter(c)),
        None => Ok(None),
    }
}

/// The text past Excel's "sep=;" first line, which names the delimiter and
/// is not data: the body, its first line, and the delimiter named. The line
/// ends as every line does (`\r\n`, `\n`, or a carriage return alone, as
/// Excel's "CSV (Macintosh)" writes).
fn past_sep_line(text: &str) -> (&str, u32, Option<u8>) {
    let b = text.as_bytes();
    if b.len() >= 5 && b[..4].eq_ignore_ascii_case(b"sep=") {
        let end = b
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or(b.len());
        if end == 5 {
            let next = match b.get(end..end + 2) {
                Some(b"\r\n") => end + 2,
                _ => end + 1,
            };
            // Just past a line break (or at the end): a character boundary.
            let body = text.get(next.min(b.len())..).unwrap_or("");
            return (body, 2, Some(b[4]));
        }
    }
    (text, 1, None)
}

/// Reads a CSV file.
pub fn read_csv<S: RecordSink>(
    bytes: &[u8],
    kind: Kind,
    options: &ReadOptions,
    sink: S,
) -> Result<(ReadOutput, S), ReadError> {
    let (text, enc) = decode(bytes, options.encoding.as_deref())?;
    let (meta, sink) = read_text(&text, enc, kind, options, sink, None)?;
    Ok(super::parts::finish(meta, sink))
}

/// Reads decoded text into `sink`: a whole file's, or the first part of a
/// file read in parts; with `later`, a later part, which starts at a line
/// of the file and takes its mapping from the file's first row as planned.
fn read_text<S: RecordSink>(
    text: &str,
    enc: &'static Encoding,
    kind: Kind,
    options: &ReadOptions,
    sink: S,
    later: Option<&PartPlan>,
) -> Result<(PartMeta, S), ReadError> {
    let named = named_delimiter(options)?;
    let (body, first_line, delimiter) = match later {
        Some(plan) => (text, 1, plan.delimiter),
        None => {
            let (body, first_line, sep) = past_sep_line(text);
            let delimiter = named
                .or(sep)
                .unwrap_or_else(|| sniff_delimiter(body.as_bytes()));
            (body, first_line, delimiter)
        }
    };
    let mut builder = Builder::new(kind, Format::Csv, options, sink);
    {
        let out = builder.output_mut();
        out.encoding = Some(enc.name().to_string());
        out.delimiter = Some(delimiter as char);
    }
    if let Some(plan) = later {
        let cells: Vec<&str> = plan.first_row.iter().map(String::as_str).collect();
        builder.configure(&cells)?;
    }
    builder.expect_rows(estimate_rows(body.as_bytes()));
    let line = |newlines: usize| {
        u32::try_from(newlines)
            .unwrap_or(u32::MAX)
            .saturating_add(first_line)
    };
    let (newlines, clean_end) = if Splitter::handles(delimiter) {
        let mut split = Splitter::new(body, delimiter, later.is_none());
        loop {
            // A sink that knows rows by their text (the preview's, against
            // the rows of the import the server has) is offered each one
            // first: a row it knows is not split into cells at all.
            if builder.takes_rows() {
                match split.plain_row() {
                    None if split.at_end() => break,
                    Some((start, end)) => {
                        if builder.offer_row(split.piece(start, end))? {
                            split.pos = end;
                            continue;
                        }
                    }
                    // A row with a quote: split, it shows where it ends.
                    None => {
                        let start = split.pos;
                        let Some(newlines) = split.next_record() else {
                            break;
                        };
                        if !builder.offer_row(split.piece(start, split.end))? {
                            builder.push(line(newlines), &split)?;
                        }
                        continue;
                    }
                }
            }
            let Some(newlines) = split.next_record() else {
                break;
            };
            builder.push(line(newlines), &split)?;
        }
        (split.newlines, !split.open_quote)
    } else {
        // Never planned in parts (`plan`), so never a later part.
        each_csv_crate_record(body.as_bytes(), delimiter, |newlines, row| {
            builder.push(line(newlines), row)
        })?;
        (0, true)
    };
    let (mut meta, sink) = builder.finish_part()?;
    meta.newlines = u32::try_from(newlines)
        .unwrap_or(u32::MAX)
        .saturating_add(first_line - 1);
    meta.clean_end = clean_end;
    Ok((meta, sink))
}

/// Decides from the file's first bytes (`head`) how its parts will be read,
/// or `None` when it must be read whole: an encoding of more than one byte
/// per character besides UTF-8, a quote or line break as the delimiter, or
/// a head too short to hold the delimiter guess's sample and the first row.
pub(crate) fn plan(head: &[u8], options: &ReadOptions) -> Option<PartPlan> {
    let (encoding, text): (Option<String>, Cow<'_, str>) = match options.encoding.as_deref() {
        Some(label) => {
            let enc = Encoding::for_label(label.trim().as_bytes())?;
            let bom = match Encoding::for_bom(head) {
                Some((e, n)) if e == enc => n,
                _ => 0,
            };
            (Some(label.to_string()), decode_head(enc, &head[bom..])?)
        }
        None => match Encoding::for_bom(head) {
            Some((enc, n)) if enc == UTF_8 => {
                (Some("utf-8".to_string()), decode_head(enc, &head[n..])?)
            }
            Some(_) => return None,
            None if utf16_by_zeros(head).is_some() => return None,
            // Valid so far: UTF-8 if every part is (each part says).
            None => match std::str::from_utf8(head) {
                Ok(text) => (None, Cow::Borrowed(text)),
                Err(e) if e.error_len().is_none() => (
                    None,
                    Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).ok()?),
                ),
                // Not UTF-8 here, so not anywhere: the whole file reads as
                // Windows-1252, as `detect` would decide.
                Err(_) => (
                    Some("windows-1252".to_string()),
                    decode_single_byte(WINDOWS_1252, head),
                ),
            },
        },
    };
    let (body, _, sep) = past_sep_line(&text);
    let delimiter = match named_delimiter(options).ok()?.or(sep) {
        Some(d) => d,
        // The guess must see all it would see in the whole file.
        None if body.len() > SNIFF_BYTES => sniff_delimiter(body.as_bytes()),
        None => return None,
    };
    if !Splitter::handles(delimiter) {
        return None;
    }
    let mut split = Splitter::new(body, delimiter, true);
    loop {
        split.next_record()?;
        // A row that reaches the end of the head may go on past it.
        if split.pos >= body.len() || split.count() > options.limits.max_columns as usize {
            return None;
        }
        if !split.is_blank() {
            break;
        }
    }
    // The first row ends at its line feed: the same count of line feeds
    // into the raw bytes as into the decoded text (one byte each in UTF-8
    // and Windows-1252, the encodings planned here).
    let body_start = text.len() - body.len();
    let before = text.as_bytes().get(..body_start + split.pos)?;
    // A carriage return alone ends a line too, but no part is cut there:
    // a file whose first row ends so is read whole.
    let feeds = before.iter().filter(|b| **b == b'\n').count();
    if count_line_breaks(before) != feeds {
        return None;
    }
    let data_start = head
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(feeds.checked_sub(1)?)
        .map(|(i, _)| i as u64 + 1)?;
    Some(PartPlan {
        encoding,
        delimiter,
        first_row: (0..split.count())
            .map(|i| split.cell(i).to_string())
            .collect(),
        data_start,
    })
}

/// The start of a file in a one-byte encoding or UTF-8 (a character cut at
/// the end becomes U+FFFD, past anything a plan uses).
fn decode_head<'a>(enc: &'static Encoding, head: &'a [u8]) -> Option<Cow<'a, str>> {
    if enc == UTF_8 {
        Some(enc.decode_without_bom_handling(head).0)
    } else if enc.is_single_byte() {
        Some(decode_single_byte(enc, head))
    } else {
        None
    }
}

/// Reads one part of a CSV file read in parts (`parts::plan`): the first
/// as `read_csv` reads a file's start, a later one from its first line on,
/// mapped by the file's first row.
pub(crate) fn read_csv_part<S: RecordSink>(
    plan: &PartPlan,
    first: bool,
    bytes: &[u8],
    kind: Kind,
    options: &ReadOptions,
    sink: S,
) -> Result<(PartMeta, S), ReadError> {
    let mut options = options.clone();
    options.delimiter = Some(plan.delimiter as char);
    options.encoding.clone_from(&plan.encoding);
    let (text, enc, utf8) = if first {
        let (text, enc) = decode(bytes, options.encoding.as_deref())?;
        (text, enc, plan.encoding.is_none().then_some(enc == UTF_8))
    } else {
        match plan.encoding.as_deref() {
            None => match UTF_8.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(text) => (text, UTF_8, Some(true)),
                None => (
                    decode_single_byte(WINDOWS_1252, bytes),
                    WINDOWS_1252,
                    Some(false),
                ),
            },
            Some(label) => {
                let enc = Encoding::for_label(label.trim().as_bytes())
                    .ok_or_else(|| ReadError::UnknownEncoding(label.to_string()))?;
                let text = if enc.is_single_byte() {
                    decode_single_byte(enc, bytes)
                } else {
                    enc.decode_without_bom_handling(bytes).0
                };
                (text, enc, None)
            }
        }
    };
    let later = (!first).then_some(plan);
    let (mut meta, sink) = read_text(&text, enc, kind, &options, sink, later)?;
    meta.utf8 = utf8;
    Ok((meta, sink))
}

/// Reads `body` with the csv crate, calling `each` with the number of line
/// feeds before the record (its line, less one) and the record. Used for the
/// delimiters `Splitter` leaves alone (a quote or a line break), and as the
/// reference the splitter is tested against.
fn each_csv_crate_record(
    body: &[u8],
    delimiter: u8,
    mut each: impl FnMut(usize, &Row<'_>) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
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
            Ok(false) => return Ok(()),
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
        newlines += count_line_breaks(&body[scanned..start]);
        scanned = start;
        // The text is UTF-8 already and the delimiter is ASCII, so the
        // record's fields, joined, are valid UTF-8 and every field boundary
        // is a character boundary; validating the joined buffer once checks
        // that. The fallback only keeps this panic-free.
        let text = std::str::from_utf8(rec.as_slice()).unwrap_or("");
        each(newlines, &Row { rec: &rec, text })?;
    }
}

/// Splits decoded text into records by the rules the csv crate applies as
/// `read_csv` configures it (`"` quotes, a doubled quote inside quotes is
/// one quote, text after a closing quote continues the cell, `\r`, `\n` or
/// `\r\n` end a record, blank lines are skipped, a quote left open runs to
/// the end, rows may differ in width, a leading byte-order mark is
/// skipped), but lends cells as slices of the text
/// instead of copying every cell into a buffer that must then be checked as
/// UTF-8 again. Only a quoted cell that needs unescaping is copied. The
/// tests hold it to the csv crate's answers on generated input.
struct Splitter<'t> {
    text: &'t str,
    pos: usize,
    delimiter: u8,
    /// Line feeds passed so far, quoted ones included.
    newlines: usize,
    /// The record's cells; a copied cell is empty here and found in
    /// `copied`.
    cells: Vec<&'t str>,
    /// Quoted cells that needed unescaping, as (cell, start, end) in
    /// `scratch`. Rare, so a cell is looked up here only when there is any.
    copied: Vec<(usize, usize, usize)>,
    scratch: String,
    /// The last record ended inside quotes that never closed: the text ran
    /// out first.
    open_quote: bool,
    /// Where the last record's text ends: at its line break, or the end.
    end: usize,
}

impl<'t> Splitter<'t> {
    /// The delimiters whose meaning is plain: a quote or a line break as the
    /// delimiter interacts with the quoting and record rules, and is left to
    /// the csv crate.
    fn handles(delimiter: u8) -> bool {
        !matches!(delimiter, b'"' | b'\r' | b'\n')
    }

    /// A splitter over `text`; `file_start`: the text is the start of a
    /// file, not a later part of one.
    fn new(text: &'t str, delimiter: u8, file_start: bool) -> Self {
        Splitter {
            text,
            // The csv crate skips a byte-order mark at the very start (one
            // left after decoding, as from a file with two).
            pos: if file_start && text.starts_with('\u{feff}') {
                3
            } else {
                0
            },
            delimiter,
            newlines: 0,
            cells: Vec::new(),
            copied: Vec::new(),
            scratch: String::new(),
            open_quote: false,
            end: 0,
        }
    }

    /// A piece of the text. Pieces start and end next to ASCII bytes or at
    /// the ends of the text, so they are always character boundaries.
    fn piece(&self, start: usize, end: usize) -> &'t str {
        self.text.get(start..end).unwrap_or("")
    }

    /// Skips blank lines, as `next_record` does, and gives where the next
    /// record's text starts and ends (at its line break or the text's end)
    /// when it holds no quote (a record with one may span lines: only
    /// splitting it shows where it ends). `None` at the end of the text
    /// (`at_end`) or for a record with a quote in it.
    fn plain_row(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let pos = self.skip_breaks();
        if pos == len {
            return None;
        }
        // The first quote or line break.
        let end = find_cell_end(bytes, pos, b'"');
        (end == len || bytes[end] != b'"').then_some((pos, end))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Moves past blank lines and the rest of the last record's line
    /// break, counting the line breaks; returns where that leaves it.
    fn skip_breaks(&mut self) -> usize {
        let bytes = self.text.as_bytes();
        let mut pos = self.pos;
        while pos < bytes.len() && matches!(bytes[pos], b'\r' | b'\n') {
            self.newlines += usize::from(ends_line(bytes, pos));
            pos += 1;
        }
        self.pos = pos;
        pos
    }

    /// Cell `i` as unescaped into `scratch`, if it was.
    #[cold]
    fn unescaped(&self, i: usize) -> Option<&str> {
        let &(_, start, end) = self.copied.iter().find(|c| c.0 == i)?;
        self.scratch.get(start..end)
    }

    /// Moves to the next record; returns the line breaks before it (its
    /// line, less one), or `None` at the end.
    fn next_record(&mut self) -> Option<usize> {
        if WIDE {
            self.next_record_by::<WideLanes>()
        } else {
            self.next_record_by::<WordLanes>()
        }
    }

    /// `next_record`, finding the special bytes with `L`.
    #[inline]
    fn next_record_by<L: SpecialBytes>(&mut self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let pos = self.skip_breaks();
        if pos == len {
            return None;
        }
        let line_newlines = self.newlines;
        let d = self.delimiter;
        self.cells.clear();
        self.copied.clear();
        self.scratch.clear();
        // Walks the flags of the special bytes (delimiter, quote, `\r`,
        // `\n`) `L::STEP` bytes at a time: most bytes are plain text, and a
        // step often holds more than one cell boundary.
        let lanes = L::new(d);
        let mut base = pos;
        let (mut flags, mut delimiters) = lanes.flags(bytes, base);
        let mut cell_start = pos;
        // True after a quoted cell, which pushes itself.
        let mut pushed = false;
        loop {
            while flags == 0 {
                base += L::STEP;
                if base >= len {
                    if !pushed {
                        self.cells.push(self.piece(cell_start, len));
                    }
                    self.pos = len;
                    self.end = len;
                    return Some(line_newlines);
                }
                (flags, delimiters) = lanes.flags(bytes, base);
            }
            let bit = flags.trailing_zeros();
            let at = base + (bit >> L::SHIFT) as usize;
            flags &= flags - 1;
            if delimiters >> bit & 1 != 0 {
                // The usual special byte, known without reading it.
                if !pushed {
                    self.cells.push(self.piece(cell_start, at));
                }
                pushed = false;
                cell_start = at + 1;
                continue;
            }
            let b = bytes[at];
            if b == b'"' {
                // A quote opens a quoted cell only at the cell's start; in
                // an unquoted cell it is text.
                if at == cell_start && !pushed {
                    let end = self.quoted_cell(at + 1);
                    pushed = true;
                    if end >= len {
                        self.pos = len;
                        self.end = len;
                        return Some(line_newlines);
                    }
                    base = end;
                    (flags, delimiters) = lanes.flags(bytes, base);
                }
                continue;
            }
            if b != b'\r' && b != b'\n' {
                // A byte flagged only for being near the line breaks.
                continue;
            }
            if !pushed {
                self.cells.push(self.piece(cell_start, at));
            }
            // A line break ends the record; \r\n is one, and so is a
            // carriage return alone.
            let mut next = at + 1;
            self.newlines += 1;
            if b == b'\r' && next < len && bytes[next] == b'\n' {
                next += 1;
            }
            self.pos = next;
            self.end = at;
            return Some(line_newlines);
        }
    }

    /// Reads a quoted cell whose text starts at `pos` (just past the opening
    /// quote) and returns the position after it: at a delimiter, a line
    /// break or the end.
    fn quoted_cell(&mut self, mut pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let d = self.delimiter;
        // The cell's pieces so far: one piece stays a slice of the text.
        let mut first: Option<(usize, usize)> = None;
        let scratch_start = self.scratch.len();
        let mut add = |this: &mut Self, start: usize, end: usize| match first {
            None => first = Some((start, end)),
            Some((s, e)) => {
                if this.scratch.len() == scratch_start {
                    let p = this.piece(s, e);
                    this.scratch.push_str(p);
                }
                let p = this.piece(start, end);
                this.scratch.push_str(p);
                first = Some((s, e));
            }
        };
        loop {
            // Inside quotes: everything up to the next quote is text.
            let start = pos;
            pos = find_byte(bytes, pos, b'"');
            self.newlines += count_line_breaks(&bytes[start..pos]);
            add(self, start, pos);
            if pos == len {
                self.open_quote = true;
                break;
            }
            // A quote: doubled, it is one quote; otherwise it closes.
            pos += 1;
            if pos < len && bytes[pos] == b'"' {
                add(self, pos, pos + 1);
                pos += 1;
                continue;
            }
            // After the closing quote, anything up to a delimiter or line
            // break is still the cell's (quotes there are plain text).
            let start = pos;
            pos = find_cell_end(bytes, pos, d);
            if pos > start {
                add(self, start, pos);
            }
            break;
        }
        if self.scratch.len() > scratch_start {
            self.copied
                .push((self.cells.len(), scratch_start, self.scratch.len()));
            self.cells.push("");
        } else {
            let (start, end) = first.unwrap_or((pos, pos));
            self.cells.push(self.piece(start, end));
        }
        pos
    }
}

impl Cells for Splitter<'_> {
    fn count(&self) -> usize {
        self.cells.len()
    }

    #[inline]
    fn cell(&self, i: usize) -> &str {
        let cell = self.cells.get(i).copied().unwrap_or("");
        if self.copied.is_empty() {
            return cell;
        }
        self.unescaped(i).unwrap_or(cell)
    }

    fn text(&self) -> Option<&str> {
        Some(self.text)
    }
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

    type Split = Vec<(usize, Vec<String>)>;

    fn by_csv_crate(text: &str, delimiter: u8) -> Split {
        let mut out = Vec::new();
        let r = each_csv_crate_record(text.as_bytes(), delimiter, |n, row| {
            out.push((
                n,
                (0..row.count()).map(|i| row.cell(i).to_string()).collect(),
            ));
            Ok(())
        });
        assert_eq!(r, Ok(()));
        out
    }

    /// The rows the splitter gives, finding the special bytes with `L`.
    fn by_splitter_with<L: SpecialBytes>(text: &str, delimiter: u8) -> Split {
        let mut out = Vec::new();
        let mut split = Splitter::new(text, delimiter, true);
        while let Some(n) = split.next_record_by::<L>() {
            out.push((
                n,
                (0..split.count())
                    .map(|i| split.cell(i).to_string())
                    .collect(),
            ));
        }
        out
    }

    #[test]
    fn single_byte_decoding_matches_encoding_rs() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for enc in [WINDOWS_1252, encoding_rs::ISO_8859_2, encoding_rs::KOI8_R] {
            for body in [&all[..], b"plain ascii", b"", b"caf\xe9\x80\x81"] {
                let (want, _) = enc.decode_without_bom_handling(body);
                assert_eq!(decode_single_byte(enc, body), want, "{}", enc.name());
            }
        }
    }

    #[test]
    fn splitter_agrees_with_the_csv_crate() {
        let cases: &[(&str, u8)] = &[
            ("", b';'),
            ("a;b\r\nc;d", b';'),
            ("a;\n;\n\n\r\r\n;b;", b';'),
            ("\"a;b\";\"c\"\"d\";\"e\"f\"g;\"h\nI\r\nj\"\n\"open", b';'),
            ("x,\"\",\"\"\"\",\"\"q\"", b','),
            ("\u{feff}Navn|Bø\r\rØl|\"Å\"|", b'|'),
            ("\"a\"\"", b';'),
            ("\"", b';'),
            ("a\"b;c\"\n", b';'),
        ];
        // Both kinds of lanes, whichever the splitter uses here.
        let both = |text: &str, d: u8| {
            let words = by_splitter_with::<WordLanes>(text, d);
            assert_eq!(
                by_splitter_with::<WideLanes>(text, d),
                words,
                "{text:?} {d}"
            );
            words
        };
        for (text, d) in cases {
            assert_eq!(both(text, *d), by_csv_crate(text, *d), "{text:?}");
        }
        // Generated text from the bytes that matter (the splitter also flags
        // 0x0B and 0x0C, next to the line breaks), as many as a quick test
        // allows: any disagreement is a row read differently. Set
        // SPLIT_CASES for a longer run.
        let alphabet = [
            "a", ";", ",", "\"", "\r", "\n", " ", "ø", "\t", "x", "\u{b}", "\u{c}",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let cases = std::env::var("SPLIT_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3_000);
        for case in 0..cases {
            // Some rows span several sixteen-byte lanes.
            let len = next(if case % 4 == 0 { 120 } else { 40 });
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            for d in [b';', b',', b'\t', b'a', b' ', 0x0c] {
                assert_eq!(both(&text, d), by_csv_crate(&text, d), "{text:?} {d}");
            }
        }
    }

    /// The searches for a cell's end and for a byte find what a byte by
    /// byte scan finds, sixteen bytes at a time or eight, from any start.
    #[test]
    fn searches_find_what_a_scan_finds() {
        let alphabet = [
            b'a', b';', b'"', b'\r', b'\n', b'\t', 0xc3, 0xb8, 0x0b, b' ',
        ];
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        for case in 0..4_000 {
            let len = (next() % if case % 2 == 0 { 80 } else { 20 }) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let from = (next() as usize) % (len + 1);
            let d = [b';', b'\t', b'"'][case % 3];
            let scan =
                |hit: &dyn Fn(u8) -> bool| (from..len).find(|i| hit(bytes[*i])).unwrap_or(len);
            let end = scan(&|b| b == d || b == b'\r' || b == b'\n');
            let quote = scan(&|b| b == b'"');
            for wide in [false, true] {
                assert_eq!(
                    find_cell_end_by(&bytes, from, d, wide),
                    end,
                    "{bytes:?} {from}"
                );
                assert_eq!(
                    find_byte_by(&bytes, from, b'"', wide),
                    quote,
                    "{bytes:?} {from}"
                );
            }
        }
    }

    #[test]
    fn records_hold_their_values_however_the_row_lies() {
        // Columns out of the fields' order, a long unmapped column between
        // mapped ones, quoted cells (one with doubled quotes, unescaped
        // apart from the row), white space to trim, a blank row, CRLF.
        let long = "x".repeat(40);
        let text = format!(
            "Poststed;Kundenummer;Notat;Navn;E-post;Aktiv\r\n\
             Oslo; 001 ;{long};\"Acme; AS\";a@b.no;ja\r\n\
             \"Bodø\";002;;\"Sa \"\"Ø\"\" AS\" ; c@d.no ;nei\r\n\
             ; ;;;;\r\n\
             Tromsø;003;kort;Nord AS;;\r\n"
        );
        let out = read_ok(text.as_bytes(), Kind::Customer, &ReadOptions::default());
        assert_eq!(out.blank_rows, 1);
        // (line, number, name, city, email, active)
        let expect = [
            (2, "001", "Acme; AS", "Oslo", "a@b.no", "ja"),
            (3, "002", "Sa \"Ø\" AS", "Bodø", "c@d.no", "nei"),
            // An empty `active` cell in a column with values: inactive.
            (5, "003", "Nord AS", "Tromsø", "", "nei"),
        ];
        assert_eq!(out.records.len(), expect.len());
        for (r, (line, number, name, city, email, active)) in out.records.iter().zip(expect) {
            let made = crate::schema::Record::from_pairs(
                Kind::Customer,
                &[
                    (Field::Number, number),
                    (Field::Name, name),
                    (Field::City, city),
                    (Field::Email, email),
                    (Field::Active, active),
                ],
            );
            assert!(r.same_values(&made), "{r:?} against {made:?}");
            assert_eq!(r.line, line);
            assert_eq!(
                r.values().collect::<Vec<_>>(),
                made.values().collect::<Vec<_>>()
            );
        }
    }

    /// Excel for Mac's "CSV (Macintosh)" ends its lines with a carriage
    /// return alone: each is a line, for records, row errors and the
    /// line numbers after a quoted line break, as in a file of line feeds.
    #[test]
    fn lone_carriage_returns_end_lines_too() {
        let text =
            "Kundenummer;Navn\r0001;Acme\r\r;Uten nummer\r0002;\"To\rlinjer\"\r0003;C\r\n0004;D\n";
        for text in [
            text.to_string(),
            text.replace("\r\n", "\n").replace('\r', "\n"),
        ] {
            let out = read_ok(text.as_bytes(), Kind::Customer, &ReadOptions::default());
            let lines: Vec<u32> = out.records.iter().map(|r| r.line).collect();
            assert_eq!(lines, [2, 5, 7, 8], "{text:?}");
            let errors: Vec<u32> = out.errors.iter().map(|e| e.line).collect();
            assert_eq!(errors, [4], "{text:?}");
            let quoted = if text.contains('\r') {
                "To\rlinjer"
            } else {
                "To\nlinjer"
            };
            assert_eq!(out.records[1].get(Field::Name), quoted);
        }
    }

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
        // The line ends as any line does; a carriage return alone is
        // Excel's "CSV (Macintosh)".
        for text in [
            "sep=;\nnumber;name\n1;A\n",
            "sep=;\r\nnumber;name\r\n1;A\r\n",
            "sep=;\rnumber;name\r1;A\r",
        ] {
            let out = read_ok(text.as_bytes(), Kind::Customer, &ReadOptions::default());
            assert_eq!(out.delimiter, Some(';'), "{text:?}");
            assert!(out.has_header, "{text:?}");
            assert_eq!(out.records.len(), 1, "{text:?}");
            assert_eq!(out.records[0].line, 3, "{text:?}");
            assert_eq!(out.records[0].get(Field::Name), "A", "{text:?}");
        }

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

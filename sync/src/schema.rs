//! The record schema: which kinds of record Partnersync keeps in step
//! (customers, employees), their fields, the key, the fields each side
//! requires, and the `Record` that holds one row's raw values.
//!
//! Everything else in the crate names fields through `Field` and finds them in
//! a record by the kind's field list, so adding a field is a change here only.

use std::sync::Arc;

use crate::append::same_bytes;

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

/// Per field (`Field as usize`), its position in `fields`, or `NO_SLOT`:
/// `index_of` is a table lookup, not a scan (it runs for every value a
/// million records are read by).
const fn slots(fields: &[Field]) -> [u8; ALL_FIELDS.len()] {
    let mut t = [NO_SLOT; ALL_FIELDS.len()];
    let mut i = 0;
    while i < fields.len() {
        t[fields[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const NO_SLOT: u8 = u8::MAX;
const CUSTOMER_SLOTS: [u8; ALL_FIELDS.len()] = slots(CUSTOMER_FIELDS);
const EMPLOYEE_SLOTS: [u8; ALL_FIELDS.len()] = slots(EMPLOYEE_FIELDS);

pub(crate) const ALL_FIELDS: &[Field] = &[
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
        let slots = match self {
            Kind::Customer => &CUSTOMER_SLOTS,
            Kind::Employee => &EMPLOYEE_SLOTS,
        };
        match slots.get(field as usize) {
            Some(&NO_SLOT) | None => None,
            Some(&i) => Some(usize::from(i)),
        }
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

/// Most values a record holds: the field count of the widest kind.
pub const MAX_VALUES: usize = 12;

// Every kind's values must fit a record's fixed table of ends.
const _: () = assert!(CUSTOMER_FIELDS.len() <= MAX_VALUES && EMPLOYEE_FIELDS.len() <= MAX_VALUES);

/// One record of one side: the raw value of every field of its kind (as read,
/// trimmed of nothing, for display and writing), in `kind.fields()` order.
/// `active` is kept canonically as `"true"`/`"false"` in its slot so that the
/// comparison treats it like any other field.
///
/// The values live in one string, one after another, with a fixed table of
/// where each ends (16 bits each: 12 for the end, as a record holds far
/// less than 4 KiB, and 4 for a gap before the value; a record that holds
/// more keeps its table in its text, see `place`), rather than in a string
/// each. A record read from a row of a CSV file is its row's text copied
/// in one piece, the delimiters and quotes between its values left in as
/// gaps (`TextBlocks::push_from_row`). Records read from one file
/// share blocks of that text (`TextBlocks`): a million-row file takes a few
/// thousand allocations rather than millions, and cloning a record does not
/// copy its text (a record that outlives the others of its block keeps the
/// block, at most 32 KiB, alive). `set` gives the record text of its own;
/// records are read far more often than changed. Equality compares values,
/// not where they are kept. On the wire a record is still
/// `{"kind", "values": [..], "line"}`.
#[derive(Clone)]
pub struct Record {
    pub kind: Kind,
    /// 1-based line of the file the record came from; 0 when it did not come
    /// from a file.
    pub line: u32,
    /// How many values the record holds: `kind.fields().len()`, unless it
    /// was deserialized from a list of another length; with `WIDE` set
    /// when its values take more than 4 KiB, `INACTIVE` when its `active`
    /// value is `"false"`, and `GAPS` when text lies between its values.
    len: u8,
    /// Where the values start in `text`: a block's records start in its
    /// first 64 KiB (`TextBlocks::make_room`), a record of its own at 0.
    start: u16,
    /// Where value `i` ends, counted from `start` (`END_BITS`); it starts
    /// where value `i - 1` ends, plus its gap (the bits above). Unused
    /// entries repeat the last end, with no gap. Unused in a `WIDE` record.
    ends: [u16; MAX_VALUES],
    /// A `String` rather than a `str` so that a full block is shared as it
    /// is, without copying it.
    text: Arc<String>,
}

// A million records are read, kept and compared at a time: 40 bytes each
// rather than 48 (a `u32` start took the other eight, with padding).
const _: () = assert!(std::mem::size_of::<Record>() <= 40);

/// Where one record's values are in a text block, before the block is
/// shared.
struct Placed {
    line: u32,
    len: u8,
    start: u16,
    ends: [u16; MAX_VALUES],
}

/// The flag of `Record::len` for a record whose values take more than a
/// table of `END_BITS` ends reaches: its table is in its text instead.
const WIDE: u8 = 0x80;

/// The bits of an entry of `Record::ends` that hold the end; the bits
/// above hold the gap between the value and the one before it.
const END_BITS: u16 = 0x0fff;
const GAP_SHIFT: u32 = 12;
/// The widest gap an entry holds.
const MAX_GAP: usize = (u16::MAX >> GAP_SHIFT) as usize;
/// Most bytes the values of a record that is not `WIDE` take, gaps
/// included.
const NARROW_BYTES: usize = END_BITS as usize;

/// The flag of `Record::len` for a record whose `active` value is
/// `"false"`: read by `active` without a look at the text, since the
/// categorizer asks it of every record.
const INACTIVE: u8 = 0x40;

/// The flag of `Record::len` for a record with text between its values
/// (read from a row: `TextBlocks::push_from_row`). Two records without it
/// hold the same values exactly when their ends and texts are the same.
const GAPS: u8 = 0x20;

/// `INACTIVE` when `values` (of `kind`'s fields) make a record inactive.
fn inactive_flag(kind: Kind, values: &[&str]) -> u8 {
    match kind.index_of(Field::Active).and_then(|i| values.get(i)) {
        Some(&"false") => INACTIVE,
        _ => 0,
    }
}

/// Digits of one end in a `WIDE` record's table: 32 bits in hexadecimal.
const WIDE_DIGITS: usize = 8;

/// Appends `values` to `text`; gives the record's `len`, where they start
/// and their ends counted from there, with no gaps. A record takes a few
/// hundred bytes (a read value has at most `max_field_chars` characters);
/// one whose values take more than `NARROW_BYTES` is written `WIDE`: its
/// ends first, as
/// `WIDE_DIGITS` hexadecimal digits each, then its values.
fn place(text: &mut String, values: &[&str]) -> (u8, u16, [u16; MAX_VALUES]) {
    let values = &values[..values.len().min(MAX_VALUES)];
    let start = start_of(text);
    let total: usize = values.iter().map(|v| v.len()).sum();
    let mut ends = [0u16; MAX_VALUES];
    if total > NARROW_BYTES {
        place_wide(text, values);
        return (values.len() as u8 | WIDE, start, ends);
    }
    let mut end = 0u16;
    for (i, slot) in ends.iter_mut().enumerate() {
        if let Some(v) = values.get(i) {
            crate::append::push_str(text, v);
            // No overflow: the total fits.
            end += v.len() as u16;
        }
        *slot = end;
    }
    (values.len() as u8, start, ends)
}

#[cold]
fn place_wide(text: &mut String, values: &[&str]) {
    use std::fmt::Write;
    let mut end = 0u32;
    for i in 0..MAX_VALUES {
        if let Some(v) = values.get(i) {
            end = u32::try_from(v.len()).map_or(u32::MAX, |n| end.saturating_add(n));
        }
        let _ = write!(text, "{end:08x}");
    }
    for v in values {
        text.push_str(v);
    }
}

/// Where the values of a record read from a row go: the first `covered`
/// lie in the row in order, each at most `MAX_GAP` bytes after the one
/// before, and are copied with the row's text between them as one piece,
/// `row[from..to]`; the others (unescaped cells, the canonical `active`)
/// are appended after it one by one. `bytes` is the text it takes;
/// `gaps`, whether text lies between the values copied.
struct RowLayout {
    covered: usize,
    from: usize,
    to: usize,
    bytes: usize,
    gaps: bool,
}

/// The layout of a record of `values` (at most `MAX_VALUES`), of which
/// those taken from the row are slices of `row`, with the record's `ends`;
/// `None` when its text would take more than a record without gaps can
/// hold (then it is `place`d).
fn row_layout(values: &[&str], row: &str, ends: &mut [u16; MAX_VALUES]) -> Option<RowLayout> {
    // Where a value is in the row, if it is a slice of it: an address
    // comparison, which a value of other text fails (its offset wraps or
    // runs past the row).
    let base = row.as_ptr() as usize;
    let offset = |v: &str| (v.as_ptr() as usize).wrapping_sub(base);
    // The piece starts at the first value (the number: never empty).
    let from = values.first().map_or(0, |v| offset(v)).min(row.len());
    let mut to = from;
    let mut covered = values.len();
    let mut gaps = 0;
    for (i, v) in values.iter().enumerate() {
        // An empty value sits where the one before ends.
        if !v.is_empty() {
            let at = offset(v);
            // Wrapped when before the previous value's end: not in order.
            let gap = at.wrapping_sub(to);
            if gap > MAX_GAP {
                covered = i;
                break;
            }
            to = at + v.len();
            gaps |= gap;
            // Kept only if the piece fits, checked below.
            ends[i] = (to.wrapping_sub(from) as u16 & END_BITS) | ((gap as u16) << GAP_SHIFT);
        } else {
            ends[i] = to.wrapping_sub(from) as u16 & END_BITS;
        }
    }
    // Each value starts at most `MAX_GAP` bytes after the one before, so
    // the piece holds them all when it lies in the row (a value of other
    // text just past the row's end would not) and fits a table of ends.
    // A slice of `row` starts and ends at character boundaries; `get`
    // checks that all the same, as the copy relies on it.
    if to - from > NARROW_BYTES {
        return None;
    }
    row.get(from..to)?;
    let mut end = to - from;
    for (i, slot) in ends.iter_mut().enumerate().skip(covered) {
        if let Some(v) = values.get(i) {
            end += v.len();
        }
        *slot = u16::try_from(end).ok().filter(|e| *e <= END_BITS)?;
    }
    Some(RowLayout {
        covered,
        from,
        to,
        bytes: end,
        gaps: gaps != 0,
    })
}

/// Where a record whose values are appended to `text` now starts: within
/// a block's first 64 KiB (`TextBlocks::make_room`), or 0 in a text of its
/// own.
fn start_of(text: &str) -> u16 {
    debug_assert!(text.len() <= usize::from(u16::MAX));
    u16::try_from(text.len()).unwrap_or(u16::MAX)
}

/// Text blocks that records read together share: the reader adds each
/// record's values to the current block, and once the block is full it is
/// frozen and its records are handed out.
pub(crate) struct TextBlocks {
    kind: Kind,
    text: String,
    placed: Vec<Placed>,
}

impl TextBlocks {
    /// Bytes of values per block: a few hundred rows of a usual file. A
    /// record keeps its whole block alive, so blocks stay small.
    const BLOCK_BYTES: usize = 32 * 1024;

    pub(crate) fn new(kind: Kind) -> Self {
        TextBlocks {
            kind,
            text: String::new(),
            placed: Vec::new(),
        }
    }

    /// Records added and not yet handed out.
    pub(crate) fn pending(&self) -> usize {
        self.placed.len()
    }

    /// Adds a record of `values`; it reaches `out` with its block, at a later
    /// `push` or at `flush`, in the order records were added.
    pub(crate) fn push(&mut self, line: u32, values: &[&str], out: &mut Vec<Record>) {
        let mut bytes: usize = values.iter().map(|v| v.len()).sum();
        if bytes > NARROW_BYTES {
            bytes += MAX_VALUES * WIDE_DIGITS;
        }
        self.make_room(bytes, out);
        let (len, start, ends) = place(&mut self.text, values);
        self.placed.push(Placed {
            line,
            len: len | inactive_flag(self.kind, values),
            start,
            ends,
        });
    }

    /// `push` of a record read from a row of `row`'s text: `values` that
    /// are slices of `row` are copied from it in one piece where they lie
    /// in order (`row_layout`), rather than one by one.
    pub(crate) fn push_from_row(
        &mut self,
        line: u32,
        values: &[&str],
        row: &str,
        out: &mut Vec<Record>,
    ) {
        let values = &values[..values.len().min(MAX_VALUES)];
        let mut ends = [0; MAX_VALUES];
        let Some(layout) = row_layout(values, row, &mut ends) else {
            return self.push(line, values, out);
        };
        self.make_room(layout.bytes, out);
        let start = start_of(&self.text);
        self.text
            .push_str(row.get(layout.from..layout.to).unwrap_or(""));
        for v in &values[layout.covered..] {
            crate::append::push_str(&mut self.text, v);
        }
        let gaps = if layout.gaps { GAPS } else { 0 };
        self.placed.push(Placed {
            line,
            len: values.len() as u8 | inactive_flag(self.kind, values) | gaps,
            start,
            ends,
        });
    }

    /// Flushes the current block unless `bytes` more fit in it; gives a
    /// new block its buffer.
    /// A block is at most `BLOCK_BYTES` unless its one record is larger,
    /// but a record with no text still fits after that one: a block takes
    /// no record past its first 64 KiB, where `Record::start` reaches.
    fn make_room(&mut self, bytes: usize, out: &mut Vec<Record>) {
        if !self.text.is_empty()
            && (self.text.len() + bytes > self.text.capacity()
                || self.text.len() > usize::from(u16::MAX))
        {
            self.flush(out);
        }
        if self.text.capacity() == 0 {
            self.text.reserve_exact(Self::BLOCK_BYTES.max(bytes));
        }
    }

    /// Freezes the current block and hands out its records.
    pub(crate) fn flush(&mut self, out: &mut Vec<Record>) {
        if self.placed.is_empty() {
            return;
        }
        // The next block gets a buffer of its own when its first record
        // comes; this one is shared as it is.
        let text = Arc::new(std::mem::take(&mut self.text));
        out.extend(self.placed.drain(..).map(|p| Record {
            kind: self.kind,
            line: p.line,
            len: p.len,
            start: p.start,
            ends: p.ends,
            text: Arc::clone(&text),
        }));
    }
}

impl Record {
    /// An empty, active record of `kind`.
    pub fn new(kind: Kind) -> Record {
        Record::from_pairs(kind, &[])
    }

    /// A record holding `values` (at most `MAX_VALUES`; any further ones are
    /// dropped) in text of its own.
    pub(crate) fn from_values(kind: Kind, line: u32, values: &[&str]) -> Record {
        let mut text = String::with_capacity(values.iter().map(|v| v.len()).sum());
        let (len, start, ends) = place(&mut text, values);
        Record {
            kind,
            line,
            len: len | inactive_flag(kind, values),
            start,
            ends,
            text: Arc::new(text),
        }
    }

    /// The values, joined with their gaps (not of a `WIDE` record).
    fn joined(&self) -> &str {
        let start = self.start as usize;
        let end = start + usize::from(self.ends[MAX_VALUES - 1] & END_BITS);
        self.text.get(start..end).unwrap_or("")
    }

    /// Builds a record from `(field, value)` pairs; fields the kind lacks are
    /// ignored and `active` defaults to true.
    pub fn from_pairs(kind: Kind, pairs: &[(Field, &str)]) -> Record {
        // Empty values, active, then a `set` per pair, with the text built
        // once rather than once per pair.
        let n = kind.fields().len().min(MAX_VALUES);
        let mut values = [""; MAX_VALUES];
        if let Some(last) = values[..n].last_mut() {
            *last = "true";
        }
        for (f, v) in pairs {
            let Some(i) = kind.index_of(*f).filter(|i| *i < n) else {
                continue;
            };
            values[i] = if *f != Field::Active {
                v
            } else if crate::read::mapping::parse_active(v).unwrap_or(true) {
                "true"
            } else {
                "false"
            };
        }
        Record::from_values(kind, 0, &values[..n])
    }

    /// The number of values, normally `kind.fields().len()`.
    fn count(&self) -> usize {
        usize::from(self.len & !(WIDE | INACTIVE | GAPS))
    }

    /// The raw value in slot `i` (the `i`th of `kind.fields()`), or `""`
    /// past the end.
    #[inline]
    pub fn value_at(&self, i: usize) -> &str {
        if i >= self.count() {
            return "";
        }
        if self.len & WIDE != 0 {
            return self.wide_value(i);
        }
        let (start, end) = self.bounds(i);
        self.text.get(start..end).unwrap_or("")
    }

    /// Where value `i` (below `MAX_VALUES`) of a record that is not `WIDE`
    /// starts and ends in its text: where value `i - 1` ends, plus its gap.
    fn bounds(&self, i: usize) -> (usize, usize) {
        let base = self.start as usize;
        let entry = self.ends[i];
        let after = match i.checked_sub(1) {
            Some(before) => usize::from(self.ends[before] & END_BITS),
            None => 0,
        };
        (
            base + after + usize::from(entry >> GAP_SHIFT),
            base + usize::from(entry & END_BITS),
        )
    }

    /// `value_at` of a `WIDE` record: its ends are read from its text.
    #[cold]
    fn wide_value(&self, i: usize) -> &str {
        let table = self.start as usize;
        let end_of = |j: usize| {
            let at = table + j * WIDE_DIGITS;
            self.text
                .get(at..at + WIDE_DIGITS)
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .unwrap_or(0)
        };
        let base = table + MAX_VALUES * WIDE_DIGITS;
        let start = base + if i == 0 { 0 } else { end_of(i - 1) };
        self.text.get(start..base + end_of(i)).unwrap_or("")
    }

    /// The raw values in `kind.fields()` order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.count()).map(|i| self.value_at(i))
    }

    /// The raw value of `field`, or `""` when the kind lacks it.
    #[inline]
    pub fn get(&self, field: Field) -> &str {
        self.kind
            .index_of(field)
            .map(|i| self.value_at(i))
            .unwrap_or("")
    }

    /// Sets `field`'s raw value; a field the kind lacks is ignored.
    /// `active` is stored canonically (anything that does not parse as a
    /// yes/no keeps the record active).
    pub fn set(&mut self, field: Field, value: &str) {
        let Some(i) = self.kind.index_of(field) else {
            return;
        };
        if i >= self.count() {
            return;
        }
        let v = if field == Field::Active {
            if crate::read::mapping::parse_active(value).unwrap_or(true) {
                "true"
            } else {
                "false"
            }
        } else {
            value
        };
        if self.value_at(i) == v {
            return;
        }
        let mut values = [""; MAX_VALUES];
        for (j, slot) in values.iter_mut().enumerate().take(self.count()) {
            *slot = if j == i { v } else { self.value_at(j) };
        }
        *self = Record::from_values(self.kind, self.line, &values[..self.count()]);
    }

    #[inline]
    pub fn number(&self) -> &str {
        self.get(Field::Number)
    }

    pub fn active(&self) -> bool {
        self.len & INACTIVE == 0
    }

    pub fn set_active(&mut self, active: bool) {
        self.set(Field::Active, if active { "true" } else { "false" });
    }

    /// The name people see: the customer's name, or an employee's first and
    /// last name.
    pub fn display_name(&self) -> String {
        self.name_text().into_owned()
    }

    /// `display_name`, borrowed from the record unless it joins two names.
    pub fn name_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self.kind {
            Kind::Customer => Cow::Borrowed(self.get(Field::Name).trim()),
            Kind::Employee => {
                let first = self.get(Field::FirstName).trim();
                let last = self.get(Field::LastName).trim();
                match (first.is_empty(), last.is_empty()) {
                    (false, false) => Cow::Owned(format!("{first} {last}")),
                    (false, true) => Cow::Borrowed(first),
                    _ => Cow::Borrowed(last),
                }
            }
        }
    }
}

impl Record {
    /// Whether `other` is of the same kind and holds the same values
    /// (wherever it was read from).
    pub fn same_values(&self, other: &Record) -> bool {
        if self.kind != other.kind || (self.len ^ other.len) & !GAPS != 0 {
            return false;
        }
        let narrow = self.len & WIDE == 0;
        // A clone is equal without a look at its text; records laid out
        // alike compare their texts at once.
        if self.ends == other.ends
            && ((Arc::ptr_eq(&self.text, &other.text) && self.start == other.start)
                || (narrow && self.joined() == other.joined()))
        {
            return true;
        }
        // Without gaps, the same values are the same ends and text.
        if narrow && (self.len | other.len) & GAPS == 0 {
            return false;
        }
        // Laid out otherwise (a record read from a row beside one loaded
        // from the database, gaps of other widths or text): the same values
        // may still be there.
        self.same_each_value(other)
    }

    /// `same_values` of two records of one kind and count, value by value.
    fn same_each_value(&self, other: &Record) -> bool {
        if (self.len | other.len) & WIDE != 0 {
            return self.values().eq(other.values());
        }
        fn value(r: &Record, i: usize) -> Option<&[u8]> {
            let (start, end) = r.bounds(i);
            r.text.as_bytes().get(start..end)
        }
        (0..self.count().min(MAX_VALUES)).all(
            |i| matches!((value(self, i), value(other, i)), (Some(a), Some(b)) if same_bytes(a, b)),
        )
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.line == other.line && self.same_values(other)
    }
}

impl Eq for Record {}

/// The values as a list, for `Debug` and `Serialize`.
struct Values<'a>(&'a Record);

impl std::fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.values()).finish()
    }
}

impl Serialize for Values<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values())
    }
}

// Printed as it was when the values were a `Vec<String>`.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("kind", &self.kind)
            .field("values", &Values(self))
            .field("line", &self.line)
            .finish()
    }
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Record", 3)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("values", &Values(self))?;
        st.serialize_field("line", &self.line)?;
        st.end()
    }
}

/// The wire shape of a `Record`.
#[derive(Deserialize)]
#[serde(rename = "Record")]
struct RecordWire {
    kind: Kind,
    values: Vec<String>,
    #[serde(default)]
    line: u32,
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = RecordWire::deserialize(d)?;
        if w.values.len() > MAX_VALUES {
            return Err(serde::de::Error::invalid_length(
                w.values.len(),
                &"at most 12 values",
            ));
        }
        let values: Vec<&str> = w.values.iter().map(String::as_str).collect();
        Ok(Record::from_values(w.kind, w.line, &values))
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn same_values_looks_at_the_values_alone() {
        let pairs = [(Field::Number, "1"), (Field::Name, "Acme")];
        let a = Record::from_pairs(Kind::Customer, &pairs);
        let mut b = Record::from_pairs(Kind::Customer, &pairs);
        b.line = 7;
        // Another text and line: the same values, not an equal record.
        assert!(a.same_values(&b) && b.same_values(&a));
        assert_ne!(a, b);
        b.set(Field::Name, "Acme AS");
        assert!(!a.same_values(&b));
        // The same text split at another place.
        let ab = Record::from_pairs(Kind::Customer, &[(Field::Name, "ab"), (Field::Street, "")]);
        let a_b = Record::from_pairs(Kind::Customer, &[(Field::Name, "a"), (Field::Street, "b")]);
        assert!(!ab.same_values(&a_b));
        let number = [(Field::Number, "1")];
        assert!(
            !Record::from_pairs(Kind::Customer, &number)
                .same_values(&Record::from_pairs(Kind::Employee, &number))
        );
    }

    #[test]
    fn from_pairs_is_new_then_set_per_pair() {
        let pairs = [
            (Field::Number, "0042"),
            (Field::Name, "Acme"),
            (Field::FirstName, "not a customer field"),
            (Field::Active, "nei"),
            (Field::Name, "Acme AS"),
            (Field::City, ""),
        ];
        for kind in [Kind::Customer, Kind::Employee] {
            let mut expect = Record::new(kind);
            for (f, v) in pairs {
                expect.set(f, v);
            }
            let got = Record::from_pairs(kind, &pairs);
            assert_eq!(got, expect, "{kind:?}");
            assert_eq!(got.get(Field::Number), "0042");
            assert!(!got.active());
        }
        assert_eq!(
            Record::from_pairs(Kind::Customer, &[]),
            Record::new(Kind::Customer)
        );
    }

    /// A record whose values take more than 4 KiB (a caller's raised
    /// field limit, a long value on the wire) keeps them all: its table of
    /// ends is in its text, and it reads, compares and changes like any.
    #[test]
    fn records_over_4_kib_keep_every_value() {
        use crate::read::{ReadOptions, read};
        let long = "Ø".repeat(40_000); // 80,000 bytes
        let other = "x".repeat(70_000);
        let wide = Record::from_pairs(
            Kind::Customer,
            &[
                (Field::Number, "7"),
                (Field::Name, &long),
                (Field::City, "Bergen"),
            ],
        );
        assert_eq!(wide.len & WIDE, WIDE);
        assert_eq!(wide.number(), "7");
        assert_eq!(wide.get(Field::Name), long);
        assert_eq!(wide.get(Field::City), "Bergen");
        assert!(wide.active());
        assert_eq!(wide.values().count(), Kind::Customer.fields().len());
        // Equal to an equal record made apart, not to one that differs only
        // in a later value.
        let same = Record::from_pairs(
            Kind::Customer,
            &[
                (Field::Number, "7"),
                (Field::Name, &long),
                (Field::City, "Bergen"),
            ],
        );
        assert_eq!(wide, same);
        let mut moved = same.clone();
        moved.set(Field::City, "Molde");
        assert_ne!(wide, moved);
        assert_eq!(moved.get(Field::Name), long);
        // Back under 4 KiB, it is a usual record again.
        moved.set(Field::Name, "Kort AS");
        assert_eq!(moved.len & WIDE, 0);
        assert_eq!(
            (moved.get(Field::Name), moved.get(Field::City)),
            ("Kort AS", "Molde")
        );
        let json = serde_json::to_string(&wide).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Record>(&json).ok(), Some(wide));

        // Read from a file among usual rows, with the limit raised.
        let file = format!("Kundenummer;Navn;Poststed\n1;A;Oslo\n2;{other};{long}\n3;C;Bodø\n");
        let mut options = ReadOptions::default();
        options.limits.max_field_chars = 100_000;
        let out = read(file.as_bytes(), Some("k.csv"), Kind::Customer, &options)
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(&str, &str, &str)> = out
            .records
            .iter()
            .map(|r| (r.number(), r.get(Field::Name), r.get(Field::City)))
            .collect();
        assert_eq!(
            got,
            [
                ("1", "A", "Oslo"),
                ("2", other.as_str(), long.as_str()),
                ("3", "C", "Bodø")
            ]
        );
    }

    /// A record read from a row holds the values it was given however
    /// they lie: slices of the row in order with gaps of any width, out of
    /// order, overlapping, of other text, empty, or together too long for
    /// a table of 12-bit ends. Many share each block, and each is equal to
    /// the record of the same values made apart.
    #[test]
    fn records_laid_out_from_rows_hold_their_values() {
        const CHARS: &[char] = &['a', '7', ';', ' ', '"', 'ø', '\u{3000}', 'Ω'];
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let other = String::from("annen tekst, ikke fra raden");
        let mut blocks = TextBlocks::new(Kind::Customer);
        let mut out = Vec::new();
        let mut expected: Vec<Vec<String>> = Vec::new();
        let mut gapped = 0;
        for case in 0..20_000 {
            let chars = if case % 500 == 0 { 3000 } else { next() % 200 };
            let text: String = (0..chars + 8)
                .map(|_| CHARS[(next() % CHARS.len() as u64) as usize])
                .collect();
            // The character boundaries of the text, where slices may start.
            let all: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            // The row is the text but its last characters: a value of the
            // text past the row's end is not the row's.
            let row = &text[..all[all.len() - 1 - (next() % 8) as usize]];
            let bounds = &all[..all.partition_point(|b| *b <= row.len())];
            let past = &text[row.len()..];
            let mut at = 0; // index into `bounds`
            let width = Kind::Customer.fields().len() - (next() % 3) as usize;
            let mut values: Vec<&str> = (0..width)
                .map(|_| match next() % 8 {
                    0 => "",
                    1 => &other[(next() % 5) as usize..],
                    2 if next().is_multiple_of(2) => past,
                    2 => "true",
                    3 => {
                        // Somewhere else in the row, perhaps before.
                        let a = (next() as usize) % bounds.len();
                        let b = (a + (next() % 4) as usize).min(bounds.len() - 1);
                        &row[bounds[a]..bounds[b]]
                    }
                    _ => {
                        // After the previous slice, past a gap of 0 to 19
                        // characters.
                        let a = (at + (next() % 20) as usize).min(bounds.len() - 1);
                        let b = (a + (next() % 6) as usize).min(bounds.len() - 1);
                        at = b;
                        &row[bounds[a]..bounds[b]]
                    }
                })
                .collect();
            if chars > 2000 {
                // More than 4 KiB of values.
                values[1] = row;
            }
            let before = out.len() + blocks.pending();
            blocks.push_from_row(case, &values, row, &mut out);
            assert_eq!(out.len() + blocks.pending(), before + 1);
            if let Some(p) = blocks.placed.last() {
                gapped += usize::from(p.ends.iter().any(|e| e >> GAP_SHIFT != 0));
            }
            expected.push(values.iter().map(|v| v.to_string()).collect());
        }
        blocks.flush(&mut out);
        assert_eq!(out.len(), expected.len());
        // Most records keep gaps: the layout was used, not only `place`.
        assert!(gapped > 1_000, "{gapped}");
        let mut wide = 0;
        for (r, values) in out.iter().zip(&expected) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            assert_eq!(r.values().collect::<Vec<_>>(), values, "line {}", r.line);
            let apart = Record::from_values(Kind::Customer, r.line, &values);
            assert!(r.same_values(&apart) && apart.same_values(r), "{r:?}");
            assert_eq!(*r, apart);
            assert_eq!(r.active(), apart.active());
            wide += usize::from(r.len & WIDE != 0);
            // `GAPS` says whether text lies between the values.
            if r.len & WIDE == 0 {
                let gapped = r.ends[..r.count()].iter().any(|e| e >> GAP_SHIFT != 0);
                assert_eq!(r.len & GAPS != 0, gapped, "{r:?}");
            }
            // A change reads back, and back again gives an equal record.
            let mut changed = r.clone();
            changed.set(Field::Name, "Endret AS");
            assert_eq!(changed.get(Field::Name), "Endret AS");
            if r.get(Field::Name) != "Endret AS" {
                assert!(!changed.same_values(r) && !r.same_values(&changed));
            }
            changed.set(Field::Name, r.get(Field::Name));
            assert!(changed.same_values(r));
        }
        assert!(wide > 0);
    }

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
        // The slot tables say what a scan of the field lists would.
        for kind in [Kind::Customer, Kind::Employee] {
            for f in ALL_FIELDS {
                assert_eq!(
                    kind.index_of(*f),
                    kind.fields().iter().position(|x| x == f),
                    "{kind:?} {f}"
                );
            }
        }
    }

    /// A record larger than 64 KiB takes a block of its own; records with
    /// no text at all, which still fit after it, go to the next block, so
    /// every record starts where its 16-bit start reaches.
    #[test]
    fn records_after_a_huge_one_start_in_reach() {
        let fields = Kind::Customer.fields().len();
        let big = "x".repeat(8000);
        let huge = vec![big.as_str(); fields];
        let empty = vec![""; fields];
        let small: Vec<String> = (0..fields).map(|i| format!("v{i}")).collect();
        let small: Vec<&str> = small.iter().map(String::as_str).collect();
        let mut blocks = TextBlocks::new(Kind::Customer);
        let mut out = Vec::new();
        let rows = [&small, &huge, &empty, &empty, &small, &huge, &small];
        for (line, values) in rows.iter().enumerate() {
            blocks.push(line as u32, values, &mut out);
        }
        blocks.flush(&mut out);
        assert_eq!(out.len(), rows.len());
        for (r, values) in out.iter().zip(rows) {
            assert_eq!(r.values().collect::<Vec<_>>(), *values, "line {}", r.line);
            assert_eq!(r, &Record::from_values(Kind::Customer, r.line, values));
        }
    }

    /// `active` is kept as a flag beside the text: it must say what the
    /// text says however the record was made or changed.
    #[test]
    fn the_active_flag_follows_the_active_value() {
        let says = |r: &Record| r.get(Field::Active) != "false";
        let mut records = vec![
            Record::new(Kind::Customer),
            Record::from_pairs(Kind::Customer, &[(Field::Active, "nei")]),
            Record::from_pairs(Kind::Employee, &[(Field::Active, "no")]),
            Record::from_pairs(Kind::Employee, &[(Field::Active, "x")]),
            Record::from_values(Kind::Customer, 3, &["1", "A"]),
        ];
        let mut blocks = TextBlocks::new(Kind::Customer);
        let fields = Kind::Customer.fields().len();
        let mut values = vec![""; fields];
        values[fields - 1] = "false";
        blocks.push(7, &values, &mut records);
        values[fields - 1] = "true";
        blocks.push(8, &values, &mut records);
        blocks.flush(&mut records);
        for r in records.clone() {
            for active in [false, true, false] {
                let mut changed = r.clone();
                changed.set_active(active);
                // A record of two values has no `active` to set.
                assert_eq!(changed.active(), says(&changed));
                assert_eq!(
                    changed.active(),
                    active || changed.count() < changed.kind.fields().len()
                );
                let back: Record =
                    serde_json::from_value(serde_json::to_value(&changed).unwrap_or_default())
                        .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(back.active(), changed.active());
            }
        }
        let flags: Vec<bool> = records.iter().map(Record::active).collect();
        assert_eq!(flags, [true, false, false, true, true, false, true]);
        assert!(records.iter().all(|r| r.active() == says(r)));
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

    #[test]
    fn records_keep_their_wire_shape() {
        let mut r = Record::from_pairs(
            Kind::Customer,
            &[
                (Field::Number, "7"),
                (Field::City, "Bø"),
                (Field::Name, "Å AS"),
            ],
        );
        r.line = 3;
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"kind":"customer","values":["7","Å AS","","","","Bø","","","","","","true"],"line":3}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&json).ok(), Some(r.clone()));
        assert_eq!(
            format!("{r:?}"),
            r#"Record { kind: Customer, values: ["7", "Å AS", "", "", "", "Bø", "", "", "", "", "", "true"], line: 3 }"#
        );
        assert_eq!(r.values().len(), 12);

        // Setting a value back to what it was gives an equal record.
        let before = r.clone();
        r.set(Field::City, "Oslo");
        assert_eq!(r.get(Field::City), "Oslo");
        assert_eq!(r.get(Field::Name), "Å AS");
        assert_ne!(r, before);
        r.set(Field::City, "Bø");
        assert_eq!(r, before);

        // A short list (from an older or foreign writer) reads as before:
        // missing values are empty and cannot be set; `line` defaults to 0.
        let short: Record = serde_json::from_str(r#"{"kind":"employee","values":["1","Kari"]}"#)
            .unwrap_or_else(|_| Record::new(Kind::Customer));
        assert_eq!((short.kind, short.line), (Kind::Employee, 0));
        assert_eq!(short.values().collect::<Vec<_>>(), ["1", "Kari"]);
        assert!(short.active());
        let mut s2 = short.clone();
        s2.set(Field::City, "Oslo");
        assert_eq!(s2, short);
        let too_many = format!(r#"{{"kind":"customer","values":{:?}}}"#, ["x"; 13]);
        assert!(serde_json::from_str::<Record>(&too_many).is_err());
    }
}

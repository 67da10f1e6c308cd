//! The service layer: every use case of the product, called alike by the
//! REST handlers, the CLI and the scheduler. Handlers only translate
//! HTTP to these calls; no domain rule lives in a handler or in the store.

pub mod connections;
pub mod registers;
pub mod runs;
pub mod session;
pub mod sync;
pub mod users;

/// Reads an import's file as `sync::read::read` does, a large CSV file in
/// parts on the machine's cores at once (`sync::read::parts`): the same
/// records, errors and lines, sooner. Every file the server reads goes
/// through here.
pub fn read_file(
    bytes: &[u8],
    name: Option<&str>,
    kind: ::sync::schema::Kind,
    options: &::sync::read::ReadOptions,
) -> Result<::sync::read::ReadOutput, ::sync::read::ReadError> {
    ::sync::read::parts::read_threaded(bytes, name, kind, options, cores())
}

/// `read_file`, and the hashes of the rows of a CSV file
/// (`sync::read::RowHashes`; `None` for an xlsx file), in the same read.
pub fn read_file_with_rows(
    bytes: &[u8],
    name: Option<&str>,
    kind: ::sync::schema::Kind,
    options: &::sync::read::ReadOptions,
) -> Result<(::sync::read::ReadOutput, Option<::sync::read::RowHashes>), ::sync::read::ReadError> {
    use ::sync::read::{Format, Records, WithRowHashes};
    let (mut out, sink) =
        ::sync::read::parts::read_threaded_into(bytes, name, kind, options, cores(), || {
            WithRowHashes::new(Records::new(kind))
        })?;
    out.records = sink.sink.records;
    let rows = (out.format == Format::Csv).then_some(sink.rows);
    Ok((out, rows))
}

/// `sync::track::diff` on the machine's cores at once: the same diff,
/// sooner. Every diff the server makes goes through here.
pub fn diff(
    snapshot: &::sync::track::Snapshot,
    records: &[::sync::schema::Record],
) -> ::sync::track::Diff {
    ::sync::track::diff_threaded(snapshot, records, cores())
}

/// The threads a read or a diff uses: the machine's cores, at most eight.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

//! The Partnersync engine and the REST API's wire types.
//!
//! This crate owns everything that must give the same answer in the browser
//! (compiled to wasm32) and on the server: the wire types of `/api/v1`
//! (`protocol`) and, beside them, the synchronization engine. It does no I/O:
//! no files, network, clock or randomness of its own; callers pass bytes,
//! time and ids in and get values out. It must never depend on tokio, sqlx,
//! axum, leptos or wasm-bindgen.
//!
//! The engine, in the order data flows through it:
//! - `schema`: kinds, fields, required fields, `Record`;
//! - `read`: CSV and xlsx bytes to records and row errors;
//! - `rules`: number rules of their side and the matching key;
//! - `normalize`: comparison forms and the FNV-1a 64 hash;
//! - `state`: links, bases (`base`: one text per base), "Don't synchronize" marks, pending changes;
//! - `categorize`: the six categories of the synchronization window;
//! - `suggest`: ranked partner candidates for New records;
//! - `plan`: actions and the pure `apply`;
//! - `track`: snapshots, diffs and the deletion guard;
//! - `fingerprint`: the compact state a browser previews against;
//! - `report`: outcomes of a run, counted and detailed;
//! - `cli_output`: the answers of the `inspect`, `preview` and `diff`
//!   commands;
//! - `append` (private): short copies as loads and stores, not a call each.
//!
//! Invariants: no `usize` in serialized types; no hash-map iteration order
//! in any output (rows are sorted, maps are `BTreeMap`); hashes are the
//! crate's own FNV-1a, never std's `DefaultHasher`.

mod append;
pub mod base;
pub mod categorize;
pub mod cli_output;
pub mod fingerprint;
pub mod fuzzing;
pub mod normalize;
pub mod plan;
pub mod protocol;
pub mod read;
pub mod report;
pub mod rules;
pub mod schema;
pub mod state;
pub mod suggest;
pub mod track;

/// A small deterministic generator (xorshift64) for the tests that try
/// many random cases: the same cases on every run and on wasm32.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

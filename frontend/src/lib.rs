//! The WebAssembly bundle's entry points: `hydrate` mounts the `app`
//! crate's root component over the server-rendered shell; `preview_file`
//! and `preview_part` are what the preview worker (`public/preview-worker.js`)
//! and its helpers call, off the page's main thread. Everything else lives
//! in `app` and `sync`.

use std::cell::RefCell;

use app::preview::{
    PreviewResult, plan_parts, preview_part as read_part_for, preview_parts, read_own_part,
};
use std::sync::Arc;

use sync::fingerprint::{Fingerprint, HashSpec, KnownRows};
use sync::protocol::ImportOptions;
use sync::read::parts::{self, HEAD_BYTES, PartPlan};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The fingerprint this worker was last sent, decoded: the page sends
    /// none while the server answers that it is still current (304), so a
    /// second preview neither fetches nor decodes it again.
    static HELD: RefCell<Option<Fingerprint>> = const { RefCell::new(None) };
    /// The held fingerprint's known rows as bytes for the helpers, with the
    /// fingerprint's revision as their name (`KnownRows::to_bytes`): made
    /// when a read in parts first needs them, dropped with the fingerprint.
    static HELD_KNOWN: RefCell<Option<(String, js_sys::Uint8Array)>> = const { RefCell::new(None) };
    /// A helper's: the known rows it was last sent, by that name.
    static HELPER_KNOWN: RefCell<Option<(String, Arc<KnownRows>)>> = const { RefCell::new(None) };
}

/// Files smaller than this are read by one worker: below it, handing parts
/// to helpers costs about what it saves.
const PARTS_FROM_BYTES: f64 = (4 * HEAD_BYTES) as f64;

/// How far past a part's nominal start its first line feed is looked for.
const CUT_WINDOW: f64 = 64.0 * 1024.0;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

/// Reads `file` (with gloo-file), parses it with the `sync` crate and
/// previews the categories against the server's `fingerprint`, or, when
/// none is given, the one this worker holds from an earlier call. Reports
/// progress through `progress(stage, percent)`. Answers the
/// `app::preview::PreviewResult` as JSON.
///
/// With `helpers` (the number of helper workers) above 0, a large CSV file
/// is read in parts: `dispatch(plan, spec, ranges, known_id, known)` hands
/// the parts after the first (`ranges`: start and end of each) to the
/// helpers, with the fingerprint's known rows (`known`, named `known_id`;
/// sent to a helper that does not hold them yet, else null), and resolves
/// to their answers in order (each `preview_part`'s bytes, or null where a
/// helper failed), while this worker reads the first part; the parts are
/// then put together. Whatever stops that (a cut inside quotes, a helper
/// that failed) means the file is read whole, so the answer is the same.
#[wasm_bindgen]
pub async fn preview_file(
    file: web_sys::File,
    kind: String,
    options_json: String,
    fingerprint: Option<Vec<u8>>,
    progress: js_sys::Function,
    helpers: u32,
    dispatch: js_sys::Function,
) -> Result<String, JsValue> {
    console_error_panic_hook::set_once();
    let report = |stage: &str, pct: f64| {
        let _ = progress.call2(
            &JsValue::NULL,
            &JsValue::from_str(stage),
            &JsValue::from_f64(pct),
        );
    };
    let kind = sync::schema::Kind::parse(&kind).ok_or_else(|| JsValue::from_str("unknown kind"))?;
    let options: ImportOptions = if options_json.is_empty() {
        Default::default()
    } else {
        serde_json::from_str(&options_json).map_err(|e| JsValue::from_str(&e.to_string()))?
    };
    let name = file.name();
    let size = file.size();
    let blob: &web_sys::Blob = file.as_ref();
    let mut cuts = Vec::new();
    let mut plan: Option<PartPlan> = None;
    if helpers > 0 && size >= PARTS_FROM_BYTES {
        let head = read_range(blob, 0.0, HEAD_BYTES as f64).await?;
        plan = plan_parts(&head, size as u64, &name, &options);
        if let Some(p) = &plan {
            cuts = find_cuts(blob, size, helpers as usize + 1).await?;
            // No part starts before the file's first row ends.
            cuts.retain(|c| p.may_start_at(*c as u64));
        }
    }
    let plan = plan.filter(|_| !cuts.is_empty());
    let own_end = cuts.first().copied().unwrap_or(size);
    // The browser reads the file (or its first part) on its own while the
    // fingerprint is decoded here: the read starts now and is awaited after.
    let own = blob
        .slice_with_f64_and_f64(0.0, own_end)
        .map_err(|e| JsValue::from_str(&format!("The file cannot be read: {e:?}")))?;
    let reading = gloo_file::futures::read_as_bytes(&gloo_file::Blob::from(own));
    if let Some(bytes) = fingerprint {
        report("Decoding the server's state", 15.0);
        // The old one goes first: two at once would double the memory.
        HELD.with_borrow_mut(|h| *h = None);
        HELD_KNOWN.with_borrow_mut(|h| *h = None);
        let fp = Fingerprint::decode(&bytes).map_err(|e| JsValue::from_str(&e.to_string()))?;
        drop(bytes);
        HELD.with_borrow_mut(|h| *h = Some(fp));
    }
    // What the helpers hash by: only for a read in parts (it walks every
    // link of the fingerprint).
    let spec = HELD
        .with_borrow(|fp| fp.as_ref().map(|fp| plan.as_ref().map(|_| fp.hash_spec())))
        .ok_or_else(|| JsValue::from_str("The server's state is missing; reload the page."))?;
    // The helpers start on the later parts.
    let others = match (&plan, &spec) {
        (Some(plan), Some(spec)) => {
            let ranges: Vec<f64> = cuts
                .iter()
                .zip(cuts.iter().skip(1).chain(std::iter::once(&size)))
                .flat_map(|(s, e)| [*s, *e])
                .collect();
            let plan_json =
                serde_json::to_string(plan).map_err(|e| JsValue::from_str(&e.to_string()))?;
            let spec_json =
                serde_json::to_string(&spec).map_err(|e| JsValue::from_str(&e.to_string()))?;
            // The known rows as bytes, made the first time helpers need them.
            if HELD_KNOWN.with_borrow(Option::is_none) {
                let made = HELD.with_borrow(|fp| {
                    let fp = fp.as_ref()?;
                    let k = fp.known.as_ref()?;
                    let id = format!("{:016x}", fp.revision);
                    Some((id, js_sys::Uint8Array::from(k.to_bytes().as_slice())))
                });
                HELD_KNOWN.with_borrow_mut(|h| *h = made);
            }
            let (known_id, known) = HELD_KNOWN.with_borrow(|k| match k {
                Some((id, bytes)) => (JsValue::from_str(id), JsValue::from(bytes.clone())),
                None => (JsValue::NULL, JsValue::NULL),
            });
            let args = js_sys::Array::of5(
                &JsValue::from_str(&plan_json),
                &JsValue::from_str(&spec_json),
                &js_sys::Float64Array::from(ranges.as_slice()),
                &known_id,
                &known,
            );
            let promise = dispatch.apply(&JsValue::NULL, &args)?;
            Some(wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(
                promise,
            )))
        }
        _ => None,
    };
    let cannot_read =
        |e: gloo_file::FileReadError| JsValue::from_str(&format!("The file cannot be read: {e}"));
    let mut bytes: Vec<u8> = Vec::new();
    let mut result: Option<PreviewResult> = None;
    if let (Some(plan), Some(spec), Some(others)) = (&plan, &spec, others) {
        // Out of its cell while borrowed across the waits, and back after.
        let fp = HELD
            .with_borrow_mut(Option::take)
            .ok_or_else(|| JsValue::from_str("The server's state is missing; reload the page."))?;
        let outcome = async {
            // The fingerprint's side of the count while this part's bytes
            // arrive (the browser copies them from the file meanwhile).
            let prepared = fp.prepare();
            report("Reading the file", 20.0);
            let own = reading.await.map_err(cannot_read)?;
            report("Parsing and comparing", 50.0);
            // This worker's part while the helpers read theirs.
            let first = read_own_part(plan, true, &own, kind, &options, spec, fp.known.clone());
            drop(own);
            report("Putting the parts together", 80.0);
            let answers = js_sys::Array::from(&others.await?);
            let mut others: Vec<Option<Vec<u8>>> = answers
                .iter()
                .map(|a| a.dyn_into::<js_sys::Uint8Array>().ok().map(|u| u.to_vec()))
                .collect();
            if others.len() != cuts.len() {
                // An answer short: as if a helper had failed.
                others = vec![None];
            }
            let workers = others.len() as u32 + 1;
            preview_parts(
                vec![first],
                others,
                workers,
                kind,
                &options,
                &fp,
                spec,
                prepared,
            )
            .map_err(|e| JsValue::from_str(&e))
        }
        .await;
        HELD.with_borrow_mut(|h| *h = Some(fp));
        result = outcome?;
        if result.is_none() {
            // The parts cannot stand for the file: read it whole.
            report("Reading the file whole", 50.0);
            bytes = gloo_file::futures::read_as_bytes(&gloo_file::Blob::from(blob.clone()))
                .await
                .map_err(cannot_read)?;
        }
    } else {
        report("Reading the file", 20.0);
        bytes = reading.await.map_err(cannot_read)?;
        report("Parsing and comparing", 50.0);
    }
    let result = match result {
        Some(r) => r,
        None => HELD
            .with_borrow(|fp| match fp {
                Some(fp) => app::preview::preview_with(
                    std::mem::take(&mut bytes),
                    &name,
                    kind,
                    &options,
                    fp,
                ),
                None => Err("The server's state is missing; reload the page.".to_string()),
            })
            .map_err(|e| JsValue::from_str(&e))?,
    };
    report("Done", 100.0);
    serde_json::to_string(&result).map_err(|e| JsValue::from_str(&e.to_string()))
}

/// A helper worker's part of a preview: bytes `start..end` of `file`,
/// which begin just past a line feed, read as `plan_json` says into the
/// hashes `spec_json` describes, taking the known rows named `known_id`
/// as known (`known`: their bytes when this helper does not hold them yet;
/// rows that cannot be decoded are only not taken as known). Answers
/// `app::preview::encode_part`'s bytes.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub async fn preview_part(
    file: web_sys::File,
    start: f64,
    end: f64,
    plan_json: String,
    spec_json: String,
    kind: String,
    options_json: String,
    known_id: Option<String>,
    known: Option<Vec<u8>>,
) -> Result<Vec<u8>, JsValue> {
    console_error_panic_hook::set_once();
    let err = |e: String| JsValue::from_str(&e);
    let kind = sync::schema::Kind::parse(&kind).ok_or_else(|| err("unknown kind".into()))?;
    let options: ImportOptions = if options_json.is_empty() {
        Default::default()
    } else {
        serde_json::from_str(&options_json).map_err(|e| err(e.to_string()))?
    };
    let plan: PartPlan = serde_json::from_str(&plan_json).map_err(|e| err(e.to_string()))?;
    let spec: HashSpec = serde_json::from_str(&spec_json).map_err(|e| err(e.to_string()))?;
    if let (Some(id), Some(known)) = (&known_id, known) {
        let decoded = KnownRows::from_bytes(&known).ok().map(Arc::new);
        HELPER_KNOWN.with_borrow_mut(|h| *h = decoded.map(|k| (id.clone(), k)));
    }
    let known = HELPER_KNOWN.with_borrow(|h| match (h, &known_id) {
        (Some((held, k)), Some(id)) if held == id => Some(k.clone()),
        _ => None,
    });
    let bytes = read_range(file.as_ref(), start, end).await?;
    read_part_for(&plan, &bytes, kind, &options, &spec, known).map_err(err)
}

/// Bytes `start..end` of `blob`.
async fn read_range(blob: &web_sys::Blob, start: f64, end: f64) -> Result<Vec<u8>, JsValue> {
    let part = blob
        .slice_with_f64_and_f64(start, end)
        .map_err(|e| JsValue::from_str(&format!("The file cannot be read: {e:?}")))?;
    gloo_file::futures::read_as_bytes(&gloo_file::Blob::from(part))
        .await
        .map_err(|e| JsValue::from_str(&format!("The file cannot be read: {e}")))
}

/// Where the parts after the first start: `parts` parts of about equal
/// size, each cut just past a line feed (a few small reads). A part with
/// no line feed near its nominal start joins the part before.
async fn find_cuts(blob: &web_sys::Blob, size: f64, parts: usize) -> Result<Vec<f64>, JsValue> {
    let mut cuts: Vec<f64> = Vec::new();
    for k in 1..parts {
        let at = (size * k as f64 / parts as f64).floor();
        if cuts.last().is_some_and(|c| *c >= at) {
            continue;
        }
        let window = read_range(blob, at, (at + CUT_WINDOW).min(size)).await?;
        if let Some(n) = parts::cut(&window) {
            let start = at + n as f64;
            if start < size {
                cuts.push(start);
            }
        }
    }
    Ok(cuts)
}

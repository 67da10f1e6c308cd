//! The WebAssembly bundle's entry points: `hydrate` mounts the `app`
//! crate's root component over the server-rendered shell; `preview_file`
//! is what the preview worker (`public/preview-worker.js`) calls, off the
//! page's main thread. Everything else lives in `app` and `sync`.

use std::cell::RefCell;

use sync::fingerprint::Fingerprint;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The fingerprint this worker was last sent, decoded: the page sends
    /// none while the server answers that it is still current (304), so a
    /// second preview neither fetches nor decodes it again.
    static HELD: RefCell<Option<Fingerprint>> = const { RefCell::new(None) };
}

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
#[wasm_bindgen]
pub async fn preview_file(
    file: web_sys::File,
    kind: String,
    options_json: String,
    fingerprint: Option<Vec<u8>>,
    progress: js_sys::Function,
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
    let options: sync::protocol::ImportOptions = if options_json.is_empty() {
        Default::default()
    } else {
        serde_json::from_str(&options_json).map_err(|e| JsValue::from_str(&e.to_string()))?
    };
    let name = file.name();
    // The browser reads the file on its own while the fingerprint is
    // decoded here: the read starts now and is awaited after.
    let reading = gloo_file::futures::read_as_bytes(&gloo_file::File::from(file));
    if let Some(bytes) = fingerprint {
        report("Decoding the server's state", 15.0);
        // The old one goes first: two at once would double the memory.
        HELD.with_borrow_mut(|h| *h = None);
        let fp = Fingerprint::decode(&bytes).map_err(|e| JsValue::from_str(&e.to_string()))?;
        drop(bytes);
        HELD.with_borrow_mut(|h| *h = Some(fp));
    }
    report("Reading the file", 20.0);
    let mut bytes = reading
        .await
        .map_err(|e| JsValue::from_str(&format!("The file cannot be read: {e}")))?;
    report("Parsing and comparing", 50.0);
    let result = HELD
        .with_borrow(|fp| match fp {
            Some(fp) => {
                app::preview::preview_with(std::mem::take(&mut bytes), &name, kind, &options, fp)
            }
            None => Err("The server's state is missing; reload the page.".to_string()),
        })
        .map_err(|e| JsValue::from_str(&e))?;
    report("Done", 100.0);
    serde_json::to_string(&result).map_err(|e| JsValue::from_str(&e.to_string()))
}

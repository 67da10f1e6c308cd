//! The hydrate entry point of the WebAssembly bundle. It only mounts the
//! `app` crate's root component over the server-rendered shell; everything
//! else lives in `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

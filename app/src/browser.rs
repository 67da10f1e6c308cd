//! What only a browser can do: files, the preview worker, downloads,
//! random keys. Outside the browser (server rendering, native tests) these
//! do nothing; pages call them from event handlers only.

/// A file the user chose or dropped.
#[cfg(feature = "hydrate")]
pub type PickedFile = web_sys::File;
#[cfg(not(feature = "hydrate"))]
#[derive(Clone, Debug)]
pub struct PickedFile;

/// Bytes that stay in JavaScript (an `ArrayBuffer` in the browser): large
/// binary answers pass through the page to the worker without a copy.
#[cfg(feature = "hydrate")]
pub type JsBytes = js_sys::ArrayBuffer;
#[cfg(not(feature = "hydrate"))]
pub type JsBytes = Vec<u8>;

/// A message of the preview worker.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerMsg {
    Progress { stage: String, pct: f64 },
    Done(String),
    Error(String),
}

/// The file of an `<input type=file>` change event.
pub fn file_of_input(ev: &leptos::ev::Event) -> Option<PickedFile> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let input: web_sys::HtmlInputElement = ev.target()?.dyn_into().ok()?;
        input.files()?.get(0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// The first file of a drop event.
pub fn file_of_drop(ev: &leptos::ev::DragEvent) -> Option<PickedFile> {
    #[cfg(feature = "hydrate")]
    {
        ev.data_transfer()?.files()?.get(0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

pub fn file_name(f: &PickedFile) -> String {
    #[cfg(feature = "hydrate")]
    {
        f.name()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = f;
        String::new()
    }
}

pub fn file_size(f: &PickedFile) -> f64 {
    #[cfg(feature = "hydrate")]
    {
        f.size()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = f;
        0.0
    }
}

/// A fresh idempotency key.
pub fn random_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let a = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let b = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let t = js_sys::Date::now() as u64;
        format!("ui-{t:x}-{a:08x}{b:08x}")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::from("ui-native")
    }
}

/// Milliseconds since the page started.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Starts the preview worker; `on_msg` gets the progress and answers of
/// every preview it runs. The worker loads the engine at once and lives
/// until the handle is dropped, keeping the last fingerprint it was sent.
pub fn start_worker(on_msg: impl Fn(WorkerMsg) + 'static) -> Result<PreviewWorker, String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::prelude::*;
        let opts = web_sys::WorkerOptions::new();
        opts.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options("/preview-worker.js", &opts)
            .map_err(|e| format!("the preview worker cannot start: {e:?}"))?;
        let handler =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let data = ev.data();
                let get = |k: &str| js_sys::Reflect::get(&data, &JsValue::from_str(k)).ok();
                let ty = get("type").and_then(|v| v.as_string()).unwrap_or_default();
                let msg = match ty.as_str() {
                    "progress" => WorkerMsg::Progress {
                        stage: get("stage").and_then(|v| v.as_string()).unwrap_or_default(),
                        pct: get("pct").and_then(|v| v.as_f64()).unwrap_or(0.0),
                    },
                    "done" => {
                        WorkerMsg::Done(get("json").and_then(|v| v.as_string()).unwrap_or_default())
                    }
                    _ => WorkerMsg::Error(
                        get("message")
                            .and_then(|v| v.as_string())
                            .unwrap_or_else(|| "the preview failed".into()),
                    ),
                };
                on_msg(msg);
            });
        worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        Ok(PreviewWorker {
            worker: Some(worker),
            _handler: Some(handler),
        })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = on_msg;
        Err("not in a browser".into())
    }
}

/// The preview worker.
pub struct PreviewWorker {
    #[cfg(feature = "hydrate")]
    worker: Option<web_sys::Worker>,
    #[cfg(feature = "hydrate")]
    _handler: Option<wasm_bindgen::closure::Closure<dyn Fn(web_sys::MessageEvent)>>,
}

impl PreviewWorker {
    /// Previews `file`. A `fingerprint` is transferred to the worker, not
    /// copied (the page must not use it afterwards: it is empty then), and
    /// replaces the one the worker holds; `None` previews against that one.
    pub fn preview(
        &self,
        file: &PickedFile,
        kind: &str,
        options_json: &str,
        fingerprint: Option<JsBytes>,
    ) -> Result<(), String> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsValue;
            let Some(worker) = self.worker.as_ref() else {
                return Err("the preview worker has ended".into());
            };
            let msg = js_sys::Object::new();
            let set = |k: &str, v: &JsValue| {
                js_sys::Reflect::set(&msg, &JsValue::from_str(k), v).map(|_| ())
            };
            let fp = fingerprint.map_or(JsValue::NULL, JsValue::from);
            set("file", file.as_ref())
                .and_then(|_| set("kind", &JsValue::from_str(kind)))
                .and_then(|_| set("options", &JsValue::from_str(options_json)))
                .and_then(|_| set("fingerprint", &fp))
                .map_err(|e| format!("{e:?}"))?;
            let transfer = if fp.is_null() {
                js_sys::Array::new()
            } else {
                js_sys::Array::of1(&fp)
            };
            worker
                .post_message_with_transfer(&msg, &transfer)
                .map_err(|e| format!("the preview worker cannot start: {e:?}"))
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (file, kind, options_json, fingerprint);
            Err("not in a browser".into())
        }
    }
}

impl Drop for PreviewWorker {
    fn drop(&mut self) {
        #[cfg(feature = "hydrate")]
        if let Some(w) = self.worker.take() {
            w.terminate();
        }
    }
}

/// Offers `text` as a file download.
pub fn download_text(name: &str, text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
        let props = web_sys::BlobPropertyBag::new();
        props.set_type("text/csv;charset=utf-8");
        let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &props) else {
            return;
        };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
            return;
        };
        if let Ok(a) = doc.create_element("a")
            && let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>()
        {
            a.set_href(&url);
            a.set_download(name);
            a.click();
        }
        let _ = web_sys::Url::revoke_object_url(&url);
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (name, text);
    }
}

/// Asks the person to confirm; `false` outside a browser.
pub fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(question).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

// The import preview, off the page's main thread: loads the same
// WebAssembly bundle as the page and calls its `preview_file` (the `sync`
// crate reading the file and categorizing against the server's
// fingerprint). The page keeps this worker for the window's lifetime, so
// the engine loads once and the decoded fingerprint stays here between
// previews. Messages in: {file, kind, options, fingerprint} (fingerprint:
// an ArrayBuffer, or null to use the one sent before); out:
// {type: "progress", stage, pct} | {type: "done", json} | {type: "error", message}.
import init, { preview_file } from "/pkg/partnersync.js";

const ready = init({ module_or_path: "/pkg/partnersync.wasm" });

self.onmessage = async (event) => {
  const { file, kind, options, fingerprint } = event.data;
  const progress = (stage, pct) => self.postMessage({ type: "progress", stage, pct });
  try {
    progress("Loading the engine", 10);
    await ready;
    const fp = fingerprint ? new Uint8Array(fingerprint) : undefined;
    const json = await preview_file(file, kind, options, fp, progress);
    self.postMessage({ type: "done", json });
  } catch (err) {
    self.postMessage({ type: "error", message: String((err && err.message) || err) });
  }
};

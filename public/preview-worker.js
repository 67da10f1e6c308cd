// The import preview, off the page's main thread: loads the same
// WebAssembly bundle as the page and calls its `preview_file` (the `sync`
// crate reading the file and categorizing against the server's
// fingerprint). The page keeps this worker for the window's lifetime, so
// the engine loads once and the decoded fingerprint stays here between
// previews. Messages in: {file, kind, options, fingerprint} (fingerprint:
// an ArrayBuffer, or null to use the one sent before); out:
// {type: "progress", stage, pct} | {type: "done", json} | {type: "error", message}.
//
// The same script runs as this worker's helpers (named "preview-helper"),
// one per further core (at most three): a large CSV file is cut into parts
// and each helper reads one (`preview_part`) while this worker reads the
// first; their answers come back as transferred bytes. The fingerprint's
// known rows (the rows of the import the server has) go to each helper
// once per fingerprint, named by its revision; a helper keeps the last.
// Helper messages in: {type: "part", id, file, start, end, plan, spec,
// kind, options, knownId, known (bytes, or null when sent before)}; out:
// {type: "part-done", id, bytes} | {type: "part-error", id, message}.
// A worker named "preview-single" starts no helpers and reads every file
// whole: the browser benchmark's one-worker baseline.
import init, { preview_file, preview_part } from "/pkg/partnersync.js";

const ready = init({ module_or_path: "/pkg/partnersync.wasm" });
const isHelper = self.name === "preview-helper";

const helpers = [];
if (!isHelper && self.name !== "preview-single") {
  const cores = self.navigator.hardwareConcurrency || 1;
  for (let i = 0; i < Math.min(3, cores - 1); i++) {
    try {
      const worker = new Worker(new URL(import.meta.url), { type: "module", name: "preview-helper" });
      const pending = new Map();
      worker.onmessage = (event) => {
        const { id, type, bytes } = event.data;
        const resolve = pending.get(id);
        pending.delete(id);
        if (resolve) resolve(type === "part-done" ? new Uint8Array(bytes) : null);
      };
      // A helper that fails answers nothing more: its parts count as failed.
      worker.onerror = () => {
        for (const resolve of pending.values()) resolve(null);
        pending.clear();
      };
      helpers.push({ worker, pending, knownId: null });
    } catch {
      // No nested workers here: this worker reads every file whole.
    }
  }
}

let nextId = 1;

self.onmessage = async (event) => {
  if (event.data.type === "part") {
    const { id, file, start, end, plan, spec, kind, options, knownId, known } = event.data;
    try {
      await ready;
      const bytes = await preview_part(
        file, start, end, plan, spec, kind, options, knownId ?? undefined, known ?? undefined,
      );
      self.postMessage({ type: "part-done", id, bytes: bytes.buffer }, [bytes.buffer]);
    } catch (err) {
      self.postMessage({ type: "part-error", id, message: String((err && err.message) || err) });
    }
    return;
  }
  const { file, kind, options, fingerprint } = event.data;
  const progress = (stage, pct) => self.postMessage({ type: "progress", stage, pct });
  // Hands part i (ranges[2i]..ranges[2i + 1]) to helper i, with the known
  // rows unless it has them; resolves to their answers in order.
  const dispatch = (plan, spec, ranges, knownId, known) =>
    Promise.all(
      helpers.slice(0, ranges.length / 2).map(
        (h, i) =>
          new Promise((resolve) => {
            const id = nextId++;
            h.pending.set(id, resolve);
            const send = knownId !== null && h.knownId !== knownId;
            if (send) h.knownId = knownId;
            h.worker.postMessage({
              type: "part", id, file, start: ranges[2 * i], end: ranges[2 * i + 1], plan, spec, kind, options,
              knownId, known: send ? known : null,
            });
          }),
      ),
    );
  try {
    progress("Loading the engine", 10);
    await ready;
    const fp = fingerprint ? new Uint8Array(fingerprint) : undefined;
    const json = await preview_file(file, kind, options, fp, progress, helpers.length, dispatch);
    self.postMessage({ type: "done", json });
  } catch (err) {
    self.postMessage({ type: "error", message: String((err && err.message) || err) });
  }
};

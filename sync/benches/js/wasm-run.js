// Times the wasm32 build of sync/benches/wasm.rs in Node (wasm-bindgen's
// nodejs output in the given folder). Prints one JSON line like the native
// run of the same file, timed the same way: each call once untimed (V8
// compiles a hot function again, optimized, while it runs), then five
// rounds of all of them in turn, the best of each counting.
// Usage: node wasm-run.js PKG_DIR ROWS
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');

const [dir, rows] = process.argv.slice(2);
const wasm = require(path.resolve(dir, 'wasm.js'));
wasm.setup(Number(rows));
const runs = {
  preview_ms: () => wasm.preview(),
  parse_ms: () => wasm.parse(),
  from_file_ms: () => wasm.from_file(),
  from_file_1252_ms: () => wasm.from_file_1252(),
  decode_ms: () => wasm.decode(),
  hash_ms: () => wasm.hash(),
  held_ms: () => wasm.held(),
};
for (const f of Object.values(runs)) f();
const best = { rows: Number(rows) };
for (const k of Object.keys(runs)) best[k] = Infinity;
for (let round = 0; round < 5; round++) {
  for (const [k, f] of Object.entries(runs)) {
    const t = performance.now();
    f();
    best[k] = Math.min(best[k], performance.now() - t);
  }
}
console.log(JSON.stringify(best));

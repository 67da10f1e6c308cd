// Times the wasm32 build of sync/benches/wasm.rs in Node (wasm-bindgen's
// nodejs output in the given folder). Prints one JSON line like the native
// run of the same file. Usage: node wasm-run.js PKG_DIR ROWS
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');

const [dir, rows] = process.argv.slice(2);
const wasm = require(path.resolve(dir, 'wasm.js'));
wasm.setup(Number(rows));
const best = (f) => {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
};
const preview_ms = best(() => wasm.preview());
const parse_ms = best(() => wasm.parse());
const from_file_ms = best(() => wasm.from_file());
const from_file_1252_ms = best(() => wasm.from_file_1252());
const decode_ms = best(() => wasm.decode());
const hash_ms = best(() => wasm.hash());
const held_ms = best(() => wasm.held());
console.log(JSON.stringify({ rows: Number(rows), preview_ms, parse_ms, from_file_ms, from_file_1252_ms, decode_ms, hash_ms, held_ms }));

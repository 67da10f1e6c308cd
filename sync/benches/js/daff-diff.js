// daff (the JavaScript table diff) on the same two CSV files Partnersync's
// diff benchmark compares, keyed by the customer number. Prints one JSON
// line: rows, parse and diff milliseconds, and what daff found.
// Usage: node daff-diff.js OLD.csv NEW.csv
'use strict';
const fs = require('fs');
const { performance } = require('perf_hooks');
const daff = require('daff');

const [oldPath, newPath] = process.argv.slice(2);
const t0 = performance.now();
const oldText = fs.readFileSync(oldPath, 'utf8');
const newText = fs.readFileSync(newPath, 'utf8');
const csv = new daff.Csv();
const before = csv.makeTable(oldText);
const after = csv.makeTable(newText);
const t1 = performance.now();
const flags = new daff.CompareFlags();
flags.addPrimaryKey('Kundenummer');
const alignment = daff.compareTables(before, after, flags).align();
const out = new daff.SimpleTable(0, 0);
const td = new daff.TableDiff(alignment, flags);
td.hilite(out);
const s = td.getSummary();
const t2 = performance.now();
console.log(JSON.stringify({
  rows: before.get_height() - 1,
  parse_ms: t1 - t0,
  diff_ms: t2 - t1,
  inserts: s.row_inserts,
  deletes: s.row_deletes,
  updates: s.row_updates,
}));

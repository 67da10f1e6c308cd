import { test, expect, Page, Browser, CDPSession } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import * as http from 'http';
import { AddressInfo } from 'net';

// The import preview at scale, in headless Chromium, beside Papa Parse.
// scripts/bench-browser seeds the server (BENCH_ROWS customers, each
// linked) and writes their export to BENCH_FILE; this drops that file onto
// the customer window's drop zone as a person would and measures:
//   - the fingerprint fetch (the server's state), on its own;
//   - the preview from the file's bytes: from the moment the fingerprint
//     has arrived to the moment the counts are on the page;
//   - the longest main-thread task from the drop to the counts
//     (PerformanceObserver 'longtask'; a long task is >= 50 ms by
//     definition, so none observed means none was that long);
//   - the tab's memory: the page's JS heap, and the renderer process's
//     resident and peak memory (the worker lives in the same process);
// then, with BENCH_LAST_FILE (the export of the last synchronization),
// imports that through the API as the import the server has and previews
// the same file again: the rows unchanged since are known to the
// fingerprint and taken as they were (the daily case);
// then, with BENCH_FIRST_CONNECTION (a connection with no link yet), the
// same file's preview as a connection's first import;
// then parses the same bytes with Papa Parse in the same page, decoded
// the same way (Windows-1252), on the main thread as a page without a
// worker would, and prints the figures side by side.
// Figures, not assertions: this is a benchmark, not a test.

const env = (k: string, d?: string) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const file = env('BENCH_FILE');
const connection = env('BENCH_CONNECTION');
const user = env('BENCH_USER', 'bench.admin');
const password = env('BENCH_PASSWORD', 'bench password 1');
const runs = Number(env('BENCH_RUNS', '3'));
const papa = path.resolve(__dirname, '../node_modules/papaparse/papaparse.min.js');

const mb = (b: number) => `${(b / 1_048_576).toFixed(0)} MB`;
const ms = (t: number) => `${t.toFixed(0)} ms`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/// The renderer processes' memory from /proc (KiB to bytes): resident now
/// and the peak since `resetPeak`. The worker runs in the page's renderer.
async function renderers(browserCdp: CDPSession): Promise<number[]> {
  const info = (await browserCdp.send('SystemInfo.getProcessInfo')) as {
    processInfo: { type: string; id: number }[];
  };
  return info.processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
}

function procMemory(pids: number[]) {
  let rss = 0;
  let hwm = 0;
  for (const pid of pids) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const kib = (k: string) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
      rss += kib('VmRSS') * 1024;
      hwm = Math.max(hwm, kib('VmHWM') * 1024);
    } catch {
      // A renderer that ended meanwhile.
    }
  }
  return { rss, hwm };
}

function resetPeak(pids: number[]) {
  for (const pid of pids) {
    try {
      // "5" resets VmHWM to the current RSS (Linux, same user or root).
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // Without the right to, the peak is the process's lifetime peak.
    }
  }
}

async function jsHeap(page: Page, cdp: CDPSession) {
  await cdp.send('HeapProfiler.collectGarbage');
  const m = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const get = (n: string) => m.metrics.find((x) => x.name === n)?.value ?? 0;
  const used = await page.evaluate(() => (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize);
  return { used, cdpUsed: get('JSHeapUsedSize'), cdpTotal: get('JSHeapTotalSize') };
}

type PreviewRun = {
  total: number;
  fingerprintStart: number;
  fingerprintEnd: number;
  fingerprintBytes: number;
  fingerprintStatus: number;
  fromBytes: number;
  appSays: string;
  longTasks: { start: number; duration: number }[];
  frames: { start: number; duration: number; blocking: number; scripts: string[] }[];
  counts: Record<string, string>;
  stages: { stage: string; at: number }[];
};

/// Drops the page's `__benchFile` onto the drop zone and waits for the new
/// preview counts. Times are from the drop, in ms.
async function dropAndPreview(page: Page): Promise<PreviewRun> {
  return page.evaluate(async () => {
    const w = window as unknown as { __benchFile: File };
    const zone = document.querySelector('[data-dropzone]')!;
    const old = document.querySelector('[data-preview]');
    const longTasks: { start: number; duration: number }[] = [];
    const frames: { start: number; duration: number; blocking: number; scripts: string[] }[] = [];
    const lt = new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => longTasks.push({ start: e.startTime, duration: e.duration })),
    );
    lt.observe({ type: 'longtask' });
    // Long animation frames say which script a long task ran, where the
    // browser supports them.
    const loaf = new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => {
        const f = e as unknown as {
          startTime: number;
          duration: number;
          blockingDuration: number;
          scripts: { invoker: string; sourceFunctionName: string; duration: number }[];
        };
        frames.push({
          start: f.startTime,
          duration: f.duration,
          blocking: f.blockingDuration,
          scripts: f.scripts.map((s) => `${s.invoker} ${s.sourceFunctionName} ${s.duration.toFixed(0)} ms`),
        });
      }),
    );
    try {
      loaf.observe({ type: 'long-animation-frame' });
    } catch {
      // Not supported: the long tasks alone.
    }
    performance.clearResourceTimings();
    // The worker's progress messages, as the page shows them: where the
    // time inside the worker goes.
    const stages: { stage: string; at: number }[] = [];
    const appeared = new Promise<number>((resolve, reject) => {
      const check = () => {
        const stage = document.querySelector('.import .progress span')?.textContent ?? '';
        if (stage && stages.at(-1)?.stage !== stage) stages.push({ stage, at: performance.now() });
        const el = document.querySelector('[data-preview]');
        if (el && el !== old) {
          mo.disconnect();
          resolve(performance.now());
          return true;
        }
        const err = document.querySelector('.import > p.error[role=alert]');
        if (err && err.textContent) {
          mo.disconnect();
          reject(new Error(`the preview failed: ${err.textContent}`));
          return true;
        }
        return false;
      };
      const mo = new MutationObserver(check);
      mo.observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    const dt = new DataTransfer();
    dt.items.add(w.__benchFile);
    const t0 = performance.now();
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const t1 = await appeared;
    // Let the observers deliver the tasks that ended with the render.
    await new Promise((r) => setTimeout(r, 1000));
    lt.disconnect();
    loaf.disconnect();
    const fp = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/fingerprint'))
      .at(-1) as PerformanceResourceTiming | undefined;
    const counts: Record<string, string> = {};
    document.querySelectorAll('[data-preview] tr[data-category]').forEach((tr) => {
      counts[tr.getAttribute('data-category')!] = tr.querySelector('td.count')?.textContent ?? '';
    });
    const appSays = Array.from(document.querySelectorAll('p'))
      .map((p) => p.textContent ?? '')
      .find((t) => t.startsWith('Previewed in your browser')) ?? '';
    return {
      total: t1 - t0,
      fingerprintStart: fp ? fp.startTime - t0 : NaN,
      fingerprintEnd: fp ? fp.responseEnd - t0 : NaN,
      fingerprintBytes: fp ? fp.decodedBodySize : NaN,
      fingerprintStatus: fp ? ((fp as unknown as { responseStatus?: number }).responseStatus ?? 0) : 0,
      fromBytes: fp ? t1 - fp.responseEnd : NaN,
      appSays,
      longTasks: longTasks.filter((t) => t.start >= t0).map((t) => ({ start: t.start - t0, duration: t.duration })),
      frames: frames.filter((f) => f.start + f.duration >= t0).map((f) => ({ ...f, start: f.start - t0 })),
      counts,
      stages: stages.map((s) => ({ stage: s.stage, at: s.at - t0 })),
    };
  });
}

type PapaRun = { decode: number; parse: number; rows: number; longest: number };

async function papaParse(page: Page, header: boolean): Promise<PapaRun> {
  return page.evaluate(async (header) => {
    const w = window as unknown as {
      __benchFile: File;
      Papa: { parse: (s: string, o: object) => { data: unknown[]; errors: unknown[] } };
    };
    const longTasks: number[] = [];
    const lt = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
    lt.observe({ type: 'longtask' });
    const buf = await w.__benchFile.arrayBuffer();
    const t0 = performance.now();
    const text = new TextDecoder('windows-1252').decode(buf);
    const t1 = performance.now();
    let result: { data: unknown[] } | null = w.Papa.parse(text, {
      delimiter: ';',
      header,
      skipEmptyLines: true,
      worker: false,
    });
    const t2 = performance.now();
    const rows = result.data.length;
    result = null;
    await new Promise((r) => setTimeout(r, 500));
    lt.disconnect();
    return { decode: t1 - t0, parse: t2 - t1, rows, longest: Math.max(0, ...longTasks) };
  }, header);
}

async function signIn(page: Page) {
  const r = await page.request.post('/api/v1/session', { data: { username: user, password } });
  expect(r.status()).toBe(200);
}

test('the import preview beside Papa Parse', async ({ page, context, browser }) => {
  const size = fs.statSync(file).size;
  // The file reaches the page as a File, streamed from a small server of
  // this process: through the test driver's protocol (page.route, or
  // base64 in evaluate) a hundred megabytes crash the browser.
  const files = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv', 'access-control-allow-origin': '*' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', () => r()));
  const fileUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/kunder.csv`;
  const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
  await signIn(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const browserCdp = await (browser as Browser).newBrowserCDPSession();

  const windowPath = `/connections/${connection}/customer`;
  log('opening the window');
  const t0 = Date.now();
  await page.goto(windowPath);
  await expect(page.locator('main[data-ready="true"]')).toBeVisible();
  await expect(page.locator('[data-dropzone]')).toBeVisible();
  await expect(page.locator('.tab[data-category="new"]')).toContainText(/\(\d+\)/);
  await page.waitForLoadState('networkidle');
  const windowLoad = Date.now() - t0;

  // The fingerprint alone, as the window fetches it.
  const fpAlone = await page.evaluate(async (p) => {
    const t = performance.now();
    const r = await fetch(`/api/v1${p}/fingerprint`);
    const b = await r.arrayBuffer();
    return { ms: performance.now() - t, bytes: b.byteLength, status: r.status };
  }, windowPath);
  expect(fpAlone.status).toBe(200);

  log(`window loaded in ${windowLoad} ms; fingerprint alone ${fpAlone.ms.toFixed(0)} ms`);
  await page.evaluate(async (fileUrl) => {
    const r = await fetch(fileUrl);
    const b = await r.blob();
    (window as unknown as { __benchFile: File }).__benchFile = new File([b], 'kunder.csv', { type: 'text/csv' });
  }, fileUrl);
  log('file in the page');

  const pids = await renderers(browserCdp);
  const heapBefore = await jsHeap(page, cdp);
  const rssBefore = procMemory(pids);
  resetPeak(pids);
  const previews: PreviewRun[] = [];
  for (let i = 0; i < runs; i++) {
    previews.push(await dropAndPreview(page));
    log(`preview ${i + 1}: ${previews[i].total.toFixed(0)} ms`);
  }
  const previewPeak = procMemory(pids);
  const heapAfter = await jsHeap(page, cdp);

  // The preview worker on its own, side by side in this page: one that
  // reads the file whole ("preview-single") and one with its helpers
  // reading parts, each holding the fingerprint, alternating.
  log('the worker alone: one worker against parts');
  const workerRuns = await page.evaluate(
    async ({ windowPath, runs }) => {
      const w = window as unknown as { __benchFile: File };
      const fp = await (await fetch(`/api/v1${windowPath}/fingerprint`)).arrayBuffer();
      const make = (name: string) => new Worker('/preview-worker.js', { type: 'module', name });
      const run = (worker: Worker, fingerprint: ArrayBuffer | null) =>
        new Promise<{ ms: number; parts: number; counts: unknown }>((resolve, reject) => {
          const t = performance.now();
          worker.onmessage = (e) => {
            if (e.data.type === 'done') {
              const r = JSON.parse(e.data.json);
              resolve({ ms: performance.now() - t, parts: r.parts, counts: r.counts });
            } else if (e.data.type === 'error') {
              reject(new Error(e.data.message));
            }
          };
          worker.postMessage(
            { file: w.__benchFile, kind: 'customer', options: '', fingerprint },
            fingerprint ? [fingerprint] : [],
          );
        });
      const single = make('preview-single');
      const parted = make('preview-bench');
      // The first previews decode the fingerprint; the timed ones hold it.
      const first = [await run(single, fp.slice(0)), await run(parted, fp.slice(0))];
      const out = { single: [] as number[], parted: [] as number[], parts: first[1].parts, same: JSON.stringify(first[0].counts) === JSON.stringify(first[1].counts) };
      for (let i = 0; i < runs; i++) {
        out.single.push((await run(single, null)).ms);
        out.parted.push((await run(parted, null)).ms);
      }
      single.terminate();
      parted.terminate();
      return out;
    },
    { windowPath, runs },
  );

  // The daily case: the server has yesterday's import, and today's file
  // differs from it in a few rows of a hundred.
  const lastFile = process.env.BENCH_LAST_FILE;
  const knownRuns: PreviewRun[] = [];
  let lastImport = NaN;
  if (lastFile) {
    log("importing the last synchronization's export");
    const t = Date.now();
    const r = await page.request.post(`/api/v1${windowPath}/imports?file_name=kunder-sist.csv`, {
      data: fs.readFileSync(lastFile),
      headers: { 'content-type': 'text/csv' },
      timeout: 600_000,
    });
    expect(r.status()).toBe(201);
    lastImport = Date.now() - t;
    for (let i = 0; i < runs; i++) {
      knownRuns.push(await dropAndPreview(page));
      log(`preview ${i + 1} with the rows of the last import known: ${knownRuns[i].total.toFixed(0)} ms`);
    }
  }

  // A connection's first import: our million records, no link yet.
  const firstConnection = process.env.BENCH_FIRST_CONNECTION;
  const firstRuns: PreviewRun[] = [];
  if (firstConnection) {
    log('opening a connection with no link yet');
    await page.goto(`/connections/${firstConnection}/customer`);
    await expect(page.locator('main[data-ready="true"]')).toBeVisible();
    await expect(page.locator('[data-dropzone]')).toBeVisible();
    await page.waitForLoadState('networkidle');
    await page.evaluate(async (fileUrl) => {
      const w = window as unknown as { __benchFile?: File };
      if (!w.__benchFile) {
        const b = await (await fetch(fileUrl)).blob();
        w.__benchFile = new File([b], 'kunder.csv', { type: 'text/csv' });
      }
    }, fileUrl);
    for (let i = 0; i < runs; i++) {
      firstRuns.push(await dropAndPreview(page));
      log(`preview ${i + 1} as a first import: ${firstRuns[i].total.toFixed(0)} ms`);
    }
  }
  files.close();

  await page.addScriptTag({ path: papa });
  await jsHeap(page, cdp);
  const rssBeforePapa = procMemory(pids);
  resetPeak(pids);
  const papaArrays: PapaRun[] = [];
  const papaObjects: PapaRun[] = [];
  for (let i = 0; i < runs; i++) {
    papaArrays.push(await papaParse(page, false));
  }
  for (let i = 0; i < runs; i++) {
    papaObjects.push(await papaParse(page, true));
  }
  const papaPeak = procMemory(pids);
  log('Papa Parse done');

  // The figures.
  const fromBytes = previews.map((p) => p.fromBytes);
  const warm = previews.length > 1 ? fromBytes.slice(1) : fromBytes;
  const longest = Math.max(0, ...previews.flatMap((p) => p.longTasks.map((t) => t.duration)));
  const arraysParse = median(papaArrays.map((p) => p.parse));
  const objectsParse = median(papaObjects.map((p) => p.parse));
  const previewMedian = median(warm);
  const lines: [string, string][] = [
    ['file', `${file} (${mb(size)}, Windows-1252, ';')`],
    ['window load (summary, first page)', ms(windowLoad)],
    ['fingerprint fetch, alone', `${ms(fpAlone.ms)} for ${mb(fpAlone.bytes)}`],
    ...previews.map((p, i): [string, string] => [
      `preview run ${i + 1}${i === 0 ? ' (worker cold, fingerprint fetched and decoded)' : ' (fingerprint held)'}`,
      `drop→counts ${ms(p.total)} = fingerprint request ${ms(p.fingerprintEnd)} (HTTP ${p.fingerprintStatus}, ${mb(p.fingerprintBytes)}) + from bytes ${ms(p.fromBytes)}; app says "${p.appSays.replace(/\. Nothing.*$/, '')}"`,
    ]),
    ...previews.map((p, i): [string, string] => [
      `  run ${i + 1} stages (from the drop)`,
      p.stages.map((s) => `${s.stage} @${ms(s.at)}`).join(', ') + `, counts @${ms(p.total)}`,
    ]),
    ['preview from the file\'s bytes, first run (fingerprint decoded in it)', ms(fromBytes[0])],
    ['preview from the file\'s bytes, median of later runs (fingerprint held)', ms(previewMedian)],
    ['longest main-thread task, drop→counts', longest > 0 ? ms(longest) : 'none observed (every task < 50 ms)'],
    ['page JS heap before / after the previews', `${mb(heapBefore.used)} / ${mb(heapAfter.used)}`],
    ['renderer memory before → peak during the previews', `${mb(rssBefore.rss)} → ${mb(previewPeak.hwm)}`],
    ['Papa Parse decode (TextDecoder windows-1252), median', ms(median(papaArrays.map((p) => p.decode)))],
    ['Papa Parse parse alone, arrays (header: false), median', `${ms(arraysParse)} (${papaArrays[0].rows} rows)`],
    ['Papa Parse parse alone, objects (header: true), median', `${ms(objectsParse)} (${papaObjects[0].rows} rows)`],
    ['Papa Parse longest main-thread task', ms(Math.max(...papaArrays.concat(papaObjects).map((p) => p.longest)))],
    ['renderer memory before → peak during Papa Parse', `${mb(rssBeforePapa.rss)} → ${mb(papaPeak.hwm)}`],
    ['preview counts', JSON.stringify(previews[0].counts)],
    ['worker alone, one worker reading whole, median', `${ms(median(workerRuns.single))} (${workerRuns.single.map(ms).join(', ')})`],
    [`worker alone, ${workerRuns.parts} workers reading parts, median`, `${ms(median(workerRuns.parted))} (${workerRuns.parted.map(ms).join(', ')}); same counts: ${workerRuns.same}`],
  ];
  const knownWarm = knownRuns.slice(1).map((p) => p.fromBytes);
  const knownMedian = knownWarm.length > 0 ? median(knownWarm) : NaN;
  if (knownRuns.length > 0) {
    lines.push(
      ['import of the last synchronization\'s export (Submit, the API)', ms(lastImport)],
      ...knownRuns.map((p, i): [string, string] => [
        `known rows: preview run ${i + 1}${i === 0 ? ' (new fingerprint fetched and decoded)' : ' (fingerprint held)'}`,
        `drop→counts ${ms(p.total)} = fingerprint request ${ms(p.fingerprintEnd)} (HTTP ${p.fingerprintStatus}, ${mb(p.fingerprintBytes)}) + from bytes ${ms(p.fromBytes)}; app says "${p.appSays.replace(/ Nothing.*$/, '')}"`,
      ]),
      ...knownRuns.map((p, i): [string, string] => [
        `  known rows: run ${i + 1} stages`,
        p.stages.map((s) => `${s.stage} @${ms(s.at)}`).join(', ') + `, counts @${ms(p.total)}`,
      ]),
      ['known rows: preview from the file\'s bytes, median of later runs', ms(knownMedian)],
      ['known rows: the same counts as without', String(JSON.stringify(knownRuns[0].counts) === JSON.stringify(previews[0].counts))],
      ['known rows: longest main-thread task', (() => {
        const l = Math.max(0, ...knownRuns.flatMap((p) => p.longTasks.map((t) => t.duration)));
        return l > 0 ? ms(l) : 'none observed (every task < 50 ms)';
      })()],
    );
  }
  const firstWarm = firstRuns.slice(1).map((p) => p.fromBytes);
  const firstMedian = firstWarm.length > 0 ? median(firstWarm) : NaN;
  if (firstRuns.length > 0) {
    lines.push(
      ...firstRuns.map((p, i): [string, string] => [
        `first import: preview run ${i + 1}${i === 0 ? ' (worker cold, fingerprint fetched and decoded)' : ' (fingerprint held)'}`,
        `drop→counts ${ms(p.total)} = fingerprint request ${ms(p.fingerprintEnd)} (HTTP ${p.fingerprintStatus}, ${mb(p.fingerprintBytes)}) + from bytes ${ms(p.fromBytes)}; counts ${JSON.stringify(p.counts)}`,
      ]),
      ['first import: preview from the file\'s bytes, median of later runs', ms(firstMedian)],
    );
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = [
    '',
    ...lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    '',
    `with links but no stored import (the seeded state: all linked, their side never imported as a file), ` +
      `the preview (fingerprint held) is ${(arraysParse / previewMedian).toFixed(2)}× Papa Parse's parse alone's speed ` +
      `(arrays; ${(objectsParse / previewMedian).toFixed(2)}× against objects); goal 4×: ` +
      `${arraysParse / previewMedian >= 4 ? 'met' : 'NOT met'}`,
    `the worker alone: ${workerRuns.parts} workers reading parts are ${(median(workerRuns.single) / median(workerRuns.parted)).toFixed(2)}× one worker's speed; ` +
      `one worker is ${(arraysParse / median(workerRuns.single)).toFixed(2)}× Papa Parse's speed, parts ${(arraysParse / median(workerRuns.parted)).toFixed(2)}×`,
    `first preview (fingerprint decoded in it) is ${(arraysParse / fromBytes[0]).toFixed(2)}× Papa Parse's speed (arrays)`,
    ...(knownRuns.length > 1
      ? [
          `with the rows of the last import known (the daily case), the preview (fingerprint held) is ` +
            `${(arraysParse / knownMedian).toFixed(2)}× Papa Parse's parse alone's speed (arrays); goal 4×: ` +
            `${arraysParse / knownMedian >= 4 ? 'met' : 'NOT met'}; ${(previewMedian / knownMedian).toFixed(2)}× the preview without them`,
        ]
      : []),
    ...(firstRuns.length > 1
      ? [
          `as a connection's first import (no link yet), the preview (fingerprint held) is ` +
            `${(arraysParse / firstMedian).toFixed(2)}× Papa Parse's parse alone's speed (arrays); goal 4×: ` +
            `${arraysParse / firstMedian >= 4 ? 'met' : 'NOT met'}`,
        ]
      : []),
    `longest main-thread task during the preview: ${longest > 0 ? ms(longest) : 'none ≥ 50 ms'}; goal ≤ 50 ms: ` +
      `${longest <= 50 ? 'met' : 'NOT met'}`,
    '',
  ].join('\n');
  console.log(out);
  const blocking = previews.flatMap((p, i) =>
    p.frames.filter((f) => f.blocking > 0).map((f) => ({ run: i + 1, ...f })),
  );
  if (blocking.length > 0) {
    console.log('long animation frames with blocking time (start from the drop):');
    for (const f of blocking) {
      console.log(`  run ${f.run} at ${ms(f.start)}: ${ms(f.duration)}, blocking ${ms(f.blocking)}; ${f.scripts.join(' | ')}`);
    }
  }
  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ size, windowLoad, fpAlone, previews, knownRuns, lastImport, firstRuns, papaArrays, papaObjects, heapBefore, heapAfter, rssBefore, previewPeak, rssBeforePapa, papaPeak }, null, 2),
    );
  }
});

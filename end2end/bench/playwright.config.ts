import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../chromium';

// The browser benchmark (scripts/bench-browser), apart from the browser
// tests: `npx playwright test` reads ../playwright.config.ts, whose testDir
// is ./tests, so nothing here runs with the checks. The script starts the
// release server on a seeded data folder and passes its address in
// BENCH_BASE_URL; this config starts nothing itself.
export default defineConfig({
  testDir: '.',
  testMatch: '**/*.bench.ts',
  workers: 1,
  retries: 0,
  // A million rows: each preview takes seconds, the window's first load
  // and Papa Parse's runs take longer.
  timeout: 30 * 60_000,
  expect: { timeout: 5 * 60_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.BENCH_BASE_URL ?? 'http://127.0.0.1:3200',
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: chromiumPath,
      // performance.memory in bytes rather than rounded buckets.
      args: [...chromiumArgs, '--enable-precise-memory-info'],
    },
  },
});

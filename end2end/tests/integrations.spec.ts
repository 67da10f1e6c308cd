import { test, expect, Page } from '@playwright/test';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import { admin, ready, signIn } from '../support';

// An administrator connects the company's ERP by its REST API, tests and
// runs the connection, reads the run's report, maps the ERP's sales rep
// code to our user and sees how many records that affects, and finds the
// fields the ERP owns read-only in our register. The ERP is a small HTTP
// server this test starts: paged listing, bearer token, idempotency keys.

type Erp = {
  records: Record<string, unknown>[];
  down: boolean;
  applied: Map<string, number>;
  server: http.Server;
  url: string;
};

const TOKEN = 'zeta-erp-token';

function startErp(): Promise<Erp> {
  const erp: Erp = {
    records: [1, 2, 3, 4, 5].map((i) => ({
      kundenr: String(700 + i),
      navn: `Zeta Kunde ${i}`,
      epost: `kunde${i}@zeta.no`,
      telefon: '',
      selger: 'S01',
      aktiv: true,
    })),
    down: false,
    applied: new Map(),
    server: http.createServer(),
    url: '',
  };
  erp.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, value?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(value === undefined ? '' : JSON.stringify(value));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { error: 'bad token' });
      const url = new URL(req.url ?? '/', 'http://erp');
      if (req.method === 'GET' && url.pathname === '/api/customers') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const per = Number(url.searchParams.get('per_page') ?? 50);
        return send(200, { items: erp.records.slice((page - 1) * per, page * per) });
      }
      // Down for writes: its listing still answers.
      if (erp.down) return send(503, { error: 'maintenance' });
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!key) return send(400, { error: 'idempotency key required' });
      const seen = (erp.applied.get(key) ?? 0) + 1;
      erp.applied.set(key, seen);
      const values = JSON.parse(body || '{}');
      const m = url.pathname.match(/^\/api\/customers\/(.+)$/);
      if (req.method === 'POST' && url.pathname === '/api/customers') {
        if (seen === 1) erp.records.push(values);
        return send(201, values);
      }
      if (req.method === 'PATCH' && m) {
        const r = erp.records.find((x) => x.kundenr === decodeURIComponent(m[1]));
        if (!r) return send(404, { error: 'no such customer' });
        if (seen === 1) Object.assign(r, values);
        return send(200, r);
      }
      send(404, { error: 'not found' });
    });
  });
  return new Promise((resolve) => {
    erp.server.listen(0, '127.0.0.1', () => {
      erp.url = `http://127.0.0.1:${(erp.server.address() as AddressInfo).port}/api`;
      resolve(erp);
    });
  });
}

let erp: Erp;
test.beforeAll(async () => {
  erp = await startErp();
});
test.afterAll(async () => {
  await new Promise((r) => erp.server.close(r));
});

async function status(page: Page, text: string | RegExp) {
  await expect(page.locator('.integration p.notice')).toContainText(text);
}

test('an administrator connects a REST system, runs it, reads its report and maps a code', async ({ page }) => {
  test.setTimeout(120_000);
  page.on('dialog', (d) => d.accept());
  await signIn(page, admin);
  // Our register has the same five customers; our sales rep is the user
  // anna.admin where the ERP says S01.
  for (let i = 1; i <= 5; i++) {
    const r = await page.request.post('/api/v1/customers', {
      data: { number: String(700 + i), name: `Zeta Kunde ${i}`, email: `kunde${i}@zeta.no`, sales_rep_code: 'anna.admin' },
    });
    expect(r.status()).toBe(201);
  }

  // Configure the connection.
  await page.goto('/connections');
  await ready(page);
  await page.getByLabel('New connection').fill('Zeta ERP');
  await page.getByLabel('System', { exact: true }).selectOption('rest');
  await page.getByLabel('Base URL', { exact: true }).fill(erp.url);
  await page.getByLabel('Customers: path under the base URL').fill('/customers');
  await page.getByLabel('API token', { exact: true }).fill(TOKEN);
  await page.getByRole('button', { name: 'Create connection' }).click();
  const card = page.locator('article[data-connection="Zeta ERP"]');
  await expect(card.locator('.integration')).toHaveAttribute('data-system', 'REST API');
  // The token is stored, never shown back.
  await expect(card.locator('.credentials')).toHaveAttribute('data-stored', 'true');
  await expect(card.getByLabel('API token', { exact: true })).toHaveValue('');
  expect(await page.content()).not.toContain(TOKEN);
  await expect(card.locator('.schedule')).toContainText('Runs every 60 minutes');

  // The ERP owns email: checked and saved.
  await card.locator('fieldset.owned[data-kind="customer"]').getByLabel('Email').check();
  await card.getByLabel('Records per page').fill('2');
  await card.getByLabel('Records per page').dispatchEvent('change');
  await card.getByRole('button', { name: 'Save settings' }).click();
  await status(page, 'Settings saved.');

  // Test connection: a wrong token is a validation error in plain words.
  await card.getByLabel('API token', { exact: true }).fill('wrong-token');
  await card.getByRole('button', { name: 'Save settings' }).click();
  await status(page, 'Settings saved.');
  await card.getByRole('button', { name: 'Test connection' }).click();
  await expect(card.locator('[data-test-result="false"]')).toContainText('Validation error');
  await card.getByLabel('API token', { exact: true }).fill(TOKEN);
  await card.getByRole('button', { name: 'Save settings' }).click();
  await status(page, 'Settings saved.');
  await card.getByRole('button', { name: 'Test connection' }).click();
  await expect(card.locator('[data-test-result="true"]')).toContainText('5 customers read; the connection works.');
  await expect(card.locator('.tested li[data-kind="customer"]')).toContainText('kundenr');
  await expect(card.locator('.tested li[data-kind="customer"]')).toContainText('selger → Sales rep code');

  // Run now (listing 2 per page): five added since the last run.
  await card.getByRole('button', { name: 'Run now' }).click();
  const result = card.locator('.run-results li').first();
  await expect(result).toContainText('Customers: Done');
  await expect(result).toContainText('5 added, 0 changed, 0 removed');
  await expect(card.locator('.schedule')).toContainText('next at');
  await expect(card.locator('.latest-run')).toContainText('Customers: Done');

  // Its report: counts by action that add up to the records seen, the
  // chart, the trend and the details with a filter and an export.
  await result.getByRole('link', { name: 'Open report' }).click();
  await ready(page);
  await expect(page.locator('.run-status')).toHaveText('Done');
  for (const outcome of ['field_conflict', 'no_new_changes', 'no_difference', 'unable_to_update', 'no_import',
    'no_export', 'skipped', 'validation_error', 'processing_error']) {
    await expect(page.locator(`table.counts tr[data-outcome="${outcome}"]`)).toBeVisible();
  }
  const total = Number(await page.locator('table.counts th.total').innerText());
  await expect(page.locator('table.counts tfoot')).toContainText(`of ${total} records seen`);
  const counts = await page.locator('table.counts td.count').allInnerTexts();
  expect(counts.map(Number).reduce((a, b) => a + b, 0)).toBe(total);
  await expect(page.locator('table.counts tr[data-outcome] rect')).toHaveCount(counts.length);
  const bar = page.locator('figure.trend .column rect').first();
  await expect(bar).toBeVisible();
  expect((await bar.boundingBox())!.height).toBeGreaterThan(10);
  await expect(page.locator('.run-facts .changes')).toContainText('5 added');

  const added = Number(await page.locator('table.counts tr[data-outcome="added"] td.count').innerText());
  expect(added).toBeGreaterThanOrEqual(10); // their five and our five are new
  await page.getByLabel('Action', { exact: true }).selectOption('added');
  await expect(page.locator('[data-detail-total]')).toHaveAttribute('data-detail-total', String(added));
  // Added on both sides: one line for ours, one for theirs.
  await expect(page.locator('.details-table tbody tr[data-number="703"][data-whose="ours"]')).toContainText('Ours');
  await expect(page.locator('.details-table tbody tr[data-number="703"][data-whose="theirs"]')).toContainText('Zeta Kunde 3');
  const outcomes = await page.locator('.details-table tbody tr').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-outcome')),
  );
  expect(new Set(outcomes)).toEqual(new Set(['added']));
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Export CSV' }).click(),
  ]);
  const text = fs.readFileSync((await csv.path())!, 'utf8');
  expect(text).toContain('theirs;703;Zeta Kunde 3;kunde3@zeta.no');
  expect(text.split('\n').filter((l) => l.includes('Zeta Kunde')).length).toBe(10);

  // The reports page lists the run.
  await page.getByRole('link', { name: 'All reports' }).click();
  await ready(page);
  await expect(page.locator('table.runs tbody tr', { hasText: 'Zeta ERP' }).first()).toContainText('Run now');
  // Fewer runs than a page: nothing older to show.
  await expect(page.getByRole('button', { name: 'Show older runs' })).toHaveCount(0);

  // Pair the records in the window: S01 is not anna.admin, so all conflict.
  await page.goto('/connections');
  await ready(page);
  const windowLink = card.getByRole('link', { name: 'Open customer window' });
  const windowUrl = (await windowLink.getAttribute('href'))!;
  await page.goto(windowUrl);
  await ready(page);
  await page.locator('.tab[data-category="new"]').click();
  await page.getByLabel('Select all in this category').check();
  await page.locator('[data-bulk="accept"]').click();
  await expect(page.locator('[data-notice]')).toContainText('Linked the suggested partners (5 changes)');
  await expect(page.locator('.tab[data-category="conflicts"]')).toContainText('(5)');

  // The value mapping: the dry run says how many records it affects, then
  // saving re-synchronizes exactly those.
  await page.goto('/connections');
  await ready(page);
  await card.getByRole('link', { name: 'Customer value mappings' }).click();
  await ready(page);
  await page.getByLabel('Field', { exact: true }).selectOption('sales_rep_code');
  await page.getByLabel('Their value').fill('S01');
  await page.getByLabel('Our value (empty: remove the mapping)').fill('anna.admin');
  await page.getByRole('button', { name: 'Check affected records' }).click();
  await expect(page.locator('.impact')).toHaveAttribute('data-affected', '5');
  await expect(page.locator('.impact')).toContainText('This affects 5 records. Their numbers: 701');
  expect(erp.applied.size).toBe(0);
  await page.getByRole('button', { name: 'Save and synchronize 5 records' }).click();
  await expect(page.locator('.mappings p.notice')).toContainText('Saved. 5 records synchronized again in run');
  await expect(page.locator('table.value-mappings tr[data-their="S01"]')).toContainText('anna.admin');
  await page.locator('.mappings p.notice').getByRole('link', { name: 'Open report' }).click();
  await ready(page);
  await expect(page.locator('.run-facts .changes')).toContainText('0 added, 5 changed');
  await page.goto(windowUrl);
  await ready(page);
  await expect(page.locator('.tab[data-category="conflicts"]')).toContainText('(0)');
  await expect(page.locator('.tab[data-category="synchronized"]')).toContainText('(5)');
  expect(erp.applied.size).toBe(0); // nothing went back: the ERP was right

  // The ERP owns email: our form shows it read-only and says where to edit.
  const list = await (await page.request.get('/api/v1/customers?q=702')).json();
  const id = list.items.find((c: { number: string }) => c.number === '702').customer_id;
  await page.goto(`/customers/${id}`);
  await ready(page);
  await expect(page.getByLabel('Email')).toHaveValue('kunde2@zeta.no');
  await expect(page.getByLabel('Email')).toHaveAttribute('readonly', '');
  await expect(page.locator('.field[data-owned-by="Zeta ERP"]')).toContainText('Owned by Zeta ERP');
  // Other fields stay editable; the change goes out through the outbox.
  await page.getByLabel('Phone').fill('+47 555 01 702');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/customers$/);

  // The ERP is down: the write waits in the outbox with its error, and is
  // retried once it is back.
  erp.down = true;
  await page.goto('/connections');
  await ready(page);
  await card.getByRole('button', { name: 'Run now' }).click();
  await expect(card.locator('.run-results li').first()).toContainText('Customers:');
  const outbox = card.locator('.outbox[data-outbox="1"]');
  await expect(outbox).toContainText('702: Phone "" → "+47 555 01 702"');
  await expect(outbox).toContainText('503');
  erp.down = false;
  await outbox.getByRole('button', { name: 'Retry now' }).click();
  await expect(card.locator('.outbox[data-outbox="0"]')).toContainText('nothing waiting');
  expect(erp.records.find((r) => r.kundenr === '702')).toMatchObject({ telefon: '+47 555 01 702' });
  expect([...erp.applied.values()].every((n) => n === 1)).toBe(true);

  // A hundred more runs (as a few days of hourly runs would make): the
  // reports list shows the newest hundred, then pages back.
  const connectionId = windowUrl.split('/')[2];
  for (let i = 0; i < 100; i++) {
    const r = await page.request.post(`/api/v1/connections/${connectionId}/runs`, { data: {} });
    expect(r.status()).toBe(200);
  }
  await page.goto('/reports');
  await ready(page);
  await page.getByLabel('Connection', { exact: true }).selectOption({ label: 'Zeta ERP' });
  await expect(page.locator('table.runs tbody tr')).toHaveCount(100);
  await expect(page.locator('figure.trend .column')).toHaveCount(100);
  await page.getByRole('button', { name: 'Show older runs' }).click();
  const all = page.locator('table.runs tbody tr');
  await expect(all).not.toHaveCount(100);
  const ids = await all.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-run'))));
  expect(ids.length).toBeGreaterThan(100);
  expect([...ids].sort((a, b) => b - a)).toEqual(ids); // newest first, no repeats
  expect(new Set(ids).size).toBe(ids.length);
  await expect(page.getByRole('button', { name: 'Show older runs' })).toHaveCount(0);
});

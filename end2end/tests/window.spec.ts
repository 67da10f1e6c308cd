import { test, expect, Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import { admin, ready, signIn, supervisor } from '../support';

// The synchronization window, as an administrator uses it every day, and
// the supervisor's sync choice when creating customers. Runs after
// foundation.spec.ts (same server), and sets the installation up itself
// when run alone.
test.describe.configure({ mode: 'serial' });


/// Drags a file onto the drop zone the way a browser does: dragenter (the
/// zone highlights), then drop with the file in the DataTransfer.
async function dropFile(page: Page, name: string, bytes: Buffer) {
  const dt = await page.evaluateHandle(
    ({ name, b64 }) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type: 'text/csv' }));
      return dt;
    },
    { name, b64: bytes.toString('base64') },
  );
  const zone = page.locator('[data-dropzone]');
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await expect(zone).toHaveClass(/over/);
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await expect(zone).not.toHaveClass(/over/);
}

function cp1252(text: string): Buffer {
  // The characters used here (ASCII and Ø/ø/å/æ) have the same code in
  // Latin-1 and Windows-1252.
  return Buffer.from(text, 'latin1');
}

function previewCount(page: Page, category: string) {
  return page.locator(`[data-preview] tr[data-category="${category}"] td.count`);
}

function tab(page: Page, category: string) {
  return page.locator(`.tab[data-category="${category}"]`);
}

async function tabCount(page: Page, category: string): Promise<number> {
  const text = await tab(page, category).innerText();
  const m = text.match(/\((\d+)\)/);
  if (!m) throw new Error(`no count in ${text}`);
  return Number(m[1]);
}

async function openRow(page: Page, key: string) {
  await page.locator(`.vrow[data-key="${key}"] button.cell`).click();
  await expect(page.locator(`aside.detail[data-open-key="${key}"]`)).toBeVisible();
}

async function notice(page: Page, text: string | RegExp) {
  await expect(page.locator('[data-notice]')).toContainText(text);
}

let windowUrl = '';

test('an administrator connects a system and imports its customers with a preview', async ({ page }) => {
  page.on('dialog', (d) => d.accept());
  await signIn(page, admin);
  // Our register: five customers.
  for (const [number, name, email] of [
    ['100', 'Alpha AS', 'post@alpha.no'],
    ['101', 'Beta AS', 'post@beta.no'],
    ['000102', 'Gamma AS', 'post@gamma.no'],
    ['103', 'Delta AS', ''],
    ['104', 'Epsilon AS', 'hei@epsilon.no'],
  ]) {
    const r = await page.request.post('/api/v1/customers', {
      data: { number, name, email, city: 'Bergen' },
    });
    expect(r.status()).toBe(201);
  }

  await page.getByRole('link', { name: 'Connections' }).click();
  await ready(page);
  await page.getByLabel('New connection').fill('Visma export');
  await page.getByRole('button', { name: 'Create connection' }).click();
  const card = page.locator('article[data-connection="Visma export"]');
  await expect(card).toBeVisible();
  // Their system stores customer numbers as integers.
  await card.getByLabel('customer strip leading zeros').check();
  await card.getByRole('button', { name: 'Save number rules' }).click();
  await expect(card.getByRole('status')).toContainText('Saved');
  await card.getByRole('link', { name: 'Open customer window' }).click();
  await ready(page);
  windowUrl = page.url();
  // Our five (and whatever else the register holds) are New.
  await expect(tab(page, 'new')).toContainText(/New \(\d+\)/);
  const before = await tabCount(page, 'new');
  expect(before).toBeGreaterThanOrEqual(5);
  // How the server answered each fingerprint request: the first preview
  // fetches it, a preview again while nothing changed is told 304.
  const fingerprints: number[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/fingerprint')) fingerprints.push(r.status());
  });

  // Their export: Beta's name differs, Epsilon is 9104 there (same email),
  // two customers only they have; the city column has a header no alias
  // knows, so it is mapped by hand.
  const file = cp1252(
    'Kundenummer;Navn;E-post;Bynavn\r\n' +
      '100;Alpha AS;post@alpha.no;Bergen\r\n' +
      '101;Beta Øst AS;post@beta.no;Bergen\r\n' +
      '9104;Epsilon AS;hei@epsilon.no;Bergen\r\n' +
      '300;Theta AS;theta@x.no;Oslo\r\n' +
      '301;Iota AS;iota@x.no;Oslo\r\n' +
      ';Without number;;\r\n',
  );
  await dropFile(page, 'kunder.csv', file);
  await expect(page.locator('[data-records]')).toContainText('5 records');
  await expect(page.locator('.row-errors')).toContainText('Line 7');
  // Their five are New too: equal numbers are suggested, never linked by themselves.
  await expect(previewCount(page, 'new')).toHaveText(String(before + 5));
  await expect(page.getByLabel('Delimiter')).toHaveValue(';');
  await expect(page.getByLabel('Encoding')).toHaveValue('windows-1252');

  // Fix the column mapping: Bynavn is the city.
  await page.locator('select[data-column="Bynavn"]').selectOption('city');
  await expect(page.locator('select[data-column="Bynavn"]')).toHaveValue('city');
  await expect(previewCount(page, 'new')).toHaveText(String(before + 5));
  // The worker previewed again against the fingerprint it holds.
  await expect.poll(() => fingerprints).toEqual([200, 304]);

  // The row errors download as a file.
  const [errs] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download the row errors' }).click(),
  ]);
  const errText = fs.readFileSync((await errs.path())!, 'utf8');
  expect(errText).toContain('7;');

  await page.locator('[data-submit-import]').click();
  await notice(page, 'Imported 5 records from kunder.csv (1 row errors)');
  // The server's categories equal the preview.
  await expect(tab(page, 'new')).toContainText(`New (${before + 5})`);
});

test('partners are selected, created and resolved in the window', async ({ page }) => {
  page.on('dialog', (d) => d.accept());
  await signIn(page, admin);
  await page.goto(windowUrl);
  await ready(page);

  // Accept the suggested partners (equal numbers) for all New rows at once.
  await tab(page, 'new').click();
  await page.getByLabel('Select all in this category').check();
  await page.locator('[data-bulk="accept"]').click();
  await notice(page, 'Linked the suggested partners (2 changes)');
  await expect(tab(page, 'synchronized')).toContainText('Synchronized (1)');
  await expect(tab(page, 'conflicts')).toContainText('Synchronization conflicts (1)');

  // Resolve the conflict field by field: take their name.
  await tab(page, 'conflicts').click();
  await expect(page.locator('.vrow')).toHaveCount(1);
  await openRow(page, 'link:101:101');
  const nameRow = page.locator('aside.detail tr[data-field="name"]');
  await expect(nameRow).toContainText('Beta AS');
  await expect(nameRow).toContainText('Beta Øst AS');
  // Their file has no phone column: the detail says so rather than show an
  // empty value as theirs; the city column (mapped by hand) is theirs.
  await expect(page.locator('aside.detail tr[data-field="phone"]')).toContainText('(not in their data)');
  await expect(page.locator('aside.detail tr[data-field="city"]')).not.toContainText('(not in their data)');
  await page.getByLabel('Take their name').check();
  await expect(nameRow.locator('td.chosen')).toContainText('Beta Øst AS');
  await page.locator('[data-action="resolve"]').click();
  await notice(page, 'Resolved the conflict');
  await expect(tab(page, 'synchronized')).toContainText('Synchronized (2)');

  // Create partner: their side strips leading zeros; the number is
  // checked before anything is sent.
  await tab(page, 'new').click();
  await expect(page.locator('.vrow[data-key="ours:102"]')).toBeVisible();
  await openRow(page, 'ours:102');
  await expect(page.locator('[data-number-check]')).toContainText('Their number will be 102, leading zeros removed.');
  await page.locator('[data-action="create-partner"]').click();
  await notice(page, 'Created the partner');
  // The list shows the new state before the next click lands on it.
  await expect(page.locator('.vrow[data-key="ours:102"]')).toHaveCount(0);

  // Select partner: Epsilon is 9104 on their side; the suggestion says why.
  await openRow(page, 'ours:104');
  const candidate = page.locator('li[data-candidate="9104"]');
  await expect(candidate).toContainText('Email');
  await candidate.getByRole('button', { name: 'Select as partner' }).click();
  await notice(page, 'Linked the partner');
  await expect(page.locator('.vrow[data-key="ours:104"]')).toHaveCount(0);

  // Create partners in bulk for the two customers only they have.
  await page.getByLabel('Select theirs:300').check();
  await page.getByLabel('Select theirs:301').check();
  await expect(page.locator('[data-selected]')).toHaveText('2 selected');
  await page.locator('[data-bulk="create"]').click();
  await notice(page, 'Created the partners (2 changes)');
  await expect(page.locator('.vrow[data-key="theirs:300"]')).toHaveCount(0);

  // Don't synchronize Delta.
  await openRow(page, 'ours:103');
  await page.locator('[data-action="dont"]').click();
  await notice(page, "Marked Don't synchronize");
  await tab(page, 'deactivated').click();
  await expect(page.locator('.vrow[data-key="ours:103"]')).toBeVisible();

  // The pending change (the partner created on their side) downloads in
  // their format.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-download="pending"]').click(),
  ]);
  const csv = fs.readFileSync((await download.path())!, 'utf8');
  expect(csv.charCodeAt(0)).toBe(0xfeff);
  expect(csv).toContain('change;number;name');
  expect(csv).toContain('create;102;Gamma AS;');
  await page.locator('[data-action="mark-delivered"]').click();
  await notice(page, 'Marked 1 changes delivered');
  await expect(page.locator('[data-pending]')).toContainText('1 pending changes, 0 not yet delivered');

  const [xlsx] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-download="pending-xlsx"]').click(),
  ]);
  expect(xlsx.suggestedFilename()).toBe('pending-customers.xlsx');
  expect(fs.readFileSync((await xlsx.path())!).subarray(0, 2).toString()).toBe('PK');

  // The history of a record: who changed what, before and after.
  await page.goto('/history?number=101');
  await ready(page);
  const set = page.locator('tr[data-audit="set"]');
  await expect(set).toContainText(admin.name);
  await expect(set).toContainText('ours name: Beta Øst AS');
  await expect(set.locator('td.muted')).toContainText('ours name: Beta AS');

  // The records created from their side are in our register.
  await page.goto('/customers');
  await ready(page);
  await expect(page.locator('tr', { hasText: 'Theta AS' })).toContainText('300');
});

test('an employees file is dropped and imported too', async ({ page }) => {
  await signIn(page, admin);
  await page.goto(windowUrl.replace(/customer$/, 'employee'));
  await ready(page);
  const file = fs.readFileSync(path.resolve(__dirname, '../../examples/employees.csv'));
  await expect(tab(page, 'new')).toContainText(/New \(\d+\)/);
  const before = await tabCount(page, 'new');
  await dropFile(page, 'employees.csv', file);
  await expect(page.locator('[data-records]')).toContainText('4 records');
  await expect(previewCount(page, 'new')).toHaveText(String(before + 4));
  await page.locator('[data-submit-import]').click();
  await notice(page, 'Imported 4 records from employees.csv');
  await tab(page, 'new').click();
  await expect(page.locator('.vrow[data-key="theirs:1003"]')).toContainText('Åse Ødegård');
});

test('a large file is read by several workers and previews what the import gives', async ({ page }) => {
  await signIn(page, admin);
  await page.goto(windowUrl.replace(/customer$/, 'employee'));
  await ready(page);
  await expect(tab(page, 'new')).toContainText(/New \(\d+\)/);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency || 1);
  // Past the size from which the preview worker hands parts to helpers
  // (1 MiB): 20,000 employees in Windows-1252, a quoted line break, a
  // doubled quote, blank lines and a row without a number on the way, and
  // three of the employees already imported among them (one renamed).
  let text = 'Ansattnr;Fornavn;Etternavn;E-post;Mobil;Adresse;Postnr;Poststed\r\n';
  text += '1001;Kari;Nordmann;kari@firma.no;912 34 567;Storgata 1;0155;Oslo\r\n';
  text += '1002;Ola;Nordmann-Øst;ola@firma.no;913 45 678;Storgata 1;0155;Oslo\r\n';
  text += '1003;Åse;Ødegård;ase@firma.no;914 56 789;Bryggen 2;5003;Bergen\r\n';
  for (let i = 0; i < 19_997; i++) {
    const n = 20_000 + i;
    const last =
      i === 7_000 ? '"Hansen\r\navd. nord"' : i === 12_000 ? '"Berg ""Junior"""' : `Hansen ${i}`;
    const phone = `9${String(i).padStart(7, '0')}`;
    const postal = String(i % 9000).padStart(4, '0');
    text += `${n};Per ${i};${last};per${n}@firma.no;${phone};Kongens gate ${i % 90};${postal};Tromsø\r\n`;
    if (i === 15_000) text += '\r\n\r\n;Uten nummer;;;;;;\r\n';
  }
  const file = cp1252(text);
  expect(file.length).toBeGreaterThan(1_100_000);
  await dropFile(page, 'ansatte.csv', file);
  await expect(page.locator('[data-records]')).toContainText('20000 records');
  // Its line in the file, counted across the parts.
  await expect(page.locator('.row-errors')).toContainText('Line 15009');
  const says = page.getByText(/^Previewed in your browser/);
  if (cores > 1) {
    await expect(says).toContainText(`by ${Math.min(4, cores)} workers`);
  } else {
    await expect(says).not.toContainText('workers');
  }
  const categories = ['conflicts', 'new', 'deleted', 'deactivated', 'synchronized', 'inactive'];
  const preview: Record<string, string> = {};
  for (const c of categories) preview[c] = await previewCount(page, c).innerText();
  expect(Number(preview.new)).toBeGreaterThan(19_000);
  await page.locator('[data-submit-import]').click();
  await notice(page, 'Imported 20000 records from ansatte.csv (1 row errors)');
  // The server's categories equal the preview made from the parts.
  for (const c of categories) {
    await expect(tab(page, c)).toContainText(`(${preview[c]})`);
  }

  // Dropped again, every row is as in the import the server now has: the
  // workers take them as they were (the quoted ones too), and the preview
  // still gives the window's categories.
  await dropFile(page, 'ansatte.csv', file);
  await expect(says).toContainText('20000 of 20000 rows are as in the last import');
  for (const c of categories) {
    await expect(tab(page, c)).toContainText(`(${await previewCount(page, c).innerText()})`);
  }
});

test('a supervisor creates customers with each sync choice and cannot open the window', async ({ page }) => {
  await signIn(page, admin);
  const exists = await page.request.get('/api/v1/users');
  const users = await exists.json();
  if (!users.some((u: { username: string }) => u.username === supervisor.name)) {
    const r = await page.request.post('/api/v1/users', {
      data: { username: supervisor.name, role: 'supervisor', password: supervisor.password },
    });
    expect(r.status()).toBe(201);
  }
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, supervisor);

  for (const [number, name, choice] of [
    ['000888', 'Sync Choice AS', 'Synchronize'],
    ['889', 'Skip Choice AS', 'Do not synchronize'],
    ['890', 'Later Choice AS', 'Choose later'],
  ]) {
    await page.goto('/customers/new');
    await ready(page);
    await page.getByLabel('Customer number *').fill(number);
    await page.getByLabel('Name *').fill(name);
    await page.getByLabel(choice, { exact: true }).check();
    if (choice === 'Synchronize') {
      await expect(page.locator('[data-their-number]')).toContainText('Their number will be 888, leading zeros removed.');
    }
    await page.getByRole('button', { name: 'Create' }).click();
    await expect(page).toHaveURL(/\/customers$/);
    await expect(page.locator('tr', { hasText: name })).toContainText(number);
  }

  // The window is for administrators.
  await page.goto(windowUrl);
  await ready(page);
  await expect(page.getByRole('alert')).toContainText('This page is for administrators');

  // The administrator sees each choice where it belongs.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, admin);
  await page.goto(windowUrl);
  await ready(page);
  await tab(page, 'synchronized').click();
  await expect(page.locator('.vrow', { hasText: 'Sync Choice AS' })).toContainText('888');
  await tab(page, 'deactivated').click();
  await expect(page.locator('.vrow[data-key="ours:889"]')).toBeVisible();
  await tab(page, 'new').click();
  await expect(page.locator('.vrow[data-key="ours:890"]')).toBeVisible();
});

test("a value mapping turns their code into our value in the browser's preview and the import", async ({ page }) => {
  await signIn(page, admin);
  // A connection of its own, two customers of ours in Bergen, and their
  // first export, where Lambda's city is the code BGO.
  const made = await page.request.post('/api/v1/connections', {
    data: {
      name: 'Mapped export',
      customers: {
        rules: {},
        required: { ours: ['number', 'name'], theirs: ['number', 'name'] },
        mapping: [],
      },
    },
  });
  expect(made.status()).toBe(201);
  const api = `/api/v1/connections/${(await made.json()).connection_id}/customer`;
  for (const [number, name] of [
    ['500', 'Kappa AS'],
    ['501', 'Lambda AS'],
  ]) {
    const r = await page.request.post('/api/v1/customers', { data: { number, name, city: 'Bergen' } });
    expect(r.status()).toBe(201);
  }
  const first = 'Kundenummer;Navn;Poststed\r\n500;Kappa AS;Bergen\r\n501;Lambda AS;BGO\r\n';
  const imported = await page.request.post(`${api}/imports?file_name=kunder.csv`, { data: cp1252(first) });
  expect(imported.status()).toBe(201);
  const accepted = await page.request.post(`${api}/actions`, { data: { op: 'accept_suggestions' } });
  expect(accepted.status()).toBe(200);
  expect((await accepted.json()).counts.conflicts).toBe(1);

  // Their BGO is our Bergen.
  const mapped = await page.request.put(`${api}/value-mappings`, {
    data: { field: 'city', their_value: 'BGO', our_value: 'Bergen' },
  });
  expect(mapped.status()).toBe(200);

  await page.goto(api.replace('/api/v1', ''));
  await ready(page);
  await expect(tab(page, 'conflicts')).toContainText('(0)');
  await expect(tab(page, 'synchronized')).toContainText('(2)');

  // Their next export still says BGO, and has a new customer: the preview,
  // made in the browser, lays the mapping over it as the server does.
  await dropFile(page, 'kunder.csv', cp1252(first + '502;My AS;BGO\r\n'));
  await expect(page.locator('[data-records]')).toContainText('3 records');
  await expect(previewCount(page, 'conflicts')).toHaveText('0');
  await expect(previewCount(page, 'synchronized')).toHaveText('2');
  const categories = ['conflicts', 'new', 'deleted', 'deactivated', 'synchronized', 'inactive'];
  const preview: Record<string, string> = {};
  for (const c of categories) preview[c] = await previewCount(page, c).innerText();
  await page.locator('[data-submit-import]').click();
  await notice(page, 'Imported 3 records from kunder.csv');
  for (const c of categories) {
    await expect(tab(page, c)).toContainText(`(${preview[c]})`);
  }
});

import { test, expect, Page } from '@playwright/test';
import { admin, ready, signIn, supervisor } from '../support';

// One story, in order, as people would use a new installation: the first
// administrator sets Partnersync up, adds a supervisor, keeps both registers,
// and the supervisor sees only what a supervisor may.
test.describe.configure({ mode: 'serial' });

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test('first run: the set-up page creates the first administrator', async ({ page }) => {
  await page.goto('/');
  await ready(page);
  await expect(page).toHaveURL(/\/setup$/);
  await page.getByLabel('Set-up token').fill('wrong token');
  await page.getByLabel("Administrator's user name").fill(admin.name);
  await page.getByLabel('Password (at least 10 characters)').fill(admin.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.locator('[data-field="token"]')).toContainText('not the set-up token');

  await page.getByLabel('Set-up token').fill('e2e-set-up-token');
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.locator('.who')).toContainText('anna.admin · Administrator');
  await expect(page.locator('tr[data-user="anna.admin"]')).toBeVisible();
});

test('an administrator adds a supervisor', async ({ page }) => {
  await signIn(page, admin);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('User name').fill(supervisor.name);
  await page.locator('#new-role').selectOption('supervisor');
  await page.getByLabel('Password (at least 10 characters)').fill('short');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.locator('.new-user [data-field="password"]')).toContainText('at least 10');
  await page.getByLabel('Password (at least 10 characters)').fill(supervisor.password);
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.locator(`tr[data-user="${supervisor.name}"]`)).toContainText('Active');
  await expect(page.getByRole('status')).toContainText(`Added ${supervisor.name}`);
});

test('an administrator creates and edits a customer and an employee', async ({ page }) => {
  await signIn(page, admin);
  await page.getByRole('link', { name: 'Customers' }).click();
  await page.getByRole('link', { name: 'New customer' }).click();
  await ready(page);

  // A malformed email is refused next to the field, before anything is sent.
  await page.getByLabel('Customer number *').fill('000123');
  await page.getByLabel('Name *').fill('Fjordkraft AS');
  await page.getByLabel('Email').fill('not-an-email');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator('[data-field="email"]')).toContainText('not an email address');

  await page.getByLabel('Email').fill('post@fjordkraft.no');
  await page.getByLabel('City').fill('Bergen');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/customers$/);
  const row = page.locator('tr', { hasText: 'Fjordkraft AS' });
  await expect(row).toContainText('000123');
  await expect(row).toContainText('Bergen');

  // A duplicate number comes back from the server as a field error.
  await page.getByRole('link', { name: 'New customer' }).click();
  await page.getByLabel('Customer number *').fill('000123');
  await page.getByLabel('Name *').fill('Copy AS');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator('[data-field="number"]')).toContainText('already has the number 000123');
  await page.getByRole('link', { name: 'Back to the list' }).click();

  // Edit: open by number, change the city, deactivate.
  await page.getByRole('link', { name: '000123' }).click();
  await expect(page.getByLabel('Name *')).toHaveValue('Fjordkraft AS');
  await page.getByLabel('City').fill('Trondheim');
  await page.getByLabel('Active').uncheck();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/customers$/);
  await expect(page.locator('tr', { hasText: 'Fjordkraft AS' })).toContainText('Trondheim');
  await expect(page.locator('tr', { hasText: 'Fjordkraft AS' })).toContainText('No');

  // Sorting by a column header, both ways.
  await page.getByRole('link', { name: 'New customer' }).click();
  await page.getByLabel('Customer number *').fill('000200');
  await page.getByLabel('Name *').fill('Aalborg Handel');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator('tbody tr')).toHaveCount(2);
  await page.getByRole('button', { name: 'Name' }).click();
  await expect(page.locator('tbody tr').first()).toContainText('Aalborg Handel');
  await page.getByRole('button', { name: /^Name/ }).click();
  await expect(page.locator('tbody tr').first()).toContainText('Fjordkraft AS');

  // One page of results: the pager's buttons are there and disabled.
  await expect(page.getByRole('button', { name: 'Next', exact: true })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Previous', exact: true })).toBeDisabled();

  // Search.
  await page.getByLabel('Search').fill('trondheim');
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText('Fjordkraft AS');
  await page.getByLabel('Search').fill('no such customer');
  await expect(page.getByText('Nothing matches.')).toBeVisible();

  // Employees.
  await page.getByRole('link', { name: 'Employees' }).click();
  await page.getByRole('link', { name: 'New employee' }).click();
  await page.getByLabel('Employee number *').fill('0042');
  await page.getByLabel('First name *').fill('Kari');
  await page.getByLabel('Last name *').fill('Nordmann');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/employees$/);
  await expect(page.locator('tr', { hasText: 'Nordmann' })).toContainText('0042');
  await page.getByRole('link', { name: '0042' }).click();
  await expect(page.getByLabel('Last name *')).toHaveValue('Nordmann');
  await page.getByLabel('Last name *').fill('Hansen');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('tr', { hasText: 'Kari' })).toContainText('Hansen');

  await signOut(page);
});

test('an administrator resets a password and disables a user', async ({ page, browser }) => {
  // A throwaway user to reset and disable.
  await signIn(page, admin);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('User name').fill('temp.user');
  await page.getByLabel('Password (at least 10 characters)').fill('first password 1');
  await page.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator('tr[data-user="temp.user"]');
  await expect(row).toContainText('Active');

  await row.getByLabel('New password').fill('second password 2');
  await row.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByRole('status')).toContainText('Saved temp.user');

  // The new password works in another browser; the old one does not.
  const other = await browser.newPage();
  await signIn(other, { name: 'temp.user', password: 'second password 2' });
  await signOut(other);
  await other.goto('/login');
  await ready(other);
  await other.getByLabel('User name').fill('temp.user');
  await other.getByLabel('Password').fill('first password 1');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByRole('alert')).toContainText('Wrong user name or password');

  await row.getByRole('button', { name: 'Disable' }).click();
  await expect(row).toContainText('Disabled');
  await other.getByLabel('Password').fill('second password 2');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByRole('alert')).toContainText('Wrong user name or password');
  await other.close();
});

test('a supervisor sees no administration and may create customers', async ({ page }) => {
  await signIn(page, supervisor);
  await expect(page.locator('.who')).toContainText('Supervisor');
  await expect(page.getByRole('link', { name: 'Employees' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);

  // The customer list is there, but numbers do not open the edit page.
  await expect(page.locator('tr', { hasText: 'Fjordkraft AS' })).toBeVisible();
  await expect(page.getByRole('link', { name: '000123' })).toHaveCount(0);

  await page.getByRole('link', { name: 'New customer' }).click();
  await expect(page.getByLabel('Assigned user')).toBeHidden();
  await page.getByLabel('Customer number *').fill('0777');
  await page.getByLabel('Name *').fill('Supervised AS');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/customers$/);
  await expect(page.locator('tr', { hasText: 'Supervised AS' })).toContainText('0777');

  // Typing an administrator's address gets a refusal, from the page and from the server.
  await page.goto('/users');
  await ready(page);
  await expect(page.getByRole('alert').first()).toContainText('for administrators');
  const status = await page.evaluate(async () => (await fetch('/api/v1/users')).status);
  expect(status).toBe(403);

  await signOut(page);
  // Signed out: pages send you to sign in.
  await page.goto('/customers');
  await ready(page);
  await expect(page).toHaveURL(/\/login$/);
});

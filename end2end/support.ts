import { expect, Page } from '@playwright/test';

// What every browser test needs: the people, waiting for the app, and
// signing in (setting the installation up first when a spec runs alone).

export const admin = { name: 'anna.admin', password: 'correct horse battery' };
export const supervisor = { name: 'sven.supervisor', password: 'staple battery horse' };

/// The app marks <main> ready once it is hydrated and knows the session.
export async function ready(page: Page) {
  await expect(page.locator('main[data-ready="true"]')).toBeVisible();
}

export async function signIn(page: Page, who: { name: string; password: string }) {
  await page.goto('/');
  await ready(page);
  if (page.url().endsWith('/setup')) {
    await page.getByLabel('Set-up token').fill('e2e-set-up-token');
    await page.getByLabel("Administrator's user name").fill(admin.name);
    await page.getByLabel('Password (at least 10 characters)').fill(admin.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await expect(page).toHaveURL(/\/users$/);
    await page.getByRole('button', { name: 'Sign out' }).click();
  }
  await page.goto('/login');
  await ready(page);
  await page.getByLabel('User name').fill(who.name);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.who')).toContainText(who.name);
}

import { test, expect } from '@playwright/test';
import { addPlainUser, hydrated, login, logout, unique, ADMIN_EMAIL } from './helpers';

test('admin signs in, sees the shell, creates an API token that works, signs out', async ({ page, request }) => {
  await login(page);
  await expect(page.getByTestId('welcome')).toContainText('Demo Admin');

  // The shell: main navigation, bell and settings side menu.
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const item of ['Contacts', 'Companies', 'Deals', 'Invoices', 'Marketplace', 'Settings']) {
    await expect(nav.getByRole('link', { name: item })).toBeVisible();
  }
  await expect(page.getByTestId('bell')).toBeVisible();
  await nav.getByRole('link', { name: 'Settings' }).click();
  const side = page.getByRole('complementary', { name: 'Settings' });
  await expect(side.getByRole('link', { name: 'Connected apps' })).toBeVisible();
  await expect(side.getByRole('link', { name: 'Import & export' })).toBeVisible();
  await side.getByRole('link', { name: 'Private app tokens' }).click();
  await expect(page.getByRole('heading', { name: 'Private app tokens' })).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/tokens-page.png', fullPage: true });

  const name = unique('e2e-token');
  await page.getByLabel('Token name').fill(name);
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('new-token').locator('code').textContent())!.trim();
  expect(secret).toMatch(/^tdm_[A-Za-z0-9]{40}$/);
  await expect(page.getByTestId('tokens')).toContainText(name);

  // The token works for the automation API, without any cookie.
  const res = await request.post('/api/whoami', {
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    data: {},
  });
  expect(res.status()).toBe(200);
  const me = await res.json();
  expect(me.email).toBe(ADMIN_EMAIL);
  expect(me.role).toBe('super_admin');
  expect(me.auth).toBe('token');

  // Revoked tokens stop working.
  const row = page.getByTestId('tokens').locator('tr', { hasText: name });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Confirm revoke' }).click();
  await expect(page.getByTestId('tokens').locator('tr', { hasText: name })).toHaveCount(0);
  const after = await request.post('/api/whoami', {
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    data: {},
  });
  expect(after.status()).toBe(401);

  await logout(page);
  // Signed out: protected pages send the visitor to the login page.
  await page.goto('/settings/tokens');
  await expect(page).toHaveURL(/\/login\?next=/);
});

test('a plain user cannot open Private app tokens', async ({ page, browser }) => {
  await login(page);
  const email = await addPlainUser(page, 'plain');

  const ctx = await browser.newContext();
  const userPage = await ctx.newPage();
  await login(userPage, email, 'plain-password-1');
  const response = await userPage.goto('/settings/tokens');
  expect(response!.status()).toBe(403);
  await expect(userPage.getByTestId('forbidden')).toContainText('Only Super Admins');
  await userPage.screenshot({ path: 'test-results/screens/tokens-forbidden.png', fullPage: true });
  // The server function refuses too, not just the page.
  const api = await userPage.request.post('/api/list_tokens', { data: {}, headers: { 'Content-Type': 'application/json' } });
  expect(api.status()).toBe(403);
  await ctx.close();
});

test('a wrong password shows a clear message', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('The email or password is not right.');
});

import { test, expect, Page } from '@playwright/test';
import { addPlainUser, hydrated, login } from './helpers';

// scripts/test.sh starts the demo CRM with two seeded accounts, `acme` and `globex`.

/** On the demo CRM's consent page: sign in as the account's admin and answer. */
async function consent(page: Page, account: string, decision: 'Allow' | 'Deny') {
  await expect(page.getByRole('button', { name: 'Allow' })).toBeVisible();
  await page.getByLabel('Username').fill(`${account}-admin`);
  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: decision }).click();
}

test('the admin installs the demo CRM from the Marketplace and connects a second account', async ({ page }) => {
  await login(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Marketplace' }).click();
  await expect(page.getByTestId('app-cards')).toBeVisible();
  await page.getByTestId('app-demo').click();
  await expect(page.getByRole('heading', { name: 'Demo CRM' })).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/marketplace-listing.png', fullPage: true });

  await page.getByTestId('install').click();
  await consent(page, 'acme', 'Allow');
  await expect(page).toHaveURL(/\/settings\/integrations\/connected-apps\/demo\?(connected|reconnected)=/);
  await hydrated(page);
  const accounts = page.getByTestId('accounts');
  await expect(accounts.getByTestId('account-row').filter({ hasText: 'Acme' })).toContainText('Connected');
  await page.screenshot({ path: 'test-results/screens/connected-app.png', fullPage: true });

  // Account actions → Connect another account runs the flow again for another account.
  await page.getByText('Account actions').click();
  await page.getByTestId('connect-another').click();
  await consent(page, 'globex', 'Allow');
  await expect(page).toHaveURL(/\/settings\/integrations\/connected-apps\/demo\?/);
  await hydrated(page);
  await expect(accounts.getByTestId('account-row').filter({ hasText: 'Globex' })).toContainText('Connected');
  await expect(accounts.getByTestId('account-row').filter({ hasText: 'Acme' })).toHaveCount(1);

  // Connecting the same account again is recognised: still one row for it.
  await page.getByText('Account actions').click();
  await page.getByTestId('connect-another').click();
  await consent(page, 'acme', 'Allow');
  await hydrated(page);
  await expect(accounts.getByTestId('account-row').filter({ hasText: 'Acme' })).toHaveCount(1);
});

test('denied consent shows why and connects nothing', async ({ page }) => {
  await login(page);
  await page.goto('/marketplace/demo');
  await hydrated(page);
  await page.getByTestId('install').click();
  await consent(page, 'acme', 'Deny');
  await expect(page.getByRole('heading', { name: 'Access denied' })).toBeVisible();
  await expect(page.locator('body')).toContainText('Nothing was connected');
});

test('a plain user sees why there is no Install button', async ({ page, browser }) => {
  await login(page);
  const email = await addPlainUser(page, 'apps-plain');

  const ctx = await browser.newContext();
  const userPage = await ctx.newPage();
  await login(userPage, email, 'plain-password-1');
  await userPage.goto('/marketplace/demo');
  await hydrated(userPage);
  await expect(userPage.getByRole('heading', { name: 'Demo CRM' })).toBeVisible();
  await expect(userPage.getByTestId('install')).toHaveCount(0);
  await expect(userPage.getByTestId('install-not-allowed')).toContainText('App Marketplace permission');
  // The install link itself refuses too.
  const res = await userPage.goto('/oauth/install/demo');
  expect(res!.status()).toBe(403);
  await ctx.close();
});

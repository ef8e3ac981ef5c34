import { test, expect } from '@playwright/test';
import { unique } from './helpers';

// The demo CRM runs as its own process; scripts/test.sh starts it with a seeded `acme`
// account and passes its address in DEMO_APP_URL.
const DEMO = process.env.DEMO_APP_URL ?? 'http://127.0.0.1:3100';

test('a person signs in to the demo CRM and edits a contact', async ({ page }) => {
  await page.goto(`${DEMO}/`);
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Username').fill('acme-admin');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Wrong username or password');

  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('who')).toContainText('acme');
  await expect(page.getByRole('heading', { name: /Contacts/ })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const item of ['Contacts', 'Companies', 'Deals', 'Invoices', 'Webhooks']) {
    await expect(nav.getByRole('link', { name: item })).toBeVisible();
  }

  // Open the most recently updated contact and change its first name and stage.
  await page.getByTestId('records').locator('tbody tr').first().getByRole('link').click();
  const name = unique('Edited');
  await page.getByLabel('First name').fill(name);
  await page.getByLabel('Lifecycle stage').selectOption('customer');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await expect(page.getByLabel('First name')).toHaveValue(name);
  await expect(page.getByLabel('Lifecycle stage')).toHaveValue('customer');

  // A wrong email is refused with the reason, and nothing is saved.
  await page.getByLabel('Email').fill('not-an-email@');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText('not a valid email address');

  // Email activity can be simulated for the contact.
  await page.getByRole('button', { name: 'Simulate email open' }).click();
  await expect(page.getByRole('status')).toHaveText('Email event recorded.');
  await expect(page.getByTestId('events')).toContainText('email.opened');
  await page.screenshot({ path: 'test-results/screens/demo-app-contact.png', fullPage: true });

  // The list shows the edit (it is now the most recently updated contact).
  await nav.getByRole('link', { name: 'Contacts' }).click();
  await expect(page.getByTestId('records').locator('tbody tr').first()).toContainText(name);
});

import { test, expect } from '@playwright/test';
import { fitsWidth, hydrated, login, unique } from './helpers';

test('create a contact, edit it, find it in the list, archive and restore it', async ({ page }) => {
  await login(page);
  await page.goto('/contacts');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Contacts' })).toBeVisible();

  // Create, with a validation error first.
  const last = unique('Tester');
  const email = `${last.toLowerCase()}@example.com`;
  await page.getByRole('button', { name: 'Create contact' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Email').fill('not-an-email');
  await dialog.getByLabel('First name').fill('Playwright');
  await dialog.getByLabel('Last name').fill(last);
  await dialog.getByRole('button', { name: 'Create contact' }).click();
  await expect(dialog.getByRole('alert')).toContainText('not a valid email address');
  await page.screenshot({ path: 'test-results/screens/crm-create-dialog-error.png' });
  await dialog.getByLabel('Email').fill(email);
  await dialog.getByRole('button', { name: 'Create contact' }).click();

  // The record page.
  await expect(page).toHaveURL(/\/contacts\/\d+$/);
  const recordUrl = page.url();
  await expect(page.getByTestId('record-name')).toHaveText(`Playwright ${last}`);
  await expect(page.locator('[data-property="email"] .value')).toHaveText(email);

  // Edit a text property and a dropdown inline.
  await page.getByRole('button', { name: 'Edit Job title' }).click();
  await page.getByLabel('Job title', { exact: true }).fill('Chief Tester');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('[data-property="jobtitle"] .value')).toHaveText('Chief Tester');
  await expect(page.locator('[data-property="jobtitle"] .changed')).toContainText('by a user');
  await page.getByRole('button', { name: 'Edit Lifecycle stage' }).click();
  await page.getByLabel('Lifecycle stage', { exact: true }).selectOption('customer');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('[data-property="lifecyclestage"] .value')).toHaveText('Customer');
  // A bad value is refused with the field's message, and nothing changes.
  await page.getByRole('button', { name: 'Edit Date of birth' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Edit Phone number' }).click();
  await page.getByLabel('Phone number', { exact: true }).fill('call me maybe');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText('must be a phone number');
  await page.getByRole('button', { name: 'Cancel' }).click();

  // A note on the timeline.
  await page.getByLabel('Note').fill('Met at the e2e conference.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await expect(page.getByTestId('timeline')).toContainText('Met at the e2e conference.');

  // Associate a company through the picker, which searches from the browser.
  const company = unique('Picker Co');
  const made = await page.request.post('/api/create_crm_record', { data: { object: 'companies', properties: { name: company } } });
  expect(made.ok(), await made.text()).toBeTruthy();
  const assoc = page.getByTestId('associations');
  await assoc.getByRole('button', { name: 'Add company' }).click();
  await assoc.getByRole('searchbox', { name: 'Find a company to add' }).fill(company);
  await assoc.getByRole('button', { name: company }).click();
  await expect(assoc).toContainText('Companies (1)');
  await expect(assoc.getByRole('link', { name: company })).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/crm-record.png', fullPage: true });

  // The list shows it, with the edited value, through the search box.
  await page.getByRole('link', { name: '← Contacts' }).click();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(last);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/\?q=/);
  const row = page.getByTestId('records').locator('tbody tr', { hasText: last });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(email);
  await expect(row).toContainText('Customer');
  await page.screenshot({ path: 'test-results/screens/crm-list-search.png', fullPage: true });

  // Archive it: gone from the list, there under "Show archived".
  await row.getByRole('link', { name: `Playwright ${last}` }).click();
  await expect(page).toHaveURL(recordUrl);
  await page.getByRole('button', { name: 'Archive' }).click();
  await page.getByRole('button', { name: 'Yes, archive' }).click();
  await expect(page.getByTestId('archived-badge')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Edit Job title' })).toHaveCount(0);
  await page.goto(`/contacts?q=${encodeURIComponent(last)}`);
  await hydrated(page);
  await expect(page.getByTestId('empty')).toContainText('No contacts match');
  await page.getByTestId('show-archived').click();
  await expect(page.getByRole('heading', { name: 'Archived contacts' })).toBeVisible();
  await expect(page.getByTestId('records')).toContainText(last);

  // Restore brings it back.
  await page.getByTestId('records').getByRole('link', { name: `Playwright ${last}` }).click();
  await page.getByRole('button', { name: 'Restore' }).click();
  await expect(page.getByTestId('archived-badge')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Edit Job title' })).toBeVisible();
});

test('the CRM pages read well on a 390 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page);
  await page.goto('/contacts');
  await hydrated(page);
  await page.getByRole('button', { name: 'Create contact' }).click();
  const last = unique('Phone');
  await page.getByRole('dialog').getByLabel('Last name').fill(last);
  await page.getByRole('dialog').getByRole('button', { name: 'Create contact' }).click();
  await expect(page.getByTestId('record-name')).toHaveText(last);
  await fitsWidth(page);
  await page.screenshot({ path: 'test-results/screens/crm-record-390.png', fullPage: true });
  await page.goto('/contacts');
  await hydrated(page);
  await expect(page.getByTestId('records')).toBeVisible();
  await fitsWidth(page);
  await page.screenshot({ path: 'test-results/screens/crm-list-390.png', fullPage: true });
  await page.goto('/settings/properties?object=deals');
  await hydrated(page);
  await expect(page.getByTestId('properties')).toContainText('Deal stage');
  await fitsWidth(page);
});

test('an admin adds a custom property and uses it on a record', async ({ page }) => {
  await login(page);
  await page.goto('/settings/properties?object=companies');
  await hydrated(page);
  const label = unique('Tier');
  await page.getByText('Add a property to companies').click();
  await page.getByLabel('Label').fill(label);
  await page.getByRole('combobox', { name: /^Type/ }).selectOption('enumeration');
  await page.getByLabel('Options, one per line').fill('gold | Gold\nsilver | Silver');
  await page.getByRole('button', { name: 'Add property' }).click();
  await expect(page.getByTestId('properties')).toContainText(label);

  await page.goto('/companies');
  await hydrated(page);
  await page.getByRole('button', { name: 'Create company' }).click();
  const name = unique('Company');
  await page.getByRole('dialog').getByLabel('Company name').fill(name);
  await page.getByRole('dialog').getByRole('button', { name: 'Create company' }).click();
  await expect(page.getByTestId('record-name')).toHaveText(name);
  await page.getByRole('button', { name: `Edit ${label}` }).click();
  await page.getByLabel(label, { exact: true }).selectOption('gold');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.prop', { hasText: label }).locator('.value')).toHaveText('Gold');
});

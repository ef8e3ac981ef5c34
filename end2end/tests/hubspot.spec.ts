import { test, expect, Page } from '@playwright/test';
import { addFilter, hydrated, login, unique } from './helpers';

// The HubSpot connector through the UI against the HubSpot-wire server that
// scripts/test.sh starts (a stateful server following HubSpot's public CRM v3 docs):
// install with a private app token (a wrong one first), a two-way contacts sync whose
// initial sync pairs by email and creates the rest, then an edit in HubSpot that
// reaches the hub within the search poll, and a failure with HubSpot's reason.

const HUBSPOT = process.env.TANDEM_TEST_HUBSPOT_URL ?? '';
const TOKEN = process.env.TANDEM_TEST_HUBSPOT_TOKEN ?? '';

test.describe.configure({ mode: 'serial' });

const run = unique('hs').toLowerCase().replace(/[^a-z0-9]/g, '');
const ann = `${run}-ann@example.com`;

async function hubspot(method: string, path: string, body?: unknown) {
  const res = await fetch(`${HUBSPOT}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

let annId = '';

test.beforeAll(async () => {
  expect(HUBSPOT, 'TANDEM_TEST_HUBSPOT_URL (scripts/test.sh starts hubspot-wire)').not.toBe('');
  const made = await hubspot('POST', '/crm/v3/objects/contacts', {
    properties: { email: ann, firstname: 'Ann', lastname: 'Spot' },
  });
  expect(made.status).toBe(201);
  annId = made.body.id;
});

test.beforeEach(async ({ page }) => {
  await login(page);
});

async function fillInstall(page: Page, token: string) {
  await page.goto('/marketplace/hubspot');
  await hydrated(page);
  const form = page.getByTestId('credential-install');
  await form.getByLabel('Access token').fill(token);
  await form.getByLabel('API address').fill(HUBSPOT);
  await form.getByTestId('install').click();
}

test('install HubSpot with a private app token: a wrong token is refused, the right one connects', async ({ page }) => {
  await fillInstall(page, 'pat-not-the-token');
  await expect(page.getByTestId('error-secret')).toContainText('refused this access token');
  await expect(page).toHaveURL(/\/marketplace\/hubspot/);
  await fillInstall(page, TOKEN);
  await expect(page.getByTestId('connected-banner')).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId('connected-banner')).toContainText('HubSpot portal');
});

test('a two-way contacts sync pairs and creates, and a HubSpot edit reaches the hub', async ({ page }) => {
  test.setTimeout(180_000);
  const cy = `${run}-cy@example.com`;
  const res = await page.request.post('/api/create_crm_record', {
    data: { object: 'contacts', properties: { email: cy, firstname: 'Cy', lastname: 'Hub' } },
  });
  expect(res.ok(), await res.text()).toBeTruthy();

  await page.goto('/settings/integrations/connected-apps/hubspot?tab=syncs');
  await hydrated(page);
  await page.getByTestId('set-up-sync').click();
  await expect(page).toHaveURL(/\/syncs\/new\?connection=/, { timeout: 15_000 });
  await hydrated(page);
  await page.getByLabel('HubSpot object').selectOption('contacts');
  await expect(page.getByLabel('Hub object')).toHaveValue('contacts');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('mappings').locator('[data-app-field="email"]')).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  // Both sides limited to this run's contacts (the e2e portal and HubSpot have others).
  await addFilter(page, 'hub', 'email', 'contains', run);
  while (!(await page.getByTestId('save-sync').isVisible())) {
    await page.getByRole('button', { name: 'Next' }).click();
  }
  await page.getByTestId('save-sync').click();
  await expect(page).toHaveURL(/tab=syncs&sync=/);
  const row = page.locator('[data-testid="sync-row"][data-object="contacts"]');
  await expect(row.getByTestId('sync-status')).toHaveAttribute('data-phase', 'listening', { timeout: 90_000 });

  // Ann came to the hub; Cy went to HubSpot (by upsert on email).
  const found = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann } } });
  expect(await found.text()).toContain(ann);
  const search = await hubspot('POST', '/crm/v3/objects/contacts/search', {
    filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: cy }] }],
  });
  expect(search.body.total).toBe(1);

  // An edit in HubSpot shows in the hub within the search poll (2 s here).
  const edited = await hubspot('PATCH', `/crm/v3/objects/contacts/${annId}`, { properties: { lastname: 'Edited' } });
  expect(edited.status).toBe(200);
  await expect.poll(async () => {
    const r = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann } } });
    const body = await r.json();
    return body.records?.some((x: { properties: Record<string, string> }) => x.properties.lastname === 'Edited');
  }, { timeout: 15_000, intervals: [200] }).toBe(true);

  // A hub contact HubSpot refuses (a quoted local part: RFC 5322 allows it, the hub
  // takes it, HubSpot does not) fails with HubSpot's reason.
  const badEmail = `"${run}@bad"@example.com`;
  const bad = await page.request.post('/api/create_crm_record', {
    data: { object: 'contacts', properties: { email: badEmail, firstname: 'Bad' } },
  });
  expect(bad.ok(), await bad.text()).toBeTruthy();
  await expect(row.getByTestId('count-failed')).toHaveText('1', { timeout: 30_000 });
  await row.getByTestId('count-failed').click();
  await expect(page).toHaveURL(/state=failed/);
  await hydrated(page);
  const failed = page.getByTestId('sync-record-row').filter({ hasText: `${run}@bad` });
  await expect(failed).toHaveCount(1);
  await failed.getByTestId('open-record').click();
  const detail = page.getByTestId('record-detail');
  await expect(detail.getByTestId('detail-reason')).toContainText('is invalid');
  await detail.getByText('Troubleshoot').click();
  await expect(detail.getByTestId('troubleshoot')).toContainText('How to fix it');
});

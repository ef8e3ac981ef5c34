import { test, expect, Page } from '@playwright/test';
import { addFilter, hydrated, login, unique } from './helpers';

// The BottleCRM connector through the UI against the real BottleCRM server that
// scripts/test.sh starts: install with its address and a personal access token (a
// wrong token first), a two-way contacts sync whose initial sync pairs by email and
// creates the rest, then an edit in BottleCRM that reaches the hub by the next
// comparison of its listing (every 2 s here).

const BOTTLECRM = process.env.TANDEM_TEST_BOTTLECRM_URL ?? '';
const TOKEN = process.env.TANDEM_TEST_BOTTLECRM_TOKEN ?? '';

test.describe.configure({ mode: 'serial' });

const run = unique('bc').toLowerCase().replace(/[^a-z0-9]/g, '');
const ann = `${run}-ann@example.com`;

async function bottlecrm(method: string, path: string, body?: unknown) {
  const res = await fetch(`${BOTTLECRM}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

let annId = '';

test.beforeAll(async () => {
  expect(BOTTLECRM, 'TANDEM_TEST_BOTTLECRM_URL (scripts/test.sh starts BottleCRM)').not.toBe('');
  const made = await bottlecrm('POST', '/api/contacts/', { first_name: 'Ann', last_name: 'Bottle', email: ann });
  expect(made.status).toBe(200);
  annId = made.body.id;
});

test.beforeEach(async ({ page }) => {
  await login(page);
});

async function fillInstall(page: Page, token: string) {
  await page.goto('/marketplace/bottlecrm');
  await hydrated(page);
  const form = page.getByTestId('credential-install');
  await form.getByLabel('Access token').fill(token);
  await form.getByLabel('API address').fill(BOTTLECRM);
  await form.getByTestId('install').click();
}

test('install BottleCRM with a personal access token: a wrong one is refused, the right one connects', async ({ page }) => {
  await fillInstall(page, 'bcrm_pat_not-the-token');
  await expect(page.getByTestId('error-secret')).toContainText('refused this access token');
  await fillInstall(page, TOKEN);
  await expect(page.getByTestId('connected-banner')).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId('connected-banner')).toContainText('(BottleCRM)');
});

test('a two-way contacts sync pairs and creates, and a BottleCRM edit reaches the hub', async ({ page }) => {
  test.setTimeout(180_000);
  const cy = `${run}-cy@example.com`;
  const res = await page.request.post('/api/create_crm_record', {
    data: { object: 'contacts', properties: { email: cy, firstname: 'Cy', lastname: 'Hub' } },
  });
  expect(res.ok(), await res.text()).toBeTruthy();

  await page.goto('/settings/integrations/connected-apps/bottlecrm?tab=syncs');
  await hydrated(page);
  await page.getByTestId('set-up-sync').click();
  await expect(page).toHaveURL(/\/syncs\/new\?connection=/, { timeout: 15_000 });
  await hydrated(page);
  await page.getByLabel('BottleCRM object').selectOption('contacts');
  await expect(page.getByLabel('Hub object')).toHaveValue('contacts');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('mappings').locator('[data-app-field="email"]')).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  await addFilter(page, 'hub', 'email', 'contains', run);
  while (!(await page.getByTestId('save-sync').isVisible())) {
    await page.getByRole('button', { name: 'Next' }).click();
  }
  await page.getByTestId('save-sync').click();
  await expect(page).toHaveURL(/tab=syncs&sync=/);
  const row = page.locator('[data-testid="sync-row"][data-object="contacts"]');
  await expect(row.getByTestId('sync-status')).toHaveAttribute('data-phase', 'listening', { timeout: 90_000 });

  const found = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann } } });
  expect(await found.text()).toContain(ann);
  const there = await bottlecrm('GET', `/api/contacts/?email=${encodeURIComponent(cy)}`);
  expect(there.body.count).toBe(1);

  const edited = await bottlecrm('PATCH', `/api/contacts/${annId}/`, { last_name: 'Edited' });
  expect(edited.status).toBe(200);
  await expect.poll(async () => {
    const r = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann } } });
    const body = await r.json();
    return body.records?.some((x: { properties: Record<string, string> }) => x.properties.lastname === 'Edited');
  }, { timeout: 20_000, intervals: [250] }).toBe(true);
});

import { test, expect, Page, APIRequestContext } from '@playwright/test';
import ExcelJS from 'exceljs';
import * as fs from 'fs';
import * as path from 'path';
import { addFilter, fitsWidth, hydrated, login, logout, unique } from './helpers';

// The sync settings UI against the real stack: Tandem, its workers, Postgres and the
// demo CRM (started by scripts/test.sh with a seeded `acme` account). The tests run in
// order and build on each other: connect → set up a contacts sync → edit on both sides
// → failed record → export → restore deleted → off/on → deal sync → read-only user.

const DEMO = process.env.DEMO_APP_URL ?? 'http://127.0.0.1:3100';
const ADMIN_KEY = 'demo-admin-key';
const SCREENS = 'test-results/screens';
const DOWNLOADS = 'test-results/downloads';

test.describe.configure({ mode: 'serial' });

const run = unique('e2e').toLowerCase();
const good = { email: `${run}-sync@example.com`, first: 'Synced', last: `Person${run.slice(-4)}` };
const broken = { email: `${run}-phone@example.com`, last: 'Brokenphone', phone: 'call me maybe' };
let syncId = '';

async function faults(request: APIRequestContext, body: object | null) {
  const res = body
    ? await request.post(`${DEMO}/admin/faults`, { headers: { 'X-Admin-Key': ADMIN_KEY }, data: body })
    : await request.delete(`${DEMO}/admin/faults`, { headers: { 'X-Admin-Key': ADMIN_KEY } });
  expect(res.ok()).toBeTruthy();
}

async function demoLogin(page: Page) {
  await page.goto(`${DEMO}/login`);
  await page.getByLabel('Username').fill('acme-admin');
  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('who')).toContainText('acme');
}

/** Opens a demo CRM contact by its email. */
async function demoOpenContact(page: Page, email: string) {
  await page.goto(`${DEMO}/ui/contacts?q=${encodeURIComponent(email)}`);
  await page.getByTestId('records').locator('tbody tr').first().getByRole('link').click();
  await expect(page.getByLabel('Email')).toHaveValue(email);
}

async function appPage(page: Page, view = '') {
  await page.goto(`/settings/integrations/connected-apps/demo?tab=syncs${view}`);
  await hydrated(page);
}

function syncRow(page: Page, object: string) {
  return page.locator(`[data-testid="sync-row"][data-object="${object}"]`);
}

async function waitListening(page: Page, object: string, timeout = 90_000) {
  await expect(syncRow(page, object).getByTestId('sync-status')).toHaveAttribute('data-phase', 'listening', { timeout });
}

async function rows(file: string, csv: boolean): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  const ws = csv ? await wb.csv.readFile(file) : (await wb.xlsx.readFile(file), wb.worksheets[0]);
  const out: string[][] = [];
  ws.eachRow((row) => {
    const values = (row.values as unknown[]).slice(1).map((v) => (v == null ? '' : String(v)));
    out.push(values);
  });
  return out;
}

// A panic in the browser (WASM) leaves a page dead without failing a click: every test
// fails on an uncaught page error, and prints the console's errors.
let pageErrors: string[] = [];
test.beforeEach(async ({ page }) => {
  pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[browser] ${m.text()}`);
  });
  await login(page);
});

/** "Set up sync": a link with one connected account, a menu of accounts with several
 *  (apps.spec.ts connects a second one). Picks Acme either way. */
async function setUpSync(page: Page) {
  await page.getByTestId('set-up-sync').click();
  await expect(async () => {
    const acme = page.getByRole('menuitem', { name: /^For acme/i });
    if (!/\/syncs\/new\?connection=/.test(page.url()) && (await acme.isVisible())) await acme.click();
    expect(page.url()).toMatch(/\/syncs\/new\?connection=/);
  }).toPass({ timeout: 15_000 });
}

test.afterEach(async () => {
  expect(pageErrors, 'uncaught errors in the page').toEqual([]);
});

test('connect the demo CRM and set up a two-way contacts sync with a custom mapping and a filter', async ({ page, request }) => {
  test.setTimeout(240_000);
  // Hub properties for the custom mappings (one of the wrong type).
  for (const property of [
    { label: 'Created in Demo CRM', name: 'demo_created_at', type: 'datetime' },
    { label: 'E2E score', name: 'e2e_score', type: 'number' },
  ]) {
    const res = await page.request.post('/api/create_crm_property', { data: { object: 'contacts', property } });
    expect(res.ok(), await res.text()).toBeTruthy();
  }
  // In the demo CRM: a contact that will sync, and one whose phone the hub refuses.
  const demo = await page.context().newPage();
  await demoLogin(demo);
  for (const c of [
    { Email: good.email, 'First name': good.first, 'Last name': good.last },
    { Email: broken.email, 'Last name': broken.last, Phone: broken.phone },
  ]) {
    await demo.goto(`${DEMO}/ui/contacts/new`);
    for (const [label, value] of Object.entries(c)) await demo.getByLabel(label, { exact: true }).fill(value);
    await demo.getByRole('button', { name: 'Create' }).click();
    await expect(demo.getByLabel('Email')).toHaveValue(c.Email);
  }
  await demo.close();

  // Connect an account through the demo CRM's OAuth consent page.
  await page.goto('/marketplace/demo');
  await hydrated(page);
  await page.getByTestId('install').click();
  await page.getByLabel('Username').fill('acme-admin');
  await page.getByLabel('Password').fill('demo');
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page.getByTestId('connected-banner')).toBeVisible();

  // The CRM Syncs tab starts empty.
  await page.getByTestId('crm-syncs-tab').click();
  await expect(page.getByTestId('no-syncs')).toBeVisible();
  await page.screenshot({ path: `${SCREENS}/syncs-empty.png`, fullPage: true });
  await setUpSync(page);
  await expect(page).toHaveURL(/\/syncs\/new\?connection=/);
  await hydrated(page);

  // Select.
  await page.getByLabel('Demo CRM object').selectOption('contacts');
  await expect(page.getByLabel('Hub object')).toHaveValue('contacts');
  await expect(page.getByRole('radio', { name: 'Two-way' })).toHaveAttribute('aria-checked', 'true');
  await page.screenshot({ path: `${SCREENS}/wizard-select.png`, fullPage: true });
  await page.getByRole('button', { name: 'Next' }).click();

  // Configure: the connector's default mappings, then custom ones checked by the server.
  const mappings = page.getByTestId('mappings');
  await expect(mappings.locator('[data-app-field="email"]')).toBeVisible();
  await expect(mappings.getByTestId('mapping-row')).toHaveCount(7);
  await page.getByTestId('add-mapping').locator('summary').click();
  await page.getByLabel('New mapping: app field').selectOption('job_title');
  await page.getByLabel('New mapping: hub property').selectOption('e2e_score');
  await page.getByRole('button', { name: 'Add a mapping' }).click();
  await expect(page.getByTestId('mapping-error')).toContainText('cannot be converted');
  await page.screenshot({ path: `${SCREENS}/wizard-mapping-error.png`, fullPage: true });
  const wrong = mappings.getByTestId('mapping-row').filter({ hasText: 'E2E score' });
  await wrong.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('mapping-error')).toHaveCount(0);
  await page.getByLabel('New mapping: app field').selectOption('created_at');
  await page.getByLabel('New mapping: hub property').selectOption('demo_created_at');
  await page.getByRole('button', { name: 'Add a mapping' }).click();
  await expect(page.getByTestId('mapping-error')).toContainText('read-only in the app');
  const custom = mappings.getByTestId('mapping-row').filter({ hasText: 'Created in Demo CRM' });
  await custom.getByLabel('Direction of created_at').selectOption('to_hub');
  // Fixing the direction clears the problem at once, before Next.
  await expect(page.getByTestId('mapping-error')).toHaveCount(0);
  await page.screenshot({ path: `${SCREENS}/wizard-configure.png`, fullPage: true });
  await page.getByRole('button', { name: 'Next' }).click();

  // Limit: only app contacts with an email enter the sync.
  await expect(page.getByRole('heading', { name: 'Limit' })).toBeVisible();
  await expect(page.getByLabel('Sync only contacts with an email address')).toBeChecked();
  await expect(page.getByTestId('filters-app')).toContainText('All records');
  const appFilters = await addFilter(page, 'app', 'email', 'contains', '@');
  await expect(appFilters.locator('.filter-summary')).toHaveText('Email contains @');
  await page.screenshot({ path: `${SCREENS}/wizard-limit.png`, fullPage: true });
  await page.getByRole('button', { name: 'Next' }).click();

  // Associations, Review.
  await expect(page.getByRole('heading', { name: 'Associations' })).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  const review = page.getByTestId('review');
  await expect(review).toContainText('Two-way');
  await expect(review).toContainText('Email contains @');
  await expect(page.locator('.review-mappings')).toContainText('Created at → Created in Demo CRM');
  await page.screenshot({ path: `${SCREENS}/wizard-review.png`, fullPage: true });

  // Slow the demo CRM down so the initial sync can be watched, then save.
  await faults(request, { latency_ms: 1200 });
  try {
    await page.getByTestId('save-sync').click();
    await expect(page).toHaveURL(/tab=syncs&sync=/);
    syncId = new URL(page.url()).searchParams.get('sync') ?? '';
    expect(syncId).not.toBe('');
    const row = syncRow(page, 'contacts');
    await expect(row.getByRole('progressbar')).toBeVisible();
    await row.getByTestId('sync-status').hover();
    await expect(row.locator('.phase-tracker')).toBeVisible();
    await expect(row.locator('.phase-tracker li.current')).toHaveCount(1);
    await page.screenshot({ path: `${SCREENS}/syncs-initial-sync.png`, fullPage: true });
  } finally {
    await faults(request, null);
  }
  await waitListening(page, 'contacts');
  const row = syncRow(page, 'contacts');
  await expect(row.locator('.status-line')).toHaveText('Listening for changes');
  await expect(row.getByRole('progressbar')).toHaveCount(0);
  await expect.poll(async () => Number((await row.getByTestId('count-syncing').innerText()).replace(/,/g, ''))).toBeGreaterThan(10);
  await expect(row.getByTestId('count-failed')).not.toHaveText('0');
  await expect(row.getByTestId('hour-chart')).toBeVisible();
  await page.screenshot({ path: `${SCREENS}/syncs-object-view.png`, fullPage: true });

  // The completed initial sync is in the notification centre.
  await page.reload();
  await hydrated(page);
  await page.getByTestId('bell').click();
  await expect(page.getByTestId('bell-panel').locator('[data-kind="sync_completed"]').first()).toContainText('Initial sync of contacts');
  await page.screenshot({ path: `${SCREENS}/notifications-bell.png` });
});

test('a change in the demo CRM shows in the hub, and back', async ({ page }) => {
  test.setTimeout(120_000);
  const demo = await page.context().newPage();
  await demoLogin(demo);
  await demoOpenContact(demo, good.email);
  const title = `Pilot ${run}`;
  await demo.getByLabel('Job title').fill(title);
  await demo.getByRole('button', { name: 'Save' }).click();
  await expect(demo.getByRole('status')).toHaveText('Saved.');

  // In the hub within seconds (webhook → worker).
  await page.goto(`/contacts?q=${encodeURIComponent(good.email)}`);
  await hydrated(page);
  await page.getByTestId('records').locator('tbody tr').first().getByRole('link').first().click();
  await expect(page).toHaveURL(/\/contacts\/\d+$/);
  const hubUrl = page.url();
  await expect
    .poll(async () => {
      await page.goto(hubUrl);
      return page.locator('[data-property="jobtitle"] .value').innerText();
    }, { timeout: 30_000 })
    .toBe(title);
  await expect(page.locator('[data-property="demo_created_at"] .value')).not.toHaveText('');

  // And back: edit in the hub, see it in the demo CRM.
  await hydrated(page);
  const back = `Captain ${run}`;
  await page.getByRole('button', { name: 'Edit Job title' }).click();
  await page.getByLabel('Job title', { exact: true }).fill(back);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('[data-property="jobtitle"] .value')).toHaveText(back);
  await expect
    .poll(async () => {
      await demo.reload();
      return demo.getByLabel('Job title').inputValue();
    }, { timeout: 30_000 })
    .toBe(back);
  await demo.screenshot({ path: `${SCREENS}/demo-app-synced-contact.png`, fullPage: true });
  await demo.close();
});

test('a failed record shows why and how to fix it', async ({ page }) => {
  await appPage(page);
  await syncRow(page, 'contacts').getByTestId('count-failed').click();
  await expect(page).toHaveURL(/state=failed/);
  await hydrated(page);
  await expect(page.getByTestId('reason-groups')).toContainText('The hub refused the record');
  const failed = page.getByTestId('sync-record-row').filter({ hasText: broken.email });
  await expect(failed).toHaveCount(1);
  await expect(failed).toContainText('phone');
  await page.screenshot({ path: `${SCREENS}/records-failed.png`, fullPage: true });
  await failed.getByTestId('open-record').click();
  const detail = page.getByTestId('record-detail');
  await expect(detail).toBeVisible();
  await expect(detail.getByTestId('detail-state')).toHaveText('Failed');
  await expect(detail.getByTestId('detail-reason')).toContainText('phone');
  await expect(detail.locator('tr[data-failed="true"]')).toContainText('phone');
  await expect(detail.locator('tr[data-failed="true"]')).toContainText(broken.phone);
  await expect(detail.getByTestId('detail-activity')).not.toBeEmpty();
  await detail.getByText('Troubleshoot').click();
  const guide = detail.getByTestId('troubleshoot');
  await expect(guide).toContainText('What it means');
  await expect(guide).toContainText('How to fix it');
  await expect(guide.getByRole('link', { name: 'Edit the sync settings' })).toHaveAttribute('href', `/settings/integrations/syncs/${syncId}/edit`);
  await page.screenshot({ path: `${SCREENS}/record-troubleshoot.png`, fullPage: true });
  // The guide's link opens the wizard with the saved settings.
  await guide.getByRole('link', { name: 'Edit the sync settings' }).click();
  await expect(page).toHaveURL(new RegExp(`/syncs/${syncId}/edit$`));
  await expect(page.getByTestId('restart-warning')).toBeVisible();
  await expect(page.getByLabel('Demo CRM object')).toHaveValue('contacts');
  await expect(page.getByLabel('Demo CRM object')).toBeDisabled();
});

test('failed records export as XLSX and CSV', async ({ page }) => {
  test.setTimeout(120_000);
  fs.mkdirSync(DOWNLOADS, { recursive: true });
  await page.goto(`/settings/integrations/syncs/${syncId}?state=failed`);
  await hydrated(page);
  const total = Number((await page.getByTestId('tab-failed').locator('.count').innerText()).replace(/,/g, ''));
  expect(total).toBeGreaterThan(0);
  for (const format of ['xlsx', 'csv'] as const) {
    await page.getByTestId('records-more').click();
    await page.getByRole('menuitem', { name: 'Export' }).click();
    const dialog = page.getByTestId('export-dialog');
    await expect(dialog).toBeVisible();
    await dialog.getByLabel(format === 'xlsx' ? 'Excel (XLSX)' : 'CSV').check();
    await dialog.getByRole('button', { name: 'Export' }).click();
    const link = dialog.getByTestId('download-export');
    await expect(link).toBeVisible({ timeout: 30_000 });
    if (format === 'xlsx') await page.screenshot({ path: `${SCREENS}/export-ready.png` });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = path.join(DOWNLOADS, `failed.${format}`);
    await download.saveAs(file);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^tandem-contacts-failed-.*\\.${format}$`));
    const table = await rows(file, format === 'csv');
    expect(table[0]).toEqual(['Record', 'State', 'Reason', 'Reason code', 'Message', 'Field', 'Hub id', 'App id', 'Deleted in', 'Last synced (UTC)', 'Updated (UTC)']);
    expect(table.length - 1).toBe(total);
    const line = table.find((r) => r[0] === broken.email);
    expect(line, `${broken.email} in the ${format} file`).toBeTruthy();
    expect(line![1]).toBe('failed');
    expect(line![3]).toBe('hub_validation');
    expect(table.slice(1).every((r) => r[1] === 'failed')).toBeTruthy();
    await dialog.getByRole('button', { name: 'Close' }).click();
  }
  // Both links are also in the notification centre, without a reload.
  await page.getByTestId('bell').click();
  await expect(page.getByTestId('bell-panel').locator('[data-kind="export_ready"]')).toHaveCount(2);
});

test('restore deleted records after reviewing the list', async ({ page }) => {
  test.setTimeout(120_000);
  // Delete the synced contact in the demo CRM; the sync marks it deleted there.
  const demo = await page.context().newPage();
  await demoLogin(demo);
  await demoOpenContact(demo, good.email);
  await demo.getByRole('button', { name: 'Delete contact' }).click();
  await demo.goto(`${DEMO}/ui/contacts?q=${encodeURIComponent(good.email)}`);
  await expect(demo.getByTestId('records').locator('tbody tr')).toHaveCount(0);

  await appPage(page, '&view=records');
  const view = page.getByTestId('record-view');
  await view.getByLabel('State').selectOption('deleted');
  await expect
    .poll(async () => {
      await view.getByRole('button', { name: 'Search' }).click();
      return page.getByTestId('record-view-row').filter({ hasText: good.email }).count();
    }, { timeout: 30_000 })
    .toBe(1);
  await page.screenshot({ path: `${SCREENS}/record-view-deleted.png`, fullPage: true });

  await page.getByTestId('record-view-more').click();
  await page.getByRole('menuitem', { name: 'Restore all deleted records' }).click();
  const dialog = page.getByTestId('restore-dialog');
  await dialog.getByLabel('Record type').selectOption({ label: 'Contacts' });
  await dialog.getByLabel('Restore in').selectOption('app');
  await dialog.getByRole('button', { name: 'Review before restoring' }).click();
  await expect(dialog.getByTestId('restore-review')).toContainText(good.email);
  const restoreAll = dialog.getByTestId('restore-all');
  await expect(restoreAll).toHaveText(/^Restore all \d+$/);
  await page.screenshot({ path: `${SCREENS}/restore-review.png`, fullPage: true });
  await restoreAll.click();
  await expect(dialog.getByTestId('restore-done')).toContainText('will be restored in Demo CRM');

  // The contact exists in the demo CRM again.
  await expect
    .poll(async () => {
      await demo.goto(`${DEMO}/ui/contacts?q=${encodeURIComponent(good.email)}`);
      return demo.getByTestId('records').locator('tbody tr').count();
    }, { timeout: 30_000 })
    .toBe(1);
  await demo.close();
});

test('turn a sync off and on', async ({ page }) => {
  test.setTimeout(120_000);
  await appPage(page);
  // The server renders the rows with their counts; the browser only takes them over.
  const html = await (await page.request.get('/settings/integrations/connected-apps/demo?tab=syncs', { headers: { Accept: 'text/html' } })).text();
  expect(html).toContain('data-testid="sync-row"');
  expect(html).toContain('data-testid="count-syncing"');
  const row = syncRow(page, 'contacts');
  await row.getByTestId('sync-more').click();
  await row.getByRole('menuitem', { name: 'Turn off' }).click();
  await expect(row.getByTestId('sync-status')).toHaveAttribute('data-phase', 'off');
  await expect(row.getByText('Off', { exact: true })).toBeVisible();
  await page.screenshot({ path: `${SCREENS}/syncs-turned-off.png`, fullPage: true });
  await row.getByTestId('sync-more').click();
  await row.getByRole('menuitem', { name: 'Turn on' }).click();
  await expect(row.getByTestId('sync-status')).not.toHaveAttribute('data-phase', 'off');
  await waitListening(page, 'contacts');
});

test('a deal sync with auto-mapped stages', async ({ page }) => {
  test.setTimeout(180_000);
  await appPage(page);
  await setUpSync(page);
  await hydrated(page);
  await page.getByLabel('Demo CRM object').selectOption('deals');
  await expect(page.getByLabel('Hub object')).toHaveValue('deals');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('mappings').locator('[data-app-field="title"]')).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  const stages = page.getByTestId('stage-mapping');
  await expect(stages.getByTestId('stages-mapped')).toHaveText('0 stages mapped');
  await stages.getByRole('button', { name: 'Auto-map' }).click();
  await expect(stages.getByTestId('stages-mapped')).not.toHaveText('0 stages mapped');
  await expect(stages.locator('.stage-block').first()).toBeVisible();
  await page.screenshot({ path: `${SCREENS}/wizard-deal-stages.png`, fullPage: true });
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('review')).toContainText('mapped');
  await page.getByTestId('save-sync').click();
  await expect(page).toHaveURL(/tab=syncs&sync=/);
  await waitListening(page, 'deals');
  await expect
    .poll(async () => Number((await syncRow(page, 'deals').getByTestId('count-syncing').innerText()).replace(/,/g, '')))
    .toBeGreaterThan(0);
  await page.screenshot({ path: `${SCREENS}/syncs-two-syncs.png`, fullPage: true });
});

test('an admin\'s sync and settings pages read well on a 390 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const pages: [string, string][] = [
    ['/settings/integrations/connected-apps/demo?tab=syncs', 'syncs-admin-390'],
    ['/settings/integrations/connected-apps/demo?tab=syncs&view=records', 'record-view-390'],
    ['/settings/integrations/connected-apps/demo', 'connected-app-390'],
    ['/settings/integrations/connected-apps', 'connected-apps-390'],
    ['/settings/import-export', 'import-export-390'],
    ['/settings/users', 'users-390'],
    ['/settings/tokens', 'tokens-390'],
    ['/settings/properties', 'properties-390'],
    ['/notifications', 'notifications-390'],
    ['/marketplace/demo', 'marketplace-listing-390'],
  ];
  for (const [url, name] of pages) {
    await page.goto(url);
    await hydrated(page);
    await fitsWidth(page);
    await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage: true });
  }
  // The wizard, then its mapping table; the failed list, then a record's detail panel.
  await page.goto(`/settings/integrations/syncs/${syncId}/edit`);
  await hydrated(page);
  await fitsWidth(page);
  await page.screenshot({ path: `${SCREENS}/wizard-390.png`, fullPage: true });
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('mappings')).toBeVisible();
  await fitsWidth(page);
  await page.screenshot({ path: `${SCREENS}/wizard-configure-390.png`, fullPage: true });
  await page.goto(`/settings/integrations/syncs/${syncId}?state=failed`);
  await hydrated(page);
  await fitsWidth(page);
  await page.screenshot({ path: `${SCREENS}/records-failed-390.png`, fullPage: true });
  await page.getByTestId('sync-record-row').first().getByTestId('open-record').click();
  await expect(page.getByTestId('record-detail')).toBeVisible();
  await fitsWidth(page);
  await page.screenshot({ path: `${SCREENS}/record-detail-390.png`, fullPage: true });
});

test('people without the App Marketplace permission see status and lists, not the buttons', async ({ page }) => {
  const email = `${run}-viewer@example.com`;
  const res = await page.request.post('/api/create_user', {
    data: { email, name: 'Vera Viewer', password: 'a-long-password', role: 'user' },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
  await logout(page);
  await page.setViewportSize({ width: 390, height: 844 });
  const viewer = page;
  await login(viewer, email, 'a-long-password');
  await appPage(viewer);
  await expect(syncRow(viewer, 'contacts')).toBeVisible();
  await expect(viewer.getByTestId('set-up-sync')).toHaveCount(0);
  await expect(viewer.getByTestId('sync-more')).toHaveCount(0);
  await fitsWidth(viewer);
  await viewer.screenshot({ path: `${SCREENS}/syncs-object-view-390.png`, fullPage: true });
  await syncRow(viewer, 'contacts').getByTestId('count-syncing').click();
  await hydrated(viewer);
  await expect(viewer.getByTestId('sync-record-list')).toBeVisible();
  await expect(viewer.getByTestId('record-actions')).toHaveCount(0);
  await fitsWidth(viewer);
  await viewer.screenshot({ path: `${SCREENS}/records-390.png`, fullPage: true });
  // The wizard says why it is not available.
  await viewer.goto(`/settings/integrations/syncs/${syncId}/edit`);
  await expect(viewer.getByTestId('forbidden')).toBeVisible();
});

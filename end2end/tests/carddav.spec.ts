import { test, expect, Page } from '@playwright/test';
import * as fs from 'fs';
import { addFilter, hydrated, login, unique } from './helpers';

// The CardDAV connector through the UI against the real Radicale that scripts/test.sh
// starts: install with URL + user + password (a wrong password first), a two-way
// contacts sync whose initial sync pairs by email and creates the rest, then a change
// in the address book that reaches the hub within the polling interval.

const RADICALE = process.env.TANDEM_TEST_RADICALE_URL ?? '';
const USERS = process.env.TANDEM_TEST_RADICALE_USERS ?? '';

test.describe.configure({ mode: 'serial' });

const run = unique('dav').toLowerCase().replace(/[^a-z0-9]/g, '');
const user = `e2e${run}`;
const password = 'e2e-dav-password';
const book = `/${user}/contacts/`;
const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const ann = { email: `${run}-ann@example.com`, first: 'Ann', last: 'Card' };

function card(uid: string, first: string, last: string, email: string) {
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${first} ${last}\r\nN:${last};${first};;;\r\nEMAIL;TYPE=INTERNET:${email}\r\nEND:VCARD\r\n`;
}

async function dav(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${RADICALE}${path}`, { method, body, headers: { Authorization: auth, ...headers } });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
}

test.beforeAll(async () => {
  expect(RADICALE, 'TANDEM_TEST_RADICALE_URL (scripts/test.sh starts Radicale)').not.toBe('');
  fs.appendFileSync(USERS, `${user}:${password}\n`);
  const made = await dav('MKCOL', book,
    '<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>E2E contacts</d:displayname></d:prop></d:set></d:mkcol>',
    { 'Content-Type': 'application/xml' });
  expect(made.status).toBe(201);
  const put = await dav('PUT', `${book}ann.vcf`, card('ann', ann.first, ann.last, ann.email),
    { 'Content-Type': 'text/vcard', 'If-None-Match': '*' });
  expect(put.status).toBe(201);
});

test.beforeEach(async ({ page }) => {
  await login(page);
});

async function fillInstall(page: Page, secret: string) {
  await page.goto('/marketplace/carddav');
  await hydrated(page);
  const form = page.getByTestId('credential-install');
  await form.getByLabel('Server URL').fill(`${RADICALE}${book}`);
  await form.getByLabel('User name').fill(user);
  await form.getByLabel('Password or app password').fill(secret);
  await form.getByTestId('install').click();
}

test('install a CardDAV address book: a wrong password is refused, the right one connects', async ({ page }) => {
  await fillInstall(page, 'not the password');
  await expect(page.getByTestId('error-secret')).toContainText('refused this user name and password');
  await expect(page).toHaveURL(/\/marketplace\/carddav/);
  await fillInstall(page, password);
  await expect(page.getByTestId('connected-banner')).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId('connected-banner')).toContainText('E2E contacts');
});

test('a two-way sync pairs and creates, and an address book edit reaches the hub', async ({ page }) => {
  test.setTimeout(180_000);
  // A hub contact of this run only: the sync is limited to this run's emails.
  const cy = `${run}-cy@example.com`;
  const res = await page.request.post('/api/create_crm_record', {
    data: { object: 'contacts', properties: { email: cy, firstname: 'Cy', lastname: 'Hub' } },
  });
  expect(res.ok(), await res.text()).toBeTruthy();

  await page.goto('/settings/integrations/connected-apps/carddav?tab=syncs');
  await hydrated(page);
  await page.getByTestId('set-up-sync').click();
  await expect(page).toHaveURL(/\/syncs\/new\?connection=/, { timeout: 15_000 });
  await hydrated(page);
  await page.getByLabel('CardDAV address book object').selectOption('cards');
  await expect(page.getByLabel('Hub object')).toHaveValue('contacts');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('mappings').locator('[data-app-field="email"]')).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  // Limit the hub side to this run's contacts (the e2e portal has many others).
  await addFilter(page, 'hub', 'email', 'contains', run);
  while (!(await page.getByTestId('save-sync').isVisible())) {
    await page.getByRole('button', { name: 'Next' }).click();
  }
  await page.getByTestId('save-sync').click();
  await expect(page).toHaveURL(/tab=syncs&sync=/);
  const row = page.locator('[data-testid="sync-row"][data-object="contacts"]');
  await expect(row.getByTestId('sync-status')).toHaveAttribute('data-phase', 'listening', { timeout: 90_000 });
  await expect(row.getByTestId('count-syncing')).toHaveText('2');

  // Ann came to the hub; Cy went to the address book.
  const found = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann.email } } });
  expect(await found.text()).toContain(ann.email);
  const listing = await dav('PROPFIND', book, undefined, { Depth: '1' });
  const hrefs = [...listing.text.matchAll(/<href>([^<]+\.vcf)<\/href>/g)].map((m) => m[1]);
  expect(hrefs).toHaveLength(2);
  const cards = await Promise.all(hrefs.map((h) => dav('GET', h)));
  expect(cards.some((c) => c.text.includes(cy))).toBeTruthy();

  // An edit in the address book shows in the hub within the polling interval (2 s here)
  // plus a second.
  const current = await dav('GET', `${book}ann.vcf`);
  let started = Date.now();
  const edited = await dav('PUT', `${book}ann.vcf`, card('ann', ann.first, 'Edited', ann.email),
    { 'Content-Type': 'text/vcard', 'If-Match': current.etag ?? '*' });
  expect(edited.status).toBe(204);
  let annId = '';
  await expect.poll(async () => {
    const r = await page.request.post('/api/list_crm_records', { data: { object: 'contacts', request: { search: ann.email } } });
    const body = await r.json();
    const found = body.records?.find((x: { properties: Record<string, string> }) => x.properties.lastname === 'Edited');
    annId = found ? String(found.id) : '';
    return annId !== '';
  }, { timeout: 10_000, intervals: [100] }).toBe(true);
  const toHub = Date.now() - started;
  console.log(`address book → hub: ${toHub} ms`);
  expect(toHub).toBeLessThan(3_000);

  // A hub edit shows in the address book as fast (hub changes are picked up at once).
  started = Date.now();
  const updated = await page.request.post('/api/update_crm_record', {
    data: { object: 'contacts', id: Number(annId), properties: { jobtitle: 'Pilot' } },
  });
  expect(updated.ok(), await updated.text()).toBeTruthy();
  await expect.poll(async () => (await dav('GET', `${book}ann.vcf`)).text, { timeout: 10_000, intervals: [100] }).toContain('TITLE:Pilot');
  const toApp = Date.now() - started;
  console.log(`hub → address book: ${toApp} ms`);
  expect(toApp).toBeLessThan(3_000);
});

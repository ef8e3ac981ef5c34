import { expect, Page } from '@playwright/test';

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = process.env.TANDEM_ADMIN_PASSWORD ?? 'e2e-admin-password';

/** Waits until the page is hydrated (interactive), so clicks reach Leptos handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** The page fits the viewport: nothing sticks out sideways (tables scroll inside their
 * own box), and no table cell cuts its text off at a card's edge. */
export async function fitsWidth(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  // When something sticks out, the message names it: the innermost elements past the
  // right edge that no scrolling box clips (absolutely placed ones may escape theirs).
  const sticking = overflow <= 0 ? [] : await page.evaluate(() => {
    const insideScroller = (el: Element) => {
      if (getComputedStyle(el).position === 'absolute') return false;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true;
      }
      return false;
    };
    const out = Array.from(document.body.querySelectorAll('*')).filter(
      (el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !insideScroller(el),
    );
    return out
      .filter((el) => !out.some((o) => o !== el && el.contains(o)))
      .map((el) => `<${el.tagName.toLowerCase()} class="${el.className}"> ${(el as HTMLElement).innerText?.slice(0, 40) ?? ''}`);
  });
  expect(overflow, `sticks out: ${sticking.join('; ')}`).toBeLessThanOrEqual(0);
  const clipped = await page.evaluate(() =>
    Array.from(document.querySelectorAll('table td'))
      .filter((td) => td.scrollWidth > td.clientWidth + 1)
      .map((td) => (td.getAttribute('data-label') ?? '') + ': ' + (td as HTMLElement).innerText.trim()),
  );
  expect(clipped).toEqual([]);
}

export async function login(page: Page, email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user-menu')).toBeVisible();
  await hydrated(page);
}

export async function logout(page: Page) {
  await page.getByTestId('user-menu').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

/** A name that does not clash with earlier runs against the same database. */
export function unique(prefix: string) {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** As the signed-in admin, adds a plain user (role User) in Settings → Users, signs out,
 *  and answers the new user's email; their password is `plain-password-1`. */
export async function addPlainUser(page: Page, prefix: string) {
  await page.goto('/settings/users');
  await hydrated(page);
  const email = `${unique(prefix)}@example.com`;
  await page.getByLabel('Name').fill('Plain User');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Initial password').fill('plain-password-1');
  await page.getByLabel('Role').selectOption('user');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('users')).toContainText(email);
  await logout(page);
  return email;
}

/** In the sync wizard's Limit step, adds one condition to the filters of `side`
 *  (`hub` or `app`); answers that side's filter panel. */
export async function addFilter(page: Page, side: 'hub' | 'app', field: string, op: string, value: string) {
  const filters = page.getByTestId(`filters-${side}`);
  await filters.getByRole('button', { name: 'Edit' }).click();
  await filters.getByRole('button', { name: 'Add a condition' }).click();
  await filters.getByLabel('Filter field').selectOption(field);
  await filters.getByLabel('Filter operator').selectOption(op);
  await filters.getByLabel('Filter value').fill(value);
  await filters.getByLabel('Filter value').blur();
  await filters.getByRole('button', { name: 'Done' }).click();
  return filters;
}

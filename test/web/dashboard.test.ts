/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core; no
 * browser download) against a real gateway, simulator and callback receiver: sign in, watch an
 * account's bar fill and empty as simulated jobs run, see a failure and a dead callback appear,
 * redeliver it. Saves a screenshot (docs/dashboard.png when DASHBOARD_SHOT=docs, so a plain run leaves
 * the work tree clean). Without Chromium this test FAILS; it never skips.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Receiver } from '../callbacks/receiver.ts';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT =
  process.env['DASHBOARD_SHOT'] === 'docs'
    ? new URL('../../docs/dashboard.png', import.meta.url)
    : pathToFileURL(join(mkdtempSync(join(tmpdir(), 'pixgate-shot-')), 'dashboard.png'));

describe('dashboard in Chromium', () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let receiver: Receiver;
  let tenant: { userId: number; token: string };
  const requested: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is required for the dashboard test: install it (apt-get install -y chromium) or set CHROMIUM_PATH; looked for ${CHROMIUM}`,
    );
    receiver = await Receiver.start(() => ({ status: 500 }));
    // Two quick attempts, then dead: the test sees a dead callback within a second.
    h = await startHarness({ config: { callbackScheduleMs: [0, 100] } });
    tenant = await createTenant(h, 'studio');
    await addAccount(h, tenant.token, 'alpha@studio.io', 'sk-alpha-0001', 2);
    await addAccount(h, tenant.token, 'beta@studio.io', 'sk-beta-00001', 3);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (request) => requested.push(request.url()));
  });

  after(async () => {
    await browser?.close();
    await h?.close();
    await receiver?.close();
  });

  const create = (prompt: string, extra: Record<string, unknown> = {}) =>
    call(h.gw.url, 'POST', '/v2/pixverse/videos/create', tenant.token, {
      prompt,
      duration: 5,
      queue: true,
      ...extra,
    });
  const bar = (email: string) => page.locator(`.account[data-email="${email}"]`);

  it('signs in with a tenant token kept in sessionStorage only', async () => {
    await page.goto(`${h.gw.url}/`);
    await page.locator('#token').fill('user:999-not-a-token');
    await page.locator('#signin-form button').click();
    await page.locator('#signin-error', { hasText: 'not valid' }).waitFor();

    await page.locator('#token').fill(tenant.token);
    await page.locator('#signin-form button').click();
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    await bar('alpha@studio.io').waitFor();
    assert.equal(await page.locator('#signin').isVisible(), false, 'the sign-in form is gone');
    assert.equal(await page.locator('#admin').isVisible(), false, 'a tenant sees no admin panel');
    assert.equal(await bar('alpha@studio.io').getAttribute('data-executing'), '0');
    assert.equal(await bar('beta@studio.io').getAttribute('data-max'), '3');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('pixgate.dashboard.token')), tenant.token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  it('shows a failure and a dead callback as they happen', async () => {
    const failing = await create('a lighthouse #sim:fail', {
      email: 'alpha@studio.io',
      replyUrl: receiver.url,
    });
    assert.equal(failing.status, 200, JSON.stringify(failing.body));
    await page.locator('[data-testid=failures] tbody tr[data-id]').first().waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-testid=failures] tbody tr[data-id]').count(), 1);
    await page.locator('[data-testid=deliveries] tr[data-state=dead]').waitFor({ timeout: 20_000 });
    assert.ok(receiver.received.length >= 2, 'both attempts reached the receiver');
  });

  it('fills a bar as simulated jobs run and empties it when they end', async () => {
    // Five jobs pinned to alpha (2 slots): it fills, three wait in the queue, then everything drains.
    for (let i = 0; i < 5; i++) {
      const res = await create(`a storm at sea, take ${i} #sim:duration=2500`, { email: 'alpha@studio.io' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await page
      .locator('.account[data-email="alpha@studio.io"][data-executing="2"]')
      .waitFor({ timeout: 20_000 });
    assert.equal(await bar('alpha@studio.io').locator('.slot.busy').count(), 2);
    await page.locator('[data-testid=queue] tbody tr[data-id]').first().waitFor();
    assert.equal(await page.locator('[data-testid=running] tbody tr[data-id]').count(), 2);
    const elapsed = page.locator('[data-testid=running] tbody tr[data-id] td[data-since]').first();
    await waitFor(async () => /^[1-9]\d*s$/.test((await elapsed.textContent()) ?? ''), 10_000, 200);

    mkdirSync(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: fileURLToPath(SCREENSHOT), fullPage: true });

    // On a phone the panels stack and nothing makes the page scroll sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(widths[0]! <= widths[1]!, `page ${widths[0]} px wide in a ${widths[1]} px viewport`);
    const [accounts, chart] = await Promise.all(
      ['#accounts', '#chart'].map((sel) => page.locator(sel).boundingBox()),
    );
    assert.ok(
      chart!.y > accounts!.y + accounts!.height,
      'the chart sits below the accounts, not beside them',
    );
    if (process.env['DASHBOARD_PHONE_SHOT'])
      await page.screenshot({ path: process.env['DASHBOARD_PHONE_SHOT'], fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page
      .locator('.account[data-email="alpha@studio.io"][data-executing="0"]')
      .waitFor({ timeout: 40_000 });
    assert.equal(await bar('alpha@studio.io').locator('.slot.busy').count(), 0);
    assert.equal(await page.locator('[data-testid=queue] tbody tr[data-id]').count(), 0);
    assert.equal(await page.locator('[data-testid=running] tbody tr[data-id]').count(), 0);
  });

  it('redelivers a dead callback from its button', async () => {
    receiver.handler = () => ({ status: 200 });
    const before = receiver.received.length;
    await page.locator('[data-testid=deliveries] tr[data-state=dead] button[data-redeliver]').first().click();
    await waitFor(async () => receiver.received.length > before, 15_000);
    // Delivered: it leaves the list of failing and dead callbacks.
    await page
      .locator('[data-testid=deliveries] tr[data-state=dead]')
      .waitFor({ state: 'detached', timeout: 15_000 });
    const deliveries = await call(h.gw.url, 'GET', '/v2/callbacks/deliveries', tenant.token);
    assert.equal(deliveries.body.deliveries[0].state, 'delivered');
  });

  it('shows the admin the tenants with their tokens, and any tenant live', async () => {
    const extra = await call(h.gw.url, 'POST', `/admin/users/${tenant.userId}/tokens`, h.gw.adminToken, {
      label: 'render-farm',
    });
    assert.equal(extra.status, 201);
    await page.locator('#signout').click();
    await page.locator('#signin').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out forgets the token');
    await page.locator('#token').fill(h.gw.adminToken);
    await page.locator('#signin-form button').click();
    const row = page.locator(`[data-testid=tenants] tr[data-tenant="${tenant.userId}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /studio.*initial.*render-farm/s);
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    await bar('beta@studio.io').waitFor();
    const res = await create('a quiet harbour #sim:duration=2000', { email: 'beta@studio.io' });
    assert.equal(res.status, 200);
    await page
      .locator('.account[data-email="beta@studio.io"][data-executing="1"]')
      .waitFor({ timeout: 20_000 });
    await page
      .locator('.account[data-email="beta@studio.io"][data-executing="0"]')
      .waitFor({ timeout: 20_000 });
  });

  it('never puts the token in a URL', () => {
    assert.ok(
      requested.some((url) => url.includes('/dashboard/api/stream?ticket=')),
      'the page opened its stream',
    );
    for (const url of requested)
      assert.ok(!url.includes(encodeURIComponent(tenant.token)) && !url.includes(tenant.token), url);
  });
});

// The live dashboard (GET / on the admin port) in headless Chromium: both workers render; one frozen
// with SIGSTOP turns red within a second, then its replacement appears. Skips only when no Chromium
// binary exists (CI installs Debian's `chromium`). Screenshots go to test-artifacts/ (git-ignored).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { chromium } from 'playwright-core';
import { fixture, get, killQuietly, quarantineOne, ROOT, startWarden, waitFor } from './harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');

const SKIP = existsSync(CHROMIUM) || process.env.CI ? false : `no Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`;

/** A headless Chromium on a fresh profile, closed and removed when the test ends. */
async function launchBrowser(t: TestContext) {
  // Under CI a missing browser fails the test: a skip there would pass the dashboard unseen.
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (CI is set, so this is a failure, not a skip): install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), 'warden-chromium-'));
  // Registered before the launch, so a launch that throws still removes the profile; the browser, if
  // it started, is closed first: Chromium writes into its profile until it has exited.
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  t.after(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  // A fresh profile directory each run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 800 },
    timeout: 30_000,
  });
  return browser;
}

test('the dashboard shows both workers, a SIGSTOPped one red within a second, then its replacement', { skip: SKIP }, async (t) => {
  const warden = await startWarden(t, [fixture('app-metrics.mjs'), '--workers', '2', '--timeout', '3']);
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  const external: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(`http://127.0.0.1:${warden.adminPort}/`)) external.push(request.url());
  });
  await page.goto(`http://127.0.0.1:${warden.adminPort}/`, { timeout: 15_000 });
  const before = (await warden.workers()).workers;
  for (const worker of before) {
    await page.locator(`.worker[data-pid="${worker.pid}"][data-health="ok"]`).waitFor({ timeout: 5000 });
  }
  for (let i = 0; i < 10; i++) await get(warden.port, '/');
  // Each card charts its ELU on a fixed 0-100 % axis over the seconds it has seen.
  for (const worker of before) {
    const chart = page.locator(`.worker[data-pid="${worker.pid}"] .elu-chart`);
    // 'attached': an idle worker's line is flat at 0 %, which Playwright counts as not visible.
    await page.locator(`.worker[data-pid="${worker.pid}"] .elu-chart polyline`).waitFor({ state: 'attached', timeout: 10_000 });
    assert.deepEqual(await chart.locator('.axis-y span').allTextContents(), ['100%', '50%', '0%'], 'the y axis');
    assert.match((await chart.locator('.axis-x').textContent()) ?? '', /^-\d+snow$/, 'the time axis: seconds ago to now');
    assert.ok(Number(await chart.getAttribute('data-elu-points')) >= 2, 'at least two readings');
    assert.match((await page.locator(`.worker[data-pid="${worker.pid}"] .elu-value`).textContent()) ?? '', /^\d+%/);
  }
  const victim = before.find((worker) => worker.slot === 1)?.pid as number;
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-healthy.png'), fullPage: true });

  killQuietly(victim, 'SIGSTOP');
  t.after(() => killQuietly(victim, 'SIGKILL'));
  const stoppedAt = Date.now();
  await page.locator(`.worker[data-pid="${victim}"][data-health="bad"]`).waitFor({ timeout: 5000 });
  const redAfterMs = Date.now() - stoppedAt;
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-frozen.png'), fullPage: true });
  // Generous for a shared machine: the page polls every 250 ms and turns red at 600 ms without a heartbeat.
  assert.ok(redAfterMs < 2500, `worker turned red after ${redAfterMs} ms`);

  const replacement = await waitFor('a replacement in slot 1', async () => {
    const worker = (await warden.workers()).workers.find((w) => w.slot === 1 && w.pid !== victim && w.state === 'ready');
    return worker?.pid ?? undefined;
  }, 20_000);
  await page.locator(`.worker[data-pid="${replacement}"][data-health="ok"]`).waitFor({ timeout: 5000 });
  await page.locator('#events li', { hasText: 'sent no heartbeat' }).first().waitFor({ timeout: 5000 });
  await page.locator('#incidents details', { hasText: 'stalled' }).first().waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-replaced.png'), fullPage: true });
  assert.deepEqual(external, [], 'the page fetches nothing from elsewhere');

  // Usable on a phone: no horizontal scrolling at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px on a phone`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
});

test('the dashboard shows a quarantined worker yellow, out of rotation, with why; its peer stays green', { skip: SKIP }, async (t) => {
  // --compare-probe off: the comparison would be the evidence that recycles it; the views of a quarantine are the subject.
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--compare-probe', 'off']);
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${warden.adminPort}/`, { timeout: 15_000 });
  const victim = await quarantineOne(warden);
  const card = page.locator(`.worker[data-pid="${victim.pid}"][data-health="warn"]`);
  await card.waitFor({ timeout: 5000 });
  assert.equal(await card.locator('.state').textContent(), 'quarantined');
  assert.match(await card.locator('.suspicion[data-quarantined="true"]').textContent() ?? '', /^quarantined \d+s: out of rotation, still serving\d+ request\(s\)/);
  const peer = (await warden.workers()).workers.find((worker) => worker.pid !== victim.pid);
  await page.locator(`.worker[data-pid="${peer?.pid}"][data-health="ok"]`).waitFor({ timeout: 5000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-quarantined.png'), fullPage: true });
  void Promise.allSettled(victim.hanging);
});

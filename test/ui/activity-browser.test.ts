/**
 * The Activity panel of the web UI, in a real (headless) Chromium against a real swapstate
 * and the demo upstream: requests made elsewhere appear as rows (newest first) through the
 * `activity` event, without a reload, and the generation-speed chart draws a series per model.
 *
 * Skipped, with a warning, when /usr/bin/chromium is missing (apt-get install chromium).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

declare const document: any;
declare const window: any;

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/ui/activity-browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium)`);
const WAIT = { timeout: 20_000 };
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];

describe.skipIf(!haveChromium)('the Activity panel', () => {
  let srv: RunningServer | null = null;
  let browser: Browser | null = null;
  let page: Page;

  beforeAll(async () => {
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.setDefaultTimeout(WAIT.timeout);
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const rowIds = (): Promise<string[]> =>
    page.evaluate(() => [...document.querySelectorAll('[data-testid^="activity-row-"]')].map((tr: any) => tr.dataset.testid.slice('activity-row-'.length)));

  it('shows requests as they are made, newest first, and draws tokens/s per model', async () => {
    await page.goto(`${srv!.url}/ui`);
    await page.waitForSelector('[data-testid="activity-list"][data-loaded="true"]', { ...WAIT, state: 'attached' });
    await page.waitForFunction(() => document.querySelector('.conn')?.textContent === 'live', null, WAIT);
    expect(await rowIds()).toEqual([]);
    await page.evaluate(() => (window.marker = 1)); // a reload would wipe it

    await (await chat(srv!.url, 'a')).text();
    await page.waitForSelector('[data-testid="activity-row-1"]', { ...WAIT, state: 'attached' });
    const first = await page.getByTestId('activity-row-1').evaluate((tr: any) => [...tr.children].map((td: any) => td.textContent));
    // Time, model, path, status, in, out, prompt t/s, gen t/s, duration (the demo's fixed speeds).
    expect(first.slice(1, 8)).toEqual(['a', '/v1/chat/completions', '200', '1', '6', '800.0', '40.0']);

    await (await chat(srv!.url, 'b', { stream: true, chunks: 4 })).text();
    await (await chat(srv!.url, 'a', { stream: true, chunks: 3 })).text();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="activity-row-"]').length === 3, null, WAIT);
    expect(await rowIds()).toEqual(['3', '2', '1']);
    expect(await page.evaluate(() => window.marker)).toBe(1);

    // One series per model: a's two points joined by a line, b's one a dot.
    await page.waitForSelector('[data-testid="activity-series-b"] circle', { ...WAIT, state: 'attached' });
    expect(await page.locator('[data-testid="activity-chart"] .series').count()).toBe(2);
    expect(await page.locator('[data-testid="activity-series-a"] circle').count()).toBe(2);
    expect(await page.locator('[data-testid="activity-series-a"] polyline').count()).toBe(1);
    expect(await page.locator('[data-testid="activity-series-a"] circle title').first().textContent()).toContain('40.0 tokens/s');
    // Each refresh replaces the chart's SVG (activity.js): a box read from the one just replaced is null
    // (one run on a loaded machine), so the size is polled.
    const chart = page.getByTestId('activity-chart');
    await expect.poll(async () => (await chart.boundingBox())?.width ?? 0, WAIT).toBeGreaterThan(100);
    await expect.poll(async () => (await chart.boundingBox())?.height ?? 0, WAIT).toBeGreaterThan(20);
  });
});

/**
 * The web UI in a real (headless) Chromium against a real swapstate with demo upstreams:
 * models listed, load shows starting -> ready live with the statechart following, the
 * playground streams tokens, a model's log streams, unload shows stopped. Screenshots of the
 * key moments go to test-artifacts/ui/.
 *
 * Skipped, with a warning, when /usr/bin/chromium is missing (apt-get install chromium).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

// Browser globals used inside page functions, which run in the page (the project's
// tsconfig has Node's libs only, no DOM).
declare const document: { querySelector(selector: string): { textContent: string | null } | null };
declare const window: Record<string, unknown>;
declare const MutationObserver: new (callback: () => void) => { observe(node: unknown, options: object): void };

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/ui/browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium)`);

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));
/** Waits are generous: a 2-core CI machine starting a browser and upstreams is slow. */
const WAIT = { timeout: 20_000 };

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];

describe.skipIf(!haveChromium)('web UI in a browser', () => {
  let srv: RunningServer | null = null;
  let browser: Browser | null = null;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true, animations: 'disabled' });
  const stateOf = (id: string) => page.getByTestId(`model-state-${id}`).textContent();
  const waitState = (id: string, state: string) =>
    page.waitForFunction(
      ([id, state]) => document.querySelector(`[data-testid="model-state-${id}"]`)?.textContent === state,
      [id, state] as const,
      WAIT,
    );

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // `a` becomes healthy after 1 s, so "starting" is visible; its streams are slow enough
    // to watch tokens arrive one by one.
    srv = await startServer(
      `healthCheckTimeout: 30\nmodels:\n${demoModel('a', 'name: Model A\ndescription: slow to load', '--load-delay 1000 --stream-chunks 12 --chunk-delay 80')}${demoModel('b')}`,
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(WAIT.timeout);
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('lists the models with their states and draws each process machine', async () => {
    await page.goto(`${srv!.url}/ui`);
    await page.getByTestId('model-row-a').waitFor();
    await page.getByTestId('model-row-b').waitFor();
    expect(await page.getByTestId('model-row-a').textContent()).toContain('slow to load');
    await waitState('a', 'stopped');
    // The charts come from /api/machines/process; the lit state is `stopped`.
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="stopped"]', WAIT);
    await page.waitForSelector('[data-testid="chart-b"] .state.active[data-state="stopped"]', WAIT);
    expect(await page.locator('[data-testid="chart-a"] .state[data-state="running.ready.busy"]').count()).toBe(1);
    // A marker that a reload would wipe: everything below happens live on this page.
    await page.evaluate(() => (window['marker'] = 42));
    await shot('01-models');
  });

  it('load: the state goes starting -> ready without a reload, the chart follows', async () => {
    // Record every state the badge shows, so a short-lived one cannot be missed.
    await page.evaluate(() => {
      const badge = document.querySelector('[data-testid="model-state-a"]')!;
      const seen: string[] = [badge.textContent ?? ''];
      window['seen'] = seen;
      new MutationObserver(() => {
        if (seen.at(-1) !== badge.textContent) seen.push(badge.textContent ?? '');
      }).observe(badge, { childList: true, characterData: true, subtree: true });
    });
    await page.getByTestId('load-a').click();
    await waitState('a', 'starting');
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="running.starting"]', WAIT);
    expect(await page.locator('[data-testid="chart-a"] .state.active[data-state="stopped"]').count()).toBe(0);
    await shot('02-starting');

    await waitState('a', 'ready');
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="running.ready.idle"]', WAIT);
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="running.ready"]', WAIT);
    const seen = await page.evaluate(() => window['seen'] as string[]);
    expect(seen.indexOf('starting')).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf('ready')).toBeGreaterThan(seen.indexOf('starting'));
    expect(await page.getByTestId('load-a').isDisabled()).toBe(true);
    expect(await stateOf('b')).toBe('stopped');
    await shot('03-ready');
  });

  it('playground: tokens stream into the output as they arrive', async () => {
    await page.getByTestId('playground-model').selectOption('a');
    await page.getByTestId('playground-input').fill('one two three four five six');
    // Record the output's length at every change, and whether the in-flight list showed it.
    await page.evaluate(() => {
      const out = document.querySelector('[data-testid="playground-output"]')!;
      const inflight = document.querySelector('[data-testid="inflight-list"]')!;
      const lengths: number[] = [];
      window['lengths'] = lengths;
      window['inflightSeen'] = false;
      const opts = { childList: true, characterData: true, subtree: true };
      new MutationObserver(() => lengths.push(out.textContent?.length ?? 0)).observe(out, opts);
      new MutationObserver(() => {
        if (/POST \/v1\/chat\/completions/.test(inflight.textContent ?? '')) window['inflightSeen'] = true;
      }).observe(inflight, opts);
    });
    await page.getByTestId('playground-send').click();
    // 12 chunks of "Hello from a. You said: one two ..." at 80 ms each, ending at [DONE].
    await page.waitForFunction(
      () => document.querySelector('[data-testid="playground-send"]')?.textContent === 'Send' &&
        (document.querySelector('[data-testid="playground-output"]')?.textContent ?? '').includes('five'),
      undefined,
      WAIT,
    );
    const output = await page.getByTestId('playground-output').textContent();
    expect(output).toBe('Hello from a. You said: one two three four five six Hello');
    const lengths = await page.evaluate(() => window['lengths'] as number[]);
    const steps = new Set(lengths.filter((n) => n > 0));
    expect(steps.size).toBeGreaterThan(3); // many steps, not one block at the end
    expect(await page.evaluate(() => window['inflightSeen'])).toBe(true);
    await page.waitForFunction(() => /no requests in flight/.test(document.querySelector('[data-testid="inflight-list"]')?.textContent ?? ''), undefined, WAIT);
    await shot('04-playground');
  });

  it("a model's log streams into the log view", async () => {
    await page.getByTestId('log-source').selectOption('a');
    await page.waitForFunction(
      () => /upstream a listening on/.test(document.querySelector('[data-testid="log-view"]')?.textContent ?? ''),
      undefined,
      WAIT,
    );
    await page.getByTestId('log-source').selectOption('proxy');
  });

  it('unload: the model shows stopped, still without a reload', async () => {
    await page.getByTestId('unload-a').click();
    await waitState('a', 'stopped');
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="stopped"]', WAIT);
    expect(await page.locator('[data-testid="chart-a"] .state.active').count()).toBe(1);
    expect(await page.evaluate(() => window['marker'])).toBe(42);
    await shot('05-unloaded');
  });

  it('without the event stream, falls back to polling /api/state', async () => {
    const polled = await browser!.newPage();
    try {
      await polled.route('**/api/events', (route) => route.fulfill({ status: 404, body: 'no events here' }));
      await polled.goto(`${srv!.url}/ui/`);
      await polled.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.textContent?.startsWith('polling'), undefined, WAIT);
      await polled.getByTestId('load-b').click();
      await polled.waitForFunction(() => document.querySelector('[data-testid="model-state-b"]')?.textContent === 'ready', undefined, WAIT);
      await polled.waitForSelector('[data-testid="chart-b"] .state.active[data-state="running.ready.idle"]', WAIT);
      await polled.getByTestId('unload-all').click();
      await polled.waitForFunction(() => document.querySelector('[data-testid="model-state-b"]')?.textContent === 'stopped', undefined, WAIT);
    } finally {
      await polled.close();
    }
  });
});

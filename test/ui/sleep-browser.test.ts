/**
 * Sleep mode in the web UI, in a real (headless) Chromium against a real swapstate: a Sleep
 * button for the sleep-enabled model only, usable when it is ready; pressed, the model shows
 * `sleeping` with its pid kept, and Load wakes it. The statechart draws the sleep states
 * because it comes from the machine the runtime runs.
 *
 * Skipped, with a warning, when /usr/bin/chromium is missing (apt-get install chromium).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/ui/sleep-browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium)`);
const WAIT = { timeout: 20_000 };
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];

const SLEEPY = 'sleepMode: enable\nsleepEndpoints:\n  - endpoint: /sleep?level=1\nwakeEndpoints:\n  - endpoint: /wake_up';

describe.skipIf(!haveChromium)('sleep mode in the web UI', () => {
  let srv: RunningServer | null = null;
  let browser: Browser | null = null;
  let page: Page;

  const waitState = (id: string, state: string) =>
    page.waitForFunction(
      ([id, state]) => document.querySelector(`[data-testid="model-state-${id}"]`)?.textContent === state,
      [id, state] as const,
      WAIT,
    );
  const pidShown = (id: string) =>
    page.evaluate((id) => /pid (\d+)/.exec(document.querySelector(`[data-testid="model-row-${id}"] .details`)?.textContent ?? '')?.[1] ?? null, id);

  beforeAll(async () => {
    srv = await startServer(`models:\n${demoModel('s', SLEEPY)}${demoModel('p')}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT.timeout);
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('Sleep is offered for the sleep-enabled model only, and only when it is ready', async () => {
    await page.goto(`${srv!.url}/ui`);
    await waitState('s', 'stopped');
    await page.waitForSelector('[data-testid="sleep-s"]', { ...WAIT, state: 'visible' });
    expect(await page.getByTestId('sleep-s').isDisabled()).toBe(true);
    expect(await page.getByTestId('sleep-p').isHidden()).toBe(true);
    // The chart is the runtime's machine: its sleep states are there.
    expect(await page.locator('[data-testid="chart-s"] .state[data-state="running.sleeping.asleep"]').count()).toBe(1);

    expect((await chat(srv!.url, 's')).status).toBe(200);
    await waitState('s', 'ready');
    await page.waitForFunction(() => !document.querySelector('[data-testid="sleep-s"]')?.disabled, undefined, WAIT);
  });

  it('pressed, the model sleeps with its process kept; Load wakes it', async () => {
    // The row's details may render after its state does (a later update): wait for the pid.
    await page.waitForFunction(
      (id) => /pid \d+/.test(document.querySelector(`[data-testid="model-row-${id}"] .details`)?.textContent ?? ''),
      's',
      WAIT,
    );
    const pid = await pidShown('s');
    expect(pid).not.toBeNull();
    await page.getByTestId('sleep-s').click();
    await waitState('s', 'sleeping');
    expect(await pidShown('s')).toBe(pid);
    expect(await page.getByTestId('load-s').isDisabled()).toBe(false);
    await page.getByTestId('load-s').click();
    await waitState('s', 'ready');
    expect(await pidShown('s')).toBe(pid);
  });
});

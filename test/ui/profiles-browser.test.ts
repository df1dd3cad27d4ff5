/**
 * The profile picker in the web UI's header, in a real (headless) Chromium against a real
 * swapstate: hidden without profiles; with them, choosing one activates it, and a switch made
 * elsewhere (another client's PUT) shows through `profileChanged`.
 *
 * Skipped, with a warning, when /usr/bin/chromium is missing (apt-get install chromium).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/ui/profiles-browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium)`);
const WAIT = { timeout: 20_000 };
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];

describe.skipIf(!haveChromium)('profiles in the web UI', () => {
  const servers: RunningServer[] = [];
  let browser: Browser | null = null;
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT.timeout);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  const active = async (url: string) => ((await (await fetch(`${url}/api/profiles`)).json()) as { active: string | null }).active;
  const pickerValue = (value: string) =>
    page.waitForFunction((v) => document.querySelector('[data-testid="profile"]')?.value === v, value, WAIT);

  it('without profiles the picker stays hidden', async () => {
    const srv = await startServer(`models:\n${demoModel('a')}`);
    servers.push(srv);
    await page.goto(`${srv.url}/ui`);
    // The UI marks the picker once it has read /api/profiles.
    await page.waitForSelector('[data-testid="profile"][data-loaded="true"]', { ...WAIT, state: 'attached' });
    expect(await page.getByTestId('profile').isHidden()).toBe(true);
  });

  it('choosing a profile activates it; a switch by another client shows', async () => {
    const srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}profiles:\n  coding:\n    description: b codes\n    pins:\n      coder: b\n`);
    servers.push(srv);
    await page.goto(`${srv.url}/ui`);
    await page.waitForSelector('[data-testid="profile"]', { ...WAIT, state: 'visible' });
    await pickerValue('');
    await page.getByTestId('profile').selectOption('coding');
    await until(async () => (await active(srv.url)) === 'coding', 'coding active');

    const off = await fetch(`${srv.url}/api/profiles/active`, { method: 'PUT', body: '{"name":null}' });
    expect(off.status).toBe(200);
    await pickerValue('');
  });
});

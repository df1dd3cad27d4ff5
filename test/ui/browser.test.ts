/**
 * The web UI in a real (headless) Chromium against a real swapstate with demo upstreams:
 * models listed, load shows starting -> ready live with the statechart following, the
 * playground streams tokens, a model's log streams, unload shows stopped. And what issue 11
 * asked of it: statecharts closed until opened, then the lit path only until asked for all;
 * each request shown once (waiting in the queue, served in flight); upstream lines prefixed
 * with their model; crashes apart from starts; the UI's own requests kept out of the INFO
 * access log; a layout that works at 360 px. Screenshots of the key moments go to
 * test-artifacts/ui/.
 *
 * Skipped, with a warning, when /usr/bin/chromium is missing (apt-get install chromium).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

// Browser globals used inside page functions, which run in the page (the project's
// tsconfig has Node's libs only, no DOM).
declare const document: any;
declare const window: any;
declare const MutationObserver: new (callback: () => void) => { observe(node: unknown, options: object): void };

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/ui/browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium)`);

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));
/** Waits are generous: a 2-core CI machine starting a browser and upstreams is slow. */
const WAIT = { timeout: 20_000 };
/** For elements inside a closed chart: present, not shown. */
const ATTACHED = { ...WAIT, state: 'attached' as const };

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];

/**
 * The `data-state` of every box of a model's chart that is shown. checkVisibility, not a
 * box's size: Chromium lays out a closed `<details>`'s content, only hides it.
 */
function shownStates(page: Page, model: string): Promise<string[]> {
  return page.evaluate(
    (model) =>
      [...document.querySelectorAll(`[data-testid="chart-${model}"] .state`)]
        .filter((b: any) => b.checkVisibility())
        .map((b: any) => b.dataset.state as string),
    model,
  );
}

const textOf = (page: Page, testid: string): Promise<string> =>
  page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '', testid);

describe.skipIf(!haveChromium)('web UI in a browser', () => {
  let srv: RunningServer | null = null;
  let browser: Browser | null = null;
  let page: Page;

  const shot = (name: string, p: Page = page) => p.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true, animations: 'disabled' });
  const stateOf = (id: string) => page.getByTestId(`model-state-${id}`).textContent();
  const waitState = (id: string, state: string, p: Page = page) =>
    p.waitForFunction(
      ([id, state]) => document.querySelector(`[data-testid="model-state-${id}"]`)?.textContent === state,
      [id, state] as const,
      WAIT,
    );

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // `a` becomes healthy after 1 s, so "starting" is visible; its streams are slow enough
    // to watch tokens arrive one by one. `c` exits by itself 2.5 s after it starts.
    srv = await startServer(
      `healthCheckTimeout: 30\nmodels:\n${demoModel('a', 'name: Model A\ndescription: slow to load', '--load-delay 1000 --chunk-delay 80')}${demoModel('b')}` +
        demoModel('c', 'description: crashes', '--crash-after 2500'),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(WAIT.timeout);
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('lists the models with their states; each process machine is drawn, closed', async () => {
    await page.goto(`${srv!.url}/ui`);
    await page.getByTestId('model-row-a').waitFor();
    await page.getByTestId('model-row-b').waitFor();
    expect(await page.getByTestId('model-row-a').textContent()).toContain('slow to load');
    await waitState('a', 'stopped');
    // The charts come from /api/machines/process; the lit state is `stopped`.
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="stopped"]', ATTACHED);
    await page.waitForSelector('[data-testid="chart-b"] .state.active[data-state="stopped"]', ATTACHED);
    expect(await page.locator('[data-testid="chart-a"] .state[data-state="running.ready.busy"]').count()).toBe(1);
    // Closed: one line per model, with its state, and no box of the chart on the page.
    for (const id of ['a', 'b', 'c']) {
      expect(await page.getByTestId(`chart-${id}`).evaluate((d: any) => d.open)).toBe(false);
      expect(await shownStates(page, id)).toEqual([]);
      expect(await page.getByTestId(`chart-open-${id}`).textContent()).toBe(`${id}stopped`);
    }
    // A marker that a reload would wipe: everything below happens live on this page.
    await page.evaluate(() => (window['marker'] = 42));
    await shot('01-models');
  });

  it('a chart opens on demand with the lit path only, and shows the whole machine when asked', async () => {
    const all = await page.locator('[data-testid="chart-a"] .state').count();
    expect(all).toBeGreaterThan(8);
    await page.getByTestId('chart-open-a').click();
    expect(await page.getByTestId('chart-a').evaluate((d: any) => d.open)).toBe(true);
    expect(await shownStates(page, 'a')).toEqual(['stopped']);
    expect(await shownStates(page, 'b')).toEqual([]); // per model: b stays closed

    await page.getByTestId('chart-whole-a').click();
    expect(await shownStates(page, 'a')).toHaveLength(all);
    expect(await page.getByTestId('chart-whole-a').textContent()).toBe('Show the lit path only');
    await shot('02-chart-whole');
    await page.getByTestId('chart-whole-a').click();
    expect(await shownStates(page, 'a')).toEqual(['stopped']);
  });

  it('load: the state goes starting -> ready without a reload, the lit path follows', async () => {
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
    await shot('03-starting');

    await waitState('a', 'ready');
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="running.ready.idle"]', WAIT);
    // The open chart shows exactly the lit path: the state and its ancestors.
    expect(await shownStates(page, 'a')).toEqual(['running', 'running.ready', 'running.ready.idle']);
    expect(await page.getByTestId('chart-open-a').textContent()).toBe('arunning.ready.idle');
    const seen = await page.evaluate(() => window['seen'] as string[]);
    expect(seen.indexOf('starting')).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf('ready')).toBeGreaterThan(seen.indexOf('starting'));
    expect(await page.getByTestId('load-a').isDisabled()).toBe(true);
    expect(await stateOf('b')).toBe('stopped');
    await page.waitForFunction(() => /pid \d+/.test(document.querySelector('[data-testid="model-row-a"] .details')?.textContent ?? ''), undefined, WAIT);
    expect(await textOf(page, 'model-row-a')).toContain('1 start');
    await shot('04-ready');
  });

  it('playground: the whole reply streams into the output as it arrives', async () => {
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
    // 11 words at 80 ms each, ending at [DONE].
    await page.waitForFunction(
      () => document.querySelector('[data-testid="playground-send"]')?.textContent === 'Send' &&
        (document.querySelector('[data-testid="playground-output"]')?.textContent ?? '').includes('five'),
      undefined,
      WAIT,
    );
    // The same text as unstreamed: the demo's stream used to stop after five words.
    const output = await page.getByTestId('playground-output').textContent();
    expect(output).toBe('Hello from a. You said: one two three four five six');
    const lengths = await page.evaluate(() => window['lengths'] as number[]);
    const steps = new Set(lengths.filter((n) => n > 0));
    expect(steps.size).toBeGreaterThan(3); // many steps, not one block at the end
    expect(await page.evaluate(() => window['inflightSeen'])).toBe(true);
    await page.waitForFunction(() => /no requests in flight/.test(document.querySelector('[data-testid="inflight-list"]')?.textContent ?? ''), undefined, WAIT);
    await shot('05-playground');
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

  it('unload: the model shows stopped, its pid gone, still without a reload', async () => {
    await page.getByTestId('unload-a').click();
    await waitState('a', 'stopped');
    await page.waitForSelector('[data-testid="chart-a"] .state.active[data-state="stopped"]', WAIT);
    expect(await page.locator('[data-testid="chart-a"] .state.active').count()).toBe(1);
    expect(await shownStates(page, 'a')).toEqual(['stopped']);
    await page.waitForFunction(() => !/pid/.test(document.querySelector('[data-testid="model-row-a"] .details')?.textContent ?? 'pid'), undefined, WAIT);
    expect(await page.evaluate(() => window['marker'])).toBe(42);
    await shot('06-unloaded');
  });

  it('each request is shown once: waiting ones in the queue with their reason, served ones in flight', async () => {
    // Record, on every change of either list, where each chat request appears.
    await page.evaluate(() => {
      const where = (id: string) =>
        [...document.querySelectorAll(`[data-testid="${id}"] li:not(.empty)`)]
          .map((li: any) => `${li.querySelector('.pill')?.textContent}: ${li.querySelector('.text')?.textContent}`)
          .filter((t: string) => t.includes('/v1/chat/completions'));
      const views: Array<{ waiting: string[]; inflight: string[] }> = [];
      window['views'] = views;
      const record = () => views.push({ waiting: where('waiting-list'), inflight: where('inflight-list') });
      const opts = { childList: true, characterData: true, subtree: true };
      for (const id of ['waiting-list', 'inflight-list']) new MutationObserver(record).observe(document.querySelector(`[data-testid="${id}"]`), opts);
    });
    // a loads (1 s), then streams for about 3 s; b, in the same swap group, waits for it.
    const streamed = chat(srv!.url, 'a', { stream: true, chunks: 30, chunk_delay_ms: 100 });
    await page.waitForFunction(
      () => /POST \/v1\/chat\/completions/.test(document.querySelector('[data-testid="inflight-list"]')?.textContent ?? ''),
      undefined,
      WAIT,
    );
    const queued = chat(srv!.url, 'b');
    await page.waitForFunction(
      () => /would evict model a, which is serving 1 request, position 1 · POST \/v1\/chat\/completions/.test(document.querySelector('[data-testid="waiting-list"]')?.textContent ?? ''),
      undefined,
      WAIT,
    );
    await shot('07-queue');
    const a = await streamed;
    expect(a.status).toBe(200);
    await a.text();
    expect((await queued).status).toBe(200);
    await waitState('b', 'ready');
    await page.waitForFunction(() => /no requests in flight/.test(document.querySelector('[data-testid="inflight-list"]')?.textContent ?? ''), undefined, WAIT);

    const views = await page.evaluate(() => window['views'] as Array<{ waiting: string[]; inflight: string[] }>);
    // a waited while it loaded, then was served; b waited, then was served.
    expect(views.some((v) => v.waiting.some((t) => /^a: model a is loading · POST/.test(t)))).toBe(true);
    expect(views.some((v) => v.waiting.some((t) => /^b: would evict model a/.test(t)) && v.inflight.some((t) => t.startsWith('a: POST')))).toBe(true);
    expect(views.some((v) => v.inflight.some((t) => t.startsWith('b: POST')))).toBe(true);
    // Never both: at no moment did a request stand in both lists.
    for (const v of views) {
      const models = (list: string[]) => list.map((t) => t.split(':')[0]);
      for (const m of models(v.waiting)) expect(models(v.inflight), JSON.stringify(v)).not.toContain(m);
    }
  });

  it('"upstream (all models)": every line starts with its model, in history and live', async () => {
    // This page has seen the output live; a new one gets it as history.
    const fresh = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await fresh.goto(`${srv!.url}/ui/`);
      for (const p of [page, fresh]) {
        await p.getByTestId('log-source').selectOption('upstream');
        await p.waitForFunction(
          () => /^b \| upstream b listening/m.test(document.querySelector('[data-testid="log-view"]')?.textContent ?? ''),
          undefined,
          WAIT,
        );
        const lines = (await textOf(p, 'log-view')).split('\n').filter(Boolean);
        expect(lines.some((l) => l.startsWith('a | upstream a listening'))).toBe(true);
        expect(lines.filter((l) => !/^[abc] \| /.test(l))).toEqual([]);
      }
      await shot('08-upstream-log', fresh);
    } finally {
      await fresh.close();
    }
    // llama-swap's raw upstream log has no prefix.
    expect(srv!.logs.hub.upstream.history()).toMatch(/^upstream a listening/m);
    expect(srv!.logs.hub.upstream.history()).not.toMatch(/^a \| /m);
    await page.getByTestId('log-source').selectOption('proxy');
  });

  it('a crash is counted as one, apart from the starts; swap-ins are not crashes', async () => {
    await page.getByTestId('load-c').click();
    await page.getByTestId('crashes-c').waitFor(WAIT);
    await waitState('c', 'stopped');
    expect(await page.getByTestId('crashes-c').textContent()).toBe(' · 1 crash');
    const details = await page.locator('[data-testid="model-row-c"] .details').textContent();
    expect(details).toContain('1 start');
    expect(details).not.toContain('pid');
    // a was loaded twice (Load, then the queued request) and swapped out: no crash.
    expect(await page.locator('[data-testid="model-row-a"] .details').textContent()).toContain('2 starts');
    expect(await page.getByTestId('crashes-a').count()).toBe(0);
    await shot('09-crash');
  });

  it("the UI's own requests are not in the access log at info; the user's actions are", async () => {
    const log = srv!.logs.proxy.history();
    const requests = log.split('\n').filter((l) => l.includes('] Request '));
    // `/logs/stream/a`: the model log view opened above.
    for (const own of ['/ui', '/api/events', '/api/state', '/api/machines/process', '/logs/stream/']) {
      expect(requests.filter((l) => l.includes(`"GET ${own}`))).toEqual([]);
    }
    // The Load button, the playground, the Unload button.
    expect(requests.some((l) => l.includes('"GET /upstream/a/?_='))).toBe(true);
    expect(requests.some((l) => l.includes('"POST /v1/chat/completions') && l.includes('HeadlessChrome'))).toBe(true);
    expect(requests.some((l) => l.includes('"POST /api/models/unload/a'))).toBe(true);
  });

  it('360 px wide: one column, nothing wider than the screen, every control reachable', async () => {
    const narrow = await browser!.newPage({ viewport: { width: 360, height: 740 } });
    try {
      await narrow.goto(`${srv!.url}/ui/`);
      await narrow.getByTestId('model-row-c').waitFor();
      await waitState('a', 'stopped', narrow);
      const overflow = () =>
        narrow.evaluate(() => ({
          page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          // Anything that sticks out of the screen, scrollable or not.
          out: [...document.querySelectorAll('button, select, textarea, summary, td, .panel, .badge')]
            .filter((e: any) => e.checkVisibility())
            .filter((e: any) => {
              const r = e.getBoundingClientRect();
              return r.left < 0 || r.right > document.documentElement.clientWidth;
            })
            .map((e: any) => e.dataset.testid ?? e.className ?? e.tagName),
        }));
      expect(await overflow()).toEqual({ page: 0, out: [] });
      // Every control can be clicked where it is (trial: checked, not clicked); the Unload
      // buttons are disabled (nothing runs) but on the screen, as checked above.
      for (const id of ['load-a', 'load-b', 'load-c', 'unload-all', 'playground-send', 'chart-open-a']) {
        await narrow.getByTestId(id).click({ trial: true });
      }
      await shot('10-narrow', narrow);
      // A whole chart is wider than a phone: it scrolls inside its card, the page does not.
      await narrow.getByTestId('chart-open-b').click();
      await narrow.getByTestId('chart-whole-b').click();
      expect(await shownStates(narrow, 'b')).toHaveLength(await narrow.locator('[data-testid="chart-b"] .state').count());
      expect((await overflow()).page).toBe(0);
      await shot('11-narrow-chart', narrow);
    } finally {
      await narrow.close();
    }
  });

  it('without the event stream, falls back to polling /api/state', async () => {
    const polled = await browser!.newPage();
    try {
      await polled.route('**/api/events', (route) => route.fulfill({ status: 404, body: 'no events here' }));
      await polled.goto(`${srv!.url}/ui/`);
      await polled.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.textContent?.startsWith('polling'), undefined, WAIT);
      await polled.getByTestId('unload-all').click();
      await waitState('b', 'stopped', polled);
      await polled.getByTestId('load-b').click();
      await waitState('b', 'ready', polled);
      await polled.waitForSelector('[data-testid="chart-b"] .state.active[data-state="running.ready.idle"]', ATTACHED);
      await polled.getByTestId('unload-all').click();
      await waitState('b', 'stopped', polled);
    } finally {
      await polled.close();
    }
    // Its polling of the listing was marked as the UI's: no INFO line for it either.
    const lines = srv!.logs.proxy.history().split('\n');
    expect(lines.filter((l) => l.includes('"GET /v1/models') || l.includes('"GET /api/state'))).toEqual([]);
  });
});

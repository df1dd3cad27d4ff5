/**
 * Screenshots of the web UI during a swap, for the docs: `npx tsx test/ui/screenshots.ts`.
 *
 * Two demo models share the default swap group. `a` is loaded and streams a slow reply in
 * the playground; a request for `b` then waits for `a` to drain, and `b` loads (slowly) once
 * it has. Saves, at 1400 px, docs/ui-swap-1-loading.png (b starting, its request waiting
 * with the reason, b's chart opened on its lit path) and docs/ui-swap-2-ready.png (after the
 * swap, the log on "upstream (all models)"); and, from a second page 360 px wide,
 * docs/ui-narrow-360.png (the same moment as the first). Then stops everything.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'];
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const WAIT = { timeout: 30_000 };

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
  let srv: RunningServer | null = null;
  let browser: Browser | null = null;
  try {
    srv = await startServer(
      `healthCheckTimeout: 30\nmodels:\n` +
        demoModel('a', 'name: Small model\ndescription: quick to load', '--chunk-delay 300') +
        demoModel('b', 'name: Big model\ndescription: takes a few seconds to load', '--load-delay 3000'),
    );
    const url = srv.url;
    const chat = (model: string, extra: Record<string, unknown> = {}) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], ...extra }),
      });
    if ((await chat('a')).status !== 200) throw new Error('a did not answer');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const narrow = await browser.newPage({ viewport: { width: 360, height: 740 } });
    for (const p of [page, narrow]) {
      p.setDefaultTimeout(WAIT.timeout);
      await p.goto(`${url}/ui/`);
      await p.getByTestId('model-row-b').waitFor();
      await p.waitForFunction(() => document.querySelector('.conn')?.textContent === 'live', undefined, WAIT);
    }
    await page.getByTestId('chart-open-b').click();

    // a streams for ~4 s in the playground (13 words, 300 ms apart); meanwhile a request for b must wait for it.
    await page.getByTestId('playground-model').selectOption('a');
    await page.getByTestId('playground-input').fill('tell me about swapping models on one GPU');
    await page.getByTestId('playground-send').click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="playground-output"]')?.textContent ?? '').length > 20);
    const queued = chat('b');
    await page.waitForFunction(() => /would evict model a/.test(document.querySelector('[data-testid="waiting-list"]')?.textContent ?? ''));
    // a drained: b starts, and the request says it waits for b to load.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="model-state-b"]')?.textContent === 'starting' &&
        /is loading/.test(document.querySelector('[data-testid="waiting-list"]')?.textContent ?? '') &&
        document.querySelector('[data-testid="chart-b"] .state.active[data-state="running.starting.probing"]') !== null,
    );
    await page.screenshot({ path: `${DOCS}ui-swap-1-loading.png`, fullPage: true, animations: 'disabled' });
    await narrow.waitForFunction(() => document.querySelector('[data-testid="model-state-b"]')?.textContent === 'starting');
    await narrow.screenshot({ path: `${DOCS}ui-narrow-360.png`, fullPage: true, animations: 'disabled' });

    if ((await queued).status !== 200) throw new Error('b did not answer');
    await page.getByTestId('log-source').selectOption('upstream');
    // Scroll the log to where a's output ends and b's begins (its lines are short: one row each).
    await page.evaluate(() => {
      const view = document.querySelector('[data-testid="log-view"]')!;
      const lines = (view.textContent ?? '').split('\n');
      const at = lines.findIndex((l) => l.startsWith('b | upstream b listening'));
      view.scrollTop = (at / lines.length) * view.scrollHeight - view.clientHeight / 2;
    });
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="model-state-b"]')?.textContent === 'ready' &&
        document.querySelector('[data-testid="model-state-a"]')?.textContent === 'stopped' &&
        document.querySelector('[data-testid="chart-b"] .state.active[data-state="running.ready.idle"]') !== null &&
        /nothing waiting/.test(document.querySelector('[data-testid="waiting-list"]')?.textContent ?? ''),
    );
    await page.screenshot({ path: `${DOCS}ui-swap-2-ready.png`, fullPage: true, animations: 'disabled' });
    console.log(`saved ${DOCS}ui-swap-1-loading.png, ${DOCS}ui-swap-2-ready.png and ${DOCS}ui-narrow-360.png`);
  } finally {
    await browser?.close();
    await srv?.stop();
  }
}

// Browser globals used inside page functions (the project's tsconfig has no DOM lib).
declare const document: {
  querySelector(selector: string): { textContent: string | null; scrollTop: number; scrollHeight: number; clientHeight: number } | null;
};

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Signals (reference 1.3, 4.6): SIGTERM and SIGINT drain in-flight requests, stop every model
 * and exit 0; a model that ignores SIGTERM is SIGKILLed once the shutdown budget is spent.
 *
 * Each test runs its own swapstate with two demo upstreams in a `swap: false` group (both
 * can run), on free ports; the tests run concurrently because one of them has to sit out
 * the 30 s shutdown budget.
 */
import http from 'node:http';
import { afterAll, afterEach, describe, it, type ExpectStatic } from 'vitest';
import {
  chat,
  connectRefused,
  demoModel,
  freePortPair,
  freePort,
  getText,
  isAlive,
  killRuns,
  removeTempDirs,
  runningIds,
  spawnCli,
  tempDir,
  until,
  upstreamPid,
  upstreamsOf,
  waitHealthy,
  writeConfig,
  type CliRun,
} from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

interface Pair {
  run: CliRun;
  url: string;
  port: number;
  pids: { a: number; b: number };
}

/**
 * Starts swapstate with models `a` and `b` (extra upstream args per model), loads both with
 * real chat completions, and reads their pids from the upstreams' own listening lines in
 * /logs, cross-checked against /proc.
 */
async function startPair(expect: ExpectStatic, tag: string, args: { a?: string; b?: string } = {}): Promise<Pair> {
  const startPort = await freePortPair();
  const yaml =
    `healthCheckTimeout: 15\nlogToStdout: both\nstartPort: ${startPort}\nmodels:\n` +
    demoModel('a', args.a ? { args: args.a } : {}) +
    demoModel('b', args.b ? { args: args.b } : {}) +
    'groups:\n  pair:\n    swap: false\n    members: [a, b]\n';
  const file = writeConfig(tempDir(), 'config.yaml', yaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`], { tag });
  await waitHealthy(run, url);

  const [ra, rb] = await Promise.all([chat(url, 'a'), chat(url, 'b')]);
  expect(ra.status, ra.body).toBe(200);
  expect(ra.body).toContain('Hello from a. You said: hi');
  expect(rb.status, rb.body).toBe(200);
  expect(rb.body).toContain('Hello from b. You said: hi');
  expect(await runningIds(url)).toEqual(['a', 'b']);

  const logs = await getText(`${url}/logs`);
  const pidOf = (id: string): number => {
    const m = new RegExp(`upstream ${id} listening on http://127\\.0\\.0\\.1:\\d+ pid (\\d+)`).exec(logs);
    expect(m, `listening line of ${id} in /logs:\n${logs}`).not.toBeNull();
    const pid = Number(m![1]);
    expect(upstreamPid(run, id)).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    return pid;
  };
  return { run, url, port, pids: { a: pidOf('a'), b: pidOf('b') } };
}

/** A streaming POST through `agent`, read as it arrives. */
function streamChat(url: string, agent: http.Agent, body: unknown) {
  let text = '';
  let status = 0;
  let finished = false;
  const done = new Promise<void>((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        finished = true;
        resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  return { done, text: () => text, status: () => status, finished: () => finished };
}

describe.concurrent('signals (reference 1.3)', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: every model stopped gracefully, exit 0, no upstream left`, async ({ expect, task }) => {
      const { run, port, pids } = await startPair(expect, task.id);
      run.child.kill(signal);
      expect(await run.waitExit(20_000)).toEqual({ code: 0, signal: null });

      const out = run.stdout();
      expect(out).toContain(`[INFO] received ${signal}, shutting down`);
      expect(out).toContain('[INFO] shutdown complete');
      // Stopped by swapstate's SIGTERM to their groups, not by the exit reaper's SIGKILL.
      expect(out).toContain('a shutting down on SIGTERM');
      expect(out).toContain('b shutting down on SIGTERM');
      expect(isAlive(pids.a)).toBe(false);
      expect(isAlive(pids.b)).toBe(false);
      expect(upstreamsOf(run)).toEqual([]);
      expect(await connectRefused(port)).toBe(true);
    });
  }

  it(
    'a model ignoring SIGTERM is SIGKILLed when the 30 s budget is spent, then exit 0',
    async ({ expect, task }) => {
      const { run, pids } = await startPair(expect, task.id, { a: '--ignore-sigterm' });
      const t0 = Date.now();
      run.child.kill('SIGTERM');

      // b goes at once; a shrugs the SIGTERM off and is still there well after.
      await until(() => !isAlive(pids.b), 'b to stop on SIGTERM', 10_000);
      await until(() => run.stdout().includes('a ignoring SIGTERM'), 'a to ignore SIGTERM', 10_000);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(isAlive(pids.a)).toBe(true);
      expect(run.child.exitCode).toBeNull();

      expect(await run.waitExit(45_000)).toEqual({ code: 0, signal: null });
      const elapsed = Date.now() - t0;
      // The stop grace is what is left of the 30 s shutdown budget (nothing was in flight),
      // and the 35 s backstop (exit 1) did not fire.
      expect(elapsed).toBeGreaterThan(27_000);
      expect(elapsed).toBeLessThan(35_000);
      expect(run.stdout()).not.toContain('a shutting down on SIGTERM');
      expect(isAlive(pids.a)).toBe(false);
      expect(upstreamsOf(run)).toEqual([]);
    },
    60_000,
  );

  it('an in-flight stream is allowed to finish during shutdown, then exit 0', async ({ expect, task }) => {
    const { run, url, port, pids } = await startPair(expect, task.id);
    const chunks = 40;
    // A keep-alive client (like the OpenAI SDKs) keeps the connection open after the stream:
    // shutdown must not wait for it to go.
    const agent = new http.Agent({ keepAlive: true });
    const stream = streamChat(url, agent, { model: 'a', stream: true, chunks, chunk_delay_ms: 100, messages: [{ role: 'user', content: 'one two three' }] });
    try {
      await until(() => stream.text().includes('data: '), 'the first chunk', 10_000);
      expect(stream.status()).toBe(200);

      run.child.kill('SIGTERM');
      // New connections are refused at once, while the stream is still being served.
      await until(() => connectRefused(port), 'the listener to close', 5_000);
      expect(stream.finished()).toBe(false);

      await stream.done;
      const events = stream.text().split('\n\n').filter((e) => e.startsWith('data: '));
      expect(events).toHaveLength(chunks + 1);
      expect(events.at(-1)).toBe('data: [DONE]');
      const finishedAt = Date.now();

      expect(await run.waitExit(20_000)).toEqual({ code: 0, signal: null });
      // The idle keep-alive connection did not hold the shutdown up, and the models got their
      // SIGTERM and grace rather than a SIGKILL at the end of the budget.
      expect(Date.now() - finishedAt).toBeLessThan(3_000);
      expect(run.stdout()).toContain('a shutting down on SIGTERM');
      expect(run.stdout()).toContain('b shutting down on SIGTERM');
      expect(isAlive(pids.a)).toBe(false);
      expect(isAlive(pids.b)).toBe(false);
      expect(upstreamsOf(run)).toEqual([]);
    } finally {
      agent.destroy();
    }
  });
});

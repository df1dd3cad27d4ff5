/**
 * Abandoned loads through the real server (swapstate; llama-swap #727 lets them finish):
 * when every client waiting on a start has gone, the start is aborted after
 * `abandonedLoadGraceMs`, and whoever queued behind it goes ahead at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

function chat(url: string, model: string, signal?: AbortSignal) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    ...(signal ? { signal } : {}),
  });
}

describe('abandoned loads', () => {
  it('a start nobody waits for any more is aborted after the grace; the request queued behind it proceeds', async () => {
    srv = await startServer(
      `abandonedLoadGraceMs: 200\nmodels:\n${demoModel('slow', '', '--load-delay 20000')}${demoModel('fast')}`,
    );
    const ac = new AbortController();
    const gone = chat(srv.url, 'slow', ac.signal).catch(() => null);
    await until(() => (srv!.server.state().runtime.process('slow')?.pid ?? 0) > 0, 'slow to be starting');
    const pid = srv.server.state().runtime.process('slow')!.pid!;
    const queued = chat(srv.url, 'fast'); // same (default) swap group: waits for slow's start
    await until(() => srv!.server.state().runtime.actor.getSnapshot().context.fifo.queue.length === 1, 'fast to queue');

    const t0 = Date.now();
    ac.abort();
    await gone;
    const res = await queued;
    expect(res.status).toBe(200);
    // Served long before slow's 20 s load would have finished.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(isAlive(pid)).toBe(false);
    expect(srv.logs.proxy.history()).toContain('stopping the start of slow: load of slow abandoned');
  });
});

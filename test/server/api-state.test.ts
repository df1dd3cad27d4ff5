/**
 * GET /api/state through the real server: a request queued behind a busy model says why it
 * waits, and the reason changes when the busy model drains.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StateSnapshot } from '../../src/runtime/state-view.ts';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

const state = async (url: string) => (await (await fetch(`${url}/api/state`)).json()) as StateSnapshot;

describe('GET /api/state', () => {
  it('shows why a request waits, and the reason follows the scheduler', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'ttl: 60')}${demoModel('b', '', '--load-delay 1500')}`);
    const url = srv.url;
    const busy = chat(url, 'a', { delay_ms: 1_500 }); // a serves for 1.5 s
    await until(async () => (await state(url)).processes.find((p) => p.model === 'a')?.inFlight === 1, 'a to be busy');
    const queued = chat(url, 'b'); // same (default) swap group: must wait for a to drain

    await until(async () => (await state(url)).waiting.length === 1, 'b to wait');
    const s1 = await state(url);
    expect(s1.waiting[0]).toMatchObject({
      model: 'b',
      position: 1,
      reason: { kind: 'evicts-busy', model: 'a', inFlight: 1 },
      text: 'would evict model a, which is serving 1 request, position 1',
    });
    const a = s1.processes.find((p) => p.model === 'a')!;
    expect(a).toMatchObject({ state: 'ready', inFlight: 1, restarts: 0, starts: 1, lastError: null, ttlDeadline: null });
    expect(a.pid).toBeGreaterThan(0);
    expect(a.port).toBe(Number(new URL(srv.server.config.models['a']!.proxy).port));
    expect(s1.admission['a']).toEqual({ reserved: 1, limit: 10, inFlight: 1 });
    expect(s1.admission['b']).toEqual({ reserved: 1, limit: 10, inFlight: 0 });

    expect((await busy).status).toBe(200);
    // a drained: b's swap runs now, and its request waits for b to load.
    await until(async () => (await state(url)).waiting[0]?.reason.kind === 'loading', 'the reason to change');
    const s2 = await state(url);
    expect(s2.waiting[0]).toMatchObject({ model: 'b', position: null, text: 'model b is loading (evicting a)' });
    expect(s2.swaps).toEqual([
      expect.objectContaining({ target: 'b', evicting: ['a'], waiters: 1, cancelled: false, since: expect.any(String) }),
    ]);

    expect((await queued).status).toBe(200);
    const s3 = await state(url);
    expect(s3.waiting).toEqual([]);
    expect(s3.swaps).toEqual([]);
    expect(s3.processes.find((p) => p.model === 'b')).toMatchObject({ state: 'ready', inFlight: 0 });
  });

  it('an idle model with a TTL shows when it will be unloaded', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'ttl: 60')}`);
    expect((await chat(srv.url, 'a')).status).toBe(200);
    const before = Date.now();
    const p = (await state(srv.url)).processes[0]!;
    const deadline = Date.parse(p.ttlDeadline!);
    expect(deadline).toBeGreaterThan(before + 55_000);
    expect(deadline).toBeLessThanOrEqual(before + 60_500);
  });
  it('restarts count crashes only, starts every start; a stopped model has no pid; /running stays llama-swap\'s', async () => {
    // One swap group (the default): each request for the other model swaps.
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}${demoModel('c', '', '--crash-after 2000')}`);
    const url = srv.url;
    for (const m of ['a', 'b', 'a']) expect((await chat(url, m)).status).toBe(200);
    const s1 = await state(url);
    const of = (s: StateSnapshot, m: string) => s.processes.find((p) => p.model === m)!;
    expect(of(s1, 'a')).toMatchObject({ state: 'ready', starts: 2, restarts: 0 });
    expect(of(s1, 'a').pid).toBeGreaterThan(0);
    // b was swapped out: no crash, and its pid is gone with its process.
    expect(of(s1, 'b')).toMatchObject({ state: 'stopped', starts: 1, restarts: 0, pid: null });
    expect(of(s1, 'c')).toMatchObject({ state: 'stopped', starts: 0, restarts: 0, pid: null });

    // /running has exactly llama-swap's fields: no pid, no counts.
    const running = (await (await fetch(`${url}/running`)).json()) as { running: Array<Record<string, unknown>> };
    expect(running.running.map((r) => Object.keys(r).sort())).toEqual([['cmd', 'description', 'model', 'name', 'proxy', 'state', 'ttl']]);

    // c exits by itself 2 s after its start (while ready, or, on a slow machine, while
    // starting: a failed start is a crash as well).
    await chat(url, 'c');
    await until(async () => of(await state(url), 'c').restarts === 1, 'c to crash', 20_000);
    const s2 = await state(url);
    expect(of(s2, 'c')).toMatchObject({ state: 'stopped', starts: 1, restarts: 1, pid: null });
    expect(of(s2, 'c').lastError).toMatch(/exited/);
    expect(of(s2, 'a')).toMatchObject({ state: 'stopped', starts: 2, restarts: 0, pid: null });
  });
});

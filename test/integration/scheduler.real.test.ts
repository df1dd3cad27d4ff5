/**
 * The actor core driving real upstream processes (src/demo/upstream.mjs): real spawns, real
 * health checks over HTTP, real signals to process groups. No HTTP front end yet.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { startScheduler, type SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { isAlive, schedulerInput, until } from '../helpers/real-upstreams.ts';

let runtime: SchedulerRuntime | null = null;

afterEach(async () => {
  await runtime?.shutdown(2_000);
  runtime = null;
});

function processContext(rt: SchedulerRuntime, model: string) {
  const child = rt.actor.getSnapshot().children[`process:${model}`] as AnyActorRef | undefined;
  return (child?.getSnapshot() as { context: { starts: number; pid: number | null } }).context;
}

/** A grant of `model`: it carries the model server's address and the start it was granted on. */
function granted(rt: SchedulerRuntime, model: string, generation: number) {
  const base = rt.actor.getSnapshot().context.processes[model]?.proxy;
  return { ok: true, model, upstream: { base, generation, agent: expect.any(http.Agent) } };
}

async function chat(rt: SchedulerRuntime, model: string): Promise<string> {
  const proxy = rt.actor.getSnapshot().context.processes[model]?.proxy;
  const res = await fetch(`${proxy}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return body.choices[0]?.message.content ?? '';
}

describe('scheduler with real upstream processes', () => {
  it('A, A, B, B, A, C: one start of A shared by its waiters, B after A drains, C unknown', async () => {
    const rt = (runtime = startScheduler({ input: await schedulerInput({ a: { loadDelayMs: 300 }, b: {} }) }));
    const order: string[] = [];
    const tickets = (['a', 'a', 'b', 'b', 'a', 'c'] as const).map((m, i) => {
      const t = rt.request(m);
      void t.grant.then((g) => order.push(`${i + 1}${m}:${g.ok ? 'ok' : g.error.code}`));
      return t;
    });
    const [a1, a2, b1, b2, a3, c] = tickets as [typeof tickets[0], ...typeof tickets];
    expect(await c!.admission).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    for (const t of [a1, a2, a3]) expect(await t!.grant).toEqual(granted(rt, 'a', 1));
    // One start, one upstream: its waiters share the same agent.
    const [g1, g2, g3] = await Promise.all([a1!.grant, a2!.grant, a3!.grant]);
    expect(g1.ok && g2.ok && g3.ok && g1.upstream === g2.upstream && g2.upstream === g3.upstream).toBe(true);
    expect(processContext(rt, 'a').starts).toBe(1);
    const pidA = processContext(rt, 'a').pid;
    expect(pidA).toBeGreaterThan(0);
    expect(await chat(rt, 'a')).toContain('Hello from a');

    // B must wait while any request of A is still being served.
    a1!.done();
    a2!.done();
    await new Promise((r) => setTimeout(r, 300));
    expect(order.filter((o) => o.includes('b'))).toEqual([]);
    expect(isAlive(pidA!)).toBe(true);
    a3!.done();
    for (const t of [b1, b2]) expect(await t!.grant).toEqual(granted(rt, 'b', 1));
    expect(isAlive(pidA!)).toBe(false); // a was stopped before b was granted
    expect(processContext(rt, 'b').starts).toBe(1);
    expect(await chat(rt, 'b')).toContain('Hello from b');
    b1!.done();
    b2!.done();
    expect(order).toEqual(['6c:MODEL_NOT_FOUND', '1a:ok', '2a:ok', '5a:ok', '3b:ok', '4b:ok']);
    // Completions reach the scheduler at the end of the turn (ticket-batch.ts); the raw
    // actor is read here, not the runtime's state(), which would deliver them first.
    await new Promise((r) => setImmediate(r));
    const fifo = rt.actor.getSnapshot().context.fifo;
    expect(fifo.reserved).toEqual({});
    expect(fifo.inFlight).toEqual({});
  });

  it("a forking upstream's child is gone after its stop", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swapstate-fork-'));
    const pidFile = join(dir, 'child.pid');
    const rt = (runtime = startScheduler({
      input: await schedulerInput({ f: { extraArgs: ['--fork-child', '--pid-file', pidFile] } }),
    }));
    const t = rt.request('f');
    expect(await t.grant).toEqual(granted(rt, 'f', 1));
    t.done();
    await until(() => readFileSync(pidFile, 'utf8').trim() !== '', 'the child pid file');
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    const leader = processContext(rt, 'f').pid!;
    expect(isAlive(childPid)).toBe(true);
    const result = await rt.unload(['f']);
    expect(result.targets).toEqual(['f']);
    expect(isAlive(leader)).toBe(false);
    await until(() => !isAlive(childPid), 'the forked child to die', 5_000);
  });

  it('a start that fails answers every waiter with the error, and a later request retries', async () => {
    const rt = (runtime = startScheduler({
      input: await schedulerInput({ x: { extraArgs: ['--crash-after', '50'], loadDelayMs: 5_000 } }),
    }));
    const [t1, t2] = [rt.request('x'), rt.request('x')];
    for (const t of [t1, t2]) {
      expect(await t.grant).toEqual({
        ok: false,
        error: { code: 'SWAP_FAILED', message: 'upstream command exited prematurely (exit code 1): x crashing on purpose (--crash-after 50)' },
      });
    }
    const t3 = rt.request('x');
    expect((await t3.grant).ok).toBe(false);
    expect(processContext(rt, 'x').starts).toBe(2);
  });

  it('counts a request as queued in the turn it arrives (the /metrics queue depth)', async () => {
    const rt = (runtime = startScheduler({ input: await schedulerInput({ a: { loadDelayMs: 300 } }) }));
    expect(rt.queued('a')).toBe(0);
    const [t1, t2] = [rt.request('a'), rt.request('a')];
    // Same turn: the tickets still wait for the turn's end to reach the scheduler.
    expect(rt.queued('a')).toBe(2);
    await Promise.all([t1.grant, t2.grant]);
    expect(rt.queued('a')).toBe(0);
    t1.done();
    t2.done();
  });

  it('grants a request to a ready model in the turn it asks (early grant), and the scheduler counts it as usual', async () => {
    const rt = (runtime = startScheduler({ input: await schedulerInput({ a: {} }) }));
    const first = rt.request('a');
    expect((await first.grant).ok).toBe(true);
    first.done();
    await new Promise((r) => setImmediate(r));
    // Ready and idle: the next request is granted before the turn ends (a microtask later),
    // where it waited for the scheduler's turn before.
    const t = rt.request('a');
    let granted: boolean | null = null;
    void t.grant.then((g) => (granted = g.ok));
    // Microtasks only: the turn (and the ticket batch's delivery at its end) has not ended.
    for (let i = 0; i < 3; i++) await Promise.resolve();
    expect(granted).toBe(true);
    // The scheduler took the same REQUEST and granted it: in flight until done.
    rt.state();
    expect(rt.actor.getSnapshot().context.fifo.inFlight['a']).toBe(1);
    t.done();
    rt.state();
    expect(rt.actor.getSnapshot().context.fifo.inFlight['a'] ?? 0).toBe(0);
    expect(rt.actor.getSnapshot().context.fifo.reserved['a'] ?? 0).toBe(0);
  });

  it('a command that does not exist fails the request with the spawn error', async () => {
    const input = await schedulerInput({ n: {} });
    input.models['n']!.process.cmd = '/nonexistent/llama-server --port 1';
    const rt = (runtime = startScheduler({ input }));
    const g = await rt.request('n').grant;
    expect(g.ok).toBe(false);
    expect(!g.ok && g.error.message).toMatch(/^failed to start command '\/nonexistent\/llama-server --port 1': /);
  });

  it('shutdown stops every running model and ends the actor tree', async () => {
    const rt = (runtime = startScheduler({ input: await schedulerInput({ a: {}, b: {} }, {
      both: { swap: false, exclusive: true, persistent: false, members: ['a', 'b'] },
    }) }));
    const [ta, tb] = [rt.request('a'), rt.request('b')];
    expect((await ta.grant).ok).toBe(true);
    expect((await tb.grant).ok).toBe(true);
    const pids = [processContext(rt, 'a').pid!, processContext(rt, 'b').pid!];
    expect(pids.every(isAlive)).toBe(true);
    await rt.shutdown(2_000);
    expect(rt.actor.getSnapshot().status).toBe('done');
    expect(pids.some(isAlive)).toBe(false);
    // Nothing will ever answer a request now: it is refused at once instead of hanging.
    const late = rt.request('a');
    expect(await late.admission).toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});

/**
 * docs/extending.md ("Adding a process state") stays true: every code block it quotes from
 * its example (docs/examples/sleep-mode.ts) is the example's code, and the example behaves as
 * the tutorial says, alone and under the scheduler. (Its protocol conformance runs in
 * test/machines/process.protocol.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { SLEEP_AFTER_MS, sleepyProcessMachine, type SleepModeInput } from '../../docs/examples/sleep-mode.ts';
import { schedulerMachine, type GrantServeParams } from '../../machines/scheduler.machine.ts';
import { FakeCluster, FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('docs/extending.md quotes its example', () => {
  it('every region of docs/examples/sleep-mode.ts is a code block of the tutorial, as it is in the file', () => {
    const example = read('docs/examples/sleep-mode.ts');
    const tutorial = read('docs/extending.md');
    const blocks = [...tutorial.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.trimEnd());
    const regions = [...example.matchAll(/\/\/ #region (\w+)\n([\s\S]*?)\/\/ #endregion \1/g)].map((m) => ({ name: m[1]!, code: m[2]!.trimEnd() }));
    expect(regions.map((r) => r.name)).toEqual(['setup', 'states', 'define']);
    for (const r of regions) expect(blocks, `region ${r.name}`).toContain(r.code);
  });

  it('links the files it names, and they exist', () => {
    const tutorial = read('docs/extending.md');
    const links = new Set([...tutorial.matchAll(/\]\(((?:\.\.\/)?[\w./-]+)\)/g)].map((m) => m[1]!));
    expect(links.size).toBeGreaterThan(5);
    for (const link of links) expect(() => read(new URL(link, new URL('docs/', root)).pathname.slice(root.pathname.length)), link).not.toThrow();
  });
});

/** Controllable `sleep` and `wake` actors: each call is recorded and settled by the test. */
function sleepWake() {
  const calls: Array<{ actor: 'sleep' | 'wake'; input: SleepModeInput; resolve(): void; reject(e: Error): void }> = [];
  const fake = (actor: 'sleep' | 'wake') =>
    fromPromise<void, SleepModeInput>(({ input }) => new Promise<void>((resolve, reject) => calls.push({ actor, input, resolve, reject })));
  return { calls, actors: { sleep: fake('sleep'), wake: fake('wake') } };
}

/** A sleepy process, ready and idle. */
async function readyProcess() {
  const world = new FakeWorld();
  const sw = sleepWake();
  const actor = createActor(sleepyProcessMachine.provide({ actors: { ...world.actors(), ...sw.actors } }), {
    input: processConfig({ model: 'a' }),
  });
  actor.subscribe({ error: (err) => { throw err; } });
  actor.start();
  actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
  world.spawned();
  world.healthOk();
  await vi.advanceTimersByTimeAsync(0);
  expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
  return { world, actor, ...sw };
}

describe('the tutorial machine does what the tutorial says', () => {
  it('idle for sleepAfter, it offloads (still resident) through `sleep`, then sleeps: not resident, not serving, tagged asleep, its server still up', async () => {
    const { world, actor, calls } = await readyProcess();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS - 1);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    await vi.advanceTimersByTimeAsync(1);
    expect(actor.getSnapshot().value).toEqual({ running: { sleeping: 'offloading' } });
    expect(actor.getSnapshot().hasTag('resident')).toBe(true);
    expect(actor.getSnapshot().hasTag('serving')).toBe(false);
    expect(calls.map((c) => [c.actor, c.input])).toEqual([['sleep', { model: 'a', proxy: 'http://127.0.0.1:5800' }]]);
    calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const asleep = actor.getSnapshot();
    expect(asleep.value).toEqual({ running: { sleeping: 'asleep' } });
    expect([asleep.hasTag('resident'), asleep.hasTag('serving'), asleep.hasTag('asleep')]).toEqual([false, false, true]);
    expect(asleep.context.pid).toBe(1000);
    expect(world.log).toEqual(['spawn', 'probe']); // no TERM: the server stays up
  });

  it('ENSURE_READY wakes it through `wake` (resident while waking), answers READY, and spawns nothing', async () => {
    const { world, actor, calls } = await readyProcess();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS);
    calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(actor.getSnapshot().value).toEqual({ running: 'waking' });
    expect(actor.getSnapshot().hasTag('resident')).toBe(true);
    expect(calls.map((c) => c.actor)).toEqual(['sleep', 'wake']);
    expect(w.replies).toEqual([]);
    calls[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(world.count('spawn')).toBe(1);
  });

  it('STOP while asleep stops the server and answers STOPPED once it has exited', async () => {
    const { world, actor, calls } = await readyProcess();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS);
    calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'STOP', replyTo: w.ref });
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    world.exited(0);
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(w.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
  });

  it('a model with requests in flight never sleeps', async () => {
    const { actor, calls } = await readyProcess();
    actor.send({ type: 'ACQUIRE' });
    await vi.advanceTimersByTimeAsync(10 * SLEEP_AFTER_MS);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'busy' } });
    expect(calls).toEqual([]);
  });

  it('a failed wake fails its waiters and stops the server; a failed sleep stops it too', async () => {
    const { world, actor, calls } = await readyProcess();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS);
    calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    calls[1]!.reject(new Error('500'));
    await vi.advanceTimersByTimeAsync(0);
    expect(w.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error: 'wake up failed' }]);
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    world.exited(0);

    const again = await readyProcess();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS);
    again.calls[0]!.reject(new Error('500'));
    await vi.advanceTimersByTimeAsync(0);
    expect(again.actor.getSnapshot().value).toEqual({ running: 'stopping' });
    expect(again.actor.getSnapshot().context.lastError).toBe('sleep failed');
  });
});

describe('under the scheduler, which never hears of it', () => {
  it('an asleep model is not evicted when another model of its group loads; a request for it wakes it and evicts the other', async () => {
    const cluster = new FakeCluster();
    const sw = sleepWake();
    const grants: GrantServeParams[] = [];
    const machine = schedulerMachine.provide({
      actors: { process: sleepyProcessMachine.provide({ actors: { ...cluster.actors(), ...sw.actors } }) },
      actions: { grantServe: (_, p) => void grants.push(p) },
    });
    const models = Object.fromEntries(['a', 'b'].map((m) => [m, { process: processConfig({ model: m }) }]));
    const actor = createActor(machine, { input: { models, evictGraceMs: 10_000 } });
    actor.subscribe({ error: (err) => { throw err; } });
    actor.start();
    const [a, b] = [cluster.world('a'), cluster.world('b')];
    const ready = async (w: FakeWorld) => {
      w.spawned();
      w.healthOk();
      await vi.advanceTimersByTimeAsync(0);
    };

    actor.send({ type: 'REQUEST', reqId: 'r1', model: 'a' });
    await ready(a);
    actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS + 1_000); // the idle settle, then sleepAfter
    sw.calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().context.fifo.procs['a']).toMatchObject({ resident: false, serving: false });

    // b is in a's (default, exclusive) group, yet a asleep holds no VRAM: nothing to evict.
    actor.send({ type: 'REQUEST', reqId: 'r2', model: 'b' });
    expect(a.count('TERM')).toBe(0);
    await ready(b);
    expect(grants.map((g) => g.reqId)).toEqual(['r1', 'r2']);
    actor.send({ type: 'SERVE_DONE', reqId: 'r2', model: 'b' });

    // A request for a: its swap evicts b (resident), then its ENSURE_READY wakes a.
    actor.send({ type: 'REQUEST', reqId: 'r3', model: 'a' });
    expect(b.count('TERM')).toBe(1);
    b.exited(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(sw.calls.map((c) => c.actor)).toEqual(['sleep', 'wake']);
    sw.calls[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(grants.map((g) => g.reqId)).toEqual(['r1', 'r2', 'r3']);
    expect(a.count('spawn')).toBe(1); // woken, never restarted
    actor.stop();
  });
});

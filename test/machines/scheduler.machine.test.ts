/**
 * The scheduler machine: the pure transition API shows the named effects, and an interpreted
 * run with fake processes shows the actor tree doing a swap end to end.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, initialTransition, transition, type Actor } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { expandMatrixSets, matrixResolver } from '../../src/core/matrix-dsl.ts';
import {
  IDLE_SETTLE_MS,
  schedulerMachine,
  schedulerSetup,
  swapBoundMs,
  type AdmitParams,
  type GrantErrorParams,
  type GrantServeParams,
  type SchedulerInput,
  type UnloadedParams,
} from '../../machines/scheduler.machine.ts';
import { FakeCluster, processConfig } from '../helpers/fake-process-world.ts';

function input(models: string[], over: Partial<SchedulerInput> = {}): SchedulerInput {
  return {
    models: Object.fromEntries(models.map((m) => [m, { process: processConfig({ model: m }) }])),
    evictGraceMs: 120_000,
    ...over,
  };
}

/** A scheduler over fake processes whose effect actions are recorded. */
function runScheduler(models: string[], over: Partial<SchedulerInput> = {}) {
  const cluster = new FakeCluster();
  const log: string[] = [];
  const grants: GrantServeParams[] = [];
  const errors: GrantErrorParams[] = [];
  const unloads: UnloadedParams[] = [];
  const admits: AdmitParams[] = [];
  const machine = schedulerMachine.provide({
    actors: { process: processMachine.provide({ actors: cluster.actors() }) },
    actions: {
      admit: (_, p) => {
        admits.push(p);
        if (p.error) log.push(`reject ${p.reqId} ${p.error.code}`);
      },
      grantServe: (_, p) => {
        grants.push(p);
        log.push(`serve ${p.reqId}`);
      },
      grantError: (_, p) => {
        errors.push(p);
        log.push(`error ${p.reqId} ${p.error.code}`);
      },
      unloaded: (_, p) => {
        unloads.push(p);
      },
    },
  });
  const actor = createActor(machine, { input: input(models, over) });
  const failures: unknown[] = [];
  actor.subscribe({ error: (e) => failures.push(e) });
  actor.start();
  return { actor, cluster, log, grants, errors, unloads, admits, failures };
}

/** The fake server of `world` spawns and turns healthy, as a real one would. */
async function becomeReady(world: { spawned(): void; healthOk(): void }): Promise<void> {
  world.spawned();
  world.healthOk();
  await vi.advanceTimersByTimeAsync(0);
}

function request(actor: Actor<typeof schedulerMachine>, reqId: string, model: string) {
  actor.send({ type: 'REQUEST', reqId, model });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scheduler machine, pure transitions', () => {
  it('spawns one process actor per model at start', () => {
    const [, actions] = initialTransition(schedulerMachine, input(['a', 'b']));
    const spawns = actions.filter((a) => a.type === 'xstate.spawnChild');
    expect(spawns.map((a) => (a.params as { id: string }).id)).toEqual(['process:a', 'process:b']);
  });

  it('REQUEST for a stopped model: a named admit effect and a swap actor spawn', () => {
    const [s0] = initialTransition(schedulerMachine, input(['a']));
    const [s1, actions] = transition(schedulerMachine, s0, { type: 'REQUEST', reqId: 'r1', model: 'a' });
    const admit = actions.find((a) => a.type === 'admit');
    expect(admit?.params).toEqual({ reqId: 'r1', model: 'a' });
    const spawn = actions.find((a) => a.type === 'xstate.spawnChild');
    expect((spawn?.params as { id: string }).id).toBe('swap:a#1');
    expect(s1.context.fifo.active).toHaveLength(1);
  });

  it('REQUEST for an unknown model: rejected, nothing spawned', () => {
    const [s0] = initialTransition(schedulerMachine, input(['a']));
    const [, actions] = transition(schedulerMachine, s0, { type: 'REQUEST', reqId: 'r1', model: 'zzz' });
    expect(actions.find((a) => a.type === 'admit')?.params).toMatchObject({ error: { code: 'MODEL_NOT_FOUND' } });
    expect(actions.some((a) => a.type === 'xstate.spawnChild')).toBe(false);
  });
});

describe("the scheduler's actions are typed by its setup", () => {
  // Checked by `npm run typecheck`: each @ts-expect-error line must be an error. The core-step
  // actions use XState's own enqueuer for this setup (no casts), so the same holds in them.
  it('an action, its params or an event the scheduler does not have does not compile', () => {
    const probe = schedulerSetup.enqueueActions(({ enqueue }) => {
      enqueue({ type: 'grantServe', params: { reqId: 'r', model: 'm' } });
      enqueue.raise({ type: 'SETTLE_IDLE', model: 'm' }, { delay: 1 });
      // @ts-expect-error: a misspelt action
      enqueue({ type: 'grantServes', params: { reqId: 'r', model: 'm' } });
      // @ts-expect-error: an action's params are typed
      enqueue({ type: 'grantServe', params: { reqId: 'r' } });
      // @ts-expect-error: an event the scheduler does not have
      enqueue.raise({ type: 'SETTLE_IDLY', model: 'm' }, { delay: 1 });
      // @ts-expect-error: a child the scheduler cannot spawn
      enqueue.spawnChild('swapp', { id: 'x' });
    });
    expect(typeof probe).toBe('function');
  });
});

describe('swap watchdog bound', () => {
  it('never exceeds the longest timer, however long the configured durations', () => {
    const longest = 2 ** 31 - 1;
    const day24 = 2_147_483_000; // the largest healthCheckTimeout/unloadTimeout the config accepts, in ms
    const context = {
      evictGraceMs: day24,
      processes: { a: processConfig({ model: 'a', unloadGraceMs: day24 }), b: processConfig({ model: 'b', healthCheckTimeoutMs: day24 }) },
    } as unknown as Parameters<typeof swapBoundMs>[0];
    expect(swapBoundMs(context, 'b', ['a'])).toBe(longest);
    expect(swapBoundMs(context, null, ['a'])).toBe(longest);
  });
});

describe('scheduler machine with fake processes', () => {
  it('A, A, B, B, A, C: one start of A for its waiters, B after A drains, C unknown', async () => {
    const t = runScheduler(['a', 'b']);
    const a = t.cluster.world('a');
    const b = t.cluster.world('b');
    for (const [id, m] of [['r1', 'a'], ['r2', 'a'], ['r3', 'b'], ['r4', 'b'], ['r5', 'a'], ['r6', 'c']] as const) {
      request(t.actor, id, m);
    }
    expect(t.log).toEqual(['reject r6 MODEL_NOT_FOUND']);
    expect(a.count('spawn')).toBe(1);
    await becomeReady(a);
    expect(t.log).toEqual(['reject r6 MODEL_NOT_FOUND', 'serve r1', 'serve r2', 'serve r5']);
    expect(b.count('spawn')).toBe(0);
    // a is busy until each of its requests is done; only then is it evicted for b.
    for (const r of ['r1', 'r2']) t.actor.send({ type: 'SERVE_DONE', reqId: r, model: 'a' });
    expect(a.count('TERM')).toBe(0);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r5', model: 'a' });
    expect(a.count('TERM')).toBe(1);
    expect(b.count('spawn')).toBe(0); // b waits for a to be gone
    a.exited(0);
    expect(b.count('spawn')).toBe(1);
    await becomeReady(b);
    expect(t.log.slice(-2)).toEqual(['serve r3', 'serve r4']);
    for (const r of ['r3', 'r4']) t.actor.send({ type: 'SERVE_DONE', reqId: r, model: 'b' });
    const ctx = t.actor.getSnapshot().context;
    expect(ctx.fifo.reserved).toEqual({});
    expect(ctx.fifo.inFlight).toEqual({});
    expect(ctx.fifo.active).toEqual([]);
    // Finished swaps are stopped, not left among the children.
    expect(Object.keys(t.actor.getSnapshot().children).sort()).toEqual(['process:a', 'process:b']);
    expect(t.failures).toEqual([]);
  });

  it('matrix routing: the solver decides the evictions, not the groups (sets gv and qv; q evicts g only, v stays)', async () => {
    const sets = expandMatrixSets(
      [
        { name: 'gv', dsl: 'g & v' },
        { name: 'qv', dsl: 'q & v' },
      ],
      matrixResolver({}, ['g', 'q', 'v']),
    );
    const t = runScheduler(['g', 'q', 'v'], { matrix: { sets, evictCosts: {} } });
    const [g, q, v] = [t.cluster.world('g'), t.cluster.world('q'), t.cluster.world('v')];
    request(t.actor, 'r1', 'g');
    await becomeReady(g);
    request(t.actor, 'r2', 'v'); // g & v is a set: nothing to evict (the default group would have)
    await becomeReady(v);
    expect([g.count('TERM'), v.count('spawn')]).toEqual([0, 1]);
    for (const [r, m] of [['r1', 'g'], ['r2', 'v']] as const) t.actor.send({ type: 'SERVE_DONE', reqId: r, model: m });
    request(t.actor, 'r3', 'q'); // only qv holds q: g must stop, v may stay
    expect([g.count('TERM'), v.count('TERM')]).toEqual([1, 0]);
    g.exited(0);
    await becomeReady(q);
    expect(t.log).toEqual(['serve r1', 'serve r2', 'serve r3']);
    expect(t.failures).toEqual([]);
  });

  it('a model evicted by a swap gets healthCheckTimeout as its stop grace; an unload its unloadTimeout', async () => {
    const t = runScheduler(['a', 'b'], { evictGraceMs: 120_000 });
    const a = t.cluster.world('a');
    request(t.actor, 'r1', 'a');
    await becomeReady(a);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    request(t.actor, 'r2', 'b'); // evicts a
    expect(a.count('TERM')).toBe(1);
    await vi.advanceTimersByTimeAsync(119_999);
    expect(a.count('KILL')).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.count('KILL')).toBe(1);
    a.exited(null, 'SIGKILL');

    const b = t.cluster.world('b');
    await becomeReady(b);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r2', model: 'b' });
    t.actor.send({ type: 'UNLOAD', ticket: 'u', targets: ['b'] });
    await vi.advanceTimersByTimeAsync(9_999); // processConfig's unloadGraceMs is 10 s
    expect(b.count('KILL')).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.count('KILL')).toBe(1);
  });

  it('a start that times out right after an eviction is retried once, and the error says so (issue 11)', async () => {
    const t = runScheduler(['a', 'b']);
    const a = t.cluster.world('a');
    const b = t.cluster.world('b');
    request(t.actor, 'r1', 'b');
    await becomeReady(b);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'b' });
    request(t.actor, 'r2', 'a'); // evicts b
    b.exited(0);
    a.spawned(); // and never turns healthy
    await vi.advanceTimersByTimeAsync(15_000); // processConfig's healthCheckTimeoutMs
    a.exited(null, 'SIGTERM');
    expect(t.errors).toEqual([]); // not answered yet: the start is retried after 1 s
    await vi.advanceTimersByTimeAsync(999);
    expect(a.count('spawn')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.count('spawn')).toBe(2);
    a.spawned();
    await vi.advanceTimersByTimeAsync(15_000);
    a.exited(null, 'SIGTERM');
    // The client waited 31 s for two 15 s attempts: the error carries what the HTTP layer
    // needs to say so (error-wording.ts waitedText).
    expect(t.errors).toEqual([
      {
        reqId: 'r2',
        model: 'a',
        error: { code: 'SWAP_FAILED', message: 'health check timed out after 15s', retriedAfterEvicting: ['b'] },
      },
    ]);
    expect(t.failures).toEqual([]);
  });

  it('a start that fails with nothing evicted is not retried, and its error names no eviction', async () => {
    const t = runScheduler(['a', 'b']);
    const a = t.cluster.world('a');
    request(t.actor, 'r1', 'a');
    a.exited(1);
    expect(t.errors.map((e) => e.error)).toEqual([{ code: 'SWAP_FAILED', message: 'upstream command exited prematurely (exit code 1)' }]);
  });

  it('liveness watchdog: a swap stuck past its bound answers its waiters with an error', async () => {
    const t = runScheduler(['a', 'b'], { evictGraceMs: 120_000 });
    const a = t.cluster.world('a');
    request(t.actor, 'r1', 'a');
    await becomeReady(a);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    request(t.actor, 'r2', 'b'); // evicts a, which will never exit (think: stuck in the kernel)
    // Bound: eviction grace 120 s + 2 x health-check timeout 15 s + retry delay 1 s + margin 10 s.
    await vi.advanceTimersByTimeAsync(160_999);
    expect(t.errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.errors.map((e) => [e.reqId, e.error.message])).toEqual([['r2', 'swap to b did not finish within 161s']]);
    expect(t.actor.getSnapshot().context.fifo.active).toEqual([]);
    expect(t.actor.getSnapshot().children['swap:b#2']).toBeUndefined();
    expect(t.failures).toEqual([]);
  });

  it('a process hears only busy and idle: three requests in flight are one ACQUIRE and one RELEASE', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    await becomeReady(t.cluster.world('a'));
    const child = t.actor.getSnapshot().children['process:a']!;
    let changes = 0;
    const sub = child.subscribe(() => changes++);
    request(t.actor, 'r2', 'a');
    request(t.actor, 'r3', 'a');
    expect(t.log).toEqual(['serve r1', 'serve r2', 'serve r3']);
    expect(t.actor.getSnapshot().context.fifo.inFlight).toEqual({ a: 3 }); // the core counts
    for (const reqId of ['r1', 'r2']) t.actor.send({ type: 'SERVE_DONE', reqId, model: 'a' });
    expect(child.getSnapshot().value).toEqual({ running: { ready: 'busy' } });
    expect(changes).toBe(0); // r2, r3 and two releases: nothing for the process to do
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r3', model: 'a' });
    // Idle for the core at once; for the process once the model stayed idle for the settle.
    expect(t.actor.getSnapshot().context.fifo.inFlight).toEqual({});
    await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS - 1);
    expect(child.getSnapshot().value).toEqual({ running: { ready: 'busy' } });
    await vi.advanceTimersByTimeAsync(1);
    expect(child.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    expect(changes).toBe(1);
    sub.unsubscribe();
  });

  it('requests one after another (within the idle settle) cost the process nothing; after it, one RELEASE and one ACQUIRE', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r0', 'a');
    await becomeReady(t.cluster.world('a'));
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r0', model: 'a' });
    const child = t.actor.getSnapshot().children['process:a']!;
    const seen: unknown[] = [];
    const sub = child.subscribe((snap) => seen.push(snap.value));
    for (let i = 1; i <= 5; i++) {
      await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS / 2);
      request(t.actor, `r${i}`, 'a');
      t.actor.send({ type: 'SERVE_DONE', reqId: `r${i}`, model: 'a' });
    }
    expect(t.log).toEqual(['serve r0', 'serve r1', 'serve r2', 'serve r3', 'serve r4', 'serve r5']);
    expect(seen).toEqual([]); // busy throughout, as far as the process knows
    await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS);
    expect(seen).toEqual([{ running: { ready: 'idle' } }]);
    request(t.actor, 'r6', 'a');
    expect(seen).toEqual([{ running: { ready: 'idle' } }, { running: { ready: 'busy' } }]);
    sub.unsubscribe();
  });

  it('a swap that finishes cancels its watchdog timer, and an idle model without a TTL has no timer to fire', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    await becomeReady(t.cluster.world('a'));
    expect(t.log).toEqual(['serve r1']);
    // Nothing ticks at idle (no TTL configured): the release is the process's one change,
    // and no timer fires within a day (a 0 ms TTL timer woke it after every request).
    const child = t.actor.getSnapshot().children['process:a']!;
    let changes = 0;
    const sub = child.subscribe(() => changes++);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    sub.unsubscribe();
    expect(changes).toBe(1);
    expect(child.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
  });

  it('an unload of a model whose swap is still evicting stops that swap: the model is not started afterwards', async () => {
    const t = runScheduler(['a', 'b']);
    const [a, b] = [t.cluster.world('a'), t.cluster.world('b')];
    request(t.actor, 'r1', 'a');
    await becomeReady(a);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    request(t.actor, 'r2', 'b'); // evicts a; a takes its time to exit
    expect(a.count('TERM')).toBe(1);
    t.actor.send({ type: 'UNLOAD', ticket: 'u', targets: ['b'] });
    expect(t.errors.map((e) => e.error.code)).toEqual(['MODEL_UNLOADED']);
    expect(t.unloads).toEqual([{ ticket: 'u', targets: ['b'] }]); // b was stopped all along
    a.exited(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(b.count('spawn')).toBe(0);
    expect(t.actor.getSnapshot().context.fifo.active).toEqual([]);
  });

  it('mirrors process tags: a ready model takes the fast path without a swap', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    await becomeReady(t.cluster.world('a'));
    expect(t.actor.getSnapshot().context.fifo.procs['a']).toEqual({ resident: true, serving: true, halted: false, backoff: null });
    const seqBefore = t.actor.getSnapshot().context.fifo.seq;
    request(t.actor, 'r2', 'a');
    expect(t.log).toEqual(['serve r1', 'serve r2']);
    expect(t.actor.getSnapshot().context.fifo.seq).toBe(seqBefore);
  });

  it('a failed start fails every waiter with the process error', () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    request(t.actor, 'r2', 'a');
    t.cluster.world('a').exited(1);
    expect(t.errors.map((e) => [e.reqId, e.error.code, e.error.message])).toEqual([
      ['r1', 'SWAP_FAILED', 'upstream command exited prematurely (exit code 1)'],
      ['r2', 'SWAP_FAILED', 'upstream command exited prematurely (exit code 1)'],
    ]);
    expect(t.actor.getSnapshot().context.fifo.reserved).toEqual({});
  });

  it('UNLOAD stops the model and is answered once it has stopped; the next request starts it again', async () => {
    const t = runScheduler(['a']);
    const a = t.cluster.world('a');
    request(t.actor, 'r1', 'a');
    await becomeReady(a);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    t.actor.send({ type: 'UNLOAD', ticket: 'u1' });
    expect(a.count('TERM')).toBe(1);
    expect(t.unloads).toEqual([]);
    a.exited(0);
    expect(t.unloads).toEqual([{ ticket: 'u1', targets: ['a'] }]);
    request(t.actor, 'r2', 'a');
    expect(a.count('spawn')).toBe(2);
  });

  it('SHUTDOWN fails waiters, stops every process, and ends the scheduler', async () => {
    const t = runScheduler(['a', 'b']);
    request(t.actor, 'r1', 'a');
    t.actor.send({ type: 'SHUTDOWN', graceMs: 1_000 });
    expect(t.errors.map((e) => e.error.code)).toEqual(['SHUTTING_DOWN']);
    expect(t.actor.getSnapshot().status).toBe('active');
    const a = t.cluster.world('a');
    expect(a.count('TERM')).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.count('KILL')).toBe(1);
    a.exited(null, 'SIGKILL');
    expect(t.actor.getSnapshot().status).toBe('done');
    expect(t.failures).toEqual([]);
  });

  it('a process actor that throws is replaced, and the new one is busy while requests are still in flight', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    await becomeReady(t.cluster.world('a'));
    const before = t.actor.getSnapshot().children['process:a']!;
    t.actor.send({ type: 'xstate.error.actor.process:a', error: new Error('boom') } as never);
    const fresh = t.actor.getSnapshot().children['process:a']! as unknown as { getSnapshot(): { context: { inFlight: number } } };
    expect(fresh).not.toBe(before);
    // r1 is still in flight: the fresh process counts it, so an idle TTL cannot fire under it.
    expect(fresh.getSnapshot().context.inFlight).toBe(1);
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS);
    expect(fresh.getSnapshot().context.inFlight).toBe(0);
    expect(t.failures).toEqual([]);
  });

  it('survives a child that throws: the swap is answered with an error and the next request works', async () => {
    const t = runScheduler(['a']);
    request(t.actor, 'r1', 'a');
    // What XState delivers when a swap actor throws (an action bug, say).
    const swapId = t.actor.getSnapshot().context.fifo.active[0]?.swapId;
    expect(swapId).toBe('swap:a#1');
    t.actor.send({ type: 'xstate.error.actor.swap:a#1', error: new Error('boom') } as never);
    expect(t.errors.map((e) => e.error.message)).toEqual(['swap failed: boom']);
    expect(t.actor.getSnapshot().status).toBe('active');
    expect(t.failures).toEqual([]);
  });
});

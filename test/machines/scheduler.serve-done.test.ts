/**
 * SERVE_DONE of a model that still has other requests in flight takes a plain assign
 * (`serveDoneCounted`, issue 16) instead of the full step: it must leave exactly the state
 * the core's onServeDone computes, tell the process nothing, and the last one must still
 * settle the model idle as before.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { IDLE_SETTLE_MS, schedulerMachine, swapperOf } from '../../machines/scheduler.machine.ts';
import { onServeDone } from '../../src/core/fifo.ts';
import { FakeCluster, processConfig } from '../helpers/fake-process-world.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('SERVE_DONE with others in flight', () => {
  it('is the core step, with no effect; the last one settles the process idle', async () => {
    const cluster = new FakeCluster();
    const served: string[] = [];
    const machine = schedulerMachine.provide({
      actors: { process: processMachine.provide({ actors: cluster.actors() }) },
      actions: { grantServe: (_, p) => served.push(p.reqId) },
    });
    const actor = createActor(machine, {
      input: { models: { a: { process: processConfig({ model: 'a' }), concurrencyLimit: 8 } }, evictGraceMs: 120_000 },
    });
    actor.start();
    actor.send({ type: 'REQUEST', reqId: 'r0', model: 'a' });
    const a = cluster.world('a');
    a.spawned();
    a.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    for (const r of ['r1', 'r2']) actor.send({ type: 'REQUEST', reqId: r, model: 'a' });
    expect(served).toEqual(['r0', 'r1', 'r2']);
    for (const r of ['r0', 'r1']) {
      const before = actor.getSnapshot().context;
      const expected = onServeDone(before.fifo, 'a', swapperOf(before)).state;
      actor.send({ type: 'SERVE_DONE', reqId: r, model: 'a' });
      expect(actor.getSnapshot().context.fifo).toEqual(expected);
      expect(actor.getSnapshot().context.busyTold).toEqual({ a: true });
    }
    actor.send({ type: 'SERVE_DONE', reqId: 'r2', model: 'a' });
    expect(actor.getSnapshot().context.fifo.inFlight).toEqual({});
    expect(actor.getSnapshot().context.fifo.reserved).toEqual({});
    await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS + 1);
    expect(actor.getSnapshot().context.busyTold).toEqual({});
    expect((actor.getSnapshot().children['process:a']!.getSnapshot() as { value: unknown }).value).toEqual({ running: { ready: 'idle' } });
    actor.stop();
  });
});

/**
 * TICKETS (several ticket events in one macrostep, src/runtime/ticket-batch.ts) does what
 * the same REQUEST / SERVE_DONE / CANCEL events do one by one: same effects, same order, same
 * core state, the process told busy and idle alike.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { IDLE_SETTLE_MS, schedulerMachine, type TicketEvent } from '../../machines/scheduler.machine.ts';
import { FakeCluster, processConfig } from '../helpers/fake-process-world.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function run(models: string[], limit = 2) {
  const cluster = new FakeCluster();
  const log: string[] = [];
  const machine = schedulerMachine.provide({
    actors: { process: processMachine.provide({ actors: cluster.actors() }) },
    actions: {
      admit: (_, p) => log.push(`admit ${p.reqId}${p.error ? ` ${p.error.code}` : ''}`),
      grantServe: (_, p) => log.push(`serve ${p.reqId}`),
      grantError: (_, p) => log.push(`error ${p.reqId} ${p.error.code}`),
      queuePositions: (_, p) => log.push(`positions ${p.positions.map((x) => `${x.reqId}:${x.position}`).join(',')}`),
    },
  });
  const models_ = Object.fromEntries(models.map((m) => [m, { process: processConfig({ model: m }), concurrencyLimit: limit }]));
  const actor = createActor(machine, { input: { models: models_, evictGraceMs: 120_000 } });
  actor.start();
  return { actor, cluster, log };
}

const req = (reqId: string, model: string): TicketEvent => ({ type: 'REQUEST', reqId, model });
const done = (reqId: string, model: string): TicketEvent => ({ type: 'SERVE_DONE', reqId, model });

/** A ready model `a`, then `batches` sent either as they are or one event at a time. */
async function scenario(batched: boolean, batches: TicketEvent[][]) {
  const t = run(['a', 'b']);
  t.actor.send(req('r0', 'a'));
  const a = t.cluster.world('a');
  a.spawned();
  a.healthOk();
  await vi.advanceTimersByTimeAsync(0);
  for (const events of batches) {
    if (batched) t.actor.send({ type: 'TICKETS', events });
    else for (const e of events) t.actor.send(e);
    await vi.advanceTimersByTimeAsync(IDLE_SETTLE_MS / 2);
  }
  const { fifo, busyTold } = t.actor.getSnapshot().context;
  const process = t.actor.getSnapshot().children['process:a']!.getSnapshot() as { value: unknown };
  const out = { log: t.log, fifo, busyTold, process: process.value, terms: a.count('TERM') };
  t.actor.stop();
  return out;
}

describe('TICKETS', () => {
  it('is the same events one by one: admissions, grants, refusals, queue positions, a cancel', async () => {
    const batches: TicketEvent[][] = [
      [done('r0', 'a'), req('r1', 'a'), req('r2', 'a'), req('r3', 'a'), req('r4', 'x')],
      [{ type: 'CANCEL', reqId: 'r2' }, done('r1', 'a'), req('r5', 'b'), req('r6', 'a')],
      [done('r6', 'a')],
    ];
    const one = await scenario(false, batches);
    const many = await scenario(true, batches);
    expect(many).toEqual(one);
    expect(one.log).toContain('admit r4 MODEL_NOT_FOUND');
    expect(one.log).toContain('admit r3 CONCURRENCY_LIMIT');
  });

  it('tells the process idle after the settle, as single events do', async () => {
    const one = await scenario(false, [[done('r0', 'a')], [], [], []]);
    const many = await scenario(true, [[done('r0', 'a')], [], [], []]);
    expect(many).toEqual(one);
    expect(one.process).toEqual({ running: { ready: 'idle' } });
  });
});

/**
 * An early grant's REQUEST may wait for company (ticket-batch.ts, EARLY_WAIT_MS): at the turn's
 * end its scheduler step ran while the upstream was answering and held the first chunk back
 * (issue 16). It may only wait while its model's process cannot leave `ready` on its own
 * (scheduler-runtime.ts `mayWait`): with a ttl counting down, a TTL firing during the wait
 * would stop a model serving a request the scheduler has not seen. Real upstream processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { EARLY_WAIT_MS } from '../../src/runtime/ticket-batch.ts';
import { startScheduler, type SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { schedulerInput, until } from '../helpers/real-upstreams.ts';

let runtime: SchedulerRuntime | null = null;
afterEach(async () => {
  await runtime?.shutdown(2_000);
  runtime = null;
});

const turn = () => new Promise<void>((r) => setImmediate(r));

/** A runtime for model `a` (ttl as given), with the ticket events its scheduler took, in order. */
async function started(ttlMs: number) {
  const taken: string[] = [];
  const inspect = (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.event') return;
    const e = ev.event as { type: string; reqId?: string; events?: Array<{ type: string; reqId: string }> };
    if (e.type === 'REQUEST' || e.type === 'SERVE_DONE') taken.push(`${e.type} ${e.reqId}`);
    if (e.type === 'TICKETS') taken.push(`TICKETS[${e.events!.map((x) => `${x.type} ${x.reqId}`).join(', ')}]`);
  };
  const rt = (runtime = startScheduler({ input: await schedulerInput({ a: { ttlMs } }), inspect }));
  // Start a, serve one request, and let its process hear that it is idle again (the settle).
  (await granted(rt)).done();
  await until(() => rt.actor.getSnapshot().context.busyTold['a'] === undefined && (rt.actor.getSnapshot().context.fifo.inFlight['a'] ?? 0) === 0, 'a to settle idle');
  taken.length = 0;
  return { rt, taken };
}

const inFlight = (rt: SchedulerRuntime) => rt.actor.getSnapshot().context.fifo.inFlight['a'] ?? 0;

/** A request to `a`, granted (early, when the scheduler's step says it grants it at once). */
async function granted(rt: SchedulerRuntime) {
  const t = rt.request('a');
  expect((await t.grant).ok).toBe(true);
  return t;
}

describe("an early grant's REQUEST waits for company only while its model cannot leave ready on its own", () => {
  it('no ttl: granted at once, its REQUEST not taken at the turn end; the request ending sends it at once', async () => {
    const { rt, taken } = await started(0);
    const t = await granted(rt);
    await turn();
    // The raw actor (the runtime's state() would deliver what waits first).
    expect(taken).toEqual([]);
    expect(inFlight(rt)).toBe(0);
    t.done();
    // The answer is out: the REQUEST goes now (the batch is free for the client's next
    // request's early grant), and the scheduler's confirmation sends the SERVE_DONE.
    expect(taken).toEqual([`REQUEST ${t.reqId}`]);
    await turn();
    expect(taken).toEqual([`REQUEST ${t.reqId}`, `SERVE_DONE ${t.reqId}`]);
    expect(inFlight(rt)).toBe(0);
    // And the next request is granted early again.
    const next = await granted(rt);
    await turn();
    expect(taken).toHaveLength(2);
    next.done();
  });

  it(`no ttl: a request still being served is taken once the wait (${EARLY_WAIT_MS} ms) ends`, async () => {
    const { rt, taken } = await started(0);
    const t = await granted(rt);
    await until(() => inFlight(rt) === 1, 'the scheduler to take the waiting REQUEST', 5_000);
    expect(taken).toEqual([`REQUEST ${t.reqId}`]);
    // What reads the state delivers first; here nothing waits any more.
    expect(rt.state().processes.find((p) => p.model === 'a')?.state).toBe('ready');
    t.done();
    await until(() => inFlight(rt) === 0, 'the SERVE_DONE', 5_000);
  });

  it('the runtime reading its state delivers a waiting REQUEST first', async () => {
    const { rt, taken } = await started(0);
    const t = await granted(rt);
    rt.state();
    expect(taken).toEqual([`REQUEST ${t.reqId}`]);
    expect(inFlight(rt)).toBe(1);
    t.done();
  });

  it("a ttl counting down (the process idle): the REQUEST is taken at the turn's end, as any other", async () => {
    const { rt, taken } = await started(600_000);
    const t = await granted(rt);
    await turn();
    expect(taken).toEqual([`REQUEST ${t.reqId}`]);
    expect(inFlight(rt)).toBe(1);
    t.done();
  });

  it('a ttl, but the process told it is busy (no countdown runs): the REQUEST may wait', async () => {
    const { rt, taken } = await started(600_000);
    const busy = await granted(rt);
    await until(() => rt.actor.getSnapshot().context.busyTold['a'] === true, 'a to be told busy');
    taken.length = 0;
    const t = await granted(rt);
    await turn();
    expect(taken).toEqual([]);
    t.done();
    busy.done();
    await turn();
    expect(taken).toEqual([`REQUEST ${t.reqId}`, `TICKETS[SERVE_DONE ${t.reqId}, SERVE_DONE ${busy.reqId}]`]);
  });
});

/**
 * The runtime's pacing of a burst (issue 16): a turn's end delivers at most TICKETS_PER_TURN
 * ticket events, and grants reach their callers at most GRANTS_PER_TURN per turn, so neither
 * holds the event loop for the whole burst. Order and counts are the scheduler's, unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../machines/scheduler.machine.ts';
import { EARLY_WAIT_MS, TicketBatch, TICKETS_PER_TURN } from '../../src/runtime/ticket-batch.ts';
import { until } from '../helpers/real-upstreams.ts';
import { GRANTS_PER_TURN, Tickets } from '../../src/runtime/tickets.ts';
import type { Upstream } from '../../src/runtime/upstreams.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));
const reqIds = (e: SchedulerEvent): string[] =>
  e.type === 'TICKETS' ? e.events.map((x) => ('reqId' in x ? x.reqId : '')) : 'reqId' in e ? [e.reqId] : [];

describe('TicketBatch', () => {
  it('delivers at most TICKETS_PER_TURN requests per turn, in order', async () => {
    const got: SchedulerEvent[] = [];
    const batch = new TicketBatch((e) => got.push(e));
    const n = TICKETS_PER_TURN * 2 + 5;
    for (let i = 0; i < n; i++) batch.send({ type: 'REQUEST', reqId: `r${i}`, model: 'm' });
    await turn();
    expect(got.flatMap(reqIds)).toHaveLength(TICKETS_PER_TURN);
    for (let i = 0; i < 3; i++) await turn();
    expect(got.flatMap(reqIds)).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
    expect(got.every((e) => reqIds(e).length <= TICKETS_PER_TURN)).toBe(true);
  });

  it('a CANCEL, or any other event, delivers everything still waiting first, in order', async () => {
    const got: SchedulerEvent[] = [];
    const batch = new TicketBatch((e) => got.push(e));
    for (let i = 0; i < TICKETS_PER_TURN + 10; i++) batch.send({ type: 'REQUEST', reqId: `r${i}`, model: 'm' });
    await turn();
    batch.send({ type: 'SERVE_DONE', reqId: 'r0', model: 'm' });
    batch.send({ type: 'CANCEL', reqId: 'r1' });
    expect(got.flatMap(reqIds)).toHaveLength(TICKETS_PER_TURN + 12);
    expect(got.flatMap(reqIds).slice(-2)).toEqual(['r0', 'r1']);
    batch.send({ type: 'SERVE_DONE', reqId: 'r2', model: 'm' });
    batch.send({ type: 'UNLOAD', ticket: 'u', targets: undefined });
    expect(got.slice(-2)).toEqual([
      { type: 'SERVE_DONE', reqId: 'r2', model: 'm' },
      { type: 'UNLOAD', ticket: 'u', targets: undefined },
    ]);
  });

  it(`an early REQUEST allowed to wait goes with a later turn's events, or once its wait (${EARLY_WAIT_MS} ms) ends`, async () => {
    const got: SchedulerEvent[] = [];
    const batch = new TicketBatch((e) => got.push(e));
    batch.send({ type: 'REQUEST', reqId: 'a', model: 'm' }, true);
    await turn();
    expect(got).toEqual([]);
    expect(batch.idle()).toBe(false);
    batch.send({ type: 'SERVE_DONE', reqId: 'b', model: 'm' });
    await turn();
    expect(got).toHaveLength(1);
    expect(got.flatMap(reqIds)).toEqual(['a', 'b']);
    batch.send({ type: 'REQUEST', reqId: 'c', model: 'm' }, true);
    await turn();
    expect(got).toHaveLength(1);
    await until(() => got.length === 2, 'the wait to end', 5_000);
    expect(got[1]).toEqual({ type: 'REQUEST', reqId: 'c', model: 'm' });
    expect(batch.idle()).toBe(true);
    // Not allowed to wait (or not early): at the turn's end, as any other.
    batch.send({ type: 'REQUEST', reqId: 'd', model: 'm' });
    await turn();
    expect(got[2]).toEqual({ type: 'REQUEST', reqId: 'd', model: 'm' });
    // A flush delivers a waiting one at once.
    batch.send({ type: 'REQUEST', reqId: 'e', model: 'm' }, true);
    batch.flush();
    expect(got[3]).toEqual({ type: 'REQUEST', reqId: 'e', model: 'm' });
  });

  it('SERVE_DONEs wait for the turn end with the requests: one event for the turn, in order', async () => {
    const got: SchedulerEvent[] = [];
    const batch = new TicketBatch((e) => got.push(e));
    batch.send({ type: 'SERVE_DONE', reqId: 'a', model: 'm' });
    batch.send({ type: 'REQUEST', reqId: 'b', model: 'm' });
    batch.send({ type: 'SERVE_DONE', reqId: 'c', model: 'm' });
    expect(got).toEqual([]);
    await turn();
    expect(got).toHaveLength(1);
    expect(got[0]!.type).toBe('TICKETS');
    expect(got.flatMap(reqIds)).toEqual(['a', 'b', 'c']);
    // A lone completion goes as itself.
    batch.send({ type: 'SERVE_DONE', reqId: 'd', model: 'm' });
    await turn();
    expect(got[1]).toEqual({ type: 'SERVE_DONE', reqId: 'd', model: 'm' });
  });
});

describe('Tickets: grant pacing', () => {
  const upstream = { base: 'http://127.0.0.1:1' } as unknown as Upstream;

  it('hands at most GRANTS_PER_TURN grants to callers per turn, all in grant order', async () => {
    const sent: SchedulerEvent[] = [];
    const tickets = new Tickets((e) => sent.push(e), () => upstream);
    const n = GRANTS_PER_TURN * 3 + 1;
    const all = Array.from({ length: n }, () => tickets.open('m'));
    const order: string[] = [];
    for (const t of all) void t.grant.then((g) => g.ok && order.push(t.reqId));
    for (const t of all) tickets.actions.grantServe(undefined, { reqId: t.reqId, model: 'm' });
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toHaveLength(GRANTS_PER_TURN);
    for (let i = 0; i < 5; i++) await turn();
    expect(order).toEqual(all.map((t) => t.reqId));
    // The scheduler's side was not held: nothing was sent back.
    expect(sent.filter((e) => e.type === 'SERVE_DONE')).toEqual([]);
  });

  it('a caller that leaves while its grant is held gets no slot, and its slot goes back once', async () => {
    const sent: SchedulerEvent[] = [];
    const tickets = new Tickets((e) => sent.push(e), () => upstream);
    const all = Array.from({ length: GRANTS_PER_TURN + 1 }, () => tickets.open('m'));
    for (const t of all) tickets.actions.grantServe(undefined, { reqId: t.reqId, model: 'm' });
    const last = all.at(-1)!;
    last.cancel();
    last.done();
    const g = await last.grant;
    expect(g.ok).toBe(false);
    expect(sent.filter((e) => e.type === 'SERVE_DONE').map(reqIds).flat()).toEqual([last.reqId]);
  });

  it('queue positions: read from the last queue reported, listeners told each change', () => {
    const tickets = new Tickets(() => {}, () => upstream);
    const [a, b] = [tickets.open('m'), tickets.open('m')];
    const heard: number[] = [];
    b.onPosition((p) => heard.push(p));
    const report = (ids: string[]) =>
      tickets.actions.queuePositions(undefined, { positions: ids.map((reqId, i) => ({ reqId, position: i + 1 })) });
    report([a.reqId, b.reqId]);
    expect([a.position(), b.position()]).toEqual([1, 2]);
    report([b.reqId]);
    report([b.reqId]);
    expect([a.position(), b.position()]).toEqual([null, 1]);
    expect(heard).toEqual([2, 1]);
  });
});

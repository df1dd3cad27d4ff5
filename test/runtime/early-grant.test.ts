/**
 * Early grants (issue 16): a request to a ready model with a free slot is granted when its
 * ticket opens, when the scheduler's own step says it would grant it; its REQUEST still goes
 * to the scheduler, whose grant confirms it. These tests drive the registry with the
 * scheduler's answers by hand: confirmed, refused, or admitted without a grant (an event that
 * reached the scheduler first changed its mind). In every case the scheduler ends up with the
 * REQUEST and exactly one SERVE_DONE or CANCEL, as for any ticket.
 */
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../machines/scheduler.machine.ts';
import { Tickets } from '../../src/runtime/tickets.ts';
import type { Upstream } from '../../src/runtime/upstreams.ts';

const upstream = { base: 'http://127.0.0.1:1' } as unknown as Upstream;

/** A registry whose scheduler would grant every request at once, and what it was sent. */
function registry(grantsAtOnce = true) {
  const sent: SchedulerEvent[] = [];
  const tickets = new Tickets((e) => sent.push(e), () => upstream, () => grantsAtOnce);
  const settled = (ticket: { grant: Promise<unknown> }) => Promise.race([ticket.grant.then(() => true), Promise.resolve().then(() => false)]);
  return { sent, tickets, settled };
}

describe('early grants', () => {
  it('grant the ticket at once; the scheduler is sent its REQUEST, its grant confirms, done sends one SERVE_DONE', async () => {
    const { sent, tickets, settled } = registry();
    const t = tickets.open('m');
    expect(sent).toEqual([{ type: 'REQUEST', reqId: t.reqId, model: 'm' }]);
    expect(await t.admission).toBeNull();
    expect(await settled(t)).toBe(true);
    expect(await t.grant).toEqual({ ok: true, model: 'm', upstream });
    // The scheduler takes the REQUEST: admitted and granted, as predicted.
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm' });
    tickets.actions.grantServe(null, { reqId: t.reqId, model: 'm' });
    tickets.settle();
    expect(sent).toHaveLength(1);
    t.done();
    t.done();
    expect(sent.slice(1)).toEqual([{ type: 'SERVE_DONE', reqId: t.reqId, model: 'm' }]);
  });

  it('a request that ends before the scheduler confirmed it sends its SERVE_DONE on the confirmation', () => {
    const { sent, tickets } = registry();
    const t = tickets.open('m');
    t.done();
    expect(sent.map((e) => e.type)).toEqual(['REQUEST']);
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm' });
    tickets.actions.grantServe(null, { reqId: t.reqId, model: 'm' });
    expect(sent.slice(1)).toEqual([{ type: 'SERVE_DONE', reqId: t.reqId, model: 'm' }]);
    tickets.settle();
    t.cancel();
    expect(sent).toHaveLength(2);
  });

  it('admitted but not granted at once: the request leaves the scheduler (CANCEL) and its end sends nothing', () => {
    const { sent, tickets } = registry();
    const t = tickets.open('m');
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm' });
    tickets.settle();
    expect(sent.slice(1)).toEqual([{ type: 'CANCEL', reqId: t.reqId }]);
    // A grant that still came (the CANCEL crossed it) goes straight back, once.
    tickets.actions.grantServe(null, { reqId: t.reqId, model: 'm' });
    expect(sent.slice(2)).toEqual([{ type: 'SERVE_DONE', reqId: t.reqId, model: 'm' }]);
    t.done();
    expect(sent).toHaveLength(3);
  });

  it('refused at admission: the scheduler counted nothing, and the end sends nothing', () => {
    const { sent, tickets } = registry();
    const t = tickets.open('m');
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm', error: { code: 'SHUTTING_DOWN' } });
    tickets.settle();
    t.done();
    expect(sent.map((e) => e.type)).toEqual(['REQUEST']);
  });

  it('waits for the scheduler to take its REQUEST before it settles', () => {
    const { sent, tickets } = registry();
    const t = tickets.open('m');
    tickets.settle(); // delivered, not taken yet (e.g. queued in the actor system's mailbox)
    expect(sent).toHaveLength(1);
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm' });
    tickets.actions.grantServe(null, { reqId: t.reqId, model: 'm' });
    tickets.settle();
    t.done();
    expect(sent.map((e) => e.type)).toEqual(['REQUEST', 'SERVE_DONE']);
  });

  it('without the scheduler saying so, a ticket waits for its grant as before', async () => {
    const { tickets, settled } = registry(false);
    const t = tickets.open('m');
    expect(await settled(t)).toBe(false);
    tickets.actions.admit(null, { reqId: t.reqId, model: 'm' });
    tickets.actions.grantServe(null, { reqId: t.reqId, model: 'm' });
    expect(await t.grant).toEqual({ ok: true, model: 'm', upstream });
  });
});

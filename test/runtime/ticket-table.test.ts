/**
 * The open tickets' table (src/runtime/ticket-table.ts): exact at any number of open tickets,
 * including ids whose slots collide (more than SLOTS open at once) and ids that are not
 * numbered, checked against a Map; and the registry on top of it with a burst larger than the
 * table.
 */
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../machines/scheduler.machine.ts';
import { SLOTS, TicketTable } from '../../src/runtime/ticket-table.ts';
import { Tickets } from '../../src/runtime/tickets.ts';
import type { Upstream } from '../../src/runtime/upstreams.ts';
import { mulberry32 } from '../helpers/seeded-random.ts';

interface Item {
  reqId: string;
}

describe('TicketTable', () => {
  it('finds, replaces in its slot and forgets entries whose slots collide', () => {
    const t = new TicketTable<Item>();
    const a = { reqId: 'req-5' };
    const b = { reqId: `req-${5 + SLOTS}` };
    const c = { reqId: `req-${5 + 2 * SLOTS}` };
    t.set(a);
    t.set(b);
    t.set(c);
    expect([t.get(a.reqId), t.get(b.reqId), t.get(c.reqId)]).toEqual([a, b, c]);
    expect(t.size).toBe(3);
    t.delete(a.reqId);
    t.delete(a.reqId); // gone already: not counted twice
    expect(t.size).toBe(2);
    expect([t.get(a.reqId), t.get(b.reqId), t.get(c.reqId)]).toEqual([undefined, b, c]);
    // The freed slot takes the next id that maps to it; the overflowed ones are still found.
    const d = { reqId: `req-${5 + 3 * SLOTS}` };
    t.set(d);
    expect([t.get(b.reqId), t.get(c.reqId), t.get(d.reqId)]).toEqual([b, c, d]);
    t.delete(c.reqId);
    expect([t.get(b.reqId), t.get(c.reqId), t.get(d.reqId)]).toEqual([b, undefined, d]);
    expect(t.get('req-999999')).toBeUndefined();
    t.delete('req-999999');
    t.delete(c.reqId);
    expect(t.size).toBe(2);
  });

  it('takes ids without a number (they share slot 0) and very long numbers', () => {
    const t = new TicketTable<Item>();
    const items = ['r', 'x', 'req-', '', 'req-99999999999999999999999', 'req-0'].map((reqId) => ({ reqId }));
    for (const i of items) t.set(i);
    for (const i of items) expect(t.get(i.reqId)).toBe(i);
    for (const i of items.slice(0, 3)) t.delete(i.reqId);
    expect(items.map((i) => t.get(i.reqId) !== undefined)).toEqual([false, false, false, true, true, true]);
  });

  it('agrees with a Map over a random run of opens and closes, several times the table in flight', () => {
    const rnd = mulberry32(16);
    const t = new TicketTable<Item>();
    const ref = new Map<string, Item>();
    const open: string[] = [];
    let next = 1;
    for (let step = 0; step < 40_000; step++) {
      // Mostly opens while few are open, mostly closes while many are: up to ~3 tables' worth.
      if (rnd() < (ref.size < 3 * SLOTS ? 0.55 : 0.3)) {
        const item = { reqId: `req-${next++}` };
        t.set(item);
        ref.set(item.reqId, item);
        open.push(item.reqId);
      } else if (open.length > 0) {
        const at = Math.floor(rnd() * open.length);
        const k = open[at]!;
        open[at] = open[open.length - 1]!;
        open.pop();
        t.delete(k);
        ref.delete(k);
      }
      expect(t.size).toBe(ref.size);
      if (step % 4999 === 0) {
        for (let id = 1; id < next; id++) expect(t.get(`req-${id}`)).toBe(ref.get(`req-${id}`));
      }
    }
    const drained = t.drain();
    expect(drained.map((i) => i.reqId).sort()).toEqual([...ref.keys()].sort());
    expect(t.size).toBe(0);
    expect(t.drain()).toEqual([]);
    for (const k of ref.keys()) expect(t.get(k)).toBeUndefined();
  });
});

describe('Tickets on the table: a burst larger than it', () => {
  const upstream = { base: 'http://127.0.0.1:1' } as unknown as Upstream;
  const turn = () => new Promise<void>((r) => setImmediate(r));

  it('every caller gets its own grant and every grant goes back exactly once, granted and finished in any order', async () => {
    const sent: SchedulerEvent[] = [];
    const tickets = new Tickets((e) => sent.push(e), () => upstream);
    const n = SLOTS * 2 + 77;
    const all = Array.from({ length: n }, () => tickets.open('m'));
    expect([tickets.opened, tickets.openCount]).toEqual([n, n]);
    const rnd = mulberry32(7);
    const shuffled = [...all].sort(() => rnd() - 0.5);
    for (const t of shuffled) {
      tickets.actions.admit(undefined, { reqId: t.reqId, model: 'm' });
      tickets.actions.grantServe(undefined, { reqId: t.reqId, model: 'm' });
    }
    const grants = await Promise.all(all.map((t) => t.grant));
    expect(grants.every((g) => g.ok)).toBe(true);
    for (const t of [...all].sort(() => rnd() - 0.5)) t.done();
    for (const t of all) t.done(); // repeated: nothing more
    expect([tickets.opened, tickets.openCount]).toEqual([n, 0]);
    await turn();
    const done = sent.filter((e) => e.type === 'SERVE_DONE').map((e) => ('reqId' in e ? e.reqId : ''));
    expect(done.sort()).toEqual(all.map((t) => t.reqId).sort());
  });

  it('closing answers every open ticket, in and beyond the table', async () => {
    const tickets = new Tickets(() => {}, () => upstream);
    const all = Array.from({ length: SLOTS + 10 }, () => tickets.open('m'));
    tickets.close({ code: 'SWAP_FAILED', message: 'shutting down' });
    const grants = await Promise.all(all.map((t) => t.grant));
    expect(grants.every((g) => !g.ok)).toBe(true);
  });
});

/**
 * "Why is it waiting": the reason the scheduler gives for each request it holds.
 */
import { describe, expect, it } from 'vitest';
import { explainWaits } from '../../src/core/waiting-reasons.ts';
import { FifoHarness, stubSwapper } from '../helpers/fifo-harness.ts';

describe('explainWaits', () => {
  it('a waiter of a running swap: the model is loading', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict: { b: ['a'] } });
    const r = h.request('b');
    expect(explainWaits(h.s, stubSwapper({ b: ['a'] }))).toEqual([
      { reqId: r, model: 'b', position: null, reason: { kind: 'loading', model: 'b', swapId: 'swap:b#1' }, text: 'model b is loading (evicting a)' },
    ]);
  });

  it('a waiter of a swap that wakes its model (sleep mode): the model is waking', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict: { b: ['a'] } });
    const r = h.request('b');
    expect(explainWaits(h.s, stubSwapper({ b: ['a'] }), new Set(['b']))).toEqual([
      { reqId: r, model: 'b', position: null, reason: { kind: 'loading', model: 'b', swapId: 'swap:b#1', waking: true }, text: 'model b is waking (evicting a)' },
    ]);
  });

  it('queued behind a busy model: would evict it, with its in-flight count; then, once it drains, loading', () => {
    const evict = { b: ['a'] };
    const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict });
    h.request('a');
    h.request('a');
    h.request('a');
    const rb = h.request('b');
    expect(explainWaits(h.s, stubSwapper(evict))).toEqual([
      {
        reqId: rb,
        model: 'b',
        position: 1,
        reason: { kind: 'evicts-busy', model: 'a', inFlight: 3 },
        text: 'would evict model a, which is serving 3 requests, position 1',
      },
    ]);
    h.serveDone('a');
    h.serveDone('a');
    expect(explainWaits(h.s, stubSwapper(evict))[0]?.text).toBe('would evict model a, which is serving 1 request, position 1');
    h.serveDone('a');
    expect(explainWaits(h.s, stubSwapper(evict))[0]).toMatchObject({ reqId: rb, position: null, reason: { kind: 'loading', model: 'b' } });
  });

  it('queued behind a colliding swap names that swap', () => {
    const evict = { a: ['c'], b: ['c'] };
    const h = new FifoHarness({ a: 'stopped', b: 'stopped', c: 'ready' }, { evict });
    h.request('a');
    const rb = h.request('b');
    const waits = explainWaits(h.s, stubSwapper(evict));
    expect(waits.find((w) => w.reqId === rb)).toEqual({
      reqId: rb,
      model: 'b',
      position: 1,
      reason: { kind: 'collides', swapId: 'swap:a#1', target: 'a', evicting: ['c'] },
      text: 'collides with the swap to a, position 1',
    });
  });
});

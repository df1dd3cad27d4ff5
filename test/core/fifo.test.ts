/**
 * A port of llama-swap's internal/router/scheduler/fifo_test.go against the pure core.
 * Scenario names are kept one-to-one (TestFIFO_<Name>); where Go asserts on fakeEffects we
 * assert on the effects the core returned.
 */
import { describe, expect, it } from 'vitest';
import { onSwapDone } from '../../src/core/fifo.ts';
import { FifoHarness, stubSwapper } from '../helpers/fifo-harness.ts';

describe('fifo_test.go port', () => {
  it('FastPath: a ready model is served without a swap', () => {
    const h = new FifoHarness({ a: 'ready' });
    h.request('a');
    expect(h.startsFor('a')).toBe(0);
    expect(h.served('a')).toBe(1);
  });

  it('ModelNotFound: an unknown model is refused at admission, nothing starts', () => {
    const h = new FifoHarness({});
    const r = h.request('ghost');
    expect(h.of('startSwap')).toHaveLength(0);
    expect(h.admission(r).error?.code).toBe('MODEL_NOT_FOUND');
    // The core gives the code and the facts; the words are the HTTP catalogue's (errors.test.ts).
    expect(h.admission(r)).toMatchObject({ model: 'ghost', error: { code: 'MODEL_NOT_FOUND' } });
  });

  it('OnDemandStartThenServe: a stopped model is swapped in, then served', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    expect(h.startsFor('a')).toBe(1);
    expect(h.served('a')).toBe(0);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.served('a')).toBe(1);
  });

  it('JoinInFlightSwap: three requests share one swap', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    h.request('a');
    h.request('a');
    expect(h.startsFor('a')).toBe(1);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.served('a')).toBe(3);
  });

  it('SwapDoneError_FailsAllWaiters', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    h.request('a');
    h.swapDone('a', 'boom');
    expect(h.served('a')).toBe(0);
    expect(h.errored('a')).toBe(2);
    expect(h.of('grantError').every((e) => e.error.code === 'SWAP_FAILED' && e.error.message === 'boom')).toBe(true);
    expect(h.s.reserved).toEqual({});
  });

  it('QueueOnEvictionCollision: b waits for a swap and for a to drain', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    h.request('b');
    expect(h.startsFor('b')).toBe(0);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.startsFor('b')).toBe(0);
    h.serveDone('a');
    expect(h.startsFor('b')).toBe(1);
    expect(h.of('startSwap').at(-1)?.evict).toEqual(['a']);
  });

  it('DisjointSwapsRunInParallel', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' });
    h.request('a');
    h.request('b');
    expect(h.startsFor('a')).toBe(1);
    expect(h.startsFor('b')).toBe(1);
  });

  it('OverlappingEvictSetsDoNotRunInParallel', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped', x: 'ready' }, { evict: { a: ['x'], b: ['x'] } });
    h.request('a');
    h.request('b');
    expect(h.startsFor('a')).toBe(1);
    expect(h.startsFor('b')).toBe(0);
    h.setState('a', 'ready');
    h.setState('x', 'stopped');
    h.swapDone('a');
    expect(h.startsFor('b')).toBe(1);
  });

  it('QueueDrainPromotesMultiple', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped', c: 'stopped' }, { evict: { a: ['b', 'c'] } });
    h.request('a');
    h.request('b');
    h.request('c');
    expect(h.startsFor('b') + h.startsFor('c')).toBe(0);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.startsFor('b')).toBe(1);
    expect(h.startsFor('c')).toBe(1);
    expect(h.served('a')).toBe(1);
  });

  it('QueueCollation: A B C A B C gives one swap per model, two serves each', () => {
    const h = new FifoHarness(
      { a: 'stopped', b: 'stopped', c: 'stopped' },
      { evict: { a: ['b', 'c'], b: ['a', 'c'], c: ['a', 'b'] } },
    );
    for (const m of ['a', 'b', 'c', 'a', 'b', 'c']) h.request(m);
    const drain = (m: string, waiters: number) => {
      h.setState(m, 'ready');
      h.swapDone(m);
      for (let i = 0; i < waiters; i++) h.serveDone(m);
    };
    drain('a', 2);
    drain('b', 2);
    drain('c', 2);
    for (const m of ['a', 'b', 'c']) {
      expect(h.startsFor(m)).toBe(1);
      expect(h.served(m)).toBe(2);
    }
  });

  it('NoSwapWhileServing: b waits until every request of a has drained', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    h.request('a');
    h.request('b');
    expect(h.startsFor('b')).toBe(0);
    h.serveDone('a');
    expect(h.startsFor('b')).toBe(0);
    h.serveDone('a');
    expect(h.startsFor('b')).toBe(1);
  });

  it('GrantServeFalseDoesNotLeakInFlight: a grant whose client left still returns its slot', () => {
    // Go's GrantServe returns false when the caller is gone. Here every grant counts, and the
    // ticket registry answers a grant to a departed client with SERVE_DONE at once; the
    // count must come back to zero so a later eviction is not blocked forever.
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    h.setState('a', 'ready');
    h.swapDone('a');
    h.serveDone('a'); // the registry's answer for the departed client
    h.request('b');
    expect(h.startsFor('b')).toBe(1);
    expect(h.s.inFlight).toEqual({});
  });

  it('OnShutdown_FailsAllWaiters', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped', c: 'stopped' }, { evict: { c: ['a', 'b'] } });
    h.request('a');
    h.request('a');
    h.request('b');
    h.request('b');
    h.request('c');
    h.shutdown();
    expect(h.errored()).toBe(5);
    expect(h.of('grantError').every((e) => e.error.code === 'SHUTTING_DOWN')).toBe(true);
    const late = h.request('a');
    expect(h.admission(late).error?.code).toBe('SHUTTING_DOWN');
    expect(h.s.reserved).toEqual({});
  });

  it('OnUnload_ReleasesActiveWaiters', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    h.request('a');
    h.setState('a', 'starting');
    const effects = h.unload(['a']);
    expect(h.errored('a')).toBe(2);
    expect(h.of('grantError').every((e) => e.error.code === 'MODEL_UNLOADED')).toBe(true);
    const stop = effects.find((e) => e.type === 'startSwap' && e.target === null);
    expect(stop).toMatchObject({ evict: ['a'] });
  });

  it('OnUnload_DropsQueuedRequests', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    h.request('b');
    h.unload(['b']);
    expect(h.errored('b')).toBe(1);
    expect(h.startsFor('b')).toBe(0);
    expect(h.served('a')).toBe(0);
    expect(h.errored('a')).toBe(0);
  });

  it('PriorityQueueOrder: higher priority first, arrival order within a priority', () => {
    const h = new FifoHarness(
      { z: 'stopped', A: 'stopped', B: 'stopped', C: 'stopped', D: 'stopped' },
      { evict: { z: ['A', 'B', 'C', 'D'] }, priority: { A: 10, B: 5, C: 5, D: 1 } },
    );
    h.request('z');
    for (const m of ['B', 'D', 'C', 'A']) h.request(m);
    expect(h.queuedModels()).toEqual(['A', 'B', 'C', 'D']);
    const last = h.of('queuePositions').at(-1);
    expect(last?.positions.map((p) => p.position)).toEqual([1, 2, 3, 4]);
  });

  it('OnCancel_QueuedRequest: a cancelled queued request never starts a load', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    const rb = h.request('b');
    expect(h.s.queue).toHaveLength(1);
    h.cancel(rb);
    expect(h.s.queue).toHaveLength(0);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.startsFor('b')).toBe(0);
  });

  it('OnCancel_SwapWaiter: only the remaining waiter is granted', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    const gone = h.request('a');
    expect(h.waitersOf('a')).toBe(2);
    h.cancel(gone);
    expect(h.waitersOf('a')).toBe(1);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.served('a')).toBe(1);
    expect(h.of('grantServe').some((g) => g.reqId === gone)).toBe(false);
  });

  it('OnCancel_NotPresent: cancelling a granted request changes nothing', () => {
    const h = new FifoHarness({ a: 'ready' });
    const r = h.request('a');
    const before = h.s;
    h.cancel(r);
    expect(h.served('a')).toBe(1);
    expect(h.s.queue).toHaveLength(0);
    expect(h.s.reserved).toEqual(before.reserved);
  });

  describe('concurrency limit (reference 4.8)', () => {
    it('ConcurrencyLimit_RejectsOverLimit, then admits once a slot is back', () => {
      const h = new FifoHarness({ a: 'ready' }, { limit: { a: 1 } });
      const r1 = h.request('a');
      expect(h.admission(r1).error).toBeUndefined();
      expect(h.served('a')).toBe(1);
      const r2 = h.request('a');
      expect(h.admission(r2).error).toEqual({ code: 'CONCURRENCY_LIMIT' });
      expect(h.errored('a')).toBe(0);
      h.serveDone('a');
      const r3 = h.request('a');
      expect(h.admission(r3).error).toBeUndefined();
      expect(h.served('a')).toBe(2);
    });

    it('ConcurrencyLimit_DefaultIsTen', () => {
      const h = new FifoHarness({ a: 'ready' });
      const ids = Array.from({ length: 10 }, () => h.request('a'));
      expect(ids.every((r) => h.admission(r).error === undefined)).toBe(true);
      const over = h.request('a');
      expect(h.admission(over).error?.code).toBe('CONCURRENCY_LIMIT');
    });

    it('ConcurrencyLimit_CustomLimit', () => {
      const h = new FifoHarness({ a: 'ready' }, { limit: { a: 2 } });
      const [r1, r2, r3] = [h.request('a'), h.request('a'), h.request('a')];
      expect(h.admission(r1).error).toBeUndefined();
      expect(h.admission(r2).error).toBeUndefined();
      expect(h.admission(r3).error?.code).toBe('CONCURRENCY_LIMIT');
      expect(h.served('a')).toBe(2);
    });

    it('ConcurrencyLimit_SwapWaiters: excess waiters are refused before joining', () => {
      const h = new FifoHarness({ a: 'stopped' }, { limit: { a: 2 } });
      const [, , r3] = [h.request('a'), h.request('a'), h.request('a')];
      expect(h.admission(r3).error?.code).toBe('CONCURRENCY_LIMIT');
      expect(h.startsFor('a')).toBe(1);
      expect(h.waitersOf('a')).toBe(2);
      h.setState('a', 'ready');
      h.swapDone('a');
      expect(h.served('a')).toBe(2);
      expect(h.errored('a')).toBe(0);
    });

    it('ConcurrencyLimit_QueuedWaitersReserveCapacity (llama-swap #887)', () => {
      const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { a: ['b'] }, limit: { a: 2 } });
      h.request('b');
      const a1 = h.request('a');
      const a2 = h.request('a');
      const a3 = h.request('a');
      expect(h.admission(a1).error).toBeUndefined();
      expect(h.admission(a2).error).toBeUndefined();
      expect(h.admission(a3).error?.code).toBe('CONCURRENCY_LIMIT');
      expect(h.s.queue).toHaveLength(2);
      expect(h.startsFor('a')).toBe(0);
      h.setState('b', 'ready');
      h.swapDone('b');
      h.serveDone('b');
      expect(h.startsFor('a')).toBe(1);
      h.setState('a', 'ready');
      h.swapDone('a');
      expect(h.served('a')).toBe(2);
    });

    it('ConcurrencyLimit_CancelledQueuedWaiterReleasesReservation', () => {
      const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { a: ['b'] }, limit: { a: 1 } });
      h.request('b');
      const cancelled = h.request('a');
      const rejected = h.request('a');
      expect(h.admission(cancelled).error).toBeUndefined();
      expect(h.admission(rejected).error?.code).toBe('CONCURRENCY_LIMIT');
      h.cancel(cancelled);
      const retry = h.request('a');
      expect(h.admission(retry).error).toBeUndefined();
      expect(h.s.queue).toHaveLength(1);
    });
  });
});

describe('beyond the Go tests', () => {
  it('an unload keeps its cancelled target swap blocking until that swap reports done', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    h.setState('a', 'starting');
    h.unload(['a']);
    // A new request for a must not join the dying swap, nor start one beside it.
    const again = h.request('a');
    expect(h.admission(again).error).toBeUndefined();
    expect(h.startsFor('a')).toBe(1);
    expect(h.queuedModels()).toEqual(['a']);
    h.setState('a', 'stopped');
    h.swapDone('a', 'aborted'); // the old swap: its waiters were already answered
    expect(h.errored('a')).toBe(1);
    expect(h.queuedModels()).toEqual(['a']); // still collides with the unload
    h.swapDone(null);
    expect(h.of('unloaded')).toEqual([{ type: 'unloaded', swapId: expect.any(String), ticket: null, targets: ['a'] }]);
    expect(h.startsFor('a')).toBe(2);
  });

  it('a done event for an unknown or stale swap id is ignored', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.request('a');
    const step = onSwapDone(h.s, { swapId: 'swap:a#999' }, stubSwapper());
    expect(step.effects).toEqual([]);
    expect(step.state).toEqual(h.s);
  });

  it('unload without targets stops every resident model and running swap target', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped', c: 'stopped' });
    h.request('b');
    const effects = h.unload();
    expect(effects.find((e) => e.type === 'startSwap' && e.target === null)).toMatchObject({ evict: ['a', 'b'] });
    expect(h.errored('b')).toBe(1);
  });

  it('unload with nothing to stop still finishes', () => {
    const h = new FifoHarness({ a: 'stopped' });
    h.unload([]);
    h.swapDone(null);
    expect(h.of('unloaded')).toHaveLength(1);
  });

  it('queue positions are reported 1-based and updated when the queue shrinks', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped', c: 'stopped' }, { evict: { b: ['a'], c: ['a'] } });
    h.request('a');
    const rb = h.request('b');
    const rc = h.request('c');
    expect(h.of('queuePositions').at(-1)?.positions).toEqual([
      { reqId: rb, position: 1 },
      { reqId: rc, position: 2 },
    ]);
    h.cancel(rb);
    expect(h.of('queuePositions').at(-1)?.positions).toEqual([{ reqId: rc, position: 1 }]);
  });

  describe('crash-loop backoff (swapstate)', () => {
    it('a model backing off is refused at admission with the wait and the last error; nothing is evicted', () => {
      const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict: { b: ['a'] } });
      h.setBackoff('b', 'upstream command exited prematurely', 4_000);
      const r = h.request('b');
      expect(h.admission(r).error).toEqual({
        code: 'BACKING_OFF',
        model: 'b',
        message: 'upstream command exited prematurely',
        retryAfterMs: 4_000,
      });
      expect(h.of('startSwap')).toHaveLength(0);
      expect(h.s.reserved).toEqual({});
    });

    it('a queued request for a model that went into backoff fails when the queue drains', () => {
      const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
      h.request('a');
      const rb = h.request('b');
      h.setBackoff('b', 'boom', 1_000);
      h.setState('a', 'ready');
      h.swapDone('a');
      expect(h.of('grantError').find((e) => e.reqId === rb)?.error.code).toBe('BACKING_OFF');
      expect(h.startsFor('b')).toBe(0);
    });

    it("a swap refused by the process's backoff answers its waiters with BACKING_OFF", () => {
      const h = new FifoHarness({ a: 'stopped' });
      h.request('a');
      h.swapDone('a', 'boom', 2_000);
      expect(h.of('grantError')[0]?.error).toMatchObject({ code: 'BACKING_OFF', retryAfterMs: 2_000 });
    });
  });

  describe('abandoned loads (swapstate, llama-swap #727)', () => {
    it('when the last waiter of a start leaves, the start is aborted after the grace unless someone came back', () => {
      const h = new FifoHarness({ a: 'stopped', b: 'stopped' }, { evict: { b: ['a'] } });
      const ra = h.request('a');
      const rb = h.request('b'); // queued behind a's start
      h.cancel(ra);
      const abandoned = h.of('swapAbandoned');
      expect(abandoned).toEqual([{ type: 'swapAbandoned', swapId: 'swap:a#1', seq: 1 }]);
      h.abandonCheck('a');
      expect(h.of('abortSwap')).toEqual([
        { type: 'abortSwap', swapId: 'swap:a#1', target: 'a', reason: 'load of a abandoned: every client waiting for it has gone' },
      ]);
      // The aborted swap still blocks b until it has really ended...
      expect(h.startsFor('b')).toBe(0);
      h.swapDone('a', 'aborted');
      // ...then b goes ahead.
      expect(h.startsFor('b')).toBe(1);
      expect(h.of('grantError').some((e) => e.reqId === rb)).toBe(false);
    });

    it('a waiter that joins during the grace keeps the start; a stale check is ignored', () => {
      const h = new FifoHarness({ a: 'stopped' });
      const r1 = h.request('a');
      h.cancel(r1);
      h.request('a'); // joins the same start
      h.abandonCheck('a', 1);
      expect(h.of('abortSwap')).toEqual([]);
      h.setState('a', 'ready');
      h.swapDone('a');
      expect(h.served('a')).toBe(1);
    });

    it('a swap that still has waiters is never abandoned', () => {
      const h = new FifoHarness({ a: 'stopped' });
      h.request('a');
      const r2 = h.request('a');
      h.cancel(r2);
      expect(h.of('swapAbandoned')).toEqual([]);
    });
  });
});

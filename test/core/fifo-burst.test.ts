/**
 * The core under a burst (issue 16): what a queue of thousands costs must not be O(n) lists
 * per step. The queuePositions effect builds its list only when read and carries the queue;
 * a drain that joins many queued requests to one swap keeps every earlier state untouched.
 */
import { describe, expect, it } from 'vitest';
import { queuePositions, type Req } from '../../src/core/effects.ts';
import { initialFifoState, onRequest, onServeDone, onSwapDone, onProcessChange, type FifoState } from '../../src/core/fifo.ts';
import { groupSwapper, withDefaultGroup } from '../../src/core/group-swapper.ts';

describe('queuePositions effect', () => {
  it('compares, prints and reads as the plain effect; the queue rides along, not enumerable', () => {
    const queue: Req[] = [{ reqId: 'a', model: 'm' }, { reqId: 'b', model: 'm' }];
    const e = queuePositions(queue);
    const plain = { type: 'queuePositions', positions: [{ reqId: 'a', position: 1 }, { reqId: 'b', position: 2 }] };
    expect(e).toEqual(plain);
    expect(JSON.parse(JSON.stringify(e))).toEqual(plain);
    expect(Object.keys(e)).toEqual(['type', 'positions']);
    expect(e.queue).toBe(queue);
    expect(e.positions).toBe(e.positions);
  });
});

describe('a burst over one swap group', () => {
  const models = ['q1', 'q2', 'q3', 'q4'];
  const swapper = groupSwapper(withDefaultGroup({ four: { swap: true, exclusive: true, members: models } } as never, models));

  it('queues in arrival order, drains joins onto one swap, and leaves earlier states as they were', () => {
    let s: FifoState = initialFifoState(Object.fromEntries(models.map((m) => [m, { concurrencyLimit: 1000 }])));
    const states: Array<{ s: FifoState; queue: string[]; waiters: number[] }> = [];
    const keep = () => states.push({ s, queue: s.queue.map((r) => r.reqId), waiters: s.active.map((a) => a.waiters.length) });
    for (let i = 0; i < 400; i++) {
      s = onRequest(s, { reqId: `r${i}`, model: models[i % 4]! }, swapper).state;
      keep();
    }
    // q1's swap runs; the rest queue, in arrival order.
    expect(s.active.map((a) => [a.target, a.waiters.length])).toEqual([['q1', 100]]);
    expect(s.queue.map((r) => r.reqId)).toEqual(Array.from({ length: 400 }, (_, i) => `r${i}`).filter((_, i) => i % 4 !== 0));
    s = onProcessChange(s, 'q1', { resident: true, serving: true, halted: false });
    let step = onSwapDone(s, { swapId: s.active[0]!.swapId }, swapper);
    expect(step.effects.filter((e) => e.type === 'grantServe')).toHaveLength(100);
    s = step.state;
    keep();
    for (let i = 0; i < 100; i++) {
      step = onServeDone(s, 'q1', swapper);
      s = step.state;
      keep();
    }
    // The last completion drained the queue: q2's requests all joined one swap.
    expect(s.active.map((a) => [a.target, a.waiters.length])).toEqual([['q2', 100]]);
    expect(s.queue).toHaveLength(200);
    const positions = step.effects.find((e) => e.type === 'queuePositions');
    expect(positions?.type === 'queuePositions' && positions.positions.map((p) => p.reqId)).toEqual(s.queue.map((r) => r.reqId));
    for (const k of states) {
      expect(k.s.queue.map((r) => r.reqId)).toEqual(k.queue);
      expect(k.s.active.map((a) => a.waiters.length)).toEqual(k.waiters);
    }
  });

  it('a higher priority still goes before lower ones, and FIFO within one', () => {
    let s = initialFifoState({ q1: {}, q2: { priority: 0 }, q3: { priority: 5 } });
    const sw = groupSwapper(withDefaultGroup({ g: { swap: true, exclusive: true, members: ['q1', 'q2', 'q3'] } } as never, ['q1', 'q2', 'q3']));
    for (const [id, m] of [['a', 'q1'], ['b', 'q2'], ['c', 'q2'], ['d', 'q3'], ['e', 'q3'], ['f', 'q2']] as const) {
      s = onRequest(s, { reqId: id, model: m }, sw).state;
    }
    expect(s.queue.map((r) => r.reqId)).toEqual(['d', 'e', 'b', 'c', 'f']);
  });
});

/**
 * Reload that keeps unchanged models running: the pure plan (which models are kept, updated,
 * replaced, removed, added), which running models the new groups forbid together, and the
 * FIFO core applying a reload (onReconfigure): retiring models stop once idle, requests for a
 * replaced one wait for its successor, requests for a removed one are refused.
 */
import { describe, expect, it } from 'vitest';
import type { RetireKind } from '../../src/core/effects.ts';
import { onReconfigure, onSwapDone } from '../../src/core/fifo.ts';
import { groupSwapper, withDefaultGroup, type Groups } from '../../src/core/group-swapper.ts';
import { evictForRules, planReload, type ReloadModel, type ReloadProcess } from '../../src/core/reload-plan.ts';
import { FifoHarness, stubSwapper } from '../helpers/fifo-harness.ts';

const proc = (over: Partial<ReloadProcess> = {}): ReloadProcess => ({
  cmd: 'server --port 5800',
  cmdStop: undefined,
  env: { A: '1', B: '2' },
  proxy: 'http://127.0.0.1:5800',
  checkEndpoint: '/health',
  sleepMode: undefined,
  ttlMs: 0,
  unloadGraceMs: 10_000,
  healthCheckTimeoutMs: 120_000,
  healthCheckIntervalMs: 50,
  ...over,
});
const model = (p: Partial<ReloadProcess> = {}, policy: Omit<ReloadModel, 'process'> = {}): ReloadModel => ({ process: proc(p), ...policy });

describe('planReload', () => {
  const cases: Array<[string, ReloadModel, 'keep' | 'update' | 'replace']> = [
    ['nothing changed', model(), 'keep'],
    ['env in another order', model({ env: { B: '2', A: '1' } }), 'keep'],
    ['ttl', model({ ttlMs: 60_000 }), 'update'],
    ['unloadTimeout', model({ unloadGraceMs: 1_000 }), 'update'],
    ['healthCheckTimeout', model({ healthCheckTimeoutMs: 15_000 }), 'update'],
    ['healthCheckInterval', model({ healthCheckIntervalMs: 100 }), 'update'],
    ['concurrencyLimit', model({}, { concurrencyLimit: 2 }), 'update'],
    ['priority', model({}, { priority: 5 }), 'update'],
    ['cmd', model({ cmd: 'server --port 5800 -c 4096' }), 'replace'],
    ['a shifted ${PORT} (cmd and proxy)', model({ cmd: 'server --port 5801', proxy: 'http://127.0.0.1:5801' }), 'replace'],
    ['proxy', model({ proxy: 'http://127.0.0.1:5900' }), 'replace'],
    ['env value', model({ env: { A: '1', B: '3' } }), 'replace'],
    ['env added', model({ env: { A: '1', B: '2', C: '' } }), 'replace'],
    ['checkEndpoint', model({ checkEndpoint: 'none' }), 'replace'],
    ['cmdStop', model({ cmdStop: 'kill ${PID}' }), 'replace'],
    ['sleep mode', model({ sleepMode: { sleep: [], wake: [] } }), 'replace'],
  ];
  it.each(cases)('%s -> %s', (_, after, expected) => {
    const plan = planReload({ m: model() }, { m: after });
    expect(plan[expected]).toEqual(['m']);
    expect([...plan.keep, ...plan.update, ...plan.replace, ...plan.remove, ...plan.add]).toEqual(['m']);
  });

  it('removed and added models, every list sorted', () => {
    const plan = planReload({ z: model(), b: model(), a: model() }, { c: model(), a: model(), y: model({ cmd: 'x' }) });
    expect(plan).toEqual({ keep: ['a'], update: [], replace: [], remove: ['b', 'z'], add: ['c', 'y'] });
  });
});

describe('evictForRules', () => {
  const g = (groups: Groups, ids: string[]) => groupSwapper(withDefaultGroup(groups, ids));
  const group = (members: string[], over: Partial<Groups[string]> = {}) => ({ swap: true, exclusive: true, persistent: false, members, ...over });

  it('two models of one swapping group: the preferred (busy) one stays', () => {
    const swapper = g({ gpu: group(['a', 'b']) }, ['a', 'b']);
    expect(evictForRules(swapper, ['a', 'b'], ['b', 'a'])).toEqual(['a']);
    expect(evictForRules(swapper, ['a', 'b'], ['a', 'b'])).toEqual(['b']);
  });

  it('models allowed together stay together', () => {
    const swapper = g({ both: group(['a', 'b'], { swap: false }) }, ['a', 'b']);
    expect(evictForRules(swapper, ['a', 'b'])).toEqual([]);
  });

  it('a set that some load order allows stays (a non-exclusive group loads beside an exclusive one)', () => {
    const swapper = g({ loose: group(['a'], { exclusive: false }), strict: group(['b']) }, ['a', 'b']);
    // Loading b second would evict a; loading a second evicts nothing: they may run together.
    expect(evictForRules(swapper, ['a', 'b'], ['a', 'b'])).toEqual([]);
  });

  it('a persistent group is never in the way', () => {
    const swapper = g({ keep: group(['p'], { persistent: true, exclusive: false, swap: false }), x: group(['a']), y: group(['b']) }, ['p', 'a', 'b']);
    expect(evictForRules(swapper, ['a', 'b', 'p'], ['a', 'b', 'p'])).toEqual(['b']);
  });

  it('nothing running, nothing to stop', () => {
    expect(evictForRules(stubSwapper({ a: ['b'] }), [])).toEqual([]);
  });
});

/** A reload applied to the harness's core state, its effects recorded like any step's. */
function reconfigure(h: FifoHarness, models: string[], retire: Record<string, RetireKind>, evict: Record<string, string[]> = {}) {
  const step = onReconfigure(h.s, { models: Object.fromEntries(models.map((m) => [m, {}])), retire }, stubSwapper(evict));
  h.s = step.state;
  h.effects.push(...step.effects);
  return step.effects;
}

/** The done event of the unload swap stopping `model` for a reload. */
function retirementDone(h: FifoHarness, model: string) {
  const sw = h.s.active.find((a) => a.target === null && a.evict.includes(model));
  if (!sw) throw new Error(`no unload of ${model}`);
  const step = onSwapDone(h.s, { swapId: sw.swapId }, stubSwapper());
  h.s = step.state;
  h.effects.push(...step.effects);
}

describe('onReconfigure', () => {
  it('a replaced model serves its request in flight, then is stopped; a request meanwhile waits for the new process', () => {
    const h = new FifoHarness({ a: 'ready' });
    h.request('a');
    expect(h.served('a')).toBe(1);
    expect(reconfigure(h, ['a'], { a: 'replace' })).toEqual([]);
    // New requests no longer take the fast path to the old process.
    h.request('a');
    expect(h.served('a')).toBe(1);
    expect(h.queuedModels()).toEqual(['a']);
    h.serveDone('a');
    const unload = h.of('startSwap').at(-1)!;
    expect(unload).toMatchObject({ target: null, evict: ['a'], retire: true });
    h.setState('a', 'stopped');
    retirementDone(h, 'a');
    // The process is replaced first, then the queued request starts the new one.
    const after = h.effects.slice(h.effects.findIndex((e) => e.type === 'retired'));
    expect(after[0]).toEqual({ type: 'retired', model: 'a', kind: 'replace' });
    expect(after.find((e) => e.type === 'startSwap')).toMatchObject({ target: 'a', evict: [] });
    expect(h.s.retiring).toEqual({});
  });

  it('a replaced model still loading: its waiters go back to the queue, the old start is aborted, and the new process serves them', () => {
    const h = new FifoHarness({ a: 'stopped', b: 'stopped' });
    const r1 = h.request('a');
    const r2 = h.request('a');
    const swapId = h.of('startSwap')[0]!.swapId;
    expect(h.waitersOf('a')).toBe(2);
    const effects = reconfigure(h, ['a', 'b'], { a: 'replace' });
    expect(effects.filter((e) => e.type === 'abortSwap')).toEqual([
      { type: 'abortSwap', swapId, target: 'a', reason: 'a was replaced by a reload while it loaded' },
    ]);
    expect(h.s.queue.map((r) => r.reqId)).toEqual([r1, r2]);
    // A later request queues behind them.
    const r3 = h.request('a');
    expect(h.s.queue.map((r) => r.reqId)).toEqual([r1, r2, r3]);
    // The aborted start ends (as an aborted swap reports), its process is stopped: retired, and
    // the queue starts the new process, the first waiters first.
    h.setState('a', 'stopped');
    h.swapDone('a', 'start aborted');
    expect(h.errored()).toBe(0);
    expect(h.of('retired')).toEqual([{ type: 'retired', model: 'a', kind: 'replace' }]);
    expect(h.startsFor('a')).toBe(2);
    expect(h.s.active.find((sw) => sw.target === 'a')?.waiters.map((w) => w.reqId)).toEqual([r1, r2, r3]);
    h.setState('a', 'ready');
    h.swapDone('a');
    expect(h.served('a')).toBe(3);
  });

  it("a replaced model's waiters go back ahead of the requests queued after them", () => {
    const h = new FifoHarness({ a: 'stopped', b: 'ready', c: 'stopped' }, { evict: { c: ['a'] } });
    const ra = h.request('a');
    const rc = h.request('c'); // collides with a's start: queued
    expect(h.queuedModels()).toEqual(['c']);
    reconfigure(h, ['a', 'b', 'c'], { a: 'replace' }, { c: ['a'] });
    expect(h.s.queue.map((r) => r.reqId)).toEqual([ra, rc]);
  });

  it('a removed model: new requests get MODEL_NOT_FOUND, the one in flight finishes, then it is stopped and forgotten', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped' });
    h.request('a');
    reconfigure(h, ['b'], { a: 'remove' });
    const r = h.request('a');
    expect(h.admission(r).error?.code).toBe('MODEL_NOT_FOUND');
    expect(h.of('startSwap')).toHaveLength(0);
    h.serveDone('a');
    h.setState('a', 'stopped');
    retirementDone(h, 'a');
    expect(h.of('retired')).toEqual([{ type: 'retired', model: 'a', kind: 'remove' }]);
    expect(Object.keys(h.s.procs)).toEqual(['b']);
  });

  it('requests queued for a removed model are refused at the reload', () => {
    const h = new FifoHarness({ a: 'ready', b: 'stopped' }, { evict: { b: ['a'] } });
    h.request('a');
    h.request('b'); // would evict a, which is busy: queued
    expect(h.queuedModels()).toEqual(['b']);
    reconfigure(h, ['a'], { b: 'remove' });
    expect(h.of('grantError').map((e) => [e.model, e.error.code])).toEqual([['b', 'MODEL_NOT_FOUND']]);
  });

  it('a retiring model that is not running is retired at once', () => {
    const h = new FifoHarness({ a: 'stopped' });
    expect(reconfigure(h, ['a'], { a: 'replace' })).toEqual([{ type: 'retired', model: 'a', kind: 'replace' }]);
    h.request('a');
    expect(h.startsFor('a')).toBe(1);
  });

  it('a model the rules forbid is stopped once idle, and its own requests wait for that', () => {
    const h = new FifoHarness({ a: 'ready', b: 'ready' });
    h.request('b');
    reconfigure(h, ['a', 'b'], { b: 'rules' });
    h.request('b');
    expect(h.served('b')).toBe(1);
    h.serveDone('b');
    h.setState('b', 'stopped');
    retirementDone(h, 'b');
    expect(h.of('retired')).toEqual([{ type: 'retired', model: 'b', kind: 'rules' }]);
    // Then the waiting request starts b again, through the (new) rules.
    expect(h.startsFor('b')).toBe(1);
  });

  it('a later reload that restores the model before its stop began leaves it running', () => {
    const h = new FifoHarness({ a: 'ready' });
    h.request('a');
    reconfigure(h, ['a'], { a: 'replace' });
    reconfigure(h, ['a'], {});
    expect(h.s.retiring).toEqual({});
    h.request('a');
    expect(h.served('a')).toBe(2);
  });

  it('shutting down: a retirement that ends replaces nothing', () => {
    const h = new FifoHarness({ a: 'ready' });
    reconfigure(h, ['a'], { a: 'replace' });
    h.shutdown();
    h.setState('a', 'stopped');
    retirementDone(h, 'a');
    expect(h.of('retired')).toEqual([]);
  });
});

/**
 * chooseTarget (src/core/selector-choice.ts, reference 5.6) as a table, with the cases of
 * llama-swap's internal/server/selector_test.go (strategyPin, strategyWarm, strategySpillover)
 * and the rules of its strategySpillover one by one.
 */
import { describe, expect, it } from 'vitest';
import { chooseTarget, type ChoiceInput, type ChoiceTarget, type TargetState } from '../../src/core/selector-choice.ts';

const local = (name: string, key = name): ChoiceTarget => ({ name, key, local: true });
const peer = (fqn: string): ChoiceTarget => ({ name: fqn, key: fqn, local: false });
const ABC = [local('a'), local('b'), local('c')];

interface Row {
  name: string;
  strategy: ChoiceInput['strategy'];
  targets?: ChoiceTarget[];
  spillover?: number;
  states?: Record<string, TargetState>;
  inflight?: Record<string, number>;
  roundRobin?: number;
  /** The chosen target's name, or 'error' for "no available spillover targets". */
  want: string;
  rotated?: boolean;
}

function choose(row: Row) {
  return chooseTarget({
    id: 'pool',
    strategy: row.strategy,
    targets: row.targets ?? ABC,
    spillover: row.spillover ?? 1,
    stateOf: (key) => row.states?.[key] ?? 'stopped',
    inflightOf: (key) => row.inflight?.[key] ?? 0,
    roundRobin: row.roundRobin ?? 0,
  });
}

const rows: Row[] = [
  // pin (Go: TestServer_SelectorStrategyPin)
  { name: 'pin: always the first target', strategy: 'pin', targets: [local('first'), local('second')], want: 'first' },
  { name: 'pin: even when another is ready', strategy: 'pin', states: { b: 'ready' }, want: 'a' },
  { name: 'pin: a peer first target', strategy: 'pin', targets: [peer('remote/m'), local('a')], states: { a: 'ready' }, want: 'remote/m' },

  // warm (Go: TestServer_SelectorStrategyWarm)
  { name: 'warm: the first ready target beats an earlier starting one', strategy: 'warm', states: { a: 'starting', c: 'ready' }, want: 'c' },
  { name: 'warm: the first of two ready targets', strategy: 'warm', states: { a: 'starting', b: 'ready', c: 'ready' }, want: 'b' },
  { name: 'warm: none ready: the first starting one', strategy: 'warm', states: { a: 'starting', b: 'starting' }, want: 'a' },
  { name: 'warm: none ready: a later starting one', strategy: 'warm', states: { c: 'starting' }, want: 'c' },
  { name: 'warm: nothing running: the first (a cold start)', strategy: 'warm', want: 'a' },
  { name: 'warm: stopping counts as not running', strategy: 'warm', states: { b: 'stopping' }, want: 'a' },
  { name: 'warm: aliases of one model share its state', strategy: 'warm', targets: [local('alias-x', 'x'), local('y')], states: { x: 'ready' }, want: 'alias-x' },

  // spillover (Go: TestServer_SelectorStrategySpillover and the rules of strategySpillover)
  { name: 'spillover: nothing active: the first cold target', strategy: 'spillover', spillover: 2, want: 'a' },
  { name: 'spillover: room on the active target (1 < 2)', strategy: 'spillover', spillover: 2, inflight: { a: 1 }, want: 'a', rotated: true },
  { name: 'spillover: the active target is full: the next cold one', strategy: 'spillover', spillover: 2, inflight: { a: 2 }, want: 'b' },
  {
    name: 'spillover: all ready, a and b busy: the least loaded (c)',
    strategy: 'spillover',
    spillover: 2,
    states: { a: 'ready', b: 'ready', c: 'ready' },
    inflight: { a: 1, b: 1 },
    want: 'c',
    rotated: true,
  },
  {
    name: 'spillover: all stopping or gone: error',
    strategy: 'spillover',
    spillover: 2,
    states: { a: 'stopping', b: 'stopping', c: 'unavailable' },
    want: 'error',
  },
  { name: 'spillover: a stopping target is skipped, even when it is first', strategy: 'spillover', states: { a: 'stopping' }, want: 'b' },
  { name: 'spillover: a ready target with no load is active', strategy: 'spillover', states: { b: 'ready' }, want: 'b', rotated: true },
  { name: 'spillover: a starting target with no load is active', strategy: 'spillover', states: { c: 'starting' }, want: 'c', rotated: true },
  {
    name: 'spillover: a stopped target with counted requests is active (its start is under way)',
    strategy: 'spillover',
    spillover: 2,
    inflight: { b: 1 },
    want: 'b',
    rotated: true,
  },
  {
    name: 'spillover: every active target full and no cold one left: the least loaded active',
    strategy: 'spillover',
    states: { a: 'ready', b: 'ready', c: 'ready' },
    inflight: { a: 3, b: 1, c: 2 },
    want: 'b',
    rotated: true,
  },
  {
    name: 'spillover: ties among the least loaded go round-robin (counter 0)',
    strategy: 'spillover',
    states: { a: 'ready', b: 'ready', c: 'ready' },
    inflight: { a: 1, b: 1, c: 1 },
    roundRobin: 0,
    want: 'a',
    rotated: true,
  },
  {
    name: 'spillover: ties among the least loaded go round-robin (counter 4)',
    strategy: 'spillover',
    states: { a: 'ready', b: 'ready', c: 'ready' },
    inflight: { a: 1, b: 1, c: 1 },
    roundRobin: 4,
    want: 'b',
    rotated: true,
  },
  {
    name: 'spillover: full active targets, a cold one after a stopping one',
    strategy: 'spillover',
    states: { a: 'ready', b: 'stopping' },
    inflight: { a: 1 },
    want: 'c',
  },
  { name: 'spillover: a peer with no counted request is cold', strategy: 'spillover', targets: [peer('p/m'), local('a')], want: 'p/m' },
  {
    name: 'spillover: a peer with counted requests is active; full: the next cold target',
    strategy: 'spillover',
    targets: [peer('p/m'), local('a')],
    inflight: { 'p/m': 1 },
    want: 'a',
  },
  {
    name: 'spillover: a ready local target is active before a cold peer',
    strategy: 'spillover',
    targets: [peer('p/m'), local('a')],
    states: { a: 'ready' },
    want: 'a',
    rotated: true,
  },
  {
    name: 'spillover: backing off counts as unavailable',
    strategy: 'spillover',
    targets: [local('a'), local('b')],
    states: { a: 'unavailable', b: 'unavailable' },
    want: 'error',
  },
];

describe('chooseTarget', () => {
  it.each(rows)('$name', (row) => {
    const choice = choose(row);
    if (row.want === 'error') {
      expect(choice).toEqual({ ok: false, error: 'no-spillover-targets' });
      return;
    }
    expect(choice.ok && choice.target.name).toBe(row.want);
    expect(choice.ok && choice.rotated).toBe(row.rotated ?? false);
  });
});

describe('spillover over a sequence of requests (Go: TestServer_SelectorStrategySpillover)', () => {
  it('fills a to 2, spills to b, and after a release goes to the least loaded of three ready targets', () => {
    const inflight = new Map<string, number>();
    let roundRobin = 0;
    let states: Record<string, TargetState> = {};
    const next = (): string => {
      const c = chooseTarget({
        id: 'pool',
        strategy: 'spillover',
        targets: ABC,
        spillover: 2,
        stateOf: (k) => states[k] ?? 'stopped',
        inflightOf: (k) => inflight.get(k) ?? 0,
        roundRobin,
      });
      if (!c.ok) return 'error';
      if (c.rotated) roundRobin++;
      inflight.set(c.target.key, (inflight.get(c.target.key) ?? 0) + 1);
      return c.target.name;
    };
    expect([next(), next(), next()]).toEqual(['a', 'a', 'b']);
    inflight.set('a', 1); // one request to a ended
    states = { a: 'ready', b: 'ready', c: 'ready' };
    expect(next()).toBe('c');
  });
});

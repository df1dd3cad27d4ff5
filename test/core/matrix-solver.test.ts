/**
 * The matrix evict-cost solver (reference section 5.4). Cases cite the llama-swap Go test they
 * port (internal/matrix/*_test.go); cases marked swapstate are ours, from the reference text.
 */
import { describe, expect, it } from 'vitest';
import { expandMatrixSets, matrixResolver, type MatrixSetDefinition } from '../../src/core/matrix-dsl.ts';
import { canContainAll, explainMatrixDecision, resolveEvictCosts, solveMatrix, type EvictCosts } from '../../src/core/matrix-solver.ts';
import { matrixSwapper } from '../../src/core/matrix-swapper.ts';
import { productDefinition } from './matrix-fixtures.ts';

const compile = (defs: MatrixSetDefinition[], models: readonly string[]) => expandMatrixSets(defs, matrixResolver({}, models));

/** llama-swap's tie-breaker and reclaim fixtures: a budget of three models out of a pool. */
const budget3 = (pool: string) =>
  compile(
    [
      { name: 'pool', dsl: pool },
      { name: 'all', dsl: '+pool & +pool & +pool' },
    ],
    pool.replace(/[()]/g, '').split('|').map((s) => s.trim()),
  );

const gve = compile(
  [
    { name: 'gv', dsl: 'g & v' },
    { name: 'qv', dsl: 'q & v' },
    { name: 'qe', dsl: 'q & e' },
    { name: 'big', dsl: '(g | q) & v & e' },
  ],
  ['g', 'q', 'v', 'e', 'x'],
);

interface Case {
  name: string;
  sets: ReturnType<typeof compile>;
  costs?: EvictCosts;
  running: string[];
  target: string;
  want: { set: string | null; evict: string[]; cost: number; members?: string[] };
}

describe('solveMatrix', () => {
  const cases: Case[] = [
    // Go: TestProgram_OverlappingReferences
    {
      name: 'overlapping references: everything running fits, nothing is evicted',
      sets: compile(
        [
          { name: 'base', dsl: 'a & b' },
          { name: 'extended', dsl: 'target & +base & b' },
        ],
        ['target', 'a', 'b'],
      ),
      running: ['a', 'b'],
      target: 'target',
      want: { set: 'extended', evict: [], cost: 0, members: ['a', 'b', 'target'] },
    },
    // Go: TestProgram_DominatedProjection
    {
      name: 'the larger alternative that keeps more running wins',
      sets: compile([{ name: 'preferred', dsl: 'target & (a | (a & b))' }], ['target', 'a', 'b']),
      running: ['a', 'b'],
      target: 'target',
      want: { set: 'preferred', evict: [], cost: 0, members: ['a', 'b', 'target'] },
    },
    // Go: TestProgram_TargetAbsent. llama-swap reports TotalCost 0 here; we report what stops (see solveMatrix).
    {
      name: 'a target in no set runs alone: everything running stops',
      sets: compile([{ name: 'known', dsl: 'a & b' }], ['a', 'b']),
      running: ['a', 'b'],
      target: 'missing',
      want: { set: null, evict: ['a', 'b'], cost: 2, members: ['missing'] },
    },
    // Go: TestProgram_SolveTieBreakerLexical: equal costs, the first combination in expression order (t,a,b) wins.
    {
      name: 'tie: the first combination in expression order wins',
      sets: budget3('(t | a | b | c)'),
      running: ['a', 'b', 'c'],
      target: 't',
      want: { set: 'all', evict: ['c'], cost: 1, members: ['a', 'b', 't'] },
    },
    // Derived from Go: TestProgram_SolveTieBreakerLRUCostDominatesIdle, in the default (lexical) mode that
    // the reference describes: cost first, then the first of the cost-1 combinations, (t,a,c).
    {
      name: 'cost decides before order: the expensive model stays',
      sets: budget3('(t | a | b | c)'),
      costs: { c: 10 },
      running: ['a', 'b', 'c'],
      target: 't',
      want: { set: 'all', evict: ['b'], cost: 1, members: ['a', 'c', 't'] },
    },
    // Go: TestProgram_SolveReclaimQueueSteersDistinctCosts (the ReclaimMinimal half)
    {
      name: 'distinct costs: the cheapest to reload is evicted',
      sets: budget3('(t | a | b | c | d | e)'),
      costs: { a: 300000, b: 30000, c: 60000 },
      running: ['a', 'b', 'c'],
      target: 't',
      want: { set: 'all', evict: ['b'], cost: 30000 },
    },
    // Go: TestProgram_SolveRankSumsDoNotWrap (math.MaxInt costs; sums must not wrap)
    {
      name: 'huge costs: one cheap eviction beats two huge ones',
      sets: budget3('(t | a | b | c | d | e)'),
      costs: { a: 2 ** 63 - 1, b: 2 ** 63 - 1, c: 1 },
      running: ['a', 'b', 'c'],
      target: 't',
      want: { set: 'all', evict: ['c'], cost: 1 },
    },
    // Go: TestProgram_SolveReservedFallbackWhenNoIdleExists (its plain-ranking outcome; reservations are
    // not part of the reference's solver)
    {
      name: 'plain ranking: the cheapest model is evicted',
      sets: budget3('(t | a | b | c | d | e)'),
      costs: { a: 1, b: 2, c: 3 },
      running: ['a', 'b', 'c'],
      target: 't',
      want: { set: 'all', evict: ['a'], cost: 1 },
    },
    // swapstate (issue 14's example): gv costs 1 (q), qv costs 1 (g) too, gv comes first.
    {
      name: 'tie between sets: the first set in order wins',
      sets: gve,
      running: ['g', 'q'],
      target: 'v',
      want: { set: 'gv', evict: ['q'], cost: 1, members: ['g', 'v'] },
    },
    {
      name: 'tie broken by cost: a costly q makes qv win',
      sets: gve,
      costs: { q: 5 },
      running: ['g', 'q'],
      target: 'v',
      want: { set: 'qv', evict: ['g'], cost: 1, members: ['q', 'v'] },
    },
    {
      name: 'a later set that keeps more running beats an earlier one',
      sets: gve,
      running: ['g', 'v'],
      target: 'e',
      want: { set: 'big', evict: [], cost: 0, members: ['e', 'g', 'v'] },
    },
    {
      name: 'nothing running: the first set holding the target, nothing evicted',
      sets: gve,
      running: [],
      target: 'e',
      want: { set: 'qe', evict: [], cost: 0, members: ['e', 'q'] },
    },
    {
      name: 'a model in no set is evicted for any target (cost counted)',
      sets: gve,
      costs: { x: 7 },
      running: ['x', 'g'],
      target: 'v',
      want: { set: 'gv', evict: ['x'], cost: 7 },
    },
    {
      name: 'a model in no set runs alone: evicts everything, costs summed',
      sets: gve,
      costs: { g: 3 },
      running: ['g', 'v'],
      target: 'x',
      want: { set: null, evict: ['g', 'v'], cost: 4, members: ['x'] },
    },
    {
      name: 'the target already running evicts nothing, even beside a model no set allows with it',
      sets: gve,
      running: ['x', 'g'],
      target: 'g',
      want: { set: null, evict: [], cost: 0, members: ['x', 'g'] },
    },
    {
      name: 'the target already running: the set named is the first holding all that runs',
      sets: gve,
      running: ['v', 'q'],
      target: 'q',
      want: { set: 'qv', evict: [], cost: 0, members: ['v', 'q'] },
    },
    {
      name: 'evictions are listed in the order running gave them',
      sets: gve,
      running: ['x', 'q', 'e'],
      target: 'g',
      want: { set: 'big', evict: ['x', 'q'], cost: 2 },
    },
    {
      // Topological order: `late` is referenced by `early`, so it is evaluated (and wins ties) first.
      name: 'tie-break follows evaluation order, not only config order',
      sets: compile(
        [
          { name: 'early', dsl: '+late | (a & c)' },
          { name: 'late', dsl: 'a & b' },
        ],
        ['a', 'b', 'c'],
      ),
      running: ['b', 'c'],
      target: 'a',
      want: { set: 'late', evict: ['c'], cost: 1, members: ['a', 'b'] },
    },
  ];

  it.each(cases)('$name', ({ sets, costs, running, target, want }) => {
    const d = solveMatrix(sets, costs ?? {}, running, target);
    expect({ set: d.set, evict: d.evict, cost: d.cost }).toEqual({ set: want.set, evict: want.evict, cost: want.cost });
    if (want.members) expect(d.members).toEqual(want.members);
  });

  // Go: TestProgram_NoExpansionLimit (scaled to 10^4 combinations, see the DSL tests)
  it('a wide product: only the model outside it is evicted', () => {
    const { definition, models } = productDefinition(4, 10);
    const running = [...Array.from({ length: 4 }, (_, d) => `model-${d}-9`), 'outside'];
    const d = solveMatrix(compile([definition], [...models, 'outside']), {}, running, 'target');
    expect(d.evict).toEqual(['outside']);
    expect(d.set).toBe('large');
    expect(d.members).toHaveLength(5);
  });

  // Go: TestProgram_MoreThan64RelevantModels
  it('more than 64 relevant models', () => {
    const models = ['target', ...Array.from({ length: 70 }, (_, i) => `model-${i}`)];
    const d = solveMatrix(compile([{ name: 'wide', dsl: models.join(' & ') }], models), {}, [...models.slice(1), 'outside'], 'target');
    expect(d.evict).toEqual(['outside']);
    expect(d.members).toHaveLength(71);
  });

  it('does not mutate its inputs', () => {
    const running = Object.freeze(['g', 'q']);
    const sets = Object.freeze(gve.map((s) => Object.freeze({ ...s, members: Object.freeze([...s.members]) as string[] })));
    expect(() => solveMatrix(sets, Object.freeze({ q: 2 }), running, 'v')).not.toThrow();
  });
});

describe('explainMatrixDecision', () => {
  it.each([
    { running: ['g', 'q'], target: 'v', text: 'set gv chosen: evicts q (cost 1)' },
    { running: ['g', 'v'], target: 'e', text: 'set big chosen: evicts nothing (cost 0)' },
    { running: ['g', 'v'], target: 'x', text: 'model x is in no set: runs alone, evicts g, v (cost 2)' },
    { running: ['x', 'g'], target: 'g', text: 'model g is already running: evicts nothing' },
  ])('$text', ({ running, target, text }) => {
    expect(explainMatrixDecision(solveMatrix(gve, {}, running, target))).toBe(text);
  });
});

describe('evict costs and containment helpers', () => {
  it('resolveEvictCosts keys costs by real model id, a var replaced by its model', () => {
    expect(resolveEvictCosts({ g: 5, 'qwen3-32b': 2 }, { g: 'gemma-3-27b' })).toEqual({ 'gemma-3-27b': 5, 'qwen3-32b': 2 });
  });

  it('canContainAll: some combination holds every model given', () => {
    expect(canContainAll(gve, [])).toBe(true);
    expect(canContainAll(gve, ['g', 'e'])).toBe(true);
    expect(canContainAll(gve, ['g', 'q'])).toBe(false);
    expect(canContainAll(gve, ['x'])).toBe(false);
  });
});

describe('matrixSwapper (the scheduler Swapper shape)', () => {
  it('answers with the solver eviction list, for the same target and running set', () => {
    const swap = matrixSwapper(gve, { g: 5 });
    expect(swap('v', ['g', 'q'])).toEqual(['q']);
    expect(swap('x', ['g', 'v'])).toEqual(['g', 'v']);
    expect(swap('g', ['g', 'x'])).toEqual([]);
    for (const [target, running] of [
      ['e', ['g', 'q', 'v']],
      ['q', ['e']],
      ['g', []],
    ] as const) {
      expect(swap(target, running)).toEqual(solveMatrix(gve, { g: 5 }, running, target).evict);
    }
  });
});

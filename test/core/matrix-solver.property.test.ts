/**
 * Property test of the matrix DSL and solver together: random matrices (random expression
 * trees printed as DSL text, references between sets, random costs) and random request
 * sequences. The solver works from the parsed and expanded text; the oracle works from the
 * generated trees directly, with its own notion of "some combination contains these models",
 * so a precedence or expansion bug shows up as a disagreement.
 *
 * After every decision:
 * - what runs is contained in some combination of some set, or is one model that no set holds;
 * - the chosen cost is the least cost of stopping anything over all sets that can hold the
 *   target, the first set (in evaluation order) reaching it is the one chosen, and the cost is
 *   the sum of the evicted models' costs.
 *
 * A plain seeded loop (mulberry32), no property-testing dependency: a failure names its seed.
 */
import { describe, expect, it } from 'vitest';
import { expandMatrixSets, matrixResolver, type MatrixSetDefinition } from '../../src/core/matrix-dsl.ts';
import { evictCost, solveMatrix } from '../../src/core/matrix-solver.ts';
import { mulberry32 } from '../helpers/seeded-random.ts';

type Tree = { kind: 'm'; model: string } | { kind: 'ref'; set: string } | { kind: 'and' | 'or'; children: Tree[] };

interface Matrix {
  models: string[];
  defs: Array<{ name: string; tree: Tree; dsl: string }>;
  costs: Record<string, number>;
}

function randomMatrix(rand: () => number): Matrix {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
  // Names that exercise the identifier characters; `zz` never appears in a set (a lone model).
  const models = ['m0', 'm-1', 'm.2', 'm_3', 'm4', 'm5'].slice(0, 3 + int(4)).concat('zz');
  const inSets = models.filter((m) => m !== 'zz');
  const setCount = 1 + int(4);
  const names = Array.from({ length: setCount }, (_, i) => `s${i}`);
  // A random rank per set: a set may reference only sets of lower rank, so there is no cycle,
  // yet a reference may point forward in config order (evaluation order then differs).
  const rank = new Map(names.map((n) => [n, rand()]));

  const tree = (self: string, depth: number): Tree => {
    const lower = names.filter((n) => rank.get(n)! < rank.get(self)!);
    const r = rand();
    if (depth === 0 || r < 0.3) {
      return lower.length > 0 && rand() < 0.2 ? { kind: 'ref', set: pick(lower) } : { kind: 'm', model: pick(inSets) };
    }
    const children = Array.from({ length: 2 + int(2) }, () => tree(self, depth - 1));
    return { kind: r < 0.65 ? 'and' : 'or', children };
  };
  const ws = () => pick(['', ' ', '  ', '\t']);
  const print = (t: Tree, parent: 'and' | 'or' | null): string => {
    if (t.kind === 'm') return t.model;
    if (t.kind === 'ref') return `+${t.set}`;
    const inner = t.children.map((c) => print(c, t.kind)).join(`${ws()}${t.kind === 'and' ? '&' : '|'}${ws()}`);
    // Parentheses are needed only for an `|` under an `&`; elsewhere add some at random.
    const needed = t.kind === 'or' && parent === 'and';
    return needed || rand() < 0.3 ? `(${ws()}${inner}${ws()})` : inner;
  };

  const defs = names.map((name) => {
    const t = tree(name, 3);
    return { name, tree: t, dsl: `${ws()}${print(t, null)}${ws()}` };
  });
  const costs: Record<string, number> = {};
  for (const m of models) if (rand() < 0.5) costs[m] = 1 + int(5);
  return { models, defs, costs };
}

/** Does some combination of `t` contain every model of `xs`? (Containment is closed under subsets.) */
function covers(t: Tree, xs: readonly string[], treeOf: (set: string) => Tree): boolean {
  switch (t.kind) {
    case 'm':
      return xs.every((x) => x === t.model);
    case 'ref':
      return covers(treeOf(t.set), xs, treeOf);
    case 'or':
      return t.children.some((c) => covers(c, xs, treeOf));
    case 'and': {
      // Share xs out among the operands, every way there is.
      const assign = (i: number, parts: string[][]): boolean => {
        if (i === xs.length) return t.children.every((c, k) => covers(c, parts[k]!, treeOf));
        return t.children.some((_, k) => assign(i + 1, parts.map((p, j) => (j === k ? [...p, xs[i]!] : p))));
      };
      return assign(0, t.children.map(() => []));
    }
  }
}

function subsets<T>(xs: readonly T[]): T[][] {
  return xs.reduce<T[][]>((acc, x) => acc.flatMap((s) => [s, [...s, x]]), [[]]);
}

const SEEDS = 300;

describe('matrix solver properties (random matrices and request sequences)', () => {
  it('what runs always fits a set (or is one lone model), and every choice has minimal cost', () => {
    let decisions = 0;
    let chosenLater = 0;
    let ties = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rand = mulberry32(seed);
      const mx = randomMatrix(rand);
      const defs: MatrixSetDefinition[] = mx.defs.map(({ name, dsl }) => ({ name, dsl }));
      const sets = expandMatrixSets(defs, matrixResolver({}, mx.models));
      const order = [...new Set(sets.map((s) => s.name))];
      const treeOf = (name: string) => mx.defs.find((d) => d.name === name)!.tree;
      const cost = (ms: readonly string[]) => ms.reduce((sum, m) => sum + evictCost(mx.costs, m), 0);
      const fits = (ms: readonly string[]) => mx.defs.some((d) => covers(d.tree, ms, treeOf));
      const ctx = (running: readonly string[], target: string) => `seed ${seed}, sets ${JSON.stringify(defs)}, costs ${JSON.stringify(mx.costs)}, running ${running}, target ${target}`;

      let running: string[] = [];
      for (let step = 0; step < 25; step++) {
        const target = mx.models[Math.floor(rand() * mx.models.length)]!;
        const d = solveMatrix(sets, mx.costs, running, target);
        decisions++;
        const why = ctx(running, target);

        expect(d.cost, why).toBe(cost(d.evict));
        if (running.includes(target)) {
          expect(d.evict, why).toEqual([]);
        } else if (!fits([target])) {
          expect({ set: d.set, evict: d.evict }, why).toEqual({ set: null, evict: running });
        } else {
          // The least cost over every set and every part of `running` it could keep beside the target.
          const bestOf = (set: string) =>
            Math.min(
              ...subsets(running)
                .filter((keep) => covers(treeOf(set), [...keep, target], treeOf))
                .map((keep) => cost(running.filter((m) => !keep.includes(m)))),
            );
          const best = Math.min(...order.map(bestOf));
          expect(d.cost, why).toBe(best);
          expect(d.set, why).toBe(order.find((s) => bestOf(s) === best));
          expect(covers(treeOf(d.set!), d.members, treeOf), why).toBe(true);
          expect(d.members, why).toContain(target);
          if (order.indexOf(d.set!) > 0) chosenLater++;
          if (order.filter((s) => bestOf(s) === best).length > 1) ties++;
        }

        running = running.filter((m) => !d.evict.includes(m));
        if (!running.includes(target)) running.push(target);
        const lone = running.length === 1 && !fits(running);
        expect(fits(running) || lone, `after: ${running}; ${why}`).toBe(true);
      }
    }
    // The generator reaches past the first set, and ties between sets (the tie-break is exercised).
    expect(decisions).toBe(SEEDS * 25);
    expect(chosenLater).toBeGreaterThan(500);
    expect(ties).toBeGreaterThan(500);
  });
});

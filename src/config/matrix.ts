/**
 * The matrix router's block (reference 2.5; llama-swap's internal/config/matrix.go): `vars`,
 * `evict_costs` and `sets`, under the legacy top-level `matrix` or
 * `routing.router.settings.matrix`. Decoded with the rest of the top level, checked and
 * compiled (validate-routing.ts) only when the matrix router is the one in use.
 *
 * The sets are compiled at load by the core's DSL (src/core/matrix-dsl.ts), so a bad
 * expression fails the load with the core's (llama-swap's) message, at the set's line.
 */
import { ConfigError } from './config-error.ts';
import type { Field } from './field.ts';
import type { MatrixRouting } from './types.ts';
import { block, integer, mapOf, text } from './schema-shapes.ts';
import { expandMatrixSets, matrixResolver, MatrixDslError, parseMatrixDsl, type MatrixExpr, type MatrixResolver } from '../core/matrix-dsl.ts';
import { resolveEvictCosts } from '../core/matrix-solver.ts';

export interface MatrixEntryDraft<T> {
  key: string;
  value: T;
  field: Field;
}

export interface MatrixDraft {
  field: Field;
  vars: Array<MatrixEntryDraft<string>>;
  evictCosts: Array<MatrixEntryDraft<number>>;
  /** In the config's order (the solver's tie-break order, before references reorder it). */
  sets: Array<MatrixEntryDraft<string>>;
}

/**
 * swapstate's limit on the combinations all sets expand to together. llama-swap solves
 * symbolically and has none; swapstate's solver (src/core/matrix-solver.ts) walks every
 * combination on every scheduling decision, and a million of them cost 3 s to expand and
 * 0.37 s per decision. A documented deviation: such a config fails to load instead.
 */
export const MAX_MATRIX_COMBINATIONS = 10_000;

/**
 * Up to this many (by an upper bound computed without expanding), the sets are expanded to
 * count them exactly (well under a second); beyond it the bound alone rejects the config, so
 * a set like `(a|b) & (c|d) & ...` forty times cannot make a load (or a reload) hang.
 */
const MAX_EXPANDED_TO_COUNT = 10 * MAX_MATRIX_COMBINATIONS;

const VAR_KEY = /^[a-zA-Z0-9.-]{1,32}$/;

/**
 * The block in config-schema.json. The rules on var names and costs are checked only when the
 * matrix router is in use (a config may carry an unused block), so the schema leaves them out.
 */
export const MATRIX_SCHEMA = block(
  'Matrix router: the combinations of models that may run together; a swap stops the cheapest set of running models.',
  {
    vars: mapOf('Short names for models (1-32 letters, digits, "-" or "."), used in sets and evict_costs.', text('A model id.')),
    evict_costs: mapOf('Cost of stopping a running model (a var or model id); a positive integer, default 1.', integer('Cost.')),
    sets: mapOf('Named sets, each a DSL expression: `&` together, `|` either, parentheses, `+set` to reuse one. Order breaks ties.', text('An expression.')),
  },
);

/** null when the block is absent (or YAML null). */
export function decodeMatrix(field: Field): MatrixDraft | null {
  if (!field.isSet) return null;
  field.keys(['vars', 'evict_costs', 'sets']);
  const entries = <T>(block: Field, read: (f: Field) => T): Array<MatrixEntryDraft<T>> =>
    block.entries().map(([key, f]) => ({ key, value: read(f), field: f }));
  return {
    field,
    vars: entries(field.get('vars'), (f) => f.string()),
    evictCosts: entries(field.get('evict_costs'), (f) => f.int(0)),
    sets: entries(field.get('sets'), (f) => f.string()),
  };
}

/**
 * Checks the block in llama-swap's order (at least one set; vars; evict_costs; the sets'
 * expressions) and compiles it.
 *
 * @throws ConfigError at the offending entry's file:line.
 */
export function compileMatrix(draft: MatrixDraft, modelIds: ReadonlySet<string>): MatrixRouting {
  const q = JSON.stringify;
  const setsField = draft.field.get('sets');
  if (draft.sets.length === 0) {
    throw new ConfigError('matrix must define at least one set', setsField.isSet ? setsField.where : draft.field.where);
  }

  const vars: Record<string, string> = {};
  for (const v of draft.vars) {
    const at = v.field.where;
    if (!VAR_KEY.test(v.key)) {
      throw new ConfigError(`var key ${q(v.key)} must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long`, at);
    }
    if (!modelIds.has(v.value)) throw new ConfigError(`var key ${q(v.key)} references unknown model ${q(v.value)}`, at);
    vars[v.key] = v.value;
  }

  const resolve = matrixResolver(vars, modelIds);
  const costs: Record<string, number> = {};
  for (const c of draft.evictCosts) {
    if (c.value <= 0) throw new ConfigError(`evict_cost for ${q(c.key)} must be a positive integer`, c.field.where);
    if (resolve(c.key) === undefined) throw new ConfigError(`evict_costs: unknown var or model ${q(c.key)}`, c.field.where);
    costs[c.key] = c.value;
  }

  const definitions = draft.sets.map((s) => ({ name: s.key, dsl: s.value }));
  const bound = combinationBound(definitions, resolve);
  if (bound !== null && bound > MAX_EXPANDED_TO_COUNT) {
    throw new ConfigError(
      `matrix: the sets can expand to as many as ${Number.isFinite(bound) ? bound : 'more than 1e308'} combinations ` +
        `(counted before removing duplicates); swapstate supports at most ${MAX_MATRIX_COMBINATIONS}`,
      setsField.where,
    );
  }
  let sets: MatrixRouting['sets'];
  try {
    sets = expandMatrixSets(definitions, resolve);
  } catch (error) {
    if (!(error instanceof MatrixDslError)) throw error;
    throw new ConfigError(error.message, whereOfDslError(error.message, draft, setsField));
  }
  if (sets.length > MAX_MATRIX_COMBINATIONS) {
    throw new ConfigError(
      `matrix: the sets expand to ${sets.length} combinations; swapstate supports at most ${MAX_MATRIX_COMBINATIONS}`,
      setsField.where,
    );
  }
  return { sets, evictCosts: resolveEvictCosts(costs, vars) };
}

/**
 * Every core message about one set names it first (`set "s": …`, `set "s" references …`,
 * `… involving set "s"`); the error points at that set's line, else at `sets`.
 */
function whereOfDslError(message: string, draft: MatrixDraft, setsField: Field): string | undefined {
  const named = /\bset ("(?:[^"\\]|\\.)*")/.exec(message);
  if (named) {
    const name = JSON.parse(named[1]!) as string;
    const set = draft.sets.find((s) => s.key === name);
    if (set) return set.field.where;
  }
  return setsField.where;
}

/**
 * An upper bound of the number of combinations expandMatrixSets returns (`|` adds, `&`
 * multiplies; the expansion's de-duplication only lowers it), computed without expanding.
 * null when the definitions have an error the core reports before expanding anything (parse
 * error, unknown identifier, undefined or circular reference).
 */
function combinationBound(definitions: ReadonlyArray<{ name: string; dsl: string }>, resolve: MatrixResolver): number | null {
  const exprs = new Map<string, MatrixExpr>();
  for (const d of definitions) {
    try {
      exprs.set(d.name, parseMatrixDsl(d.dsl));
    } catch {
      return null;
    }
  }
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const ofSet = (name: string): number | null => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const expr = exprs.get(name);
    if (expr === undefined || visiting.has(name)) return null;
    visiting.add(name);
    const n = of(expr);
    visiting.delete(name);
    if (n !== null) memo.set(name, n);
    return n;
  };
  const of = (e: MatrixExpr): number | null => {
    switch (e.kind) {
      case 'ident':
        return resolve(e.name) === undefined ? null : 1;
      case 'ref':
        return ofSet(e.set);
      case 'or':
      case 'and': {
        let acc = e.kind === 'or' ? 0 : 1;
        for (const child of e.children) {
          const n = of(child);
          if (n === null) return null;
          acc = e.kind === 'or' ? acc + n : acc * n;
        }
        return acc;
      }
    }
  };
  let total = 0;
  for (const d of definitions) {
    const n = ofSet(d.name);
    if (n === null) return null;
    total += n;
  }
  return total;
}

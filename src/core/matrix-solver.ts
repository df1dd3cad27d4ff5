/**
 * llama-swap's matrix eviction policy (reference section 5.4), as a pure function: which
 * running models must stop so that a target can start. Sets have subset semantics: a set
 * permits any subset of its members, and only the target is started, nothing is preloaded.
 *
 * Like the group swapper, it is asked speculatively for every scheduler decision, so it never
 * logs and never mutates. The decision carries the chosen set and the cost so that callers can
 * explain it (`/api/state`, llama-swap's per-swap log line).
 */
import type { MatrixSet } from './matrix-dsl.ts';

/** Real model id -> cost of evicting it (a positive integer). Unlisted models cost 1. */
export type EvictCosts = Readonly<Record<string, number>>;

export interface MatrixDecision {
  target: string;
  /**
   * The set the target runs in: the chosen one, or (target already running) the first set
   * holding everything running; null when there is none (the target runs alone).
   */
  set: string | null;
  /** That set's expression as written, or null. */
  dsl: string | null;
  /** The combination the target runs in (target already running: what is running). */
  members: string[];
  /** The running models to stop, in the order `running` listed them. */
  evict: string[];
  /** The sum of the evicted models' costs. */
  cost: number;
  /** Why this outcome, for explanations. */
  reason: 'already-running' | 'set' | 'alone';
}

/** The cost of evicting `model`: its configured cost, else 1. */
export function evictCost(costs: EvictCosts, model: string): number {
  return Object.hasOwn(costs, model) ? costs[model]! : 1;
}

/**
 * `evict_costs` keyed by real model id: a key that is a var is replaced by the model it names
 * (llama-swap's ResolvedEvictCosts). Validating the keys and values is the config loader's job.
 */
export function resolveEvictCosts(evictCosts: Readonly<Record<string, number>>, vars: Readonly<Record<string, string>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, cost] of Object.entries(evictCosts)) out[Object.hasOwn(vars, key) ? vars[key]! : key] = cost;
  return out;
}

/** True when one combination contains every model given (none given: true). */
export function canContainAll(sets: readonly MatrixSet[], models: readonly string[]): boolean {
  return models.length === 0 || firstContaining(sets, models) !== undefined;
}

function firstContaining(sets: readonly MatrixSet[], models: readonly string[]): MatrixSet | undefined {
  return sets.find((s) => models.every((m) => s.members.includes(m)));
}

/**
 * Chooses where `target` runs, given every combination of every set in evaluation order
 * (expandMatrixSets' output):
 * - target already running: evict nothing, even if what runs is no valid combination (the
 *   request is served by what is there; llama-swap does not tidy up);
 * - else, among the combinations containing the target, the one whose running non-members
 *   cost least to stop; on a tie the first in order wins (set order, then expression order);
 * - target in no set: everything running stops and the target runs alone.
 *
 * Costs are compared as plain sums; a JavaScript number does not wrap (llama-swap saturates
 * instead), and integer costs stay exact far beyond any configured value.
 */
export function solveMatrix(sets: readonly MatrixSet[], costs: EvictCosts, running: readonly string[], target: string): MatrixDecision {
  const costOf = (models: readonly string[]): number => models.reduce((sum, m) => sum + evictCost(costs, m), 0);

  if (running.includes(target)) {
    const holder = firstContaining(sets, running);
    return { target, set: holder?.name ?? null, dsl: holder?.dsl ?? null, members: [...running], evict: [], cost: 0, reason: 'already-running' };
  }

  let best: { set: MatrixSet; evict: string[]; cost: number } | undefined;
  for (const set of sets) {
    if (!set.members.includes(target)) continue;
    const evict = running.filter((m) => !set.members.includes(m));
    const cost = costOf(evict);
    // Strictly less: the earlier combination keeps a tie.
    if (best === undefined || cost < best.cost) best = { set, evict, cost };
  }

  if (best === undefined) {
    return { target, set: null, dsl: null, members: [target], evict: [...running], cost: costOf(running), reason: 'alone' };
  }
  return { target, set: best.set.name, dsl: best.set.dsl, members: [...best.set.members], evict: best.evict, cost: best.cost, reason: 'set' };
}

/**
 * One line for people: `set gv chosen: evicts q (cost 1)`; `model t is in no set: runs alone,
 * evicts a, b (cost 2)`; `model t is already running: evicts nothing`.
 */
export function explainMatrixDecision(d: MatrixDecision): string {
  const evicts = d.evict.length === 0 ? 'evicts nothing' : `evicts ${d.evict.join(', ')}`;
  switch (d.reason) {
    case 'already-running':
      return `model ${d.target} is already running: evicts nothing`;
    case 'alone':
      return `model ${d.target} is in no set: runs alone, ${evicts} (cost ${d.cost})`;
    case 'set':
      return `set ${d.set} chosen: ${evicts} (cost ${d.cost})`;
  }
}

/**
 * The matrix solver behind the scheduler's `Swapper` shape, so the scheduler can use the group
 * swapper or this one without knowing which: both answer "given this target and what is
 * running, which models must stop".
 *
 * The shape carries only the eviction list. A caller that wants the chosen set and its cost
 * (`/api/state`) asks solveMatrix with the same arguments; it is pure, so the answer is the same.
 */
import type { Swapper } from './effects.ts';
import type { MatrixSet } from './matrix-dsl.ts';
import { solveMatrix, type EvictCosts } from './matrix-solver.ts';

export function matrixSwapper(sets: readonly MatrixSet[], costs: EvictCosts): Swapper {
  return (target, running) => solveMatrix(sets, costs, running, target).evict;
}

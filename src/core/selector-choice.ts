/**
 * Which target a selector picks for one request (reference/llama-swap.md 5.6): a pure function
 * of the selector, the state of each target's process, and the requests the selector itself
 * has in flight to each target.
 *
 * - `pin`: always the first target (the others are informational).
 * - `warm`: the first target that is ready, else the first that is starting, else the first
 *   (a cold start).
 * - `spillover`: fill the targets already in use up to `spillover` requests each, then start
 *   the next cold one; once none is left, the least loaded target in use takes the request.
 *
 * The in-flight counts are the selector's own (requests it routed and that have not ended),
 * not the model's: a request naming the target directly does not count, as in llama-swap.
 */

export type SelectorStrategyName = 'warm' | 'pin' | 'spillover';

/**
 * A target's process as the choice sees it. `unavailable`: stopping, shut down or refusing
 * starts (backing off after failed starts): spillover skips it; warm and pin only look for
 * ready and starting.
 */
export type TargetState = 'ready' | 'starting' | 'stopping' | 'stopped' | 'unavailable';

export interface ChoiceTarget {
  /** As written in the selector (a model id, alias, peer FQN or bare peer model): what the request is rewritten to. */
  name: string;
  /**
   * What it resolves to: the real model id of a local target, the FQN of a peer model. The
   * in-flight counts are kept per key, so two names of one model share a count.
   */
  key: string;
  /** A local model (it has a process); a peer model has none and is judged by its count alone. */
  local: boolean;
}

export interface ChoiceInput {
  id: string;
  strategy: SelectorStrategyName;
  /** At least one (config validation guarantees it). */
  targets: readonly ChoiceTarget[];
  /** spillover only: requests per active target before spilling over (>= 1). */
  spillover: number;
  /** The process state of a local target, by key. */
  stateOf: (key: string) => TargetState;
  /** The selector's requests in flight to a target, by key. */
  inflightOf: (key: string) => number;
  /**
   * The selector's round-robin counter: which of several equally loaded targets goes next.
   * A choice that used it says so (`rotated`); the caller then advances it.
   */
  roundRobin: number;
}

export type Choice =
  | { ok: true; target: ChoiceTarget; rotated: boolean }
  /** spillover with every target stopping (503 "selector \"x\" has no available spillover targets"). */
  | { ok: false; error: 'no-spillover-targets' };

export function chooseTarget(input: ChoiceInput): Choice {
  const first = input.targets[0];
  if (!first) return { ok: false, error: 'no-spillover-targets' };
  switch (input.strategy) {
    case 'pin':
      return { ok: true, target: first, rotated: false };
    case 'warm': {
      const state = (t: ChoiceTarget): TargetState | null => (t.local ? input.stateOf(t.key) : null);
      const target = input.targets.find((t) => state(t) === 'ready') ?? input.targets.find((t) => state(t) === 'starting') ?? first;
      return { ok: true, target, rotated: false };
    }
    case 'spillover':
      return chooseSpillover(input);
  }
}

function chooseSpillover(input: ChoiceInput): Choice {
  const active: ChoiceTarget[] = [];
  const cold: ChoiceTarget[] = [];
  for (const t of input.targets) {
    const load = input.inflightOf(t.key);
    if (!t.local) {
      // A peer has no process to look at: in use while the selector has requests on it.
      (load > 0 ? active : cold).push(t);
      continue;
    }
    const state = input.stateOf(t.key);
    if (state === 'stopping' || state === 'unavailable') continue;
    if (state === 'ready' || state === 'starting' || load > 0) active.push(t);
    else cold.push(t);
  }

  const firstCold = cold[0];
  if (active.length === 0) {
    return firstCold ? { ok: true, target: firstCold, rotated: false } : { ok: false, error: 'no-spillover-targets' };
  }
  const least = Math.min(...active.map((t) => input.inflightOf(t.key)));
  // Room left on a target already in use: keep the load there rather than start another.
  if (least < input.spillover || !firstCold) {
    const tied = active.filter((t) => input.inflightOf(t.key) === least);
    const target = tied[input.roundRobin % tied.length] as ChoiceTarget;
    return { ok: true, target, rotated: true };
  }
  return { ok: true, target: firstCold, rotated: false };
}

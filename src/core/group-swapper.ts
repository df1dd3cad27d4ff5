/**
 * The group eviction policy (llama-swap's group router, reference section 5.2), as a pure
 * function. It is asked speculatively by the scheduler for every decision, so it never logs
 * and never mutates.
 */
import type { Swapper } from './effects.ts';

/** One `groups.<name>` entry, defaults applied (swap and exclusive true, persistent false). */
export interface GroupPolicy {
  swap: boolean;
  exclusive: boolean;
  persistent: boolean;
  members: string[];
}

export type Groups = Record<string, GroupPolicy>;

/** The implicit group llama-swap puts every model in that no configured group lists. */
export const DEFAULT_GROUP = '(default)';

/**
 * Adds the implicit `(default)` group (swap and exclusive, not persistent) holding every model
 * that no configured group lists, in sorted order. With no groups at all every model lands
 * there, which is llama-swap's classic "one model at a time".
 */
export function withDefaultGroup(groups: Groups, modelIds: readonly string[]): Groups {
  const grouped = new Set(Object.values(groups).flatMap((g) => g.members));
  const loose = modelIds.filter((id) => !grouped.has(id)).sort();
  if (loose.length === 0) return groups;
  return {
    ...groups,
    [DEFAULT_GROUP]: { swap: true, exclusive: true, persistent: false, members: loose },
  };
}

/**
 * Builds the swapper for `groups` (already including `(default)`). For a target T in group G
 * and each running model M other than T:
 * - M in G: evicted when G.swap;
 * - M in another group H: evicted when G.exclusive and not H.persistent. An exclusive H does
 *   not protect its members from a non-exclusive G's loads: llama-swap's intentional quirk.
 * A target in no group evicts nothing.
 */
export function groupSwapper(groups: Groups): Swapper {
  const groupOf = new Map<string, GroupPolicy>();
  for (const g of Object.values(groups)) for (const m of g.members) groupOf.set(m, g);

  return (target, running) => {
    const g = groupOf.get(target);
    if (!g) return [];
    return running.filter((m) => {
      if (m === target) return false;
      const h = groupOf.get(m);
      if (h === g) return g.swap;
      if (!g.exclusive) return false;
      return !(h?.persistent ?? false);
    });
  };
}

/**
 * Near-miss names: how far a misspelt name is from the names that exist, for "did you mean"
 * hints in config errors and for the list of models an unknown-model answer offers.
 *
 * The distance is the optimal-string-alignment form of Damerau-Levenshtein: an insertion, a
 * deletion, a substitution or a swap of two neighbouring characters each cost one edit, so
 * `modles` is one edit from `models` (plain Levenshtein calls a swap two edits, and that is
 * the typo people make most).
 */

/**
 * Edits between `a` and `b` (see the module comment), compared as written (callers lower-case
 * first when case should not count). Stops early and returns `limit + 1` once every
 * alignment costs more than `limit`, so a long name against many candidates stays cheap.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rows of the dynamic-programming table: two back (for swaps), one back, current.
  let prev2 = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[b.length] as number;
}

/**
 * The candidate closest to `name` within `maxEdits`, ignoring case (so `Models` is zero edits
 * from `models`); ties go to the first candidate in alphabetical order. Null when none is
 * that close, or when `name` is itself a candidate.
 */
export function nearestName(name: string, candidates: Iterable<string>, maxEdits: number): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = maxEdits + 1;
  for (const candidate of candidates) {
    if (candidate === name) return null;
    const d = editDistance(lower, candidate.toLowerCase(), maxEdits);
    if (d < bestDistance || (d === bestDistance && best !== null && candidate < best)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= maxEdits ? best : null;
}

/**
 * Only this much of a name is compared when ranking: a name longer than every candidate by
 * more than this is far from all of them anyway, and a client's 60 KB model name must not
 * cost 60 KB x candidates of work.
 */
const RANKED_PREFIX = 256;

/**
 * `candidates` sorted closest to `name` first (case ignored), ties in alphabetical order;
 * at most `limit` of them.
 */
export function closestFirst(name: string, candidates: Iterable<string>, limit: number): string[] {
  const lower = name.slice(0, RANKED_PREFIX).toLowerCase();
  return [...new Set(candidates)]
    .map((candidate) => ({ candidate, d: editDistance(lower, candidate.toLowerCase()) }))
    .sort((x, y) => x.d - y.d || (x.candidate < y.candidate ? -1 : x.candidate > y.candidate ? 1 : 0))
    .slice(0, limit)
    .map((x) => x.candidate);
}

/**
 * The speed histograms of `GET /api/metrics/stats` (reference 7.3), as llama-swap bins them:
 * 5 to 20 equal-width bins by Sturges' rule (ceil(log2 n) + 1), and linearly interpolated
 * percentiles. Pure.
 */

export interface Histogram {
  bins: number[];
  min: number;
  max: number;
  binSize: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The p-th percentile of ascending `sorted`, interpolated between the two nearest ranks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0]!;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower]! + (rank - lower) * (sorted[upper]! - sorted[lower]!);
}

/**
 * `values` binned, or null for none. All equal: one bin holding them all, `binSize` 0.
 * The last bin is closed (the maximum falls in it).
 */
export function histogram(values: readonly number[]): Histogram | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const p = { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  if (min === max) return { bins: [values.length], min, max, binSize: 0, ...p };
  const sturges = Math.ceil(Math.log2(values.length)) + 1;
  const count = Math.min(20, Math.max(5, sturges));
  const binSize = (max - min) / count;
  const bins = new Array<number>(count).fill(0);
  for (const v of values) bins[Math.min(Math.floor((v - min) / binSize), count - 1)]!++;
  return { bins, min, max, binSize, ...p };
}

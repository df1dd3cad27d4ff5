/**
 * What the bench's streaming rows (2a-2d) read from a set of streams, and the streams run
 * while a burst does (row 2d and its controls). Shared by bench.ts and burst-floor.ts.
 */
import type { StreamResult } from './loadgen.ts';
import type { LoadGen } from './procs.ts';

export interface StreamStats {
  runs: number;
  minChunks: number;
  /** Streams with fewer than the expected chunks, no `[DONE]`, or an error. */
  incomplete: number;
  ttfcMs: number[];
  perStreamMaxGapMs: number[];
  maxGapMs: number;
  /** Adjacent events that arrived < 1 ms apart. */
  merged: number;
  multiEventReads: number;
  statuses: number[];
}

/** The figures of `runs`, each expected to carry `chunks` events. */
export function streamStats(runs: StreamResult[], chunks: number): StreamStats {
  const s: StreamStats = {
    runs: runs.length,
    minChunks: Infinity,
    incomplete: 0,
    ttfcMs: [],
    perStreamMaxGapMs: [],
    maxGapMs: 0,
    merged: 0,
    multiEventReads: 0,
    statuses: [],
  };
  for (const r of runs) {
    s.statuses.push(r.status);
    s.minChunks = Math.min(s.minChunks, r.eventsMs.length);
    if (r.eventsMs.length !== chunks || !r.done || r.error) s.incomplete++;
    if (r.eventsMs.length > 0) s.ttfcMs.push(r.eventsMs[0]!);
    let maxGap = 0;
    for (let i = 1; i < r.eventsMs.length; i++) {
      const gap = r.eventsMs[i]! - r.eventsMs[i - 1]!;
      if (gap < 1) s.merged++;
      maxGap = Math.max(maxGap, gap);
    }
    s.perStreamMaxGapMs.push(maxGap);
    s.maxGapMs = Math.max(s.maxGapMs, maxGap);
    s.multiEventReads += r.multiEventReads;
  }
  return s;
}

/**
 * Streams to `url` from `gen`, one after another, for as long as `burst` runs, at most `max`
 * of them (a way whose streams fail at once must not spin until the burst ends). `gen` should
 * not be the burst's own load generator: from it the streams wait for the burst's requests to
 * go out, and their reads for its answers (docs/perf/issue16-phase11.md).
 */
export async function streamsDuring(gen: LoadGen, url: string, body: unknown, burst: Promise<unknown>, max: number): Promise<StreamResult[]> {
  let over = false;
  void burst.then(
    () => (over = true),
    () => (over = true),
  );
  const during: StreamResult[] = [];
  while (!over && during.length < max) during.push(await gen.stream(url, body));
  return during;
}

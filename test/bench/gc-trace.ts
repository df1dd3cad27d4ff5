/**
 * Reading V8's `--trace-gc` lines (one per collection: "Scavenge A (B) -> C (D) MB", "Mark-Compact
 * ...", Node 26's "Incremental Mark-Compact ..."), for the bench tools that ask how much garbage a
 * request makes and how much of it reaches the old generation (issue 16, phase 9).
 */

/** One collection: its kind and the heap's used MB before and after it. */
export interface GcEvent {
  kind: 'Scavenge' | 'Mark-Compact' | 'Mark-Sweep';
  before: number;
  after: number;
}

const GC_LINE = /ms: (?:Incremental )?(Scavenge|Mark-Compact|Mark-Sweep)\S*(?: \([^)]*\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) /g;

/** Every collection `--trace-gc` printed in `text`, in order. */
export function gcEvents(text: string): GcEvent[] {
  return [...text.matchAll(GC_LINE)].map((m) => ({ kind: m[1] as GcEvent['kind'], before: Number(m[2]), after: Number(m[3]) }));
}

/** MB the scavenges among `events` freed: the young garbage made meanwhile. */
export function youngGarbageMb(events: readonly GcEvent[]): number {
  let mb = 0;
  for (const e of events) if (e.kind === 'Scavenge') mb += e.before - e.after;
  return mb;
}

/**
 * MB that reached the old generation over a window of collections: the heap's growth from the
 * first one's end to the last one's, plus what each full GC freed (scavenges empty the young
 * generation, so what their ends add up to is what they promoted; approximate by the survivors
 * still young at either end).
 */
export function promotedMb(events: readonly GcEvent[]): { mb: number; fullGcs: number } {
  if (events.length < 2) return { mb: 0, fullGcs: 0 };
  const full = events.slice(1).filter((e) => e.kind !== 'Scavenge');
  return { mb: events.at(-1)!.after - events[0]!.after + full.reduce((s, e) => s + e.before - e.after, 0), fullGcs: full.length };
}

/**
 * Gives the memory a load left behind back to the system once swapstate has been quiet for a
 * while: one memory-reducing garbage collection per quiet spell (issue 16).
 *
 * Why: V8 keeps the heap pages a load freed committed in a pool; only a memory-reducing GC
 * releases them. V8's own memory reducer runs one some seconds after a load on Node 20 and 22,
 * but on Node 24 and 26 (V8 13, 14) it keeps reading "high alloc" and waits for its 100 s
 * watchdog. Measured after 15 s at 32 connections (docs/perf/issue16-phase12.md), RSS of an
 * idle swapstate: Node 24 and 26 held 108-133 MB for the 24 s watched, Node 20 and 22 fell to
 * 73-89 MB at ~9 s by themselves. One forced collection (`gc` with the `last-resort` flavor:
 * V8's "low memory" collection, 44-54 ms) does what the reducer would: bench row 5f, 1 s and
 * 13 s after a load, Node 24 113.9 -> 89.3 MB, Node 26 109.6 -> 91.8 (110.2 -> 110.2 without).
 *
 * When: the check runs every {@link TRIM_CHECK_MS} on an unref'd timer and reads three numbers,
 * so a request pays nothing for it. It collects when, for {@link TRIM_QUIET_MS}, no request
 * has arrived and none is open (a stream in progress is open: no pause lands in it), and RSS
 * has grown by {@link TRIM_MIN_GROWTH_BYTES} since it last settled. The quiet time is longer
 * than V8's own reducer takes on Node 20 and 22 (~8 s), so there RSS has settled already and
 * nothing is forced. At most once per quiet spell.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long nothing must have arrived or be open before a trim. */
export const TRIM_QUIET_MS = 10_000;
/** How often the quiet is checked. */
export const TRIM_CHECK_MS = 2_000;
/** The growth of RSS since it last settled that is worth a collection. */
export const TRIM_MIN_GROWTH_BYTES = 16 * 1024 * 1024;

/** What the trim reads on each check. */
export interface TrimSources {
  /** Requests arrived so far; any change is activity. */
  arrived(): number;
  /** Requests open now (waiting or being served). */
  open(): number;
  /** Resident set size now, in bytes. */
  rss(): number;
}

export interface TrimOptions {
  quietMs: number;
  checkMs: number;
  minGrowthBytes: number;
  /** Monotonic ms. */
  now: () => number;
}

/** One trim, for the log: RSS before and after, and how long the collection took. */
export interface Trimmed {
  rssBefore: number;
  rssAfter: number;
  ms: number;
}

type Collect = () => void;

/**
 * A memory-reducing collection of this process's heap, or null where there is none: V8 before
 * 12 (Node 20) ignores the `flavor` option, and its own reducer releases the pages anyway.
 *
 * `gc` is exposed the way Node documents flags after start-up (`v8.setFlagsFromString`) and
 * taken from a new context, so swapstate need not run with `--expose-gc` and no global `gc`
 * appears in its own context. Only at the first collection: a second context changes how V8
 * runs. On Node 24, once one exists, V8's own memory reducer no longer stalls and collects at
 * idle some seconds after a load, as on Node 20 and 22 (measured, 3 runs; why, not
 * established). Made at start-up, that put its collections into the bench's idle-CPU windows
 * (row 5d: 11-12 ms of CPU in 5 s against 5).
 */
export function memoryReducingGc(v8Version = process.versions.v8): Collect | null {
  if (Number(v8Version.split('.')[0]) < 12) return null;
  let gc = (globalThis as { gc?: (options?: object) => void }).gc;
  return () => {
    if (gc === undefined) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as (options?: object) => void;
      setFlagsFromString('--no-expose-gc');
    }
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}

export class MemoryTrim {
  private readonly opts: TrimOptions;
  private timer: NodeJS.Timeout | null = null;
  private lastArrived: number;
  private quietSince: number;
  /** The quiet spell already looked at (trimmed, or found settled); NaN: none yet. */
  private checkedSpell = Number.NaN;
  /** RSS when it last settled (at start, after a trim, or found low at a quiet check). */
  private settled: number;

  constructor(
    private readonly sources: TrimSources,
    private readonly collect: Collect,
    private readonly onTrim: (t: Trimmed) => void = () => {},
    options: Partial<TrimOptions> = {},
  ) {
    this.opts = { quietMs: TRIM_QUIET_MS, checkMs: TRIM_CHECK_MS, minGrowthBytes: TRIM_MIN_GROWTH_BYTES, now: () => performance.now(), ...options };
    this.lastArrived = sources.arrived();
    this.quietSince = this.opts.now();
    this.settled = sources.rss();
  }

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => this.check(), this.opts.checkMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check (the timer's; exposed so tests can drive it); the trim it made, or null. */
  check(): Trimmed | null {
    const now = this.opts.now();
    const arrived = this.sources.arrived();
    if (arrived !== this.lastArrived || this.sources.open() > 0) {
      this.lastArrived = arrived;
      this.quietSince = now;
      return null;
    }
    if (now - this.quietSince < this.opts.quietMs || this.checkedSpell === this.quietSince) return null;
    this.checkedSpell = this.quietSince;
    const rssBefore = this.sources.rss();
    if (rssBefore < this.settled + this.opts.minGrowthBytes) {
      // Settled without us (V8's own reducer, or little was allocated): the new baseline.
      this.settled = Math.min(this.settled, rssBefore);
      return null;
    }
    const t0 = this.opts.now();
    this.collect();
    const trimmed = { rssBefore, rssAfter: this.sources.rss(), ms: this.opts.now() - t0 };
    this.settled = trimmed.rssAfter;
    this.onTrim(trimmed);
    return trimmed;
  }
}

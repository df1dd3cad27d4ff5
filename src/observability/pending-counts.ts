/**
 * Additions to a prom-client counter, summed in plain numbers and handed to the counter when
 * it is read (its `collect`, which prom-client runs before every read of the metric).
 *
 * Why (issue 16, per-request cost): the token counts of every activity row went to
 * prom-client at once, and each child `inc` hashes its label set again (about 0.15 µs a call,
 * two calls a request). Here a request adds to a number; a scrape pays one `inc` per series.
 *
 * What a scrape shows is unchanged: the same sums (whole token counts add up exactly), and
 * the series in the same order. prom-client lists a counter's series in the order of their
 * first `inc`, so the series are handed on in the order they were first added to.
 */

/** What a counter child has to offer here (prom-client's `labels(...)` result). */
export interface Incrementable {
  inc(value: number): void;
}

/** One series' additions not yet handed to its counter. */
export class PendingCount {
  pending = 0;
  /** In the list of its {@link PendingCounts} (from its first addition on). */
  listed = false;

  constructor(
    private readonly owner: PendingCounts,
    readonly child: Incrementable,
  ) {}

  /** Adds `value` (> 0) to the series. */
  add(value: number): void {
    if (!this.listed) this.owner.list(this);
    this.pending += value;
  }
}

export class PendingCounts {
  /** Every series added to so far, in the order of its first addition. */
  private readonly counts: PendingCount[] = [];

  /** A series of the counter (its child), its additions held here until {@link flush}. */
  of(child: Incrementable): PendingCount {
    return new PendingCount(this, child);
  }

  list(count: PendingCount): void {
    count.listed = true;
    this.counts.push(count);
  }

  /** Hands what was added to the counter; for its `collect`. */
  flush(): void {
    for (const c of this.counts) {
      if (c.pending === 0) continue;
      const value = c.pending;
      c.pending = 0;
      c.child.inc(value);
    }
  }
}

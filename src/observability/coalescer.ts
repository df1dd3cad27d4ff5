/**
 * Rate-limits a notification: however often something changes, `fire` runs at most once
 * per interval, and a change is never lost (the last poke in an interval fires at its end).
 *
 * Watchers (the in-flight tracker, `/api/events`) are told of every change on hot paths; this
 * turns a burst of changes into one message, and holds a timer only while a change waits.
 */
export class Coalescer {
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param intervalMs the least time between two `fire`s
   * @param fire what to run; given the monotonic time (performance.now) the interval counts
   *   from, so a caller that stamps its message uses the same instant the spacing holds for
   * @param immediate whether a poke after a quiet interval fires synchronously (true) or from
   *   a timer of 0 ms (false: for callers that must not run `fire` inside their own caller,
   *   e.g. an actor's observer)
   */
  constructor(
    private readonly intervalMs: number,
    private readonly fire: (now: number) => void,
    private readonly immediate = true,
  ) {}

  /** Something changed: fire now, or once the interval since the last fire has passed. */
  poke(): void {
    if (this.timer) return;
    const wait = this.last + this.intervalMs - performance.now();
    if (wait <= 0 && this.immediate) return this.run();
    this.arm(wait);
  }

  private arm(wait: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      // Node measures a timer from the event loop's cached time, which lags the real time
      // by however long the current tick has run: under load a 250 ms timer fired after
      // 241 ms. Wait out the rest, so the interval holds by the monotonic clock.
      const left = this.last + this.intervalMs - performance.now();
      if (left > 0) return this.arm(left);
      this.run();
    }, Math.max(0, wait));
    // A pending notification must never keep the process alive on its own.
    this.timer.unref();
  }

  /** Drops a pending fire (the watched thing is gone, or nobody listens any more). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private run(): void {
    this.last = performance.now();
    this.fire(this.last);
  }
}

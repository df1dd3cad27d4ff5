/**
 * The text of "now" (a timestamp in a log line or an activity row), made at most once per
 * millisecond (issue 16: per-request cost).
 *
 * A busy proxy writes several access lines and activity rows within one millisecond, and
 * formatting a date (`toISOString`, or a Go layout built field by field, go-time.ts) cost
 * about 0.5-1 µs each time. Every format used here has at most millisecond resolution and is
 * a function of the epoch millisecond alone (the local time zone does not change inside one),
 * so the text made for a millisecond is the text of any instant in it.
 */
export class TimeText {
  private lastMs = Number.NaN;
  private last = '';

  /**
   * @param format the text of an epoch millisecond.
   * @param now the clock (tests pass their own; a mocked `Date.now` is followed too).
   */
  constructor(
    private readonly format: (ms: number) => string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The text of the current millisecond. */
  text(): string {
    const ms = this.now();
    if (ms !== this.lastMs) {
      this.last = this.format(ms);
      this.lastMs = ms;
    }
    return this.last;
  }
}

/** RFC 3339 in UTC with milliseconds, as `new Date().toISOString()` writes it. */
export const isoNow = new TimeText((ms) => new Date(ms).toISOString());

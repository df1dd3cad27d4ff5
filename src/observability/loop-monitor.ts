/**
 * Event-loop stall detection for `/health`. A timer that should fire every `intervalMs`
 * measures how late it fires; a lateness over `stallMs` is a stall, remembered for
 * `windowMs` so a health check that runs after the loop recovered still reports it.
 *
 * The timer is unref'd and costs a few microseconds twice a second.
 */
export interface Stall {
  ms: number;
  at: number;
}

export class LoopMonitor {
  private timer: NodeJS.Timeout | null = null;
  private expected = 0;
  private lastStall: Stall | null = null;

  constructor(
    private readonly intervalMs = 500,
    private readonly stallMs = 2_000,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): this {
    this.expected = this.now() + this.intervalMs;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One timer firing; exposed so tests can drive it. */
  tick(): void {
    const now = this.now();
    const late = now - this.expected;
    if (late >= this.stallMs) this.lastStall = { ms: late, at: now };
    this.expected = now + this.intervalMs;
  }

  /** A stall seen within the window, or null. */
  recentStall(): Stall | null {
    if (this.lastStall && this.now() - this.lastStall.at <= this.windowMs) return this.lastStall;
    return null;
  }
}

/**
 * Drives the pure FIFO core the way llama-swap's fifo_test.go drives FIFO against its
 * fakeEffects: events in, recorded effects out, process states set by the test.
 */
import type { Effect, EffectOf, Swapper } from '../../src/core/effects.ts';
import {
  initialFifoState,
  onAbandonCheck,
  onCancel,
  onProcessChange,
  onRequest,
  onServeDone,
  onShutdown,
  onSwapDone,
  onUnload,
  type FifoState,
  type Step,
} from '../../src/core/fifo.ts';

/** A fixed eviction set per target (fifo_test.go's stubPlanner). */
export function stubSwapper(evict: Record<string, string[]> = {}): Swapper {
  return (target) => evict[target] ?? [];
}

export type ProcState = 'stopped' | 'starting' | 'ready' | 'stopping';

export interface HarnessOptions {
  evict?: Record<string, string[]>;
  priority?: Record<string, number>;
  limit?: Record<string, number>;
}

export class FifoHarness {
  s: FifoState;
  readonly effects: Effect[] = [];
  private readonly swapper: Swapper;
  private n = 0;

  constructor(states: Record<string, ProcState>, opts: HarnessOptions = {}) {
    const models = Object.fromEntries(
      Object.keys(states).map((id) => [id, { concurrencyLimit: opts.limit?.[id], priority: opts.priority?.[id] }]),
    );
    this.s = initialFifoState(models);
    this.swapper = stubSwapper(opts.evict);
    for (const [id, st] of Object.entries(states)) this.setState(id, st);
  }

  private apply(step: Step): Effect[] {
    this.s = step.state;
    this.effects.push(...step.effects);
    return step.effects;
  }

  setState(model: string, st: ProcState): void {
    this.s = onProcessChange(this.s, model, {
      resident: st !== 'stopped',
      serving: st === 'ready',
      halted: false,
    });
  }

  /** The process refuses starts for a while (crash-loop backoff). */
  setBackoff(model: string, error: string, retryAfterMs: number): void {
    this.s = onProcessChange(this.s, model, {
      resident: false,
      serving: false,
      halted: false,
      backoff: { error, retryAfterMs },
    });
  }

  request(model: string): string {
    const reqId = `r${++this.n}`;
    this.apply(onRequest(this.s, { reqId, model }, this.swapper));
    return reqId;
  }

  cancel(reqId: string): void {
    this.apply(onCancel(this.s, reqId));
  }

  /** Completes the running swap whose target is `model` (as its done event would). */
  swapDone(model: string | null, error?: string, retryAfterMs?: number): void {
    const sw = this.s.active.find((a) => a.target === model);
    if (!sw) throw new Error(`no active swap for ${model}`);
    this.apply(onSwapDone(this.s, { swapId: sw.swapId, error, retryAfterMs }, this.swapper));
  }

  /** The abandon grace of `model`'s swap is over (the check the machine raises). */
  abandonCheck(model: string, seq?: number): void {
    const sw = this.s.active.find((a) => a.target === model);
    if (!sw) throw new Error(`no active swap for ${model}`);
    this.apply(onAbandonCheck(this.s, sw.swapId, seq ?? sw.abandonSeq));
  }

  serveDone(model: string): void {
    this.apply(onServeDone(this.s, model, this.swapper));
  }

  unload(targets?: string[]): Effect[] {
    return this.apply(onUnload(this.s, targets, this.swapper));
  }

  shutdown(): void {
    this.apply(onShutdown(this.s));
  }

  of<T extends Effect['type']>(type: T): EffectOf<T>[] {
    return this.effects.filter((e): e is EffectOf<T> => e.type === type);
  }

  served(model: string): number {
    return this.of('grantServe').filter((g) => g.model === model).length;
  }

  errored(model?: string): number {
    return this.of('grantError').filter((g) => model === undefined || g.model === model).length;
  }

  startsFor(model: string): number {
    return this.of('startSwap').filter((s) => s.target === model).length;
  }

  admission(reqId: string): EffectOf<'admit'> {
    const a = this.of('admit').find((e) => e.reqId === reqId);
    if (!a) throw new Error(`no admission for ${reqId}`);
    return a;
  }

  queuedModels(): string[] {
    return this.s.queue.map((r) => r.model);
  }

  waitersOf(model: string): number {
    return this.s.active.find((a) => a.target === model)?.waiters.length ?? 0;
  }
}

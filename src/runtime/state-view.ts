/**
 * The `/api/state` snapshot: every process with how long it has been in its state, running
 * swaps, every waiting request with the reason it waits, and admission against limits.
 *
 * The machines keep no clocks (their context stays pure data), so the times a process or a
 * swap entered its current state are recorded here, by watching the actors from outside: the
 * processes through the runtime's process-change stream, which follows a respawned actor.
 */
import type { StateValue } from 'xstate';
import { explainWaits, type WaitingRequest } from '../core/waiting-reasons.ts';
import { swapperOf, type SchedulerContext } from '../../machines/scheduler.machine.ts';
import { stateValuePath } from '../observability/statechart.ts';
import type { ProcessChanges, ProcessSnapshot } from './process-changes.ts';
import { describeProcess } from './process-view.ts';

/** The scheduler actor, as far as the view reads it. */
export interface SchedulerSnapshotSource {
  getSnapshot(): { context: SchedulerContext };
}

export interface ProcessState {
  model: string;
  state: string;
  /** ISO time the process entered `state`. */
  since: string;
  /** The OS process's id; null when there is none (stopped, backoff, shutdown). */
  pid: number | null;
  port: number | null;
  /**
   * Crashes: times the process exited while nobody stopped it, or failed to start. An
   * ordinary swap-in, unload or TTL stop is not one (it counted every start but the first).
   */
  restarts: number;
  /** Every start, swap-ins included. */
  starts: number;
  lastError: string | null;
  inFlight: number;
  /** When an idle model will be unloaded by its TTL, or null. */
  ttlDeadline: string | null;
  /** Dot path of the active leaf state (`running.ready.busy`); parallel leaves comma-separated. */
  value: string;
  /** The model sleeps instead of stopping when evicted (`sleepMode: enable`). */
  sleepMode: boolean;
}

export interface SwapState {
  /** Matrix routing: the set chosen and the cost (`set gv chosen: evicts q (cost 1)`). */
  why?: string;
  swapId: string;
  target: string | null;
  evicting: string[];
  waiters: number;
  since: string | null;
  cancelled: boolean;
}

export interface StateSnapshot {
  at: string;
  processes: ProcessState[];
  swaps: SwapState[];
  waiting: WaitingRequest[];
  admission: Record<string, { reserved: number; limit: number; inFlight: number }>;
}

interface Since {
  state: string;
  stateAt: number;
  /** The full state value (idle vs busy): the TTL counts from the last change of it. */
  value: string;
  valueAt: number;
}

/** Watches a runtime's actors and renders snapshots of it. */
export class StateView {
  private readonly since = new Map<string, Since>();
  private readonly swapsSince = new Map<string, number>();
  /** Why each swap evicts what it does, when the router says (matrix: the set chosen). */
  private readonly swapsWhy = new Map<string, string>();

  constructor(
    private readonly scheduler: SchedulerSnapshotSource,
    private readonly processes: ProcessChanges,
    // Wall time read off the monotonic clock: `/api/events` spaces its `state` messages by
    // performance.now (coalescer.ts), so their `at` stamps keep that spacing even while the
    // wall clock is stepped or slewed (a loaded test run saw two stamps 92 ms apart).
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    for (const model of processes.models()) this.record(model, processes.snapshot(model)!);
    processes.subscribe((model, snap) => this.record(model, snap));
  }

  /** Runs on every snapshot of every process (twice per request): kept to plain reads. */
  private record(model: string, snap: ProcessSnapshot): void {
    const state = describeProcess(snap).state;
    const value = stateValuePath(snap.value as StateValue);
    const prev = this.since.get(model);
    if (prev && prev.state === state && prev.value === value) return;
    const t = this.now();
    if (!prev || prev.state !== state) this.since.set(model, { state, stateAt: t, value, valueAt: t });
    else this.since.set(model, { ...prev, value, valueAt: t });
  }

  /** Called by the runtime when a swap actor starts. */
  swapStarted(swapId: string, why: string | null = null): void {
    this.swapsSince.set(swapId, this.now());
    if (why !== null) this.swapsWhy.set(swapId, why);
  }

  /**
   * Why one request waits now, or null when it does not (granted, refused, gone): what the
   * loading stream types as its status. Only the waits, not the whole snapshot: it is asked
   * on every tick of every loading stream.
   */
  waitOf(reqId: string): WaitingRequest | null {
    const ctx = this.scheduler.getSnapshot().context;
    const waking = new Set<string>();
    for (const model of Object.keys(ctx.processes)) {
      const snap = this.processes.snapshot(model);
      const state = snap ? describeProcess(snap).state : 'stopped';
      if (state === 'waking' || state === 'sleeping') waking.add(model);
    }
    return explainWaits(ctx.fifo, swapperOf(ctx), waking).find((w) => w.reqId === reqId) ?? null;
  }

  /** @param at the wall time to stamp it with; now by default (the same clock as {@link now}) */
  snapshot(at: number = this.now()): StateSnapshot {
    const ctx = this.scheduler.getSnapshot().context;
    const fifo = ctx.fifo;
    const iso = (t: number) => new Date(t).toISOString();
    const processes = Object.keys(ctx.processes)
      .sort()
      .map((model): ProcessState => {
        const cfg = ctx.processes[model]!;
        const snap = this.processes.snapshot(model);
        const view = snap ? describeProcess(snap) : null;
        const since = this.since.get(model);
        let port: number | null = null;
        try {
          port = Number(new URL(cfg.proxy).port) || null;
        } catch {
          /* a proxy URL was validated at load; keep null otherwise */
        }
        // The core counts requests in flight; a process only knows busy or idle.
        const inFlight = fifo.inFlight[model] ?? 0;
        const idle = view?.state === 'ready' && inFlight === 0;
        return {
          model,
          state: view?.state ?? 'stopped',
          since: iso(since?.stateAt ?? this.now()),
          pid: view?.pid ?? null,
          port,
          restarts: view?.crashes ?? 0,
          starts: view?.starts ?? 0,
          lastError: view?.lastError ?? null,
          inFlight,
          ttlDeadline: idle && cfg.ttlMs > 0 && since ? iso(since.valueAt + cfg.ttlMs) : null,
          value: stateValuePath((snap?.value as StateValue | undefined) ?? 'stopped'),
          sleepMode: cfg.sleepMode !== undefined,
        };
      });
    const live = new Set(fifo.active.map((sw) => sw.swapId));
    for (const id of this.swapsSince.keys()) if (!live.has(id)) this.swapsSince.delete(id);
    for (const id of this.swapsWhy.keys()) if (!live.has(id)) this.swapsWhy.delete(id);
    const swaps = fifo.active.map((sw): SwapState => {
      const t = this.swapsSince.get(sw.swapId);
      return {
        swapId: sw.swapId,
        target: sw.target,
        evicting: sw.evict,
        waiters: sw.waiters.length,
        since: t === undefined ? null : iso(t),
        cancelled: sw.cancelled,
        ...(this.swapsWhy.has(sw.swapId) ? { why: this.swapsWhy.get(sw.swapId)! } : {}),
      };
    });
    const admission = Object.fromEntries(
      Object.entries(fifo.models).map(([m, p]) => [m, { reserved: fifo.reserved[m] ?? 0, limit: p.limit, inFlight: fifo.inFlight[m] ?? 0 }]),
    );
    return {
      at: iso(at),
      processes,
      swaps,
      waiting: explainWaits(fifo, swapperOf(ctx), new Set(processes.filter((p) => p.state === 'waking' || p.state === 'sleeping').map((p) => p.model))),
      admission,
    };
  }
}

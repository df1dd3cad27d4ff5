/**
 * Model lifecycle events (starts and how they ended, stops and why), for `/metrics`.
 *
 * The machines keep no clocks and need not say why they stop: the runtime already hears every
 * cause through the notification actions it provides (`swapStarted` names the evictees of a
 * swap or an unload, `ttlExpired`, `exitedUnexpectedly`) and through its own `shutdown`. Each
 * cause is noted here as the model's pending stop reason; the stop itself is seen on the
 * process-change stream when the model's OS process is gone, and is reported with the reason
 * noted last. A note always comes before the stop it explains: a provided action runs inside
 * the transition that starts the stop (`swapStarted` even before the swap actor that sends
 * the STOP is spawned), and the stream hears the snapshot only after it.
 *
 * Every start ends exactly once: `failed` (it crashed, its health check failed or timed out:
 * the machine counted a crash), `aborted` (stopped before it was ready: a swap or unload
 * overtook it, its clients left, shutdown) or `ok`; and every `ok` start is followed by
 * exactly one stop. A wake from sleep (sleep mode) is no start, and a model put to sleep has
 * not stopped: its stop is counted when its process finally exits.
 */
import type { LifecycleEvent, LifecycleEvents, LifecycleListener, StartOutcome, StopReason } from '../observability/lifecycle-events.ts';
import type { ProcessSnapshot } from './process-changes.ts';
import { describeProcess } from './process-view.ts';

export type { LifecycleEvent, StartOutcome, StopReason } from '../observability/lifecycle-events.ts';

interface Tracked {
  /** Context `starts` last seen: a higher one is a new start. */
  starts: number;
  /** `crashes` when the current start began: a higher one when it ends means it failed. */
  crashesAtStart: number;
  /** When the current start began (clock ms); null when no start is under way. */
  startingSince: number | null;
  /** Ready since its last start, and not stopped yet. */
  loaded: boolean;
  reason: StopReason | null;
}

/** States whose OS process is gone (or never was). */
const GONE = new Set(['stopped', 'backoff', 'shutdown']);

export class ModelLifecycle implements LifecycleEvents {
  private readonly models = new Map<string, Tracked>();
  private readonly listeners = new Set<LifecycleListener>();
  /** Set by a shutdown: every stop from now on has this reason. */
  private final: StopReason | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Hears every lifecycle event from now on; returns the unsubscribe. */
  subscribe(listener: LifecycleListener): () => void {
    const entry: LifecycleListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** `model` is being stopped for `reason` (the stop is reported when its process is gone). */
  stopping(model: string, reason: StopReason): void {
    this.track(model).reason = reason;
  }

  /** The whole tree is shutting down (or being replaced by a reload): every stop from now on is that. */
  shuttingDown(reason: 'shutdown' | 'reload'): void {
    this.final ??= reason;
  }

  /** Fed every process snapshot (the runtime's process-change stream): plain reads unless something changed. */
  observe(model: string, snap: ProcessSnapshot, fresh = false): void {
    const t = this.track(model);
    const { starts, crashes } = snap.context;
    // A new process actor (a respawn after a throw, a reload's replacement) counts from 0, and
    // may already be starting when first seen: follow it.
    if (fresh || starts < t.starts) {
      t.starts = 0;
      t.crashesAtStart = 0;
    }
    if (starts > t.starts) {
      // A start can end and the next begin between two snapshots only through states the
      // stream reports, so a jump of more than one is not expected; count one either way.
      t.starts = starts;
      t.crashesAtStart = crashes;
      t.startingSince = this.now();
      t.loaded = false;
      t.reason = null;
      this.emit({ type: 'start', model });
    }
    const state = describeProcess(snap).state;
    if (t.startingSince !== null) {
      if (state === 'ready') {
        this.settle(model, t, 'ok');
        t.loaded = true;
      } else if (state === 'stopping' || GONE.has(state)) {
        this.settle(model, t, crashes > t.crashesAtStart ? 'failed' : 'aborted');
      }
    }
    if (t.loaded && GONE.has(state)) {
      t.loaded = false;
      const reason = this.final ?? t.reason ?? 'unknown';
      t.reason = null;
      this.emit({ type: 'stop', model, reason });
    }
  }

  private settle(model: string, t: Tracked, outcome: StartOutcome): void {
    const seconds = (this.now() - t.startingSince!) / 1000;
    t.startingSince = null;
    this.emit({ type: 'started', model, outcome, seconds });
  }

  private track(model: string): Tracked {
    let t = this.models.get(model);
    if (!t) {
      t = { starts: 0, crashesAtStart: 0, startingSince: null, loaded: false, reason: null };
      this.models.set(model, t);
    }
    return t;
  }

  private emit(event: LifecycleEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}

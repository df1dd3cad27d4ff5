/**
 * The vocabulary of model lifecycle events: what the runtime reports (runtime/model-lifecycle.ts)
 * and `/metrics` counts (lifecycle-metrics.ts). Here, so that observability imports no runtime.
 */

/** Why a loaded model stopped. */
export type StopReason = 'swap' | 'unload' | 'ttl' | 'crash' | 'shutdown' | 'reload' | 'unknown';
/** How a start ended: ready, failed (crashed or failed its health check), or stopped before ready. */
export type StartOutcome = 'ok' | 'failed' | 'aborted';

export type LifecycleEvent =
  | { type: 'start'; model: string }
  /** A start settled; `seconds` from its launch. */
  | { type: 'started'; model: string; outcome: StartOutcome; seconds: number }
  | { type: 'stop'; model: string; reason: StopReason };

export type LifecycleListener = (event: LifecycleEvent) => void;

/** Where lifecycle events come from: one per actor tree. */
export interface LifecycleEvents {
  /** Hears every event from now on; returns the unsubscribe. */
  subscribe(listener: LifecycleListener): () => void;
}

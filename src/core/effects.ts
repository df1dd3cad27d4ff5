/**
 * Types (and one message prefix) shared by the pure scheduler core, the machines, the runtime
 * and the HTTP layer, and by the tests.
 *
 * Everything here is plain, JSON-serialisable data: the scheduler's whole state shows in the
 * XState inspector, and tests compare effect arrays with `toEqual`.
 */

/** One client request, as the scheduler sees it: an id and the (resolved) model id. */
export interface Req {
  reqId: string;
  model: string;
}

/**
 * Why a request got no handler: a stable code and the facts behind it. The core owns the
 * codes; every status and every word a client reads belong to the HTTP error catalogue
 * (src/http/error-catalogue.ts), so the two cannot drift apart.
 */
export type SchedErrorCode =
  /** The model is not configured. */
  | 'MODEL_NOT_FOUND'
  /** The model's `concurrencyLimit` is reached. */
  | 'CONCURRENCY_LIMIT'
  /** The start the request waited for failed. */
  | 'SWAP_FAILED'
  /** An unload took the model away while the request waited. */
  | 'MODEL_UNLOADED'
  /** swapstate is shutting down (or its scheduler has failed): nothing is served any more. */
  | 'SHUTTING_DOWN'
  /** The model failed to start repeatedly and refuses starts for a while (crash-loop protection). */
  | 'BACKING_OFF';

export interface SchedError {
  code: SchedErrorCode;
  /**
   * The failure underneath, in the words of what failed, when there is one: the start's
   * error as the process reported it (SWAP_FAILED; BACKING_OFF: the last failed start), or
   * the scheduler actor's error (SHUTTING_DOWN after a failure). Never swapstate's wording.
   */
  message?: string;
  /** For BACKING_OFF: the model that refuses starts. */
  model?: string;
  /** For BACKING_OFF: how long until the model may be started again. */
  retryAfterMs?: number;
  /**
   * For SWAP_FAILED: the start failed right after these models were evicted, was retried
   * once, and failed again; the client's wait covers both attempts.
   */
  retriedAfterEvicting?: string[];
}

/**
 * How a start that never turned healthy begins its `error` (`health check timed out after
 * 15s`, llama-swap's words), and so the message of the SWAP_FAILED it becomes. That message
 * states a duration, so the HTTP layer adds the time the client really waited (an eviction
 * before the start, a retry after it). Here, beside SchedError, because both ends read it:
 * the process machine writes it, the HTTP layer recognises it.
 */
export const HEALTH_CHECK_TIMEOUT_PREFIX = 'health check timed out after ';

/**
 * What the core asks the world to do. The scheduler machine turns each into a named action.
 *
 * Exactly-once rule: every request gets one `admit`; an admitted request then gets exactly
 * one of `grantServe` / `grantError`, unless it is cancelled first.
 */
export type Effect =
  /** Admission decided; `error` set means rejected (unknown model, over the limit, ...). */
  | { type: 'admit'; reqId: string; model: string; error?: SchedError }
  /** The request may be proxied to `model` now; it must be answered by SERVE_DONE later. */
  | { type: 'grantServe'; reqId: string; model: string }
  /** The request fails with `error`. */
  | { type: 'grantError'; reqId: string; model: string; error: SchedError }
  /** Start a swap actor: stop `evict` in parallel, then make `target` ready (none: unload). */
  /** `retire`: an unload that stops a model a reload replaced, removed or now forbids. */
  | { type: 'startSwap'; swapId: string; target: string | null; evict: string[]; running: string[]; retire?: true }
  /**
   * The queue changed; 1-based positions of every queued request, in queue order. Made by
   * {@link queuePositions}: `positions` is computed when first read, and `queue` (not
   * enumerable) is the queue itself, so a reader that needs one request's place does not make
   * a list of all of them (a queue of n requests costs O(n) per event that changes it).
   */
  | { type: 'queuePositions'; positions: Array<{ reqId: string; position: number }>; readonly queue?: readonly Req[] }
  /**
   * Every client waiting on this start has gone. If none has come back after the grace,
   * the machine answers with ABANDON_CHECK carrying `seq` (swapstate; llama-swap #727).
   */
  | { type: 'swapAbandoned'; swapId: string; seq: number }
  /** Stop the swap: nobody wants its model any more (abandoned, or unloaded meanwhile). */
  | { type: 'abortSwap'; swapId: string; target: string; reason: string }
  /** An unload has finished (its models are stopped). */
  | { type: 'unloaded'; swapId: string; ticket: string | null; targets: string[]; error?: string }
  /**
   * A model a reload changed, removed or found in the way of the new rules is stopped and
   * idle: replace its process by one from the new config, or forget it (src/core/fifo.ts).
   */
  | { type: 'retired'; model: string; kind: RetireKind };

/**
 * Why a reload stops a running model once it is idle: its process is not what the config
 * describes (`replace`), it is gone from the config (`remove`), or it may not run beside
 * the others under the new groups or matrix (`rules`).
 */
export type RetireKind = 'replace' | 'remove' | 'rules';

export type EffectType = Effect['type'];

/** The slice of an effect union with the given type. */
export type EffectOf<T extends EffectType> = Extract<Effect, { type: T }>;

/** Pick-an-eviction-set policy: given a target and what is running, which models must stop. */
export type Swapper = (target: string, running: readonly string[]) => string[];

/**
 * A `queuePositions` effect for `queue` whose positions list is built only when read (and
 * then once). A burst queues thousands of requests, one step each: listing every position at
 * every step made the burst O(n²) in allocations, though nobody reads most of those lists.
 * `queue` is not enumerable, so the effect compares and prints as the plain one.
 */
export function queuePositions(queue: readonly Req[]): EffectOf<'queuePositions'> {
  let positions: Array<{ reqId: string; position: number }> | null = null;
  const effect = { type: 'queuePositions' } as EffectOf<'queuePositions'>;
  Object.defineProperty(effect, 'positions', {
    enumerable: true,
    get: () => (positions ??= queue.map((r, i) => ({ reqId: r.reqId, position: i + 1 }))),
  });
  Object.defineProperty(effect, 'queue', { enumerable: false, value: queue });
  return effect;
}

/**
 * The process protocol: everything the scheduler and swap actors know about a model process.
 *
 * The scheduler and swaps send only these events and read only these tags. They never look
 * at state names, so a machine that adds states (for example `sleeping` / `waking` for vLLM
 * sleep mode) plugs in without touching them, as long as it keeps this contract:
 *
 * - every state that is not final handles `ENSURE_READY` and `STOP`;
 * - every transition into a settled state answers every waiter
 *   (`PROCESS.READY`, `PROCESS.FAILED` or `PROCESS.STOPPED`), so no caller is stranded
 *   (llama-swap #946: a stop path that forgot its waiters hung every later request);
 * - tags describe what the scheduler may assume (see {@link ProcessTag}).
 */
import type { AnyActorRef } from 'xstate';

/**
 * A process actor's input: everything it needs to know from the config, with units resolved
 * to ms. The scheduler hands one to each process it spawns.
 */
export interface ProcessConfig {
  model: string;
  cmd: string;
  cmdStop?: string | undefined;
  env: Record<string, string>;
  /** Base URL of the upstream (`proxy`), e.g. http://127.0.0.1:5800. */
  proxy: string;
  /** Path probed for health, or `none`: ready as soon as the process has spawned. */
  checkEndpoint: string;
  healthCheckTimeoutMs: number;
  healthCheckIntervalMs: number;
  /** Unload after this long idle; 0 never. */
  ttlMs: number;
  /** Grace before SIGKILL for unloads and TTL (`unloadTimeout`). */
  unloadGraceMs: number;
  /**
   * vLLM sleep mode (llmsnap's `sleepMode: enable`): the HTTP calls that put the model to
   * sleep and wake it, in order. Set, an eviction or a TTL sleeps the model instead of
   * stopping it (machines/process.sleep.ts); unset, the model is stopped as always.
   */
  sleepMode?: SleepModeCalls | undefined;
}

/** One HTTP call of a sleep or wake sequence, against the model's proxy URL. */
export interface SleepCall {
  /** Path and query, macros expanded (`/sleep?level=1`). */
  endpoint: string;
  method: string;
  /** Request body; '' sends none. */
  body: string;
  timeoutMs: number;
}

export interface SleepModeCalls {
  sleep: SleepCall[];
  wake: SleepCall[];
}

/** Tags a process state may carry; the scheduler's only view of a process. */
export const ProcessTag = {
  /**
   * The model holds the resources eviction is about (VRAM, RAM): a swap stops it to make room.
   * Carried by the states that hold it (starting, ready, stopping), not by every state whose
   * OS process is alive: a model asleep with its weights offloaded is not resident.
   */
  resident: 'resident',
  /** Requests may be granted to it right now (the fast path). */
  serving: 'serving',
  /**
   * Not resident, yet its OS process lives (asleep in sleep mode): an unload of every model
   * stops it too. Resident states need not carry it.
   */
  live: 'live',
  /** The process accepts no more starts: swapstate is shutting down and it has stopped. */
  halted: 'halted',
  /**
   * Starts fail at once for a while (crash-loop protection). A process in such a state keeps
   * `context.lastError` and `context.backoffMs`, which the scheduler reports to callers.
   */
  backoff: 'backoff',
} as const;
export type ProcessTag = (typeof ProcessTag)[keyof typeof ProcessTag];

/** Make the model ready; the reply is `PROCESS.READY` or `PROCESS.FAILED`. */
export interface EnsureReadyEvent {
  type: 'ENSURE_READY';
  replyTo: AnyActorRef;
}

/**
 * Stop the model; the reply is `PROCESS.STOPPED` once its process group is gone.
 * `graceMs` is how long it may take to exit after `cmdStop`/SIGTERM before the group is
 * SIGKILLed; it depends on who asks (unload, eviction, shutdown: reference section 4.6).
 */
export interface StopEvent {
  type: 'STOP';
  replyTo?: AnyActorRef;
  graceMs?: number;
  reason?: string;
  /**
   * Set by a swap that needs the model's resources for another model (not by an unload): a
   * process that can free them without stopping (sleep mode) may do so instead, and answers
   * `PROCESS.STOPPED` once they are free, that is once it is no longer `resident`.
   */
  evicting?: boolean;
}

/** Stop for good: like STOP, then refuse every later start. */
export interface ShutdownEvent {
  type: 'SHUTDOWN';
  graceMs?: number;
}

/**
 * The model has requests in flight / has none left. They keep the TTL from running while
 * busy. The scheduler sends them when its count turns from 0 to 1 and back (the count is the
 * core's); a process also balances any number of them, one per request.
 */
export interface AcquireEvent {
  type: 'ACQUIRE';
}
export interface ReleaseEvent {
  type: 'RELEASE';
}

/**
 * New settings for the running process, from a reloaded config: only what applies without a
 * restart differs (ttl, unloadTimeout, health-check timing; src/core/reload-plan.ts decides).
 * A process idle in `ready` whose ttl changed starts its countdown again with the new ttl.
 */
export interface ConfigureEvent {
  type: 'CONFIGURE';
  cfg: ProcessConfig;
}

export type ProcessCommand = EnsureReadyEvent | StopEvent | ShutdownEvent | AcquireEvent | ReleaseEvent | ConfigureEvent;

/** Replies a process sends to `replyTo`. */
export interface ProcessReadyReply {
  type: 'PROCESS.READY';
  model: string;
}
/** How a start that never turned healthy begins its `error` (defined beside SchedError, which carries it on). */
export { HEALTH_CHECK_TIMEOUT_PREFIX } from '../src/core/effects.ts';

export interface ProcessFailedReply {
  type: 'PROCESS.FAILED';
  model: string;
  error: string;
  /** Set when the start was refused for a while (backoff): retry after this long. */
  retryAfterMs?: number;
}
export interface ProcessStoppedReply {
  type: 'PROCESS.STOPPED';
  model: string;
}
export type ProcessReply = ProcessReadyReply | ProcessFailedReply | ProcessStoppedReply;

/** The system id under which the scheduler registers a model's process actor. */
export function processSystemId(model: string): string {
  return `process:${model}`;
}

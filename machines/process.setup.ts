/**
 * The process machine's vocabulary: its context, its events, and every named implementation
 * its states refer to (actions, guards, delays, and placeholders for the `os` and `health`
 * actors). machines/process.machine.ts draws the states from these names; an extension
 * (machines/process.extension.ts) adds names of its own beside them.
 *
 * Nothing here does I/O: the real `os` and `health` actors come from src/runtime, fakes from
 * the tests, through `machine.provide()`.
 */
import { assign, enqueueActions, fromCallback, fromPromise, raise, sendTo, setup, type AnyActorRef } from 'xstate';
import type { HealthCheckInput, OsCommand, OsEvent, OsExitedEvent, OsProcessInput } from './os.protocol.ts';
import { HEALTH_CHECK_TIMEOUT_PREFIX, type ProcessCommand, type ProcessConfig, type ProcessTag } from './process.protocol.ts';

export type { ProcessConfig } from './process.protocol.ts';

/** Grace after a failed or aborted start (llama-swap: 5 s). */
export const START_FAILURE_GRACE_MS = 5_000;

/**
 * Crash-loop protection: after this many failed starts in a row the process backs off,
 * refusing starts for 1 s, then 2 s, 4 s ... up to 60 s, instead of retrying a broken command
 * for every request (llama-swap retries from scratch each time, forever).
 */
export const CRASH_LOOP_THRESHOLD = 3;
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 60_000;

/** Backoff after `failures` failed starts in a row (>= the threshold). */
export function backoffFor(failures: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - CRASH_LOOP_THRESHOLD));
}

export interface ProcessContext {
  cfg: ProcessConfig;
  /** Callers of ENSURE_READY not yet answered. Refs: stripped from inspection output. */
  ensureWaiters: AnyActorRef[];
  /** Callers of STOP not yet answered. */
  stopWaiters: AnyActorRef[];
  /** An ENSURE_READY arrived while stopping: start again once stopped (#946). */
  pendingStart: boolean;
  shuttingDown: boolean;
  /** Grace of the stop in progress, chosen by whoever asked (reference 4.6). */
  stopGraceMs: number;
  /** The OS process's id while it exists; null once it has exited (stopped). */
  pid: number | null;
  lastError: string | null;
  /** Granted requests not yet released; counted in every state so a late RELEASE is never lost. */
  inFlight: number;
  /** How many times the process was started (every swap-in counts). */
  starts: number;
  /**
   * How many times it crashed: exited while nobody stopped it, or failed to start (exited
   * while starting, or its health check failed or timed out). Swaps and unloads never count.
   */
  crashes: number;
  /** Failed starts since the last time it was ready. */
  consecutiveFailures: number;
  /** Set by the failure that crossed the threshold: back off once stopped. */
  backoffDue: boolean;
  /** Length of the current (or last) backoff. */
  backoffMs: number;
}

/** Raised by the machine itself: the grace of a SHUTDOWN that found a stop under way is over. */
export interface ShutdownGraceOverEvent {
  type: 'SHUTDOWN_GRACE_OVER';
}

export type ProcessEvent = ProcessCommand | OsEvent | ShutdownGraceOverEvent;

/** Placeholder I/O actors: the runtime or a test must provide real ones. */
const osPlaceholder = fromCallback<OsCommand, OsProcessInput>(() => {
  throw new Error('process machine: no `os` actor provided');
});
const healthPlaceholder = fromPromise<void, HealthCheckInput>(() => {
  throw new Error('process machine: no `health` actor provided');
});

/**
 * Whether a waiter still listens. A swap that asked for a stop or a start may itself have been
 * stopped since (an unload overtook it); its answer would go nowhere, and XState warns about
 * every event sent to a stopped actor.
 */
function listening(ref: AnyActorRef): boolean {
  return ref.getSnapshot().status === 'active';
}

/** The longest delay `setTimeout` takes (about 24.8 days); longer ones fire after 1 ms. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export const processSetup = setup({
  types: {
    context: {} as ProcessContext,
    events: {} as ProcessEvent,
    input: {} as ProcessConfig,
    tags: {} as ProcessTag,
  },
  actors: { os: osPlaceholder, health: healthPlaceholder },
  actions: {
    addEnsureWaiter: assign({
      ensureWaiters: ({ context, event }) =>
        event.type === 'ENSURE_READY' ? [...context.ensureWaiters, event.replyTo] : context.ensureWaiters,
    }),
    addStopWaiter: assign({
      stopWaiters: ({ context, event }) =>
        event.type === 'STOP' && event.replyTo ? [...context.stopWaiters, event.replyTo] : context.stopWaiters,
    }),
    /** Take the grace of the STOP / SHUTDOWN that started this stop (or the unload default). */
    takeGrace: assign({
      stopGraceMs: ({ context, event }) =>
        (event.type === 'STOP' || event.type === 'SHUTDOWN') && event.graceMs !== undefined
          ? event.graceMs
          : context.cfg.unloadGraceMs,
    }),
    useUnloadGrace: assign({ stopGraceMs: ({ context }) => context.cfg.unloadGraceMs }),
    useStartFailureGrace: assign({ stopGraceMs: START_FAILURE_GRACE_MS }),
    markShuttingDown: assign({ shuttingDown: true, pendingStart: false }),
    markPendingStart: assign({ pendingStart: true }),
    clearPendingStart: assign({ pendingStart: false }),
    countStart: assign({ starts: ({ context }) => context.starts + 1, pid: null }),
    recordPid: assign({ pid: ({ context, event }) => (event.type === 'OS.SPAWNED' ? event.pid : context.pid) }),
    /** The process is gone: its pid may already belong to another one. */
    clearPid: assign({ pid: null }),
    countCrash: assign({ crashes: ({ context }) => context.crashes + 1 }),
    clearLastError: assign({ lastError: null }),
    /** A reload's new settings (CONFIGURE); the server's own config is the same. */
    // (A graph traversal sends events without their payload: no cfg, no change.)
    configure: assign({ cfg: ({ context, event }) => (event.type === 'CONFIGURE' ? (event.cfg ?? context.cfg) : context.cfg) }),
    acquire: assign({ inFlight: ({ context }) => context.inFlight + 1 }),
    release: assign({ inFlight: ({ context }) => Math.max(0, context.inFlight - 1) }),

    /** READY to every ENSURE_READY waiter. */
    answerReady: enqueueActions(({ context, enqueue }) => {
      for (const ref of context.ensureWaiters.filter(listening)) enqueue.sendTo(ref, { type: 'PROCESS.READY', model: context.cfg.model });
      enqueue.assign({ ensureWaiters: [] });
    }),
    /** READY to the caller at once: the model already is. */
    replyReady: sendTo(
      ({ event }) => (event as { replyTo: AnyActorRef }).replyTo,
      ({ context }) => ({ type: 'PROCESS.READY' as const, model: context.cfg.model }),
    ),
    /** STOPPED to the caller at once: nothing runs. */
    replyStopped: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'STOP' && event.replyTo) {
        enqueue.sendTo(event.replyTo, { type: 'PROCESS.STOPPED', model: context.cfg.model });
      }
    }),
    /** FAILED to the caller at once (a start asked of a halted process). */
    replyHalted: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'ENSURE_READY') {
        enqueue.sendTo(event.replyTo, {
          type: 'PROCESS.FAILED',
          model: context.cfg.model,
          error: 'swapstate is shutting down',
        });
      }
    }),
    /** STOPPED to every STOP waiter. */
    answerStopped: enqueueActions(({ context, enqueue }) => {
      for (const ref of context.stopWaiters.filter(listening)) enqueue.sendTo(ref, { type: 'PROCESS.STOPPED', model: context.cfg.model });
      enqueue.assign({ stopWaiters: [] });
    }),
    /** FAILED to every ENSURE_READY waiter, remembering why (shown by /running later). */
    failStart: enqueueActions(({ context, enqueue }, params: { error: string; counts?: boolean }) => {
      for (const ref of context.ensureWaiters.filter(listening)) {
        enqueue.sendTo(ref, { type: 'PROCESS.FAILED', model: context.cfg.model, error: params.error });
      }
      // An aborted or refused start says nothing about the command; a failed one does.
      const failures = params.counts ? context.consecutiveFailures + 1 : context.consecutiveFailures;
      enqueue.assign({
        ensureWaiters: [],
        pendingStart: false,
        lastError: params.error,
        consecutiveFailures: failures,
        crashes: params.counts ? context.crashes + 1 : context.crashes,
        backoffDue: params.counts === true && failures >= CRASH_LOOP_THRESHOLD,
      });
    }),
    startBackoff: assign(({ context }) => ({ backoffDue: false, backoffMs: backoffFor(context.consecutiveFailures) })),
    resetFailures: assign({ consecutiveFailures: 0, backoffDue: false }),
    /** FAILED at once, with how long to wait: the model is backing off. */
    replyBackingOff: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ENSURE_READY') return;
      enqueue.sendTo(event.replyTo, {
        type: 'PROCESS.FAILED',
        model: context.cfg.model,
        error: context.lastError ?? 'start failed',
        retryAfterMs: context.backoffMs,
      });
    }),
    recordError: assign((_, params: { error: string }) => ({ lastError: params.error })),
    /** Notifications for the log; no-ops here, provided by the runtime. */
    ttlExpired: (_, _params: { model: string; ttlMs: number }) => {},
    exitedUnexpectedly: (_, _params: { model: string; code: number | null; signal: string | null; stderrTail: string[] }) => {},
    /** A start failed (exit, spawn error, port taken, health timeout): what the waiters were told. */
    startFailed: (_, _params: { model: string; error: string }) => {},
    /** A SHUTDOWN found a stop under way: its grace may only cut that stop shorter. */
    armShutdownGrace: raise({ type: 'SHUTDOWN_GRACE_OVER' as const }, {
      delay: ({ context, event }) => (event.type === 'SHUTDOWN' && event.graceMs !== undefined ? event.graceMs : context.cfg.unloadGraceMs),
    }),
    term: sendTo('os', ({ context }) => ({ type: 'OS.TERM' as const, graceMs: context.stopGraceMs })),
    kill: sendTo('os', { type: 'OS.KILL' }),
  },
  guards: {
    pendingStart: ({ context }) => context.pendingStart,
    shuttingDown: ({ context }) => context.shuttingDown,
    noHealthCheck: ({ context }) => context.cfg.checkEndpoint === 'none',
    hasTtl: ({ context }) => context.cfg.ttlMs > 0,
    ttlChanged: ({ context, event }) => event.type === 'CONFIGURE' && event.cfg !== undefined && event.cfg.ttlMs !== context.cfg.ttlMs,
    busy: ({ context }) => context.inFlight > 0,
    lastRelease: ({ context }) => context.inFlight <= 1,
    spawnFailed: ({ event }) => event.type === 'OS.EXITED' && event.error !== undefined,
    backoffDue: ({ context }) => context.backoffDue,
  },
  delays: {
    healthCheckTimeout: ({ context }) => context.cfg.healthCheckTimeoutMs,
    // No TTL: a timer that never fires in practice (the guard still refuses it if it does),
    // not a 0 ms one that woke the process, and the scheduler, after every request.
    ttl: ({ context }) => (context.cfg.ttlMs > 0 ? context.cfg.ttlMs : LONGEST_TIMER_MS),
    stopGrace: ({ context }) => context.stopGraceMs,
    backoff: ({ context }) => context.backoffMs,
  },
});

/**
 * Why a start failed. llama-swap's words come first, so clients matching them still match;
 * then how the process ended and the last lines it wrote to stderr (already made safe by the
 * runtime), e.g. `upstream command exited prematurely (exit code 1): error: model file not found`.
 */
export function startExitError(event: OsEvent): string {
  if (event.type !== 'OS.EXITED') return 'upstream command exited prematurely';
  if (event.error) return event.error;
  const how = exitDescription(event);
  const tail = event.stderrTail ?? [];
  return `upstream command exited prematurely${how ? ` (${how})` : ''}${tail.length > 0 ? `: ${tail.join(' | ')}` : ''}`;
}

/** `exit code 1`, `signal SIGKILL`, or '' when neither is known. */
export function exitDescription(event: Pick<OsExitedEvent, 'code' | 'signal'>): string {
  if (event.signal !== null) return `signal ${event.signal}`;
  if (event.code !== null) return `exit code ${event.code}`;
  return '';
}

/** `health check timed out after 15s`: llama-swap's words for a start that never turned healthy. */
export function healthTimeoutError(cfg: ProcessConfig): string {
  return `${HEALTH_CHECK_TIMEOUT_PREFIX}${Math.round(cfg.healthCheckTimeoutMs / 1000)}s`;
}


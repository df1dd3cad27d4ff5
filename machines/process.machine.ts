/**
 * One model's upstream server process, as an XState machine.
 *
 * ```
 * stopped ──ENSURE_READY──▶ running [resident]                       (invokes `os`: the OS process)
 *                            ├─ starting: launching ─OS.SPAWNED─▶ probing (invokes `health`)
 *                            │     (launching: the `os` actor may first wait for the port)
 *                            │     health 200 / checkEndpoint none ─▶ ready
 *                            │     health timeout, exit, STOP ─▶ waiters FAILED
 *                            ├─ ready [serving]: idle ⇄ busy (ACQUIRE / RELEASE); idle after ttl ─▶ stopping
 *                            └─ stopping: OS.TERM (cmdStop or SIGTERM to the group), OS.KILL after the grace
 *                                  ENSURE_READY here restarts once stopped (llama-swap #946)
 * stopped ◀── OS.EXITED (from anywhere in running)
 * shutdown [halted]: refuses starts, answers everything
 * ```
 *
 * The machine does no I/O. The `os` and `health` actors are placeholders supplied at run time
 * (src/runtime) or by tests (fakes); the contract is machines/os.protocol.ts. The scheduler
 * talks to it only through machines/process.protocol.ts.
 *
 * Every edge into a settled state answers the waiters it settles: READY on entering ready,
 * FAILED on every failure edge, STOPPED on entering stopped. This is the invariant whose
 * absence hung llama-swap (#946).
 */
import { assign, enqueueActions, fromCallback, fromPromise, raise, sendTo, setup, type AnyActorRef } from 'xstate';
import type { HealthCheckInput, OsCommand, OsEvent, OsExitedEvent, OsProcessInput } from './os.protocol.ts';
import { HEALTH_CHECK_TIMEOUT_PREFIX, type ProcessCommand } from './process.protocol.ts';

/** Everything a process needs to know from the config, with units resolved to ms. */
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
}

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
    tags: {} as 'resident' | 'serving' | 'halted' | 'backoff',
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

function healthTimeoutError(cfg: ProcessConfig): string {
  return `${HEALTH_CHECK_TIMEOUT_PREFIX}${Math.round(cfg.healthCheckTimeoutMs / 1000)}s`;
}

/** The core state configs; an extension adds states next to them (see process.sleep.ts). */
export const coreRunningStates = {
  starting: processSetup.createStateConfig({
    initial: 'launching',
    on: {
      ENSURE_READY: { actions: 'addEnsureWaiter' },
      STOP: {
        target: 'stopping',
        actions: [{ type: 'failStart', params: { error: 'aborted: model stopped while starting' } }, 'addStopWaiter', 'takeGrace'],
      },
      'OS.EXITED': {
        target: '#process.stopped',
        actions: [
          { type: 'failStart', params: ({ event }) => ({ error: startExitError(event), counts: true }) },
          { type: 'startFailed', params: ({ context, event }) => ({ model: context.cfg.model, error: startExitError(event) }) },
        ],
      },
    },
    states: {
      // The `os` actor may wait here for the model's port to be freed by a process of ours
      // that is still stopping (bounded by that process's grace), so the health check's
      // deadline starts with the first probe, as in llama-swap, not with the launch.
      launching: {
        on: {
          'OS.SPAWNED': [
            { guard: 'noHealthCheck', target: '#process.running.ready', actions: 'recordPid' },
            { target: 'probing', actions: 'recordPid' },
          ],
        },
      },
      probing: {
        after: {
          healthCheckTimeout: {
            target: '#process.running.stopping',
            actions: [
              { type: 'failStart', params: ({ context }) => ({ error: healthTimeoutError(context.cfg), counts: true }) },
              { type: 'startFailed', params: ({ context }) => ({ model: context.cfg.model, error: healthTimeoutError(context.cfg) }) },
              'useStartFailureGrace',
            ],
          },
        },
        invoke: {
          id: 'health',
          src: 'health',
          input: ({ context }) => ({
            model: context.cfg.model,
            url: joinUrl(context.cfg.proxy, context.cfg.checkEndpoint),
            intervalMs: context.cfg.healthCheckIntervalMs,
          }),
          onDone: { target: '#process.running.ready' },
          onError: {
            target: '#process.running.stopping',
            actions: [
              { type: 'failStart', params: ({ event }) => ({ error: `health check failed: ${String(event.error)}`, counts: true }) },
              {
                type: 'startFailed',
                params: ({ context, event }) => ({ model: context.cfg.model, error: `health check failed: ${String(event.error)}` }),
              },
              'useStartFailureGrace',
            ],
          },
        },
      },
    },
  }),
  ready: processSetup.createStateConfig({
    tags: ['serving'],
    entry: ['answerReady', 'clearLastError', 'resetFailures'],
    initial: 'idle',
    on: {
      ENSURE_READY: { actions: 'replyReady' },
      STOP: { target: 'stopping', actions: ['addStopWaiter', 'takeGrace'] },
    },
    states: {
      idle: {
        always: { guard: 'busy', target: 'busy' },
        on: { ACQUIRE: { target: 'busy', actions: 'acquire' } },
        after: {
          ttl: {
            guard: 'hasTtl',
            target: '#process.running.stopping',
            actions: [
              'useUnloadGrace',
              { type: 'ttlExpired', params: ({ context }) => ({ model: context.cfg.model, ttlMs: context.cfg.ttlMs }) },
            ],
          },
        },
      },
      busy: {
        on: {
          RELEASE: [{ guard: 'lastRelease', target: 'idle', actions: 'release' }, { actions: 'release' }],
        },
      },
    },
  }),
  stopping: processSetup.createStateConfig({
    entry: 'term',
    after: { stopGrace: { actions: 'kill' } },
    on: {
      'OS.EXITED': { target: '#process.stopped' },
      ENSURE_READY: [
        { guard: 'shuttingDown', actions: 'replyHalted' },
        { actions: ['addEnsureWaiter', 'markPendingStart'] },
      ],
      // The latest intent wins: a STOP after a restart request cancels the restart.
      STOP: {
        actions: [{ type: 'failStart', params: { error: 'aborted: model stopped before it could restart' } }, 'addStopWaiter'],
      },
      // Shutting down (or reloading) while a stop is under way: that stop goes on as it is,
      // with no second cmdStop or SIGTERM and its grace not restarted; the shutdown's grace
      // can only cut it shorter. (Re-entering `stopping` gave a model with 1 s left of its
      // unloadTimeout the whole 30 s reload grace.)
      SHUTDOWN: {
        actions: [{ type: 'failStart', params: { error: 'swapstate is shutting down' } }, 'markShuttingDown', 'armShutdownGrace'],
      },
      SHUTDOWN_GRACE_OVER: { actions: 'kill' },
    },
  }),
};

/** Extension points: extra states inside `running` and extra transitions out of `ready`. */
export interface ProcessExtension {
  /** States added beside starting / ready / stopping (the OS process is alive in them). */
  runningStates?: Record<string, unknown>;
  /** Transitions added to `ready` (e.g. SLEEP -> sleeping). */
  readyOn?: Record<string, unknown>;
  /** Implementations the added states name (actors, actions, guards). */
  actors?: Record<string, unknown>;
  actions?: Record<string, unknown>;
  guards?: Record<string, unknown>;
}

/**
 * Builds the process machine, optionally with an extension. The scheduler never needs to
 * know: it reads only tags and sends only protocol events.
 */
export function createProcessMachine(ext: ProcessExtension = {}) {
  // Extension implementations are referenced by name from the extension's own states, so
  // the core's typed setup is kept for the core states.
  const base = (
    ext.actions || ext.guards
      ? processSetup.extend({
          actions: (ext.actions ?? {}) as Record<string, never>,
          guards: (ext.guards ?? {}) as Record<string, never>,
        })
      : processSetup
  ) as typeof processSetup;
  const machine = base.createMachine({
    id: 'process',
    context: ({ input }) => ({
      cfg: input,
      ensureWaiters: [],
      stopWaiters: [],
      pendingStart: false,
      shuttingDown: false,
      stopGraceMs: input.unloadGraceMs,
      pid: null,
      lastError: null,
      inFlight: 0,
      starts: 0,
      crashes: 0,
      consecutiveFailures: 0,
      backoffDue: false,
      backoffMs: 0,
    }),
    initial: 'stopped',
    on: {
      ACQUIRE: { actions: 'acquire' },
      RELEASE: { actions: 'release' },
    },
    states: {
      stopped: {
        entry: ['clearPid', 'answerStopped'],
        always: [
          { guard: 'shuttingDown', target: 'shutdown' },
          { guard: 'backoffDue', target: 'backoff' },
          { guard: 'pendingStart', target: 'running', actions: 'clearPendingStart' },
        ],
        on: {
          ENSURE_READY: { target: 'running', actions: 'addEnsureWaiter' },
          STOP: { actions: 'replyStopped' },
          SHUTDOWN: { target: 'shutdown', actions: 'markShuttingDown' },
        },
      },
      running: {
        tags: ['resident'],
        entry: 'countStart',
        invoke: {
          id: 'os',
          src: 'os',
          input: ({ context }) => ({
            model: context.cfg.model,
            cmd: context.cfg.cmd,
            cmdStop: context.cfg.cmdStop,
            env: context.cfg.env,
            proxy: context.cfg.proxy,
          }),
          onError: {
            target: 'stopped',
            actions: { type: 'failStart', params: ({ event }) => ({ error: `process actor failed: ${String(event.error)}` }) },
          },
        },
        on: {
          // Only reached from ready (starting and stopping handle their own exits).
          'OS.EXITED': {
            target: 'stopped',
            actions: [
              'countCrash',
              { type: 'recordError', params: { error: 'upstream process exited unexpectedly' } },
              {
                type: 'exitedUnexpectedly',
                params: ({ context, event }) => ({
                  model: context.cfg.model,
                  code: event.type === 'OS.EXITED' ? event.code : null,
                  signal: event.type === 'OS.EXITED' ? event.signal : null,
                  stderrTail: event.type === 'OS.EXITED' ? (event.stderrTail ?? []) : [],
                }),
              },
            ],
          },
          SHUTDOWN: {
            target: '.stopping',
            actions: [
              { type: 'failStart', params: { error: 'swapstate is shutting down' } },
              'markShuttingDown',
              'takeGrace',
            ],
          },
        },
        initial: 'starting',
        states: {
          ...coreRunningStates,
          ready: { ...coreRunningStates.ready, on: { ...coreRunningStates.ready.on, ...(ext.readyOn as object) } },
          ...(ext.runningStates as Record<string, never>),
        },
      },
      /** Crash-loop protection: starts are refused until the backoff has passed. */
      backoff: {
        tags: ['backoff'],
        entry: 'startBackoff',
        after: { backoff: { target: 'stopped' } },
        on: {
          ENSURE_READY: { actions: 'replyBackingOff' },
          STOP: { actions: 'replyStopped' },
          SHUTDOWN: { target: 'shutdown', actions: 'markShuttingDown' },
        },
      },
      shutdown: {
        tags: ['halted'],
        entry: ['answerStopped', { type: 'failStart', params: { error: 'swapstate is shutting down' } }],
        on: {
          ENSURE_READY: { actions: 'replyHalted' },
          STOP: { actions: 'replyStopped' },
        },
      },
    },
  });
  return ext.actors ? machine.provide({ actors: ext.actors as never }) : machine;
}

/** The plain process machine. */
export const processMachine = createProcessMachine();
export type ProcessMachine = typeof processMachine;

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** What a process looks like from outside, for listings (`/running`, `/v1/models`). */
export interface ProcessView {
  /** stopped, starting, ready, stopping, shutdown, or a state an extension added. */
  state: string;
  /** Null unless the OS process exists. */
  pid: number | null;
  /** Every start, swap-ins included. */
  starts: number;
  /** Unexpected exits and failed starts (see ProcessContext.crashes). */
  crashes: number;
  inFlight: number;
  lastError: string | null;
  /** The OS process exists (tag `resident`): it counts as loaded. */
  loaded: boolean;
  /** Set while starts are refused after repeated failures. */
  backoff: { error: string; retryAfterMs: number } | null;
}

/**
 * Describes a process snapshot by its top-level state, and inside `running` by the running
 * sub-state (so an extension's `sleeping` shows as `sleeping`). For display only: decisions
 * are made from tags and protocol replies, never from this.
 */
export function describeProcess(snapshot: {
  value: unknown;
  context: ProcessContext;
  hasTag(tag: string): boolean;
}): ProcessView {
  const v = snapshot.value;
  let state = typeof v === 'string' ? v : Object.keys(v as object)[0] ?? 'stopped';
  if (state === 'running' && typeof v === 'object' && v !== null) {
    const inner = (v as Record<string, unknown>)['running'];
    state = typeof inner === 'string' ? inner : Object.keys(inner as object)[0] ?? state;
  }
  const c = snapshot.context;
  return {
    state,
    pid: c.pid,
    starts: c.starts,
    crashes: c.crashes,
    inFlight: c.inFlight,
    lastError: c.lastError,
    loaded: snapshot.hasTag('resident'),
    backoff: snapshot.hasTag('backoff') ? { error: c.lastError ?? 'start failed', retryAfterMs: c.backoffMs } : null,
  };
}

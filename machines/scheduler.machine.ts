/**
 * The scheduler: swapstate's root actor.
 *
 * ```
 * scheduler (systemId 'scheduler')      context: the pure core's FifoState (serialisable)
 *  ├─ process:<model> × N              spawned at start, syncSnapshot: tags are mirrored
 *  └─ swap:<model>#<n> / unload#<n>     one per swap, stopped when its done event arrives
 * ```
 *
 * A thin shell around src/core/fifo.ts: each event is handed to the pure decision tree and
 * the effects that come back are applied as named actions (`admit`, `grantServe`,
 * `grantError`, `queuePositions`, `unloaded`, `swapStarted`), which the runtime provides to
 * answer the waiting HTTP requests. Only protocol events go to processes and only tags are
 * read from them (machines/process.protocol.ts), so new process states need no change here.
 * Which process machine runs is not this file's choice either: `process` is a placeholder the
 * runtime provides (`startScheduler({ processLogic })`).
 */
import { enqueueActions, fromCallback, setup, type AnyActorLogic, type AnyActorRef } from 'xstate';
import type { Effect, EffectOf, Req, RetireKind, SchedError, Swapper } from '../src/core/effects.ts';
import type { MatrixSet } from '../src/core/matrix-dsl.ts';
import type { EvictCosts } from '../src/core/matrix-solver.ts';
import { matrixSwapper } from '../src/core/matrix-swapper.ts';
import {
  initialFifoState,
  onCancel,
  onProcessChange,
  onRequest,
  onServeDone,
  onShutdown,
  onSwapDone,
  onUnload,
  onAbandonCheck,
  onReconfigure,
  type FifoState,
  type Step,
} from '../src/core/fifo.ts';
import { evictForRules, planReload, type ReloadModel, type ReloadPlan } from '../src/core/reload-plan.ts';
import { groupSwapper, withDefaultGroup, type Groups } from '../src/core/group-swapper.ts';
import { ProcessTag, processSystemId, type ProcessCommand, type ProcessConfig } from './process.protocol.ts';
import { EVICTION_RETRY_DELAY_MS, swapMachine, type SwapInput, type SwapOutput } from './swap.machine.ts';

export interface SchedulerModel {
  process: ProcessConfig;
  concurrencyLimit?: number | undefined;
  priority?: number | undefined;
}

export interface SchedulerInput {
  models: Record<string, SchedulerModel>;
  /** Configured groups, without the implicit `(default)` one. */
  groups?: Groups | undefined;
  /**
   * Matrix routing (`routing.router.use: matrix`, or the legacy top-level `matrix`): when set,
   * the matrix solver decides what a swap evicts instead of the groups.
   */
  matrix?: MatrixRouting | null | undefined;
  /** Stop grace for models evicted by a swap (llama-swap: healthCheckTimeout). */
  evictGraceMs: number;
  /** How long a start may go on with nobody waiting before it is aborted (default 2000). */
  abandonedLoadGraceMs?: number | undefined;
}

/** The matrix router's settings: every combination of every set, and the evict costs. */
export interface MatrixRouting {
  sets: readonly MatrixSet[];
  evictCosts: EvictCosts;
}

export interface SchedulerContext {
  fifo: FifoState;
  groups: Groups;
  matrix: MatrixRouting | null;
  processes: Record<string, ProcessConfig>;
  evictGraceMs: number;
  abandonedLoadGraceMs: number;
  /** Grace for processes still running when SHUTDOWN arrives. */
  shutdownGraceMs: number;
  /**
   * Models whose process was told it is busy (ACQUIRE) and not yet that it is idle (RELEASE).
   * Differs from "requests in flight" during the idle settle (see IDLE_SETTLE_MS).
   */
  busyTold: Record<string, true>;
  /**
   * The process configs of the config loaded last, when a reload made them differ from
   * `processes` (the configs the live process actors run): a replaced model's process is
   * started from here once its old one has stopped. Absent until the first reload.
   */
  configured?: Record<string, ProcessConfig>;
}

export type SchedulerEvent =
  | { type: 'REQUEST'; reqId: string; model: string }
  | { type: 'CANCEL'; reqId: string }
  | { type: 'SERVE_DONE'; reqId: string; model: string }
  /**
   * Several REQUEST, SERVE_DONE and CANCEL events, handled in order in one macrostep, as if
   * sent one by one (src/runtime/ticket-batch.ts: the runtime's tickets of one event-loop turn).
   */
  | { type: 'TICKETS'; events: TicketEvent[] }
  /** Stop `targets` (every running model when omitted); answered by the `unloaded` action. */
  | { type: 'UNLOAD'; ticket: string; targets?: string[] | undefined }
  | { type: 'SHUTDOWN'; graceMs: number }
  /** Raised by the scheduler itself, abandonedLoadGraceMs after a swap lost its last waiter. */
  | { type: 'ABANDON_CHECK'; swapId: string; seq: number }
  /** Raised by the scheduler when a swap outlived its bound (the liveness watchdog). */
  | { type: 'SWAP_OVERDUE'; swapId: string }
  /** Raised by the scheduler IDLE_SETTLE_MS after a model's last request ended. */
  | { type: 'SETTLE_IDLE'; model: string }
  /**
   * A reloaded config: unchanged models keep their process, changed ones are replaced once
   * idle, removed ones stop once idle, new ones are added stopped, and running models that may
   * not run together under the new groups or matrix are stopped once idle (onReconfigure).
   */
  | { type: 'RECONFIGURE'; input: SchedulerInput };

/** The events a request's ticket sends; TICKETS carries several of them at once. */
export type TicketEvent =
  | { type: 'REQUEST'; reqId: string; model: string }
  | { type: 'CANCEL'; reqId: string }
  | { type: 'SERVE_DONE'; reqId: string; model: string };

/** Parameters of the named effect actions the runtime provides. */
export type AdmitParams = { reqId: string; model: string; error?: SchedError };
export type GrantServeParams = { reqId: string; model: string };
export type GrantErrorParams = { reqId: string; model: string; error: SchedError };
/**
 * `positions` is built when first read; `queue` is the queue itself (core/effects.ts
 * `queuePositions`), for a reader that only needs some requests' places.
 */
export type QueuePositionsParams = { positions: Array<{ reqId: string; position: number }>; readonly queue?: readonly Req[] | undefined };
export type UnloadedParams = { ticket: string | null; targets: string[]; error?: string };
/** `retire`: the unload stops a model a reload retires (core/fifo.ts startRetirements). */
export type SwapStartedParams = { swapId: string; target: string | null; evict: string[]; running: string[]; retire?: true };
export type ChildFailedParams = { actorId: string; error: string };
export type SwapAbortedParams = { swapId: string; target: string; reason: string };
export type SwapOverdueParams = { swapId: string; target: string | null; boundMs: number };
/** What a reload did: the plan, and the running models the new rules stop once idle. */
export type ReconfiguredParams = ReloadPlan & { rules: string[] };
export type ProcessRetiredParams = { model: string; kind: RetireKind };

/**
 * How long a model stays "busy" for its process after its last request ends. A client that
 * sends its requests one after another (a chat UI, a coding agent) makes the model go idle
 * and busy again around every request; told each time, the process took two transitions per
 * request, and the scheduler two snapshots of it, on the request's own path. Told only once
 * the model has been idle this long, it takes none. The process's TTL starts this much later.
 */
export const IDLE_SETTLE_MS = 100;

const settleId = (model: string) => `settle:${model}`;

/** Slack on top of a swap's own bounds before the watchdog calls it hung. */
export const WATCHDOG_MARGIN_MS = 10_000;

/**
 * The longest delay `setTimeout` honours (about 24.8 days); a longer one fires after 1 ms. The
 * config keeps each duration within it, but the watchdog adds several of them up.
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * How long a swap may take at most: its evictees' stop grace, then its target's health-check
 * timeout twice (the one retry after an eviction) plus the retry delay, plus a margin. Every
 * wait inside a swap is bounded by these; a swap that outlives the sum is stuck on something
 * that should not happen, and its waiters are answered rather than left hanging. Capped at the
 * longest timer, so huge (valid) durations make a late watchdog, never an instant one.
 */
export function swapBoundMs(context: SchedulerContext, target: string | null, evict: readonly string[]): number {
  const stopGrace = Math.max(
    0,
    ...evict.map((m) => (target === null ? (context.processes[m]?.unloadGraceMs ?? 0) : context.evictGraceMs)),
  );
  const start = target === null ? 0 : 2 * (context.processes[target]?.healthCheckTimeoutMs ?? 0) + EVICTION_RETRY_DELAY_MS;
  return Math.min(stopGrace + start + WATCHDOG_MARGIN_MS, LONGEST_TIMER_MS);
}

const PROCESS_PREFIX = 'process:';

/** The child ids the scheduler uses; the same strings are the actors' system ids. */
const childIds = {
  process: processSystemId,
  modelOf: (childId: string) => (childId.startsWith(PROCESS_PREFIX) ? childId.slice(PROCESS_PREFIX.length) : null),
};

/**
 * Placeholder: the runtime provides the process logic (any machine createProcessMachine
 * builds), so the process machine is chosen in one place.
 */
const processPlaceholder = fromCallback<ProcessCommand, ProcessConfig>(() => {
  throw new Error('scheduler: no `process` logic provided');
});

/**
 * What the scheduler reads of a process snapshot: its tags, and for a `backoff` state the two
 * context fields the protocol promises (ProcessTag.backoff).
 */
interface ProcessSnapshotEvent {
  type: `xstate.snapshot.${string}`;
  snapshot: { status?: string; hasTag?(tag: string): boolean; context: { lastError: string | null; backoffMs: number } };
}

/** A swap child finished (its output says how). */
interface SwapDoneEvent {
  type: `xstate.done.actor.${string}`;
  output: SwapOutput;
  actorId: string;
}

/** A child threw (a swap or a process). */
interface ChildErrorEvent {
  type: `xstate.error.actor.${string}`;
  error: unknown;
}

/**
 * XState's own events from the scheduler's children, as the actions that read them see them.
 * They are part of the machine's event type so those actions are typed like any other.
 */
type ChildEvent = ProcessSnapshotEvent | SwapDoneEvent | ChildErrorEvent;

const isSnapshotEvent = (e: { type: string }): e is ProcessSnapshotEvent => e.type.startsWith('xstate.snapshot.');
const isSwapDone = (e: { type: string }): e is SwapDoneEvent => e.type.startsWith('xstate.done.actor.');
const isChildError = (e: { type: string }): e is ChildErrorEvent => e.type.startsWith('xstate.error.actor.');

/**
 * The scheduler's vocabulary: context, events, actors and the effect actions the runtime
 * provides. The actions that run core steps are added on top of it (schedulerSetup), so
 * their `enqueue` is XState's own, typed by this setup: an action or event the scheduler
 * does not have is a type error there, with no cast in between.
 */
const schedulerBase = setup({
  types: {
    context: {} as SchedulerContext,
    events: {} as SchedulerEvent | ChildEvent,
    input: {} as SchedulerInput,
  },
  actors: {
    // Typed loosely: whatever process machine the runtime provides, the scheduler reads only its tags.
    process: processPlaceholder as AnyActorLogic,
    swap: swapMachine,
  },
  actions: {
    // The runtime's side of the effects; no-ops here so the machine stays pure.
    admit: (_, _params: AdmitParams) => {},
    grantServe: (_, _params: GrantServeParams) => {},
    grantError: (_, _params: GrantErrorParams) => {},
    queuePositions: (_, _params: QueuePositionsParams) => {},
    unloaded: (_, _params: UnloadedParams) => {},
    swapStarted: (_, _params: SwapStartedParams) => {},
    childFailed: (_, _params: ChildFailedParams) => {},
    swapAborted: (_, _params: SwapAbortedParams) => {},
    swapOverdue: (_, _params: SwapOverdueParams) => {},
    reconfigured: (_, _params: ReconfiguredParams) => {},
    processRetired: (_, _params: ProcessRetiredParams) => {},

    acquireProcess: enqueueActions(({ enqueue, system }, params: { model: string }) => {
      const ref = system.get(childIds.process(params.model)) as AnyActorRef | undefined;
      if (ref) enqueue.sendTo(ref, { type: 'ACQUIRE' });
    }),
    releaseProcess: enqueueActions(({ enqueue, system }, params: { model: string }) => {
      const ref = system.get(childIds.process(params.model)) as AnyActorRef | undefined;
      if (ref) enqueue.sendTo(ref, { type: 'RELEASE' });
    }),
  },
});

/** XState's enqueuer for the scheduler's setup: what a core step's effects are written into. */
type Enqueue = Parameters<Parameters<typeof schedulerBase.enqueueActions>[0]>[0]['enqueue'];

/**
 * Runs a core step: store the new state, turn its effects into named actions and spawns.
 *
 * A process hears only when its model turns busy (no request in flight -> one) or idle (the
 * last one done, and none since for IDLE_SETTLE_MS): that is all its `idle`/`busy` states and
 * TTL need, and the count itself is the core's. One ACQUIRE and one RELEASE per request cost
 * each request two more macrosteps of the process actor while it was busy anyway.
 */
function applyStep(enqueue: Enqueue, context: SchedulerContext, step: Step, store = true): Record<string, true> {
  if (store && step.state !== context.fifo) enqueue.assign({ fifo: step.state });
  const before = context.fifo.inFlight;
  const after = step.state.inFlight;
  let told = context.busyTold;
  if (after !== before) {
    for (const model of Object.keys(after)) {
      if ((before[model] ?? 0) > 0 || !((after[model] ?? 0) > 0)) continue;
      if (told[model]) {
        // Busy again within the settle: the process never learnt it was idle.
        enqueue.cancel(settleId(model));
      } else {
        enqueue({ type: 'acquireProcess', params: { model } });
        told = { ...told, [model]: true };
      }
    }
  }
  for (const e of step.effects) {
    if (e.type === 'retired') told = retireProcess(enqueue, context, e, told);
    else applyEffect(enqueue, context, e);
  }
  if (after !== before) {
    for (const model of Object.keys(before)) {
      if (!((before[model] ?? 0) > 0) || (after[model] ?? 0) > 0 || !told[model]) continue;
      enqueue.cancel(settleId(model));
      enqueue.raise({ type: 'SETTLE_IDLE', model }, { delay: IDLE_SETTLE_MS, id: settleId(model) });
    }
  }
  if (store && told !== context.busyTold) enqueue.assign({ busyTold: told });
  return told;
}

/** A ticket event's core step. */
function ticketStep(context: SchedulerContext, e: TicketEvent): Step {
  switch (e.type) {
    case 'REQUEST':
      return onRequest(context.fifo, { reqId: e.reqId, model: e.model }, swapperOf(context));
    case 'CANCEL':
      return onCancel(context.fifo, e.reqId);
    case 'SERVE_DONE':
      return onServeDone(context.fifo, e.model, swapperOf(context));
  }
}

/**
 * A retiring model has stopped: its process actor goes, and a replaced model gets a fresh one
 * from the new config (stopped; the queue's next request for it starts it). Returns `told`
 * without the model: the fresh process has been told nothing.
 */
function retireProcess(
  enqueue: Enqueue,
  context: SchedulerContext,
  e: EffectOf<'retired'>,
  told: Record<string, true>,
): Record<string, true> {
  enqueue({ type: 'processRetired', params: { model: e.model, kind: e.kind } });
  if (e.kind === 'rules') return told;
  const id = childIds.process(e.model);
  enqueue.stopChild(id);
  const cfg = e.kind === 'replace' ? (context.configured ?? context.processes)[e.model] : undefined;
  if (cfg) enqueue.spawnChild('process', { id, systemId: id, input: cfg, syncSnapshot: true });
  enqueue.assign(({ context: now }) => {
    const { [e.model]: _, ...rest } = now.processes;
    return { processes: cfg ? { ...rest, [e.model]: cfg } : rest };
  });
  if (!told[e.model]) return told;
  enqueue.cancel(settleId(e.model));
  const { [e.model]: _, ...rest } = told;
  return rest;
}

/** Tells a process its model is idle, unless a request came in since (then it was cancelled). */
function settleIdle(enqueue: Enqueue, context: SchedulerContext, model: string): void {
  if (!context.busyTold[model] || (context.fifo.inFlight[model] ?? 0) > 0) return;
  enqueue({ type: 'releaseProcess', params: { model } });
  const { [model]: _, ...rest } = context.busyTold;
  enqueue.assign({ busyTold: rest });
}

function applyEffect(enqueue: Enqueue, context: SchedulerContext, e: Effect): void {
  const q = enqueue;
  switch (e.type) {
    case 'admit':
      q({ type: 'admit', params: { reqId: e.reqId, model: e.model, ...(e.error ? { error: e.error } : {}) } });
      return;
    case 'grantServe':
      q({ type: 'grantServe', params: { reqId: e.reqId, model: e.model } });
      return;
    case 'grantError':
      q({ type: 'grantError', params: { reqId: e.reqId, model: e.model, error: e.error } });
      return;
    case 'queuePositions':
      // The effect itself: reading `positions` here would build the list for every step.
      q({ type: 'queuePositions', params: e });
      return;
    case 'unloaded':
      q({ type: 'unloaded', params: { ticket: e.ticket, targets: e.targets, ...(e.error ? { error: e.error } : {}) } });
      return;
    case 'swapAbandoned':
      enqueue.raise({ type: 'ABANDON_CHECK', swapId: e.swapId, seq: e.seq }, { delay: context.abandonedLoadGraceMs });
      return;
    case 'abortSwap':
      q({ type: 'swapAborted', params: { swapId: e.swapId, target: e.target, reason: e.reason } });
      enqueue.sendTo(e.swapId, { type: 'ABORT', reason: e.reason });
      return;
    case 'startSwap': {
      const input: SwapInput = {
        swapId: e.swapId,
        target: e.target,
        evict: e.evict,
        // Evictions wait up to healthCheckTimeout; unloads use each model's unloadTimeout.
        graceMs: e.target === null ? undefined : context.evictGraceMs,
      };
      q({ type: 'swapStarted', params: { swapId: e.swapId, target: e.target, evict: e.evict, running: e.running, ...(e.retire ? { retire: e.retire } : {}) } });
      enqueue.spawnChild('swap', { id: e.swapId, systemId: e.swapId, input });
      enqueue.raise(
        { type: 'SWAP_OVERDUE', swapId: e.swapId },
        { delay: swapBoundMs(context, e.target, e.evict), id: `overdue:${e.swapId}` },
      );
      return;
    }
  }
}

/** The scheduler's setup: its vocabulary, and the actions that run the core's decisions. */
export const schedulerSetup = schedulerBase.extend({
  actions: {
    spawnProcesses: schedulerBase.enqueueActions(({ context, enqueue }) => {
      for (const [model, cfg] of Object.entries(context.processes)) {
        const id = childIds.process(model);
        enqueue.spawnChild('process', { id, systemId: id, input: cfg, syncSnapshot: true });
      }
    }),
    request: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REQUEST') return;
      applyStep(enqueue, context, onRequest(context.fifo, { reqId: event.reqId, model: event.model }, swapperOf(context)));
    }),
    /**
     * Several ticket events in one macrostep: each core step sees the state the one before it
     * left, and its effects (admit, grantServe, ...) run in order, exactly as one event each
     * would. XState's own cost per event (snapshot, transition sets, action resolution: ~10 KB
     * of garbage) is paid once for the lot. A step that retires a process changes the context
     * beyond the core's state; the events after it are raised, to run on the updated context.
     */
    tickets: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'TICKETS') return;
      // The steps' state is stored once, at the end (each `assign` copies the context): the
      // effect actions in between read none of it.
      let ctx = context;
      const store = () => {
        if (ctx.fifo !== context.fifo) enqueue.assign({ fifo: ctx.fifo });
        if (ctx.busyTold !== context.busyTold) enqueue.assign({ busyTold: ctx.busyTold });
      };
      for (let i = 0; i < event.events.length; i++) {
        const step = ticketStep(ctx, event.events[i]!);
        const busyTold = applyStep(enqueue, ctx, step, false);
        ctx = { ...ctx, fifo: step.state, busyTold };
        if (step.effects.some((e) => e.type === 'retired')) {
          store();
          if (i + 1 < event.events.length) enqueue.raise({ type: 'TICKETS', events: event.events.slice(i + 1) });
          return;
        }
      }
      store();
    }),
    cancel: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CANCEL') return;
      applyStep(enqueue, context, onCancel(context.fifo, event.reqId));
    }),
    abandonCheck: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ABANDON_CHECK') return;
      applyStep(enqueue, context, onAbandonCheck(context.fifo, event.swapId, event.seq));
    }),
    serveDone: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SERVE_DONE') return;
      applyStep(enqueue, context, onServeDone(context.fifo, event.model, swapperOf(context)));
    }),
    /**
     * SERVE_DONE of a model that still has others in flight (guard `othersInFlight`): the core
     * only counts it down (no drain, no retirement, no effect; the process stays busy), so a
     * plain assign does what `serveDone` would, without the enqueue machinery's cost.
     */
    serveDoneCounted: schedulerBase.assign(({ context, event }) => {
      if (event.type !== 'SERVE_DONE') return {};
      return { fifo: onServeDone(context.fifo, event.model, swapperOf(context)).state };
    }),
    settleIdle: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SETTLE_IDLE') return;
      settleIdle(enqueue, context, event.model);
    }),
    unload: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'UNLOAD') return;
      applyStep(enqueue, context, onUnload(context.fifo, event.targets, swapperOf(context), event.ticket));
    }),
    shutdown: schedulerBase.enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'SHUTDOWN') return;
      applyStep(enqueue, context, onShutdown(context.fifo));
      enqueue.assign({ shutdownGraceMs: event.graceMs });
      for (const model of Object.keys(context.processes)) {
        const ref = system.get(childIds.process(model)) as AnyActorRef | undefined;
        if (ref) enqueue.sendTo(ref, { type: 'SHUTDOWN', graceMs: event.graceMs });
      }
    }),
    /**
     * A second SHUTDOWN while draining (a server shutdown that finds this tree still stopping
     * after a reload): passed on, so each process's grace can only get shorter.
     */
    shortenShutdown: schedulerBase.enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'SHUTDOWN') return;
      for (const model of Object.keys(context.processes)) {
        const ref = system.get(childIds.process(model)) as AnyActorRef | undefined;
        if (ref) enqueue.sendTo(ref, { type: 'SHUTDOWN', graceMs: event.graceMs });
      }
    }),

    /**
     * A reload: plan what happens to each model (src/core/reload-plan.ts), apply the new
     * routing and policies, add and update processes, and let the core retire the rest once
     * idle. The plan compares the configs the live processes run, so a reload that restores a
     * model's previous config before its replacement began leaves it alone.
     */
    reconfigure: schedulerBase.enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'RECONFIGURE') return;
      const input = event.input;
      const live: Record<string, ReloadModel> = Object.fromEntries(
        Object.entries(context.processes).map(([id, process]) => [
          id,
          { process, concurrencyLimit: context.fifo.models[id]?.limit, priority: context.fifo.models[id]?.priority },
        ]),
      );
      const policies = initialFifoState(
        Object.fromEntries(Object.entries(input.models).map(([id, m]) => [id, { concurrencyLimit: m.concurrencyLimit, priority: m.priority }])),
      ).models;
      const next: Record<string, ReloadModel> = Object.fromEntries(
        Object.entries(input.models).map(([id, m]) => [id, { process: m.process, concurrencyLimit: policies[id]!.limit, priority: policies[id]!.priority }]),
      );
      const plan = planReload(live, next);
      const groups = withDefaultGroup(input.groups ?? {}, Object.keys(input.models));
      const matrix = input.matrix ?? null;
      const swapper = swapperOf({ groups, matrix });
      // The models that stay as they are and run (or are being started): may they, together?
      // Those serving most are kept first when two exclude each other.
      const fifo = context.fifo;
      const staying = [...plan.keep, ...plan.update].filter(
        (m) => fifo.procs[m]?.resident || fifo.active.some((sw) => sw.target === m),
      );
      const preferred = [...staying].sort((a, b) => (fifo.inFlight[b] ?? 0) - (fifo.inFlight[a] ?? 0) || a.localeCompare(b));
      const rules = evictForRules(swapper, staying, preferred);
      enqueue({ type: 'reconfigured', params: { ...plan, rules } });

      const configured = Object.fromEntries(Object.entries(input.models).map(([id, m]) => [id, m.process]));
      const processes = { ...context.processes };
      for (const m of [...plan.keep, ...plan.update, ...plan.add]) processes[m] = configured[m]!;
      for (const m of plan.update) {
        const ref = system.get(childIds.process(m)) as AnyActorRef | undefined;
        if (ref) enqueue.sendTo(ref, { type: 'CONFIGURE', cfg: configured[m]! });
      }
      for (const m of plan.add) {
        const id = childIds.process(m);
        enqueue.spawnChild('process', { id, systemId: id, input: configured[m]!, syncSnapshot: true });
      }
      const updated = {
        groups,
        matrix,
        processes,
        configured,
        evictGraceMs: input.evictGraceMs,
        abandonedLoadGraceMs: input.abandonedLoadGraceMs ?? 2_000,
      };
      enqueue.assign(updated);
      const retire: Record<string, RetireKind> = {};
      for (const m of plan.replace) retire[m] = 'replace';
      for (const m of plan.remove) retire[m] = 'remove';
      for (const m of rules) retire[m] = 'rules';
      const step = onReconfigure(fifo, { models: input.models, retire }, swapper);
      applyStep(enqueue, { ...context, ...updated }, step);
    }),

    /** A swap reported done: answer its waiters, drain the queue, and let the child go. */
    swapDone: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (!isSwapDone(event)) return;
      applyStep(enqueue, context, onSwapDone(context.fifo, event.output, swapperOf(context)));
      enqueue.stopChild(event.actorId);
      enqueue.cancel(`overdue:${event.actorId}`);
    }),

    /** The liveness watchdog: a swap outlived its bound. Answer its waiters and let it go. */
    expireSwap: schedulerBase.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SWAP_OVERDUE') return;
      const sw = context.fifo.active.find((a) => a.swapId === event.swapId);
      if (!sw) return;
      const boundMs = swapBoundMs(context, sw.target, sw.evict);
      enqueue({ type: 'swapOverdue', params: { swapId: sw.swapId, target: sw.target, boundMs } });
      const error = `swap ${sw.target === null ? `unloading [${sw.evict.join(', ')}]` : `to ${sw.target}`} did not finish within ${Math.round(boundMs / 1000)}s`;
      applyStep(enqueue, context, onSwapDone(context.fifo, { swapId: sw.swapId, error }, swapperOf(context)));
      enqueue.stopChild(sw.swapId);
    }),

    /** Mirror a process's tags into the core's advisory view. */
    mirrorProcess: schedulerBase.assign(({ context, event }) => {
      const fifo = mirroredFifo(context, event);
      return fifo === context.fifo ? {} : { fifo };
    }),

    /**
     * A child threw. The scheduler must survive it: a failed swap counts as done with an
     * error; a failed process is replaced by a fresh one (stopped), and swaps waiting on the
     * dead one get the reply it can no longer send, so nobody hangs.
     */
    childError: schedulerBase.enqueueActions(({ context, event, enqueue, system }) => {
      if (!isChildError(event)) return;
      const actorId = event.type.slice('xstate.error.actor.'.length);
      const error = event.error instanceof Error ? event.error.message : String(event.error);
      enqueue({ type: 'childFailed', params: { actorId, error } });
      const model = childIds.modelOf(actorId);
      if (model === null) {
        const swap = context.fifo.active.find((sw) => sw.swapId === actorId);
        if (swap) {
          applyStep(enqueue, context, onSwapDone(context.fifo, { swapId: actorId, error: `swap failed: ${error}` }, swapperOf(context)));
        }
        enqueue.stopChild(actorId);
        return;
      }
      enqueue.stopChild(actorId);
      const cfg = context.processes[model];
      if (cfg) enqueue.spawnChild('process', { id: actorId, systemId: actorId, input: cfg, syncSnapshot: true });
      // The fresh process has been told nothing. If requests are still in flight (to the dead
      // one's server), it is busy until they end, so its TTL cannot unload it meanwhile.
      const busy = (context.fifo.inFlight[model] ?? 0) > 0;
      if (context.busyTold[model]) enqueue.cancel(settleId(model));
      if (busy) enqueue({ type: 'acquireProcess', params: { model } });
      if (busy !== Boolean(context.busyTold[model])) {
        const { [model]: _, ...rest } = context.busyTold;
        enqueue.assign({ busyTold: busy ? { ...rest, [model]: true } : rest });
      }
      for (const sw of context.fifo.active) {
        const ref = system.get(sw.swapId) as AnyActorRef | undefined;
        if (!ref) continue;
        if (sw.evict.includes(model)) enqueue.sendTo(ref, { type: 'PROCESS.STOPPED', model });
        if (sw.target === model) enqueue.sendTo(ref, { type: 'PROCESS.FAILED', model, error: `process failed: ${error}` });
      }
    }),
  },
  guards: {
    // Most snapshots of a process (each ACQUIRE and RELEASE of a request) leave its tags as
    // they were: skipping those keeps two scheduler macrosteps off every request's path.
    processMirrorChanged: ({ context, event }) => mirroredFifo(context, event) !== context.fifo,
    othersInFlight: ({ context, event }) => event.type === 'SERVE_DONE' && (context.fifo.inFlight[event.model] ?? 0) > 1,
    allHalted: ({ context }) => Object.values(context.fifo.procs).every((p) => p.halted),
  },
});

/** The core's state with a child's snapshot mirrored into it (the same object when nothing changed). */
function mirroredFifo(context: SchedulerContext, event: { type: string }): SchedulerContext['fifo'] {
  if (!isSnapshotEvent(event)) return context.fifo;
  const model = childIds.modelOf(event.type.slice('xstate.snapshot.'.length));
  if (model === null || !event.snapshot.hasTag) return context.fifo;
  // The last word of a process actor a reload stopped (removed, or replaced by a fresh one
  // under the same id): it describes nothing that runs.
  if (event.snapshot.status === 'stopped' || !context.fifo.procs[model]) return context.fifo;
  const backingOff = event.snapshot.hasTag(ProcessTag.backoff);
  return onProcessChange(context.fifo, model, {
    resident: event.snapshot.hasTag(ProcessTag.resident),
    serving: event.snapshot.hasTag(ProcessTag.serving),
    halted: event.snapshot.hasTag(ProcessTag.halted),
    // The protocol's promise for a `backoff` state: lastError and backoffMs in context.
    backoff: backingOff ? { error: event.snapshot.context.lastError ?? 'start failed', retryAfterMs: event.snapshot.context.backoffMs } : null,
    // Only when set: the mirror of every other process keeps its shape.
    ...(event.snapshot.hasTag(ProcessTag.live) && !event.snapshot.hasTag(ProcessTag.resident) ? { resting: true } : {}),
  });
}

/**
 * One swapper per routing object (it never changes within a tree; a reload builds a new one):
 * the matrix solver when the config selects it, else the group swapper. The scheduler and the
 * core use either without knowing which.
 */
const swappers = new WeakMap<object, Swapper>();

export function swapperOf(context: Pick<SchedulerContext, 'groups' | 'matrix'>): Swapper {
  const key: object = context.matrix ?? context.groups;
  let swapper = swappers.get(key);
  if (!swapper) {
    swapper = context.matrix ? matrixSwapper(context.matrix.sets, context.matrix.evictCosts) : groupSwapper(context.groups);
    swappers.set(key, swapper);
  }
  return swapper;
}

export const schedulerMachine = schedulerSetup.createMachine({
  id: 'scheduler',
  context: ({ input }) => ({
    fifo: initialFifoState(
      Object.fromEntries(
        Object.entries(input.models).map(([id, m]) => [id, { concurrencyLimit: m.concurrencyLimit, priority: m.priority }]),
      ),
    ),
    groups: withDefaultGroup(input.groups ?? {}, Object.keys(input.models)),
    matrix: input.matrix ?? null,
    processes: Object.fromEntries(Object.entries(input.models).map(([id, m]) => [id, m.process])),
    evictGraceMs: input.evictGraceMs,
    abandonedLoadGraceMs: input.abandonedLoadGraceMs ?? 2_000,
    shutdownGraceMs: 0,
    busyTold: {},
  }),
  entry: 'spawnProcesses',
  on: {
    REQUEST: { actions: 'request' },
    CANCEL: { actions: 'cancel' },
    ABANDON_CHECK: { actions: 'abandonCheck' },
    SWAP_OVERDUE: { actions: 'expireSwap' },
    SERVE_DONE: [{ guard: 'othersInFlight', actions: 'serveDoneCounted' }, { actions: 'serveDone' }],
    TICKETS: { actions: 'tickets' },
    SETTLE_IDLE: { actions: 'settleIdle' },
    'xstate.snapshot.*': { guard: 'processMirrorChanged', actions: 'mirrorProcess' },
    'xstate.done.actor.*': { actions: 'swapDone' },
    'xstate.error.actor.*': { actions: 'childError' },
  },
  initial: 'serving',
  states: {
    serving: {
      on: {
        UNLOAD: { actions: 'unload' },
        RECONFIGURE: { actions: 'reconfigure' },
        SHUTDOWN: { target: 'draining', actions: 'shutdown' },
      },
    },
    /** Every waiter has been answered; waiting for each process to stop for good. */
    draining: {
      always: { guard: 'allHalted', target: 'halted' },
      on: {
        SHUTDOWN: { actions: 'shortenShutdown' },
        // Nothing is running any more, or soon will not be: an unload is answered at once.
        UNLOAD: {
          actions: {
            type: 'unloaded',
            params: ({ event }) => ({ ticket: event.ticket, targets: event.targets ?? [] }),
          },
        },
      },
    },
    halted: { type: 'final' },
  },
});

export type SchedulerMachine = typeof schedulerMachine;

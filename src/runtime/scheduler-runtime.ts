/**
 * Wires the pure machines to the real world: the scheduler actor with real `os` and
 * `health` actors for its processes, and tickets that answer the callers.
 *
 * This is what the HTTP server (and the integration tests) start: one call, one actor tree.
 *
 * @example
 * const swapstate = startScheduler({ input });
 * const ticket = swapstate.request('llama');
 * const grant = (await ticket.admission) === null ? await ticket.grant : null;
 * if (grant?.ok) {
 *   try { ...proxy to grant.upstream.base over grant.upstream.agent... } finally { ticket.done(); }
 * }
 * await swapstate.shutdown(30_000);
 */
import { createActor, toPromise, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { ProcessMachine } from '../../machines/process.machine.ts';
import { sleepModeProcessMachine } from '../../machines/process.sleep.ts';
import { ProcessTag } from '../../machines/process.protocol.ts';
import { exitDescription } from '../../machines/process.setup.ts';
import { schedulerMachine, swapperOf, type SchedulerInput, type UnloadedParams } from '../../machines/scheduler.machine.ts';
import { onRequest } from '../core/fifo.ts';
import { LogHub } from '../observability/ring-log.ts';
import { machineChart, type ChartMachine } from '../observability/statechart.ts';
import { createHealthCheckActor } from './health-check.ts';
import { createOsProcessActor } from './os-process.ts';
import { ProcessChanges, type ProcessSnapshot } from './process-changes.ts';
import { installExitReaper, processGroups as defaultGroups, type ProcessGroups } from './process-groups.ts';
import { ModelLifecycle } from './model-lifecycle.ts';
import { describeProcess, type ProcessView } from './process-view.ts';
import { sleepCallsActor } from './sleep-calls.ts';
import { sleepOnDemand, type SleepOutcome } from './sleep-on-demand.ts';
import { explainMatrixDecision, solveMatrix, type MatrixDecision } from '../core/matrix-solver.ts';

/** llama-swap's line for a matrix decision (reference 5.4), Go's slice formatting included. */
function matrixLogLine(d: MatrixDecision): string {
  return `matrix: model=${d.target} set=${d.set ?? ''} dsl=${JSON.stringify(d.dsl ?? '')} evict=[${d.evict.join(' ')}] target=[${d.members.join(' ')}] cost=${d.cost}`;
}
import type { WaitingRequest } from '../core/waiting-reasons.ts';
import { StateView, type StateSnapshot } from './state-view.ts';
import { TicketBatch } from './ticket-batch.ts';
import { Tickets, type Ticket } from './tickets.ts';
import { Upstreams, type AgentOptionsOf, type Upstream } from './upstreams.ts';

/** Where the scheduler's own notes go (winston in the server; a test may collect them). */
export interface SchedulerLog {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * Any process machine createProcessMachine builds, extended or not. The runtime provides the
 * core's I/O actors and log actions to it; an extension's own actors come with it (its
 * placeholders replaced by `.provide()` before it is handed over).
 */
export type ProcessLogic = Pick<ProcessMachine, 'provide'> & { readonly root: ProcessMachine['root']; readonly id: string };

export interface SchedulerRuntimeOptions {
  input: SchedulerInput;
  /**
   * The process machine every model runs: the one place it is chosen. The scheduler spawns
   * it, the state view describes its snapshots, and `/api/machines/process` draws it.
   * Default: the core machine with sleep mode (machines/process.sleep.ts), whose sleep states
   * only a model with `sleepMode` in its config enters; the others run the core's transitions.
   *
   * @example startScheduler({ input, processLogic: createProcessMachine(sleepMode).provide({ actors: { wake } }) })
   */
  processLogic?: ProcessLogic;
  /** Per-model upstream output; a fresh hub when omitted. */
  logs?: LogHub;
  groups?: ProcessGroups;
  log?: SchedulerLog;
  /** An XState inspector for the whole actor tree (devtools). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Pool settings of each model's agent (its `timeouts.keepalive` and `idleConn`); Node's defaults when omitted. */
  agentOptions?: AgentOptionsOf;
}

export interface SchedulerRuntime {
  readonly actor: Actor<typeof schedulerMachine>;
  readonly tickets: Tickets;
  readonly logs: LogHub;
  /** Every change of every model's process actor, following respawned ones. */
  readonly processChanges: ProcessChanges;
  /** Model starts (and how each ended) and stops (and why), for `/metrics`. */
  readonly lifecycle: ModelLifecycle;
  /** Where grants send their requests; every agent is destroyed once the tree has ended. */
  readonly upstreams: Upstreams;
  /** Opens a ticket for one request to `model`. */
  request(model: string): Ticket;
  /**
   * Applies a reloaded config to the running tree (the scheduler's RECONFIGURE): unchanged
   * models keep their process, TTL and requests; changed ones are replaced once idle; removed
   * ones stop once idle; new ones are added stopped.
   */
  reconfigure(input: SchedulerInput): void;
  /** Stops `targets` (every running model when omitted); resolves once they are stopped. */
  unload(targets?: string[]): Promise<UnloadedParams>;
  /**
   * Fails every waiter, stops every model within `graceMs`, and ends the actor tree. `why`
   * is what the models' stops count as (`reload`: a reload replaced this tree).
   */
  shutdown(graceMs: number, why?: 'shutdown' | 'reload'): Promise<void>;
  /** A model's process as it is now (for listings), or null for an unknown model. */
  process(model: string): ProcessView | null;
  /** Whether requests to `model` are served right now, without a start (its `serving` tag). */
  serving(model: string): boolean;
  /**
   * Where `model` is served right now, asked without a ticket (an ignored websocket,
   * reference 4.10: no queue, no slot, no activity), or null when it is not served.
   */
  servedAt(model: string): Upstream | null;
  /**
   * Puts `model` to sleep now (sleep mode, `POST /api/models/sleep/<model>`). Resolves with
   * the state it settled in: `sleeping`, or `stopped` when the sleep failed and it was stopped
   * instead; or at once with why not: `unknown`, `not-enabled`, or the state it is in when it
   * is not idle.
   */
  sleep(model: string): Promise<SleepOutcome>;
  /**
   * Everything at once, with why each request waits (`GET /api/state`).
   * @param at the wall time to stamp it with (ms since the epoch); now by default
   */
  state(at?: number): StateSnapshot;
  /** Why the request `reqId` (its ticket's) waits now, or null when it does not wait. */
  waitReason(reqId: string): WaitingRequest | null;
  /** The process machine's definition, as the UI draws it (`GET /api/machines/process`). */
  processChart(): ChartMachine;
  /**
   * Requests of `model` admitted and not yet granted (queued, or waiting for a swap), counting
   * those that arrived in this event-loop turn (`/metrics` `swapstate_queue_depth`).
   */
  queued(model: string): number;
}

const silent: SchedulerLog = { info: () => {}, warn: () => {} };

export function startScheduler(opts: SchedulerRuntimeOptions): SchedulerRuntime {
  const logs = opts.logs ?? new LogHub();
  const groups = opts.groups ?? defaultGroups;
  const log = opts.log ?? silent;
  installExitReaper(groups);

  // The actor does not exist yet when the tickets are built; events wait for it.
  let actor: Actor<typeof schedulerMachine> | null = null;
  let processes: ProcessChanges | null = null;
  let view: StateView | null = null;
  const upstreams = new Upstreams(opts.agentOptions);
  // Asked at each grant: the process actor serving the model now, its config and start count.
  const upstreamOf = (model: string): Upstream | undefined => {
    const process = processes?.actor(model);
    if (!process) return undefined;
    const { cfg, starts } = (process.getSnapshot() as ProcessSnapshot).context;
    return upstreams.at(model, process, starts, cfg.proxy);
  };
  // A tree that has ended answers nothing: close the tickets instead of letting callers wait.
  // The tickets' REQUESTs of one event-loop turn go as one event (ticket-batch.ts).
  const batch = new TicketBatch((event) => {
    if (actor?.getSnapshot().status === 'active') {
      actor.send(event);
      tickets.settle();
    } else tickets.close({ code: 'SHUTTING_DOWN', message: 'swapstate scheduler is not running' });
  });
  // Whether the scheduler, taking this REQUEST as its next event, grants it in the same step:
  // the core's own step (fifo.ts onRequest) on the scheduler's current state. Only when no
  // ticket event waits for the turn's end, so the REQUEST will meet exactly this state
  // (Tickets.open; Tickets.settle handles an event that reaches the scheduler first).
  const grantsAtOnce = (reqId: string, model: string): boolean => {
    if (!batch.idle() || !actor) return false;
    const { status, context } = actor.getSnapshot();
    if (status !== 'active' || !context.fifo.procs[model]?.serving) return false;
    return onRequest(context.fifo, { reqId, model }, swapperOf(context)).effects.some((e) => e.type === 'grantServe' && e.reqId === reqId);
  };
  // Whether an early-granted REQUEST to `model` may wait in the batch (ticket-batch.ts): only
  // while its process cannot leave `ready` on its own. Told it is busy, it runs no idle timer;
  // with no ttl it has none (the core's TTL and sleep mode's both need one). Otherwise a TTL
  // firing during the wait would stop a model that is serving a request the scheduler has
  // not seen yet.
  const mayWait = (model: string): boolean => {
    if (!actor) return false;
    if (actor.getSnapshot().context.busyTold[model] === true) return true;
    const process = processes?.actor(model);
    return process !== undefined && (process.getSnapshot() as ProcessSnapshot).context.cfg.ttlMs === 0;
  };
  const tickets: Tickets = new Tickets(
    (event, early) => batch.send(event, early === true && event.type === 'REQUEST' && mayWait(event.model)),
    upstreamOf,
    grantsAtOnce,
    () => batch.flush(),
  );

  const processLogic =
    opts.processLogic ??
    sleepModeProcessMachine.provide({
      actors: { sleep: sleepCallsActor, wake: sleepCallsActor },
      actions: {
        ttlSleep: (_, p) => log.info(`${p.model} Sleeping model, TTL of ${p.ttlMs / 1000}s reached`),
        sleepFailed: (_, p) => log.warn(`${p.model}: sleep failed, stopping it instead: ${p.error}`),
        wakeFailed: (_, p) => log.warn(`${p.model}: wake failed, restarting it: ${p.error}`),
      },
    });
  let chart: ChartMachine | null = null;
  const lifecycle = new ModelLifecycle();

  const machine = schedulerMachine.provide({
    actors: {
      // Every process machine has the core's names, whatever an extension added.
      process: (processLogic as ProcessMachine).provide({
        actors: { os: createOsProcessActor({ logs, groups }), health: createHealthCheckActor() },
        actions: {
          ttlExpired: (_, p) => {
            lifecycle.stopping(p.model, 'ttl');
            log.info(`${p.model} Unloading model, TTL of ${p.ttlMs / 1000}s reached`);
          },
          exitedUnexpectedly: (_, p) => {
            lifecycle.stopping(p.model, 'crash');
            log.warn(
              `${p.model}: upstream process exited unexpectedly (${exitDescription(p)})${p.stderrTail.length > 0 ? `: ${p.stderrTail.join(' | ')}` : ''}`,
            );
          },
          startFailed: (_, p) => log.warn(`${p.model} failed to start: ${p.error}`),
        },
      }),
    },
    actions: {
      ...tickets.actions,
      swapStarted: ({ context }, p) => {
        // Matrix routing: the solver's decision, logged once per swap as llama-swap does and
        // shown by /api/state (it is pure: the same answer the scheduler acted on). The
        // routing is the tree's current one: a reload may have changed it.
        const matrix = context.matrix;
        const decision = p.target !== null && matrix ? solveMatrix(matrix.sets, matrix.evictCosts, p.running, p.target) : null;
        view?.swapStarted(p.swapId, decision ? explainMatrixDecision(decision) : null);
        const why = p.retire ? 'reload' : p.target === null ? 'unload' : 'swap';
        for (const model of p.evict) lifecycle.stopping(model, why);
        if (p.target === null) log.info(`unloading [${p.evict.join(', ')}]`);
        else log.info(`swap to ${p.target}: running [${p.running.join(', ')}], evicting [${p.evict.join(', ')}]`);
        if (decision) log.info(matrixLogLine(decision));
      },
      childFailed: (_, p) => log.warn(`actor ${p.actorId} failed: ${p.error}`),
      reconfigured: (_, p) => {
        const list = (ids: string[]) => `[${ids.join(', ')}]`;
        log.info(
          `reload: keeping ${list([...p.keep, ...p.update])}, replacing ${list(p.replace)}, removing ${list(p.remove)}, adding ${list(p.add)}` +
            (p.rules.length > 0 ? `, stopping ${list(p.rules)} (the new groups or matrix forbid them beside the others)` : ''),
        );
      },
      processRetired: (_, p) => {
        if (p.kind === 'remove') upstreams.forget(p.model);
        log.info(
          p.kind === 'replace'
            ? `reload: ${p.model} stopped, its new config runs from its next start`
            : p.kind === 'remove'
              ? `reload: ${p.model} stopped and removed`
              : `reload: ${p.model} stopped (the new rules forbid it beside the others)`,
        );
      },
      swapAborted: (_, p) => log.info(`stopping the start of ${p.target}: ${p.reason}`),
    },
  });

  actor = createActor(machine, {
    input: opts.input,
    systemId: 'scheduler',
    ...(opts.inspect ? { inspect: opts.inspect } : {}),
  });
  // With no error observer an actor error is rethrown from a timer and kills Node. Either
  // way the tree has ended, and no ticket may wait on it any more.
  actor.subscribe({
    error: (err) => {
      log.warn(`scheduler stopped on error: ${String(err)}`);
      tickets.close({ code: 'SHUTTING_DOWN', message: String(err) });
    },
    complete: () => tickets.close({ code: 'SHUTTING_DOWN' }),
  });
  actor.start();
  const root = actor;
  // One watch over the process actors (started with the tree), shared by everyone who follows them.
  const processChanges = (processes = new ProcessChanges(root));
  const stateView = (view = new StateView(root, processChanges));
  processChanges.subscribe((model, snap, fresh) => lifecycle.observe(model, snap, fresh));

  return {
    actor: root,
    tickets,
    logs,
    processChanges,
    lifecycle,
    upstreams,
    request: (model) => tickets.open(model),
    reconfigure: (input) => {
      batch.flush();
      root.send({ type: 'RECONFIGURE', input });
    },
    unload: (targets) => tickets.unload(targets),
    process: (model) => {
      const snapshot = processChanges.snapshot(model);
      return snapshot ? describeProcess(snapshot) : null;
    },
    serving: (model) => processChanges.snapshot(model)?.hasTag(ProcessTag.serving) ?? false,
    servedAt: (model) => ((processChanges.snapshot(model)?.hasTag(ProcessTag.serving) ?? false) ? (upstreamOf(model) ?? null) : null),
    sleep: (model) => {
      batch.flush();
      return sleepOnDemand(processChanges, model, root.getSnapshot().context.fifo.inFlight[model] ?? 0);
    },
    shutdown: async (graceMs, why = 'shutdown') => {
      lifecycle.shuttingDown(why);
      batch.flush();
      const status = root.getSnapshot().status;
      // A stopped (or failed) tree has stopped its children already, and their cleanup
      // SIGKILLed their process groups; there is nothing to wait for.
      if (status === 'active') root.send({ type: 'SHUTDOWN', graceMs });
      if (status === 'active' || status === 'done') await toPromise(root).catch(() => undefined);
      // Every model server is gone: no connection to one is worth keeping.
      upstreams.destroyAll();
    },
    state: (at?: number) => {
      batch.flush();
      return stateView.snapshot(at);
    },
    waitReason: (reqId) => {
      batch.flush();
      return stateView.waitOf(reqId);
    },
    // Computed once: the machine does not change while this tree runs.
    processChart: () => (chart ??= machineChart(processLogic as ProcessMachine)),
    queued: (model) => {
      batch.flush();
      const { reserved, inFlight } = root.getSnapshot().context.fifo;
      return Math.max(0, (reserved[model] ?? 0) - (inFlight[model] ?? 0));
    },
  };
}

/**
 * One model's upstream server process, as an XState machine.
 *
 * ```
 * stopped ──ENSURE_READY──▶ running                                   (invokes `os`: the OS process)
 *                            ├─ starting [resident]: launching ─OS.SPAWNED─▶ probing (invokes `health`)
 *                            │     (launching: the `os` actor may first wait for the port)
 *                            │     health 200 / checkEndpoint none ─▶ ready
 *                            │     health timeout, exit, STOP ─▶ waiters FAILED
 *                            ├─ ready [resident, serving]: idle ⇄ busy (ACQUIRE / RELEASE); idle after ttl ─▶ stopping
 *                            └─ stopping [resident]: OS.TERM (cmdStop or SIGTERM to the group), OS.KILL after the grace
 *                                  ENSURE_READY here restarts once stopped (llama-swap #946)
 * stopped ◀── OS.EXITED (from anywhere in running)
 * backoff [backoff]: refuses starts for a while after repeated failures
 * shutdown [halted]: refuses starts, answers everything
 * ```
 *
 * The machine does no I/O. Its names (context, events, actions, guards, delays, placeholder
 * `os` and `health` actors) are in machines/process.setup.ts; the real actors are supplied at
 * run time (src/runtime) or by tests (fakes); the contract with them is machines/os.protocol.ts.
 * The scheduler talks to it only through machines/process.protocol.ts, and gets it from the
 * runtime (`startScheduler({ processLogic })`), which is the one place a machine is chosen.
 *
 * `resident` sits on the states that hold the model (starting, ready, stopping), not on
 * `running` as a whole: a state an extension adds inside `running` (say, `sleeping` with its
 * weights offloaded) decides for itself whether it holds the model.
 *
 * Every edge into a settled state answers the waiters it settles: READY on entering ready,
 * FAILED on every failure edge, STOPPED on entering stopped. This is the invariant whose
 * absence hung llama-swap (#946).
 */
import type { AnyStateNode } from 'xstate';
import {
  CORE_STATE_IDS,
  type ExtensionTypes,
  type NoExtension,
  type ProcessExtension,
  type ProcessMachine,
  type ProcessStateConfig,
  type StateAddition,
} from './process.extension.ts';
import { healthTimeoutError, processSetup, startExitError, type ProcessConfig, type ProcessContext } from './process.setup.ts';

export type { ProcessConfig, ProcessContext, ProcessEvent } from './process.setup.ts';
export type { ProcessMachine } from './process.extension.ts';
export { backoffFor, CRASH_LOOP_THRESHOLD, START_FAILURE_GRACE_MS } from './process.setup.ts';

/**
 * A core state, checked against the core's names (not generic, unlike XState's
 * `createStateConfig`, so that a misspelt delay under `after` is an error too).
 */
const state = (config: ProcessStateConfig): ProcessStateConfig => config;

/** The states inside `running`: the OS process exists in each. */
const runningStates = {
  starting: state({
    tags: ['resident'],
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
  ready: state({
    tags: ['resident', 'serving'],
    entry: ['answerReady', 'clearLastError', 'resetFailures'],
    initial: 'idle',
    on: {
      ENSURE_READY: { actions: 'replyReady' },
      STOP: { target: 'stopping', actions: ['addStopWaiter', 'takeGrace'] },
    },
    states: {
      idle: {
        always: { guard: 'busy', target: 'busy' },
        on: {
          ACQUIRE: { target: 'busy', actions: 'acquire' },
          // A reload changed the ttl: the countdown starts again, with the new ttl. (Any other
          // CONFIGURE leaves it running: the top-level handler below.)
          CONFIGURE: { guard: 'ttlChanged', target: '#process.running.ready.idle', reenter: true, actions: 'configure' },
        },
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
  stopping: state({
    tags: ['resident'],
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

/** The machine's top-level states. */
const coreStates = {
  stopped: state({
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
  }),
  running: state({
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
    states: runningStates,
  }),
  /** Crash-loop protection: starts are refused until the backoff has passed. */
  backoff: state({
    tags: ['backoff'],
    entry: 'startBackoff',
    after: { backoff: { target: 'stopped' } },
    on: {
      ENSURE_READY: { actions: 'replyBackingOff' },
      STOP: { actions: 'replyStopped' },
      SHUTDOWN: { target: 'shutdown', actions: 'markShuttingDown' },
    },
  }),
  shutdown: state({
    tags: ['halted'],
    entry: ['answerStopped', { type: 'failStart', params: { error: 'swapstate is shutting down' } }],
    on: {
      ENSURE_READY: { actions: 'replyHalted' },
      STOP: { actions: 'replyStopped' },
    },
  }),
};

function initialContext({ input }: { input: ProcessConfig }): ProcessContext {
  return {
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
  };
}

/** The core machine's configuration; an extension's additions are merged into a copy of it. */
const coreConfig = {
  id: 'process',
  context: initialContext,
  initial: 'stopped',
  on: {
    ACQUIRE: { actions: 'acquire' },
    RELEASE: { actions: 'release' },
    CONFIGURE: { actions: 'configure' },
  },
  states: coreStates,
} as const;

/**
 * Builds the process machine, with an extension's states, names and implementations when one
 * is given. The scheduler never needs to know: it reads only tags and sends only protocol
 * events. Throws when the extension adds to a state the core does not have, or names an
 * action, guard, delay or actor nobody implements (TypeScript catches both first).
 *
 * @example
 * const machine = createProcessMachine(sleepMode);     // docs/examples/sleep-mode.ts
 * startScheduler({ input, processLogic: machine });
 */
export function createProcessMachine<X extends ExtensionTypes = NoExtension>(ext?: ProcessExtension<X>): ProcessMachine<X> {
  const config = ext ? withAdditions(coreConfig, ext.additions as Record<string, StateAddition<ExtensionTypes> | undefined>) : coreConfig;
  const base = ext
    ? processSetup.extend({
        actions: ext.implementations.actions as never,
        guards: ext.implementations.guards as never,
        delays: ext.implementations.delays as never,
      })
    : processSetup;
  let machine = base.createMachine(config as typeof coreConfig) as unknown as ProcessMachine<X>;
  if (ext && Object.keys(ext.implementations.actors).length > 0) {
    machine = machine.provide({ actors: ext.implementations.actors as never });
  }
  assertImplemented(machine as unknown as Parameters<typeof assertImplemented>[0]);
  return machine;
}

/**
 * The core config with an extension's additions merged in, as StateAddition describes. The
 * core config itself is never changed: each addition copies the nodes on its path.
 */
function withAdditions(core: typeof coreConfig, additions: Record<string, StateAddition<ExtensionTypes> | undefined>): typeof coreConfig {
  type Node = Record<string, unknown> & { states?: Record<string, Node> };
  const root = { ...core } as unknown as Node;
  for (const [id, addition] of Object.entries(additions)) {
    if (!addition) continue;
    if (!(CORE_STATE_IDS as readonly string[]).includes(id)) {
      throw new Error(`process extension: no core state '${id}' (core states: ${CORE_STATE_IDS.join(', ')})`);
    }
    // Copy the path from the root down to the node, so the core's objects stay as they are.
    let node = root;
    for (const key of id.split('.').slice(1)) {
      const states = { ...node.states };
      const child = { ...states[key] } as Node;
      states[key] = child;
      node.states = states;
      node = child;
    }
    mergeInto(node, addition as Record<string, unknown>, id);
  }
  return root as unknown as typeof coreConfig;
}

function asArray(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function mergeInto(node: Record<string, unknown>, addition: Record<string, unknown>, id: string): void {
  for (const [key, value] of Object.entries(addition)) {
    if (value === undefined) continue;
    switch (key) {
      case 'states': {
        const states = { ...(node['states'] as Record<string, unknown> | undefined) };
        for (const [name, state] of Object.entries(value as Record<string, unknown>)) {
          if (name in states) throw new Error(`process extension: '${id}' already has a state '${name}'`);
          states[name] = state;
        }
        node['states'] = states;
        break;
      }
      case 'on':
      case 'after': {
        // Per event (or delay): the extension's transitions first, then the core's.
        const merged = { ...(node[key] as Record<string, unknown> | undefined) };
        for (const [event, transitions] of Object.entries(value as Record<string, unknown>)) {
          merged[event] = [...asArray(transitions), ...asArray(merged[event])];
        }
        node[key] = merged;
        break;
      }
      case 'always':
        node[key] = [...asArray(value), ...asArray(node[key])];
        break;
      default:
        // entry, exit, invoke, tags: the core's first, then the extension's.
        node[key] = [...asArray(node[key]), ...asArray(value)];
    }
  }
}

/**
 * Every action, guard, delay and actor the machine's states name has an implementation.
 * XState skips an unknown action without a word and fails an unknown guard only when it is
 * evaluated; this makes both fail when the machine is built.
 */
function assertImplemented(machine: { root: AnyStateNode; implementations: Record<string, Record<string, unknown>> }): void {
  const missing: string[] = [];
  const impl = machine.implementations;
  const need = (kind: 'actions' | 'guards' | 'delays' | 'actors', name: unknown, where: string) => {
    if (typeof name !== 'string' || name.startsWith('xstate.')) return;
    if (!(name in (impl[kind] ?? {}))) missing.push(`${kind.slice(0, -1)} '${name}' (in ${where})`);
  };
  const actionsOf = (list: unknown, where: string) => {
    for (const a of asArray(list)) need('actions', typeof a === 'string' ? a : (a as { type?: unknown } | null)?.type, where);
  };
  const guardOf = (guard: unknown, where: string) => {
    if (guard === undefined || typeof guard === 'function') return;
    const g = typeof guard === 'string' ? { type: guard } : (guard as { type?: unknown; params?: { guards?: unknown } });
    need('guards', g.type, where);
    // and / or / not carry their guards in params.
    for (const inner of asArray(g.params?.guards)) guardOf(inner, where);
  };
  const visit = (node: AnyStateNode) => {
    const where = node.id;
    actionsOf(node.entry, where);
    actionsOf(node.exit, where);
    for (const inv of node.invoke) need('actors', inv.src, where);
    const transitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of transitions) {
      actionsOf(t.actions, where);
      guardOf(t.guard, where);
    }
    for (const t of node.after) if (typeof t.delay === 'string') need('delays', t.delay, where);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  if (missing.length > 0) throw new Error(`process machine: not implemented: ${missing.join(', ')}`);
}

/** `base` (a proxy URL) joined with an endpoint path, with exactly one slash between. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** The plain process machine. */
export const processMachine: ProcessMachine = createProcessMachine();

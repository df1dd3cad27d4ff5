/**
 * Model-based conformance test of the process protocol (machines/process.protocol.ts), for any
 * process machine createProcessMachine builds.
 *
 * `xstate/graph` enumerates every reachable state of the machine. For each one we replay its
 * shortest path on a live actor (fake world, fake timers), then send ENSURE_READY or STOP with
 * a fresh waiter and let a well-behaved world run until things settle. The waiter must get
 * exactly one answer of the right kind: that is the "no stranded waiter" invariant llama-swap
 * #946 broke.
 *
 * Everything it needs is read off the machine it is given, so an extension runs through it
 * unchanged:
 * - fakes: the core's `os` and `health` actors are the FakeWorld; every other actor the
 *   machine names (an extension's) is a promise the harness resolves or rejects;
 * - events: the protocol's and the OS's, each state's own, and the done / error event of
 *   every invoke;
 * - delays: evaluated from the machine's own delay implementations on the live context. Only
 *   the timer that would fire first is followed, so each path is one a real clock can take.
 */
import { describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, type AnyActorLogic, type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { CRASH_LOOP_THRESHOLD, type ProcessConfig } from '../../machines/process.machine.ts';
import { FakeWorld, processConfig, replyRecorder } from './fake-process-world.ts';

/** The config every conformance run uses: a TTL, and graces long enough to see each state. */
export const conformanceConfig: ProcessConfig = processConfig({ ttlMs: 60_000, healthCheckTimeoutMs: 15_000, unloadGraceMs: 10_000 });

type AnyEvent = { type: string; [k: string]: unknown };

/** The core's I/O actors, faked by the FakeWorld; any other actor gets a generic fake. */
const WORLD_ACTORS = new Set(['os', 'health']);

interface TimerInfo {
  /** Path of the state whose `after` it is. */
  path: string[];
  delay: string | number;
}

/** What the harness reads off a machine's definition. */
interface MachineFacts {
  /** Invoke id -> actor name (`src`). */
  invokes: Map<string, string>;
  /** `xstate.after.<delay>.<state id>` -> where and which delay. */
  timers: Map<string, TimerInfo>;
  /** Event types the states handle themselves, beyond the protocol's. */
  ownEvents: Set<string>;
  /** Actor names with a generic fake. */
  genericActors: string[];
}

function factsOf(machine: AnyStateMachine): MachineFacts {
  const facts: MachineFacts = { invokes: new Map(), timers: new Map(), ownEvents: new Set(), genericActors: [] };
  const visit = (node: AnyStateNode) => {
    for (const t of node.after) facts.timers.set(t.eventType, { path: node.path, delay: t.delay as string | number });
    for (const inv of node.invoke) if (typeof inv.src === 'string') facts.invokes.set(inv.id, inv.src);
    for (const eventType of node.ownEvents) if (!eventType.includes('.')) facts.ownEvents.add(eventType);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  const named = new Set([...Object.keys(machine.implementations.actors), ...facts.invokes.values()]);
  facts.genericActors = [...named].filter((src) => !WORLD_ACTORS.has(src));
  return facts;
}

/** Every event the machine can react to: the protocol's, the OS's, its timers, its invokes' outcomes, its own. */
function eventsOf(facts: MachineFacts, replyTo: AnyActorRef): AnyEvent[] {
  const events: AnyEvent[] = [
    { type: 'ENSURE_READY', replyTo },
    { type: 'STOP', replyTo },
    // A swap's STOP to an evictee: it may free the resources without stopping (sleep mode).
    { type: 'STOP', replyTo, evicting: true },
    { type: 'SHUTDOWN' },
    { type: 'ACQUIRE' },
    { type: 'RELEASE' },
    { type: 'OS.SPAWNED', pid: 4242 },
    { type: 'OS.EXITED', code: 0, signal: null },
  ];
  for (const type of facts.timers.keys()) events.push({ type });
  for (const [id, src] of facts.invokes) {
    if (src === 'os') continue; // its outcomes are the OS.* events above
    events.push({ type: `xstate.done.actor.${id}` }, { type: `xstate.error.actor.${id}`, error: new Error(`${src} failed`) });
  }
  for (const type of facts.ownEvents) if (!events.some((e) => e.type === type)) events.push({ type });
  return events;
}

/** Whether the state node at `path` is active in a state value. */
function isActive(value: unknown, path: readonly string[]): boolean {
  let v = value;
  for (const key of path) {
    if (typeof v === 'string') return v === key && path.at(-1) === key;
    if (v === null || typeof v !== 'object' || !(key in v)) return false;
    v = (v as Record<string, unknown>)[key];
  }
  return true;
}

/** The ms a named (or numeric) delay stands for, evaluated as the machine would on this context. */
function delayMs(machine: AnyStateMachine, delay: string | number, snapshot: AnyMachineSnapshot): number {
  if (typeof delay === 'number') return delay;
  const impl = (machine.implementations.delays as Record<string, unknown>)[delay];
  if (typeof impl === 'number') return impl;
  if (typeof impl === 'function') return impl({ context: snapshot.context, event: { type: 'xstate.init' } }, undefined) as number;
  throw new Error(`delay '${delay}' has no implementation`);
}

/**
 * A timer event may be followed only if it fires first: of the timers of the active states
 * whose transition would be taken, it has the shortest delay. (Timers of a state entered
 * earlier count from now too: close enough for the machines here, whose timers sit on
 * different states.)
 */
function firesFirst(machine: AnyStateMachine, facts: MachineFacts, snapshot: AnyMachineSnapshot, type: string): boolean {
  const due = [...facts.timers]
    .filter(([t, info]) => isActive(snapshot.value, info.path) && snapshot.can({ type: t } as never))
    .map(([t, info]) => ({ t, ms: delayMs(machine, info.delay, snapshot) }));
  const mine = due.find((d) => d.t === type);
  return mine !== undefined && mine.ms <= Math.min(...due.map((d) => d.ms));
}

function serialize(snapshot: { value: unknown; context: Record<string, unknown> }): string {
  const c = snapshot.context as {
    pendingStart: boolean;
    shuttingDown: boolean;
    inFlight: number;
    consecutiveFailures: number;
    backoffDue: boolean;
  };
  // Failures count up to the crash-loop threshold, where the process backs off.
  const failures = Math.min(c.consecutiveFailures, CRASH_LOOP_THRESHOLD);
  return JSON.stringify([snapshot.value, c.pendingStart, c.shuttingDown, c.inFlight > 0, failures, c.backoffDue]);
}

/** Every atomic state of a machine, as a state value (`{ running: { ready: 'idle' } }`). */
function leafStates(node: AnyStateNode): unknown[] {
  const out: unknown[] = [];
  for (const [key, child] of Object.entries(node.states)) {
    const inner = leafStates(child);
    if (inner.length === 0) out.push(key);
    else for (const v of inner) out.push({ [key]: v });
  }
  return out;
}

interface Pending {
  src: string;
  resolve(): void;
  reject(error: Error): void;
}

/** A live actor of `machine`: the FakeWorld for `os` / `health`, a controllable promise for every other actor. */
function live(machine: AnyStateMachine, facts: MachineFacts, config: ProcessConfig) {
  const world = new FakeWorld();
  const pending: Pending[] = [];
  const generic: Record<string, AnyActorLogic> = {};
  for (const src of facts.genericActors) {
    generic[src] = fromPromise<void>(
      ({ signal }) =>
        new Promise<void>((resolve, reject) => {
          const p: Pending = { src, resolve, reject };
          pending.push(p);
          signal.addEventListener('abort', () => {
            pending.splice(pending.indexOf(p), 1);
            reject(new Error('aborted'));
          });
        }),
    );
  }
  const actor = createActor(machine.provide({ actors: { ...world.actors(), ...generic } } as never), { input: config });
  const failures: unknown[] = [];
  actor.subscribe({ error: (e) => failures.push(e) });
  actor.start();
  /** Settles the oldest running fake of `src` (any, when omitted); false when none runs. */
  const finish = (how: 'resolve' | 'reject', src?: string): boolean => {
    const i = pending.findIndex((p) => src === undefined || p.src === src);
    if (i < 0) return false;
    const [p] = pending.splice(i, 1);
    if (how === 'resolve') p!.resolve();
    else p!.reject(new Error(`${p!.src} failed`));
    return true;
  };
  return { world, actor, failures, finish };
}

type Live = ReturnType<typeof live>;

/** Replays one traversal step on the live actor. */
async function replay(machine: AnyStateMachine, facts: MachineFacts, l: Live, event: AnyEvent, waiter: AnyActorRef): Promise<void> {
  const outcome = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event.type);
  const timer = facts.timers.get(event.type);
  if (timer) {
    await vi.advanceTimersByTimeAsync(delayMs(machine, timer.delay, l.actor.getSnapshot()));
  } else if (outcome) {
    const [, kind, id] = outcome;
    const src = facts.invokes.get(id!);
    if (src === 'health') {
      if (kind === 'done') l.world.healthOk();
      else l.world.healthFailed();
    } else if (!l.finish(kind === 'done' ? 'resolve' : 'reject', src)) {
      throw new Error(`no ${src} actor running to ${kind}`);
    }
  } else if (event.type === 'xstate.init') {
    return;
  } else {
    l.actor.send({ ...event, ...('replyTo' in event ? { replyTo: waiter } : {}) } as never);
  }
  await vi.advanceTimersByTimeAsync(0);
}

/** Lets the fake world behave until the waiter is answered (bounded). */
async function settle(l: Live, replies: unknown[]): Promise<void> {
  for (let i = 0; i < 100 && replies.length === 0; i++) {
    if (!l.world.progress() && !l.finish('resolve')) await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(0);
  }
}

/**
 * The conformance suite for one process machine: it reaches at least `minStates` distinct
 * states and every atomic state, and in each it answers an ENSURE_READY, a STOP and an
 * evicting STOP waiter exactly once. `config` is the process's input (a feature a model opts
 * into, like sleep mode, needs it set to be reachable). Call it at the top level of a test
 * file that uses fake timers.
 */
export function processConformance(name: string, machine: AnyStateMachine, minStates: number, config: ProcessConfig = conformanceConfig): void {
  describe(`process protocol: ${name}`, () => {
    const facts = factsOf(machine);
    const dummy = createActor(fromPromise(async () => {})).start();
    const paths = getShortestPaths(machine, {
      input: config,
      events: eventsOf(facts, dummy) as never,
      filterEvents: ((snapshot: AnyMachineSnapshot, event: AnyEvent) =>
        !facts.timers.has(event.type) || firesFirst(machine, facts, snapshot, event.type)) as never,
      serializeState: serialize as never,
    });

    it(`reaches every state of the machine (${minStates}+ distinct states)`, () => {
      expect(paths.length).toBeGreaterThanOrEqual(minStates);
      for (const leaf of leafStates(machine.root as AnyStateNode)) {
        expect(paths.some((p) => p.state.matches(leaf as never)), JSON.stringify(leaf)).toBe(true);
      }
    });

    for (const path of paths) {
      const label = `${serialize(path.state as never)} via ${path.steps.map((s) => s.event.type).join(' > ') || '(start)'}`;

      it(`handles ENSURE_READY and STOP in ${label}`, () => {
        expect(path.state.can({ type: 'ENSURE_READY', replyTo: dummy } as never)).toBe(true);
        expect(path.state.can({ type: 'STOP', replyTo: dummy } as never)).toBe(true);
      });

      for (const probe of ['ENSURE_READY', 'STOP', 'evicting STOP'] as const) {
        it(`answers a ${probe} waiter exactly once from ${label}`, async () => {
          const l = live(machine, facts, config);
          const past = replyRecorder();
          for (const step of path.steps) await replay(machine, facts, l, step.event as AnyEvent, past.ref);
          expect(serialize(l.actor.getSnapshot() as never)).toBe(serialize(path.state as never));
          const waiter = replyRecorder();
          l.actor.send((probe === 'evicting STOP' ? { type: 'STOP', evicting: true, replyTo: waiter.ref } : { type: probe, replyTo: waiter.ref }) as never);
          await settle(l, waiter.replies);
          await vi.advanceTimersByTimeAsync(0);
          expect(waiter.replies).toHaveLength(1);
          const kinds = probe === 'ENSURE_READY' ? ['PROCESS.READY', 'PROCESS.FAILED'] : ['PROCESS.STOPPED'];
          expect(kinds).toContain(waiter.replies[0]?.type);
          expect(l.failures).toEqual([]);
          l.actor.stop();
        });
      }
    }
  });
}
